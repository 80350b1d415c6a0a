"""NeighbourIndex: exact search as scikit-learn's, the approximate index against it, pickling, recall."""

import pickle

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from clustering import neighbours
from clustering.neighbours import NeighbourIndex, recall_at_k


def _topics(n=4000, d=32, k=12, seed=0):
    """Unit rows around ``k`` directions: neighbourhoods an index has to find, as sentence embeddings have."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    X = centres[rng.integers(0, k, n)] + 0.6 * rng.normal(size=(n, d))
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def test_exact_search_is_scikit_learns():
    X = _topics(500)
    brute = NearestNeighbors(n_neighbors=6, metric="cosine", algorithm="brute").fit(X)
    index = NeighbourIndex(5, algorithm="exact").fit(X)
    assert index.algorithm_ == "exact"
    assert np.array_equal(index.kneighbors(), brute.kneighbors(n_neighbors=5, return_distance=False))
    assert np.array_equal(index.kneighbors(X[:50]), brute.kneighbors(X[:50], n_neighbors=5, return_distance=False))


def test_approximate_search_finds_most_neighbours_and_all_when_it_visits_every_cell():
    X = _topics()
    index = NeighbourIndex(10, algorithm="approximate", n_probe=8).fit(X)
    assert index.algorithm_ == "approximate"
    found = index.kneighbors()
    assert found.shape == (len(X), 10) and found.dtype == np.int64
    assert not (found == np.arange(len(X))[:, None]).any()  # a row is never its own neighbour
    assert 0.8 < recall_at_k(X, found) < 1.0
    index.n_probe = index._index.nlist  # every cell: an exhaustive search
    assert recall_at_k(X, index.kneighbors()) == 1.0
    queries = index.kneighbors(X[:100])  # a fitted row is its own nearest
    assert np.array_equal(queries[:, 0], np.arange(100))


def test_auto_is_exact_up_to_the_bound_and_approximate_past_it(monkeypatch):
    X = _topics(1000)
    assert NeighbourIndex(algorithm="auto").fit(X).algorithm_ == "exact"
    monkeypatch.setattr(neighbours, "EXACT_MAX", 999)
    assert NeighbourIndex(algorithm="auto").fit(X).algorithm_ == "approximate"


def test_an_approximate_index_pickles_and_answers_the_same():
    X = _topics(2000)
    index = NeighbourIndex(5, algorithm="approximate").fit(X)
    again = pickle.loads(pickle.dumps(index))
    assert np.array_equal(again.kneighbors(X[:300]), index.kneighbors(X[:300]))
    assert np.array_equal(again.kneighbors(), index.kneighbors())


def test_fewer_rows_than_neighbours_and_bad_settings():
    X = _topics(4)
    assert NeighbourIndex(10).fit(X).kneighbors().shape == (4, 3)
    assert NeighbourIndex(10).fit(X).kneighbors(X).shape == (4, 4)
    with pytest.raises(ValueError, match="algorithm must be one of auto, exact, approximate"):
        NeighbourIndex(algorithm="hnsw").fit(X)
    with pytest.raises(ValueError, match="n_neighbors must be at least 1"):
        NeighbourIndex(0).fit(X)


def test_recall_counts_ties_as_found():
    X = np.array([[1, 0], [1, 0], [1, 0], [0, 1]], dtype=np.float32)  # rows 0-2 are one point
    assert recall_at_k(X, np.array([[2], [2], [0], [0]])) == 1.0  # any copy is a nearest
    assert recall_at_k(X, np.array([[3], [2], [0], [0]]), queries=None) == 0.75
    assert recall_at_k(X, np.array([[1]]), queries=np.array([0])) == 1.0


def test_the_pseudo_labeller_with_an_approximate_index_agrees_with_exact(ag_news_small, ag_news_small_embeddings):
    from sklearn.metrics import adjusted_rand_score

    from clustering.pseudolabel import PseudoLabelClusterer

    texts, emb = ag_news_small.texts, ag_news_small_embeddings
    exact = PseudoLabelClusterer(4, n_init=3, neighbor_search="exact").fit(texts, embeddings=emb)
    approx = PseudoLabelClusterer(4, n_init=3, neighbor_search="approximate").fit(texts, embeddings=emb)
    assert approx.use_rounds_ and approx.neighbors_.algorithm_ == "approximate"
    assert adjusted_rand_score(exact.labels_, approx.labels_) > 0.9
    again = pickle.loads(pickle.dumps(approx))
    assert np.array_equal(again.predict(texts[:40], embeddings=emb[:40]), approx.labels_[:40])
    with pytest.raises(ValueError, match="invalid value for neighbor_search"):
        PseudoLabelClusterer(4, neighbor_search="hnsw").fit(texts, embeddings=emb)
