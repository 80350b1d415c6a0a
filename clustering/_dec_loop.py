"""DEC's stage 2: the KL(P || Q) loop over the encoder and the centres, and its label-free early stopping."""

from __future__ import annotations

import numpy as np

from clustering._utils import torch_generator
from clustering.assignment import soft_assignment, target_distribution


def train_clusters(model, ae, centers, X, labels, device, precision: str, callback, seed: int) -> None:
    """Run stage 2 of ``model`` (a ``DEC`` or ``IDEC``) on ``X`` from ``labels`` and ``centers``.

    Trains ``ae.encoder`` (and the decoder for IDEC) and ``centers`` in place, appends to
    ``model.history_`` and sets ``model.n_iter_`` and ``model.best_iter_``.
    """
    import torch
    import torch.nn.functional as F

    from clustering._train import adam, batch_indices, forward

    params = list(ae.encoder.parameters()) + [centers]
    if model._reconstruction:
        params += list(ae.decoder.parameters())
    opt = adam(params, lr=model.dec_lr, device=device)
    encoder, decoder = forward(ae.encoder, precision), forward(ae.decoder, precision)
    data = torch.from_numpy(X).to(device)
    gen = torch_generator(seed + 1)
    step0 = len(model.history_["ae_loss"])
    monitor = _Monitor(X, model.monitor_sample, seed) if model.early_stopping else None
    p = None
    for epoch in range(1, model.epochs + 1):
        if p is None or (epoch - 1) % model.update_interval == 0:
            q = _soft_assign(ae, centers, data, model.alpha)
            p = target_distribution(q)
            new_labels = q.argmax(1).cpu().numpy()
            change = float(np.mean(new_labels != labels))
            labels = new_labels
            if monitor is not None:
                # The state scored here is the one after epoch - 1 (0: the start).
                monitor.update(labels, epoch - 1, ae.encoder, centers)
                if monitor.exhausted(model.patience):
                    break
            if epoch > 1 and change < model.tol:
                break
        ae.train()
        # Summed on the device and read once per epoch: a per-step .item() waits for the step.
        kl_total = torch.zeros((), dtype=torch.float64, device=device)
        rec_total = torch.zeros((), dtype=torch.float64, device=device)
        for idx in batch_indices(len(data), model.batch_size, gen, device):
            if len(idx) == 1 and model.batch_norm:
                continue
            batch = data.index_select(0, idx)
            z = encoder(batch)
            if model._reconstruction:  # DEC's loss never reads the decoder: no forward pass
                recon = decoder(z)
            kl = F.kl_div(soft_assignment(z, centers, model.alpha).log(), p.index_select(0, idx), reduction="batchmean")
            loss = kl
            if model._reconstruction:
                rec = F.mse_loss(recon, batch)
                loss = rec + model.gamma * kl
                rec_total += rec.detach() * len(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            kl_total += kl.detach() * len(idx)
        kl_total, rec_total = kl_total.item(), rec_total.item()
        kl_epoch = kl_total / len(data)
        if not np.isfinite(kl_epoch):
            raise FloatingPointError(f"clustering loss diverged at DEC epoch {epoch} (loss={kl_epoch})")
        model.n_iter_ = epoch
        logs = {"stage": "cluster", "cluster_loss": kl_epoch, "label_change": change, "labels": labels}
        model.history_["cluster_loss"].append(kl_epoch)
        model.history_["label_change"].append(change)
        if model._reconstruction:
            logs["recon_loss"] = rec_total / len(data)
            model.history_["recon_loss"].append(logs["recon_loss"])
        if callback is not None and callback(step0 + epoch, logs) is True:
            break
    else:
        if monitor is not None:  # the state after the last epoch has not been scored yet
            q = _soft_assign(ae, centers, data, model.alpha)
            monitor.update(q.argmax(1).cpu().numpy(), model.n_iter_, ae.encoder, centers)
    ae.eval()
    if monitor is not None:
        model.history_["monitor"] = monitor.scores
        model.best_iter_ = monitor.restore(ae.encoder, centers)
    else:
        model.best_iter_ = model.n_iter_


def _soft_assign(ae, centers, data, alpha: float, batch_size: int = 8192):
    """Q of every row of ``data``, in batches, without gradients."""
    import torch

    ae.eval()
    with torch.no_grad():
        return torch.cat([soft_assignment(ae.encoder(data[i : i + batch_size]), centers, alpha) for i in range(0, len(data), batch_size)])


class _Monitor:
    """Label-free early stopping for DEC's stage 2: the best-scoring state seen so far.

    Scores a hard assignment by its silhouette in the input space (cosine) on a fixed,
    seeded sample of rows, so every state is judged in the same space by the same points.
    A single cluster on the sample scores -1, below any real partition.
    """

    def __init__(self, X: np.ndarray, sample: int, random_state: int):
        rng = np.random.default_rng(random_state)
        self.rows = np.sort(rng.choice(len(X), size=min(sample, len(X)), replace=False))
        self.X = X[self.rows]
        self.scores: list[float] = []
        self.best_score, self.best_iter, self.best_state, self.since_best = -np.inf, 0, None, 0

    def score(self, labels: np.ndarray) -> float:
        from clustering.metrics import cosine_silhouette_samples

        sampled = labels[self.rows]
        if not 2 <= len(np.unique(sampled)) <= len(sampled) - 1:
            return -1.0
        return float(np.mean(cosine_silhouette_samples(self.X, sampled)))

    def update(self, labels, iteration: int, encoder, centers) -> bool:
        """Score the state after ``iteration`` DEC epochs; keep it if it is the best. True if kept."""
        value = self.score(labels)
        self.scores.append(value)
        if value > self.best_score:
            self.best_score, self.best_iter, self.since_best = value, iteration, 0
            self.best_state = ({k: v.detach().clone() for k, v in encoder.state_dict().items()},
                               centers.detach().clone())
            return True
        self.since_best += 1
        return False

    def exhausted(self, patience: int) -> bool:
        return self.since_best >= patience

    def restore(self, encoder, centers) -> int:
        """Put the best state back into ``encoder`` and ``centers``; return its iteration."""
        import torch

        weights, best_centers = self.best_state
        encoder.load_state_dict(weights)
        with torch.no_grad():
            centers.copy_(best_centers)
        return self.best_iter
