"""experiments/entry_points.py: how the champion is chosen among the candidates."""

import math

from experiments.config import RunConfig
from experiments.entry_points import _best_candidate


def _runs(*values):
    return [{"objective": v} for v in values]


def test_the_champion_is_the_best_mean_over_seeds_not_the_best_seed():
    candidates = {"SBERT + KMeans": (_runs(0.068, 0.068, 0.068), [], "kmeans"),
                  # won one seed by a hair, loses on the mean: KMeans stays
                  "DEC (tuned)": (_runs(0.0685, 0.066, 0.067), [], "dec")}
    assert _best_candidate(RunConfig(), candidates) == "SBERT + KMeans"
    candidates["DEC (seed report settings)"] = (_runs(0.070, 0.069, 0.070), [], "dec")
    assert _best_candidate(RunConfig(), candidates) == "DEC (seed report settings)"


def test_a_better_mean_within_its_standard_error_keeps_the_starting_point():
    # mean +0.0005 over KMeans, but the seeds spread by 0.006: noise, not a gain
    noisy = (_runs(0.078, 0.066, 0.0725, 0.0655, 0.0785), [], "dec")
    candidates = {"SBERT + KMeans": (_runs(0.072, 0.071, 0.0715, 0.072, 0.072), [], "kmeans"), "DEC (tuned)": noisy}
    assert _best_candidate(RunConfig(), candidates) == "SBERT + KMeans"
    # the same spread around a mean 0.01 higher is a gain
    candidates["DEC (tuned)"] = (_runs(0.088, 0.076, 0.0825, 0.0755, 0.0885), [], "dec")
    assert _best_candidate(RunConfig(), candidates) == "DEC (tuned)"


def test_ties_keep_the_starting_point_and_nan_seeds_are_skipped():
    candidates = {"SBERT + KMeans": (_runs(0.1, 0.1), [], "kmeans"), "IDEC (tuned)": (_runs(0.1, math.nan), [], "idec")}
    assert _best_candidate(RunConfig(), candidates) == "SBERT + KMeans"
    candidates["broken"] = (_runs(math.nan), [], "dec")
    assert _best_candidate(RunConfig(), candidates) == "SBERT + KMeans"


def test_davies_bouldin_is_minimised():
    candidates = {"SBERT + KMeans": (_runs(2.0, 2.0), [], "kmeans"), "DEC (tuned)": (_runs(1.5, 1.7), [], "dec")}
    assert _best_candidate(RunConfig(objective="davies_bouldin"), candidates) == "DEC (tuned)"


def test_the_champion_seed_is_the_best_finite_objective_in_the_study_direction():
    from experiments.entry_points import _champion

    runs = _runs(0.1, math.nan, 0.3, 0.2)
    assert _champion(RunConfig(), runs, []) == 2
    assert _champion(RunConfig(objective="davies_bouldin"), runs, []) == 0


def test_wrong_typed_params_name_the_key_and_the_type():
    import pytest

    from experiments.entry_points import _params_from_config

    for params, match in (('{"lr": "fast"}', "params: 'lr' must be a number for method dec"),
                          ('{"latent_dim": "x"}', "params: 'latent_dim' must be a number"),
                          ('{"batch_norm": 1}', "params: 'batch_norm' must be true or false")):
        with pytest.raises(ValueError, match=match) as info:
            _params_from_config(RunConfig(method="dec", params=params))
        assert "\n" not in str(info.value)
    # numbers of either kind are numbers; a setting whose reference is text is left to the estimator
    assert _params_from_config(RunConfig(method="dec", params='{"lr": 1, "epochs": 3}'))["lr"] == 1
    assert _params_from_config(RunConfig(method="pseudolabel", params='{"balance": 0.5}'))["balance"] == 0.5
