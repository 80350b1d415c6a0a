import math
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import scipy.sparse as sp
from sklearn import metrics as skm

from clustering.metrics import (EXTERNAL, cluster_accuracy, cosine_silhouette_samples, evaluate, label_mapping,
                                purity_score, silhouette)

Y_TRUE = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
Y_PRED = np.array([1, 1, 0, 0, 0, 0, 2, 2, 2, 1])

SYMMETRIC = {"nmi", "ari"}  # acc and purity are not symmetric in general


@pytest.mark.parametrize("name", sorted(EXTERNAL))
def test_perfect_is_one_and_float(name):
    score = EXTERNAL[name](Y_TRUE, Y_TRUE)
    assert isinstance(score, float)
    assert score == pytest.approx(1.0)


@pytest.mark.parametrize("name", sorted(EXTERNAL))
def test_relabelling_invariance(name):
    fn = EXTERNAL[name]
    permuted = np.array([2, 0, 1])[Y_PRED]
    assert fn(Y_TRUE, permuted) == pytest.approx(fn(Y_TRUE, Y_PRED))
    assert fn(np.array([5, 7, 9])[Y_TRUE], Y_PRED) == pytest.approx(fn(Y_TRUE, Y_PRED))


@pytest.mark.parametrize("name", sorted(SYMMETRIC))
def test_symmetry(name):
    assert EXTERNAL[name](Y_TRUE, Y_PRED) == pytest.approx(EXTERNAL[name](Y_PRED, Y_TRUE))


@pytest.mark.parametrize("name", sorted(EXTERNAL))
def test_bounded(name):
    rng = np.random.default_rng(0)
    score = EXTERNAL[name](rng.integers(0, 3, 200), rng.integers(0, 3, 200))
    assert -1.0 <= score <= 1.0


def test_accuracy_by_hand():
    # Best matching: cluster 1 -> class 0 (2 hits), cluster 0 -> class 1 (3), cluster 2 -> class 2 (3).
    assert cluster_accuracy(Y_TRUE, Y_PRED) == pytest.approx(8 / 10)
    assert label_mapping(Y_TRUE, Y_PRED) == {1: 0, 0: 1, 2: 2}


def test_purity_by_hand():
    # Cluster 0: {0, 1, 1, 1} -> 3; cluster 1: {0, 0, 2} -> 2; cluster 2: {2, 2, 2} -> 3.
    assert purity_score(Y_TRUE, Y_PRED) == pytest.approx(8 / 10)


def test_accuracy_penalises_extra_clusters_but_purity_does_not():
    y = np.array([0, 0, 1, 1])
    singletons = np.array([0, 1, 2, 3])
    assert cluster_accuracy(y, singletons) == pytest.approx(0.5)
    assert purity_score(y, singletons) == pytest.approx(1.0)


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="same length"):
        cluster_accuracy([0, 1], [0, 1, 1])


def test_evaluate_keys_and_values():
    X, y = make_blobs(300, centers=3, n_features=5, random_state=0)
    out = evaluate(y, y, X)
    assert set(out) == {"n_clusters", "acc", "nmi", "ari", "purity", "silhouette", "davies_bouldin", "calinski_harabasz"}
    assert all(isinstance(v, float) for v in out.values())
    assert out["acc"] == 1.0 and out["n_clusters"] == 3.0
    assert out["silhouette"] > 0.5 and out["davies_bouldin"] < 1.0


def test_evaluate_without_labels_or_without_x():
    X, y = make_blobs(50, centers=2, random_state=0)
    assert "acc" not in evaluate(None, y, X)
    assert "silhouette" not in evaluate(y, y)


def test_evaluate_samples_silhouette_deterministically():
    X, y = make_blobs(400, centers=3, random_state=1)
    a = evaluate(None, y, X, sample_size=100, random_state=3)["silhouette"]
    b = evaluate(None, y, X, sample_size=100, random_state=3)["silhouette"]
    full = evaluate(None, y, X, sample_size=None)["silhouette"]
    assert a == b and abs(a - full) < 0.1


def _awkward_data():
    """Blobs with an all-zero row, a singleton cluster and exact duplicates."""
    X, y = make_blobs(300, n_features=16, centers=4, random_state=2)
    X = np.vstack([X, X[:20]])
    y = np.concatenate([y, y[:20]])
    X[5] = 0.0
    y[7] = 9
    return X, y


def test_cosine_silhouette_is_scikit_learns():
    X, y = _awkward_data()
    np.testing.assert_allclose(cosine_silhouette_samples(X, y), skm.silhouette_samples(X, y, metric="cosine"),
                               atol=1e-9)
    S = sp.random(400, 300, density=0.02, format="csr", random_state=0)  # TF-IDF-like, with empty rows
    labels = np.random.default_rng(0).integers(0, 5, 400)
    np.testing.assert_allclose(cosine_silhouette_samples(S, labels), skm.silhouette_samples(S, labels, metric="cosine"),
                               atol=1e-9)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_sampled_silhouette_is_scikit_learns(metric):
    X, y = _awkward_data()
    ours = silhouette(X, y, metric=metric, sample_size=150, random_state=4)
    theirs = skm.silhouette_score(X, y, metric=metric, sample_size=150, random_state=4)
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_a_sample_that_loses_all_but_one_cluster_gives_nan():
    y = np.array([0] * 99 + [1])
    with pytest.warns(RuntimeWarning, match="NaN"):
        assert math.isnan(silhouette(np.random.default_rng(0).normal(size=(100, 3)), y, sample_size=1))


def test_one_cluster_gives_nan_with_warning():
    X, y = make_blobs(30, centers=2, random_state=0)
    with pytest.warns(RuntimeWarning, match="NaN"):
        out = evaluate(y, np.zeros(30, dtype=int), X)
    assert math.isnan(out["silhouette"]) and out["acc"] == pytest.approx(0.5)


def test_one_sample_gives_nan_with_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = evaluate([0], [0], np.zeros((1, 2)))
    assert math.isnan(out["acc"]) and math.isnan(out["silhouette"])
    assert caught


def test_evaluate_rejects_x_of_wrong_length():
    with pytest.raises(ValueError, match="rows"):
        evaluate(None, [0, 1, 0], np.zeros((4, 2)))




def test_centroid_scores_are_scikit_learns_computed_a_block_at_a_time(monkeypatch):
    import scipy.sparse
    from sklearn import metrics as skm

    from clustering import internal_metrics

    monkeypatch.setattr(internal_metrics, "_BLOCK", 97)  # many blocks, a short last one
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 8)).astype(np.float32)
    y = rng.integers(0, 5, 1000) * 3 - 1  # labels need not be 0..k-1
    scores = internal_metrics.internal_scores(X, y)
    assert scores["davies_bouldin"] == pytest.approx(skm.davies_bouldin_score(X, y), rel=1e-5)
    assert scores["calinski_harabasz"] == pytest.approx(skm.calinski_harabasz_score(X, y), rel=1e-5)
    S = scipy.sparse.random(300, 20, density=0.2, random_state=0, format="csr")
    z = rng.integers(0, 4, 300)
    sparse_scores = internal_metrics.internal_scores(S, z, metric="euclidean")
    assert sparse_scores["davies_bouldin"] == pytest.approx(skm.davies_bouldin_score(S.toarray(), z), rel=1e-6)
    same = internal_metrics.internal_scores(np.ones((10, 3)), np.repeat([0, 1], 5), metric="euclidean")
    assert same["davies_bouldin"] == 0.0 and same["calinski_harabasz"] == 1.0  # scikit-learn's answers there
