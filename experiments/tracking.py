"""MLflow helpers: experiment and parent runs, tags, dataset inputs, figures, tables, redaction.

Also what several workers need to tell each other apart: ``worker_id`` (machine and pid,
tagged on every parent and trial run) and ``is_dead_here``, which a later worker on the
same machine uses to end the runs of one that was killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import tempfile
import warnings
from pathlib import Path

import mlflow

_PASSWORD_IN_URL = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)(?P<secret>[^@\s]*)(?P<tail>@)")
_PASSWORD_PARAM = re.compile(r"(?P<head>password=)(?P<secret>[^&\s]+)", re.IGNORECASE)


def redact(text: str) -> str:
    """Replace passwords in URLs (``user:secret@host``, ``?password=secret``) with ``***``."""
    text = _PASSWORD_IN_URL.sub(lambda m: f"{m['head']}***{m['tail']}", str(text))
    return _PASSWORD_PARAM.sub(lambda m: f"{m['head']}***", text)


def sqlalchemy_url(url: str) -> str:
    """``url`` with an explicit PostgreSQL driver where SQLAlchemy's default is not installed.

    SQLAlchemy 2.1 reads ``postgresql://`` as psycopg 3; the project installs psycopg2, so
    a plain ``postgresql://`` URL is given the ``+psycopg2`` driver when psycopg is absent.
    """
    if not url.startswith(("postgresql://", "postgres://")):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg") is not None:
        return url
    return "postgresql+psycopg2://" + url.split("://", 1)[1]


def this_machine() -> str:
    """Where a process id means something: host name, boot and PID namespace (Linux)."""
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8])
    with contextlib.suppress(OSError):
        parts.append(os.readlink("/proc/self/ns/pid").strip("pid:[]"))
    return "/".join(parts)


def worker_id() -> str:
    """This process as ``<machine>#<pid>``; recorded on parent runs and Optuna trials."""
    return f"{this_machine()}#{os.getpid()}"


def is_dead_here(worker: str) -> bool:
    """True only when ``worker`` ran on this machine and its process is gone.

    A worker elsewhere, or a process id now taken by another process, reads as alive:
    those are left to Optuna's heartbeat, which is slower but sees every machine.
    """
    machine, _, pid = str(worker).rpartition("#")
    if machine != this_machine() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. EPERM: it exists, owned by someone else
        return False
    return False


def git_commit() -> str | None:
    """The commit of the code that runs, or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def check_tracking_server() -> None:
    """Fail fast, in one line, when MLFLOW_TRACKING_URI names a server or database that does not answer."""
    uri = mlflow.get_tracking_uri()
    if uri.startswith(("http://", "https://")):
        uri = _credentials_to_env(uri)
        _check_http(uri)
    elif uri.startswith(("postgresql", "postgres://", "mysql", "mssql")):
        url = sqlalchemy_url(uri)
        if url != uri:
            mlflow.set_tracking_uri(url)  # the same database, through the driver that is installed
        _check_database(url, what="the MLflow tracking database")


def _credentials_to_env(uri: str) -> str:
    """Move ``user:password@`` out of an HTTP tracking URI into MLflow's basic-auth variables.

    MLflow prints its tracking URI in every "View run at" line; without the credentials
    in it, there is nothing to leak. Returns the URI now in use.
    """
    import urllib.parse

    parts = urllib.parse.urlsplit(uri)
    if parts.username is None:
        return uri
    os.environ["MLFLOW_TRACKING_USERNAME"] = urllib.parse.unquote(parts.username)
    if parts.password is not None:
        os.environ["MLFLOW_TRACKING_PASSWORD"] = urllib.parse.unquote(parts.password)
    bare = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    os.environ["MLFLOW_TRACKING_URI"] = bare
    mlflow.set_tracking_uri(bare)
    return bare


def _check_http(uri: str) -> None:
    import base64
    import urllib.error
    import urllib.request

    request = urllib.request.Request(uri.rstrip("/") + "/health")
    if os.environ.get("MLFLOW_TRACKING_USERNAME"):
        token = base64.b64encode(f"{os.environ['MLFLOW_TRACKING_USERNAME']}:"
                                 f"{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        urllib.request.urlopen(request, timeout=5)
    except urllib.error.HTTPError:
        return  # it answered; authentication and the like are MLflow's to report
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ConnectionError(
            f"cannot reach the MLflow tracking server at {redact(uri)} ({redact(getattr(exc, 'reason', exc))}); "
            "start it (e.g. scripts/local_cluster.sh up) or unset MLFLOW_TRACKING_URI to track locally"
        ) from None


def _check_database(url: str, *, what: str) -> None:
    """Open and close one connection to ``url`` within a few seconds, or raise ConnectionError."""
    import sqlalchemy

    try:
        timeout = {"connect_timeout": 10} if url.startswith(("postgres", "mysql")) else {}
        engine = sqlalchemy.create_engine(url, connect_args=timeout, poolclass=sqlalchemy.pool.NullPool)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # a dozen kinds (driver missing, refused, bad password): one line for the user
        raise ConnectionError(f"cannot connect to {what} at {redact(url)}: {first_line(exc)}; "
                              "check the URL and that the database server is running") from None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, redacted; its type when it has none."""
    text = str(exc).strip()
    return redact(text.splitlines()[0] if text else type(exc).__name__)


