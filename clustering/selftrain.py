"""Self-training of the sentence encoder on its own clusters, without labels.

A frozen encoder caps what any head can reach, so this estimator adapts the encoder
itself, without labels. Each round embeds every text with the current encoder, runs
k-means on the L2-normalised embeddings and fine-tunes the transformer together with a
cosine classifier initialised at the k-means centres. The default objective is SCCL's
clustering loss (Zhang et al., NAACL 2021): KL(P || Q) between the soft assignment Q and its
sharpened target P (DEC, Xie et al. 2016, eq. 3), on every text, which moves the boundaries
into sparse regions of the space. The alternative, ``objective="ce"``, is cross-entropy on
the k-means labels of the ``confident_fraction`` of each cluster whose margin between the
nearest and the second-nearest centre is largest (the self-labelling step of SCAN, Van
Gansbeke et al., ECCV 2020). An optional instance-contrastive term on two dropout views of
each batch (SimCSE, Gao et al., EMNLP 2021, eq. 1; SCCL's instance loss) keeps the space from
collapsing. After the last round the texts are embedded once more and k-means on those
embeddings gives ``labels_``.

Texts in, labels out: this is the one estimator in the library that takes raw texts,
because the embeddings change while it trains.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from clustering._utils import check_embeddings, check_n_clusters, check_texts, resolve_device, torch_generator
from clustering.metrics import cluster_accuracy

Callback = Callable[[int, dict], object]


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


def cosine_proba(embeddings: np.ndarray, centers: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax over clusters of cosine similarity / ``temperature``; (n, d), (k, d) -> (n, k)."""
    z = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True).clip(1e-12)
    c = centers / np.linalg.norm(centers, axis=1, keepdims=True).clip(1e-12)
    logits = z @ c.T / temperature
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def train_round(encoder, texts, labels, centers, *, objective="kl", epochs=1, lr=3e-5, head_lr=1e-3,
                batch_size=32, temperature=0.1, contrastive_weight=0.0, contrastive_temperature=0.05,
                random_state=0, callback: Callback | None = None, step0: int = 0) -> list[float]:
    """Fine-tune ``encoder`` (a SentenceTransformer, in place) on ``texts``.

    ``centers``: (k, d) array that initialises the cosine classifier
    ``q_ij = softmax_j(<z_i, w_j> / temperature)`` over normalised embeddings z.
    ``objective="kl"`` minimises KL(P || Q) against the sharpened target of each batch
    (``target_distribution``, DEC eq. 3, as SCCL does per batch) and ignores ``labels``;
    ``objective="ce"`` is cross-entropy against ``labels`` ((n,) ints in ``range(k)``).
    ``contrastive_weight`` adds that much InfoNCE between two dropout views of the batch.
    Returns the mean loss of each epoch; ``callback(step0 + epoch, logs)`` runs after each
    and stops training by returning ``True``.
    """
    import torch
    import torch.nn.functional as F

    from clustering.dec import target_distribution

    device = encoder.device
    head = torch.nn.Parameter(torch.as_tensor(np.asarray(centers), dtype=torch.float32, device=device))
    params = [p for p in encoder.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{"params": params, "lr": lr}, {"params": [head], "lr": head_lr}], weight_decay=0.01)
    targets = None if labels is None else torch.as_tensor(np.asarray(labels), dtype=torch.long)
    gen = torch_generator(random_state)
    losses = []
    encoder.train()
    try:
        for epoch in range(1, epochs + 1):
            total = 0.0
            for idx in torch.randperm(len(texts), generator=gen).split(batch_size):
                features = encoder.preprocess([texts[i] for i in idx.tolist()])
                features = {k: v.to(device) if hasattr(v, "to") else v for k, v in features.items()}
                z = F.normalize(encoder(features)["sentence_embedding"], dim=1)
                logits = z @ F.normalize(head, dim=1).T / temperature
                if objective == "kl":
                    q = logits.softmax(dim=1)
                    loss = F.kl_div(q.clamp_min(1e-12).log(), target_distribution(q.detach()), reduction="batchmean")
                else:
                    loss = F.cross_entropy(logits, targets[idx].to(device))
                if contrastive_weight > 0 and len(idx) > 1:
                    # the second pass draws other dropout masks: a free augmentation (SimCSE)
                    z2 = F.normalize(encoder(features)["sentence_embedding"], dim=1)
                    sim = z @ z2.T / contrastive_temperature
                    loss = loss + contrastive_weight * F.cross_entropy(sim, torch.arange(len(idx), device=device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            losses.append(total / len(texts))
            if not np.isfinite(losses[-1]):
                raise FloatingPointError(f"self-training loss diverged (loss={losses[-1]})")
            if callback is not None and callback(step0 + epoch, {"stage": "train", "loss": losses[-1]}) is True:
                break
    finally:
        encoder.eval()
    return losses



class SelfTrainingClusterer(TransformerMixin, ClusterMixin, BaseEstimator):
    """Cluster raw texts while fine-tuning the sentence encoder on confident pseudo-labels.

    ``fit(texts)`` runs ``rounds`` rounds of: embed -> k-means (``n_init`` restarts) -> keep
    the ``confident_fraction`` most confident texts per cluster (all of them at 1.0) ->
    ``epochs_per_round`` epochs of AdamW (``lr`` for the transformer, ``head_lr`` for the
    cosine head) on them with ``objective`` ("kl" or "ce", see the module docstring),
    texts truncated at ``max_seq_length`` tokens. The lowest transformer layers stay frozen
    unless ``trainable_layers`` is None (all layers train). Training stops early when the
    k-means labels of two consecutive rounds agree on more than ``1 - tol`` of the texts.
    No step reads true labels.

    Fitted attributes: ``encoder_`` (the fine-tuned SentenceTransformer), ``labels_`` (n,),
    ``cluster_centers_`` (k, dim) in the final embedding space, ``embeddings_`` (n, dim)
    of the training texts, ``history_`` (per round: ``n_confident``, ``loss``,
    ``label_change``), ``n_iter_`` (rounds run).
    """

    def __init__(
        self,
        n_clusters: int = 4,
        *,
        model: str = "all-MiniLM-L6-v2",
        objective: str = "kl",
        rounds: int = 1,
        confident_fraction: float = 1.0,
        epochs_per_round: int = 1,
        lr: float = 3e-5,
        head_lr: float = 1e-3,
        batch_size: int = 32,
        max_seq_length: int = 64,
        temperature: float = 0.1,
        contrastive_weight: float = 0.0,
        trainable_layers: int | None = None,
        tol: float = 0.01,
        n_init: int = 10,
        embed_batch_size: int = 128,
        device=None,
        random_state: int = 0,
    ):
        self.n_clusters = n_clusters
        self.model = model
        self.objective = objective
        self.rounds = rounds
        self.confident_fraction = confident_fraction
        self.epochs_per_round = epochs_per_round
        self.lr = lr
        self.head_lr = head_lr
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.temperature = temperature
        self.contrastive_weight = contrastive_weight
        self.trainable_layers = trainable_layers
        self.tol = tol
        self.n_init = n_init
        self.embed_batch_size = embed_batch_size
        self.device = device
        self.random_state = random_state

    # -- fitting -------------------------------------------------------------------
    def fit(self, X, y=None, *, callback: Callback | None = None):
        """Fit on the texts ``X`` (a sequence of n strings); ``y`` is ignored.

        ``callback(step, logs)`` runs after every training epoch (``stage="train"``,
        ``loss``) and after every round's clustering (``stage="cluster"``, ``round``,
        ``labels``, ``label_change``); returning ``True`` stops after that step.
        """
        import torch

        from clustering.embed import load_model

        texts = check_texts(X)
        check_n_clusters(self.n_clusters, len(texts))
        self._check_params()
        torch.manual_seed(self.random_state)  # dropout masks
        # A private copy: the cached model that embed_texts uses must stay pristine.
        encoder = copy.deepcopy(load_model(self.model, resolve_device(self.device)))
        encoder.max_seq_length = self.max_seq_length
        self._freeze_lower_layers(encoder)
        self.encoder_ = encoder
        self.history_ = {"n_confident": [], "loss": [], "label_change": []}
        self.n_iter_ = 0

        emb = self._embed(texts)
        km = self._kmeans(emb, 0)
        step = 0
        for round_ in range(1, self.rounds + 1):
            sim = emb @ _normalize(km.cluster_centers_).T
            keep = np.flatnonzero(confident_mask(sim, km.labels_, self.confident_fraction))
            stopped = False

            def on_epoch(epoch, logs):
                nonlocal stopped, step
                step = epoch
                stopped = callback is not None and callback(epoch, logs) is True
                return stopped

            losses = train_round(
                encoder, [texts[i] for i in keep], km.labels_[keep], _normalize(km.cluster_centers_),
                objective=self.objective, epochs=self.epochs_per_round, lr=self.lr, head_lr=self.head_lr,
                batch_size=self.batch_size, temperature=self.temperature, contrastive_weight=self.contrastive_weight,
                random_state=self.random_state + round_, callback=on_epoch, step0=step,
            )
            emb = self._embed(texts)
            previous = km.labels_
            km = self._kmeans(emb, round_)
            change = 1.0 - cluster_accuracy(previous, km.labels_)  # share relabelled, up to permutation
            self.n_iter_ = round_
            self.history_["n_confident"].append(len(keep))
            self.history_["loss"].append(losses[-1] if losses else float("nan"))
            self.history_["label_change"].append(change)
            step += 1
            logs = {"stage": "cluster", "round": round_, "labels": km.labels_, "label_change": change}
            if stopped or (callback is not None and callback(step, logs) is True) or change < self.tol:
                break

        self.embeddings_ = emb
        self.labels_ = km.labels_.astype(np.int64)
        self.cluster_centers_ = km.cluster_centers_.astype(np.float32)
        return self

    def _freeze_lower_layers(self, encoder) -> None:
        if self.trainable_layers is None:
            return
        transformer = encoder[0].auto_model
        layers = transformer.encoder.layer
        n_frozen = max(0, len(layers) - self.trainable_layers)
        for module in [transformer.embeddings, *layers[:n_frozen]]:
            for p in module.parameters():
                p.requires_grad_(False)

    def _embed(self, texts) -> np.ndarray:
        emb = self.encoder_.encode(texts, batch_size=self.embed_batch_size, show_progress_bar=False,
                                   convert_to_numpy=True, normalize_embeddings=True)
        return np.ascontiguousarray(emb, dtype=np.float32)

    def _kmeans(self, emb, round_: int) -> KMeans:
        return KMeans(self.n_clusters, n_init=self.n_init, random_state=self.random_state + round_).fit(emb)

    def _check_params(self):
        for name, minimum in (("rounds", 0), ("epochs_per_round", 1), ("batch_size", 1), ("max_seq_length", 8),
                              ("n_init", 1), ("embed_batch_size", 1)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
        if self.objective not in ("kl", "ce"):
            raise ValueError(f"objective must be 'kl' or 'ce'; got {self.objective!r}")
        if not 0 < self.confident_fraction <= 1:
            raise ValueError(f"confident_fraction must be in (0, 1]; got {self.confident_fraction!r}")
        for name in ("lr", "head_lr", "temperature"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive; got {getattr(self, name)!r}")
        if self.contrastive_weight < 0:
            raise ValueError(f"contrastive_weight must be >= 0; got {self.contrastive_weight!r}")
        if self.trainable_layers is not None and (not isinstance(self.trainable_layers, (int, np.integer))
                                                  or self.trainable_layers < 1):
            raise ValueError(f"trainable_layers must be None or an integer >= 1; got {self.trainable_layers!r}")

    # -- inference -----------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """L2-normalised embeddings (n_samples, dim) of the texts ``X`` by the fine-tuned encoder."""
        check_is_fitted(self, "cluster_centers_")
        return self._embed(check_texts(X))

    def predict_proba(self, X) -> np.ndarray:
        """Softmax of cosine similarity / ``temperature`` to each centre, (n_samples, n_clusters)."""
        return cosine_proba(self.transform(X), self.cluster_centers_, self.temperature)

    def predict(self, X) -> np.ndarray:
        """Nearest centre (n_samples,) of each text."""
        return _nearest(self.transform(X), self.cluster_centers_)

    def fit_predict(self, X, y=None, **kwargs) -> np.ndarray:
        return self.fit(X, **kwargs).labels_

    # -- export ----------------------------------------------------------------------
    def save_encoder(self, path) -> str:
        """Write the fine-tuned encoder as a SentenceTransformer folder; returns the path.

        ``embed_texts(texts, model=path)`` then reproduces ``transform(texts)``, and the
        folder can travel as the pyfunc's ``embedding_model`` artifact.
        """
        check_is_fitted(self, "encoder_")
        self.encoder_.save(str(path))
        return str(path)

    def embedding_head(self) -> CentroidAssigner:
        """The clustering step alone, on embeddings: what the pyfunc wraps beside the encoder."""
        check_is_fitted(self, "cluster_centers_")
        return CentroidAssigner(self.n_clusters, temperature=self.temperature).set_centers(self.cluster_centers_)

    def __getstate__(self):
        # The encoder is saved as a folder (save_encoder); pickling its weights as well
        # would double the size of every logged model.
        state = self.__dict__.copy()
        state.pop("encoder_", None)
        return state


class CentroidAssigner(TransformerMixin, ClusterMixin, BaseEstimator):
    """Assign embeddings (n, d) to fixed centres (k, d): the head of a ``SelfTrainingClusterer``.

    ``predict`` gives the nearest centre, ``predict_proba`` the cosine softmax at
    ``temperature``, ``transform`` the embeddings unchanged (they are the latent space).
    """

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
        return cosine_proba(self.transform(X), self.cluster_centers_, self.temperature)

    def predict(self, X) -> np.ndarray:
        return _nearest(self.transform(X), self.cluster_centers_)


def _normalize(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True).clip(1e-12)


def _nearest(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (Euclidean, as k-means assigns) for each row of ``X``."""
    return np.argmin((centers**2).sum(1) - 2.0 * X @ centers.T, axis=1)
