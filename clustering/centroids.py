"""Assigning embeddings to fixed centres, hard and soft, as k-means assigns them.

``nearest_centre`` and ``centroid_proba`` argmax the same scores, so a prediction and the
largest probability never disagree. ``CentroidAssigner`` is the pair as an estimator: the
clustering head of a ``SelfTrainingClusterer``, which the registered model runs on the
embeddings of its fine-tuned encoder.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from clustering._utils import check_embeddings, check_n_clusters


def l2_normalize(a: np.ndarray) -> np.ndarray:
    """Rows of ``a`` (n, d) scaled to unit length (zero rows stay zero)."""
    return a / np.linalg.norm(a, axis=1, keepdims=True).clip(1e-12)


def centroid_scores(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """``<x, c_j> - |c_j|^2 / 2`` (n, k), float64: minus half the squared distance, up to a per-row constant."""
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(centers, dtype=np.float64)
    return X @ C.T - 0.5 * (C**2).sum(axis=1)


def nearest_centre(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index (n,) of the nearest centre (Euclidean, as k-means assigns) for each row of ``X`` (n, d).

    The argmax of the same scores ``centroid_proba`` turns into probabilities, so the two agree.
    """
    return np.argmax(centroid_scores(X, centers), axis=1)


def centroid_proba(embeddings: np.ndarray, centers: np.ndarray, temperature: float) -> np.ndarray:
    """Soft assignment (n, k) of ``embeddings`` (n, d) to ``centers`` (k, d); its argmax is the nearest centre.

    ``softmax_j((<x, c_j> - |c_j|^2 / 2) / temperature)``: minus half the squared Euclidean
    distance up to a per-row constant, so predictions and probabilities never disagree. For
    unit-norm centres this is the cosine softmax of the self-training head.
    """
    logits = centroid_scores(embeddings, centers) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


class CentroidAssigner(TransformerMixin, ClusterMixin, BaseEstimator):
    """Assign embeddings (n, d) to fixed centres (k, d): the head of a ``SelfTrainingClusterer``.

    ``predict`` gives the nearest centre, ``predict_proba`` the matching soft assignment at
    ``temperature`` (``centroid_proba``), ``transform`` the embeddings unchanged (they are the latent space).
    """

    input_kind = "embeddings"  # what the registered model hands it (clustering.base's declaration)

    def __init__(self, n_clusters: int = 4, *, temperature: float = 0.1):
        self.n_clusters = n_clusters
        self.temperature = temperature

    def set_centers(self, centers):
        self.cluster_centers_ = check_embeddings(centers, name="centers")
        self.n_features_in_ = self.cluster_centers_.shape[1]
        return self

    def fit(self, X, y=None):
        """Centres from k-means on the embeddings ``X``; ``y`` is ignored."""
        X = check_embeddings(X)
        check_n_clusters(self.n_clusters, len(X))
        return self.set_centers(KMeans(self.n_clusters, n_init=10, random_state=0).fit(X).cluster_centers_)

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "cluster_centers_")
        return check_embeddings(X, n_features=self.n_features_in_)

    def predict_proba(self, X) -> np.ndarray:
        return centroid_proba(self.transform(X), self.cluster_centers_, self.temperature)

    def predict(self, X) -> np.ndarray:
        return nearest_centre(self.transform(X), self.cluster_centers_)
