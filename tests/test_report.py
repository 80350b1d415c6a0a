import numpy as np
import pytest

from experiments.report import accuracy_by_length, comparison_table, confused_pairs, summarise


def test_summarise_and_table():
    summary = summarise({"A": [{"acc": 0.8, "nmi": 0.5}, {"acc": 0.6, "nmi": float("nan")}]})
    row = summary.iloc[0]
    assert row["acc_mean"] == pytest.approx(0.7) and row["acc_std"] == pytest.approx(0.1)
    assert row["nmi_mean"] == pytest.approx(0.5)  # NaN seeds are left out, not averaged in
    table = comparison_table(summary)
    assert table.iloc[0]["acc"] == "0.700 ± 0.100"
    assert table["method"].str.startswith("seed report").sum() == 2
    assert "purity" in table.columns and "0.78" in set(table["purity"])


def test_accuracy_by_length_buckets():
    texts = ["w " * 5, "w " * 20, "w " * 20, "w " * 50]
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([5, 5, 5, 7])  # cluster 5 -> class 0, cluster 7 -> class 1
    table = accuracy_by_length(texts, y_true, y_pred).set_index("bucket")
    assert table.loc["< 15 words", "accuracy"] == 1.0
    assert table.loc["15-29 words", "accuracy"] == 0.5 and table.loc["15-29 words", "n"] == 2
    assert table.loc[">= 45 words", "accuracy"] == 1.0
    assert "30-44 words" not in table.index


def test_confused_pairs_sums_both_directions():
    y_true = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 0, 2, 1])
    table = confused_pairs(y_true, y_pred, ["World", "Sports", "Business"])
    assert table.iloc[0]["pair"] == "World <-> Sports" and table.iloc[0]["errors"] == 2
    assert table["errors"].sum() == 3
    assert table["share_of_errors"].sum() == pytest.approx(1.0)
