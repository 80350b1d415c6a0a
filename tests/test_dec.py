import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score

from clustering.assignment import soft_assignment, target_distribution
from clustering.dec import DEC, IDEC

FAST = dict(hidden_dims=(16, 4), pretrain_epochs=3, epochs=3, batch_size=32, n_init=4)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(400, n_features=20, centers=4, cluster_std=1.0, random_state=0)
    return X.astype(np.float32), y


def test_soft_assignment_by_hand():
    # Three points on a line, centres at 0 and 2, alpha = 1: q ∝ 1 / (1 + d^2).
    z = torch.tensor([[0.0], [1.0], [2.0]])
    mu = torch.tensor([[0.0], [2.0]])
    q = soft_assignment(z, mu, alpha=1.0)
    # Point 0: (1, 1/5) -> (5/6, 1/6); point 1: (1/2, 1/2); point 2 mirrors point 0.
    expected = torch.tensor([[5 / 6, 1 / 6], [0.5, 0.5], [1 / 6, 5 / 6]])
    assert torch.allclose(q, expected, atol=1e-6)


def test_soft_assignment_alpha_changes_the_tail():
    z, mu = torch.tensor([[1.0]]), torch.tensor([[0.0], [3.0]])
    # alpha = 3: (1 + d^2/3)^-2 -> (1 + 1/3)^-2 = 9/16, (1 + 4/3)^-2 = 9/49.
    q = soft_assignment(z, mu, alpha=3.0)
    a, b = 9 / 16, 9 / 49
    assert torch.allclose(q, torch.tensor([[a / (a + b), b / (a + b)]]), atol=1e-6)


def test_target_distribution_by_hand():
    q = np.array([[5 / 6, 1 / 6], [0.5, 0.5], [1 / 6, 5 / 6]])
    # f = column sums = (1.5, 1.5); q^2 / f per row, then normalise the row.
    p = target_distribution(q)
    row0 = np.array([25 / 36, 1 / 36]) / 1.5
    assert np.allclose(p[0], row0 / row0.sum())  # = (25/26, 1/26): sharper than q
    assert np.allclose(p[1], [0.5, 0.5])
    assert np.allclose(p.sum(1), 1.0)
    assert np.allclose(target_distribution(torch.tensor(q)).numpy(), p)


def test_target_distribution_penalises_large_clusters():
    q = np.array([[0.6, 0.4]] * 9 + [[0.1, 0.9]])
    p = target_distribution(q)
    # f = (5.5, 4.5): dividing q^2 by f lifts the smaller cluster against plain squaring.
    ratio = p[0, 1] / p[0, 0]
    assert ratio == pytest.approx((0.4**2 / 4.5) / (0.6**2 / 5.5))
    assert ratio > 0.4**2 / 0.6**2


@pytest.mark.parametrize("cls", [DEC, IDEC])
def test_recovers_blobs(cls, blobs):
    X, y = blobs
    model = cls(4, **FAST).fit(X)
    assert adjusted_rand_score(y, model.labels_) > 0.95
    assert model.cluster_centers_.shape == (4, 4)
    proba = model.predict_proba(X)
    assert proba.shape == (400, 4) and np.allclose(proba.sum(1), 1.0, atol=1e-5)
    assert np.array_equal(model.predict(X), model.labels_)
    assert model.transform(X).shape == (400, 4)
    assert len(model.history_["ae_loss"]) == 3
    assert 1 <= model.n_iter_ <= 3
    if cls is IDEC:
        assert len(model.history_["recon_loss"]) == len(model.history_["cluster_loss"])


@pytest.mark.parametrize("cls", [DEC, IDEC])
def test_same_seed_same_labels(cls, blobs):
    X, _ = blobs
    a = cls(4, **FAST, random_state=3).fit_predict(X)
    b = cls(4, **FAST, random_state=3).fit_predict(X)
    assert np.array_equal(a, b)


def test_clone_and_get_params():
    model = IDEC(3, gamma=0.2, **FAST)
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert twin.get_params()["gamma"] == 0.2 and twin.get_params()["n_clusters"] == 3


def test_callback_sees_both_stages_and_can_stop(blobs):
    X, _ = blobs
    seen = []
    DEC(4, **{**FAST, "tol": 0.0}).fit(X, callback=lambda step, logs: seen.append((step, logs["stage"])))
    assert [s for s, _ in seen] == list(range(1, len(seen) + 1))
    assert [stage for _, stage in seen[:3]] == ["pretrain"] * 3 and seen[-1][1] == "cluster"

    model = DEC(4, **FAST).fit(X, callback=lambda step, logs: step == 2)
    assert len(model.history_["ae_loss"]) == 2 and model.n_iter_ == 0
    assert model.labels_.shape == (400,)


def test_callback_exception_propagates(blobs):
    class Pruned(Exception):
        pass

    def prune(step, logs):
        raise Pruned

    with pytest.raises(Pruned):
        DEC(4, **FAST).fit(blobs[0], callback=prune)


def test_early_stop_on_tolerance(blobs):
    model = DEC(4, **{**FAST, "epochs": 20, "tol": 0.5}).fit(blobs[0])
    assert model.n_iter_ < 20


