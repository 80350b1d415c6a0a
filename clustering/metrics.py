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


def silhouette(X, labels_pred, *, metric: str = "cosine", sample_size: int | None = 10000, random_state: int = 0) -> float:
    """Mean silhouette in ``metric`` (dense or sparse ``X``), on a seeded sample above ``sample_size``."""
    labels_pred = np.asarray(labels_pred)
    if _degenerate(labels_pred):
        return float("nan")
    sample = sample_size if sample_size is not None and len(labels_pred) > sample_size else None
    return float(skm.silhouette_score(X, labels_pred, metric=metric, sample_size=sample, random_state=random_state))


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
