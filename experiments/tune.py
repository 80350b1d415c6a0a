"""Run the study: trials until it holds ``n_trials`` that ran (completed or pruned), whoever ran them.

The objective is label-free by default: the silhouette of the trial's clusters measured
in the fixed Sentence-BERT space (cosine), so trials are compared in one space that no
trial can reshape. ``objective=nmi|acc|ari`` reads the true labels; such runs are tagged
``label_peeking=true``. Every trial records every metric either way, so the gap between the
label-free choice and the oracle choice stays visible.

Three parts meet here and nowhere else: the trial itself (``objective.fit_trial``, a pure
function), the study's mechanics (``study``: storage, workers, recovery) and, when asked,
tracking (``tracking.TrialTracker``: each trial a nested MLflow run under the worker's
parent run).
"""

from __future__ import annotations

import contextlib
import time

import numpy as np
import optuna
from optuna.trial import TrialState

from experiments import study as mechanics
from experiments.objective import TrialResult, fit_trial, make_sampler, requeue_lost_first_trials
from experiments.preflight import first_line
from experiments.study import create_study

MAX_FAILURES_IN_A_ROW = 10  # then the search space or the data is wrong, not one trial
NOT_RUN = "not run: the study has its n_trials"


class _Untracked:
    """What ``run_study(track=False)`` uses in place of a tracker: nothing is recorded."""

    def __init__(self, echo):
        self.echo = echo

    def on_lost(self, study, trial) -> None:
        self.echo(f"trial {trial.number:3d} FAIL     its worker {trial.user_attrs.get('worker', '?')} stopped mid-trial")

    def recover(self, study) -> None:
        mechanics.fail_lost_trials(study, on_lost=self.on_lost)

    def worker_rank(self, rank: int, seed: int) -> None:
        pass

    def trial(self, trial, config, n_clusters):
        return contextlib.nullcontext(_NullTrialLog())


class _NullTrialLog:
    def params(self, params) -> None:
        pass

    def failed(self, model, state: str, error: str = "") -> None:
        pass

    def completed(self, model, metrics: dict) -> None:
        pass


