"""Balanced pseudo-labels by optimal transport: Sinkhorn-Knopp scaling, target cluster sizes, confident cores, softmax."""

from __future__ import annotations

import numpy as np


def sinkhorn(P: np.ndarray, sizes: np.ndarray | None = None, *, n_iter: int = 100) -> np.ndarray:
    """Transport plan (n, k), rows summing to 1, from posterior ``P`` (n, k) to cluster ``sizes`` (k,).

    Sinkhorn-Knopp scaling ``Q = diag(u) P diag(v)`` with row marginals ``1/n`` and column
    marginals ``sizes / sizes.sum()`` (default: equal), i.e. the entropic optimal transport
    of RSTC (eq. 5-6) and SeLa (Asano et al., ICLR 2020) with ``-log P`` as cost. Returned
    rows are renormalised to sum to 1.
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
    """
    shares = np.maximum(np.asarray(sizes, dtype=np.float64), 1.0) ** (1.0 - balance)
    return shares / shares.sum()


def confident_core(Q: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-labels ``argmax Q`` (n,) and a mask (n,) of the ``fraction`` of each cluster with the largest ``max Q``.

    The same share of every cluster, and at least one member of each non-empty one, so a
    small cluster keeps a training set.
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
    """Row-wise softmax (n, k) of ``logits``, computed stably."""
    logits = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)
