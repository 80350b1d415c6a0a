"""Cosine nearest neighbours among fitted rows, exact or approximate past a size: ``NeighbourIndex``.

Exact search is brute force in chunks (O(n m d) for n queries among m rows); past
``EXACT_MAX`` fitted rows an inverted-file index (faiss ``IndexIVFFlat``) searches a few
of its cells instead. ``recall_at_k`` measures what the approximation loses.
"""

from __future__ import annotations

import numpy as np

from clustering._utils import kneighbors, seed_of

__all__ = ["NeighbourIndex", "recall_at_k", "EXACT_MAX", "ALGORITHMS"]

ALGORITHMS = ("auto", "exact", "approximate")
# ``algorithm="auto"`` searches exactly up to this many fitted rows (every corpus the suite was
# tuned on); past it exact search grows with the square of the rows (times and recall of both:
# ``python -m benchmarks.neighbours``, in benchmarks/RESULTS.md).
EXACT_MAX = 20_000


class NeighbourIndex:
    """The ``n_neighbors`` nearest fitted rows (cosine) of each query row.

    Parameters
    ----------
    n_neighbors : int, default=10
        Neighbours per query (fewer when fewer rows are fitted).
    algorithm : {"auto", "exact", "approximate"}, default="auto"
        ``"exact"``: brute force (scikit-learn's, the distance matrix a chunk at a time);
        ``"approximate"``: a faiss inverted-file index of ``2 sqrt(m)`` cells, k-means
        trained (seeded) on the fitted rows, searched in ``n_probe`` cells per query;
        ``"auto"``: exact up to ``EXACT_MAX`` fitted rows, approximate above.
    n_probe : int, default=32
        Cells an approximate search visits per query (more: higher recall, slower).
    random_state : int, RandomState or None, default=0
        Seed of the index's k-means.

    Attributes
    ----------
    algorithm_ : {"exact", "approximate"}
        The search ``algorithm`` resolved to.
    n_fitted_ : int
        Rows fitted.

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.neighbours import NeighbourIndex
    >>> X = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    >>> index = NeighbourIndex(1).fit(X)
    >>> index.kneighbors().ravel().tolist()  # the fitted rows, each left out of its own list
    [1, 0, 3, 2]
    >>> index.kneighbors(np.array([[0.2, 1.0]])).tolist()
    [[3]]
    """

    def __init__(self, n_neighbors: int = 10, *, algorithm: str = "auto", n_probe: int = 32, random_state=0):
        self.n_neighbors = n_neighbors
        self.algorithm = algorithm
        self.n_probe = n_probe
        self.random_state = random_state

    def fit(self, X):
        """Index the rows of ``X`` (n, d); a zero row has no direction and is never a close neighbour.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to search among.

        Returns
        -------
        self : NeighbourIndex
            The fitted index.

        Raises
        ------
        ValueError
            For an unknown ``algorithm`` or fewer than one neighbour.
        """
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}; got {self.algorithm!r}")
        if int(self.n_neighbors) < 1:
            raise ValueError(f"n_neighbors must be at least 1; got {self.n_neighbors}")
        X = _unit(X)
        self.n_fitted_ = len(X)
        exact = self.algorithm == "exact" or (self.algorithm == "auto" and len(X) <= EXACT_MAX)
        self.algorithm_ = "exact" if exact else "approximate"
        if exact:
            from sklearn.neighbors import NearestNeighbors

            self._index = NearestNeighbors(n_neighbors=1, metric="cosine", algorithm="brute").fit(X)
        else:
            self._index = _ivf_index(X, seed_of(self.random_state))
        return self

    def kneighbors(self, X=None) -> np.ndarray:
        """Indices (n, K) of each query's nearest fitted rows, nearest first.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features) or None, default=None
            The queries; a fitted row among them is its own nearest neighbour. None: the
            fitted rows, each left out of its own list.

        Returns
        -------
        indices : ndarray of shape (n_queries, K)
            Rows of the fitted data, ``K = min(n_neighbors, n_fitted_ - (X is None))``.
        """
        own = X is None
        k = min(int(self.n_neighbors), self.n_fitted_ - own)
        if k < 1:
            raise ValueError("a single fitted row has no other row to be its neighbour")
        if self.algorithm_ == "exact":
            self._index.n_neighbors = k
            return kneighbors(self._index, None if own else _unit(X)).astype(np.int64)
        queries = self._vectors() if own else _unit(X)
        self._index.nprobe = int(self.n_probe)
        found = np.empty((len(queries), k + own), dtype=np.int64)
        for start in range(0, len(queries), _QUERY_CHUNK):  # the (chunk, k) answers, not all at once
            _, found[start:start + _QUERY_CHUNK] = self._index.search(queries[start:start + _QUERY_CHUNK], k + own)
        if own:  # each row's list without itself (its last when the search missed it)
            mine = found == np.arange(len(found))[:, None]
            mine[~mine.any(axis=1), -1] = True
            found = found[~mine].reshape(len(found), k)
        return _fill_missing(found)

    def _vectors(self) -> np.ndarray:
        """The fitted unit rows, read back from the inverted lists in their original order."""
        return self._index.reconstruct_n(0, self.n_fitted_)

    def __getstate__(self):
        state = dict(self.__dict__)
        if state.get("algorithm_") == "approximate":  # a faiss index pickles as its serialised bytes
            import faiss

            state["_index"] = faiss.serialize_index(state["_index"])
        return state

    def __setstate__(self, state):
        if state.get("algorithm_") == "approximate":
            import faiss

            state["_index"] = faiss.deserialize_index(state["_index"])
        self.__dict__.update(state)


