"""clustering.autoencoder.pretrained_autoencoder: a repeated pretraining is remembered, bit for bit."""

import numpy as np
import torch
from sklearn.datasets import make_blobs

from clustering import autoencoder
from clustering.baselines import AutoEncoderKMeans
from clustering.dec import DEC, IDEC

SETTINGS = dict(hidden_dims=(16, 4), pretrain_epochs=3, epochs=2, batch_size=32, n_init=2)


def _blobs():
    X, _ = make_blobs(150, n_features=12, centers=3, random_state=0)
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def test_a_remembered_pretraining_gives_the_same_model_as_a_fresh_one(monkeypatch):
    X = _blobs()
    autoencoder._PRETRAINED.clear()
    fresh = IDEC(3, dropout=0.1, random_state=1, **SETTINGS).fit(X)  # dropout: the random state after it matters
    assert len(autoencoder._PRETRAINED) == 1
    calls = []
    real = autoencoder.pretrain
    monkeypatch.setattr(autoencoder, "pretrain", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = IDEC(3, dropout=0.1, random_state=1, **SETTINGS).fit(X)
    assert not calls  # remembered
    np.testing.assert_array_equal(again.labels_, fresh.labels_)
    np.testing.assert_array_equal(again.cluster_centers_, fresh.cluster_centers_)
    assert again.history_ == fresh.history_
    # DEC with the same autoencoder settings and seed starts from the same pretraining
    DEC(3, dropout=0.1, random_state=1, **SETTINGS).fit(X)
    assert not calls
    # another seed is another pretraining
    DEC(3, dropout=0.1, random_state=2, **SETTINGS).fit(X)
    assert calls


def test_ae_kmeans_shares_the_seed_reports_pretraining_and_a_remembered_model_is_its_own():
    X = _blobs()
    autoencoder._PRETRAINED.clear()
    ae = AutoEncoderKMeans(3, hidden_dims=(16, 4), epochs=3, batch_size=32, random_state=0).fit(X)
    dec = DEC(3, random_state=0, **SETTINGS)
    dec.fit(X)
    assert len(autoencoder._PRETRAINED) == 1
    assert dec.history_["ae_loss"] == ae.history_["ae_loss"]
    # the DEC stage trained its copy of the encoder; the baseline's stays as pretrained
    assert not torch.equal(dec.autoencoder_.encoder[0].weight, ae.autoencoder_.encoder[0].weight)


def test_a_callback_that_stops_early_gets_the_shorter_pretraining():
    X = _blobs()
    autoencoder._PRETRAINED.clear()
    full = AutoEncoderKMeans(3, hidden_dims=(16, 4), epochs=3, batch_size=32, random_state=0).fit(X)
    stopped = AutoEncoderKMeans(3, hidden_dims=(16, 4), epochs=3, batch_size=32, random_state=0).fit(
        X, callback=lambda epoch, logs: epoch == 2)
    fresh = AutoEncoderKMeans(3, hidden_dims=(16, 4), epochs=2, batch_size=32, random_state=0).fit(X)
    assert stopped.history_["ae_loss"] == full.history_["ae_loss"][:2] == fresh.history_["ae_loss"]
    for a, b in zip(stopped.autoencoder_.parameters(), fresh.autoencoder_.parameters()):
        assert torch.equal(a, b)
