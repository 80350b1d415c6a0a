"""Self-training of the sentence encoder on its own clusters, without labels.

A frozen encoder caps what any head can reach, so this estimator adapts the encoder
itself, without labels. Each round embeds every text with the current encoder, runs
k-means on the L2-normalised embeddings and fine-tunes the transformer together with a
cosine classifier initialised at the k-means centres, on two losses, as SCCL does (Zhang et
al., NAACL 2021):

- the clustering loss KL(P || Q) between the soft assignment Q and its sharpened target P
  (DEC, Xie et al. 2016, eq. 3), on every text, which moves the boundaries into sparse
  regions of the space (``loss="kl"``, the default). The alternative, ``loss="ce"``, is
  cross-entropy on the k-means labels of the ``confident_fraction`` of each cluster whose
  margin between the nearest and the second-nearest centre is largest (the self-labelling
  step of SCAN, Van Gansbeke et al., ECCV 2020); ``loss="none"`` keeps only the second loss;
- an instance-contrastive loss (InfoNCE, other texts of the batch as negatives) that
  keeps the space from collapsing. SCCL's positives are augmented copies of each text; here
  they are one of the text's ``n_neighbors`` nearest neighbours in the starting space
  (``positives="neighbors"``, the default; as in SCAN's and CLNN's neighbour mining) or a
  second dropout view of the text itself (``positives="dropout"``, SimCSE, Gao et al.,
  EMNLP 2021). Neighbours need no augmentation model and carry topic, not wording.

Only the top ``trainable_layers`` layers train (two by default). The states below them are
computed once (``clustering._transformer.FrozenPrefix``), so an epoch costs the top layers'
share of the network: about 4 minutes for 7,600 news articles on two CPU cores. After the
last round the texts are embedded once more and k-means on those embeddings gives ``labels_``.

Texts in, labels out (``input_kind = "texts"``): the embeddings change while it trains.
The loop is ``clustering._selftrain_loop``, the transformer internals
``clustering._transformer``, the clustering head ``clustering.centroids``.
"""
from __future__ import annotations

import copy
import hashlib

import numpy as np
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from clustering._selftrain_loop import LOSSES, Callback, confident_mask, nearest_neighbors, train_round
from clustering._transformer import (encode, encoder_from_bytes, encoder_to_bytes, freeze_lower_layers,
                                     text_embedders)
from clustering._utils import check_n_clusters, check_texts, resolve_device, seed_of
from clustering.base import ClusteringEstimator
from clustering.centroids import CentroidAssigner, centroid_proba, l2_normalize, nearest_centre
from clustering.metrics import cluster_accuracy


