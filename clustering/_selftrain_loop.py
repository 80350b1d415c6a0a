"""One round of self-training, and what it trains on: confident texts, neighbour positives.

``train_round`` is the training loop of ``SelfTrainingClusterer``: SCCL's two losses (Zhang
et al., NAACL 2021) on whatever ``embed`` computes, so it knows nothing of how the encoder
is cached or frozen (``clustering._transformer``). ``confident_mask`` picks the texts the
cross-entropy loss trains on (SCAN's self-labelling, Van Gansbeke et al., ECCV 2020);
``nearest_neighbors`` the positives of the contrastive loss (SCAN's and CLNN's mining).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from clustering._utils import torch_generator

Callback = Callable[[int, dict], object]
LOSSES = ("kl", "ce", "none")


def confident_mask(similarity: np.ndarray, labels: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask (n,) of the ``fraction`` most confident members of every cluster.

    ``similarity``: (n, k) cosine similarity of each sample to each centre; ``labels``: (n,)
    cluster of each sample. Confidence is the margin between the two largest similarities;
    taking the same share of every cluster keeps small clusters in the training set. Every
    non-empty cluster keeps at least one member.
    """
    similarity = np.asarray(similarity)
    labels = np.asarray(labels)
    top2 = np.sort(similarity, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    mask = np.zeros(len(labels), dtype=bool)
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        n_keep = max(1, int(round(fraction * len(members))))
        mask[members[np.argsort(-margin[members], kind="stable")[:n_keep]]] = True
    return mask


def nearest_neighbors(embeddings: np.ndarray, n_neighbors: int, *, random_state=0) -> np.ndarray:
    """Indices (n, min(n_neighbors, n - 1)) of each row's nearest other rows by cosine distance.

    Nearest first; a row is never its own neighbour. ``clustering.neighbours.NeighbourIndex``
    searches: exactly (the distance matrix in chunks) up to 20,000 rows, approximately above.
    """
    from clustering.neighbours import NeighbourIndex

    return NeighbourIndex(n_neighbors, random_state=random_state).fit(embeddings).kneighbors()


def train_round(embed, params, train_idx, labels, centers, *, loss="kl", epochs=1, lr=3e-5, head_lr=1e-3,
                batch_size=32, temperature=0.1, contrastive_weight=0.0, contrastive_temperature=0.05,
                neighbors=None, device="cpu", random_state=0, callback: Callback | None = None,
                step0: int = 0) -> list[float]:
    """Fine-tune the encoder behind ``embed`` on the texts at ``train_idx``; returns each epoch's mean loss.

    ``embed(idx)``: a LongTensor of text positions -> their sentence embeddings
    (len(idx), d), with gradients flowing into ``params`` (the trainable weights).
    ``train_idx``: positions of the texts to train on (an epoch is one pass over them).
    ``centers`` (k, d) initialises the cosine classifier ``q_ij = softmax_j(<z_i, w_j> /
    temperature)`` over normalised embeddings z.
    ``loss="kl"`` minimises KL(P || Q) against the sharpened target of each batch
    (``target_distribution``, DEC eq. 3, as SCCL does per batch) and ignores ``labels``;
    ``loss="ce"`` is cross-entropy against ``labels`` (ints in ``range(k)``, one per position);
    ``loss="none"`` leaves only the contrastive term.
    ``contrastive_weight`` adds that much InfoNCE between each text and a positive: a
    second dropout view of itself (``neighbors=None``, SimCSE) or a random one of its
    ``neighbors`` (row i: positions of text i's nearest neighbours in the starting space);
    other texts of the batch are the negatives, except those among the anchor's neighbours.
    ``device``: where ``embed`` puts its output. ``callback(step0 + epoch, logs)`` runs
    after each epoch and stops training by returning ``True``.
    """
    import torch
    import torch.nn.functional as F

    from clustering.assignment import target_distribution

    head = torch.nn.Parameter(torch.as_tensor(np.asarray(centers), dtype=torch.float32, device=device))
    opt = torch.optim.AdamW([{"params": list(params), "lr": lr}, {"params": [head], "lr": head_lr}], weight_decay=0.01)
    targets = None if labels is None else torch.as_tensor(np.asarray(labels), dtype=torch.long)
    gen = torch_generator(random_state)
    rng = np.random.default_rng(random_state)
    use_contrast = contrastive_weight > 0
    train_idx = torch.as_tensor(np.asarray(train_idx), dtype=torch.long)
    losses = []
    for epoch in range(1, epochs + 1):
        total = 0.0
        for idx in train_idx[torch.randperm(len(train_idx), generator=gen)].split(batch_size):
            z = F.normalize(embed(idx), dim=1)
            batch_loss = z.new_zeros(())
            if loss != "none":
                logits = z @ F.normalize(head, dim=1).T / temperature
                if loss == "kl":
                    q = logits.softmax(dim=1)
                    batch_loss = F.kl_div(q.clamp_min(1e-12).log(), target_distribution(q.detach()),
                                          reduction="batchmean")
                else:
                    batch_loss = F.cross_entropy(logits, targets[idx].to(z.device))
            if use_contrast and len(idx) > 1:
                rows = idx.numpy()
                if neighbors is None:  # the second pass draws other dropout masks: a free augmentation
                    positives, mask = idx, None
                else:
                    pick = neighbors[rows, rng.integers(0, neighbors.shape[1], len(rows))]
                    positives = torch.as_tensor(pick)
                    # a batch-mate that is one of the anchor's neighbours is no negative
                    mask = (neighbors[rows][:, :, None] == pick[None, None, :]).any(1)
                    np.fill_diagonal(mask, False)
                    mask = torch.as_tensor(mask, device=z.device)
                z2 = F.normalize(embed(positives), dim=1)
                sim = z @ z2.T / contrastive_temperature
                if mask is not None:
                    sim = sim.masked_fill(mask, float("-inf"))
                arange = torch.arange(len(idx), device=z.device)
                info_nce = (F.cross_entropy(sim, arange) + F.cross_entropy(sim.T, arange)) / 2
                batch_loss = batch_loss + contrastive_weight * info_nce
            opt.zero_grad(set_to_none=True)
            batch_loss.backward()
            opt.step()
            total += batch_loss.item() * len(idx)
        losses.append(total / len(train_idx))
        if not np.isfinite(losses[-1]):
            raise FloatingPointError(f"self-training loss diverged (loss={losses[-1]})")
        if callback is not None and callback(step0 + epoch, {"stage": "train", "loss": losses[-1]}) is True:
            break
    return losses
