"""Baselines that DEC has to beat: k-means on tf-idf, on embeddings, and on an AE's latent.

All three are scikit-learn estimators (``clone``, ``get_params`` and pipelines work) and all
end in the same k-means step, so differences between them come from the representation only.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from clustering._utils import check_embeddings, check_n_clusters, check_texts, seed_of
from clustering.base import ClusteringEstimator


def _kmeans(Z, n_clusters: int, n_init: int, random_state) -> KMeans:
    return KMeans(n_clusters=n_clusters, n_init=n_init, random_state=random_state).fit(Z)


def _student_t(distances: np.ndarray) -> np.ndarray:
    """Soft assignment from distances to the centres (n, k): DEC's eq. 1 with alpha = 1."""
    q = 1.0 / (1.0 + np.asarray(distances, dtype=np.float64) ** 2)
    return q / q.sum(1, keepdims=True)


class TfidfKMeans(ClusteringEstimator):
    """K-means on tf-idf vectors of raw texts: the classical bag-of-words baseline.

    ``fit`` takes a sequence of ``n_samples`` strings. Rows are L2-normalised by the
    vectorizer, so Euclidean k-means on them ranks points as cosine similarity would.

    Attributes: ``vectorizer_`` (fitted ``TfidfVectorizer``), ``kmeans_``, ``labels_``
    (n_samples,), ``cluster_centers_`` (n_clusters, vocabulary size), ``inertia_``,
    ``n_iter_``, ``history_`` (empty: there are no epochs).
    """

    input_kind = "texts"
    space_metric = "cosine"

    def __init__(
        self,
        n_clusters: int = 4,
        *,
        max_features: int | None = 20000,
        ngram_range: tuple[int, int] = (1, 1),
        min_df: int | float = 2,
        stop_words: str | list[str] | None = "english",
        sublinear_tf: bool = True,
        n_init: int = 10,
        random_state=0,
    ):
        self.n_clusters = n_clusters
        self.max_features = max_features
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.stop_words = stop_words
        self.sublinear_tf = sublinear_tf
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y=None, *, callback=None):
        """Fit the vectorizer and k-means on the texts ``X``; ``y`` is ignored (so is ``callback``: no epochs)."""
        texts = check_texts(X)
        check_n_clusters(self.n_clusters, len(texts))
        self.vectorizer_ = TfidfVectorizer(
            max_features=self.max_features,
            ngram_range=tuple(self.ngram_range),
            min_df=self.min_df,
            stop_words=self.stop_words,
            sublinear_tf=self.sublinear_tf,
        )
        tfidf = self.vectorizer_.fit_transform(texts)
        self.kmeans_ = _kmeans(tfidf, self.n_clusters, self.n_init, seed_of(self.random_state))
        self.labels_ = self.kmeans_.labels_
        self.cluster_centers_ = self.kmeans_.cluster_centers_
        self.inertia_ = float(self.kmeans_.inertia_)
        self.n_iter_ = int(self.kmeans_.n_iter_)
        self.history_ = {}
        return self

    def transform(self, X):
        """The tf-idf matrix (scipy sparse, n_samples x vocabulary size) of the texts ``X``.

        This is the space the clusters live in, e.g. for computing silhouette there.
        """
        check_is_fitted(self)
        return self.vectorizer_.transform(check_texts(X))

    def predict_proba(self, X) -> np.ndarray:
        """Student-t soft assignment to the centres (DEC's eq. 1, alpha = 1), rows summing to 1."""
        Z = self.transform(X)  # checks it is fitted first
        return _student_t(self.kmeans_.transform(Z))

    def predict(self, X) -> np.ndarray:
        """Nearest fitted centre (n_samples,) for each text in ``X``."""
        check_is_fitted(self)
        return self.kmeans_.predict(self.transform(X))


class EmbeddingKMeans(ClusteringEstimator):
    """K-means directly on precomputed embeddings (n_samples, n_features).

    The embeddings are expected L2-normalised (sentence-transformers' default for the
    models used here), which makes Euclidean k-means behave like cosine k-means. It is
    every deep method's starting point, and a candidate in the suite's study beside them.

    Attributes: ``kmeans_``, ``labels_`` (n_samples,), ``cluster_centers_``
    (n_clusters, n_features), ``inertia_``, ``n_features_in_``, ``n_iter_`` (Lloyd
    iterations of the best restart), ``history_`` (empty: there are no epochs).
    """

    space_metric = "cosine"

    def __init__(self, n_clusters: int = 4, *, n_init: int = 10, random_state=0):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y=None, *, callback=None):
        """Run k-means on the rows of ``X``; ``y`` is ignored.

        ``callback`` is accepted for the deep estimators' signature and never called:
        k-means has no epochs to report.
        """
        X = check_embeddings(X)
        check_n_clusters(self.n_clusters, len(X))
        self.n_features_in_ = X.shape[1]
        self.kmeans_ = _kmeans(X, self.n_clusters, self.n_init, seed_of(self.random_state))
        self.labels_ = self.kmeans_.labels_
        self.cluster_centers_ = self.kmeans_.cluster_centers_
        self.inertia_ = float(self.kmeans_.inertia_)
        self.n_iter_ = int(self.kmeans_.n_iter_)
        self.history_ = {}
        return self

    def transform(self, X) -> np.ndarray:
        """The embeddings themselves (n_samples, n_features): the space the clusters live in."""
        check_is_fitted(self)
        return check_embeddings(X, n_features=self.n_features_in_)

    def predict_proba(self, X) -> np.ndarray:
        """Student-t soft assignment to the centres (DEC's eq. 1, alpha = 1), rows summing to 1."""
        Z = self.transform(X)  # checks it is fitted first
        return _student_t(self.kmeans_.transform(Z))

    def predict(self, X) -> np.ndarray:
        """Nearest fitted centre (n_samples,) for each row of ``X``."""
        check_is_fitted(self)
        return self.kmeans_.predict(check_embeddings(X, n_features=self.n_features_in_))


