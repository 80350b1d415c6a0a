import numpy as np
import pytest
import torch

from clustering.autoencoder import AutoEncoder, count_parameters, encode, pretrain


def test_default_parameter_count_matches_seed_report():
    # Encoder 384*256+256 + 256*128+128 + 128*64+64 = 139,712; decoder mirror = 140,032.
    assert count_parameters(AutoEncoder()) == 279_744


def test_batch_norm_adds_two_parameters_per_hidden_unit():
    extra = count_parameters(AutoEncoder(batch_norm=True)) - count_parameters(AutoEncoder())
    assert extra == 2 * (256 + 128) * 2  # gamma and beta, encoder and decoder hidden layers


def test_shapes_and_no_activation_on_latent():
    model = AutoEncoder(10, (8, 3))
    z, recon = model(torch.randn(5, 10))
    assert z.shape == (5, 3) and recon.shape == (5, 10)
    assert isinstance(model.encoder[-1], torch.nn.Linear) and isinstance(model.decoder[-1], torch.nn.Linear)


def test_dropout_sits_between_hidden_layers():
    model = AutoEncoder(10, (8, 3), dropout=0.2)
    assert sum(isinstance(m, torch.nn.Dropout) for m in model.modules()) == 2


@pytest.mark.parametrize("kwargs", [{"activation": "swish"}, {"dropout": 1.0}, {"hidden_dims": ()}])
def test_bad_architecture(kwargs):
    with pytest.raises(ValueError):
        AutoEncoder(10, **{"hidden_dims": (4,), **kwargs})


def _data(n=256, d=16, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def test_pretrain_reduces_loss_and_calls_back():
    seen = []
    model = AutoEncoder(16, (12, 8))
    history = pretrain(model, _data(), epochs=5, batch_size=32, callback=lambda e, logs: seen.append((e, logs["loss"])))
    assert len(history) == 5 and history[-1] < history[0]
    assert [e for e, _ in seen] == [1, 2, 3, 4, 5]
    assert not model.training


def test_pretrain_stops_when_callback_says_so():
    history = pretrain(AutoEncoder(16, (8,)), _data(), epochs=10, callback=lambda e, logs: e == 3)
    assert len(history) == 3


def test_pretrain_is_deterministic():
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = AutoEncoder(16, (8, 4))
        runs.append(pretrain(model, _data(), epochs=2, random_state=7))
    assert runs[0] == runs[1]


def test_pretrain_raises_on_divergence():
    with pytest.raises(FloatingPointError, match="diverged"):
        pretrain(AutoEncoder(16, (8,)), _data() * 1e30, epochs=1, lr=1e10)


def test_encode_rejects_wrong_width():
    with pytest.raises(ValueError, match="features"):
        encode(AutoEncoder(16, (4,)), _data(d=5))
