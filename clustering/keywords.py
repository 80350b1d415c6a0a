"""The terms that describe each cluster, by class-based TF-IDF (c-TF-IDF).

c-TF-IDF (Grootendorst 2022, "BERTopic: Neural topic modeling with a class-based TF-IDF
procedure", eq. 1) treats all documents of a cluster as one document and weights term
``t`` in class ``c`` by

    W[t, c] = tf[t, c] * log(1 + A / f[t])

where ``tf[t, c]`` is the frequency of ``t`` in class ``c`` divided by the number of words
in ``c``, ``f[t]`` the frequency of ``t`` across all classes, and ``A`` the average number of
words per class. Terms frequent in one cluster and rare elsewhere score highest.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer


def class_tfidf(counts) -> np.ndarray:
    """c-TF-IDF weights (n_classes, n_terms) from term counts per class (n_classes, n_terms).

    ``counts`` may be dense or scipy sparse. Classes without any words get all-zero rows and
    terms that never occur get weight 0, instead of a division by zero.
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

    ``texts`` is a sequence of n_samples strings, ``labels`` (n_samples,) their cluster ids.
    Returns ``{cluster: [(term, score), ...]}`` for every cluster present, best term first
    (ties alphabetical), keeping only terms with a positive score; a cluster whose documents
    have no usable terms (empty, or only stop words) gets an empty list.
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

    Columns: ``cluster``, ``rank`` (1 = best), ``term``, ``score``; one row per kept term.
    Keyword arguments are those of ``cluster_keywords``.
    """
    import pandas as pd

    rows = [
        {"cluster": cluster, "rank": rank, "term": term, "score": score}
        for cluster, terms in cluster_keywords(texts, labels, **kwargs).items()
        for rank, (term, score) in enumerate(terms, start=1)
    ]
    return pd.DataFrame(rows, columns=["cluster", "rank", "term", "score"])
