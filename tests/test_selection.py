"""clustering/selection.py: label-free scores of partitions in fixed views of the texts."""

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from clustering.measures import MEASURES, coverage, neighbour_agreement, neighbour_graph, predictability, view_score
from clustering.selection import CrossViewScore, lexical_view


@pytest.fixture(scope="module")
def two_views():
    """Three topics, each with its own words; embeddings whose blobs are the same topics."""
    X, y = make_blobs(n_samples=150, n_features=16, centers=3, cluster_std=1.0, random_state=0)
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    vocab = [["goal", "match", "league", "coach"], ["stock", "market", "shares", "bank"],
             ["virus", "cell", "protein", "gene"]]
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(vocab[c], 3)) + f" item{i % 7}" for i, c in enumerate(y)]
    return X, texts, y


def test_lexical_view_has_unit_rows_and_at_most_dims_columns(two_views):
    _, texts, _ = two_views
    Z = lexical_view(texts, dims=5)
    assert Z.shape == (len(texts), 5) and Z.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-5)
    # fewer distinct words than dims: as many components as the vocabulary allows, never an error
    assert lexical_view(["red blue", "blue green", "green red"], dims=128).shape[0] == 3
    with pytest.raises(ValueError, match="no words"):
        lexical_view(["!!", "? ?", "a b"])


def test_neighbour_agreement_is_one_when_pure_and_zero_at_chance():
    X = np.repeat(np.eye(3), 20, axis=0) + 1e-3 * np.random.default_rng(0).normal(size=(60, 3))
    labels = np.repeat([0, 1, 2], 20)
    assert neighbour_agreement(X, labels, n_neighbors=5) == pytest.approx(1.0)
    shuffled = np.random.default_rng(1).permutation(labels)
    assert abs(neighbour_agreement(X, shuffled, n_neighbors=5)) < 0.15
    # relabelling the clusters changes nothing
    assert neighbour_agreement(X, (labels + 1) % 3, n_neighbors=5) == pytest.approx(1.0)


def test_predictability_is_high_for_a_linear_partition_and_near_zero_for_noise(two_views):
    X, _, y = two_views
    assert predictability(X, y) > 0.9
    assert abs(predictability(X, np.random.default_rng(0).integers(0, 3, len(y)))) < 0.1


def test_view_score_knows_every_measure_and_refuses_others(two_views):
    X, _, y = two_views
    for measure in MEASURES:
        assert np.isfinite(view_score(measure, X, y))
    with pytest.raises(ValueError, match="unknown measure 'vibes'"):
        view_score("vibes", X, y)


def test_kmeans_in_a_view_scores_about_one_there(two_views):
    X, texts, _ = two_views
    scorer = CrossViewScore(3).fit(X, texts)
    assert set(scorer.views_) == {"sbert", "lexical"}
    assert {view for _, view in scorer.reference_} == {"sbert", "lexical"}
    own = KMeans(3, n_init=10, random_state=0).fit_predict(X)
    scores = scorer.scores(own)
    assert set(scores) == {f"{m} in {v}" for m in MEASURES for v in ("sbert", "lexical")}
    assert all(scores[f"{m} in sbert"] == pytest.approx(1.0, abs=1e-6) for m in MEASURES)


def test_the_topics_beat_a_partition_that_only_one_view_supports(two_views):
    """A split the embeddings alone support (halves of every blob along one direction) loses to the topics,
    which both views support."""
    X, texts, y = two_views
    scorer = CrossViewScore(3).fit(X, texts)
    one_view = np.digitize(X[:, 0], np.quantile(X[:, 0], [1 / 3, 2 / 3]))
    assert scorer.score(y) > scorer.score(one_view)
    assert scorer.score(y) > scorer.score(np.random.default_rng(0).integers(0, 3, len(y)))


def test_a_merged_partition_is_judged_against_kmeans_with_as_many_clusters():
    """Four topics in two close pairs: merging each pair scores far above the topics against k-means
    with 4 clusters (coarse partitions are easier to agree with and to predict); against k-means with
    2, the reference of its own granularity, about half of that advantage goes."""
    rng = np.random.default_rng(0)
    centres = np.zeros((4, 8))
    centres[[0, 1], 0] = centres[[2, 3], 1] = 1.0
    centres[[0, 2], [2, 3]], centres[[1, 3], [2, 3]] = 0.3, -0.3
    y = np.repeat(np.arange(4), 60)
    X = centres[y] + 0.35 * rng.normal(size=(240, 8))
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    merged = y // 2
    measures = ("neighbours", "predictability")
    scorer = CrossViewScore(4, measures=measures).fit(X)
    against_four = lambda labels: np.mean([view_score(m, X, labels) / scorer.reference_[m, "sbert"]  # noqa: E731
                                           for m in measures])
    assert against_four(merged) - against_four(y) > 0.4
    assert scorer.score(y) == pytest.approx(against_four(y))
    assert scorer.score(merged) - scorer.score(y) < 0.6 * (against_four(merged) - against_four(y))
    assert set(scorer.references_) == {2, 4}  # the 2-cluster reference, fitted when first needed