def test_never_reads_labels(blobs):
    X, y = blobs
    a = DEC(4, **FAST).fit(X, y).labels_
    b = DEC(4, **FAST).fit(X, np.zeros_like(y)).labels_
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, X, match",
    [
        ({"n_clusters": 1}, None, "at least 2"),
        ({"n_clusters": 500}, None, "larger than the number of samples"),
        ({}, "nan", "NaN"),
        ({}, "inf", "infinite"),
        ({"epochs": -1}, None, "epochs"),
        ({"alpha": 0}, None, "alpha"),
    ],
)
def test_bad_input(blobs, kwargs, X, match):
    data = blobs[0].copy()
    if X == "nan":
        data[3, 2] = np.nan
    if X == "inf":
        data[0, 0] = np.inf
    with pytest.raises(ValueError, match=match):
        DEC(**{**FAST, **kwargs}).fit(data)


def test_predict_before_fit_and_wrong_width(blobs):
    with pytest.raises(NotFittedError):
        DEC().predict(blobs[0])
    model = DEC(4, **FAST).fit(blobs[0])
    with pytest.raises(ValueError, match="fitted on 20"):
        model.predict(blobs[0][:, :10])


@pytest.mark.parametrize("cls", [DEC, IDEC])
def test_input_init_starts_from_kmeans_on_the_embeddings(cls, blobs):
    from sklearn.cluster import KMeans

    X, _ = blobs
    model = cls(4, **{**FAST, "epochs": 0}, init="input", random_state=2).fit(X)
    start = KMeans(4, n_init=FAST["n_init"], random_state=2).fit_predict(X)
    # with no DEC epoch, the centres are the mean latent codes of KMeans' clusters on X
    Z = model.transform(X)
    expected = np.stack([Z[start == j].mean(0) for j in range(4)])
    assert np.allclose(model.cluster_centers_, expected, atol=1e-5)
    assert adjusted_rand_score(start, model.labels_) > 0.95


def test_early_stopping_keeps_the_best_scored_state(blobs):
    from clustering._dec_loop import _Monitor

    X, _ = blobs
    # a large DEC learning rate makes the partition drift; the monitor must notice
    model = DEC(4, **{**FAST, "epochs": 8}, dec_lr=0.05, tol=0.0, early_stopping=True, patience=2,
                monitor_sample=300, random_state=0).fit(X)
    scores = model.history_["monitor"]
    assert len(scores) >= 1 and 0 <= model.best_iter_ <= model.n_iter_
    # the kept state is the best scored one, and the fitted labels are that state's
    monitor = _Monitor(X, 300, 0)
    assert monitor.score(model.labels_) == pytest.approx(max(scores), abs=1e-6)
    assert np.array_equal(model.predict(X), model.labels_)
    # stopped no later than `patience` scored updates after the best
    assert len(scores) - 1 - scores.index(max(scores)) <= 2


def test_without_early_stopping_every_epoch_runs(blobs):
    X, _ = blobs
    model = DEC(4, **{**FAST, "epochs": 4}, tol=0.0, random_state=0).fit(X)
    assert model.n_iter_ == model.best_iter_ == 4 and "monitor" not in model.history_


@pytest.mark.parametrize("bad", [{"init": "random"}, {"patience": 0}, {"monitor_sample": 0}])
def test_bad_safeguard_settings_fail_with_one_line(bad, blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match=next(iter(bad))):
        DEC(4, **FAST, **bad).fit(X)


def test_input_kmeans_is_remembered_per_input_and_settings(blobs):
    from clustering import dec

    X, _ = blobs
    a = dec._input_kmeans(X, 4, 2, 0)
    a[:] = -1  # callers get a copy
    b = dec._input_kmeans(X, 4, 2, 0)
    assert (b >= 0).all() and len(dec._INPUT_KMEANS) <= 4
    other = dec._input_kmeans(X + 1.0, 4, 2, 0)  # another input is another entry
    assert adjusted_rand_score(b, other) == 1.0 and len({k[0] for k in dec._INPUT_KMEANS}) >= 2


@pytest.mark.parametrize("cls", [DEC, IDEC])
def test_bfloat16_training_recovers_blobs_and_predicts_in_float32(cls, blobs):
    X, y = blobs
    model = cls(4, **FAST, precision="bfloat16-mixed").fit(X)
    assert adjusted_rand_score(y, model.labels_) > 0.95
    assert model.predict_proba(X).dtype == np.float32
    again = cls(4, **FAST, precision="bfloat16-mixed").fit(X)
    assert np.array_equal(model.labels_, again.labels_)  # seeded, bfloat16 or not


def test_precision_is_checked_and_keys_the_pretraining_memo(blobs):
    from clustering.autoencoder import pretrained_autoencoder

    X = blobs[0]
    with pytest.raises(ValueError, match="precision must be one of"):
        DEC(4, **FAST, precision="half").fit(X)
    kw = dict(epochs=2, batch_size=32, random_state=0)
    fp32, _ = pretrained_autoencoder(X, (16, 4), **kw)
    bf16, _ = pretrained_autoencoder(X, (16, 4), precision="bfloat16-mixed", **kw)
    assert not torch.equal(fp32.encoder[0].weight, bf16.encoder[0].weight)
