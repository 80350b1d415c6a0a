"""Iterative pseudo-labelling on two views of short texts, Sentence-BERT and tf-idf: ``PseudoLabelClusterer``.

How it works, the papers it follows and what was measured: ``docs/pseudolabel.md``.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from clustering._utils import check_embeddings, check_n_clusters, check_texts, seed_of
from clustering.base import ClusteringEstimator
from clustering.neighbours import ALGORITHMS, NeighbourIndex
from clustering.transport import confident_core, sinkhorn, size_prior, softmax

Callback = Callable[[int, dict], object]
# Turns squared distances to the k-means centres (at most 4 here) into the first posterior: sharp
# enough to keep k-means' argmax, soft enough for the transport to move the ambiguous texts.
_INIT_TEMPERATURE = 0.05
# ``balance="auto"``'s candidates, preferred in this order on a tie: equal sizes (RSTC's prior) and a
# quarter of the way to equal from the partition's own (for long tails: ``docs/pseudolabel.md``).
AUTO_BALANCES = (1.0, 0.25)


class PseudoLabelClusterer(ClusteringEstimator):
    """Cluster texts: k-means on [SBERT, tf-idf LSA], then rounds of balanced self-labelling.

    Each text is its unit Sentence-BERT row joined with its unit tf-idf LSA row (times
    ``lexical_weight``); k-means there starts, and each round turns the posterior into
    pseudo-labels by optimal transport towards target cluster sizes, trains a logistic
    regression on each cluster's most confident texts and smooths its posterior over the
    texts' Sentence-BERT neighbours. ``docs/pseudolabel.md`` tells why.

    Parameters
    ----------
    n_clusters : int, default=4
        Number of clusters.
    lexical_weight : float, default=0.7
        Scale of the lexical view in the joined space (0: Sentence-BERT only).
    lexical_dims : int, default=128
        LSA components of the lexical view.
    rounds : int, default=8
        Most rounds of self-labelling (0: k-means on the two views).
    confident_fraction : float, default=0.7
        Share of each pseudo-cluster, most confident first, a round trains on.
    balance : float or "auto", default="auto"
        Target sizes of the transport: 1 equal, 0 the current partition's, between a
        geometric compromise; ``"auto"`` runs 1.0 and 0.25 and keeps the better by ``select``.
    C : float, default=1.0
        Inverse regularisation of the logistic regression.
    neighbors : int, default=10
        Sentence-BERT neighbours (the text included) a posterior is smoothed over (0: none).
    neighbor_search : {"auto", "exact", "approximate"}, default="auto"
        How they are found (``clustering.neighbours.NeighbourIndex``): "auto" is exact up
        to 20,000 texts, an approximate index above.
    smoothing : float, default=0.5
        Weight of the neighbours' mean posterior, ``P <- (1 - s) P + s mean_kNN(P)``.
    tol : float, default=1e-3
        The rounds stop when fewer than this share of the labels change.
    select : {"cross_view", "silhouette"} or None, default="cross_view"
        The label-free score of ``"auto"``'s choice and of the guard that keeps the rounds'
        partition only if it beats the k-means start: neighbour agreement and predictability
        in both views against k-means of the partition's own number of clusters (see
        ``_choice_score``), or the Sentence-BERT silhouette. None: no guard.
    n_init : int, default=30
        k-means++ restarts of the start, on ``init_sample`` texts.
    init_sample : int or None, default=5000
        Texts the restarts see (None: all); the best centres are then refined on all.
    embedding_model : str, default="all-MiniLM-L6-v2"
        Sentence-transformers model for texts given without ``embeddings``.
    random_state : int, RandomState or None, default=0
        Seed of every random step.

    Attributes
    ----------
    labels_ : ndarray of shape (n_texts,)
        The partition: the rounds' (``rounds_labels_``) or the k-means start's.
    vectorizer_, svd_ : TfidfVectorizer, TruncatedSVD or None
        The lexical view.
    kmeans_ : KMeans
        The start, on the joined features.
    classifier_ : LogisticRegression or None
        The last round's (None when ``rounds=0``).
    neighbors_ : NeighbourIndex or None
        On the training texts' Sentence-BERT rows, for smoothing at ``predict``.
    train_proba_ : ndarray of shape (n_texts, n_clusters) or None
        The last round's posterior on the training texts, before smoothing.
    n_iter_ : int
        Rounds run.
    history_ : dict of str to list
        Per round: ``changed`` (share of labels that moved), ``core`` (training-set size),
        ``largest`` (share of the largest cluster).
    rounds_labels_ : ndarray of shape (n_texts,)
        The rounds' partition, kept or not.
    balance_ : float
        The balance the rounds ran at.
    balance_scores_ : dict of float to float
        ``"auto"``'s scores, ``{1.0: s, 0.25: s}`` (empty otherwise).
    selection_ : dict of str to float
        The guard's scores, ``{"kmeans": s, "rounds": s}`` (empty without a guard).
    use_rounds_ : bool
        Whether ``labels_`` is the rounds' partition.
    n_features_in_ : int
        Width of the Sentence-BERT rows.

    See Also
    --------
    clustering.selection.CrossViewScore : the study's score of partitions across views.

    Notes
    -----
    Optimal-transport pseudo-labels as in RSTC (Zheng et al., ACL 2023) and SeLa (Asano et
    al., ICLR 2020); rounds of classification as in Deep ECIC (Yin et al., 2023); two views as
    in COTC (Zheng et al., 2023); neighbour smoothing on SCAN's premise (Van Gansbeke et al.,
    ECCV 2020). The encoder is frozen: ``fit``, ``predict`` and ``transform`` take raw texts
    (the lexical view needs them) and ``embeddings=`` or the embedding cache gives the rows.
    With smoothing, prediction is transductive: a new text's posterior is mixed with that of
    its nearest training texts, so ``predict`` on the training texts returns ``labels_``.

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.pseudolabel import PseudoLabelClusterer
    >>> texts = ["stocks fall on wall street", "shares and stocks rally", "bank stocks slide",
    ...          "striker scores in cup final", "coach praises the striker", "cup final goes to penalties"]
    >>> rows = np.repeat(np.eye(2, 8), 3, axis=0) + 0.05 * np.random.default_rng(0).normal(size=(6, 8))
    >>> rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    >>> model = PseudoLabelClusterer(2, rounds=2, n_init=3, neighbors=3).fit(texts, embeddings=rows)
    >>> len(set(model.labels_[:3])), len(set(model.labels_[3:])), bool(model.labels_[0] != model.labels_[3])
    (1, 1, True)
    """

    input_kind = "texts"  # the tf-idf view needs them; the MiniLM view comes from the embedding cache
    space_metric = "cosine"

    def __init__(
        self,
        n_clusters: int = 4,
        *,
        lexical_weight: float = 0.7,
        lexical_dims: int = 128,
        rounds: int = 8,
        confident_fraction: float = 0.7,
        balance: float | str = "auto",
        C: float = 1.0,
        neighbors: int = 10,
        neighbor_search: str = "auto",
        smoothing: float = 0.5,
        tol: float = 1e-3,
        select: str | None = "cross_view",
        n_init: int = 30,
        init_sample: int | None = 5000,
        embedding_model: str = "all-MiniLM-L6-v2",
        random_state=0,
    ):
        self.n_clusters = n_clusters
        self.lexical_weight = lexical_weight
        self.lexical_dims = lexical_dims
        self.rounds = rounds
        self.confident_fraction = confident_fraction
        self.balance = balance
        self.C = C
        self.neighbors = neighbors
        self.neighbor_search = neighbor_search
        self.smoothing = smoothing
        self.tol = tol
        self.select = select
        self.n_init = n_init
        self.init_sample = init_sample
        self.embedding_model = embedding_model
        self.random_state = random_state

    def fit(self, X, y=None, *, embeddings=None, callback: Callback | None = None):
        """Cluster the texts ``X``; ``y`` is ignored.

        ``callback(round, logs)`` runs after every round with ``stage="cluster"``, the round's
        ``labels`` and its ``changed``, ``core``, ``largest`` and ``balance``; returning ``True``
        stops that run of rounds. With ``balance="auto"`` the second run's rounds continue the
        count of the first's.
        """
        texts = check_texts(X)
        check_n_clusters(self.n_clusters, len(texts))
        self._check_params()
        seed = seed_of(self.random_state)
        emb = self._embeddings(texts, embeddings)
        self.n_features_in_ = emb.shape[1]
        self.vectorizer_ = TfidfVectorizer(min_df=2, stop_words="english", sublinear_tf=True)
        try:
            tfidf = self.vectorizer_.fit_transform(texts)
        except ValueError:  # tiny corpora: no word in two documents
            self.vectorizer_ = TfidfVectorizer(min_df=1, sublinear_tf=True)
            tfidf = self.vectorizer_.fit_transform(texts)
        dims = min(self.lexical_dims, tfidf.shape[1] - 1, len(texts) - 1)
        self.svd_ = TruncatedSVD(max(dims, 1), random_state=seed).fit(tfidf) if dims >= 1 else None
        F = self._features(emb, tfidf)

        self.kmeans_ = self._kmeans(F, seed)
        P = self._kmeans_posterior(F)
        labels = self.kmeans_.labels_
        graph = None
        if self.rounds > 0 and self.neighbors > 1 and self.smoothing > 0:  # smoothing is on
            neighbours = NeighbourIndex(self.neighbors, algorithm=self.neighbor_search, random_state=seed).fit(emb)
            graph = neighbours.kneighbors(emb)  # each text's first is itself
        score = self._choice_score(emb, F, tfidf, seed)
        auto = self.balance == "auto"
        balances = (AUTO_BALANCES if self.rounds > 0 else AUTO_BALANCES[:1]) if auto else (float(self.balance),)
        runs, step = [], 0
        for balance in balances:
            runs.append(self._rounds(F, P, labels, graph, balance, callback, first_step=step))
            step += runs[-1]["n_iter"]
        self.balance_scores_ = {run["balance"]: score(run["labels"]) for run in runs} if len(runs) > 1 else {}
        best = max(runs, key=lambda run: self.balance_scores_.get(run["balance"], 0.0))  # ties: the first
        self.rounds_labels_, self.balance_ = best["labels"], best["balance"]
        self.classifier_, self.train_proba_, self.n_iter_, self.history_ = (
            best["classifier"], best["train_proba"], best["n_iter"], best["history"])
        self.neighbors_ = neighbours if graph is not None else None
        self.use_rounds_, self.selection_ = self.classifier_ is not None, {}
        if self.use_rounds_ and self.select is not None:
            self.selection_ = {"kmeans": score(self.kmeans_.labels_),
                               "rounds": self.balance_scores_[self.balance_] if self.balance_scores_
                               else score(self.rounds_labels_)}
            self.use_rounds_ = not self.selection_["rounds"] < self.selection_["kmeans"]
        if not self.use_rounds_:  # k-means' partition answers: nothing to smooth with
            self.neighbors_ = self.train_proba_ = None
        self.labels_ = self.rounds_labels_ if self.use_rounds_ else np.asarray(self.kmeans_.labels_)
        return self

    def transform(self, X, *, embeddings=None) -> np.ndarray:
        """The two-view features (n, d + lexical_dims) of the texts ``X``: the space the clusters live in."""
        check_is_fitted(self)
        texts = check_texts(X)
        emb = self._embeddings(texts, embeddings)
        if emb.shape[1] != self.n_features_in_:
            raise ValueError(f"embeddings have {emb.shape[1]} features, but the model was fitted on {self.n_features_in_}")
        return self._features(emb, self.vectorizer_.transform(texts))

    def predict_proba(self, X, *, embeddings=None) -> np.ndarray:
        """Posterior (n, n_clusters): the last round's classifier, or k-means' softmax when its partition was kept."""
        check_is_fitted(self)
        texts = check_texts(X)
        emb = self._embeddings(texts, embeddings)
        F = self.transform(texts, embeddings=emb)
        if not self.use_rounds_:
            return self._kmeans_posterior(F)
        P = self._classifier_posterior(self.classifier_, F)
        if self.neighbors_ is None:
            return P
        # the same step as in fit, where a training text's nearest neighbour is itself
        nearest = self.neighbors_.kneighbors(emb)
        return self._smooth(P, self.train_proba_[nearest]).astype(np.float64)

    def predict(self, X, *, embeddings=None) -> np.ndarray:
        """Cluster (n,) of each text in ``X``."""
        return self.predict_proba(X, embeddings=embeddings).argmax(axis=1)

    def n_trainable_parameters(self) -> int:
        """The last round's classifier's weights and biases (0 when the k-means partition was kept)."""
        check_is_fitted(self)
        if not self.use_rounds_:
            return 0
        return int(self.classifier_.coef_.size + self.classifier_.intercept_.size)

    def _rounds(self, F, P, labels, graph, balance: float, callback: Callback | None, *, first_step: int) -> dict:
        """Rounds of transport, core classifier and smoothing from posterior ``P`` and partition ``labels``."""
        run = {"balance": balance, "classifier": None, "train_proba": None, "n_iter": 0,
               "history": {"changed": [], "core": [], "largest": []}}
        for round_ in range(self.rounds):
            target = size_prior(np.bincount(labels, minlength=self.n_clusters), balance)
            pseudo, core = confident_core(sinkhorn(P, target), self.confident_fraction)
            if len(np.unique(pseudo[core])) < 2:
                break
            clf = self._fit_classifier(F[core], pseudo[core], run["classifier"])
            P = self._classifier_posterior(clf, F)
            if graph is not None:
                run["train_proba"] = P.astype(np.float32)
                P = self._smooth(P, run["train_proba"][graph])
            new = P.argmax(axis=1)
            changed = float(np.mean(new != labels))
            labels, run["classifier"], run["n_iter"] = new, clf, round_ + 1
            logs = {"changed": changed, "core": int(core.sum()),
                    "largest": float(np.bincount(labels).max() / len(labels))}
            for key, value in logs.items():
                run["history"][key].append(value)
            logs |= {"stage": "cluster", "labels": labels, "balance": balance}
            if callback is not None and callback(first_step + round_, logs) is True:
                break
            if changed < self.tol:
                break
        run["labels"] = np.asarray(labels)
        return run

    def _choice_score(self, emb: np.ndarray, F: np.ndarray, tfidf, seed: int) -> Callable[[np.ndarray], float]:
        """The label-free score of a partition that ``balance="auto"`` and the guard maximise (see ``select``).

        ``"cross_view"`` (also ``"auto"``'s score when ``select=None``): neighbour agreement and
        linear predictability in the Sentence-BERT view and the unweighted lexical view, each
        relative to that of k-means on the two-view features with as many clusters as the
        partition uses (the k-means start itself when it uses all), averaged, times ``coverage``:
        ``clustering.selection.CrossViewScore`` with that reference. Against a reference of
        the same granularity a partition does not score higher for merging topics, which both
        measures otherwise reward. ``"silhouette"``: the cosine silhouette in the Sentence-BERT
        space. Both on a seeded sample of 5,000 texts; computed lazily, so a fit that chooses
        nothing scores nothing.
        """
        from clustering import selection
        from clustering.measures import CHOICE_MEASURES
        from clustering.metrics import silhouette

        if self.select == "silhouette":
            return lambda labels: silhouette(emb, labels, sample_size=5000, random_state=seed)
        views = {"sbert": emb}
        if self.svd_ is not None:
            views["lexical"] = normalize(self.svd_.transform(tfidf)).astype(np.float32)
        partitions: dict[int, np.ndarray] = {}

        def reference(view: str, rows: np.ndarray, used: int) -> np.ndarray:
            """k-means on the two-view features ``F`` (every view judged against the same partition)."""
            if used not in partitions:
                partitions[used] = self.kmeans_.labels_ if used == self.n_clusters else (
                    KMeans(used, n_init=3, random_state=seed).fit_predict(F))
            return partitions[used]

        scorer = selection.CrossViewScore(self.n_clusters, measures=CHOICE_MEASURES, reference=reference,
                                          random_state=seed).fit_views(views, lazy=True)
        return scorer.score

    def _fit_classifier(self, F: np.ndarray, y: np.ndarray, previous: LogisticRegression | None) -> LogisticRegression:
        """The round's logistic regression, started from the previous round's weights when it saw the same clusters
        (the loss is convex: the start moves the answer within tolerance, and L-BFGS takes far fewer steps)."""
        clf = LogisticRegression(C=self.C, max_iter=300, warm_start=previous is not None)
        if previous is not None and np.array_equal(previous.classes_, np.unique(y)):
            clf.coef_, clf.intercept_ = previous.coef_.copy(), previous.intercept_.copy()
        return clf.fit(F, y)

    def _smooth(self, P: np.ndarray, neighbour_P: np.ndarray) -> np.ndarray:
        """``(1 - smoothing) P + smoothing`` times the mean of ``neighbour_P`` (n, K, k) over the K neighbours."""
        return (1.0 - self.smoothing) * P + self.smoothing * neighbour_P.mean(axis=1)

    def _classifier_posterior(self, clf: LogisticRegression, F: np.ndarray) -> np.ndarray:
        """``clf.predict_proba`` (n, n_clusters), 1e-12 in the columns of clusters it never saw."""
        P = np.full((len(F), self.n_clusters), 1e-12)
        P[:, clf.classes_] = clf.predict_proba(F)
        return P

    def _kmeans_posterior(self, F: np.ndarray) -> np.ndarray:
        """Softmax of minus the squared distances to the k-means centres, at ``_INIT_TEMPERATURE``."""
        C = self.kmeans_.cluster_centers_.astype(F.dtype)
        # |f - c|^2 as |f|^2 - 2 f.c + |c|^2: one matrix product, no (n, k, d) array
        dist2 = np.einsum("ij,ij->i", F, F)[:, None] - 2.0 * (F @ C.T) + np.einsum("ij,ij->i", C, C)[None]
        return softmax(-np.maximum(dist2, 0.0).astype(np.float64) / _INIT_TEMPERATURE)

    def _kmeans(self, F: np.ndarray, seed: int) -> KMeans:
        sample = np.arange(len(F))
        if self.init_sample is not None and len(F) > max(self.init_sample, self.n_clusters):
            sample = np.random.default_rng(seed).choice(len(F), self.init_sample, replace=False)
        # float64 restarts: scikit-learn's k-means++ seeding upcasts float32 rows chunk by chunk, slower
        # at many clusters (python -m benchmarks.pseudolabel_speed); the refinement stays float32
        restarts = KMeans(self.n_clusters, n_init=self.n_init, random_state=seed).fit(F[sample].astype(np.float64))
        centres = restarts.cluster_centers_.astype(F.dtype)
        return KMeans(self.n_clusters, init=centres, n_init=1, random_state=seed).fit(F)

    def _embeddings(self, texts, embeddings) -> np.ndarray:
        if embeddings is None:
            from clustering.embed import embed_texts
            return embed_texts(texts, model=self.embedding_model, show_progress=False)
        emb = check_embeddings(embeddings, name="embeddings")
        if len(emb) != len(texts):
            raise ValueError(f"embeddings has {len(emb)} rows but there are {len(texts)} texts")
        return emb

    def _features(self, emb: np.ndarray, tfidf) -> np.ndarray:
        if self.lexical_weight == 0 or self.svd_ is None:
            return np.ascontiguousarray(emb, dtype=np.float32)
        lexical = normalize(self.svd_.transform(tfidf)) * self.lexical_weight
        return np.hstack([emb, lexical]).astype(np.float32)

    def _check_params(self):
        checks = {
            "lexical_weight": self.lexical_weight >= 0,
            "lexical_dims": isinstance(self.lexical_dims, (int, np.integer)) and self.lexical_dims >= 1,
            "rounds": isinstance(self.rounds, (int, np.integer)) and self.rounds >= 0,
            "confident_fraction": 0 < self.confident_fraction <= 1,
            "balance": self.balance == "auto" or (not isinstance(self.balance, str) and 0 <= self.balance <= 1),
            "C": self.C > 0,
            "neighbors": isinstance(self.neighbors, (int, np.integer)) and self.neighbors >= 0,
            "neighbor_search": self.neighbor_search in ALGORITHMS,
            "smoothing": 0 <= self.smoothing < 1,
            "tol": self.tol >= 0,
            "init_sample": self.init_sample is None or self.init_sample >= 1,
            "select": self.select in (None, "cross_view", "silhouette"),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid value for {bad[0]}: {getattr(self, bad[0])!r}")