class SelfTrainingClusterer(ClusteringEstimator):
    """Cluster raw texts while fine-tuning the sentence encoder on its own clusters.

    ``fit(texts)`` loads ``embedding_model`` (a sentence-transformers name or folder), then
    runs ``rounds`` rounds of: embed -> k-means (``n_init`` restarts) -> keep the
    ``confident_fraction`` most confident texts per cluster (all of them at 1.0) ->
    ``epochs_per_round`` epochs of AdamW (``lr`` for the transformer, ``head_lr`` for the
    cosine head, batches of ``batch_size``) on them with the clustering ``loss`` ("kl", "ce"
    or "none") plus ``contrastive_weight`` times the contrastive loss on ``positives``
    ("neighbors" or "dropout"; see the module docstring), texts truncated at
    ``max_seq_length`` tokens. All but the top ``trainable_layers`` layers stay frozen
    (None: all train). Training stops early when the k-means labels of two consecutive
    rounds agree on more than ``1 - tol`` of the texts. No step reads true labels.
    ``random_state`` (int, None or RandomState) seeds dropout, batch order and k-means.

    Fitted attributes: ``encoder_`` (the fine-tuned SentenceTransformer), ``labels_`` (n,),
    ``cluster_centers_`` (k, dim) in the final embedding space, ``embeddings_`` (n, dim)
    of the training texts, ``history_`` (per round: ``n_confident``, ``loss``,
    ``label_change``), ``n_iter_`` (rounds run). The fitted model pickles whole, encoder
    included.
    """

    input_kind = "texts"
    space_metric = "cosine"

    def __init__(
        self,
        n_clusters: int = 4,
        *,
        embedding_model: str = "all-MiniLM-L6-v2",
        loss: str = "kl",
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
        random_state=0,
    ):
        self.n_clusters = n_clusters
        self.embedding_model = embedding_model
        self.loss = loss
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
        seed = seed_of(self.random_state)
        torch.manual_seed(seed)  # dropout masks
        # A private copy: the cached model that embed_texts uses must stay pristine.
        encoder = copy.deepcopy(load_model(self.embedding_model, resolve_device(self.device)))
        encoder.max_seq_length = self.max_seq_length
        n_frozen = freeze_lower_layers(encoder, self.trainable_layers)
        self.encoder_ = encoder
        self.history_ = {"n_confident": [], "loss": [], "label_change": []}
        self.n_iter_ = 0

        embed, embed_all = text_embedders(encoder, texts, n_frozen, self.embed_batch_size)
        params = [p for p in encoder.parameters() if p.requires_grad]
        emb = embed_all()
        neighbors = None
        if self.contrastive_weight > 0 and self.positives == "neighbors":
            neighbors = nearest_neighbors(emb, self.n_neighbors)
        km = self._kmeans(emb, seed)
        step = 0
        for round_ in range(1, self.rounds + 1):
            centers = l2_normalize(km.cluster_centers_)
            keep = np.flatnonzero(confident_mask(emb @ centers.T, km.labels_, self.confident_fraction))
            stopped = False

            def on_epoch(epoch, logs):
                nonlocal stopped, step
                step = epoch
                stopped = callback is not None and callback(epoch, logs) is True
                return stopped

            encoder.train()
            try:
                losses = train_round(
                    embed, params, keep, km.labels_, centers,
                    loss=self.loss, epochs=self.epochs_per_round, lr=self.lr, head_lr=self.head_lr,
                    batch_size=self.batch_size, temperature=self.temperature,
                    contrastive_weight=self.contrastive_weight, neighbors=neighbors, device=encoder.device,
                    random_state=seed + round_, callback=on_epoch, step0=step,
                )
            finally:
                encoder.eval()
            emb = embed_all()
            previous = km.labels_
            km = self._kmeans(emb, seed + round_)
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
        self._training_texts_digest = _digest(texts)
        return self

    def _kmeans(self, emb, seed: int) -> KMeans:
        return KMeans(self.n_clusters, n_init=self.n_init, random_state=seed).fit(emb)

    def _check_params(self):
        for name, minimum in (("rounds", 0), ("epochs_per_round", 1), ("batch_size", 1), ("max_seq_length", 8),
                              ("n_init", 1), ("embed_batch_size", 1), ("n_neighbors", 1)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be 'kl', 'ce' or 'none'; got {self.loss!r}")
        if self.positives not in ("dropout", "neighbors"):
            raise ValueError(f"positives must be 'dropout' or 'neighbors'; got {self.positives!r}")
        if self.loss == "none" and not self.contrastive_weight > 0:
            raise ValueError("loss='none' trains on the contrastive term alone: set contrastive_weight > 0")
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
        return encode(self.encoder_, check_texts(X), self.embed_batch_size)

    def predict_proba(self, X) -> np.ndarray:
        """Soft assignment to the centres (``centroid_proba``), (n_samples, n_clusters)."""
        return centroid_proba(self.transform(X), self.cluster_centers_, self.temperature)

    def predict(self, X) -> np.ndarray:
        """Nearest centre (n_samples,) of each text."""
        return nearest_centre(self.transform(X), self.cluster_centers_)

    def clustering_space(self, X) -> tuple[np.ndarray, str]:
        """``(embeddings, "cosine")`` of the texts ``X``: ``embeddings_`` when ``X`` are the
        training texts (the very space k-means labelled), else ``transform(X)``."""
        check_is_fitted(self, "embeddings_")
        texts = check_texts(X)
        if _digest(texts) == getattr(self, "_training_texts_digest", None):
            return self.embeddings_, self.space_metric
        return self.transform(texts), self.space_metric

    def n_trainable_parameters(self) -> int:
        """Encoder weights that fine-tuning updated (those below ``trainable_layers`` froze)."""
        check_is_fitted(self, "encoder_")
        return sum(p.numel() for p in self.encoder_.parameters() if p.requires_grad)

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

    # -- pickling --------------------------------------------------------------------
    # The encoder travels as its saved folder (clustering._transformer.encoder_to_bytes) and
    # comes back on the CPU, its lower layers frozen again, so the model loads without a GPU.
    def __getstate__(self):
        state = super().__getstate__()
        if "encoder_" in state:
            state["encoder_"] = encoder_to_bytes(state["encoder_"])
        return state

    def __setstate__(self, state):
        if isinstance(state.get("encoder_"), bytes):
            state = {**state, "encoder_": encoder_from_bytes(state["encoder_"], "cpu")}
            freeze_lower_layers(state["encoder_"], state.get("trainable_layers"))
        super().__setstate__(state)


def _digest(texts: list[str]) -> str:
    """A fingerprint of a text sequence: order, count and content (length-prefixed, so unambiguous)."""
    h = hashlib.sha256(len(texts).to_bytes(8, "little"))
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()