def run_study(config, X: np.ndarray, labels_true, *, n_clusters: int, texts=None, study=None, echo=print,
              track=True):
    """Run trials until the study has ``config.n_trials`` that ran (``study.counts``), whoever ran them.

    Trials that diverge (FloatingPointError) or raise RuntimeError/ValueError are recorded
    as FAIL and the study goes on; ``MAX_FAILURES_IN_A_ROW`` failures in a row stop it.

    Parameters
    ----------
    config : RunConfig
        The run's settings (``study_name``, ``storage``, ``n_trials``, ``timeout``, ``seed``,
        ``objective`` and the search space's).
    X : ndarray of shape (n_samples, n_features)
        The fixed embedding space the trials fit and are scored in.
    labels_true : array-like of shape (n_samples,) or None
        The true labels: reported for every trial, read to choose only by a label-peeking objective.
    n_clusters : int
        The number of clusters.
    texts : list of str, default=None
        The corpus' texts, aligned with ``X``: what text-input methods (self-training) fit.
    study : optuna.Study, default=None
        The study to run; None: create or join ``config.study_name`` (``study.create_study``).
    echo : callable, default=print
        ``echo(line)``, told of each trial as it ends.
    track : bool or TrialTracker, default=True
        True: each trial is a nested run under the worker's parent MLflow run, inside which
        this must be called; a ``tracking.TrialTracker`` to use; False: nothing is tracked.

    Returns
    -------
    study : optuna.Study
        The study, holding at least one completed trial.

    Raises
    ------
    RuntimeError
        If ``MAX_FAILURES_IN_A_ROW`` trials in a row failed, or no trial completed (in time).
    ConnectionError
        If the study's storage cannot be opened.
    """
    if track is True:
        from experiments.tracking import TrialTracker

        tracker = TrialTracker(config.study_name, echo=echo)
    elif track:
        tracker = track
    else:
        tracker = _Untracked(echo)
    study = study or create_study(config, on_stale=tracker.on_lost)
    worker = mechanics.worker_id()
    rank = mechanics.join(study, worker)
    if rank:
        study.sampler = make_sampler(config.seed + rank)
        tracker.worker_rank(rank, config.seed + rank)
    deadline = time.monotonic() + config.timeout if config.timeout else None
    tracker.recover(study)
    room = config.n_trials - sum(mechanics.counts(t) for t in study.get_trials(deepcopy=False))
    for params in requeue_lost_first_trials(study, config, room=room):
        echo(f"queued again: {params} (its trial was lost with its worker)")
    failures_in_a_row, last_error = 0, ""

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker)
        # Two workers may ask for the last trial at once; the later one waits, and runs only
        # if a trial ahead of it fails, so the study never runs more than n_trials.
        if not mechanics.wait_for_room(study, config.n_trials, before=trial.number, deadline=deadline,
                                       on_lost=tracker.on_lost):
            trial.set_user_attr("not_run", True)
            study.stop()
            raise optuna.TrialPruned(NOT_RUN)
        with tracker.trial(trial, config, n_clusters) as log:
            start = time.perf_counter()
            result = TrialResult(params={})
            try:
                fit_trial(trial, config, X, labels_true, n_clusters=n_clusters, texts=texts, result=result,
                          on_params=log.params)
            except optuna.TrialPruned:
                log.failed(result.model, "PRUNED")
                raise
            except BaseException as exc:  # KeyboardInterrupt too: the run must not stay RUNNING
                error = f"{type(exc).__name__}: {first_line(exc)[:500]}"
                trial.set_user_attr("error", error)
                log.failed(result.model, "FAIL", error)
                raise
            metrics = {**result.metrics, "fit_seconds": time.perf_counter() - start}
            for name, v in metrics.items():
                trial.set_user_attr(name, v)
            log.completed(result.model, metrics)
        return result.value

    def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        nonlocal failures_in_a_row, last_error
        failures_in_a_row = failures_in_a_row + 1 if trial.state == TrialState.FAIL else 0
        last_error = trial.user_attrs.get("error", last_error)
        echo(_progress_line(study, trial, config.objective))
        if failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
            study.stop()
        elif not mechanics.wait_for_room(study, config.n_trials, deadline=deadline, on_lost=tracker.on_lost):
            study.stop()  # the others' running trials will fill the study

    if mechanics.wait_for_room(study, config.n_trials, deadline=deadline, on_lost=tracker.on_lost):
        study.optimize(objective, timeout=config.timeout or None, callbacks=[after_trial],
                       catch=(FloatingPointError, RuntimeError, ValueError))
    if failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
        raise RuntimeError(f"{failures_in_a_row} trials in a row failed, the last with {last_error or '?'}; "
                           "check the search space and the data (each trial's run has its error)")
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise RuntimeError(f"no trial of study {config.study_name!r} completed "
                           f"({last_error or 'none finished in time'}); raise timeout or check the trials' runs")
    return study


def _progress_line(study, trial, objective: str) -> str:
    if trial.user_attrs.get("not_run"):
        return f"trial {trial.number:3d} {NOT_RUN}"
    if "duplicate_of" in trial.user_attrs:
        return f"trial {trial.number:3d} SKIPPED  KMeans again: the same fit as trial {trial.user_attrs['duplicate_of']}"
    best = _best_or_none(study)
    shown = {k: (f"{v:.3g}" if isinstance(v, float) else v) for k, v in trial.params.items()}
    value = "-" if trial.value is None else f"{trial.value:.4f}"
    acc = trial.user_attrs.get("acc")
    extra = "" if acc is None else f" (acc {acc:.3f}, nmi {trial.user_attrs['nmi']:.3f})"
    error = f" {trial.user_attrs['error']}" if trial.state == TrialState.FAIL and "error" in trial.user_attrs else ""
    return (f"trial {trial.number:3d} {trial.state.name:8s} {objective}={value}{extra}{error} "
            f"best={'-' if best is None else f'{best.value:.4f} (#{best.number})'} {shown}")


def _best_or_none(study):
    try:
        return study.best_trial
    except ValueError:
        return None
