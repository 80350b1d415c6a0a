"""Label-free measures of a partition in one view of the texts: neighbour agreement, linear
predictability, the silhouette, and the coverage of the clusters asked for.

``clustering.selection.CrossViewScore`` pools them over views; ``docs/selection.md`` says why.
"""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import normalize

from clustering._utils import seed_of

MEASURES = ("silhouette", "neighbours", "predictability")
# The measures a method's own label-free choices use (``PseudoLabelClusterer(select="cross_view")``):
# the silhouette prefers near-equal cluster sizes, which long-tailed corpora do not have.
CHOICE_MEASURES = ("neighbours", "predictability")


_GRAPHS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # the last few views' graphs, by content


def neighbour_graph(X, *, n_neighbors: int = 10, sample_size: int | None = 5000,
                    random_state=0) -> tuple[np.ndarray, np.ndarray]:
    """The seeded sample ``rows`` (m,) of ``X`` and each sampled row's ``n_neighbors`` nearest (m, K) among them.

    Cosine similarity; indices into ``rows``. The graph of a fixed view does not depend on the
    partition, so a scorer builds it once and passes it to ``neighbour_agreement``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The view.
    n_neighbors : int, default=10
        Neighbours per row (fewer when the sample is smaller).
    sample_size : int or None, default=5000
        Above this many rows, the graph is built on a seeded sample of this size (None: all rows).
    random_state : int, RandomState or None, default=0
        Seed of the sample.

    Returns
    -------
    rows : ndarray of shape (m,), int
        The sampled rows of ``X`` (all of them, in order, when there are at most ``sample_size``).
    nearest : ndarray of shape (m, K), int
        Each sampled row's ``K = min(n_neighbors, m - 1)`` nearest sampled rows other than
        itself, as indices into ``rows``, in no particular order.

    See Also
    --------
    neighbour_agreement : The score this graph is built for.

    Notes
    -----
    The last few graphs are remembered by the sampled rows' content: a study scores every
    trial in the same views, and each pseudo-labelling fit judges its choices in the same
    Sentence-BERT view, so the (m, m) similarities are computed once per view rather than
    once per fit. Copies are returned.

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.measures import neighbour_graph
    >>> X = np.array([[1, 0.1], [1, 0.2], [0.9, 0.1], [0.1, 1], [0.2, 1], [0.1, 0.9]])
    >>> rows, nearest = neighbour_graph(X, n_neighbors=2)
    >>> rows.tolist(), np.sort(nearest, axis=1).tolist()
    ([0, 1, 2, 3, 4, 5], [[1, 2], [0, 2], [0, 1], [4, 5], [3, 5], [3, 4]])
    """
    import hashlib

    X = np.asarray(X, dtype=np.float32)
    rows = np.arange(len(X))
    if sample_size is not None and len(X) > sample_size:
        rows = np.random.default_rng(seed_of(random_state)).choice(len(X), sample_size, replace=False)
    k = min(n_neighbors, len(rows) - 1)
    if k < 1:
        return rows, np.empty((len(rows), 0), dtype=np.intp)
    sample = np.ascontiguousarray(X[rows])
    key = (hashlib.blake2b(sample.data, digest_size=16).hexdigest(), sample.shape, k)
    if key not in _GRAPHS:
        if len(_GRAPHS) >= 8:
            _GRAPHS.pop(next(iter(_GRAPHS)))
        unit = normalize(sample)
        sims = unit @ unit.T
        np.fill_diagonal(sims, -np.inf)
        _GRAPHS[key] = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return rows, _GRAPHS[key].copy()


