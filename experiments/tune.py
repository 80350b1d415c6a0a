"""The Optuna study: every trial a nested MLflow run under the worker's parent run.

The objective is label-free by default: the silhouette of the trial's clusters measured
in the fixed Sentence-BERT space (cosine), so trials are compared in one space that no
trial can reshape. ``objective=nmi|acc|ari`` reads the true labels; such runs are tagged
``label_peeking=true``. Every trial logs every metric either way, so the gap between the
label-free choice and the oracle choice stays visible.

Several workers (processes, machines) given the same ``study_name`` and ``storage`` share
one study and stop at exactly ``n_trials`` completed trials between them. A worker that
dies mid-trial is noticed by the next one to look (at once on the same machine, after
Optuna's heartbeat grace period elsewhere): its trial is marked FAIL, its MLflow runs are
ended, and a rerun of the same command finishes the study.
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import mlflow
import numpy as np
import optuna
from optuna.trial import TrialState

from experiments import search_space
from experiments.objective import TrialResult, direction, fit_trial, make_pruner, make_sampler, queue_first_trials
from experiments.tracking import (end_runs, first_line, is_dead_here, log_history, redact, running_runs,
                                  sqlalchemy_url, this_machine, worker_id)

log = logging.getLogger("experiments")
HEARTBEAT_SECONDS = 10  # a running trial tells the storage it is alive this often;
GRACE_SECONDS = 60  # silent this long, it is failed as stale by the next worker that looks
WAIT_SECONDS = 2.0  # how often a worker waiting for the last trials of others looks again
MAX_FAILURES_IN_A_ROW = 10  # then the search space or the data is wrong, not one trial
CONNECT_TIMEOUT_SECONDS = 10
NOT_RUN = "not run: the study has its n_trials"


def make_storage(url: str, *, on_stale=None):
    """Optuna storage from a SQLAlchemy URL, or a journal file (``*.journal`` / ``journal:PATH``).

    RDB storages (SQLite, PostgreSQL, MySQL) get a heartbeat: a trial whose worker was
    killed is marked FAIL by the next worker that starts a trial, and ``on_stale(study,
    trial)`` is called for it. A server that does not answer fails within
    ``CONNECT_TIMEOUT_SECONDS`` with one line (any password in it shown as ``***``).
    """
    if url.startswith("journal:") or url.endswith(".journal"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(url.removeprefix("journal:")).expanduser()
        if not path.parent.is_dir():
            raise ConnectionError(f"cannot open Optuna journal {path}: folder {path.parent} does not exist")
        return JournalStorage(JournalFileBackend(str(path)))
    engine_kwargs = {"pool_pre_ping": True}
    if url.startswith(("postgres", "mysql")):
        engine_kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    import sqlalchemy.exc

    try:
        for attempt in range(3):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeat_interval
                    return optuna.storages.RDBStorage(
                        sqlalchemy_url(url), heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                        heartbeat_stale_trial_callback=on_stale, engine_kwargs=engine_kwargs)
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
                # Workers starting together on a new database race to create Optuna's tables;
                # the loser finds them there on its next try.
                if attempt == 2:
                    raise
                time.sleep(1 + attempt)
    except Exception as exc:  # sqlalchemy raises a dozen kinds; the user needs one line
        raise ConnectionError(f"cannot open Optuna storage {redact(url)}: {first_line(exc)}; check the URL "
                              "and that its database server is running (storage=sqlite:///optuna.db works "
                              "on one machine)") from None


def check_storage(url: str) -> None:
    """Open ``url`` once and let it go: a bad or unreachable storage fails before any run starts."""
    storage = make_storage(url)
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()


def create_study(config, *, on_stale=None):
    """Create or join the study ``config.study_name`` in ``config.storage``.

    A new study gets ``search_space.first_trials`` queued: the MiniLM + KMeans starting
    point and the seed report's settings, so they are candidates whatever the sampler does.
    """
    study = optuna.create_study(
        study_name=config.study_name,
        storage=make_storage(config.storage, on_stale=on_stale),
        direction=direction(config.objective),
        sampler=make_sampler(config.seed),
        pruner=make_pruner(),
        load_if_exists=True,
    )
    queue_first_trials(study, config)
    return study


def join(study, worker: str) -> int:
    """Register ``worker`` with the study; return its rank (0 for the first worker ever).

    Workers seed their samplers with ``seed + rank``: with one seed, two workers starting
    together would propose the same points. The first worker of a study keeps ``seed``
    itself, so a study run by one worker is reproducible.
    """
    key = f"worker {worker}"
    study.set_user_attr(key, time.time())
    joined = sorted((v, k) for k, v in study.user_attrs.items() if k.startswith("worker "))
    return [k for _, k in joined].index(key)


def run_study(config, X: np.ndarray, labels_true, *, n_clusters: int, texts=None, study=None, echo=print):
    """Run trials until the study has ``config.n_trials`` completed ones, whoever ran them.

    Must be called inside the worker's parent MLflow run; each trial is a nested run.
    Trials that diverge (FloatingPointError) or raise RuntimeError/ValueError are recorded
    as FAIL and the study goes on; ``MAX_FAILURES_IN_A_ROW`` failures in a row stop it.
    ``texts`` (the corpus' texts, aligned with ``X``) are what self-training trials fit.
    """
    parent = mlflow.active_run()
    experiment_id = parent.info.experiment_id
    on_lost = _run_ender(experiment_id, echo)
    study = study or create_study(config, on_stale=on_lost)
    worker = worker_id()
    rank = join(study, worker)
    if rank:
        study.sampler = make_sampler(config.seed + rank)
        mlflow.set_tag("sampler_seed", config.seed + rank)
    deadline = time.monotonic() + config.timeout if config.timeout else None
    recover(study, experiment_id, config.study_name, on_lost=on_lost)
    failures_in_a_row, last_error = 0, ""

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker)
        # Two workers may ask for the last trial at once; the later one waits, and runs only
        # if a trial ahead of it fails, so the study never completes more than n_trials.
        if not _wait_for_room(study, config.n_trials, before=trial.number, deadline=deadline, on_lost=on_lost):
            trial.set_user_attr("not_run", True)
            study.stop()
            raise optuna.TrialPruned(NOT_RUN)
        with mlflow.start_run(run_name=f"trial-{trial.number:03d}", nested=True) as run:
            trial.set_user_attr("mlflow_run_id", run.info.run_id)
            mlflow.set_tags({"optuna.trial": trial.number, "study_name": config.study_name, "stage": "trial",
                             "parent_run": parent.info.run_id, "worker": worker,
                             "label_peeking": str(config.label_peeking).lower()})
            start = time.perf_counter()
            result = TrialResult(params={})
            try:
                fit_trial(trial, config, X, labels_true, n_clusters=n_clusters, texts=texts, result=result,
                          on_params=lambda p: mlflow.log_params({**p, "n_clusters": n_clusters, "seed": config.seed}))
            except optuna.TrialPruned:
                _log_partial(result.model)
                mlflow.set_tag("state", "PRUNED")
                mlflow.end_run("KILLED")
                raise
            except BaseException as exc:  # KeyboardInterrupt too: the run must not stay RUNNING
                _log_partial(result.model)
                error = first_line(exc)[:500]
                trial.set_user_attr("error", f"{type(exc).__name__}: {error}")
                mlflow.set_tags({"state": "FAIL", "error": f"{type(exc).__name__}: {error}"})
                mlflow.end_run("FAILED")
                raise
            metrics = {**result.metrics, "fit_seconds": time.perf_counter() - start}
            for name, v in metrics.items():
                trial.set_user_attr(name, v)
            mlflow.log_metrics(metrics)
            log_history(result.model.history_)
            mlflow.set_tag("state", "COMPLETE")
        return result.value

    def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        nonlocal failures_in_a_row, last_error
        failures_in_a_row = failures_in_a_row + 1 if trial.state == TrialState.FAIL else 0
        last_error = trial.user_attrs.get("error", last_error)
        echo(_progress_line(study, trial, config.objective))
        if failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
            study.stop()
        elif not _wait_for_room(study, config.n_trials, deadline=deadline, on_lost=on_lost):
            study.stop()  # the others' running trials will fill the study

    if _wait_for_room(study, config.n_trials, deadline=deadline, on_lost=on_lost):
        study.optimize(objective, timeout=config.timeout or None, callbacks=[after_trial],
                       catch=(FloatingPointError, RuntimeError, ValueError))
    if failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
        raise RuntimeError(f"{failures_in_a_row} trials in a row failed, the last with {last_error or '?'}; "
                           "check the search space and the data (each trial's run has its error)")
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise RuntimeError(f"no trial of study {config.study_name!r} completed "
                           f"({last_error or 'none finished in time'}); raise timeout or check the trials' runs")
    return study


def recover(study, experiment_id: str, study_name: str, *, on_lost=None) -> None:
    """Tidy up after workers that died: FAIL their trials, end their MLflow runs.

    A RUNNING trial whose worker is gone (a dead process on this machine, or no heartbeat
    for ``GRACE_SECONDS``) becomes FAIL and ``on_lost`` ends its runs. Then any trial run
    still RUNNING whose Optuna trial is not is ended FAILED, and a RUNNING parent run of
    this study whose worker is dead on this machine is ended KILLED with its open children.
    """
    on_lost = on_lost or _run_ender(experiment_id)
    fail_lost_trials(study, on_lost=on_lost)
    open_runs = running_runs(experiment_id, study_name)
    if not open_runs:
        return
    trial_of_run = {t.user_attrs.get("mlflow_run_id"): t for t in study.get_trials(deepcopy=False)}
    finished = [r.info.run_id for r in open_runs
                if r.info.run_id in trial_of_run and trial_of_run[r.info.run_id].state != TrialState.RUNNING]
    end_runs(finished, "FAILED", "its Optuna trial ended while the run was open: the worker died")
    dead = [r.info.run_id for r in open_runs
            if "stage" not in r.data.tags and is_dead_here(r.data.tags.get("worker", ""))]
    end_runs([r.info.run_id for r in open_runs if r.data.tags.get("mlflow.parentRunId") in dead],
             "KILLED", "its worker process is gone")
    end_runs(dead, "KILLED", "its worker process is gone")


def fail_lost_trials(study, *, on_lost=None) -> None:
    """Mark FAIL the RUNNING trials whose worker is gone; ``on_lost(study, trial)`` for each.

    On this machine a dead process is seen at once. Elsewhere Optuna's heartbeat tells:
    ``fail_stale_trials`` fails trials silent for ``GRACE_SECONDS`` and calls the storage's
    stale-trial callback (``make_storage(on_stale=...)``) for them.
    """
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if is_dead_here(trial.user_attrs.get("worker", "")):
            if study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True).state == TrialState.FAIL:
                if on_lost is not None:
                    on_lost(study, trial)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _run_ender(experiment_id: str, echo=None):
    """``on_lost(study, trial)``: end a lost trial's MLflow run FAILED and its parent run KILLED."""

    def on_lost(study, trial) -> None:
        worker = trial.user_attrs.get("worker", "?")
        if echo is not None:
            echo(f"trial {trial.number:3d} FAIL     its worker {worker} stopped mid-trial")
        run_id = trial.user_attrs.get("mlflow_run_id")
        if not run_id:
            return
        reason = f"worker {worker} stopped mid-trial; Optuna marked trial {trial.number} FAIL"
        end_runs([run_id], "FAILED", reason)
        try:
            parent = mlflow.MlflowClient().get_run(run_id).data.tags.get("mlflow.parentRunId")
        except mlflow.exceptions.MlflowException:
            return
        end_runs([parent], "KILLED", reason)

    return on_lost


def _wait_for_room(study, n_trials: int, *, before: int | None = None, deadline=None, on_lost=None) -> bool:
    """Whether one more trial may run: True when the completed trials plus the running ones
    (those numbered below ``before``, or all) are fewer than ``n_trials``.

    While the running ones could still fill the study, wait: each either completes (then
    False) or fails, is pruned or loses its worker (then True). False also at ``deadline``.
    A running trial that nobody could declare lost (no heartbeat in the storage, and a
    worker on another machine) is not waited for.
    """
    heartbeat = _has_heartbeat(study)
    here = this_machine()
    while True:
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
        complete = sum(t.state == TrialState.COMPLETE for t in trials)
        ahead = [t for t in trials if t.state == TrialState.RUNNING and (before is None or t.number < before)
                 and (heartbeat or t.user_attrs.get("worker", "").rpartition("#")[0] == here)]
        if complete >= n_trials:
            return False
        if complete + len(ahead) < n_trials:
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(WAIT_SECONDS)
        fail_lost_trials(study, on_lost=on_lost)


def _has_heartbeat(study) -> bool:
    # Study keeps its storage private; RDB storages made by make_storage have a heartbeat.
    interval = getattr(getattr(study, "_storage", None), "get_heartbeat_interval", lambda: None)
    return interval() is not None


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


def _log_partial(model) -> None:
    history = getattr(model, "history_", None)
    if history:
        log_history(history)


def _best_or_none(study):
    try:
        return study.best_trial
    except ValueError:
        return None
