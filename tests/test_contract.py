"""The estimator contract (clustering/base.py), run over every estimator of the library."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError

from clustering.base import STAGES, ClusteringEstimator
from clustering.baselines import AutoEncoderKMeans, EmbeddingKMeans, TfidfKMeans
from clustering.dec import DEC, IDEC

TINY_AE = dict(hidden_dims=(16, 4), batch_size=32)
ESTIMATORS = {
    "kmeans": lambda seed: EmbeddingKMeans(3, n_init=2, random_state=seed),
    "tfidf": lambda seed: TfidfKMeans(3, n_init=2, min_df=1, random_state=seed),
    "ae": lambda seed: AutoEncoderKMeans(3, epochs=2, n_init=2, random_state=seed, **TINY_AE),
    "dec": lambda seed: DEC(3, pretrain_epochs=2, epochs=2, n_init=2, random_state=seed, **TINY_AE),
    "idec": lambda seed: IDEC(3, pretrain_epochs=2, epochs=2, n_init=2, random_state=seed, **TINY_AE),
    "dec-robust": lambda seed: DEC(3, pretrain_epochs=2, epochs=3, n_init=2, init="input", early_stopping=True,
                                   monitor_sample=50, random_state=seed, **TINY_AE),
}
WORDS = [["ball", "goal", "match", "team"], ["stock", "market", "shares", "profit"], ["chip", "software", "data", "code"]]


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs(90, n_features=12, centers=3, cluster_std=0.5, random_state=0)
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS[c], 3)) + f" w{i}" for i, c in enumerate(y)]
    return X, texts


def inputs(model, data):
    X, texts = data
    return texts if model.input_kind == "texts" else X


def _selftrain(seed):
    from clustering.selftrain import SelfTrainingClusterer

    return SelfTrainingClusterer(3, rounds=1, batch_size=32, n_init=2, n_neighbors=3, trainable_layers=1,
                                 random_state=seed)


def _pseudolabel(seed):
    from clustering.pseudolabel import PseudoLabelClusterer

    return PseudoLabelClusterer(3, rounds=2, n_init=2, lexical_dims=8, random_state=seed)


ESTIMATORS["selftrain"] = _selftrain  # fine-tunes the real MiniLM: marked slow below
ESTIMATORS["pseudolabel"] = _pseudolabel  # embeds with the real MiniLM: marked slow below
REAL_MODEL = ("selftrain", "pseudolabel")


@pytest.fixture(params=[pytest.param(name, marks=pytest.mark.slow) if name in REAL_MODEL else name
                        for name in ESTIMATORS])
def make(request):
    return ESTIMATORS[request.param]


def test_declares_its_input_and_space(make):
    model = make(0)
    assert isinstance(model, ClusteringEstimator)
    assert model.input_kind in ("embeddings", "texts") and model.space_metric in ("euclidean", "cosine")


def test_clone_and_params_round_trip(make):
    model = make(0)
    assert clone(model).get_params() == model.get_params()


def test_unfitted_refuses_to_predict(make, data):
    model = make(0)
    for method in (model.predict, model.predict_proba, model.transform):
        with pytest.raises(NotFittedError):
            method(inputs(model, data))


def test_fit_sets_the_contracts_attributes(make, data):
    model = make(0)
    seen = []
    assert model.fit(inputs(model, data), callback=lambda step, logs: seen.append(logs)) is model
    n = len(data[0])
    assert model.labels_.shape == (n,) and isinstance(model.n_iter_, int)
    assert isinstance(model.history_, dict) and all(isinstance(v, list) for v in model.history_.values())
    assert all(logs["stage"] in STAGES for logs in seen)
    assert all(len(logs["labels"]) == n for logs in seen if logs["stage"] == "cluster")
    proba = model.predict_proba(inputs(model, data))
    assert proba.shape == (n, 3) and np.allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(model.predict(inputs(model, data)), model.labels_)
    Z, metric = model.clustering_space(inputs(model, data))
    assert Z.shape[0] == n and metric == model.space_metric
    assert model.n_trainable_parameters() >= 0


def test_same_seed_same_labels_and_random_state_as_sklearn_takes_it(make, data):
    model = make(0)
    first = make(0).fit(inputs(model, data)).labels_
    np.testing.assert_array_equal(make(0).fit(inputs(model, data)).labels_, first)
    # a RandomState or None are seeds too
    for seed in (np.random.RandomState(0), None):
        assert make(seed).fit(inputs(model, data)).labels_.shape == first.shape


def test_pickle_round_trip_predicts_the_same(make, data):
    model = make(0).fit(inputs(make(0), data))
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(again.predict_proba(inputs(model, data)), model.predict_proba(inputs(model, data)),
                               rtol=1e-6)


def test_bad_input_is_one_clear_error(make, data):
    model = make(0)
    if model.input_kind == "texts":
        with pytest.raises(ValueError, match="string"):
            model.fit("one string")
        return
    X = data[0].copy()
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(X)
    fitted = make(0).fit(data[0])
    with pytest.raises(ValueError, match="features"):
        fitted.predict(data[0][:, :5])


@pytest.mark.parametrize("make_estimator", [lambda: EmbeddingKMeans(3, n_init=2),
                                            lambda: DEC(3, pretrain_epochs=1, epochs=1, n_init=1, hidden_dims=(8, 4))],
                         ids=["kmeans", "dec"])
def test_scikit_learn_check_estimator(make_estimator):
    """scikit-learn's own estimator checks, where they apply: those that read an estimator's
    behaviour on tiny, integer or sparse inputs that a sentence-embedding clusterer refuses
    on purpose are listed, each with why."""
    from sklearn.utils.estimator_checks import check_estimator

    one_cluster = "n_clusters=1 is refused: one cluster is no clustering"
    expected = {
        "check_dont_overwrite_parameters": one_cluster,
        "check_methods_subset_invariance": one_cluster,
        "check_fit2d_predict1d": one_cluster,
        "check_fit2d_1sample": "n_clusters > n_samples is refused, in the library's own words",
        "check_fit2d_1feature": "n_clusters > n_samples is refused, in the library's own words",
        "check_n_features_in_after_fitting": "the wrong-width error says the fitted width in the library's words",
        "check_dtype_object": "object arrays are refused: embeddings are numbers",
        "check_transformer_preserve_dtypes": "the estimators work in float32, as torch does",
    }
    failed = check_estimator(make_estimator(), on_fail=None, expected_failed_checks=expected)
    bad = [r for r in failed if r["status"] == "failed"]
    assert not bad, [(r["check_name"], str(r["exception"])[:200]) for r in bad]
