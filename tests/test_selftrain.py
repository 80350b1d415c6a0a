"""Tests for clustering/selftrain.py and its internals (clustering/_selftrain_loop.py,
clustering/_transformer.py): pure helpers by hand, the estimator on 36 tiny texts."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from clustering._selftrain_loop import confident_mask, nearest_neighbors
from clustering._transformer import FrozenPrefix
from clustering._utils import seed_of
from clustering.centroids import CentroidAssigner
from clustering.metrics import cluster_accuracy
from clustering.selftrain import SelfTrainingClusterer

TOPICS = {
    "sport": ["the striker scored a late goal", "the team won the football match", "the goalkeeper saved a penalty",
              "fans cheered as the club won the cup", "the tennis player won the final set",
              "the coach praised the players after the game", "the runner won the marathon race",
              "the league match ended in a draw", "the basketball team lost the playoff game",
              "the cricket captain scored a century", "the boxer won the title fight", "the cyclist won the stage"],
    "cooking": ["bake the bread in a hot oven", "chop the onions and fry them in butter",
                "stir the soup and add some salt", "the cake recipe needs flour sugar and eggs",
                "roast the chicken with garlic and herbs", "boil the pasta for ten minutes",
                "whisk the cream until it is thick", "season the sauce with pepper",
                "grill the fish with lemon", "knead the dough and let it rise", "simmer the beans in tomato sauce",
                "melt the chocolate for the dessert"],
    "finance": ["the central bank raised interest rates", "shares fell as the stock market slumped",
                "the company reported higher quarterly profits", "investors sold bonds as inflation rose",
                "the bank cut its growth forecast", "oil prices pushed the index lower",
                "the firm's revenue beat analyst estimates", "the dollar rose against the euro",
                "the merger lifted the company's share price", "markets rallied after the earnings report",
                "the fund bought shares of the bank", "the economy grew faster than expected"],
}
TEXTS = [t for texts in TOPICS.values() for t in texts]
LABELS = np.repeat(np.arange(3), 12)
TINY = dict(rounds=1, max_seq_length=16, batch_size=8, embed_batch_size=64, n_init=4, device="cpu")


@pytest.fixture(scope="module")
def fitted():
    return SelfTrainingClusterer(3, random_state=0, **TINY).fit(TEXTS)


def test_confident_mask_keeps_largest_margins_per_cluster():
    sim = np.array([[0.9, 0.1], [0.6, 0.5], [0.8, 0.2], [0.2, 0.3], [0.1, 0.9], [0.45, 0.55]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    # margins: 0.8, 0.1, 0.6 | 0.1, 0.8, 0.1 -> the top two of three (round(2/3 * 3) = 2) per cluster
    assert confident_mask(sim, labels, 2 / 3).tolist() == [True, False, True, False, True, True]
    # tiny fractions still keep one member of every cluster
    assert confident_mask(sim, labels, 0.01).tolist() == [True, False, False, False, True, False]


@pytest.mark.parametrize("bad", [dict(rounds=-1), dict(confident_fraction=0.0), dict(confident_fraction=1.5),
                                 dict(lr=0.0), dict(batch_size=0), dict(contrastive_weight=-1.0),
                                 dict(trainable_layers=0), dict(max_seq_length=2),
                                 dict(loss="mse"), dict(positives="others"), dict(n_neighbors=0),
                                 dict(loss="none", contrastive_weight=0.0)])
def test_bad_parameters_raise_before_loading_a_model(bad):
    with pytest.raises(ValueError):
        SelfTrainingClusterer(3, **bad).fit(TEXTS)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="single string"):
        SelfTrainingClusterer(2).fit("one text")
    with pytest.raises(ValueError, match="n_clusters"):
        SelfTrainingClusterer(5).fit(["a", "b"])


def test_unfitted_model_refuses_to_predict():
    with pytest.raises(NotFittedError):
        SelfTrainingClusterer(3).predict(TEXTS)


def test_clone_keeps_parameters():
    model = SelfTrainingClusterer(3, lr=1e-4, trainable_layers=2)
    assert clone(model).get_params() == model.get_params()


def test_fit_recovers_obvious_topics(fitted):
    assert fitted.labels_.shape == (36,) and fitted.labels_.dtype == np.int64
    assert fitted.cluster_centers_.shape == (3, 384)
    assert fitted.embeddings_.shape == (36, 384)
    assert fitted.n_iter_ == 1 and len(fitted.history_["loss"]) == 1
    assert fitted.history_["n_confident"] == [36]  # the default trains on every text
    assert cluster_accuracy(LABELS, fitted.labels_) >= 0.9


def test_predict_and_proba_agree_on_training_texts(fitted):
    proba = fitted.predict_proba(TEXTS)
    assert proba.shape == (36, 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(fitted.predict(TEXTS), fitted.labels_)
    np.testing.assert_array_equal(proba.argmax(1), fitted.labels_)


def test_training_changes_a_private_copy_of_the_encoder(fitted):
    from clustering.embed import load_model

    pristine = load_model("all-MiniLM-L6-v2", "cpu")
    assert fitted.encoder_ is not pristine
    before = pristine.encode(TEXTS[:4], normalize_embeddings=True)
    after = fitted.transform(TEXTS[:4])
    assert not np.allclose(before, after, atol=1e-4)


def test_saved_encoder_and_head_reproduce_predictions(fitted, tmp_path):
    from clustering.embed import embed_texts

    path = fitted.save_encoder(tmp_path / "encoder")
    X = embed_texts(TEXTS, model=path, cache_dir=False, show_progress=False, device="cpu", precision="float32")
    np.testing.assert_allclose(X, fitted.transform(TEXTS), atol=1e-5)
    head = fitted.embedding_head()
    assert isinstance(head, CentroidAssigner) and head.n_clusters == 3
    np.testing.assert_array_equal(head.predict(X), fitted.labels_)
    np.testing.assert_allclose(head.predict_proba(X), fitted.predict_proba(TEXTS), atol=1e-4)


def test_pickle_round_trips_the_whole_model(fitted):
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.labels_, fitted.labels_)
    # the fine-tuned encoder travels with it: the same embeddings, labels and probabilities
    np.testing.assert_array_equal(restored.transform(TEXTS), fitted.transform(TEXTS))
    np.testing.assert_array_equal(restored.predict(TEXTS), fitted.labels_)
    np.testing.assert_array_equal(restored.predict_proba(TEXTS), fitted.predict_proba(TEXTS))
    assert restored.n_trainable_parameters() == fitted.n_trainable_parameters()


def test_the_contract_attributes():
    assert SelfTrainingClusterer.input_kind == "texts" and SelfTrainingClusterer.space_metric == "cosine"
    assert SelfTrainingClusterer().random_state == 0  # an int seed by default, as before


def test_clustering_space_is_the_training_embeddings_for_the_training_texts(fitted):
    Z, metric = fitted.clustering_space(TEXTS)
    assert Z is fitted.embeddings_ and metric == "cosine"
    assert fitted.clustering_space(tuple(TEXTS))[0] is fitted.embeddings_  # any sequence of the same texts
    # other texts, or the same ones in another order, are embedded afresh
    other, metric = fitted.clustering_space(TEXTS[:5])
    np.testing.assert_array_equal(other, fitted.transform(TEXTS[:5]))
    assert metric == "cosine"
    shuffled = TEXTS[::-1]
    np.testing.assert_allclose(fitted.clustering_space(shuffled)[0], fitted.embeddings_[::-1], atol=1e-5)
    with pytest.raises(NotFittedError):
        SelfTrainingClusterer(3).clustering_space(TEXTS)


def test_trainable_parameters_are_the_top_two_layers_and_the_pooler(fitted):
    from clustering.autoencoder import count_parameters

    assert fitted.n_trainable_parameters() == count_parameters(fitted.encoder_)
    # MiniLM-L6 (hidden 384, intermediate 1536), per layer: attention 4 * (384*384 + 384) +
    # LayerNorm 2*384 + intermediate 384*1536 + 1536 + output 1536*384 + 384 + LayerNorm 2*384
    layer = 4 * (384 * 384 + 384) + 768 + 384 * 1536 + 1536 + 1536 * 384 + 384 + 768
    pooler = 384 * 384 + 384
    assert fitted.n_trainable_parameters() == 2 * layer + pooler == 3_696_768
    with pytest.raises(NotFittedError):
        SelfTrainingClusterer(3).n_trainable_parameters()


def test_random_state_takes_none_and_a_random_state():
    params = {**TINY, "rounds": 0}
    a = SelfTrainingClusterer(3, random_state=None, **params).fit(TEXTS)
    b = SelfTrainingClusterer(3, random_state=np.random.RandomState(0), **params).fit(TEXTS)
    for model in (a, b):
        assert model.labels_.shape == (36,) and cluster_accuracy(LABELS, model.labels_) >= 0.9


@pytest.mark.slow
def test_a_random_state_gives_the_numbers_of_the_seed_it_draws():
    params = {**TINY, "trainable_layers": 1}
    seed = seed_of(np.random.RandomState(3))
    a = SelfTrainingClusterer(3, random_state=np.random.RandomState(3), **params).fit(TEXTS)
    b = SelfTrainingClusterer(3, random_state=seed, **params).fit(TEXTS)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.embeddings_, b.embeddings_)
    assert a.history_ == b.history_


def test_callback_sees_each_stage_and_can_stop():
    seen = []

    def callback(step, logs):
        seen.append((step, logs["stage"]))
        return logs["stage"] == "cluster"

    model = SelfTrainingClusterer(3, random_state=0, **{**TINY, "rounds": 3, "tol": 0.0}).fit(TEXTS, callback=callback)
    assert seen == [(1, "train"), (2, "cluster")]
    assert model.n_iter_ == 1


def test_cross_entropy_loss_trains_on_the_confident_half():
    model = SelfTrainingClusterer(3, loss="ce", confident_fraction=0.5, random_state=0, **TINY).fit(TEXTS)
    assert model.history_["n_confident"] == [18]  # half of each 12-text cluster
    assert cluster_accuracy(LABELS, model.labels_) >= 0.9


def test_zero_rounds_is_kmeans_on_the_pretrained_embeddings():
    model = SelfTrainingClusterer(3, random_state=0, **{**TINY, "rounds": 0}).fit(TEXTS)
    assert model.n_iter_ == 0 and model.history_["loss"] == []
    assert cluster_accuracy(LABELS, model.labels_) >= 0.9


@pytest.mark.slow
def test_same_seed_same_clusters():
    params = {**TINY, "trainable_layers": 2}
    a = SelfTrainingClusterer(3, random_state=1, **params).fit(TEXTS)
    b = SelfTrainingClusterer(3, random_state=1, **params).fit(TEXTS)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.embeddings_, b.embeddings_, atol=1e-5)


def test_nearest_neighbors_by_hand():
    X = np.array([[1.0, 0.0], [0.96, 0.28], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    # cosine: 0-1 0.96, 0-3 0.6, 1-3 0.8, 2-3 0.8, 1-2 0.28, 0-2 0.0
    expected = [[1, 3], [0, 3], [3, 1], [1, 2]]
    assert nearest_neighbors(X, 2).tolist() == expected
    assert nearest_neighbors(X, 10).shape == (4, 3)  # never more than the other rows


def test_neighbour_search_holds_a_bounded_chunk_of_distances():
    import sklearn

    from clustering._utils import NEIGHBOUR_CHUNK_MIB, kneighbors

    class Index:  # records what scikit-learn's chunked search would see
        def kneighbors(self, X=None, return_distance=True):
            self.seen = (X, return_distance, sklearn.get_config()["working_memory"])
            return np.zeros((2, 1), dtype=np.int64)

    index, rows = Index(), np.ones((2, 3))
    kneighbors(index, rows)
    assert index.seen[0] is rows and index.seen[1:] == (False, NEIGHBOUR_CHUNK_MIB) and NEIGHBOUR_CHUNK_MIB <= 64
    kneighbors(index)
    assert index.seen[0] is None
    assert sklearn.get_config()["working_memory"] == 1024  # restored


def _neighbours_by_full_similarity(X, k):
    """The former hand-written search: the whole cosine matrix, self excluded, nearest first."""
    sim = X @ X.T
    np.fill_diagonal(sim, -np.inf)
    return np.argsort(-sim, axis=1, kind="stable")[:, :k]


def test_nearest_neighbors_match_the_full_similarity_matrix(fitted, ag_news_small_embeddings):
    for X in (fitted.embeddings_, ag_news_small_embeddings):
        X = np.asarray(X, dtype=np.float32)
        got = nearest_neighbors(X, 10)
        assert got.dtype == np.int64 and (got != np.arange(len(X))[:, None]).all()  # never oneself
        np.testing.assert_array_equal(got, _neighbours_by_full_similarity(X, 10))


@pytest.mark.parametrize("n_frozen", [0, 3, 6])
def test_frozen_prefix_reproduces_the_full_encoder(n_frozen):
    import copy

    from clustering.embed import load_model

    encoder = copy.deepcopy(load_model("all-MiniLM-L6-v2", "cpu"))
    encoder.max_seq_length = 16  # truncation applies to the cached path as well
    texts = TEXTS[:10] + ["a much longer text that goes on " * 4]
    assert FrozenPrefix.supports(encoder)
    prefix = FrozenPrefix(encoder, texts, n_frozen, batch_size=4)
    reference = encoder.encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(prefix.encode(batch_size=3), reference, atol=1e-5)


def test_neighbour_positives_and_the_frozen_prefix_train():
    params = {**TINY, "trainable_layers": 2, "positives": "neighbors", "n_neighbors": 3, "contrastive_weight": 1.0,
              "loss": "none"}
    model = SelfTrainingClusterer(3, random_state=0, **params).fit(TEXTS)
    assert np.isfinite(model.history_["loss"]).all()
    assert cluster_accuracy(LABELS, model.labels_) >= 0.9
    # the cached path trained the real top layers: a fresh full pass agrees with embeddings_
    np.testing.assert_allclose(model.transform(TEXTS), model.embeddings_, atol=1e-5)
