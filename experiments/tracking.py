"""MLflow logging: parent runs, trials as nested runs (``TrialTracker``), tags, dataset inputs, figures, tables.

And closing the runs of workers that died. The checks made before any run exists (servers,
databases, redaction) are ``preflight``'s; which worker is which is ``study``'s.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import mlflow
from optuna.trial import TrialState

from experiments.preflight import check_tracking_server, first_line, redact
from experiments.study import fail_lost_trials, is_dead_here, worker_id


def git_commit() -> str | None:
    """The commit of the code that runs, or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@contextlib.contextmanager
def parent_run(experiment_name: str, run_name: str):
    """The run this entry point logs to: the one ``mlflow run`` made for us, else a new one.

    ``mlflow run`` passes its run in MLFLOW_RUN_ID (and its experiment); outside it the
    experiment is chosen by name. Either way the run ends FAILED, with the error as a tag,
    if the body raises. The run is tagged with this worker (``machine#pid``) so a later
    worker can tell that it died.

    Parameters
    ----------
    experiment_name, run_name : str

    Yields
    ------
    run : mlflow.ActiveRun

    Raises
    ------
    ValueError
        If ``mlflow run`` has logged a password among the run's params.
    """
    check_tracking_server()
    given = os.environ.get("MLFLOW_RUN_ID")  # start_run takes it out of the environment
    if not given and not os.environ.get("MLFLOW_EXPERIMENT_ID"):
        experiment = mlflow.set_experiment(experiment_name)
        # When two workers create the experiment at once, the loser's set_experiment returns
        # it without making it active (MLflow 3.17), and its runs would land in Default.
        mlflow.set_experiment(experiment_id=experiment.experiment_id)
    with mlflow.start_run(run_name=None if given else run_name) as run:
        if given:
            _refuse_logged_secrets(run)
            mlflow.MlflowClient().update_run(run.info.run_id, name=run_name)  # the UI shows this name
        mlflow.set_tag("worker", worker_id())
        try:
            yield run
        except BaseException as exc:
            with contextlib.suppress(Exception):
                mlflow.set_tag("error", first_line(exc)[:500])
            raise


def _refuse_logged_secrets(run) -> None:
    """``mlflow run`` logs every ``-P`` value as given; a password among them is already stored.

    Nothing can take a param back, so the worker stops before doing anything and says how
    to remove the run (``mlflow run`` itself then marks it FAILED) and how to pass the
    password the way PostgreSQL's client reads it instead.
    """
    params = mlflow.MlflowClient().get_run(run.info.run_id).data.params
    leaked = sorted(k for k, v in params.items() if redact(v) != v)
    if leaked:
        raise ValueError(
            f"{', '.join(leaked)} holds a password, and `mlflow run` has logged it as a param of run "
            f"{run.info.run_id}: remove that run (mlflow runs delete --run-id {run.info.run_id}; mlflow gc) "
            "and pass the password in PGPASSWORD or a PGPASSFILE instead of the URL"
        )


def end_runs(run_ids, status: str, reason: str) -> list[str]:
    """End the runs among ``run_ids`` still RUNNING with ``status``; tag why. Returns the ids of those ended.

    Parameters
    ----------
    run_ids : iterable of str
    status, reason : str
    """
    client = mlflow.MlflowClient()
    ended = []
    for run_id in dict.fromkeys(r for r in run_ids if r):
        try:
            if client.get_run(run_id).info.status != "RUNNING":
                continue
            client.set_tag(run_id, "ended_by", reason[:500])
            client.set_terminated(run_id, status)
        except mlflow.exceptions.MlflowException:
            continue  # deleted meanwhile, or in another tracking store
        ended.append(run_id)
    return ended


def running_runs(experiment_id: str, study_name: str) -> list:
    """The RUNNING runs (``mlflow.entities.Run``) of ``study_name`` in the experiment: parents, trials, the rest.

    Parameters
    ----------
    experiment_id, study_name : str
    """
    from mlflow.entities import ViewType

    quote = '"' if "'" in study_name else "'"
    query = f"tags.study_name = {quote}{study_name}{quote} and attributes.status = 'RUNNING'"
    return mlflow.MlflowClient().search_runs([experiment_id], query, run_view_type=ViewType.ACTIVE_ONLY,
                                             max_results=5000)


