"""experiments/objective.py: the study's objective without any tracking."""

import subprocess
import sys

import numpy as np
import optuna
import pytest
from sklearn.datasets import make_blobs

from experiments import search_space
from experiments.config import RunConfig
from experiments.evaluation import cross_view_scorer
from experiments.objective import TrialResult, fit_trial, make_pruner, make_sampler, queue_first_trials, score


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=90, n_features=8, centers=3, cluster_std=0.5, random_state=0)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(np.float32), y


def test_importing_the_objective_imports_no_tracking():
    code = "import sys, experiments.objective; print(sorted(m for m in ('mlflow', 'optuna') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_study_of_pure_trials_starts_from_kmeans(blobs):
    X, y = blobs
    # embeddings without texts: the methods that fit texts (pseudo-labelling) are left out
    config = RunConfig(n_clusters="3", max_pretrain_epochs=3, max_epochs=2, search_methods="kmeans,dec,idec")
    study = optuna.create_study(direction="maximize", sampler=make_sampler(0), pruner=make_pruner())
    queue_first_trials(study, config)
    results = []

    def objective(trial):
        results.append(fit_trial(trial, config, X, y, n_clusters=3))
        return results[-1].value

    study.optimize(objective, n_trials=4)
    assert [r.params["method"] for r in results[:3]] == ["kmeans", "dec", "idec"]
    for r in results:
        # the value is the label-free objective of the fitted labels, in the fixed space (its one view here)
        assert r.value == pytest.approx(cross_view_scorer(X, None, 3, 0).score(r.model.labels_))
        assert r.metrics["objective"] == r.value and {"acc", "nmi", "latent_silhouette"} <= set(r.metrics)
    assert results[0].metrics["acc"] == 1.0  # well separated blobs: KMeans is right
    # a second call on a study that has trials queues nothing
    queue_first_trials(study, config)
    assert len(study.get_trials(states=(optuna.trial.TrialState.WAITING,))) == 0
    # a study of fewer trials than the first points queues only as many as it runs
    small = optuna.create_study(direction="maximize")
    queue_first_trials(small, RunConfig(n_clusters="3", n_trials=2))
    waiting = small.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert [t.params.get("method", t.system_attrs.get("fixed_params", {}).get("method")) for t in waiting] == [
        "kmeans", "dec"]


def test_a_lost_reference_trial_is_queued_again_but_not_one_that_raised():
    from optuna.trial import TrialState

    from experiments.objective import requeue_lost_first_trials

    config = RunConfig(n_clusters="3", n_trials=5, search_methods="kmeans,dec,idec")
    study = optuna.create_study(direction="maximize")
    queue_first_trials(study, config)
    kmeans, dec, idec = (study.ask() for _ in range(3))  # popped from the queue, as workers would
    study.tell(kmeans, 1.0)
    study.tell(dec, state=TrialState.FAIL)  # its worker was killed (fail_lost_trials marks it so)
    idec.set_user_attr("error", "ValueError: diverged")
    study.tell(idec, state=TrialState.FAIL)
    queued = requeue_lost_first_trials(study, config, room=4)
    assert [p["method"] for p in queued] == ["dec"]
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert [t.system_attrs["fixed_params"] for t in waiting] == queued
    # run again: the lost one is waiting now, nothing more is queued; and never past the room left
    assert requeue_lost_first_trials(study, config, room=4) == []
    other = optuna.create_study(direction="maximize")
    queue_first_trials(other, config)
    for _ in range(3):
        other.tell(other.ask(), state=TrialState.FAIL)
    assert len(requeue_lost_first_trials(other, config, room=1)) == 1


def test_a_failing_fit_keeps_what_was_built(blobs):
    X, y = blobs
    config = RunConfig(method="dec", n_clusters="3", max_pretrain_epochs=2, max_epochs=2)
    trial = optuna.create_study().ask()
    result = TrialResult(params={})
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit_trial(trial, config, bad, y, n_clusters=3, result=result)
    assert result.params["method"] == "dec" and result.model is not None


def test_label_peeking_objectives_need_labels(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="needs true labels"):
        score("nmi", None, np.zeros(len(X), dtype=int), X)


def test_kmeans_proposed_again_is_pruned_not_refitted(blobs):
    X, y = blobs
    config = RunConfig(n_clusters="3", search_methods="kmeans,dec")
    study = optuna.create_study(direction="maximize")
    for _ in range(2):
        study.enqueue_trial({"method": "kmeans"})
    fitted = []
    study.optimize(lambda t: fitted.append(fit_trial(t, config, X, y, n_clusters=3)) or fitted[-1].value, n_trials=2)
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED] and len(fitted) == 1
    assert study.trials[1].user_attrs["duplicate_of"] == 0
    # the first trials queued twice (two workers creating the study at once): each is fitted once
    study = optuna.create_study(direction="maximize")
    for _ in range(2):  # each found the study empty
        for params in search_space.first_trials(config):
            study.enqueue_trial(params)
    n_first = len(search_space.first_trials(config))
    study.optimize(lambda t: fit_trial(t, config, X, y, n_clusters=3).value, n_trials=2 * n_first)
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * n_first + [optuna.trial.TrialState.PRUNED] * n_first
    assert [t.user_attrs["duplicate_of"] for t in study.trials[n_first:]] == list(range(n_first))
    # a study that can only run KMeans completes every trial
    only = RunConfig(n_clusters="3", method="kmeans")
    study = optuna.create_study(direction="maximize")
    study.optimize(lambda t: fit_trial(t, only, X, y, n_clusters=3).value, n_trials=2)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2


def test_the_sampler_never_proposes_kmeans_again_once_it_ran(blobs):
    X, y = blobs
    config = RunConfig(n_clusters="3", max_pretrain_epochs=2, max_epochs=2, search_methods="kmeans,dec,idec")
    study = optuna.create_study(direction="maximize", sampler=make_sampler(0))
    study.enqueue_trial({"method": "kmeans"})
    proposed = []
    for _ in range(12):  # the first ten are TPE's random start-up trials
        trial = study.ask()
        proposed.append(search_space.suggest(trial, config)["method"])
        study.tell(trial, 0.5 if proposed[-1] == "kmeans" else 0.1)  # KMeans looks best to TPE
    assert proposed[0] == "kmeans" and "kmeans" not in proposed[1:]
    assert {"dec", "idec"} <= set(proposed[1:])
    # with only KMeans to choose from, the sampler keeps proposing it
    only = optuna.create_study(sampler=make_sampler(0))
    for _ in range(3):
        trial = only.ask()
        assert search_space.suggest(trial, RunConfig(n_clusters="3", search_methods="kmeans"))["method"] == "kmeans"
        only.tell(trial, 0.0)


def test_the_default_objective_sees_the_lexical_view(blobs):
    """The same embeddings, texts whose words split them otherwise: the score changes with the texts."""
    X, y = blobs
    words = np.array(["alpha beta", "gamma delta", "epsilon zeta"])
    agree = [f"{words[c]} item{i}" for i, c in enumerate(y)]
    disagree = [f"{words[(c + i) % 3]} item{i}" for i, c in enumerate(y)]
    with_words = score("cross_view", None, y, X, texts=agree, n_clusters=3)
    against_words = score("cross_view", None, y, X, texts=disagree, n_clusters=3)
    assert with_words > against_words
    assert score("cross_view", None, y, X, n_clusters=3) == pytest.approx(cross_view_scorer(X, None, 3, 0).score(y))
