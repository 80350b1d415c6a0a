"""Baselines that DEC has to beat: k-means on tf-idf, on embeddings, and on an AE's latent.

Why these three: ``docs/library.md``.
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

    Parameters
    ----------
    n_clusters : int, default=4
        Number of clusters.
    max_features : int or None, default=20000
        Vocabulary size: the most frequent terms (None: all).
    ngram_range : tuple of (int, int), default=(1, 1)
        Shortest and longest n-grams.
    min_df : int or float, default=2
        Terms in fewer documents (int) or a smaller share of them (float) are dropped.
    stop_words : str, list of str or None, default="english"
        Stop words, as ``TfidfVectorizer`` takes them.
    sublinear_tf : bool, default=True
        Use ``1 + log(tf)`` for the term frequency.
    n_init : int, default=10
        k-means++ restarts.
    random_state : int, RandomState or None, default=0
        Seed of k-means.

    Attributes
    ----------
    vectorizer_ : TfidfVectorizer
        The fitted vectorizer.
    kmeans_ : KMeans
        The fitted k-means.
    labels_ : ndarray of shape (n_samples,)
        Cluster of each training text.
    cluster_centers_ : ndarray of shape (n_clusters, vocabulary size)
        Centres in tf-idf space.
    inertia_ : float
        Sum of squared distances of the texts to their centre.
    n_iter_ : int
        Lloyd iterations of the best restart.
    history_ : dict
        Empty: there are no epochs.

    See Also
    --------
    EmbeddingKMeans : The same k-means on sentence embeddings.

    Notes
    -----
    ``predict_proba`` is DEC's Student-t soft assignment (Xie, Girshick and Farhadi, ICML 2016,
    eq. 1, alpha = 1) on the distances to the centres.

    Examples
    --------
    >>> texts = ["stocks fall on wall street", "wall street stocks rally", "bank stocks fall",
    ...          "striker scores in cup final", "cup final striker injured", "striker wins the cup"]
    >>> model = TfidfKMeans(2, min_df=1).fit(texts)
    >>> first, second, new = model.labels_[:3], model.labels_[3:], model.predict(["stocks on wall street"])
    >>> len(set(first)), len(set(second)), bool(first[0] != second[0]), bool(new[0] == first[0])
    (1, 1, True, True)
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
        """The tf-idf matrix (scipy sparse, n_samples x vocabulary size) of the texts ``X``: the space
        the clusters live in, e.g. for computing silhouette there."""
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
    """K-means directly on precomputed embeddings.

    The embeddings are expected L2-normalised (sentence-transformers' default for the
    models used here), which makes Euclidean k-means behave like cosine k-means.

    Parameters
    ----------
    n_clusters : int, default=4
        Number of clusters.
    n_init : int, default=10
        k-means++ restarts.
    random_state : int, RandomState or None, default=0
        Seed of k-means.

    Attributes
    ----------
    kmeans_ : KMeans
        The fitted k-means.
    labels_ : ndarray of shape (n_samples,)
        Cluster of each training row.
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The centres.
    inertia_ : float
        Sum of squared distances of the rows to their centre.
    n_features_in_ : int
        Width of ``X``.
    n_iter_ : int
        Lloyd iterations of the best restart.
    history_ : dict
        Empty: there are no epochs.

    See Also
    --------
    AutoEncoderKMeans : The same k-means on an autoencoder's latent codes.
    clustering.dec.DEC : Starts from k-means and fine-tunes the clusters.

    Notes
    -----
    ``predict_proba`` is DEC's Student-t soft assignment (Xie, Girshick and Farhadi, ICML 2016,
    eq. 1, alpha = 1) on the distances to the centres.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from clustering.metrics import cluster_accuracy
    >>> X, y = make_blobs(90, n_features=8, centers=3, random_state=0)
    >>> model = EmbeddingKMeans(3).fit(X)
    >>> model.cluster_centers_.shape, model.predict_proba(X).shape, bool(cluster_accuracy(y, model.labels_) > 0.9)
    ((3, 8), (90, 3), True)
    """

    space_metric = "cosine"

    def __init__(self, n_clusters: int = 4, *, n_init: int = 10, random_state=0):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y=None, *, callback=None):
        """Run k-means on the rows of ``X``; ``y`` is ignored, and so is ``callback`` (accepted for the
        deep estimators' signature, never called: k-means has no epochs to report)."""
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

    ``fit`` takes embeddings (n_samples, n_features); ``transform`` returns latent codes (n_samples, hidden_dims[-1]).

    Parameters
    ----------
    n_clusters : int, default=4
        Number of clusters.
    hidden_dims : tuple of int, default=(256, 128, 64)
        Widths of the encoder's layers; the last is the latent dimension. The decoder mirrors them.
    activation : {"relu", "gelu", "elu", "tanh", "leaky_relu"}, default="relu"
        Activation after every hidden layer.
    batch_norm : bool, default=False
        Batch norm after every hidden layer.
    dropout : float, default=0.0
        Dropout after every hidden layer, in [0, 1).
    epochs : int, default=20
        Pretraining epochs.
    batch_size : int, default=64
        Pretraining mini-batch size.
    lr : float, default=1e-3
        Adam's learning rate.
    weight_decay : float, default=0.0
        Adam's L2 penalty.
    n_init : int, default=10
        k-means++ restarts.
    precision : {"auto", "float32", "bfloat16-mixed"}, default="auto"
        The pretraining's matrix products, as in :class:`~clustering.dec.DEC`.
    device : str, torch.device or None, default=None
        Where to train; None: CUDA when available, else the CPU.
    random_state : int, RandomState or None, default=0
        Seed of the weights, the batch order and k-means.

    Attributes
    ----------
    autoencoder_ : AutoEncoder
        The pretrained autoencoder.
    history_ : dict of str to list of float
        ``{"ae_loss": [loss per epoch]}``.
    kmeans_ : KMeans
        The k-means fitted on the latent codes.
    labels_ : ndarray of shape (n_samples,)
        Cluster of each training row.
    cluster_centers_ : ndarray of shape (n_clusters, latent_dim)
        Centres in the latent space.
    inertia_ : float
        Sum of squared distances of the latent codes to their centre.
    n_features_in_ : int
        Width of ``X``.
    n_iter_ : int
        Lloyd iterations of the best k-means restart.

    See Also
    --------
    clustering.dec.DEC : The same start, then the clustering fine-tuning.
    EmbeddingKMeans : k-means on the embeddings themselves.

    Notes
    -----
    DEC's initialisation (Xie, Girshick and Farhadi, ICML 2016, section 3.2) stopped before the
    clustering fine-tuning. ``predict_proba`` is DEC's Student-t soft assignment (eq. 1, alpha = 1).

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(90, n_features=8, centers=3, random_state=0)
    >>> model = AutoEncoderKMeans(3, hidden_dims=(16, 4), epochs=5, batch_size=16, n_init=5, device="cpu").fit(X)
    >>> model.transform(X).shape, len(set(model.labels_)), len(model.history_["ae_loss"])
    ((90, 4), 3, 5)
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