def training_precision() -> str:
    """The arithmetic of the autoencoders' matrix products here: what DEC, IDEC and AE + KMeans
    train in at their default ``precision="auto"`` (results differ slightly between the two)."""
    from clustering._train import resolve_precision
    from clustering._utils import resolve_device

    return resolve_precision("auto", resolve_device(None))


def base_tags(config, corpus) -> dict[str, str]:
    """The tags of every run of ``config`` (a RunConfig) on ``corpus``: study, data, objective, commit."""
    tags = {
        "study_name": config.study_name,
        "data_hash": corpus.fingerprint,
        "data_source": redact(corpus.source or config.data),  # the bundled stand-in when the hub was out of reach
        "embedding_model": config.embedding_model,
        "label_peeking": str(config.label_peeking).lower(),
        "objective": config.objective,
        # what the autoencoders' default precision ("auto") resolved to on this machine
        "training_precision": training_precision(),
    }
    commit = git_commit()
    if commit:
        tags["mlflow.source.git.commit"] = commit
        tags["git_commit"] = commit
    return tags


def log_corpus(corpus, source: str, *, context: str = "training") -> None:
    """Log the corpus as an MLflow dataset input, plus its statistics as params.

    ``source`` is where the texts came from (``corpus.source``): a hub id is logged as a
    Hugging Face source, a bundled dataset by its file inside the package, a path as itself.

    Parameters
    ----------
    corpus : clustering.data.Corpus
    source : str
    context : str, default="training"
    """
    import pandas as pd

    frame = pd.DataFrame({"text": corpus.texts})
    if corpus.labels is not None:
        frame["label"] = corpus.labels
    with warnings.catch_warnings():
        # A local path matches both of MLflow's local-file source kinds, which are the same class.
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")
        dataset = mlflow.data.from_pandas(frame, source=_dataset_source(source), name=Path(source).name or source,
                                          targets="label" if corpus.labels is not None else None)
    try:
        mlflow.log_input(dataset, context=context)
    except mlflow.exceptions.MlflowException as exc:
        # Workers that start together create the same dataset row at once; the loser's insert
        # hits the store's unique key, and a second call finds the row the winner made.
        if "unique" not in str(exc).lower():
            raise
        mlflow.log_input(dataset, context=context)
    stats = corpus.stats
    flat = {f"data_{k}": (json.dumps(v) if isinstance(v, dict) else v) for k, v in stats.items()}
    mlflow.log_params({k: str(v)[:6000] for k, v in flat.items()})


def _dataset_source(source: str):
    """A hub id as a Hugging Face source; a bundled dataset as its file inside the package; a path as itself."""
    from clustering.data import BUNDLED, is_hub_id

    if source in BUNDLED:
        return f"clustering/datasets/{BUNDLED[source]}"
    if is_hub_id(source):
        from mlflow.data.huggingface_dataset_source import HuggingFaceDatasetSource

        return HuggingFaceDatasetSource(path=source)
    return redact(source)


def log_figure(fig, name: str) -> None:
    """Log the matplotlib Figure ``fig`` as the artifact ``name``, then close it."""
    mlflow.log_figure(fig, name)
    import matplotlib.pyplot as plt

    plt.close(fig)


