"""Self-training of the sentence encoder on its own clusters, without labels.

A frozen encoder caps what any head can reach, so this estimator adapts the encoder
itself, without labels. Each round embeds every text with the current encoder, runs
k-means on the L2-normalised embeddings and fine-tunes the transformer together with a
cosine classifier initialised at the k-means centres, on two losses, as SCCL does (Zhang et
al., NAACL 2021):

- the clustering loss KL(P || Q) between the soft assignment Q and its sharpened target P
  (DEC, Xie et al. 2016, eq. 3), on every text, which moves the boundaries into sparse
  regions of the space (``objective="kl"``, the default). The alternative,
  ``objective="ce"``, is cross-entropy on the k-means labels of the ``confident_fraction``
  of each cluster whose margin between the nearest and the second-nearest centre is
  largest (the self-labelling step of SCAN, Van Gansbeke et al., ECCV 2020);
  ``objective="none"`` keeps only the second loss;
- an instance-contrastive loss (InfoNCE, other texts of the batch as negatives) that
  keeps the space from collapsing. SCCL's positives are augmented copies of each text; here
  they are one of the text's ``n_neighbors`` nearest neighbours in the starting space
  (``positives="neighbors"``, the default; as in SCAN's and CLNN's neighbour mining) or a
  second dropout view of the text itself (``positives="dropout"``, SimCSE, Gao et al.,
  EMNLP 2021). Neighbours need no augmentation model and carry topic, not wording.

Only the top ``trainable_layers`` layers train (two by default). The states below them are
computed once (``FrozenPrefix``), so an epoch costs the top layers' share of the network:
about 4 minutes for 7,600 news articles on two CPU cores. After the last round the texts
are embedded once more and k-means on those embeddings gives ``labels_``.

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


def centroid_proba(embeddings: np.ndarray, centers: np.ndarray, temperature: float) -> np.ndarray:
    """Soft assignment (n, k) whose argmax is the nearest centre, as k-means assigns.

    ``softmax_j((<x, c_j> - |c_j|^2 / 2) / temperature)``: minus half the squared Euclidean
    distance up to a per-row constant, so predictions and probabilities never disagree. For
    unit-norm centres this is the cosine softmax of the training head.
    """
    logits = _centroid_scores(embeddings, centers) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def nearest_neighbors(embeddings: np.ndarray, n_neighbors: int, chunk_size: int = 4096) -> np.ndarray:
    """Indices (n, n_neighbors) of each row's nearest other rows by cosine similarity.

    ``embeddings`` (n, d) must be L2-normalised. Rows are processed ``chunk_size`` at a
    time, so memory is O(chunk_size * n), not O(n^2). Neighbours are ordered nearest first.
    """
    X = np.asarray(embeddings, dtype=np.float32)
    n = len(X)
    m = min(n_neighbors, n - 1)
    out = np.empty((n, m), dtype=np.int64)
    for start in range(0, n, chunk_size):
        sim = X[start:start + chunk_size] @ X.T
        rows = np.arange(len(sim))
        sim[rows, start + rows] = -np.inf  # never one's own neighbour
        part = np.argpartition(-sim, m - 1, axis=1)[:, :m]
        order = np.argsort(-np.take_along_axis(sim, part, axis=1), axis=1, kind="stable")
        out[start:start + chunk_size] = np.take_along_axis(part, order, axis=1)
    return out


def train_round(embed, params, train_idx, labels, centers, *, objective="kl", epochs=1, lr=3e-5, head_lr=1e-3,
                batch_size=32, temperature=0.1, contrastive_weight=0.0, contrastive_temperature=0.05,
                neighbors=None, device="cpu", random_state=0, callback: Callback | None = None,
                step0: int = 0) -> list[float]:
    """Fine-tune the encoder behind ``embed`` on the texts at ``train_idx``; returns each epoch's mean loss.

    ``embed(idx)``: a LongTensor of text positions -> their sentence embeddings
    (len(idx), d), with gradients flowing into ``params`` (the trainable weights).
    ``train_idx``: positions of the texts to train on (an epoch is one pass over them). ``centers`` (k, d) initialises the cosine classifier
    ``q_ij = softmax_j(<z_i, w_j> / temperature)`` over normalised embeddings z.
    ``objective="kl"`` minimises KL(P || Q) against the sharpened target of each batch
    (``target_distribution``, DEC eq. 3, as SCCL does per batch) and ignores ``labels``;
    ``objective="ce"`` is cross-entropy against ``labels`` (ints in ``range(k)``, one per position);
    ``objective="none"`` leaves only the contrastive term.
    ``contrastive_weight`` adds that much InfoNCE between each text and a positive: a
    second dropout view of itself (``neighbors=None``, SimCSE) or a random one of its
    ``neighbors`` (row i: positions of text i's nearest neighbours in the starting space); other texts
    of the batch are the negatives, except those among the anchor's neighbours.
    ``device``: where ``embed`` puts its output. ``callback(step0 + epoch, logs)`` runs
    after each epoch and stops training by returning ``True``.
    """
    import torch
    import torch.nn.functional as F

    from clustering.dec import target_distribution

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
            loss = z.new_zeros(())
            if objective != "none":
                logits = z @ F.normalize(head, dim=1).T / temperature
                if objective == "kl":
                    q = logits.softmax(dim=1)
                    loss = F.kl_div(q.clamp_min(1e-12).log(), target_distribution(q.detach()), reduction="batchmean")
                else:
                    loss = F.cross_entropy(logits, targets[idx].to(z.device))
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
                loss = loss + contrastive_weight * info_nce
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(train_idx))
        if not np.isfinite(losses[-1]):
            raise FloatingPointError(f"self-training loss diverged (loss={losses[-1]})")
        if callback is not None and callback(step0 + epoch, {"stage": "train", "loss": losses[-1]}) is True:
            break
    return losses


class FrozenPrefix:
    """Token states of fixed texts after an encoder's frozen lower layers, computed once.

    When the lowest transformer layers are frozen their output never changes, so training
    and re-embedding the training texts only need the trainable top layers run on these
    cached states: a step costs the top layers' share of the network instead of all of it.
    ``embed(idx)`` runs the top layers (in the encoder's current train/eval mode) and the
    encoder's pooling modules on the cached states of the texts at ``idx``.
    Works for BERT-style models (``supports``); the estimator falls back to full passes
    for others.
    """

    MODEL_TYPES = ("bert",)

    def __init__(self, encoder, texts, n_frozen: int, batch_size: int = 128):
        import torch

        self.encoder = encoder
        transformer = encoder[0].auto_model
        self.layers = transformer.encoder.layer[n_frozen:]
        self.states = []
        was_training = encoder.training
        encoder.eval()
        try:
            with torch.no_grad():
                for start in range(0, len(texts), batch_size):
                    features = _to_device(encoder.preprocess(list(texts[start:start + batch_size])), encoder.device)
                    inputs = {k: features[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in features}
                    hidden = transformer(**inputs, output_hidden_states=True).hidden_states[n_frozen]
                    for h, length in zip(hidden, features["attention_mask"].sum(1).tolist()):
                        self.states.append(h[:length].clone())
        finally:
            encoder.train(was_training)

    @classmethod
    def supports(cls, encoder) -> bool:
        module = encoder[0]
        return getattr(getattr(getattr(module, "auto_model", None), "config", None), "model_type", None) in cls.MODEL_TYPES

    def __len__(self) -> int:
        return len(self.states)

    def embed(self, idx):
        import torch

        states = [self.states[i] for i in (idx.tolist() if hasattr(idx, "tolist") else idx)]
        hidden = torch.nn.utils.rnn.pad_sequence(states, batch_first=True)
        lengths = torch.tensor([len(s) for s in states], device=hidden.device)
        mask = (torch.arange(hidden.shape[1], device=hidden.device)[None, :] < lengths[:, None]).long()
        additive = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
        for layer in self.layers:
            out = layer(hidden, attention_mask=additive)
            hidden = out[0] if isinstance(out, tuple) else out
        features = {"token_embeddings": hidden, "attention_mask": mask}
        for module in list(self.encoder)[1:]:  # pooling (and normalisation, dense...) as the encoder does
            features = module(features)
        return features["sentence_embedding"]

    def encode(self, batch_size: int = 128) -> np.ndarray:
        """L2-normalised embeddings (n, d) of every cached text, in eval mode."""
        import torch

        was_training = self.encoder.training
        self.encoder.eval()
        try:
            with torch.no_grad():
                chunks = [torch.nn.functional.normalize(self.embed(range(s, min(s + batch_size, len(self))))
                                                        , dim=1).cpu().numpy() for s in range(0, len(self), batch_size)]
        finally:
            self.encoder.train(was_training)
        return np.ascontiguousarray(np.concatenate(chunks), dtype=np.float32)


def _to_device(features: dict, device) -> dict:
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in features.items()}


class SelfTrainingClusterer(TransformerMixin, ClusterMixin, BaseEstimator):
    """Cluster raw texts while fine-tuning the sentence encoder on its own clusters.

    ``fit(texts)`` runs ``rounds`` rounds of: embed -> k-means (``n_init`` restarts) -> keep
    the ``confident_fraction`` most confident texts per cluster (all of them at 1.0) ->
    ``epochs_per_round`` epochs of AdamW (``lr`` for the transformer, ``head_lr`` for the
    cosine head, batches of ``batch_size``) on them with ``objective`` ("kl", "ce" or
    "none") plus ``contrastive_weight`` times the contrastive loss on ``positives``
    ("neighbors" or "dropout"; see the module docstring), texts truncated at
    ``max_seq_length`` tokens. All but the top ``trainable_layers`` layers stay frozen
    (None: all train). Training stops early when the k-means labels of two consecutive
    rounds agree on more than ``1 - tol`` of the texts. No step reads true labels.

    Fitted attributes: ``encoder_`` (the fine-tuned SentenceTransformer), ``labels_`` (n,),
    ``cluster_centers_`` (k, dim) in the final embedding space, ``embeddings_`` (n, dim)
    of the training texts, ``history_`` (per round: ``n_confident``, ``loss``,
    ``label_change``), ``n_iter_`` (rounds run).
    """

    space_metric = "cosine"  # how distance is measured in the space it clusters in (metrics.own_space)

    def __init__(
        self,
        n_clusters: int = 4,
        *,
        model: str = "all-MiniLM-L6-v2",
        objective: str = "kl",
        rounds: int = 1,
        confident_fraction: float = 1.0,
        epochs_per_round: int = 1,
        lr: float = 2e-4,
        head_lr: float = 1e-3,
        batch_size: int = 64,
        max_seq_length: int = 64,
        temperature: float = 0.1,
        contrastive_weight: float = 1.0,
        positives: str = "neighbors",
        n_neighbors: int = 10,
        trainable_layers: int | None = 2,
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
        self.positives = positives
        self.n_neighbors = n_neighbors
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
        n_frozen = self._freeze_lower_layers(encoder)
        self.encoder_ = encoder
        self.history_ = {"n_confident": [], "loss": [], "label_change": []}
        self.n_iter_ = 0

        prefix = None
        if n_frozen and FrozenPrefix.supports(encoder):
            prefix = FrozenPrefix(encoder, texts, n_frozen, self.embed_batch_size)
            embed, embed_all = prefix.embed, lambda: prefix.encode(self.embed_batch_size)
        else:
            def embed(idx):
                features = encoder.preprocess([texts[i] for i in idx.tolist()])
                return encoder(_to_device(features, encoder.device))["sentence_embedding"]

            embed_all = lambda: self._embed(texts)  # noqa: E731
        params = [p for p in encoder.parameters() if p.requires_grad]

        emb = embed_all()
        neighbors = None
        if self.contrastive_weight > 0 and self.positives == "neighbors":
            neighbors = nearest_neighbors(emb, self.n_neighbors)
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

            encoder.train()
            try:
                losses = train_round(
                    embed, params, keep, km.labels_, _normalize(km.cluster_centers_),
                    objective=self.objective, epochs=self.epochs_per_round, lr=self.lr, head_lr=self.head_lr,
                    batch_size=self.batch_size, temperature=self.temperature,
                    contrastive_weight=self.contrastive_weight, neighbors=neighbors, device=encoder.device,
                    random_state=self.random_state + round_, callback=on_epoch, step0=step,
                )
            finally:
                encoder.eval()
            emb = embed_all()
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

    def _freeze_lower_layers(self, encoder) -> int:
        """Freeze the embeddings and all but the top ``trainable_layers`` layers; returns how many froze."""
        if self.trainable_layers is None:
            return 0
        transformer = encoder[0].auto_model
        layers = transformer.encoder.layer
        n_frozen = max(0, len(layers) - self.trainable_layers)
        for module in [transformer.embeddings, *layers[:n_frozen]]:
            for p in module.parameters():
                p.requires_grad_(False)
        return n_frozen

    def _embed(self, texts) -> np.ndarray:
        emb = self.encoder_.encode(texts, batch_size=self.embed_batch_size, show_progress_bar=False,
                                   convert_to_numpy=True, normalize_embeddings=True)
        return np.ascontiguousarray(emb, dtype=np.float32)

    def _kmeans(self, emb, round_: int) -> KMeans:
        return KMeans(self.n_clusters, n_init=self.n_init, random_state=self.random_state + round_).fit(emb)

    def _check_params(self):
        for name, minimum in (("rounds", 0), ("epochs_per_round", 1), ("batch_size", 1), ("max_seq_length", 8),
                              ("n_init", 1), ("embed_batch_size", 1), ("n_neighbors", 1)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
        if self.objective not in ("kl", "ce", "none"):
            raise ValueError(f"objective must be 'kl', 'ce' or 'none'; got {self.objective!r}")
        if self.positives not in ("dropout", "neighbors"):
            raise ValueError(f"positives must be 'dropout' or 'neighbors'; got {self.positives!r}")
        if self.objective == "none" and not self.contrastive_weight > 0:
            raise ValueError("objective='none' trains on the contrastive term alone: set contrastive_weight > 0")
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
        """Soft assignment to the centres (``centroid_proba``), (n_samples, n_clusters)."""
        return centroid_proba(self.transform(X), self.cluster_centers_, self.temperature)

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

    ``predict`` gives the nearest centre, ``predict_proba`` the matching soft assignment at
    ``temperature`` (``centroid_proba``), ``transform`` the embeddings unchanged (they are the latent space).
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
        return centroid_proba(self.transform(X), self.cluster_centers_, self.temperature)

    def predict(self, X) -> np.ndarray:
        return _nearest(self.transform(X), self.cluster_centers_)


def _normalize(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True).clip(1e-12)


def _centroid_scores(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """``<x, c_j> - |c_j|^2 / 2`` (n, k), float64: minus half the squared distance, up to a per-row constant."""
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(centers, dtype=np.float64)
    return X @ C.T - 0.5 * (C**2).sum(axis=1)


def _nearest(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (Euclidean, as k-means assigns) for each row of ``X``.

    The argmax of the same scores ``centroid_proba`` turns into probabilities, so the two agree.
    """
    return np.argmax(_centroid_scores(X, centers), axis=1)
