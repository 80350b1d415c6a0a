"""The terms that describe each cluster, by class-based TF-IDF (c-TF-IDF).

``class_tfidf`` holds the weighting (Grootendorst 2022, eq. 1); ``cluster_keywords`` and
``keywords_table`` give each cluster's best terms. ``docs/library.md`` describes the method.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer


def class_tfidf(counts) -> np.ndarray:
    """c-TF-IDF weights (n_classes, n_terms) from term counts per class (n_classes, n_terms).

    All documents of a class count as one document. Terms frequent in one class and rare
    elsewhere score highest.

    Parameters
    ----------
    counts : {array-like, sparse matrix} of shape (n_classes, n_terms)
        How often each term occurs in each class; dense or scipy sparse.

    Returns
    -------
    weights : ndarray of shape (n_classes, n_terms), float64
        The c-TF-IDF weights. Classes without any words get all-zero rows and terms that
        never occur get weight 0, instead of a division by zero.

    See Also
    --------
    cluster_keywords : The best terms of each cluster of a corpus by these weights.

    Notes
    -----
    Grootendorst, "BERTopic: Neural topic modeling with a class-based TF-IDF procedure",
    arXiv:2203.05794, 2022, eq. 1. Term ``t`` in class ``c`` weighs

        W[t, c] = tf[t, c] * log(1 + A / f[t])

    where ``tf[t, c]`` is the frequency of ``t`` in class ``c`` divided by the number of words
    in ``c``, ``f[t]`` the frequency of ``t`` across all classes, and ``A`` the average number
    of words per class.

    Examples
    --------
    Term 0 occurs only in class 0, term 1 in both; ``A = 2`` and ``f = [2, 2]``, so both
    terms have ``idf = log(2)``, and ``tf`` is ``[2/3, 1/3]`` in class 0 and ``[0, 1]`` in
    class 1.

    >>> import numpy as np
    >>> from clustering.keywords import class_tfidf
    >>> np.round(class_tfidf([[2, 1], [0, 1]]), 3).tolist()
    [[0.462, 0.231], [0.0, 0.693]]
    """
    counts = counts.toarray() if sp.issparse(counts) else np.asarray(counts)
    counts = counts.astype(np.float64)
    words_per_class = counts.sum(axis=1, keepdims=True)
    term_freq = counts.sum(axis=0)
    avg_words = words_per_class.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        tf = np.where(words_per_class > 0, counts / words_per_class, 0.0)
        idf = np.where(term_freq > 0, np.log1p(avg_words / term_freq), 0.0)
    return tf * idf


def cluster_keywords(
    texts,
    labels,
    *,
    top_n: int = 10,
    max_features: int | None = 20000,
    stop_words: str | list[str] | None = "english",
    ngram_range: tuple[int, int] = (1, 1),
) -> dict[int, list[tuple[str, float]]]:
    """Top ``top_n`` c-TF-IDF terms of every cluster in ``labels``.

    The documents are counted by a ``CountVectorizer``; the counts of a cluster are the sums
    of its documents' rows, so no n-gram spans two documents.

    Parameters
    ----------
    texts : sequence of str
        The n_samples documents (not a single string).
    labels : array-like of shape (n_samples,)
        The cluster id of each document.
    top_n : int, default=10
        The number of terms kept per cluster (a positive integer).
    max_features : int or None, default=20000
        Vocabulary size, as ``CountVectorizer`` takes it (None: all terms).
    stop_words : str, list of str or None, default="english"
        Words left out, as ``CountVectorizer`` takes them.
    ngram_range : tuple of (int, int), default=(1, 1)
        The lengths of the n-grams counted, as ``CountVectorizer`` takes them.

    Returns
    -------
    keywords : dict of int to list of (str, float)
        ``{cluster: [(term, score), ...]}`` for every cluster present, best term first
        (ties alphabetical), keeping only terms with a positive score; a cluster whose documents
        have no usable terms (empty, or only stop words) gets an empty list.

    Raises
    ------
    ValueError
        When ``texts`` is a single string, ``labels`` does not have one entry per text, or
        ``top_n`` is not a positive integer.

    See Also
    --------
    class_tfidf : The weighting.
    keywords_table : The same terms as a DataFrame.

    Notes
    -----
    c-TF-IDF: Grootendorst, "BERTopic: Neural topic modeling with a class-based TF-IDF
    procedure", arXiv:2203.05794, 2022, eq. 1.

    Examples
    --------
    Each cluster has 4 words, of which "cats" (or "stocks") are 2 and occur nowhere else:
    ``tf = 2/4`` and ``idf = log(1 + 4/2)``. "meow" and "purr" tie, and "meow" comes first.

    >>> import math
    >>> from clustering.keywords import cluster_keywords
    >>> texts = ["cats purr", "cats meow", "stocks fall", "stocks rise"]
    >>> keywords = cluster_keywords(texts, [0, 0, 1, 1], top_n=2)
    >>> {cluster: [term for term, _ in terms] for cluster, terms in keywords.items()}
    {0: ['cats', 'meow'], 1: ['stocks', 'fall']}
    >>> math.isclose(keywords[0][0][1], 2 / 4 * math.log(1 + 4 / 2))
    True
    """
    if isinstance(texts, str):
        raise ValueError("texts must be a sequence of strings, not a single string")
    texts = list(texts)
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(texts):
        raise ValueError(f"labels must have shape ({len(texts)},) to match texts; got {labels.shape}")
    if not isinstance(top_n, (int, np.integer)) or top_n < 1:
        raise ValueError(f"top_n must be a positive integer; got {top_n!r}")
    clusters, inverse = np.unique(labels, return_inverse=True)
    result: dict[int, list[tuple[str, float]]] = {int(c): [] for c in clusters}
    if not texts:
        return result

    vectorizer = CountVectorizer(max_features=max_features, stop_words=stop_words, ngram_range=tuple(ngram_range))
    try:
        doc_counts = vectorizer.fit_transform(texts)
    except ValueError as err:
        if "empty vocabulary" in str(err):
            return result
        raise
    # Summing document rows per cluster gives the counts of the concatenated cluster
    # document without building it, and without n-grams that span two documents.
    membership = sp.csr_matrix(
        (np.ones(len(texts)), (inverse, np.arange(len(texts)))), shape=(len(clusters), len(texts))
    )
    weights = class_tfidf(membership @ doc_counts)
    terms = vectorizer.get_feature_names_out()
    for row, cluster in zip(weights, clusters):
        # Vocabulary is sorted alphabetically, so a stable sort breaks ties by term.
        order = np.argsort(-row, kind="stable")[:top_n]
        result[int(cluster)] = [(str(terms[j]), float(row[j])) for j in order if row[j] > 0]
    return result


def keywords_table(texts, labels, **kwargs):
    """``cluster_keywords`` as a long pandas DataFrame for CSV export.

    Parameters
    ----------
    texts : sequence of str
        The n_samples documents.
    labels : array-like of shape (n_samples,)
        The cluster id of each document.
    **kwargs
        Keyword arguments of ``cluster_keywords`` (``top_n``, ``max_features``,
        ``stop_words``, ``ngram_range``).

    Returns
    -------
    table : pandas.DataFrame
        Columns: ``cluster``, ``rank`` (1 = best), ``term``, ``score``; one row per kept term.

    See Also
    --------
    cluster_keywords : The same terms as a dict.

    Examples
    --------
    >>> from clustering.keywords import keywords_table
    >>> table = keywords_table(["cats purr", "cats meow", "stocks fall", "stocks rise"], [0, 0, 1, 1], top_n=1)
    >>> list(table.columns), table["term"].tolist()
    (['cluster', 'rank', 'term', 'score'], ['cats', 'stocks'])
    """
    import pandas as pd

    rows = [
        {"cluster": cluster, "rank": rank, "term": term, "score": score}
        for cluster, terms in cluster_keywords(texts, labels, **kwargs).items()
        for rank, (term, score) in enumerate(terms, start=1)
    ]
    return pd.DataFrame(rows, columns=["cluster", "rank", "term", "score"])