def log_frame(frame, name: str) -> None:
    """Log the DataFrame ``frame`` as the artifact ``name``: markdown when it ends in .md, else CSV."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        if name.endswith(".md"):
            path.write_text(frame.to_markdown(index=False) + "\n")
        else:
            frame.to_csv(path, index=False)
        mlflow.log_artifact(str(path))


def log_history(history: dict[str, list[float]], *, prefix: str = "") -> None:
    """Log per-epoch series (``{name: values}``) as metrics ``<prefix><name>`` with ``step=epoch``, batched."""
    from mlflow.entities import Metric
    import time

    now = int(time.time() * 1000)
    metrics = [Metric(f"{prefix}{name}", float(v), now, step) for name, values in history.items()
               for step, v in enumerate(values, start=1)]
    run_id = mlflow.active_run().info.run_id
    client = mlflow.MlflowClient()
    for i in range(0, len(metrics), 1000):  # MLflow's batch limit
        client.log_batch(run_id, metrics=metrics[i : i + 1000], synchronous=True)


class TrialTracker:
    """Tracking attached to a study from outside: each trial a nested MLflow run under the active parent run.

    Made inside that run (``parent_run``; RuntimeError outside one). A trial's run holds its params, every
    metric, per-epoch history and state; runs of trials whose worker died are ended FAILED (their parent KILLED).

    Parameters
    ----------
    study_name : str
    echo : callable, default=None
        ``echo(line)``, told of each lost trial.

    Attributes
    ----------
    parent_id, experiment_id : str
    seconds : float
        The wall time spent in the tracker, for the speed benchmark.
    """

    def __init__(self, study_name: str, *, echo=None):
        parent = mlflow.active_run()
        if parent is None:
            raise RuntimeError("a tracked study runs inside a parent MLflow run (experiments.tracking.parent_run)")
        self.parent_id, self.experiment_id = parent.info.run_id, parent.info.experiment_id
        self.study_name = study_name
        self._end_lost = run_ender(self.experiment_id, echo)
        self.seconds = 0.0

    @contextlib.contextmanager
    def _timed(self):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - start

    def on_lost(self, study, trial) -> None:
        """End the MLflow runs of ``trial``, lost with its worker (``run_ender``'s)."""
        with self._timed():
            self._end_lost(study, trial)

    def recover(self, study) -> None:
        """Tidy up after the study's dead workers (``recover``)."""
        with self._timed():
            recover(study, self.experiment_id, self.study_name, on_lost=self._end_lost)

    def worker_rank(self, rank: int, sampler_seed: int) -> None:
        """Tag the parent run with the seed of this worker's sampler."""
        with self._timed():
            mlflow.set_tag("sampler_seed", sampler_seed)

    @contextlib.contextmanager
    def trial(self, trial, config, n_clusters: int):
        """The trial's nested run, tagged and named ``trial-<number>``.

        Yields
        ------
        log : object
            Its ``params(params)``, ``completed(model, metrics)`` and ``failed(model, state, error="")``.
        """
        with self._timed():
            context = mlflow.start_run(run_name=f"trial-{trial.number:03d}", nested=True)
            run = context.__enter__()
            trial.set_user_attr("mlflow_run_id", run.info.run_id)
            mlflow.set_tags({"optuna.trial": trial.number, "study_name": self.study_name, "stage": "trial",
                             "parent_run": self.parent_id, "worker": trial.user_attrs.get("worker", worker_id()),
                             "label_peeking": str(config.label_peeking).lower()})
        try:
            yield _TrialRun(self, n_clusters, config.seed)
        except BaseException as exc:
            with self._timed():
                if not context.__exit__(type(exc), exc, exc.__traceback__):
                    raise
        else:
            with self._timed():
                context.__exit__(None, None, None)


class _TrialRun:
    def __init__(self, tracker: TrialTracker, n_clusters: int, seed: int):
        self.tracker, self.n_clusters, self.seed = tracker, n_clusters, seed

    def params(self, params: dict) -> None:
        with self.tracker._timed():
            mlflow.log_params({**params, "n_clusters": self.n_clusters, "seed": self.seed})

    def failed(self, model, state: str, error: str = "") -> None:
        """End the run: KILLED for a pruned trial, FAILED for one that raised; its history so far kept."""
        with self.tracker._timed():
            history = getattr(model, "history_", None)
            if history:
                log_history(history)
            mlflow.set_tags({"state": state, **({"error": error} if error else {})})
            mlflow.end_run("KILLED" if state == "PRUNED" else "FAILED")

    def completed(self, model, metrics: dict) -> None:
        with self.tracker._timed():
            mlflow.log_metrics(metrics)
            log_history(model.history_)
            mlflow.set_tag("state", "COMPLETE")


def recover(study, experiment_id: str, study_name: str, *, on_lost=None) -> None:
    """Tidy up after workers that died: FAIL their trials, end their MLflow runs.

    A RUNNING trial whose worker is gone (a dead process on this machine, or no heartbeat
    for ``GRACE_SECONDS``) becomes FAIL and ``on_lost`` ends its runs. Then any trial run
    still RUNNING whose Optuna trial is not is ended FAILED, and a RUNNING parent run of
    this study whose worker is dead on this machine is ended KILLED with its open children.

    Parameters
    ----------
    study : optuna.Study
    experiment_id, study_name : str
    on_lost : callable, default=None
        ``on_lost(study, trial)``; None: ``run_ender(experiment_id)``.
    """
    on_lost = on_lost or run_ender(experiment_id)
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


def run_ender(experiment_id: str, echo=None):
    """``on_lost(study, trial)``: end a lost trial's MLflow run FAILED and its parent run KILLED.

    Parameters
    ----------
    experiment_id : str
    echo : callable, default=None
        ``echo(line)``, told of each lost trial.
    """

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
