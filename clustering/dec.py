"""Deep Embedded Clustering (Xie et al., ICML 2016) and Improved DEC (Guo et al., IJCAI 2017).

Texts never reach this module: the estimators take sentence embeddings ``X`` of shape
(n_samples, n_features), pretrain an autoencoder on them, initialise cluster centres with
KMeans on the latent codes, then sharpen the clusters by minimising KL(P || Q) between the
Student-t soft assignment Q and its target distribution P. IDEC keeps the decoder and adds
the reconstruction loss so the latent space does not collapse. Neither reads true labels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from clustering._utils import check_embeddings, check_n_clusters, resolve_device, torch_generator

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


class DEC(TransformerMixin, ClusterMixin, BaseEstimator):
    """Deep Embedded Clustering on precomputed embeddings.

    Stage 1 pretrains an ``AutoEncoder(n_features, hidden_dims)`` with MSE and Adam
    (``pretrain_epochs``, ``lr``, ``weight_decay``); stage 2 runs KMeans (``n_init``
    restarts) on the latent codes and fine-tunes encoder and centres for up to ``epochs``
    epochs with Adam at ``dec_lr`` on KL(P || Q). P is recomputed on the whole data every
    ``update_interval`` epochs; training stops early once fewer than ``tol`` of the
    samples change cluster between two updates.

    Fitted attributes: ``cluster_centers_`` (k, latent_dim), ``labels_`` (n,),
    ``history_`` (dict of per-epoch lists: ``ae_loss``, ``cluster_loss``, ``label_change``),
    ``n_iter_`` (DEC epochs run), ``autoencoder_``, ``n_features_in_``.
    """

    _reconstruction = False  # IDEC keeps the decoder's loss in stage 2

    space_metric = "euclidean"  # how distance is measured in the space it clusters in (metrics.own_space)

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
        device=None,
        random_state: int = 0,
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
        from sklearn.cluster import KMeans

        from clustering.autoencoder import AutoEncoder, encode, pretrain

        X = check_embeddings(X)
        check_n_clusters(self.n_clusters, X.shape[0])
        self._check_params()
        device = resolve_device(self.device)
        self.n_features_in_ = X.shape[1]
        self.history_ = {"ae_loss": [], "cluster_loss": [], "label_change": []}
        if self._reconstruction:
            self.history_["recon_loss"] = []

        torch.manual_seed(self.random_state)
        ae = AutoEncoder(X.shape[1], tuple(self.hidden_dims), activation=self.activation, batch_norm=self.batch_norm, dropout=self.dropout)
        stopped = False

        def pretrain_callback(epoch, logs):
            nonlocal stopped
            stopped = callback is not None and callback(epoch, {"stage": "pretrain", "ae_loss": logs["loss"]}) is True
            return stopped

        self.history_["ae_loss"] = pretrain(
            ae, X, epochs=self.pretrain_epochs, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
            device=device, random_state=self.random_state, callback=pretrain_callback,
        )
        self.autoencoder_ = ae
        Z = encode(ae, X, device=device)
        km = KMeans(self.n_clusters, n_init=self.n_init, random_state=self.random_state).fit(Z)
        centers = torch.nn.Parameter(torch.as_tensor(km.cluster_centers_, dtype=torch.float32, device=device))
        self.n_iter_ = 0
        if not stopped:
            self._cluster(ae, centers, X, km.labels_, device, callback)
        self.cluster_centers_ = centers.detach().cpu().numpy()
        self.labels_ = self.predict(X)
        return self

    def _cluster(self, ae, centers, X, labels, device, callback):
        """Stage 2: minimise KL(P || Q) (+ gamma-weighted reconstruction for IDEC)."""
        import torch
        import torch.nn.functional as F

        params = list(ae.encoder.parameters()) + [centers]
        if self._reconstruction:
            params += list(ae.decoder.parameters())
        opt = torch.optim.Adam(params, lr=self.dec_lr)
        data = torch.from_numpy(X).to(device)
        gen = torch_generator(self.random_state + 1)
        step0 = len(self.history_["ae_loss"])
        p = None
        for epoch in range(1, self.epochs + 1):
            if p is None or (epoch - 1) % self.update_interval == 0:
                q = self._soft_assign(ae, centers, data)
                p = target_distribution(q)
                new_labels = q.argmax(1).cpu().numpy()
                change = float(np.mean(new_labels != labels))
                labels = new_labels
                if epoch > 1 and change < self.tol:
                    break
            ae.train()
            kl_total = rec_total = 0.0
            for idx in torch.randperm(len(data), generator=gen).split(self.batch_size):
                idx = idx.to(device)
                batch = data[idx]
                if len(batch) == 1 and self.batch_norm:
                    continue
                z, recon = ae(batch)
                kl = F.kl_div(soft_assignment(z, centers, self.alpha).log(), p[idx], reduction="batchmean")
                loss = kl
                if self._reconstruction:
                    rec = F.mse_loss(recon, batch)
                    loss = rec + self.gamma * kl
                    rec_total += rec.item() * len(idx)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                kl_total += kl.item() * len(idx)
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
        ae.eval()

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

    def fit_predict(self, X, y=None, **kwargs) -> np.ndarray:
        return self.fit(X, **kwargs).labels_


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
        device=None,
        random_state: int = 0,
    ):
        super().__init__(
            n_clusters, hidden_dims=hidden_dims, alpha=alpha, pretrain_epochs=pretrain_epochs, epochs=epochs,
            batch_size=batch_size, lr=lr, dec_lr=dec_lr, update_interval=update_interval, tol=tol,
            activation=activation, batch_norm=batch_norm, dropout=dropout, weight_decay=weight_decay,
            n_init=n_init, device=device, random_state=random_state,
        )
        self.gamma = gamma
