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


def test_ties_keep_the_starting_point_and_nan_seeds_are_skipped():
    candidates = {"SBERT + KMeans": (_runs(0.1, 0.1), [], "kmeans"), "IDEC (tuned)": (_runs(0.1, math.nan), [], "idec")}
    assert _best_candidate(RunConfig(), candidates) == "SBERT + KMeans"
    candidates["broken"] = (_runs(math.nan), [], "dec")
    assert _best_candidate(RunConfig(), candidates) == "SBERT + KMeans"


def test_davies_bouldin_is_minimised():
    candidates = {"SBERT + KMeans": (_runs(2.0, 2.0), [], "kmeans"), "DEC (tuned)": (_runs(1.5, 1.7), [], "dec")}
    assert _best_candidate(RunConfig(objective="davies_bouldin"), candidates) == "DEC (tuned)"
