"""Balanced pseudo-labels by optimal transport.

Sinkhorn-Knopp scaling (``sinkhorn``), target cluster sizes (``size_prior``), confident cores
(``confident_core``) and a stable ``softmax``: the pseudo-labels of ``PseudoLabelClusterer``.
"""

from __future__ import annotations

import numpy as np


def sinkhorn(P: np.ndarray, sizes: np.ndarray | None = None, *, n_iter: int = 100) -> np.ndarray:
    """Transport plan (n, k), rows summing to 1, from posterior ``P`` (n, k) to cluster ``sizes`` (k,).

    Sinkhorn-Knopp scaling ``Q = diag(u) P diag(v)`` with row marginals ``1/n`` and column
    marginals ``sizes / sizes.sum()`` (default: equal). Returned rows are renormalised to
    sum to 1, so the columns sum to about ``n * sizes / sizes.sum()``.

    Parameters
    ----------
    P : array-like of shape (n, k)
        The posterior of each row over the clusters; entries are floored at 1e-12.
    sizes : array-like of shape (k,) or None, default=None
        The target cluster sizes, in any unit (None: equal sizes).
    n_iter : int, default=100
        Scaling iterations.

    Returns
    -------
    Q : ndarray of shape (n, k), float64
        The transport plan, each row a distribution over the clusters.

    See Also
    --------
    size_prior : Target sizes between equal and the current ones.
    confident_core : Pseudo-labels from the plan.

    Notes
    -----
    The entropic optimal transport of RSTC (Zheng et al., "Robust representation learning
    with reliable pseudo-labels generation via self-adaptive optimal transport for short
    text clustering", ACL 2023, eq. 5-6) and SeLa (Asano et al., "Self-labelling via
    simultaneous clustering and representation learning", ICLR 2020) with ``-log P`` as
    cost, solved by Sinkhorn-Knopp matrix scaling (Cuturi, "Sinkhorn distances: lightspeed
    computation of optimal transport", NeurIPS 2013).

    Examples
    --------
    Three of four rows prefer cluster 0; with equal target sizes, the least sure of them
    moves to cluster 1.

    >>> import numpy as np
    >>> from clustering.transport import sinkhorn
    >>> P = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])
    >>> Q = sinkhorn(P)
    >>> Q.argmax(axis=1).tolist(), np.round(Q.sum(axis=0), 3).tolist()
    ([0, 0, 1, 1], [2.0, 2.0])
    >>> np.round(sinkhorn(P, [3, 1]).sum(axis=0), 3).tolist()
    [3.0, 1.0]
    """
    P = np.maximum(np.asarray(P, dtype=np.float64), 1e-12)
    n, k = P.shape
    cols = np.full(k, 1.0 / k) if sizes is None else np.asarray(sizes, dtype=np.float64) / np.sum(sizes)
    rows, v = np.full(n, 1.0 / n), np.ones(k)
    for _ in range(n_iter):
        u = rows / (P @ v)
        v = cols / (P.T @ u)
    Q = P * v
    return Q / Q.sum(axis=1, keepdims=True)


def size_prior(sizes: np.ndarray, balance: float) -> np.ndarray:
    """Target cluster shares (k,): ``sizes ** (1 - balance)`` times the uniform ``(1/k) ** balance``, normalised.

    ``balance=1``: equal sizes (RSTC's prior); ``0``: the given (current partition's) sizes; in between
    a geometric compromise, so a corpus whose topics differ in size is not forced equal.

    Parameters
    ----------
    sizes : array-like of shape (k,)
        The current cluster sizes; sizes below 1 count as 1, so an empty cluster keeps a share.
    balance : float
        From 0 (the given sizes) to 1 (equal sizes).

    Returns
    -------
    shares : ndarray of shape (k,), float64
        Target shares summing to 1, for ``sinkhorn``'s ``sizes``.

    See Also
    --------
    sinkhorn : The transport towards these shares.

    Examples
    --------
    >>> from clustering.transport import size_prior
    >>> size_prior([10, 40], 0.0).tolist(), size_prior([10, 40], 1.0).tolist()
    ([0.2, 0.8], [0.5, 0.5])
    >>> [round(float(share), 3) for share in size_prior([10, 40], 0.5)]  # sqrt(10) : sqrt(40) = 1 : 2
    [0.333, 0.667]
    """
    shares = np.maximum(np.asarray(sizes, dtype=np.float64), 1.0) ** (1.0 - balance)
    return shares / shares.sum()


def confident_core(Q: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-labels ``argmax Q`` (n,) and a mask (n,) of the ``fraction`` of each cluster with the largest ``max Q``.

    The same share of every cluster, and at least one member of each non-empty one, so a
    small cluster keeps a training set.

    Parameters
    ----------
    Q : ndarray of shape (n, k)
        Soft assignments, e.g. ``sinkhorn``'s plan.
    fraction : float
        The share of each cluster kept, rounded to the nearest count (at least 1).

    Returns
    -------
    labels : ndarray of shape (n,), int
        ``Q.argmax(axis=1)``.
    mask : ndarray of shape (n,), bool
        True for the most confident members of each cluster (ties: the earlier row).

    See Also
    --------
    sinkhorn : The plan the pseudo-labels usually come from.

    Examples
    --------
    Cluster 0 has three members, of which the two most confident (0.9 and 0.7) are kept;
    cluster 1 keeps its only member.

    >>> import numpy as np
    >>> from clustering.transport import confident_core
    >>> Q = np.array([[0.9, 0.1], [0.6, 0.4], [0.7, 0.3], [0.2, 0.8]])
    >>> labels, mask = confident_core(Q, 0.5)
    >>> labels.tolist(), mask.tolist()
    ([0, 0, 0, 1], [True, False, True, True])
    """
    labels = Q.argmax(axis=1)
    confidence = Q.max(axis=1)
    mask = np.zeros(len(labels), dtype=bool)
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        n_keep = max(1, int(round(fraction * len(members))))
        mask[members[np.argsort(-confidence[members], kind="stable")[:n_keep]]] = True
    return labels, mask


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax (n, k) of ``logits``, computed stably.

    Parameters
    ----------
    logits : ndarray of shape (n, k)
        Unnormalised log-probabilities.

    Returns
    -------
    proba : ndarray of shape (n, k)
        Rows summing to 1; each row's maximum is subtracted first, so large logits do not overflow.

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.transport import softmax
    >>> np.round(softmax(np.array([[0.0, np.log(3.0)], [1000.0, 1000.0]])), 3).tolist()
    [[0.25, 0.75], [0.5, 0.5]]
    """
    logits = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)
