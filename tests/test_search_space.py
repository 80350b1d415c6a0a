import optuna
import pytest

from clustering.autoencoder import AutoEncoder, count_parameters
from clustering.dec import DEC, IDEC
from experiments.config import RunConfig
from experiments.search_space import ARCHITECTURES, default_params, make_estimator, suggest


def test_default_params_are_the_seed_report():
    model = make_estimator(default_params("dec"), n_clusters=4, random_state=0)
    assert isinstance(model, DEC) and not isinstance(model, IDEC)
    assert tuple(model.hidden_dims) == (256, 128, 64)
    assert (model.lr, model.batch_size, model.pretrain_epochs, model.epochs, model.alpha) == (1e-3, 64, 20, 10, 1.0)
    assert count_parameters(AutoEncoder(384, model.hidden_dims)) == 279_744
    assert isinstance(make_estimator(default_params("idec"), n_clusters=4, random_state=0), IDEC)


def test_small_epoch_caps_shrink_the_range():
    trial = optuna.create_study().ask()
    params = suggest(trial, RunConfig(max_pretrain_epochs=2, max_epochs=1))
    assert params["pretrain_epochs"] <= 2 and params["epochs"] == 1


@pytest.mark.parametrize("method", ["search", "dec", "idec"])
def test_every_sampled_point_builds_an_estimator(method):
    config = RunConfig(method=method, max_pretrain_epochs=7, max_epochs=4)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        params = suggest(trial, config)
        model = make_estimator(params, n_clusters=4, random_state=1)
        assert params["architecture"] in ARCHITECTURES
        assert 5 <= model.pretrain_epochs <= 7 and 2 <= model.epochs <= 4
        assert isinstance(model, IDEC) == (params["method"] == "idec")
        if method != "search":
            assert params["method"] == method and "method" not in trial.params
        study.tell(trial, 0.0)


def test_unknown_key_is_an_error():
    with pytest.raises(TypeError):
        make_estimator({**default_params(), "learning_rate": 1}, n_clusters=4, random_state=0)
