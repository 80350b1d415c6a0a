"""The study's objective as a pure function: suggest -> fit -> score, nothing tracked.

``fit_trial`` is what every trial runs, whoever runs it: the suite's study
(``experiments.tune`` wraps it in a nested MLflow run), and the selection benchmark, which
runs the same study without any tracking. It reads true labels only to *report* them
(``trial_metrics``), never to choose, unless ``objective`` is a label-peeking one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from experiments import evaluation, methods, search_space
from experiments.evaluation import direction, score

__all__ = ["TrialResult", "direction", "fit_trial", "make_pruner", "make_sampler", "queue_first_trials",
           "requeue_lost_first_trials", "score"]
PRUNE_SAMPLE = 2000  # silhouette sample for per-epoch pruning reports


def make_sampler(seed: int):
    """Seeded TPE that never proposes again a method without settings (KMeans) the study has run.

    Such a method has one point, so a second proposal would be the same fit; TPE (random for
    its first trials) would otherwise keep drawing it and the study would spend those trials
    skipping it. The method is drawn again among the others instead.

    Parameters
    ----------
    seed : int
        The sampler's seed (``seed + rank`` for a study's later workers).

    Returns
    -------
    sampler : optuna.samplers.TPESampler
        A TPE sampler with ``constant_liar``, so workers do not propose points next to running trials.
    """
    import optuna
    from optuna.trial import TrialState

    from experiments import methods

    class Sampler(optuna.samplers.TPESampler):
        def __init__(self, seed):
            # constant_liar: a worker does not propose points next to trials still running elsewhere.
            super().__init__(seed=seed, constant_liar=True)
            self._redraw = np.random.RandomState(seed)

        # TPE draws "method" jointly with the other common params (sample_relative) once it has
        # enough trials, and alone (sample_independent) before: both are checked.
        def sample_relative(self, study, trial, search_space):
            params = super().sample_relative(study, trial, search_space)
            if "method" in params:
                params["method"] = self._unspent(study, trial, search_space["method"], params["method"])
            return params

        def sample_independent(self, study, trial, param_name, param_distribution):
            value = super().sample_independent(study, trial, param_name, param_distribution)
            return self._unspent(study, trial, param_distribution, value) if param_name == "method" else value

        def _unspent(self, study, trial, distribution, value):
            ran = {t.params.get("method") for t in study.get_trials(deepcopy=False, states=(
                TrialState.COMPLETE, TrialState.RUNNING)) if t.number != trial.number}
            spent = {m for m in distribution.choices if m in ran and methods.get(m).space is None}
            others = [m for m in distribution.choices if m not in spent]
            return others[self._redraw.randint(len(others))] if value in spent and others else value

    return Sampler(seed)


def make_pruner():
    """The study's pruner: Optuna's median pruner, idle during the first trials and steps.

    Returns
    -------
    pruner : optuna.pruners.MedianPruner
        ``n_startup_trials=3``, ``n_warmup_steps=1``.
    """
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)


def queue_first_trials(study, config) -> bool:
    """Queue ``search_space.first_trials`` in a study that has no trial yet; return whether it did.

    At most ``config.n_trials`` of them: a study smaller than the list runs its head and leaves
    nothing waiting in the queue.

    Parameters
    ----------
    study : optuna.Study
        The study.
    config : RunConfig
        The run's settings (``n_trials`` and what ``first_trials`` reads).

    Returns
    -------
    queued : bool
        True when the study was empty and the trials were queued.
    """
    if study.get_trials(deepcopy=False):
        return False
    for params in search_space.first_trials(config)[: config.n_trials]:
        study.enqueue_trial(params, skip_if_exists=True)
    return True


def requeue_lost_first_trials(study, config, *, room: int) -> list[dict]:
    """Queue again each of ``search_space.first_trials`` whose every trial in ``study`` was lost.

    Lost: FAIL without an ``error`` (its worker was killed mid-trial; ``fail_lost_trials``
    marks them), as opposed to a setting that raised, which would only fail again. Without
    this a study resumed after a kill never runs that reference setting (the seed report's
    DEC, MiniLM + KMeans). Two workers resuming at once may both queue one; the second copy
    is pruned as a duplicate when it starts (``fit_trial``).

    Parameters
    ----------
    study : optuna.Study
        The study.
    config : RunConfig
        The run's settings (``n_trials`` and what ``first_trials`` reads).
    room : int
        The most to queue: the trials the study still has to run (more would stay waiting).

    Returns
    -------
    queued : list of dict
        The params queued.
    """
    import json

    from optuna.trial import TrialState

    def key(params) -> str:
        return json.dumps(params, sort_keys=True, default=str)

    trials = study.get_trials(deepcopy=False)
    queued = []
    for params in search_space.first_trials(config)[: config.n_trials]:
        same = [t for t in trials if key(t.system_attrs.get("fixed_params")) == key(params)]
        if len(queued) < room and same and all(t.state == TrialState.FAIL and "error" not in t.user_attrs for t in same):
            study.enqueue_trial(params)  # not skip_if_exists: that would see the lost trial
            queued.append(params)
    return queued


def _earlier_same(trial) -> int | None:
    """Number of a completed or running trial before ``trial`` in its study with the same params, if any."""
    from optuna.trial import TrialState

    for other in trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)):
        if other.number < trial.number and other.params == trial.params:
            return other.number
    return None


@dataclass
class TrialResult:
    """What one trial produced: its objective value, every metric, and the fitted model.

    Parameters
    ----------
    params : dict
        The suggested params.
    value : float, default=nan
        The objective's value.
    metrics : dict, default={}
        Every metric (``evaluation.metrics``'s, with ``objective``).
    model : estimator, default=None
        The fitted (or partly fitted) estimator.
    """

    params: dict
    value: float = float("nan")
    metrics: dict = field(default_factory=dict)
    model: object = None


def fit_trial(trial, config, X, labels_true, *, n_clusters: int, texts=None, on_params=None,
              result: TrialResult | None = None) -> TrialResult:
    """Suggest a point for ``trial``, fit it on ``X`` (or ``texts``), score it; return the result.

    Every DEC epoch reports the objective of the current assignment to the trial, and
    Optuna's pruner may stop it there. A trial with the same params as an earlier completed
    or running one is pruned before fitting, with the user attribute ``duplicate_of`` (unless
    KMeans is all the study can run: its trials are all the same).

    Parameters
    ----------
    trial : optuna.Trial
        The trial to suggest for and report to.
    config : RunConfig
        The run's settings (``objective``, ``seed``, ``embedding_model``, the search space's).
    X : ndarray of shape (n_samples, n_features)
        The fixed embedding space.
    labels_true : array-like of shape (n_samples,) or None
        The true labels: for the metrics, and for a label-peeking ``objective``.
    n_clusters : int
        The number of clusters.
    texts : list of str, default=None
        The texts, aligned with ``X``, for text-input methods.
    on_params : callable, default=None
        ``on_params(params)``, called with the suggested params before fitting (for logging).
    result : TrialResult, default=None
        Filled in place, to keep what was built so far when the fit raises (the model, for
        its partial history); None: a new one.

    Returns
    -------
    result : TrialResult
        The params, the objective's value, every metric and the fitted model.

    Raises
    ------
    optuna.TrialPruned
        If the pruner stops the trial, or it repeats an earlier one.
    FloatingPointError
        If the objective is not finite.
    """
    import optuna

    result = result if result is not None else TrialResult(params={})

    def report(step, logs):
        if logs["stage"] != "cluster":
            return
        value = score(config.objective, labels_true, logs["labels"], X, texts=texts, n_clusters=n_clusters,
                      sample_size=PRUNE_SAMPLE, random_state=config.seed, quick=True)
        trial.report(value, step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step}")

    result.params = search_space.suggest(trial, config)
    # A study that can only run KMeans has nothing else to try: its trials are all the same.
    only_kmeans = result.params == {"method": methods.STARTING_POINT} and not (
        len(config.search_method_list) > 1 and config.method == "search")
    duplicate = None if only_kmeans else _earlier_same(trial)
    if duplicate is not None:
        # The same fit again: KMeans proposed twice (it has no knob), or a first trial queued
        # twice by workers that joined a new study at once. Pruned without a reported value,
        # it ranks last for the sampler, which moves on, and it does not count as run.
        trial.set_user_attr("duplicate_of", duplicate)
        raise optuna.TrialPruned(f"duplicate of trial {duplicate}")
    if on_params is not None:
        on_params(result.params)
    result.model = search_space.make_estimator(result.params, n_clusters=n_clusters, random_state=config.seed,
                                               embedding_model=config.embedding_model)
    evaluation.fit(result.model, X, texts, callback=report, progress=f"trial {trial.number}")
    result.metrics = evaluation.metrics(result.model, X, labels_true, texts, seed=config.seed)
    result.value = evaluation.objective_value(config.objective, result.metrics, result.model, X, labels_true, texts,
                                              seed=config.seed)
    if not np.isfinite(result.value):
        raise FloatingPointError(f"objective {config.objective} is {result.value}")
    result.metrics["objective"] = result.value
    return result
