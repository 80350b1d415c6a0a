import optuna
import pytest

from clustering.autoencoder import AutoEncoder, count_parameters
from clustering.dec import DEC, IDEC
from experiments.config import RunConfig
from clustering.baselines import EmbeddingKMeans
from clustering.pseudolabel import PseudoLabelClusterer
from experiments.methods import ARCHITECTURES, ROBUST
from experiments.search_space import default_params, first_trials, from_trial_params, make_estimator, suggest


def test_default_params_are_the_seed_report():
    model = make_estimator(default_params("dec"), n_clusters=4, random_state=0)
    assert isinstance(model, DEC) and not isinstance(model, IDEC)
    assert tuple(model.hidden_dims) == (256, 128, 64)
    assert (model.lr, model.batch_size, model.pretrain_epochs, model.epochs, model.alpha) == (1e-3, 64, 20, 10, 1.0)
    assert count_parameters(AutoEncoder(384, model.hidden_dims)) == 279_744
    assert isinstance(make_estimator(default_params("idec"), n_clusters=4, random_state=0), IDEC)


def test_small_epoch_caps_shrink_the_range():
    trial = optuna.create_study().ask()
    params = suggest(trial, RunConfig(method="dec", max_pretrain_epochs=2, max_epochs=1))
    assert params["pretrain_epochs"] <= 2 and params["epochs"] == 1


@pytest.mark.parametrize("method", ["search", "dec", "idec"])
def test_every_sampled_point_builds_an_estimator(method):
    config = RunConfig(method=method, max_pretrain_epochs=7, max_epochs=4)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(20):
        trial = study.ask()
        params = suggest(trial, config)
        model = make_estimator(params, n_clusters=4, random_state=1)
        seen.add(params["method"])
        study.tell(trial, 0.0)
        if params["method"] == "kmeans":
            assert isinstance(model, EmbeddingKMeans) and params == {"method": "kmeans"}
            continue
        if params["method"] == "pseudolabel":
            assert isinstance(model, PseudoLabelClusterer) and 0 <= model.rounds <= 15
            continue
        assert params["architecture"] in ARCHITECTURES
        # the study's DEC and IDEC start from KMeans on the embeddings and keep their best state
        assert (model.init, model.early_stopping) == ("input", True)
        assert 5 <= model.pretrain_epochs <= 7 and 2 <= model.epochs <= 4
        assert isinstance(model, IDEC) == (params["method"] == "idec")
        if method != "search":
            assert params["method"] == method and "method" not in trial.params
    assert seen == ({"kmeans", "dec", "idec", "pseudolabel"} if method == "search" else {method})


def test_first_trials_are_the_starting_point_the_seed_report_and_pseudo_labelling():
    points = first_trials(RunConfig())
    assert points[0] == {"method": "kmeans"}
    assert [p["method"] for p in points] == ["kmeans", "dec", "idec", "pseudolabel"]
    assert {k: v for k, v in points[1].items() if k != "method"} == {
        k: v for k, v in default_params("dec").items() if k != "method"}
    # pseudo-labelling's reference settings, under the prefixed names its space samples
    assert {k.removeprefix("pl_"): v for k, v in points[3].items() if k != "method"} == {
        k: v for k, v in default_params("pseudolabel").items() if k != "method"}
    # a study that fixes the method gets its point without the method key
    fixed = first_trials(RunConfig(method="idec", max_epochs=3))
    assert len(fixed) == 1 and "method" not in fixed[0] and fixed[0]["epochs"] == 3


def test_trial_params_carry_the_robust_settings():
    trial_params = {k: v for k, v in default_params("dec").items() if k != "method"}
    params = from_trial_params(trial_params, "dec")
    model = make_estimator(params, n_clusters=4, random_state=0)
    assert all(getattr(model, k) == v for k, v in ROBUST.items())
    assert from_trial_params({"method": "kmeans"}) == {"method": "kmeans"}
    # the seed report's settings themselves stay the library's plain DEC
    assert make_estimator(default_params("dec"), n_clusters=4, random_state=0).init == "latent"


def test_unknown_key_is_an_error():
    with pytest.raises(ValueError, match="learning_rate"):
        make_estimator({**default_params(), "learning_rate": 1}, n_clusters=4, random_state=0)
