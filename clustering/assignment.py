"""DEC's Student-t soft assignment of embeddings to centres and its sharpened target distribution.

Xie, Girshick and Farhadi, ICML 2016, eq. 1 and eq. 3; ``clustering.dec`` trains with them.
"""

from __future__ import annotations

import numpy as np


def soft_assignment(z, centers, alpha: float = 1.0):
    """Student-t similarity of each embedding to each centre (DEC, eq. 1).

    ``q_ij = (1 + ||z_i - mu_j||^2 / alpha)^(-(alpha + 1) / 2)``, normalised over j.

    Parameters
    ----------
    z : torch.Tensor of shape (n_samples, n_features)
        The embeddings.
    centers : torch.Tensor of shape (n_clusters, n_features)
        The cluster centres.
    alpha : float, default=1.0
        Degrees of freedom of the Student-t kernel.

    Returns
    -------
    q : torch.Tensor of shape (n_samples, n_clusters)
        The soft assignment; each row sums to 1.

    See Also
    --------
    target_distribution : The sharpened targets computed from ``q``.

    Notes
    -----
    Eq. 1 of Xie, Girshick and Farhadi, "Unsupervised Deep Embedding for Clustering Analysis", ICML 2016.

    Examples
    --------
    >>> import torch
    >>> from clustering.assignment import soft_assignment
    >>> q = soft_assignment(torch.tensor([[0.0], [1.0], [2.0]]), torch.tensor([[0.0], [2.0]]))
    >>> (6 * q).round().int().tolist()  # q ∝ 1 / (1 + d^2): (1, 1/5) -> (5/6, 1/6) for the first point
    [[5, 1], [3, 3], [1, 5]]
    """
    import torch

    dist2 = torch.cdist(z, centers).pow(2)
    q = (1.0 + dist2 / alpha).pow(-(alpha + 1.0) / 2.0)
    return q / q.sum(dim=1, keepdim=True)


def target_distribution(q):
    """Sharpened targets of a soft assignment (DEC, eq. 3).

    ``p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j')`` with ``f_j = sum_i q_ij`` the soft cluster
    frequency: squaring sharpens each row, dividing by ``f_j`` keeps large clusters from swallowing the rest.

    Parameters
    ----------
    q : ndarray or torch.Tensor of shape (n_samples, n_clusters)
        A soft assignment, rows summing to 1 (:func:`soft_assignment`).

    Returns
    -------
    p : ndarray or torch.Tensor of shape (n_samples, n_clusters)
        The targets, of the type of ``q``; each row sums to 1.

    See Also
    --------
    soft_assignment : The ``q`` that DEC's loss ``KL(P || Q)`` pulls towards ``p``.

    Notes
    -----
    Eq. 3 of Xie, Girshick and Farhadi, "Unsupervised Deep Embedding for Clustering Analysis", ICML 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.assignment import target_distribution
    >>> q = np.array([[5 / 6, 1 / 6], [1 / 2, 1 / 2], [1 / 6, 5 / 6]])
    >>> (26 * target_distribution(q)).round().astype(int).tolist()  # f = (3/2, 3/2): (25/36, 1/36) -> (25/26, 1/26)
    [[25, 1], [13, 13], [1, 25]]
    """
    weight = q**2 / q.sum(0)
    return weight / weight.sum(1, keepdims=True) if isinstance(q, np.ndarray) else (weight.t() / weight.sum(1)).t()
