"""Deep Embedded Clustering (Xie et al., ICML 2016) and Improved DEC (Guo et al., IJCAI 2017): ``DEC``, ``IDEC``.

How they train and the study's safer variant: ``docs/dec.md``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.utils.validation import check_is_fitted

from clustering._utils import check_embeddings, check_n_clusters, resolve_device, seed_of
from clustering.assignment import soft_assignment
from clustering.base import ClusteringEstimator

Callback = Callable[[int, dict], object]


class DEC(ClusteringEstimator):
    """Deep Embedded Clustering on precomputed embeddings.

    Stage 1 pretrains an ``AutoEncoder(n_features, hidden_dims)`` on ``X`` with MSE and Adam. Stage 2
    starts the centres from KMeans and fine-tunes encoder and centres with Adam on KL(P || Q), the
    Student-t soft assignment Q against its target distribution P. No stage reads labels.

    Parameters
    ----------
    n_clusters : int, default=4
        Number of clusters.
    hidden_dims : sequence of int, default=(256, 128, 64)
        Widths of the encoder's layers; the last is the latent dimension. The decoder mirrors them.
    alpha : float, default=1.0
        Degrees of freedom of the Student-t kernel.
    pretrain_epochs : int, default=20
        Epochs of stage 1.
    epochs : int, default=10
        Most epochs of stage 2.
    batch_size : int, default=64
        Mini-batch size of both stages.
    lr : float, default=1e-3
        Adam's learning rate in stage 1.
    dec_lr : float, default=1e-4
        Adam's learning rate in stage 2.
    update_interval : int, default=1
        Stage-2 epochs between recomputations of P on the whole data.
    tol : float, default=1e-3
        Stage 2 stops once fewer than this share of the samples change cluster between two updates.
    activation : {"relu", "gelu", "elu", "tanh", "leaky_relu"}, default="relu"
        Activation after every hidden layer.
    batch_norm : bool, default=False
        Batch norm after every hidden layer.
    dropout : float, default=0.0
        Dropout after every hidden layer, in [0, 1).
    weight_decay : float, default=0.0
        Adam's L2 penalty in stage 1.
    n_init : int, default=20
        KMeans restarts for the starting centres.
    init : {"latent", "input"}, default="latent"
        Starting centres: KMeans on the latent codes (Xie et al.), or KMeans on ``X`` with each centre
        the mean latent code of its cluster.
    early_stopping : bool, default=False
        Score the hard assignment at every target update, the start included, by a label-free score (the
        cosine silhouette in the input space), keep the best-scoring state, stop after ``patience``
        updates without a better one.
    patience : int, default=2
        Target updates without a better score before early stopping.
    monitor_sample : int, default=2000
        Rows of the seeded sample the early-stopping score is computed on.
    precision : {"auto", "float32", "bfloat16-mixed"}, default="auto"
        Arithmetic of the matrix products in both stages. ``"bfloat16-mixed"``: products in bfloat16
        accumulated in float32, while weights, optimizer, losses and P stay float32; ``"auto"``: that where
        the device computes bfloat16 natively (a CPU with AVX512-BF16 or AMX, an Ampere or newer GPU), else float32.
        Prediction is float32 either way.
    device : str, torch.device or None, default=None
        Where to train; None: CUDA when available, else the CPU.
    random_state : int, RandomState or None, default=0
        Seed of the weights, the batch order, KMeans and the early-stopping sample.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, latent_dim)
        Centres in the latent space.
    labels_ : ndarray of shape (n_samples,)
        Cluster of each training sample.
    history_ : dict of str to list of float
        ``ae_loss`` per pretraining epoch; ``cluster_loss`` and ``label_change`` per DEC epoch;
        ``monitor``, the score of every target update, with early stopping.
    n_iter_ : int
        DEC epochs run.
    best_iter_ : int
        The DEC epoch whose state was kept (0: the start).
    autoencoder_ : AutoEncoder
        The pretrained autoencoder, its encoder fine-tuned in stage 2.
    n_features_in_ : int
        Width of ``X``.

    See Also
    --------
    IDEC : DEC that keeps the reconstruction loss.
    clustering.baselines.AutoEncoderKMeans : Stage 1 and the KMeans start, without stage 2.

    Notes
    -----
    Xie, Girshick and Farhadi, "Unsupervised Deep Embedding for Clustering Analysis", ICML 2016:
    Q is eq. 1 (``clustering.assignment.soft_assignment``), P eq. 3 (``target_distribution`` there). ``init="input"`` and
    ``early_stopping=True`` are the study's safer variant (``docs/dec.md``).

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from clustering.metrics import cluster_accuracy
    >>> X, y = make_blobs(90, n_features=8, centers=3, random_state=0)
    >>> model = DEC(3, hidden_dims=(16, 4), pretrain_epochs=20, epochs=5, batch_size=16, n_init=5, device="cpu").fit(X)
    >>> model.cluster_centers_.shape, model.predict_proba(X).shape, bool(cluster_accuracy(y, model.labels_) > 0.9)
    ((3, 4), (90, 3), True)
    """

    _reconstruction = False  # IDEC keeps the decoder's loss in stage 2

    space_metric = "euclidean"  # the Student-t kernel's distance in the latent space

    def __init__(
        self,
        n_clusters: int = 4,
        *,
        hidden_dims=(256, 128, 64),
        alpha: float = 1.0,
        pretrain_epochs: int = 20,
        epochs: int = 10,
        batch_size: int = 64,
        lr: float = 1e-3,
        dec_lr: float = 1e-4,
        update_interval: int = 1,
        tol: float = 1e-3,
        activation: str = "relu",
        batch_norm: bool = False,
        dropout: float = 0.0,
        weight_decay: float = 0.0,
        n_init: int = 20,
        init: str = "latent",
        early_stopping: bool = False,
        patience: int = 2,
        monitor_sample: int = 2000,
        precision: str = "auto",
        device=None,
        random_state=0,
    ):
        self.n_clusters = n_clusters
        self.hidden_dims = hidden_dims
        self.alpha = alpha
        self.pretrain_epochs = pretrain_epochs
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.dec_lr = dec_lr
        self.update_interval = update_interval
        self.tol = tol
        self.activation = activation
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.n_init = n_init
        self.init = init
        self.early_stopping = early_stopping
        self.patience = patience
        self.monitor_sample = monitor_sample
        self.precision = precision
        self.device = device
        self.random_state = random_state

    # -- fitting -------------------------------------------------------------------
    def fit(self, X, y=None, *, callback: Callback | None = None):
        """Fit on embeddings ``X`` (n_samples, n_features); ``y`` is ignored.

        ``callback(step, logs)`` runs after every epoch of both stages, ``step`` counting
        on from pretraining into clustering, ``logs`` holding ``stage`` ("pretrain" or
        "cluster"), that epoch's losses and, in the cluster stage, ``labels``: the hard
        assignment at the last target update. Returning ``True`` stops training; an exception
        raised there (e.g. Optuna's ``TrialPruned``) propagates.
        """
        import torch

        from clustering._train import resolve_precision
        from clustering.autoencoder import encode, pretrained_autoencoder

        X = check_embeddings(X)
        check_n_clusters(self.n_clusters, X.shape[0])
        self._check_params()
        device = resolve_device(self.device)
        precision = resolve_precision(self.precision, device)  # checks it too; both stages train in it
        self.n_features_in_ = X.shape[1]
        self.history_ = {"ae_loss": [], "cluster_loss": [], "label_change": []}
        if self._reconstruction:
            self.history_["recon_loss"] = []

        seed = seed_of(self.random_state)
        stopped = False

        def pretrain_callback(epoch, logs):
            nonlocal stopped
            stopped = callback is not None and callback(epoch, {"stage": "pretrain", "ae_loss": logs["loss"]}) is True
            return stopped

        ae, self.history_["ae_loss"] = pretrained_autoencoder(
            X, self.hidden_dims, activation=self.activation, batch_norm=self.batch_norm, dropout=self.dropout,
            epochs=self.pretrain_epochs, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
            device=device, random_state=seed, callback=pretrain_callback, precision=precision,
        )
        self.autoencoder_ = ae
        Z = encode(ae, X, device=device)
        labels, start = self._initial_centers(X, Z, seed)
        centers = torch.nn.Parameter(torch.as_tensor(start, dtype=torch.float32, device=device))
        self.n_iter_ = self.best_iter_ = 0
        if not stopped:
            self._cluster(ae, centers, X, labels, device, precision, callback, seed)
        self.cluster_centers_ = centers.detach().cpu().numpy()
        self.labels_ = self.predict(X)
        return self

    def _initial_centers(self, X, Z, seed: int):
        """Starting hard labels (n,) and latent centres (k, latent_dim), per ``init``."""
        from sklearn.cluster import KMeans

        if self.init == "latent":
            km = KMeans(self.n_clusters, n_init=self.n_init, random_state=seed).fit(Z)
            return km.labels_, km.cluster_centers_
        labels = _input_kmeans(X, self.n_clusters, self.n_init, seed)
        # KMeans leaves no cluster empty, so every mean is defined.
        return labels, np.stack([Z[labels == j].mean(0) for j in range(self.n_clusters)])

    def _cluster(self, ae, centers, X, labels, device, precision: str, callback, seed: int):
        """Stage 2: minimise KL(P || Q) (+ gamma-weighted reconstruction for IDEC)."""
        from clustering._dec_loop import train_clusters

        train_clusters(self, ae, centers, X, labels, device, precision, callback, seed)

    def n_trainable_parameters(self) -> int:
        """The autoencoder's weights (its decoder too: pretraining trains it)."""
        from clustering.autoencoder import count_parameters

        check_is_fitted(self, "autoencoder_")
        return count_parameters(self.autoencoder_)

    def _check_params(self):
        for name in ("pretrain_epochs", "epochs", "batch_size", "update_interval", "n_init"):
            value = getattr(self, name)
            minimum = 0 if name in ("pretrain_epochs", "epochs") else 1
            if not isinstance(value, (int, np.integer)) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
        for name in ("alpha", "lr", "dec_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive; got {getattr(self, name)!r}")
        if self.init not in ("latent", "input"):
            raise ValueError(f"init must be 'latent' or 'input'; got {self.init!r}")
        for name in ("patience", "monitor_sample"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")

    # -- inference -----------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """Latent codes (n_samples, latent_dim) of the fitted encoder."""
        from clustering.autoencoder import encode

        check_is_fitted(self, "cluster_centers_")
        return encode(self.autoencoder_, check_embeddings(X, n_features=self.n_features_in_))

    def predict_proba(self, X) -> np.ndarray:
        """Soft assignment Q (n_samples, n_clusters), rows summing to 1."""
        import torch

        Z = self.transform(X)
        return soft_assignment(torch.from_numpy(Z), torch.from_numpy(self.cluster_centers_), self.alpha).numpy()

    def predict(self, X) -> np.ndarray:
        """Index of the most likely cluster for each sample."""
        return self.predict_proba(X).argmax(1)


class IDEC(DEC):
    """Improved Deep Embedded Clustering: DEC that keeps the reconstruction loss.

    Stage 2 trains the decoder too and minimises ``L = L_rec + gamma * KL(P || Q)``, so the latent
    space keeps what reconstructs ``X`` while the clusters sharpen.

    Parameters
    ----------
    n_clusters, hidden_dims, alpha
        As in :class:`DEC`, with the same defaults.
    gamma : float, default=0.1
        Weight of the clustering loss KL(P || Q) against the reconstruction loss.
    pretrain_epochs, epochs, batch_size, lr, dec_lr, update_interval, tol, activation, batch_norm, dropout
        As in :class:`DEC`, with the same defaults.
    weight_decay, n_init, init, early_stopping, patience, monitor_sample, precision, device, random_state
        As in :class:`DEC`, with the same defaults.

    Attributes
    ----------
    cluster_centers_, labels_, n_iter_, best_iter_, n_features_in_
        As in :class:`DEC`.
    autoencoder_ : AutoEncoder
        The pretrained autoencoder, encoder and decoder fine-tuned in stage 2.
    history_ : dict of str to list of float
        DEC's, plus ``recon_loss`` per DEC epoch.

    See Also
    --------
    DEC : The same without the reconstruction loss in stage 2.

    Notes
    -----
    Guo, Gao, Liu and Yin, "Improved Deep Embedded Clustering with Local Structure Preservation",
    IJCAI 2017, eq. 5 (their gamma weighs the clustering loss).

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(90, n_features=8, centers=3, random_state=0)
    >>> model = IDEC(3, hidden_dims=(16, 4), pretrain_epochs=20, epochs=5, batch_size=16, n_init=5, device="cpu").fit(X)
    >>> len(set(model.labels_)), len(model.history_["recon_loss"]) == model.n_iter_
    (3, True)
    """

    _reconstruction = True

    def __init__(
        self,
        n_clusters: int = 4,
        *,
        hidden_dims=(256, 128, 64),
        alpha: float = 1.0,
        gamma: float = 0.1,
        pretrain_epochs: int = 20,
        epochs: int = 10,
        batch_size: int = 64,
        lr: float = 1e-3,
        dec_lr: float = 1e-4,
        update_interval: int = 1,
        tol: float = 1e-3,
        activation: str = "relu",
        batch_norm: bool = False,
        dropout: float = 0.0,
        weight_decay: float = 0.0,
        n_init: int = 20,
        init: str = "latent",
        early_stopping: bool = False,
        patience: int = 2,
        monitor_sample: int = 2000,
        precision: str = "auto",
        device=None,
        random_state=0,
    ):
        super().__init__(
            n_clusters, hidden_dims=hidden_dims, alpha=alpha, pretrain_epochs=pretrain_epochs, epochs=epochs,
            batch_size=batch_size, lr=lr, dec_lr=dec_lr, update_interval=update_interval, tol=tol,
            activation=activation, batch_norm=batch_norm, dropout=dropout, weight_decay=weight_decay,
            n_init=n_init, init=init, early_stopping=early_stopping, patience=patience,
            monitor_sample=monitor_sample, precision=precision, device=device, random_state=random_state,
        )
        self.gamma = gamma


_INPUT_KMEANS: dict[tuple, np.ndarray] = {}


def _input_kmeans(X: np.ndarray, n_clusters: int, n_init: int, random_state) -> np.ndarray:
    """KMeans labels of ``X``, remembered for the last few inputs: a study's trials share them (``docs/dec.md``)."""
    import hashlib

    from sklearn.cluster import KMeans

    key = (hashlib.sha1(X.tobytes()).hexdigest(), X.shape, int(n_clusters), int(n_init), random_state)
    if key not in _INPUT_KMEANS:
        if len(_INPUT_KMEANS) >= 4:
            _INPUT_KMEANS.pop(next(iter(_INPUT_KMEANS)))
        _INPUT_KMEANS[key] = KMeans(n_clusters, n_init=n_init, random_state=random_state).fit_predict(X)
    return _INPUT_KMEANS[key].copy()