# Queries one approximate search answers at once.
_QUERY_CHUNK = 65_536


def _unit(X) -> np.ndarray:
    from sklearn.preprocessing import normalize

    return np.ascontiguousarray(normalize(np.asarray(X, dtype=np.float32)), dtype=np.float32)


def _ivf_index(X: np.ndarray, seed: int):
    """faiss ``IndexIVFFlat`` (inner product) of the unit rows ``X``, its cells k-means of a seeded sample."""
    import faiss

    n, d = X.shape
    cells = int(np.clip(2 * np.sqrt(n), 1, n // 39))  # faiss wants >= 39 training rows a cell
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, max(cells, 1), faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    rows = np.random.default_rng(seed).choice(n, min(n, 64 * cells), replace=False)  # 64 a cell bounds the training
    index.train(X[np.sort(rows)])
    index.add(X)
    index.make_direct_map()  # so the fitted rows can be read back (``kneighbors()`` of the fitted rows)
    return index


def _fill_missing(found: np.ndarray) -> np.ndarray:
    """Replace faiss' -1 (fewer rows than asked in the cells visited) by the row's first neighbour."""
    missing = found < 0
    if missing.any():
        first = np.where(found[:, :1] >= 0, found[:, :1], 0)
        found = np.where(missing, first, found)
    return found


def recall_at_k(X, found: np.ndarray, *, queries=None) -> float:
    """Share of the exact ``k`` nearest fitted rows an approximate search ``found`` (ties counted as found).

    A row found is right when it is at least as close as the exact ``k``-th nearest, so
    duplicate rows (equally close) never count as misses.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The fitted rows.
    found : ndarray of shape (n_queries, k)
        The neighbours found of each query.
    queries : ndarray of shape (n_queries,) or None, default=None
        The rows of ``X`` that were the queries (each left out of its own list); None: all.

    Returns
    -------
    recall : float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.neighbours import recall_at_k
    >>> X = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    >>> recall_at_k(X, np.array([[1], [0], [3], [0]]))
    0.75
    """
    U = _unit(X)
    queries = np.arange(len(U)) if queries is None else np.asarray(queries)
    found = np.asarray(found)
    k = found.shape[1]
    right, block = 0, max(1, 2**24 // len(U))  # queries at a time: 64 MiB of similarities
    for start in range(0, len(queries), block):
        q = queries[start:start + block]
        sim = U[q] @ U.T
        sim[np.arange(len(q)), q] = -np.inf  # a row is not its own neighbour
        kth = -np.partition(-sim, k - 1, axis=1)[:, k - 1]
        got = np.take_along_axis(sim, found[start:start + block], axis=1)
        right += int((got >= kth[:, None] - 1e-6).sum())
    return right / found.size
