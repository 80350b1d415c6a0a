"""Clustering metrics: external (against true labels) and internal (geometry only).

External scores are plain functions ``(labels_true, labels_pred) -> float`` in the
scikit-learn style; higher is better for everything named ``*_score``.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm


def _contingency(labels_true, labels_pred) -> np.ndarray:
    labels_true = np.asarray(labels_true)
    labels_pred = np.asarray(labels_pred)
    if labels_true.shape != labels_pred.shape or labels_true.ndim != 1:
        raise ValueError(
            f"labels_true and labels_pred must be 1-D of the same length; got {labels_true.shape} and {labels_pred.shape}"
        )
    return skm.cluster.contingency_matrix(labels_true, labels_pred)


def cluster_accuracy(labels_true, labels_pred) -> float:
    """Best accuracy over one-to-one matchings of clusters to classes (Hungarian method).

    The standard unsupervised clustering accuracy (Xie et al. 2016, eq. 10):
    ``max_m sum_i 1[y_i = m(c_i)] / n``. With more clusters than classes, the unmatched
    clusters count as errors.
    """
    c = _contingency(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(c, maximize=True)
    return float(c[rows, cols].sum() / c.sum())


def purity_score(labels_true, labels_pred) -> float:
    """Share of samples that belong to the majority class of their cluster."""
    c = _contingency(labels_true, labels_pred)
    return float(c.max(axis=0).sum() / c.sum())


def label_mapping(labels_true, labels_pred) -> dict[int, int]:
    """The Hungarian cluster -> class matching behind ``cluster_accuracy``."""
    classes, clusters = np.unique(labels_true), np.unique(labels_pred)
    c = _contingency(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(c, maximize=True)
    return {int(clusters[j]): int(classes[i]) for i, j in zip(rows, cols)}


EXTERNAL = {
    "acc": cluster_accuracy,
    "nmi": skm.normalized_mutual_info_score,
    "ari": skm.adjusted_rand_score,
    "purity": purity_score,
}


def _degenerate(labels_pred) -> bool:
    n, k = len(labels_pred), len(np.unique(labels_pred))
    if 2 <= k <= n - 1:
        return False
    warnings.warn(f"internal scores need 2 <= n_clusters <= n_samples - 1; got {k} cluster(s) for {n} sample(s): NaN",
                  RuntimeWarning, stacklevel=3)
    return True


def cosine_silhouette_samples(X, labels) -> np.ndarray:
    """``sklearn.metrics.silhouette_samples(X, labels, metric="cosine")`` in O(n k d), not O(n^2 d).

    With rows scaled to unit length, the cosine distance is ``1 - x.y``, so a row's summed
    distance to a cluster is ``|C| - x.S_C`` with ``S_C`` the cluster's sum of unit rows: the
    mean distances that the silhouette needs come from one ``n x k`` product instead of the
    ``n x n`` distance matrix. The terms are scikit-learn's: a row's distance to itself is 0
    and its own cluster's mean is over the other ``|C| - 1`` rows; an all-zero row is at
    distance 1 from every other row; a singleton cluster scores 0. They agree up to float
    rounding and scikit-learn clipping each distance to [0, 2]. ``X`` may be sparse.
    """
    from sklearn.preprocessing import normalize

    _, labels = np.unique(np.asarray(labels), return_inverse=True)
    unit = normalize(X.astype(np.float64) if hasattr(X, "toarray") else np.asarray(X, dtype=np.float64))
    k = labels.max() + 1
    sizes = np.bincount(labels, minlength=k).astype(np.float64)
    one_hot = np.zeros((len(labels), k))
    one_hot[np.arange(len(labels)), labels] = 1.0
    sums = np.asarray(unit.T @ one_hot).T                      # (k, d): each cluster's sum of unit rows
    dist = sizes - np.asarray(unit @ sums.T)                   # (n, k): summed cosine distances
    rows = np.arange(len(labels))
    own = np.asarray(unit.multiply(unit).sum(axis=1)).ravel() if hasattr(unit, "multiply") else (unit * unit).sum(axis=1)
    dist[rows, labels] -= 1.0 - own                            # less the row's distance to itself
    with np.errstate(divide="ignore", invalid="ignore"):
        intra = dist[rows, labels] / (sizes[labels] - 1)
        mean = dist / sizes
        mean[rows, labels] = np.inf
        inter = mean.min(axis=1)
        out = (inter - intra) / np.maximum(intra, inter)
    out[sizes[labels] == 1] = 0.0
    return out


def silhouette(X, labels_pred, *, metric: str = "cosine", sample_size: int | None = 10000, random_state: int = 0) -> float:
    """Mean silhouette in ``metric`` (dense or sparse ``X``), on a seeded sample above ``sample_size``.

    The sample is scikit-learn's (``silhouette_score``'s ``sample_size``/``random_state``);
    cosine is computed exactly by ``cosine_silhouette_samples``, other metrics by scikit-learn.
    """
    labels_pred = np.asarray(labels_pred)
    if _degenerate(labels_pred):
        return float("nan")
    if sample_size is not None and len(labels_pred) > sample_size:
        rows = np.random.RandomState(random_state).permutation(X.shape[0])[:sample_size]
        X, labels_pred = X[rows], labels_pred[rows]
        if _degenerate(labels_pred):  # scikit-learn raises here; a sample can lose clusters
            return float("nan")
    if metric == "cosine":
        return float(np.mean(cosine_silhouette_samples(X, labels_pred)))
    return float(skm.silhouette_score(X, labels_pred, metric=metric))


def internal_scores(X, labels_pred, *, metric: str = "cosine", sample_size: int | None = 10000, random_state: int = 0) -> dict[str, float]:
    """Silhouette (in ``metric``, sampled above ``sample_size``), Davies-Bouldin, Calinski-Harabasz.

    Fewer than two clusters, or a cluster per sample, gives NaN with a warning: these
    scores are undefined there, and a tuning run should record that rather than crash.
    Davies-Bouldin and Calinski-Harabasz are Euclidean by definition and need dense ``X``.
    """
    labels_pred = np.asarray(labels_pred)
    if _degenerate(labels_pred):
        return {"silhouette": float("nan"), "davies_bouldin": float("nan"), "calinski_harabasz": float("nan")}
    dense = X.toarray() if hasattr(X, "toarray") else X
    return {
        "silhouette": silhouette(X, labels_pred, metric=metric, sample_size=sample_size, random_state=random_state),
        "davies_bouldin": float(skm.davies_bouldin_score(dense, labels_pred)),
        "calinski_harabasz": float(skm.calinski_harabasz_score(dense, labels_pred)),
    }


def evaluate(
    labels_true,
    labels_pred,
    X=None,
    *,
    metric: str = "cosine",
    sample_size: int | None = 10000,
    random_state: int = 0,
) -> dict[str, float]:
    """All metrics that the inputs allow, as a flat dict of floats.

    ``acc, nmi, ari, purity`` when ``labels_true`` is given; ``silhouette,
    davies_bouldin, calinski_harabasz`` when ``X`` (n_samples, n_features) is given.
    Always ``n_clusters``, the number of non-empty clusters found.
    """
    labels_pred = np.asarray(labels_pred)
    out: dict[str, float] = {"n_clusters": float(len(np.unique(labels_pred)))}
    if labels_true is not None:
        if len(labels_pred) < 2:
            warnings.warn("external scores need at least 2 samples: NaN", RuntimeWarning, stacklevel=2)
            out.update({name: float("nan") for name in EXTERNAL})
        else:
            out.update({name: float(fn(labels_true, labels_pred)) for name, fn in EXTERNAL.items()})
    if X is not None:
        if X.shape[0] != len(labels_pred):
            raise ValueError(f"X has {X.shape[0]} rows but there are {len(labels_pred)} labels")
        out.update(internal_scores(X, labels_pred, metric=metric, sample_size=sample_size, random_state=random_state))
    return out
