"""MLflow helpers: experiment and parent runs, tags, dataset inputs, figures, tables, redaction."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import mlflow

_PASSWORD_IN_URL = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)(?P<secret>[^@\s]*)(?P<tail>@)")
_PASSWORD_PARAM = re.compile(r"(?P<head>password=)(?P<secret>[^&\s]+)", re.IGNORECASE)


def redact(text: str) -> str:
    """Replace passwords in URLs (``user:secret@host``, ``?password=secret``) with ``***``."""
    text = _PASSWORD_IN_URL.sub(lambda m: f"{m['head']}***{m['tail']}", str(text))
    return _PASSWORD_PARAM.sub(lambda m: f"{m['head']}***", text)


def git_commit() -> str | None:
    """The commit of the code that runs, or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def check_tracking_server() -> None:
    """Fail fast, in one line, when MLFLOW_TRACKING_URI names an HTTP server that does not answer."""
    uri = mlflow.get_tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5)
    except (urllib.error.URLError, OSError) as exc:
        raise ConnectionError(
            f"cannot reach the MLflow tracking server at {redact(uri)} ({getattr(exc, 'reason', exc)}); "
            "start it or unset MLFLOW_TRACKING_URI to track locally"
        ) from None


@contextlib.contextmanager
def parent_run(experiment_name: str, run_name: str):
    """The run this entry point logs to: the one ``mlflow run`` made for us, else a new one.

    ``mlflow run`` passes its run in MLFLOW_RUN_ID (and its experiment); outside it the
    experiment is chosen by name. Either way the run ends FAILED if the body raises.
    """
    check_tracking_server()
    if not os.environ.get("MLFLOW_RUN_ID") and not os.environ.get("MLFLOW_EXPERIMENT_ID"):
        mlflow.set_experiment(experiment_name)
    with mlflow.start_run(run_name=None if os.environ.get("MLFLOW_RUN_ID") else run_name) as run:
        if os.environ.get("MLFLOW_RUN_ID"):
            mlflow.set_tag("mlflow.runName", run_name)
        yield run


def base_tags(config, corpus) -> dict[str, str]:
    tags = {
        "study_name": config.study_name,
        "data_hash": corpus.fingerprint,
        "data_source": redact(config.data),
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
    """Log the corpus as an MLflow dataset input, plus its statistics as params."""
    import pandas as pd

    frame = pd.DataFrame({"text": corpus.texts})
    if corpus.labels is not None:
        frame["label"] = corpus.labels
    dataset = mlflow.data.from_pandas(frame, source=redact(source), name=Path(source).name or source,
                                      targets="label" if corpus.labels is not None else None)
    mlflow.log_input(dataset, context=context)
    stats = corpus.stats
    flat = {f"data_{k}": (json.dumps(v) if isinstance(v, dict) else v) for k, v in stats.items()}
    mlflow.log_params({k: str(v)[:6000] for k, v in flat.items()})


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
