"""Baselines on tiny seeded data: well separated blobs and a dozen three-topic texts."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score

from clustering.baselines import AutoEncoderKMeans, EmbeddingKMeans, TfidfKMeans

TEXTS = [
    "football match goal striker league",
    "the striker scored a goal in the football league match",
    "tennis match player won the league title",
    "football player transfer to a league team",
    "stock market shares fell as investors sold",
    "investors bought shares and the stock market rose",
    "bank profits lifted shares on the stock market",
    "market investors worry about bank interest rates",
    "nasa rocket launch to orbit the moon",
    "the rocket carried astronauts into orbit around the moon",
    "space telescope in orbit observed a distant galaxy",
    "nasa astronauts land on the moon after rocket launch",
]
TOPICS = np.repeat([0, 1, 2], 4)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=120, n_features=32, centers=4, cluster_std=0.5, center_box=(-10, 10), random_state=0)
    return X.astype(np.float32), y


def small(cls):
    """Fast settings for each estimator class; the AE trains only two epochs."""
    if cls is AutoEncoderKMeans:
        return cls(n_clusters=4, hidden_dims=(16, 8), epochs=2, batch_size=32, n_init=3, device="cpu")
    return cls(n_clusters=4, n_init=3)


ARRAY_MODELS = [EmbeddingKMeans, AutoEncoderKMeans]


def test_embedding_kmeans_recovers_blobs(blobs):
    X, y = blobs
    model = EmbeddingKMeans(n_clusters=4).fit(X)
    assert adjusted_rand_score(y, model.labels_) == 1.0
    assert model.cluster_centers_.shape == (4, 32)
    assert model.n_features_in_ == 32
    np.testing.assert_array_equal(model.predict(X), model.labels_)


def test_autoencoder_kmeans_recovers_blobs(blobs):
    X, y = blobs
    model = AutoEncoderKMeans(n_clusters=4, hidden_dims=(16, 8), epochs=30, batch_size=32, device="cpu").fit(X)
    assert adjusted_rand_score(y, model.labels_) == 1.0
    np.testing.assert_array_equal(model.predict(X), model.labels_)


def test_autoencoder_kmeans_two_epochs_shapes(blobs):
    X, _ = blobs
    seen = []
    model = AutoEncoderKMeans(n_clusters=4, epochs=2, device="cpu")
    labels = model.fit_predict(X, callback=lambda epoch, logs: seen.append((epoch, logs["ae_loss"])))
    assert len(model.history_["ae_loss"]) == 2
    assert [e for e, _ in seen] == [1, 2]
    assert model.history_["ae_loss"] == [loss for _, loss in seen]
    assert model.transform(X).shape == (len(X), 64)
    assert model.cluster_centers_.shape == (4, 64)
    assert labels.shape == (len(X),)


def test_callback_true_stops_pretraining(blobs):
    X, _ = blobs
    model = small(AutoEncoderKMeans).set_params(epochs=5).fit(X, callback=lambda epoch, logs: True)
    assert len(model.history_["ae_loss"]) == 1


@pytest.mark.parametrize("cls", ARRAY_MODELS)
def test_same_seed_same_labels(cls, blobs):
    X, _ = blobs
    a, b = small(cls).fit(X), small(cls).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_)


@pytest.mark.parametrize("cls", [*ARRAY_MODELS, TfidfKMeans])
def test_clone_and_get_params_round_trip(cls):
    model = small(cls)
    params = model.get_params()
    copy = clone(model)
    assert copy.get_params() == params
    assert cls(**params).get_params() == params
    assert model.set_params(n_clusters=3).get_params()["n_clusters"] == 3


@pytest.mark.parametrize("cls", [*ARRAY_MODELS, TfidfKMeans])
def test_predict_before_fit_raises(cls, blobs):
    X = TEXTS if cls is TfidfKMeans else blobs[0]
    with pytest.raises(NotFittedError):
        small(cls).predict(X)


@pytest.mark.parametrize("cls", ARRAY_MODELS)
def test_wrong_width_after_fit_raises(cls, blobs):
    X, _ = blobs
    model = small(cls).fit(X)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :10])


@pytest.mark.parametrize("cls", ARRAY_MODELS)
def test_nan_raises(cls, blobs):
    X = blobs[0].copy()
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        small(cls).fit(X)


@pytest.mark.parametrize("cls", [*ARRAY_MODELS, TfidfKMeans])
@pytest.mark.parametrize("n_clusters", [1, 500])
def test_bad_n_clusters_raises(cls, n_clusters, blobs):
    X = TEXTS if cls is TfidfKMeans else blobs[0]
    with pytest.raises(ValueError, match="n_clusters"):
        small(cls).set_params(n_clusters=n_clusters).fit(X)


def test_tfidf_kmeans_separates_topics():
    model = TfidfKMeans(n_clusters=3, min_df=1).fit(TEXTS)
    assert adjusted_rand_score(TOPICS, model.labels_) == 1.0
    assert model.predict(["the rocket reached orbit"])[0] == model.labels_[8]
    tfidf = model.transform(TEXTS)
    assert tfidf.shape == (len(TEXTS), len(model.vectorizer_.vocabulary_))
    assert model.cluster_centers_.shape == (3, tfidf.shape[1])
    np.testing.assert_allclose(np.sqrt(tfidf.multiply(tfidf).sum(axis=1)).ravel(), 1.0, rtol=1e-6)


def test_tfidf_kmeans_same_seed_same_labels():
    a = TfidfKMeans(n_clusters=3, min_df=1, random_state=7).fit(TEXTS)
    b = TfidfKMeans(n_clusters=3, min_df=1, random_state=7).fit(TEXTS)
    np.testing.assert_array_equal(a.labels_, b.labels_)


@pytest.mark.parametrize("bad", ["one string, not a list", [1, 2, 3, 4]])
def test_tfidf_kmeans_rejects_non_texts(bad):
    with pytest.raises(ValueError, match="string"):
        TfidfKMeans(n_clusters=2).fit(bad)
