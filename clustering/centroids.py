"""Assigning embeddings to fixed centres, hard and soft, as k-means assigns them.

``nearest_centre`` and ``centroid_proba`` argmax the same scores, so a prediction and the
largest probability never disagree. ``CentroidAssigner`` is the pair as an estimator: the
clustering head of a ``SelfTrainingClusterer``.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from clustering._utils import check_embeddings, check_n_clusters


def l2_normalize(a: np.ndarray) -> np.ndarray:
    """Rows of ``a`` (n, d) scaled to unit length (zero rows stay zero).

    Parameters
    ----------
    a : ndarray of shape (n, d)
        The rows to scale.

    Returns
    -------
    unit : ndarray of shape (n, d)
        ``a`` divided row-wise by its norms, clipped below at 1e-12 so that zero rows stay zero.

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.centroids import l2_normalize
    >>> l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    return a / np.linalg.norm(a, axis=1, keepdims=True).clip(1e-12)


def centroid_scores(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """``<x, c_j> - |c_j|^2 / 2`` (n, k), float64: minus half the squared distance, up to a per-row constant.

    Parameters
    ----------
    X : array-like of shape (n, d)
        The rows to score.
    centers : array-like of shape (k, d)
        The centres.

    Returns
    -------
    scores : ndarray of shape (n, k), float64
        ``-|x - c_j|^2 / 2 + |x|^2 / 2``: the larger, the nearer the centre.

    See Also
    --------
    nearest_centre : Their argmax.
    centroid_proba : Their softmax.

    Examples
    --------
    The second row is at distance 1 from both centres, so its two scores are equal.

    >>> import numpy as np
    >>> from clustering.centroids import centroid_scores
    >>> centroid_scores(np.array([[0.0, 0.0], [2.0, 0.0]]), np.array([[1.0, 0.0], [3.0, 0.0]])).tolist()
    [[-0.5, -4.5], [1.5, 1.5]]
    """
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(centers, dtype=np.float64)
    return X @ C.T - 0.5 * (C**2).sum(axis=1)


def nearest_centre(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index (n,) of the nearest centre (Euclidean, as k-means assigns) for each row of ``X`` (n, d).

    The argmax of the same scores ``centroid_proba`` turns into probabilities, so the two agree.

    Parameters
    ----------
    X : array-like of shape (n, d)
        The rows to assign.
    centers : array-like of shape (k, d)
        The centres.

    Returns
    -------
    labels : ndarray of shape (n,), int
        The index of each row's nearest centre (the first one on a tie).

    See Also
    --------
    centroid_scores : The scores it maximises.
    centroid_proba : The matching soft assignment.

    Notes
    -----
    The assignment step of k-means (Lloyd, "Least squares quantization in PCM", IEEE
    Transactions on Information Theory 1982).

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.centroids import nearest_centre
    >>> nearest_centre(np.array([[0.0, 0.0], [2.9, 0.0]]), np.array([[1.0, 0.0], [3.0, 0.0]])).tolist()
    [0, 1]
    """
    return np.argmax(centroid_scores(X, centers), axis=1)


def centroid_proba(embeddings: np.ndarray, centers: np.ndarray, temperature: float) -> np.ndarray:
    """Soft assignment (n, k) of ``embeddings`` (n, d) to ``centers`` (k, d); its argmax is the nearest centre.

    ``softmax_j((<x, c_j> - |c_j|^2 / 2) / temperature)``: minus half the squared Euclidean
    distance up to a per-row constant, so predictions and probabilities never disagree. For
    unit-norm centres this is the cosine softmax of the self-training head.

    Parameters
    ----------
    embeddings : array-like of shape (n, d)
        The rows to assign.
    centers : array-like of shape (k, d)
        The centres.
    temperature : float
        Divides the scores before the softmax; lower is sharper.

    Returns
    -------
    proba : ndarray of shape (n, k), float32
        Rows summing to 1.

    See Also
    --------
    nearest_centre : The matching hard assignment.
    centroid_scores : The scores it turns into probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.centroids import centroid_proba, nearest_centre
    >>> X, centers = np.array([[0.0, 0.0], [2.9, 0.0]]), np.array([[1.0, 0.0], [3.0, 0.0]])
    >>> proba = centroid_proba(X, centers, temperature=1.0)
    >>> bool(np.allclose(proba.sum(axis=1), 1.0)), proba.argmax(axis=1).tolist() == nearest_centre(X, centers).tolist()
    (True, True)
    """
    logits = centroid_scores(embeddings, centers) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


class CentroidAssigner(TransformerMixin, ClusterMixin, BaseEstimator):
    """Assign embeddings (n, d) to fixed centres (k, d): the head of a ``SelfTrainingClusterer``.

    ``predict`` gives the nearest centre, ``predict_proba`` the matching soft assignment at
    ``temperature`` (``centroid_proba``), ``transform`` the embeddings unchanged (they are the latent space).
    The centres come from k-means on the embeddings (``fit``) or are given (``set_centers``).

    Parameters
    ----------
    n_clusters : int, default=4
        The number of centres that ``fit`` finds.
    temperature : float, default=0.1
        Temperature of the soft assignment (see ``centroid_proba``); lower is sharper.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features), float32
        The centres.
    n_features_in_ : int
        The width of the embeddings the centres were fitted or set on.

    See Also
    --------
    nearest_centre : What ``predict`` computes.
    centroid_proba : What ``predict_proba`` computes.

    Notes
    -----
    The registered model of a ``SelfTrainingClusterer`` runs this head on the embeddings of its
    fine-tuned encoder. The hard assignment is that of k-means (Lloyd, "Least squares
    quantization in PCM", IEEE Transactions on Information Theory 1982).

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.centroids import CentroidAssigner
    >>> head = CentroidAssigner(2).set_centers(np.array([[0.0, 0.0], [1.0, 0.0]]))
    >>> head.predict(np.array([[0.1, 0.0], [0.9, 0.0]])).tolist()
    [0, 1]
    >>> np.round(head.predict_proba(np.array([[0.5, 0.0]])), 3).tolist()  # halfway: equal odds
    [[0.5, 0.5]]
    >>> X = np.array([[0.0, 0.0], [0.0, 0.1], [5.0, 5.0], [5.0, 5.1]])
    >>> labels = CentroidAssigner(2).fit(X).predict(X)
    >>> bool(labels[0] == labels[1] != labels[2] == labels[3])
    True
    """

    input_kind = "embeddings"  # what the registered model hands it (clustering.base's declaration)

    def __init__(self, n_clusters: int = 4, *, temperature: float = 0.1):
        self.n_clusters = n_clusters
        self.temperature = temperature

    def set_centers(self, centers):
        """Use ``centers`` as they are, without fitting.

        Parameters
        ----------
        centers : array-like of shape (n_clusters, n_features)
            The centres.

        Returns
        -------
        self : CentroidAssigner
            The assigner, ready to predict.
        """
        self.cluster_centers_ = check_embeddings(centers, name="centers")
        self.n_features_in_ = self.cluster_centers_.shape[1]
        return self

    def fit(self, X, y=None):
        """Centres from k-means on the embeddings ``X``; ``y`` is ignored.

        ``KMeans(n_clusters, n_init=10, random_state=0)``, so a refit gives the same centres.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The embeddings.
        y : None
            Ignored.

        Returns
        -------
        self : CentroidAssigner
            The fitted assigner.
        """
        X = check_embeddings(X)
        check_n_clusters(self.n_clusters, len(X))
        return self.set_centers(KMeans(self.n_clusters, n_init=10, random_state=0).fit(X).cluster_centers_)

    def transform(self, X) -> np.ndarray:
        """The embeddings ``X`` unchanged, checked: they are the latent space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The embeddings.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), float32
            The same embeddings.
        """
        check_is_fitted(self, "cluster_centers_")
        return check_embeddings(X, n_features=self.n_features_in_)

    def predict_proba(self, X) -> np.ndarray:
        """Soft assignment of the embeddings ``X`` to the centres at ``temperature``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The embeddings.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_clusters), float32
            ``centroid_proba`` of ``X``; rows sum to 1 and their argmax is ``predict``.
        """
        return centroid_proba(self.transform(X), self.cluster_centers_, self.temperature)

    def predict(self, X) -> np.ndarray:
        """The nearest centre of each embedding in ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The embeddings.

        Returns
        -------
        labels : ndarray of shape (n_samples,), int
            ``nearest_centre`` of ``X``.
        """
        return nearest_centre(self.transform(X), self.cluster_centers_)
