"""Self-training of the sentence encoder on its own clusters, without labels: ``SelfTrainingClusterer``.

Its loop is ``clustering._selftrain_loop``, the transformer internals ``clustering._transformer``, the
clustering head ``clustering.centroids``; how it works and what was measured: ``docs/selftrain.md``.
"""
from __future__ import annotations

import copy

import numpy as np
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from clustering._selftrain_loop import LOSSES, Callback, confident_mask, nearest_neighbors, train_round
from clustering._transformer import (encode, encoder_from_bytes, encoder_to_bytes, freeze_lower_layers,
                                     text_embedders)
from clustering._utils import check_n_clusters, check_texts, resolve_device, seed_of, text_digest
from clustering.base import ClusteringEstimator
from clustering.centroids import CentroidAssigner, centroid_proba, l2_normalize, nearest_centre
from clustering.metrics import cluster_accuracy


class SelfTrainingClusterer(ClusteringEstimator):
    """Cluster raw texts while fine-tuning the sentence encoder on its own clusters.

    A frozen encoder caps what any head on its embeddings can reach, so this one adapts the encoder itself,
    without labels: rounds of embed -> k-means -> fine-tune the top ``trainable_layers`` layers and a cosine
    head on each cluster's most confident texts; k-means on the final embeddings gives ``labels_``
    (``docs/selftrain.md`` tells how). Texts in, labels out (``input_kind = "texts"``).

    Parameters
    ----------
    n_clusters : int, default=4
        Number of clusters.
    embedding_model : str, default="all-MiniLM-L6-v2"
        Sentence-transformers model name or folder the encoder starts from.
    loss : {"kl", "ce", "none"}, default="kl"
        Clustering loss: KL(P || Q) of the head's soft assignment Q to its sharpened target P, cross-entropy
        on the k-means labels, or none (the contrastive loss alone).
    rounds : int, default=1
        Most rounds of embed -> k-means -> fine-tune (0: k-means on the stock embeddings).
    confident_fraction : float, default=1.0
        Share of each cluster a round trains on, largest margin between the two nearest centres first.
    epochs_per_round : int, default=1
        Epochs of fine-tuning per round.
    lr : float, default=2e-4
        AdamW learning rate of the transformer layers.
    head_lr : float, default=1e-3
        AdamW learning rate of the cosine head.
    batch_size : int, default=64
        Texts per training batch; a text's batch-mates are its contrastive negatives.
    max_seq_length : int, default=64
        Tokens a text is truncated at.
    temperature : float, default=0.1
        Temperature of the head's softmax, in training and in ``predict_proba``.
    contrastive_weight : float, default=1.0
        Weight of the contrastive loss (0: none).
    positives : {"neighbors", "dropout"}, default="neighbors"
        A text's positive: one of its ``n_neighbors`` nearest neighbours in the starting space, or a
        second dropout view of the text itself.
    n_neighbors : int, default=10
        Neighbours a ``"neighbors"`` positive is drawn from.
    trainable_layers : int or None, default=2
        Top transformer layers that train; the rest and the token embeddings stay frozen (None: all train).
    tol : float, default=0.01
        Stop once two consecutive rounds' k-means labels agree (up to a permutation) on over ``1 - tol``.
    n_init : int, default=10
        k-means restarts per clustering.
    embed_batch_size : int, default=128
        Texts per batch when embedding.
    device : str, torch.device or None, default=None
        Where the encoder runs; None: CUDA when present, else CPU.
    random_state : int, RandomState or None, default=0
        Seed of dropout, batch order, positives and k-means.

    Attributes
    ----------
    encoder_ : SentenceTransformer
        The fine-tuned encoder. The fitted model pickles whole, encoder included.
    labels_ : ndarray of shape (n_texts,)
        Cluster of each training text.
    cluster_centers_ : ndarray of shape (n_clusters, dim)
        The k-means centres in the final embedding space, float32.
    embeddings_ : ndarray of shape (n_texts, dim)
        The training texts' final embeddings, L2-normalised.
    history_ : dict of str to list
        Per round: ``n_confident`` (texts trained on), ``loss`` (last epoch's mean), ``label_change``.
    n_iter_ : int
        Rounds run.

    See Also
    --------
    clustering.centroids.CentroidAssigner : the clustering head alone, on embeddings.
    clustering.dec.IDEC : a clustering head trained on frozen embeddings.

    Notes
    -----
    SCCL's losses (Zhang et al., NAACL 2021): ``loss="kl"``, KL(P || Q) to DEC's target (Xie et al., ICML 2016,
    eq. 3) per batch, Q a softmax of cosine similarities to the centres; ``loss="ce"``, SCAN's self-labelling
    (Van Gansbeke et al., ECCV 2020). The contrastive loss is a symmetric InfoNCE whose positives are neighbours
    in the starting space (SCAN's mining) or a second dropout pass (SimCSE: Gao et al., EMNLP 2021).

    Examples
    --------
    >>> from clustering.selftrain import SelfTrainingClusterer
    >>> texts = ["stocks fall on wall street", "shares and stocks rally", "bank stocks slide",
    ...          "striker scores in cup final", "coach praises the striker", "cup final goes to penalties"]
    >>> model = SelfTrainingClusterer(2, n_neighbors=2, batch_size=6, max_seq_length=16, n_init=3).fit(texts)
    >>> len(set(model.labels_[:3])), len(set(model.labels_[3:])), bool(model.labels_[0] != model.labels_[3])
    (1, 1, True)
    >>> model.n_iter_, model.history_["n_confident"], model.cluster_centers_.shape
    (1, [6], (2, 384))
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

    def fit(self, X, y=None, *, callback: Callback | None = None):
        """Fine-tune the encoder on the texts ``X`` and cluster them.

        Parameters
        ----------
        X : sequence of str
            The n training texts.
        y : None
            Ignored; no step reads true labels.
        callback : callable, default=None
            ``callback(step, logs)`` runs after every epoch (``stage="train"``, ``loss``) and every round's
            clustering (``stage="cluster"``, ``round``, ``labels``, ``label_change``); ``True`` stops there.

        Returns
        -------
        self : SelfTrainingClusterer
            The fitted estimator.

        Raises
        ------
        ValueError
            For an invalid hyperparameter, or fewer texts than clusters.
        clustering.embed.EmbeddingModelError
            When ``embedding_model`` cannot be loaded.
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
        self._training_texts_digest = text_digest(texts)
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

    def transform(self, X) -> np.ndarray:
        """Embed the texts ``X`` with the fine-tuned encoder.

        Parameters
        ----------
        X : sequence of str
            The texts.

        Returns
        -------
        embeddings : ndarray of shape (n_samples, dim)
            L2-normalised float32 rows.
        """
        check_is_fitted(self, "cluster_centers_")
        return encode(self.encoder_, check_texts(X), self.embed_batch_size)

    def predict_proba(self, X) -> np.ndarray:
        """Soft-assign the texts ``X`` to the centres; the argmax is ``predict``'s cluster.

        Parameters
        ----------
        X : sequence of str
            The texts.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_clusters)
            ``clustering.centroids.centroid_proba`` at ``temperature``; rows sum to one.
        """
        return centroid_proba(self.transform(X), self.cluster_centers_, self.temperature)

    def predict(self, X) -> np.ndarray:
        """Assign each text of ``X`` to its nearest centre in the fine-tuned embedding space.

        Parameters
        ----------
        X : sequence of str
            The texts.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Index of each text's nearest centre.
        """
        return nearest_centre(self.transform(X), self.cluster_centers_)

    def clustering_space(self, X) -> tuple[np.ndarray, str]:
        """The texts ``X`` in the space the model clusters in, and its distance there.

        Parameters
        ----------
        X : sequence of str
            The texts.

        Returns
        -------
        embeddings : ndarray of shape (n_samples, dim)
            ``embeddings_`` for the training texts (the space k-means labelled), else ``transform(X)``.
        metric : str
            ``"cosine"``.
        """
        check_is_fitted(self, "embeddings_")
        texts = check_texts(X)
        if text_digest(texts) == getattr(self, "_training_texts_digest", None):
            return self.embeddings_, self.space_metric
        return self.transform(texts), self.space_metric

    def n_trainable_parameters(self) -> int:
        """Count the encoder weights that fine-tuning updated (those below ``trainable_layers`` froze).

        Returns
        -------
        n : int
            Number of trainable encoder parameters.
        """
        check_is_fitted(self, "encoder_")
        return sum(p.numel() for p in self.encoder_.parameters() if p.requires_grad)

    def save_encoder(self, path) -> str:
        """Write the fine-tuned encoder as a SentenceTransformer folder (the pyfunc's ``embedding_model``).

        ``embed_texts(texts, model=path)`` then reproduces ``transform(texts)``.

        Parameters
        ----------
        path : str or path-like
            The folder to write.

        Returns
        -------
        path : str
            ``path``, as a string.
        """
        check_is_fitted(self, "encoder_")
        self.encoder_.save(str(path))
        return str(path)

    def embedding_head(self) -> CentroidAssigner:
        """Return the clustering step alone, on embeddings: what the pyfunc wraps beside the encoder.

        Returns
        -------
        head : clustering.centroids.CentroidAssigner
            Set to ``cluster_centers_`` at ``temperature``.
        """
        check_is_fitted(self, "cluster_centers_")
        return CentroidAssigner(self.n_clusters, temperature=self.temperature).set_centers(self.cluster_centers_)

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