@contextlib.contextmanager
def parent_run(experiment_name: str, run_name: str):
    """The run this entry point logs to: the one ``mlflow run`` made for us, else a new one.

    ``mlflow run`` passes its run in MLFLOW_RUN_ID (and its experiment); outside it the
    experiment is chosen by name. Either way the run ends FAILED, with the error as a tag,
    if the body raises. The run is tagged with this worker (``machine#pid``) so a later
    worker can tell that it died.
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
    """End the runs among ``run_ids`` still RUNNING with ``status``; tag why. Returns those ended."""
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
    """The runs of ``study_name`` in the experiment that are RUNNING: parents, trials, the rest."""
    from mlflow.entities import ViewType

    quote = '"' if "'" in study_name else "'"
    query = f"tags.study_name = {quote}{study_name}{quote} and attributes.status = 'RUNNING'"
    return mlflow.MlflowClient().search_runs([experiment_id], query, run_view_type=ViewType.ACTIVE_ONLY,
                                             max_results=5000)


def base_tags(config, corpus) -> dict[str, str]:
    tags = {
        "study_name": config.study_name,
        "data_hash": corpus.fingerprint,
        "data_source": redact(corpus.source or config.data),  # the bundled stand-in when the hub was out of reach
        "embedding_model": config.embedding_model,
        "label_peeking": str(config.label_peeking).lower(),
        "objective": config.objective,
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
    mlflow.log_figure(fig, name)
    import matplotlib.pyplot as plt

    plt.close(fig)


def log_frame(frame, name: str) -> None:
    """Log a DataFrame as CSV (and as markdown too when ``name`` ends in .md)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        if name.endswith(".md"):
            path.write_text(frame.to_markdown(index=False) + "\n")
        else:
            frame.to_csv(path, index=False)
        mlflow.log_artifact(str(path))


def log_history(history: dict[str, list[float]], *, prefix: str = "") -> None:
    """Per-epoch series as metrics with ``step=epoch``, in one batched call."""
    from mlflow.entities import Metric
    import time

    now = int(time.time() * 1000)
    metrics = [Metric(f"{prefix}{name}", float(v), now, step) for name, values in history.items()
               for step, v in enumerate(values, start=1)]
    run_id = mlflow.active_run().info.run_id
    client = mlflow.MlflowClient()
    for i in range(0, len(metrics), 1000):  # MLflow's batch limit
        client.log_batch(run_id, metrics=metrics[i : i + 1000], synchronous=True)
