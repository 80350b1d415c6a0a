"""Deep Embedded Clustering (Xie et al., ICML 2016) and Improved DEC (Guo et al., IJCAI 2017): ``DEC``, ``IDEC``.

The estimators take sentence embeddings, pretrain an autoencoder on them, start the cluster
centres from KMeans and minimise KL(P || Q) between the Student-t soft assignment Q and its
sharpened target P; IDEC keeps the reconstruction loss. ``init="input"`` and
``early_stopping=True`` are the study's safer variant: ``docs/dec.md`` says why.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.utils.validation import check_is_fitted

from clustering._utils import check_embeddings, check_n_clusters, resolve_device, seed_of, torch_generator
from clustering._monitor import _Monitor
from clustering.base import ClusteringEstimator

Callback = Callable[[int, dict], object]


def soft_assignment(z, centers, alpha: float = 1.0):
    """Student-t similarity of each embedding to each centre (DEC, eq. 1).

    ``q_ij = (1 + ||z_i - mu_j||^2 / alpha)^(-(alpha + 1) / 2)``, normalised over j.
    ``z``: (n, d) tensor, ``centers``: (k, d) tensor -> (n, k) tensor whose rows sum to 1.
    """
    import torch

    dist2 = torch.cdist(z, centers).pow(2)
    q = (1.0 + dist2 / alpha).pow(-(alpha + 1.0) / 2.0)
    return q / q.sum(dim=1, keepdim=True)


def target_distribution(q):
    """Sharpened targets (DEC, eq. 3): ``p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j')``.

    ``f_j = sum_i q_ij`` is the soft cluster frequency; dividing by it keeps large clusters
    from swallowing the rest. Works on (n, k) tensors or arrays; rows of the result sum to 1.
    """
    weight = q**2 / q.sum(0)
    return weight / weight.sum(1, keepdims=True) if isinstance(q, np.ndarray) else (weight.t() / weight.sum(1)).t()


class DEC(ClusteringEstimator):
    """Deep Embedded Clustering on precomputed embeddings.

    Stage 1 pretrains an ``AutoEncoder(n_features, hidden_dims)`` with MSE and Adam
    (``pretrain_epochs``, ``lr``, ``weight_decay``); stage 2 runs KMeans (``n_init``
    restarts) on the latent codes and fine-tunes encoder and centres for up to ``epochs``
    epochs with Adam at ``dec_lr`` on KL(P || Q). P is recomputed on the whole data every
    ``update_interval`` epochs; training stops early once fewer than ``tol`` of the
    samples change cluster between two updates.

    ``init`` chooses the starting centres: ``"latent"`` (Xie et al.: KMeans on the latent
    codes) or ``"input"`` (KMeans on ``X``; each centre is the mean latent code of its
    cluster). ``early_stopping`` keeps the state whose hard assignment has the best
    label-free score (``monitor_score``) over the target updates, the start included, and
    stops after ``patience`` updates without a better one; the score is computed on a seeded
    sample of ``monitor_sample`` rows.

    ``precision`` is the training's arithmetic for matrix products, in both stages:
    ``"float32"``, ``"bfloat16-mixed"`` (products in bfloat16, accumulated in float32; weights,
    optimizer, losses and the target distribution stay float32) or ``"auto"`` (the default:
    bfloat16-mixed where the device computes it natively, e.g. a CPU with AVX512-BF16 or AMX or an
    Ampere GPU, else float32). Prediction is float32 either way. ``benchmarks.training_precision``
    measures what bfloat16 changes on three corpora (``benchmarks/RESULTS.md``).

    Fitted attributes: ``cluster_centers_`` (k, latent_dim), ``labels_`` (n,),
    ``history_`` (dict of per-epoch lists: ``ae_loss``, ``cluster_loss``, ``label_change``,
    and ``monitor`` with early stopping), ``n_iter_`` (DEC epochs run), ``best_iter_``
    (the DEC epoch whose state was kept: 0 is the start), ``autoencoder_``,
    ``n_features_in_``.
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
        import torch
        import torch.nn.functional as F

        from clustering._train import adam, batch_indices, forward

        params = list(ae.encoder.parameters()) + [centers]
        if self._reconstruction:
            params += list(ae.decoder.parameters())
        opt = adam(params, lr=self.dec_lr, device=device)
        encoder, decoder = forward(ae.encoder, precision), forward(ae.decoder, precision)
        data = torch.from_numpy(X).to(device)
        gen = torch_generator(seed + 1)
        step0 = len(self.history_["ae_loss"])
        monitor = _Monitor(X, self.monitor_sample, seed) if self.early_stopping else None
        p = None
        for epoch in range(1, self.epochs + 1):
            if p is None or (epoch - 1) % self.update_interval == 0:
                q = self._soft_assign(ae, centers, data)
                p = target_distribution(q)
                new_labels = q.argmax(1).cpu().numpy()
                change = float(np.mean(new_labels != labels))
                labels = new_labels
                if monitor is not None:
                    # The state scored here is the one after epoch - 1 (0: the start).
                    monitor.update(labels, epoch - 1, ae.encoder, centers)
                    if monitor.exhausted(self.patience):
                        break
                if epoch > 1 and change < self.tol:
                    break
            ae.train()
            # Summed on the device and read once per epoch: a per-step .item() waits for the step.
            kl_total = torch.zeros((), dtype=torch.float64, device=device)
            rec_total = torch.zeros((), dtype=torch.float64, device=device)
            for idx in batch_indices(len(data), self.batch_size, gen, device):
                if len(idx) == 1 and self.batch_norm:
                    continue
                batch = data.index_select(0, idx)
                z = encoder(batch)
                if self._reconstruction:  # DEC's loss never reads the decoder: no forward pass
                    recon = decoder(z)
                kl = F.kl_div(soft_assignment(z, centers, self.alpha).log(), p.index_select(0, idx), reduction="batchmean")
                loss = kl
                if self._reconstruction:
                    rec = F.mse_loss(recon, batch)
                    loss = rec + self.gamma * kl
                    rec_total += rec.detach() * len(idx)
                opt.zero_grad()
                loss.backward()
                opt.step()
                kl_total += kl.detach() * len(idx)
            kl_total, rec_total = kl_total.item(), rec_total.item()
            kl_epoch = kl_total / len(data)
            if not np.isfinite(kl_epoch):
                raise FloatingPointError(f"clustering loss diverged at DEC epoch {epoch} (loss={kl_epoch})")
            self.n_iter_ = epoch
            logs = {"stage": "cluster", "cluster_loss": kl_epoch, "label_change": change, "labels": labels}
            self.history_["cluster_loss"].append(kl_epoch)
            self.history_["label_change"].append(change)
            if self._reconstruction:
                logs["recon_loss"] = rec_total / len(data)
                self.history_["recon_loss"].append(logs["recon_loss"])
            if callback is not None and callback(step0 + epoch, logs) is True:
                break
        else:
            if monitor is not None:  # the state after the last epoch has not been scored yet
                q = self._soft_assign(ae, centers, data)
                monitor.update(q.argmax(1).cpu().numpy(), self.n_iter_, ae.encoder, centers)
        ae.eval()
        if monitor is not None:
            self.history_["monitor"] = monitor.scores
            self.best_iter_ = monitor.restore(ae.encoder, centers)
        else:
            self.best_iter_ = self.n_iter_

    def n_trainable_parameters(self) -> int:
        """The autoencoder's weights (its decoder too: pretraining trains it)."""
        from clustering.autoencoder import count_parameters

        check_is_fitted(self, "autoencoder_")
        return count_parameters(self.autoencoder_)

    def _soft_assign(self, ae, centers, data, batch_size: int = 8192):
        import torch

        ae.eval()
        with torch.no_grad():
            return torch.cat([soft_assignment(ae.encoder(data[i : i + batch_size]), centers, self.alpha) for i in range(0, len(data), batch_size)])

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
    """DEC that keeps the reconstruction loss: ``L = L_rec + gamma * KL(P || Q)`` (Guo et al. 2017, eq. 5)."""

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
    """KMeans labels of ``X``, remembered for the last few inputs.

    Every trial of a study fits the same embeddings with the same seed, so with
    ``init="input"`` they all start from the same partition: on 20,000 x 384 that KMeans
    (``n_init`` restarts) is a third of a short trial, paid once here instead.
    """
    import hashlib

    from sklearn.cluster import KMeans

    key = (hashlib.sha1(X.tobytes()).hexdigest(), X.shape, int(n_clusters), int(n_init), random_state)
    if key not in _INPUT_KMEANS:
        if len(_INPUT_KMEANS) >= 4:
            _INPUT_KMEANS.pop(next(iter(_INPUT_KMEANS)))
        _INPUT_KMEANS[key] = KMeans(n_clusters, n_init=n_init, random_state=random_state).fit_predict(X)
    return _INPUT_KMEANS[key].copy()
