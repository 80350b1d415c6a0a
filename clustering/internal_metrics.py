"""Internal clustering scores, from the geometry of the partition alone: the silhouette (cosine by
default, computed in row blocks), Davies-Bouldin and Calinski-Harabasz.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn import metrics as skm


def _degenerate(labels_pred) -> bool:
    n, k = len(labels_pred), len(np.unique(labels_pred))
    if 2 <= k <= n - 1:
        return False
    warnings.warn(f"internal scores need 2 <= n_clusters <= n_samples - 1; got {k} cluster(s) for {n} sample(s): NaN",
                  RuntimeWarning, stacklevel=3)
    return True


def cosine_silhouette_samples(X, labels) -> np.ndarray:
    """``sklearn.metrics.silhouette_samples(X, labels, metric="cosine")`` in O(n k d), not O(n^2 d).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The samples; ``X`` may be sparse.
    labels : array-like of shape (n_samples,)
        Cluster label of each sample.

    Returns
    -------
    silhouette : ndarray of shape (n_samples,), float64
        Each sample's silhouette ``(b - a) / max(a, b)`` in cosine distance, in [-1, 1].

    See Also
    --------
    silhouette : Their mean, on a seeded sample of large inputs.
    sklearn.metrics.silhouette_samples : The same values from the full distance matrix.

    Notes
    -----
    The silhouette is Rousseeuw's, "Silhouettes: a graphical aid to the interpretation and
    validation of cluster analysis", Journal of Computational and Applied Mathematics 1987.
    With rows scaled to unit length, the cosine distance is ``1 - x.y``, so a row's summed
    distance to a cluster is ``|C| - x.S_C`` with ``S_C`` the cluster's sum of unit rows: the
    mean distances that the silhouette needs come from one ``n x k`` product instead of the
    ``n x n`` distance matrix. The terms are scikit-learn's: a row's distance to itself is 0
    and its own cluster's mean is over the other ``|C| - 1`` rows; an all-zero row is at
    distance 1 from every other row; a singleton cluster scores 0. They agree up to float
    rounding and scikit-learn clipping each distance to [0, 2].

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.metrics import silhouette_samples
    >>> from clustering.internal_metrics import cosine_silhouette_samples
    >>> X = np.array([[1, 0.1], [1, 0.2], [0.9, 0.1], [0.1, 1], [0.2, 1], [0.1, 0.9]])
    >>> labels = [0, 0, 0, 1, 1, 1]
    >>> bool(np.allclose(cosine_silhouette_samples(X, labels), silhouette_samples(X, labels, metric="cosine")))
    True
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

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The samples.
    labels_pred : array-like of shape (n_samples,)
        Cluster label of each sample.
    metric : str, default="cosine"
        The distance, as ``sklearn.metrics.silhouette_score`` takes it.
    sample_size : int or None, default=10000
        Above this many samples the score is computed on a seeded sample of this size
        (None: always on all samples).
    random_state : int, default=0
        Seed of the sample.

    Returns
    -------
    silhouette : float
        In [-1, 1], higher is better. NaN, with a ``RuntimeWarning``, for fewer than two
        clusters or a cluster per sample, in the data or in the sample.

    See Also
    --------
    cosine_silhouette_samples : The per-sample cosine values.
    internal_scores : This score beside Davies-Bouldin and Calinski-Harabasz.

    Notes
    -----
    Rousseeuw, "Silhouettes: a graphical aid to the interpretation and validation of
    cluster analysis", Journal of Computational and Applied Mathematics 1987.

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.internal_metrics import silhouette
    >>> X = np.array([[1, 0.1], [1, 0.2], [0.9, 0.1], [0.1, 1], [0.2, 1], [0.1, 0.9]])
    >>> round(silhouette(X, [0, 0, 0, 1, 1, 1]), 3)
    0.996
    >>> bool(silhouette(X, [0, 1, 0, 1, 0, 1]) < 0)
    True
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

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The samples.
    labels_pred : array-like of shape (n_samples,)
        Cluster label of each sample.
    metric : str, default="cosine"
        The distance of the silhouette (see ``silhouette``).
    sample_size : int or None, default=10000
        Sample size of the silhouette (None: all samples).
    random_state : int, default=0
        Seed of the silhouette's sample.

    Returns
    -------
    scores : dict of str to float
        ``silhouette`` (higher is better), ``davies_bouldin`` (lower is better) and
        ``calinski_harabasz`` (higher is better); all NaN, with a ``RuntimeWarning``, for
        fewer than two clusters or a cluster per sample.

    See Also
    --------
    silhouette : The first of the three.
    evaluate : These scores beside the external ones.

    Notes
    -----
    Davies-Bouldin and Calinski-Harabasz are Euclidean by definition and are computed on a
    dense copy of a sparse ``X``. Davies and Bouldin, "A cluster separation measure", IEEE
    TPAMI 1979; Calinski and Harabasz, "A dendrite method for cluster analysis",
    Communications in Statistics 1974.

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.internal_metrics import internal_scores
    >>> X = np.array([[1, 0.1], [1, 0.2], [0.9, 0.1], [0.1, 1], [0.2, 1], [0.1, 0.9]])
    >>> scores = internal_scores(X, [0, 0, 0, 1, 1, 1])
    >>> sorted(scores)
    ['calinski_harabasz', 'davies_bouldin', 'silhouette']
    >>> round(scores["silhouette"], 3), bool(scores["davies_bouldin"] < 0.2)
    (0.996, True)
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
