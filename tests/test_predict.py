"""experiments/predict.py: every input row comes out, in order, with its columns; bad outputs fail before the model loads."""

import pandas as pd
import pytest

from clustering.data import DataError, read_rows
from experiments.__main__ import main
from experiments import predict
from experiments.predict import predict_file, predict_rows


class LengthModel:
    """A stand-in pyfunc: the cluster is the text's length modulo 3."""

    def __init__(self):
        self.seen = []

    def predict(self, frame):
        self.seen.append(list(frame["text"]))
        return pd.DataFrame({"cluster": [len(t) % 3 for t in frame["text"]], "confidence": [0.9] * len(frame)})


@pytest.fixture
def five_rows(tmp_path):
    path = tmp_path / "in.csv"
    pd.DataFrame({"id": [10, 11, 12, 13, 14],
                  "text": ["oil prices rose", "", "the striker scored", None, "markets fell"]}).to_csv(path, index=False)
    return path


def test_read_rows_keeps_every_row_and_column(five_rows):
    frame, texts = read_rows(five_rows)
    assert list(frame.columns) == ["id", "text"] and len(frame) == 5
    assert texts == ["oil prices rose", "", "the striker scored", "", "markets fell"]


def test_rows_without_text_keep_their_place_and_get_a_reason(five_rows):
    frame, texts = read_rows(five_rows)
    model = LengthModel()
    out = predict_rows(model, frame, texts)
    assert model.seen == [["oil prices rose", "the striker scored", "markets fell"]]
    assert list(out.columns) == ["id", "text", "cluster", "confidence", "reason"]
    assert out["id"].tolist() == [10, 11, 12, 13, 14]
    assert out["cluster"].tolist()[::2] == [15 % 3, 18 % 3, 12 % 3]
    assert out["cluster"].isna().tolist() == [False, True, False, True, False]
    assert out["reason"].tolist() == ["", "no text", "", "no text", ""]


def test_an_input_column_named_like_an_output_is_kept():
    frame = pd.DataFrame({"text": ["a b", "c d"], "cluster": ["mine", "mine"]})
    out = predict_rows(LengthModel(), frame, list(frame["text"]))
    assert out["cluster"].tolist() == ["mine", "mine"]
    assert list(out.columns) == ["text", "cluster", "predicted_cluster", "confidence", "reason"]


def test_predict_file_writes_one_row_per_input_row(five_rows, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(predict, "load_model", lambda uri: LengthModel())
    output = tmp_path / "out" / "clusters.csv"
    assert predict_file("models:/any@champion", str(five_rows), str(output)) == 5
    written = pd.read_csv(output, keep_default_na=False)
    assert written["id"].tolist() == [10, 11, 12, 13, 14]
    assert written["reason"].tolist() == ["", "no text", "", "no text", ""]
    assert capsys.readouterr().out.strip() == (f"wrote 5 rows to {output} (2 without text: no cluster, "
                                               "reason 'no text')")
    assert not list(output.parent.glob(".*tmp"))


def test_an_unwritable_output_fails_before_the_model_loads(five_rows, monkeypatch, capsys):
    def never(uri):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(predict, "load_model", never)
    with pytest.raises(DataError, match="cannot write /proc/dtc/out.csv: .*choose another --output"):
        predict_file("models:/any@champion", str(five_rows), "/proc/dtc/out.csv")
    assert main(["predict", "--model_uri", "models:/any@champion", "--input", str(five_rows),
                 "--output", "/proc/dtc/out.csv"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot write /proc/dtc/out.csv") and "\n" not in err