def test_coverage_halves_a_partition_that_leaves_most_clusters_empty():
    assert coverage(np.arange(10) % 5, 10) == 1.0
    assert coverage(np.arange(10) % 4, 10) == pytest.approx(0.4)
    assert coverage(np.zeros(10), 10) == pytest.approx(0.1)
    X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    scorer = CrossViewScore(10, measures=("silhouette",)).fit(X / np.linalg.norm(X, axis=1, keepdims=True))
    four = KMeans(4, n_init=3, random_state=0).fit_predict(X)
    assert scorer.score(four) == pytest.approx(0.4 * np.mean(list(scorer.scores(four).values())))
    assert np.isnan(scorer.score(np.zeros(60, int)))  # one cluster: nothing to score


def test_a_prebuilt_neighbour_graph_gives_the_same_agreement(two_views):
    X, _, y = two_views
    graph = neighbour_graph(X, sample_size=100, random_state=3)
    assert len(graph[0]) == 100 and graph[1].shape == (100, 10)
    assert neighbour_agreement(X, y, graph=graph) == neighbour_agreement(X, y, sample_size=100, random_state=3)


def test_a_remembered_neighbour_graph_is_the_one_computed_afresh_and_a_copy(two_views, monkeypatch):
    from clustering import measures

    X, _, _ = two_views
    monkeypatch.setattr(measures, "_GRAPHS", {})
    rows, first = neighbour_graph(X, sample_size=100, random_state=3)
    first[:] = 0  # the caller's copy: the remembered graph is not touched
    again = neighbour_graph(X, sample_size=100, random_state=3)[1]
    monkeypatch.setattr(measures, "_GRAPHS", {})
    fresh = neighbour_graph(X, sample_size=100, random_state=3)[1]
    assert np.array_equal(again, fresh) and again.any()
    other = neighbour_graph(X, sample_size=100, random_state=4)  # another sample: another graph
    assert not np.array_equal(other[0], rows) and len(measures._GRAPHS) == 2


def test_a_given_reference_is_what_each_view_divides_by(two_views):
    X, texts, y = two_views
    seen = []

    def reference(view, rows, n_clusters):
        seen.append((view, len(rows), n_clusters))
        return y if n_clusters == len(np.unique(y)) else np.arange(len(y)) % n_clusters

    scorer = CrossViewScore(len(np.unique(y)), measures=("neighbours", "predictability"), reference=reference)
    scorer.fit_views({"sbert": X, "lexical": lexical_view(texts)}, lazy=True)
    assert not hasattr(scorer, "reference_") and not seen  # lazy: nothing fitted before a partition is scored
    assert scorer.score(y) == pytest.approx(1.0)  # the reference itself, in every view, by every measure
    assert sorted(seen) == [("lexical", len(y), len(np.unique(y))), ("sbert", len(y), len(np.unique(y)))]
    assert set(scorer.scores(y)) == {f"{m} in {v}" for m in ("neighbours", "predictability") for v in ("sbert", "lexical")}


def test_without_texts_the_embeddings_are_the_one_view(two_views):
    X, _, y = two_views
    scorer = CrossViewScore(3, measures=("silhouette",)).fit(X)
    assert list(scorer.views_) == ["sbert"] and list(scorer.scores(y)) == ["silhouette in sbert"]


def test_texts_without_words_leave_the_embeddings_as_the_one_view(two_views):
    X, _, y = two_views
    assert list(CrossViewScore(3).fit(X, ["!!"] * len(y)).views_) == ["sbert"]


def test_a_subset_of_measures_and_a_smaller_sample_on_request(two_views):
    X, texts, y = two_views
    scorer = CrossViewScore(3).fit(X, texts)
    quick = scorer.scores(y, measures=("silhouette", "neighbours"), sample_size=100)
    assert set(quick) == {f"{m} in {v}" for m in ("silhouette", "neighbours") for v in ("sbert", "lexical")}


@pytest.mark.parametrize("kwargs, call, match", [
    ({}, lambda s, X, t, y: s.fit(X, t[:-1]), "149 texts"),
    ({"measures": ("vibes",)}, lambda s, X, t, y: s.fit(X, t), "measures must be names"),
    ({}, lambda s, X, t, y: s.fit(X, t).score(y[:-1]), "fitted on 150 texts"),
    ({"n_clusters": 500}, lambda s, X, t, y: s.fit(X, t), "larger than the number of samples"),
])
def test_bad_input_fails_with_one_line(two_views, kwargs, call, match):
    X, texts, y = two_views
    scorer = CrossViewScore(**{"n_clusters": 3, **kwargs})
    with pytest.raises(ValueError, match=match) as info:
        call(scorer, X, texts, y)
    assert "\n" not in str(info.value)
