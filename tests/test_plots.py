"""Figures: right number of axes, PNG export, subsampling cap, matched column order."""

from io import BytesIO

import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.datasets import make_blobs

from clustering.plots import contingency_heatmap, loss_curves, score_curve, tsne_plot


def png_bytes(fig: Figure) -> bytes:
    buf = BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(n_samples=80, n_features=8, centers=3, random_state=0)


def test_tsne_plot_two_panels_and_subsampling(blobs):
    X, y = blobs
    fig = tsne_plot(X, y, y, label_names=["World", "Sports", "Business"], max_points=50, title="t")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert len(ax.collections[0].get_offsets()) == 50
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["World", "Sports", "Business"]
    assert png_bytes(fig).startswith(b"\x89PNG")


def test_tsne_plot_one_panel_without_truth(blobs):
    X, y = blobs
    fig = tsne_plot(X[:30], y[:30])
    assert len(fig.axes) == 1
    assert len(fig.axes[0].collections[0].get_offsets()) == 30
    png_bytes(fig)


def test_tsne_plot_same_seed_same_picture(blobs):
    X, y = blobs
    a = tsne_plot(X, y, max_points=40, random_state=3).axes[0].collections[0].get_offsets()
    b = tsne_plot(X, y, max_points=40, random_state=3).axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(a, b)


def test_contingency_heatmap_columns_follow_hungarian_matching():
    labels_true = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    # Class 0 -> cluster 2, class 1 -> cluster 0, class 2 -> cluster 1; cluster 3 is extra.
    labels_pred = [2, 2, 2, 0, 0, 1, 1, 1, 1, 3]
    fig = contingency_heatmap(labels_true, labels_pred, label_names={0: "a", 1: "b", 2: "c"})
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "0", "1", "3"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    table = np.asarray(ax.images[0].get_array())
    np.testing.assert_array_equal(table, [[3, 0, 0, 0], [0, 2, 1, 0], [0, 0, 3, 1]])
    assert sorted(t.get_text() for t in ax.texts) == sorted(str(v) for v in table.ravel())
    png_bytes(fig)


def test_contingency_heatmap_fewer_clusters_than_classes():
    fig = contingency_heatmap([0, 0, 1, 1, 2, 2], [1, 1, 0, 0, 0, 0])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1", "0"]


def test_loss_curves_one_line_per_series_from_epoch_one():
    fig = loss_curves({"ae_loss": [3.0, 2.0, 1.0], "label_change": [0.2, 0.1]}, logy=True)
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines] == ["ae_loss", "label_change"]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), [1, 2])
    assert ax.get_yscale() == "log"
    png_bytes(fig)


def test_score_curve_marks_chosen_value():
    fig = score_curve([2, 3, 4, 5], {"silhouette": [0.1, 0.3, 0.5, 0.2]}, chosen=4)
    (ax,) = fig.axes
    assert len(ax.lines) == 2
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), [4, 4])
    png_bytes(fig)


def test_score_curve_rejects_length_mismatch():
    with pytest.raises(ValueError, match="silhouette"):
        score_curve([2, 3], {"silhouette": [0.1]})


def test_no_pyplot_figures_left_open(blobs):
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    loss_curves({"a": [1.0]})
    contingency_heatmap([0, 1], [1, 0])
    assert len(plt.get_fignums()) == before
