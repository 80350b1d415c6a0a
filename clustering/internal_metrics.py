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


def sample_rows(n_samples: int, sample_size: int | None, random_state: int = 0) -> np.ndarray | None:
    """The rows ``silhouette`` scores: a seeded sample of ``sample_size`` above it, else None (all).

    Scikit-learn's sample (``silhouette_score``'s), so a caller can compute only those rows of
    an expensive space and score them with ``sample_size=None`` to the same value.

    Parameters
    ----------
    n_samples : int
        Rows there are.
    sample_size : int or None
        The sample's size (None: no sample).
    random_state : int, default=0
        Seed of the sample.

    Returns
    -------
    rows : ndarray of shape (sample_size,) or None
        The sampled rows, or None when all are scored.

    Examples
    --------
    >>> from clustering.internal_metrics import sample_rows
    >>> sample_rows(5, 10) is None, len(sample_rows(50, 10))
    (True, 10)
    """
    if sample_size is None or n_samples <= sample_size:
        return None
    return np.random.RandomState(random_state).permutation(n_samples)[:sample_size]


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
    rows = sample_rows(len(labels_pred), sample_size, random_state)
    if rows is not None:
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
    Davies-Bouldin and Calinski-Harabasz are Euclidean by definition and computed as
    scikit-learn defines them, a block of rows at a time (a sparse ``X`` densified per
    block). Davies and Bouldin, "A cluster separation measure", IEEE TPAMI 1979; Calinski
    and Harabasz, "A dendrite method for cluster analysis", Communications in Statistics 1974.

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
    davies_bouldin, calinski_harabasz = _centroid_scores(X, labels_pred)
    return {
        "silhouette": silhouette(X, labels_pred, metric=metric, sample_size=sample_size, random_state=random_state),
        "davies_bouldin": davies_bouldin,
        "calinski_harabasz": calinski_harabasz,
    }


_BLOCK = 65_536  # rows the centroid scores hold in float64 at once


def _blocks(X):
    for start in range(0, X.shape[0], _BLOCK):
        block = X[start:start + _BLOCK]
        yield start, np.asarray(block.toarray() if hasattr(block, "toarray") else block, dtype=np.float64)


def _centroid_scores(X, labels_pred) -> tuple[float, float]:
    """Davies-Bouldin and Calinski-Harabasz as scikit-learn defines them, in two passes over row blocks.

    scikit-learn's copies ``X`` in float64 whole (3 GB for a million 384-d rows); here only a
    block is, and the sums are float64, so the values agree with its to float32 rounding.
    """
    from scipy import sparse
    from sklearn.metrics import pairwise_distances

    _, codes = np.unique(labels_pred, return_inverse=True)
    k, n = int(codes.max()) + 1, len(codes)
    counts = np.bincount(codes, minlength=k).astype(np.float64)
    sums = np.zeros((k, X.shape[1]))
    for start, block in _blocks(X):
        part = codes[start:start + len(block)]
        sums += sparse.csr_matrix((np.ones(len(part)), (part, np.arange(len(part)))), shape=(k, len(part))) @ block
    centroids = sums / counts[:, None]
    distance, squared = np.zeros(k), np.zeros(k)
    for start, block in _blocks(X):
        part = codes[start:start + len(block)]
        d2 = np.einsum("ij,ij->i", block - centroids[part], block - centroids[part])
        distance += np.bincount(part, weights=np.sqrt(d2), minlength=k)
        squared += np.bincount(part, weights=d2, minlength=k)
    intra = distance / counts
    between = pairwise_distances(centroids)
    if np.allclose(intra, 0) or np.allclose(between, 0):
        davies_bouldin = 0.0
    else:
        between[between == 0] = np.inf
        davies_bouldin = float(np.mean(np.max((intra[:, None] + intra[None]) / between, axis=1)))
    mean = sums.sum(axis=0) / n
    extra, within = float(counts @ ((centroids - mean) ** 2).sum(axis=1)), float(squared.sum())
    calinski_harabasz = 1.0 if within == 0 else extra * (n - k) / (within * (k - 1.0))
    return davies_bouldin, calinski_harabasz
