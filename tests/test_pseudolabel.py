"""Tests for clustering/pseudolabel.py: the transport and core helpers by hand, the estimator on
tiny seeded texts with synthetic embeddings (no model), and one slow run with real MiniLM."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score

from clustering.pseudolabel import PseudoLabelClusterer, confident_core, sinkhorn, size_prior
from clustering.metrics import silhouette

WORDS = {0: "goal match striker league team coach", 1: "oven bake flour sugar butter recipe",
         2: "bank shares market profit investors rates"}


def corpus(sizes=(40, 40, 40), seed=0):
    """Texts of three topics (6 words drawn from each topic's vocabulary), embeddings of blobs around
    three unit-norm centres, and the topic of each text."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    texts = [" ".join(rng.choice(WORDS[c].split(), 4)) for c in labels]
    centres = np.linalg.qr(rng.standard_normal((16, 3)))[0].T  # orthonormal rows
    emb = centres[labels] + 0.15 * rng.standard_normal((len(labels), 16))
    return texts, (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32), labels


@pytest.fixture(scope="module")
def data():
    return corpus()


@pytest.fixture(scope="module")
def fitted(data):
    texts, emb, _ = data
    return PseudoLabelClusterer(3, rounds=3, n_init=3, random_state=0).fit(texts, embeddings=emb)


def test_sinkhorn_meets_the_marginals():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(3), size=60)
    P[:, 0] += 2  # a posterior that favours cluster 0 everywhere
    P /= P.sum(1, keepdims=True)
    Q = sinkhorn(P)
    np.testing.assert_allclose(Q.sum(1), 1, atol=1e-9)
    np.testing.assert_allclose(Q.sum(0), [20, 20, 20], rtol=1e-3)  # equal shares, though P prefers 0
    np.testing.assert_allclose(sinkhorn(P, np.array([3, 2, 1])).sum(0), [30, 20, 10], rtol=1e-3)


def test_size_prior_by_hand():
    np.testing.assert_allclose(size_prior([100, 25], balance=1.0), [0.5, 0.5])
    np.testing.assert_allclose(size_prior([100, 25], balance=0.0), [0.8, 0.2])
    np.testing.assert_allclose(size_prior([100, 25], balance=0.5), [10 / 15, 5 / 15])  # sqrt: 10 and 5


def test_confident_core_keeps_the_same_share_of_every_cluster():
    Q = np.array([[0.9, 0.1], [0.6, 0.4], [0.7, 0.3], [0.2, 0.8], [0.45, 0.55]])
    labels, mask = confident_core(Q, 0.5)
    assert labels.tolist() == [0, 0, 0, 1, 1]
    assert mask.tolist() == [True, False, True, True, False]  # round(1.5) = 2 of 3; 1 of 2
    assert confident_core(Q, 0.01)[1].sum() == 2  # at least one per cluster


def test_recovers_three_topics(fitted, data):
    texts, emb, labels = data
    assert adjusted_rand_score(labels, fitted.labels_) == 1.0
    assert fitted.labels_.shape == (len(texts),)
    np.testing.assert_array_equal(fitted.predict(texts, embeddings=emb), fitted.labels_)
    proba = fitted.predict_proba(texts, embeddings=emb)
    assert proba.shape == (len(texts), 3)
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-6)
    assert fitted.transform(texts, embeddings=emb).shape == (len(texts), 16 + fitted.svd_.n_components)
    assert 1 <= fitted.n_iter_ <= 3 and len(fitted.history_["changed"]) == fitted.n_iter_
    assert set(fitted.selection_) == {"kmeans", "rounds"}


@pytest.mark.parametrize("select", ["cross_view", "silhouette"])
def test_guard_keeps_the_partition_with_the_better_score(data, select):
    texts, emb, _ = data
    model = PseudoLabelClusterer(3, rounds=2, n_init=2, select=select).fit(texts, embeddings=emb)
    scores = model.selection_
    if select == "cross_view":  # the k-means start is its own reference
        assert scores["kmeans"] == pytest.approx(1.0)
    else:
        assert scores["kmeans"] == pytest.approx(silhouette(emb, model.kmeans_.labels_, sample_size=5000))
    expected = model.rounds_labels_ if scores["rounds"] >= scores["kmeans"] else model.kmeans_.labels_
    np.testing.assert_array_equal(model.labels_, expected)
    np.testing.assert_array_equal(model.predict(texts, embeddings=emb), model.labels_)
    unguarded = clone(model).set_params(select=None).fit(texts, embeddings=emb)
    assert unguarded.use_rounds_ and unguarded.selection_ == {}
    np.testing.assert_array_equal(unguarded.labels_, unguarded.rounds_labels_)


def test_same_seed_same_labels_and_clone(fitted, data):
    texts, emb, _ = data
    again = clone(fitted).fit(texts, embeddings=emb)
    np.testing.assert_array_equal(again.labels_, fitted.labels_)
    assert clone(fitted).get_params() == fitted.get_params()


