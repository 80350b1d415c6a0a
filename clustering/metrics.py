"""Clustering metrics: external (against true labels) and internal (geometry only).

External scores are plain functions ``(labels_true, labels_pred) -> float`` in the
scikit-learn style; higher is better for everything named ``*_score``.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm

from clustering.internal_metrics import cosine_silhouette_samples, internal_scores, sample_rows, silhouette

# the internal scores stay importable from here, beside the external ones
__all__ = ["cluster_accuracy", "purity_score", "label_mapping", "evaluate", "EXTERNAL",
           "cosine_silhouette_samples", "silhouette", "sample_rows", "internal_scores"]


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

    The standard unsupervised clustering accuracy: ``max_m sum_i 1[y_i = m(c_i)] / n``,
    the maximum over one-to-one maps ``m`` from clusters to classes. With more clusters
    than classes, the unmatched clusters count as errors.

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        Ground-truth class labels.
    labels_pred : array-like of shape (n_samples,)
        Cluster labels to evaluate.

    Returns
    -------
    accuracy : float
        Between 0 and 1; 1 when the clusters are the classes up to renaming.

    Raises
    ------
    ValueError
        When the two label arrays are not 1-D of the same length.

    See Also
    --------
    label_mapping : The cluster -> class matching behind this score.
    purity_score : The same count without the one-to-one constraint.

    Notes
    -----
    Xie, Girshick and Farhadi, "Unsupervised deep embedding for clustering analysis",
    ICML 2016, eq. 10. The best matching is the Hungarian method
    (``scipy.optimize.linear_sum_assignment``) on the contingency matrix.

    Examples
    --------
    >>> from clustering.metrics import cluster_accuracy
    >>> cluster_accuracy([0, 0, 1, 1], [1, 1, 0, 0])
    1.0

    Three clusters for two classes: cluster 1 is left unmatched, so its sample is an error.

    >>> round(cluster_accuracy([0, 0, 0, 1, 1, 1], [0, 0, 1, 2, 2, 2]), 3)
    0.833
    """
    c = _contingency(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(c, maximize=True)
    return float(c[rows, cols].sum() / c.sum())


def purity_score(labels_true, labels_pred) -> float:
    """Share of samples that belong to the majority class of their cluster.

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        Ground-truth class labels.
    labels_pred : array-like of shape (n_samples,)
        Cluster labels to evaluate.

    Returns
    -------
    purity : float
        Between 0 and 1; 1 when every cluster holds a single class, which splitting the
        classes into more clusters never hurts (unlike ``cluster_accuracy``).

    Raises
    ------
    ValueError
        When the two label arrays are not 1-D of the same length.

    See Also
    --------
    cluster_accuracy : The one-to-one version of the same count.

    Notes
    -----
    Manning, Raghavan and Schutze, "Introduction to Information Retrieval", Cambridge
    University Press 2008, section 16.3.

    Examples
    --------
    >>> from clustering.metrics import purity_score
    >>> purity_score([0, 0, 0, 1, 1, 1], [0, 0, 1, 2, 2, 2])
    1.0
    >>> round(purity_score([0, 0, 1, 1], [0, 0, 0, 1]), 3)
    0.75
    """
    c = _contingency(labels_true, labels_pred)
    return float(c.max(axis=0).sum() / c.sum())


def label_mapping(labels_true, labels_pred) -> dict[int, int]:
    """The Hungarian cluster -> class matching behind ``cluster_accuracy``.

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        Ground-truth class labels.
    labels_pred : array-like of shape (n_samples,)
        Cluster labels.

    Returns
    -------
    mapping : dict of int to int
        ``{cluster: class}`` for every matched cluster; with more clusters than classes the
        unmatched clusters are absent.

    Raises
    ------
    ValueError
        When the two label arrays are not 1-D of the same length.

    See Also
    --------
    cluster_accuracy : The accuracy of this matching.

    Examples
    --------
    >>> from clustering.metrics import label_mapping
    >>> dict(sorted(label_mapping([0, 0, 1, 1], [1, 1, 0, 0]).items()))
    {0: 1, 1: 0}
    >>> dict(sorted(label_mapping([0, 0, 0, 1, 1, 1], [0, 0, 1, 2, 2, 2]).items()))
    {0: 0, 2: 1}
    """
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

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,) or None
        Ground-truth class labels; None leaves out the external scores.
    labels_pred : array-like of shape (n_samples,)
        Cluster labels to evaluate.
    X : {array-like, sparse matrix} of shape (n_samples, n_features) or None, default=None
        The samples the internal scores are computed on; None leaves them out.
    metric : str, default="cosine"
        The distance of the silhouette (see ``silhouette``).
    sample_size : int or None, default=10000
        Sample size of the silhouette (None: all samples).
    random_state : int, default=0
        Seed of the silhouette's sample.

    Returns
    -------
    scores : dict of str to float
        ``n_clusters``, then ``acc`` (``cluster_accuracy``), ``nmi``, ``ari``, ``purity``
        (``purity_score``) and the ``internal_scores``, as the inputs allow. The external
        scores are NaN, with a ``RuntimeWarning``, for fewer than two samples.

    Raises
    ------
    ValueError
        When ``X`` does not have a row per label.

    See Also
    --------
    cluster_accuracy, purity_score, internal_scores

    Examples
    --------
    >>> from clustering.metrics import evaluate
    >>> scores = evaluate([0, 0, 0, 1, 1, 1], [0, 0, 1, 2, 2, 2])
    >>> {name: round(value, 3) for name, value in scores.items()}
    {'n_clusters': 3.0, 'acc': 0.833, 'nmi': 0.813, 'ari': 0.706, 'purity': 1.0}
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
