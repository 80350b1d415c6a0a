"""Label-free scores that compare partitions made in different spaces.

These scores judge every partition in the same fixed *views* of the texts and pool the views
(``CrossViewScore``); ``docs/selection.md`` says why and how this was chosen.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from clustering._utils import check_texts, seed_of
from clustering.measures import MEASURES, coverage, neighbour_graph, view_score

def lexical_view(texts, *, dims: int = 128, random_state=0) -> np.ndarray:
    """The L2-normalised LSA projection (n, <= dims) of the texts' tf-idf vectors.

    Parameters
    ----------
    texts : sequence of str
        The corpus.
    dims : int, default=128
        Components of the truncated SVD (fewer when the vocabulary or corpus is smaller).
    random_state : int, RandomState or None, default=0
        Seed of the randomised SVD.

    Returns
    -------
    ndarray of shape (n_texts, n_components), float32
        Unit rows (an all-zero tf-idf row stays zero).

    Raises
    ------
    ValueError
        When no text has a word (two letters or more).

    See Also
    --------
    CrossViewScore : Uses this as the lexical view.

    Notes
    -----
    Latent semantic analysis (Deerwester et al., "Indexing by latent semantic analysis",
    JASIS 1990) of sublinear tf-idf vectors, without English stop words and with terms in
    at least two texts (every term, stop words included, for corpora too small for that).

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.selection import lexical_view
    >>> texts = ["cats purr", "cats meow", "cats nap", "stocks fall", "stocks rise", "stocks fall again"]
    >>> Z = lexical_view(texts, dims=2)
    >>> Z.shape, bool(np.allclose(np.linalg.norm(Z, axis=1), 1.0))
    ((6, 2), True)
    """
    texts = check_texts(texts)
    try:
        tfidf = TfidfVectorizer(min_df=2, stop_words="english", sublinear_tf=True).fit_transform(texts)
    except ValueError:  # tiny corpora: no word in two documents
        try:
            tfidf = TfidfVectorizer(min_df=1, sublinear_tf=True).fit_transform(texts)
        except ValueError:
            raise ValueError("the texts have no words to build a lexical view from (punctuation or "
                             "one-letter tokens only)") from None
    n_components = max(1, min(dims, tfidf.shape[1] - 1, len(texts) - 1))
    lsa = TruncatedSVD(n_components, random_state=seed_of(random_state)).fit_transform(tfidf)
    return normalize(lsa).astype(np.float32)


class CrossViewScore:
    """Score partitions in fixed views of the texts, each measure relative to k-means' own, averaged.

    The views are the texts' Sentence-BERT embeddings and the LSA projection of their tf-idf
    vectors (``lexical_view``). In each view, each measure of a partition (``measures``) is
    divided by that of k-means *in that view* with as many clusters as the partition uses
    (``n_clusters`` unless it leaves some empty), and all the ratios are averaged. A
    partition made in one view scores about 1 there and is judged in the other, so no view's
    own k-means wins by construction. A view whose k-means scores no better than chance on a
    measure shows no cluster structure by it, and that ratio is left out. The mean is
    multiplied by ``coverage``, so a partition that leaves most clusters empty does not win
    by being coarse.

    Parameters
    ----------
    n_clusters : int
        The number of clusters asked for: that of the reference k-means in each view, for a
        partition that uses them all.
    measures : tuple of str, default=MEASURES
        Names from ``MEASURES`` (see ``view_score``): the cosine silhouette, the chance-corrected
        neighbour agreement and the cross-fitted linear predictability.
    lexical_dims : int, default=128
        Components of the lexical view.
    sample_size : int or None, default=5000
        Rows of the seeded sample every measure is computed on (None: all).
    n_init : int, default=10
        Restarts of each reference k-means.
    reference : callable or None, default=None
        ``reference(view, rows, n_clusters) -> labels``: the partition a view's measures are
        divided by, for a partition that uses ``n_clusters`` clusters (``view`` is its name,
        ``rows`` its rows). None: k-means with ``n_init`` restarts in that view.
    random_state : int, RandomState or None, default=0
        Seed of the SVD, the reference k-means and the samples.

    Attributes
    ----------
    views_ : dict of str to ndarray
        ``{"sbert": embeddings, "lexical": lexical view}`` (no lexical view without texts), rows
        aligned with the texts.
    reference_ : dict of (str, str) to float
        Each ``(measure, view)``'s value for k-means with ``n_clusters`` clusters in that view.
    references_ : dict of int to dict
        The same for every number of clusters a scored partition used (fitted when first needed).

    See Also
    --------
    lexical_view, neighbour_agreement, predictability, coverage

    Notes
    -----
    Wang and Ye (2024), "Deep clustering evaluation: how to validate internal clustering
    validation measures" (arXiv:2403.14830), show that scoring each partition in the space it
    was made in misranks partitions made in different spaces, and that scoring every candidate
    in common spaces and pooling ranks better. Here the common spaces are two views of the
    texts (the co-training premise of Blum and Mitchell, 1998: each view alone tells the
    topics apart), and pooling several imperfect measures follows Goswami et al. (ICLR 2023).
    ``docs/selection.md`` says how this was chosen, and ``benchmarks/criteria.py`` measures it.

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.selection import CrossViewScore
    >>> texts = ["cats purr", "cats meow", "a cat naps", "stocks fall", "stocks rise", "markets fall"]
    >>> X = np.array([[1, 0.1], [1, 0.2], [0.9, 0.1], [0.1, 1], [0.2, 1], [0.1, 0.9]])
    >>> scorer = CrossViewScore(2).fit(X / np.linalg.norm(X, axis=1, keepdims=True), texts)
    >>> scorer.score([0, 0, 0, 1, 1, 1]) > scorer.score([0, 1, 0, 1, 0, 1])
    True
    """

    def __init__(self, n_clusters: int, *, measures: tuple = MEASURES, lexical_dims: int = 128,
                 sample_size: int | None = 5000, n_init: int = 10, reference=None, random_state=0):
        self.n_clusters = n_clusters
        self.measures = measures
        self.lexical_dims = lexical_dims
        self.sample_size = sample_size
        self.n_init = n_init
        self.reference = reference
        self.random_state = random_state

    def fit(self, embeddings, texts=None):
        """Build the views of ``texts`` (with their ``embeddings``) and k-means' value of each measure in each.

        Without ``texts``, or texts without words, the embeddings are the one view.

        Parameters
        ----------
        embeddings : array-like of shape (n_texts, n_features)
            The texts' Sentence-BERT embeddings: the ``"sbert"`` view.
        texts : sequence of str or None, default=None
            The texts, for the ``"lexical"`` view.

        Returns
        -------
        self : CrossViewScore
            The fitted scorer.

        Raises
        ------
        ValueError
            When ``texts`` does not have one text per row of ``embeddings``, ``measures``
            names an unknown measure, or ``n_clusters`` does not fit the number of texts.
        """
        from clustering._utils import check_embeddings

        emb = check_embeddings(embeddings, name="embeddings")
        views = {"sbert": emb}
        if texts is not None:
            texts = check_texts(texts)
            if len(texts) != len(emb):
                raise ValueError(f"embeddings has {len(emb)} rows but there are {len(texts)} texts")
            try:
                views["lexical"] = lexical_view(texts, dims=self.lexical_dims, random_state=seed_of(self.random_state))
            except ValueError:  # no words: the embeddings stay the one view
                pass
        return self.fit_views(views)

    def fit_views(self, views: dict, *, lazy: bool = False):
        """Use ``views`` (name -> rows, aligned) as they are, e.g. a method's own lexical view.

        Parameters
        ----------
        views : dict of str to ndarray
            The views by name, rows aligned; ``scores`` needs one named ``"sbert"``.
        lazy : bool, default=False
            Fit the references when a partition is first scored, not now (``reference_``
            is then absent until one is).

        Returns
        -------
        self : CrossViewScore
            The fitted scorer.

        Raises
        ------
        ValueError
            When ``measures`` names an unknown measure, or ``n_clusters`` does not fit the
            number of rows.
        """
        from clustering._utils import check_n_clusters

        unknown = [m for m in self.measures if m not in MEASURES]
        if unknown or not self.measures:
            raise ValueError(f"measures must be names from {', '.join(MEASURES)}; got {self.measures!r}")
        self.views_ = dict(views)
        check_n_clusters(self.n_clusters, len(next(iter(self.views_.values()))))
        self.references_, self._graphs = {}, {}
        if not lazy:
            self.reference_ = self._reference(self.n_clusters)
        return self

    def _graph(self, view: str, sample_size: int | None):
        """The view's ``neighbour_graph`` on the seeded sample of ``sample_size`` rows, built once."""
        if (view, sample_size) not in self._graphs:
            self._graphs[view, sample_size] = neighbour_graph(self.views_[view], sample_size=sample_size,
                                                              random_state=seed_of(self.random_state))
        return self._graphs[view, sample_size]

    def _reference(self, n_clusters: int) -> dict:
        """Each ``(measure, view)``'s value for k-means with ``n_clusters`` clusters in that view (cached)."""
        from sklearn.cluster import KMeans

        if n_clusters not in self.references_:
            seed = seed_of(self.random_state)
            values = {}
            for view, Z in self.views_.items():
                labels = (KMeans(n_clusters, n_init=self.n_init, random_state=seed).fit_predict(Z)
                          if self.reference is None else np.asarray(self.reference(view, Z, n_clusters)))
                for measure in self.measures:
                    values[measure, view] = view_score(measure, Z, labels, sample_size=self.sample_size,
                                                       random_state=seed, graph=self._graph(view, self.sample_size))
            self.references_[n_clusters] = values
        return self.references_[n_clusters]

    def scores(self, labels, *, sample_size: int | None = None, measures=None) -> dict[str, float]:
        """``"<measure> in <view>"``: the measure of ``labels`` over k-means' there, with as many clusters.

        Parameters
        ----------
        labels : array-like of shape (n_texts,)
            The partition of the fitted texts.
        sample_size : int or None, default=None
            Overrides the sample (None: the scorer's ``sample_size``).
        measures : iterable of str or None, default=None
            A subset of the fitted measures (e.g. the cheap ones, for a score after every
            epoch); None: all of them.

        Returns
        -------
        scores : dict of str to float
            The ratio of each ``(measure, view)`` whose reference is positive. A partition of
            one cluster has no scores (an empty dict).

        Raises
        ------
        ValueError
            When ``labels`` does not have one entry per fitted text.
        """
        labels = np.asarray(labels)
        n = len(self.views_["sbert"])
        if len(labels) != n:
            raise ValueError(f"labels has {len(labels)} entries but the scorer was fitted on {n} texts")
        used = len(np.unique(labels))
        if used < 2:
            return {}
        seed = seed_of(self.random_state)
        wanted = self.measures if measures is None else measures
        sample_size = sample_size or self.sample_size
        return {f"{measure} in {view}": view_score(measure, self.views_[view], labels, sample_size=sample_size,
                                                   random_state=seed, graph=self._graph(view, sample_size)) / ref
                for (measure, view), ref in self._reference(used).items() if ref > 0 and measure in wanted}

    def score(self, labels, *, sample_size: int | None = None, measures=None) -> float:
        """The mean of ``scores`` times ``coverage``: the partition's cross-view score, higher is better.

        1 for a partition that does as well as k-means in every view, by every measure, and
        uses at least half of ``n_clusters``.

        Parameters
        ----------
        labels : array-like of shape (n_texts,)
            The partition of the fitted texts.
        sample_size : int or None, default=None
            Overrides the sample (None: the scorer's ``sample_size``).
        measures : iterable of str or None, default=None
            A subset of the fitted measures; None: all of them.

        Returns
        -------
        score : float
            NaN for a partition without scores (one cluster, or no positive reference).
        """
        scores = self.scores(labels, sample_size=sample_size, measures=measures)
        if not scores:
            return float("nan")
        return float(np.mean(list(scores.values()))) * coverage(labels, self.n_clusters)