def test_rounds_zero_is_kmeans_on_two_views(data):
    texts, emb, _ = data
    model = PseudoLabelClusterer(3, rounds=0, n_init=3).fit(texts, embeddings=emb)
    assert model.classifier_ is None and model.n_iter_ == 0 and not model.use_rounds_
    np.testing.assert_array_equal(model.labels_, model.kmeans_.labels_)
    np.testing.assert_array_equal(model.predict(texts, embeddings=emb), model.labels_)


def test_smoothing_mixes_each_posterior_with_its_sbert_neighbours(data):
    texts, emb, _ = data
    model = PseudoLabelClusterer(3, rounds=3, n_init=3, neighbors=5, smoothing=0.3, select=None).fit(
        texts, embeddings=emb)
    # new texts: the training texts' words, their embeddings moved a little
    rng = np.random.default_rng(7)
    new = emb[::10] + 0.05 * rng.standard_normal(emb[::10].shape).astype(np.float32)
    new /= np.linalg.norm(new, axis=1, keepdims=True)
    new_texts = texts[::10]
    own = np.zeros((len(new), 3))
    own[:, model.classifier_.classes_] = model.classifier_.predict_proba(model.transform(new_texts, embeddings=new))
    nearest = np.argsort(-(new @ emb.T), axis=1, kind="stable")[:, :5]  # cosine, in the Sentence-BERT view
    expected = 0.7 * own + 0.3 * model.train_proba_[nearest].mean(axis=1)
    np.testing.assert_allclose(model.predict_proba(new_texts, embeddings=new), expected, atol=1e-6)
    # on the training texts a text is its own nearest neighbour, so predict reproduces fit
    np.testing.assert_array_equal(model.predict(texts, embeddings=emb), model.labels_)
    assert model.train_proba_.shape == (len(texts), 3)


@pytest.mark.parametrize("params", [{"neighbors": 0}, {"smoothing": 0.0}, {"neighbors": 1}])
def test_no_smoothing_answers_with_the_classifier_alone(data, params):
    texts, emb, _ = data
    model = PseudoLabelClusterer(3, rounds=2, n_init=2, select=None, **params).fit(texts, embeddings=emb)
    assert model.neighbors_ is None and model.train_proba_ is None
    own = model.classifier_.predict_proba(model.transform(texts, embeddings=emb))
    np.testing.assert_allclose(model.predict_proba(texts, embeddings=emb)[:, model.classifier_.classes_], own)
    np.testing.assert_array_equal(model.labels_, model.predict(texts, embeddings=emb))


def test_kmeans_answer_keeps_no_training_rows(data):
    texts, emb, _ = data
    model = PseudoLabelClusterer(3, rounds=0, n_init=2).fit(texts, embeddings=emb)
    assert model.neighbors_ is None and model.train_proba_ is None


def test_unequal_topics_keep_unequal_clusters():
    texts, emb, labels = corpus(sizes=(90, 30, 10), seed=1)
    model = PseudoLabelClusterer(3, n_init=3, random_state=0).fit(texts, embeddings=emb)
    assert sorted(np.bincount(model.labels_)) == [10, 30, 90]


def test_callback_sees_every_round_and_can_stop(data):
    texts, emb, _ = data
    seen = []
    model = PseudoLabelClusterer(3, rounds=5, tol=0, n_init=2, balance=1.0).fit(
        texts, embeddings=emb, callback=lambda r, logs: seen.append((r, sorted(logs))) or True)
    assert seen == [(0, ["balance", "changed", "core", "labels", "largest", "stage"])] and model.n_iter_ == 1
    # "auto": one run of rounds per candidate balance, the step count running on
    seen = []
    PseudoLabelClusterer(3, rounds=5, tol=0, n_init=2).fit(
        texts, embeddings=emb, callback=lambda r, logs: seen.append((r, logs["balance"])) or r == 1)
    assert seen == [(0, 1.0), (1, 1.0), (2, 0.25), (3, 0.25), (4, 0.25), (5, 0.25), (6, 0.25)]


def test_auto_balance_keeps_the_run_with_the_higher_score():
    texts, emb, _ = corpus(sizes=(90, 30, 10), seed=1)
    fit = lambda balance: PseudoLabelClusterer(3, n_init=3, balance=balance, select=None).fit(texts, embeddings=emb)
    auto, runs = fit("auto"), {b: fit(b) for b in (1.0, 0.25)}
    assert set(auto.balance_scores_) == {1.0, 0.25} and runs[1.0].balance_scores_ == {}
    chosen = max(auto.balance_scores_, key=auto.balance_scores_.get)
    assert auto.balance_ == chosen and runs[0.25].balance_ == 0.25
    np.testing.assert_array_equal(auto.labels_, runs[chosen].labels_)
    np.testing.assert_allclose(auto.train_proba_, runs[chosen].train_proba_)