class AutoEncoderKMeans(ClusteringEstimator):
    """Pretrain an autoencoder on the embeddings, then run k-means on its latent codes.

    This is DEC's initialisation (Xie et al. 2016, section 3.2) stopped before the
    clustering fine-tuning, so comparing it with DEC isolates what the KL step adds.

    ``fit(X)`` takes embeddings (n_samples, n_features); ``transform`` returns latent codes
    (n_samples, hidden_dims[-1]). Attributes: ``autoencoder_``, ``history_``
    (``{"ae_loss": [loss per epoch]}``), ``kmeans_``, ``labels_``, ``cluster_centers_``
    (n_clusters, latent_dim; in latent space), ``inertia_``, ``n_features_in_``, ``n_iter_``
    (Lloyd iterations of the best k-means restart). ``precision``: the pretraining's matrix
    products, as in ``DEC``.
    """

    space_metric = "euclidean"

    def __init__(
        self,
        n_clusters: int = 4,
        *,
        hidden_dims: tuple[int, ...] = (256, 128, 64),
        activation: str = "relu",
        batch_norm: bool = False,
        dropout: float = 0.0,
        epochs: int = 20,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        n_init: int = 10,
        precision: str = "auto",
        device=None,
        random_state=0,
    ):
        self.n_clusters = n_clusters
        self.hidden_dims = hidden_dims
        self.activation = activation
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.n_init = n_init
        self.precision = precision
        self.device = device
        self.random_state = random_state

    def fit(self, X, y=None, *, callback=None):
        """Pretrain the autoencoder on ``X``, then cluster its latent codes; ``y`` is ignored.

        ``callback(epoch, {"stage": "pretrain", "ae_loss": ...})`` runs after every epoch;
        returning ``True`` stops pretraining early.
        """
        from clustering.autoencoder import encode, pretrained_autoencoder

        X = check_embeddings(X)
        check_n_clusters(self.n_clusters, len(X))
        seed = seed_of(self.random_state)
        self.n_features_in_ = X.shape[1]
        self.autoencoder_, losses = pretrained_autoencoder(
            X,
            self.hidden_dims,
            activation=self.activation,
            batch_norm=self.batch_norm,
            dropout=self.dropout,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            device=self.device,
            random_state=seed,
            precision=self.precision,
            callback=None if callback is None else
            lambda epoch, logs: callback(epoch, {"stage": "pretrain", "ae_loss": logs["loss"]}),
        )
        self.history_ = {"ae_loss": list(losses)}
        self.kmeans_ = _kmeans(encode(self.autoencoder_, X), self.n_clusters, self.n_init, seed)
        self.labels_ = self.kmeans_.labels_
        self.cluster_centers_ = self.kmeans_.cluster_centers_
        self.inertia_ = float(self.kmeans_.inertia_)
        self.n_iter_ = int(self.kmeans_.n_iter_)
        return self

    def n_trainable_parameters(self) -> int:
        from clustering.autoencoder import count_parameters

        check_is_fitted(self)
        return count_parameters(self.autoencoder_)

    def transform(self, X) -> np.ndarray:
        """Latent codes (n_samples, latent_dim) of the embeddings ``X``."""
        from clustering.autoencoder import encode

        check_is_fitted(self)
        return encode(self.autoencoder_, check_embeddings(X, n_features=self.n_features_in_))

    def predict_proba(self, X) -> np.ndarray:
        """Student-t soft assignment to the latent centres (DEC's eq. 1, alpha = 1), rows summing to 1."""
        Z = self.transform(X)  # checks it is fitted first
        return _student_t(self.kmeans_.transform(Z))

    def predict(self, X) -> np.ndarray:
        """Nearest fitted centre (n_samples,) for the latent code of each row of ``X``."""
        check_is_fitted(self)
        return self.kmeans_.predict(self.transform(X))