def neighbour_agreement(X, labels, *, n_neighbors: int = 10, sample_size: int | None = 5000,
                        random_state=0, graph: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """Chance-corrected share of each text's nearest neighbours (cosine, in ``X``) in its cluster.

    ``(a - e) / (1 - e)`` with ``a`` the mean share of a text's ``n_neighbors`` nearest
    neighbours that share its cluster and ``e = sum_c p_c^2`` the share a random partition
    of the same cluster sizes would get (Cohen's kappa for neighbour pairs): 1 when every
    neighbourhood is pure, 0 at chance. Neighbours are searched among a seeded sample of
    ``sample_size`` rows.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The view.
    labels : array-like of shape (n_samples,)
        The partition.
    n_neighbors : int, default=10
        Neighbours per text.
    sample_size : int or None, default=5000
        Rows of the seeded sample the neighbours are searched among (None: all).
    random_state : int, RandomState or None, default=0
        Seed of the sample.
    graph : tuple of (ndarray, ndarray) or None, default=None
        That ``neighbour_graph``, already built; ``X``, ``n_neighbors``, ``sample_size`` and
        ``random_state`` are then not used.

    Returns
    -------
    agreement : float
        At most 1, higher is better; NaN without neighbours or for a single cluster.

    See Also
    --------
    neighbour_graph : The graph, to build once per view.
    view_score : This score by name (``"neighbours"``).

    Notes
    -----
    SCAN (Van Gansbeke et al., "SCAN: learning to classify images without labels", ECCV
    2020) trains on the same premise: neighbours in a good representation share a class.

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.measures import neighbour_agreement
    >>> X = np.array([[1, 0.1], [1, 0.2], [0.9, 0.1], [0.1, 1], [0.2, 1], [0.1, 0.9]])
    >>> neighbour_agreement(X, [0, 0, 0, 1, 1, 1], n_neighbors=2)
    1.0

    Interleaved labels: a third of the neighbours agree where chance gives a half.

    >>> round(neighbour_agreement(X, [0, 1, 0, 1, 0, 1], n_neighbors=2), 3)
    -0.333
    """
    rows, nearest = graph if graph is not None else neighbour_graph(
        X, n_neighbors=n_neighbors, sample_size=sample_size, random_state=random_state)
    labels = np.asarray(labels)[rows]
    if nearest.shape[1] < 1:
        return float("nan")
    agree = float(np.mean(labels[nearest] == labels[:, None]))
    shares = np.bincount(np.unique(labels, return_inverse=True)[1]) / len(labels)
    chance = float(np.sum(shares ** 2))
    return float("nan") if chance >= 1.0 else (agree - chance) / (1.0 - chance)


def predictability(X, labels, *, sample_size: int | None = 5000, C: float = 1.0, random_state=0) -> float:
    """How well a linear classifier trained on half the texts in ``X`` predicts the other half's clusters.

    Two-fold cross-fitting of a multinomial logistic regression on a seeded sample; the
    score is the adjusted Rand index between the held-out predictions and the partition (0
    for a partition the view cannot see, 1 for one it reproduces).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The view.
    labels : array-like of shape (n_samples,)
        The partition.
    sample_size : int or None, default=5000
        Rows of the seeded sample (None: all).
    C : float, default=1.0
        Inverse regularisation strength of the logistic regression.
    random_state : int, RandomState or None, default=0
        Seed of the sample and of the split into halves.

    Returns
    -------
    predictability : float
        The adjusted Rand index, at most 1, higher is better.

    See Also
    --------
    view_score : This score by name (``"predictability"``).

    Notes
    -----
    Stability by transfer (Lange, Roth, Braun and Buhmann, "Stability-based validation of
    clustering solutions", Neural Computation 2004), with a classifier in a view of one's choice.

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.measures import predictability
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0],
    ...               [10.0, 10.0], [10.0, 11.0], [11.0, 10.0], [11.0, 11.0]])
    >>> predictability(X, [0, 0, 0, 0, 1, 1, 1, 1])
    1.0
    >>> bool(predictability(X, [0, 1, 0, 1, 0, 1, 0, 1]) < 0.1)
    True
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import adjusted_rand_score

    labels = np.asarray(labels)
    rng = np.random.default_rng(seed_of(random_state))
    rows = np.arange(len(labels))
    if sample_size is not None and len(labels) > sample_size:
        rows = rng.choice(len(labels), sample_size, replace=False)
    rows = rng.permutation(rows)
    halves = (rows[: len(rows) // 2], rows[len(rows) // 2:])
    predicted = np.empty(len(labels), dtype=labels.dtype)
    for train, test in (halves, halves[::-1]):
        if len(np.unique(labels[train])) < 2:
            predicted[test] = labels[train][0]
            continue
        clf = LogisticRegression(C=C, max_iter=200).fit(X[train], labels[train])
        predicted[test] = clf.predict(X[test])
    return float(adjusted_rand_score(labels[rows], predicted[rows]))


def coverage(labels, n_clusters: int) -> float:
    """1 for a partition using at least half of the ``n_clusters`` asked for, else the share it uses.

    Neighbour agreement and predictability are easier for coarser partitions: one that merges
    many small topics into a few clusters scores far above the true labelling
    (``docs/selection.md``). A partition leaving most of the asked clusters empty is a
    degenerate answer, so a score that compares partitions multiplies by this factor, which
    drops from 1 to below 1/2 at that line.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        The partition.
    n_clusters : int
        The number of clusters asked for.

    Returns
    -------
    coverage : float
        In (0, 1].

    See Also
    --------
    CrossViewScore.score : Multiplies by this factor.

    Examples
    --------
    >>> from clustering.measures import coverage
    >>> coverage([0, 0, 1, 1], 4)  # 2 of 4 clusters: half, enough
    1.0
    >>> round(coverage([0, 0, 0, 1], 6), 3)  # 2 of 6
    0.333
    """
    used = len(np.unique(np.asarray(labels)))
    return 1.0 if used >= n_clusters / 2.0 else used / float(n_clusters)


def view_score(measure: str, X, labels, *, sample_size: int | None = 5000, random_state=0,
               graph: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """One of ``MEASURES`` for ``labels`` in the view ``X`` (higher is better); ``graph`` for ``neighbours``.

    Parameters
    ----------
    measure : {"silhouette", "neighbours", "predictability"}
        The cosine ``silhouette`` (``clustering.metrics.silhouette``), ``neighbour_agreement``
        or ``predictability``.
    X : array-like of shape (n_samples, n_features)
        The view.
    labels : array-like of shape (n_samples,)
        The partition.
    sample_size : int or None, default=5000
        Rows of the seeded sample the measure is computed on (None: all).
    random_state : int, RandomState or None, default=0
        Seed of the sample.
    graph : tuple of (ndarray, ndarray) or None, default=None
        The view's ``neighbour_graph``, already built; used by ``"neighbours"`` only.

    Returns
    -------
    score : float
        The measure's value.

    Raises
    ------
    ValueError
        For a name not in ``MEASURES``.

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.measures import view_score
    >>> X = np.array([[1, 0.1], [1, 0.2], [0.9, 0.1], [0.1, 1], [0.2, 1], [0.1, 0.9]])
    >>> round(view_score("silhouette", X, [0, 0, 0, 1, 1, 1]), 3)
    0.996
    """
    from clustering.metrics import silhouette

    if measure == "silhouette":
        return silhouette(X, labels, sample_size=sample_size, random_state=seed_of(random_state))
    if measure == "neighbours":
        return neighbour_agreement(X, labels, sample_size=sample_size, random_state=random_state, graph=graph)
    if measure == "predictability":
        return predictability(X, labels, sample_size=sample_size, random_state=random_state)
    raise ValueError(f"unknown measure {measure!r}; choose from {', '.join(MEASURES)}")