def test_size_target_follows_the_partition_of_the_round_before(monkeypatch):
    import clustering.pseudolabel as pl

    texts, emb, _ = corpus(sizes=(90, 30, 10), seed=1)
    asked, seen = [], []
    monkeypatch.setattr(pl, "size_prior", lambda sizes, balance: asked.append(list(sizes)) or size_prior(sizes, balance))
    model = PseudoLabelClusterer(3, rounds=3, tol=0, n_init=3, balance=0.5, select=None).fit(
        texts, embeddings=emb, callback=lambda r, logs: seen.append(np.bincount(logs["labels"], minlength=3).tolist()))
    assert asked[0] == np.bincount(model.kmeans_.labels_, minlength=3).tolist()
    assert asked[1:] == seen[:-1] and len(asked) == model.n_iter_ == 3


def test_kmeans_restarts_run_on_float64_rows_and_the_refinement_on_float32(data, monkeypatch):
    import clustering.pseudolabel as module

    dtypes = []

    class Recording(module.KMeans):
        def fit(self, X, y=None, sample_weight=None):
            dtypes.append((self.n_init, X.dtype))
            return super().fit(X, y, sample_weight)

    monkeypatch.setattr(module, "KMeans", Recording)
    texts, emb, _ = data
    model = PseudoLabelClusterer(3, rounds=0, n_init=3, init_sample=60, random_state=0).fit(texts, embeddings=emb)
    assert dtypes == [(3, np.float64), (1, np.float32)]  # seeding upcasts float32 chunk by chunk
    assert model.kmeans_.cluster_centers_.dtype == np.float32


def test_kmeans_posterior_is_the_softmax_of_minus_squared_distances(fitted, data):
    from clustering.pseudolabel import _INIT_TEMPERATURE
    from clustering.transport import softmax

    texts, emb, _ = data
    F = fitted.transform(texts, embeddings=emb)
    dist2 = ((F[:, None, :].astype(np.float64) - fitted.kmeans_.cluster_centers_[None]) ** 2).sum(-1)
    np.testing.assert_allclose(fitted._kmeans_posterior(F), softmax(-dist2 / _INIT_TEMPERATURE), atol=1e-4)


def test_each_round_starts_from_the_last_rounds_weights_when_it_saw_the_same_clusters(data):
    texts, emb, labels = data
    est = PseudoLabelClusterer(3, C=0.5)
    F = emb.astype(np.float64)
    cold = est._fit_classifier(F, labels, None)
    warm = est._fit_classifier(F, labels, cold)
    assert warm.n_iter_[0] < cold.n_iter_[0]  # started at the optimum: next to no steps
    np.testing.assert_allclose(warm.predict_proba(F), cold.predict_proba(F), atol=1e-3)
    fewer = est._fit_classifier(F, np.minimum(labels, 1), cold)  # a cluster gone: a cold start
    assert list(fewer.classes_) == [0, 1] and fewer.coef_.shape == (1, F.shape[1])


def test_refuses_bad_input(data):
    texts, emb, _ = data
    with pytest.raises(NotFittedError):
        PseudoLabelClusterer(3).predict(texts, embeddings=emb)
    with pytest.raises(ValueError, match="confident_fraction"):
        PseudoLabelClusterer(3, confident_fraction=0).fit(texts, embeddings=emb)
    with pytest.raises(ValueError, match="neighbors"):
        PseudoLabelClusterer(3, neighbors=-1).fit(texts, embeddings=emb)
    with pytest.raises(ValueError, match="balance"):
        PseudoLabelClusterer(3, balance="equal").fit(texts, embeddings=emb)
    with pytest.raises(ValueError, match="smoothing"):
        PseudoLabelClusterer(3, smoothing=1.0).fit(texts, embeddings=emb)
    with pytest.raises(ValueError, match="select"):
        PseudoLabelClusterer(3, select="inertia").fit(texts, embeddings=emb)
    with pytest.raises(ValueError, match="rows"):
        PseudoLabelClusterer(3).fit(texts, embeddings=emb[:10])
    with pytest.raises(ValueError, match="single string"):
        PseudoLabelClusterer(3).fit("one text", embeddings=emb)


@pytest.mark.slow
def test_real_minilm_on_ag_news_sample(ag_news_small, ag_news_small_embeddings):
    from clustering.metrics import cluster_accuracy

    model = PseudoLabelClusterer(4, random_state=0).fit(ag_news_small.texts, embeddings=ag_news_small_embeddings)
    assert cluster_accuracy(ag_news_small.labels, model.labels_) > 0.7
    assert model.predict(ag_news_small.texts[:5], embeddings=ag_news_small_embeddings[:5]).shape == (5,)
