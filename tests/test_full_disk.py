"""A full disk under a real run: one line naming the store, nothing half-written, no alias moved.

Each case mounts a small real tmpfs where the store lives (root and mount rights needed; the
test skips with one line saying so elsewhere) and runs the `evaluate` entry point in a new
process, as a user would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import mlflow
import pytest

from experiments import entry_points

EVALUATE = ["-m", "experiments", "evaluate", "--data", "ag_news_test", "--method", "kmeans", "--n_per_class", "10",
            "--n_seeds", "1", "--tsne_points", "40", "--model_name", "full-disk"]


@pytest.fixture
def tiny_filesystem():
    """``mount(folder, size)``: a real tmpfs of ``size`` (e.g. "200k") on ``folder``, unmounted afterwards."""
    mounted = []

    def mount(folder: Path, size: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a {size} tmpfs for a real full disk here (needs root and mount rights): "
                        f"{(done.stderr or done.stdout).strip()[:200]}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "--lazy", str(folder)], capture_output=True)  # the test's own client may hold a file open


def _run(cwd: Path, tracking_uri: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {"MLFLOW_TRACKING_URI": tracking_uri, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, *EVALUATE], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.slow
def test_a_full_artifact_store_is_one_line_and_leaves_no_model_folder_and_no_version(tmp_path, tiny_filesystem):
    # room for the run's figures and tables, not for the model (its code alone is ~300 KB)
    store = tiny_filesystem(tmp_path / "mlruns", "200k")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = _run(tmp_path, uri)
    assert done.returncode == 2, done.stdout[-1500:] + done.stderr[-1500:]
    assert _lines(done.stderr) == [f"error: no space left on {store}; free space there or point the MLflow artifact "
                                   "store (MLFLOW_TRACKING_URI, or a server's --artifacts-destination) elsewhere"]
    assert list(store.rglob("comparison.md")), "the run's own artifacts were written: the model was what did not fit"
    models = [p for p in store.rglob("models/*") if p.is_dir()]
    assert not models, f"a half-written model folder is left: {models}"
    client = mlflow.MlflowClient(uri)
    assert client.search_registered_models() == []
    parent = [r for r in client.search_runs([e.experiment_id for e in client.search_experiments()])
              if r.data.tags.get("entry_point") == "evaluate"]
    assert [r.info.status for r in parent] == ["FAILED"] and "no space left" in parent[0].data.tags["error"]


@pytest.mark.slow
def test_a_full_tracking_database_is_one_line_and_moves_no_alias(tmp_path, tiny_filesystem):
    first = tmp_path / "mlflow.db"
    done = _run(tmp_path, f"sqlite:///{first}")  # version 1, the champion, on a disk with room
    assert done.returncode == 0, done.stderr[-2000:]
    # the same database on a disk that has room for it and hardly a page more
    folder = tiny_filesystem(tmp_path / "db", f"{(first.stat().st_size // 4096 + 1) * 4 + 8}k")
    shutil.copy(first, folder / "mlflow.db")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    done = _run(tmp_path, uri)
    assert done.returncode == 2
    assert _lines(done.stderr) == [f"error: no space left for the MLflow tracking database ({folder / 'mlflow.db'}); "
                                   "free space there or point MLFLOW_TRACKING_URI elsewhere"]
    assert "Traceback" not in done.stdout + done.stderr
    client = mlflow.MlflowClient(uri)
    assert [int(v.version) for v in client.search_model_versions("name = 'full-disk'")] == [1]
    assert int(client.get_model_version_by_alias("full-disk", "champion").version) == 1


def test_a_run_that_fails_after_registering_deletes_its_version_and_moves_no_alias(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = mlflow.MlflowClient(uri)
    config = SimpleNamespace(model_name="late-failure")

    def register() -> str:
        if not client.search_registered_models(f"name = '{config.model_name}'"):
            client.create_registered_model(config.model_name)
        return client.create_model_version(config.model_name, source=str(tmp_path / "model")).version

    with entry_points._registration(config) as registered:
        registered["version"] = register()
    assert int(client.get_model_version_by_alias(config.model_name, "champion").version) == 1
    with pytest.raises(OSError, match="disk full"):
        with entry_points._registration(config) as registered:
            registered["version"] = register()
            raise OSError("disk full, after registering")
    assert [int(v.version) for v in client.search_model_versions(f"name = '{config.model_name}'")] == [1]
    assert int(client.get_model_version_by_alias(config.model_name, "champion").version) == 1
    # a name the failed run made itself is not left behind, empty
    config.model_name = "only-failure"
    with pytest.raises(OSError):
        with entry_points._registration(config) as registered:
            registered["version"] = register()
            raise OSError("disk full")
    assert client.search_registered_models(f"name = '{config.model_name}'") == []


def test_a_full_disk_names_the_folder_the_user_chose_and_the_setting_that_moves_it(tmp_path, monkeypatch):
    import errno

    from experiments.preflight import first_line, full_disk_message

    monkeypatch.setenv("CLUSTERING_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    cache = full_disk_message(OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "cache" / "x.npy")))
    assert cache == (f"no space left on {tmp_path / 'cache'}; free space there or point the embedding cache "
                     "(CLUSTERING_CACHE_DIR) elsewhere")
    output = full_disk_message(OSError(errno.ENOSPC, "No space left on device", "/data/out/clusters.csv"))
    assert output == "no space left on /data/out; free space there or point the output elsewhere"
    # every one-line error of the suite (the console, a run's error tag, a trial's) says the same
    assert first_line(OSError(errno.ENOSPC, "No space left on device", "/data/out/clusters.csv")) == output
    assert first_line(OSError(errno.EACCES, "Permission denied", "/x")) == "[Errno 13] Permission denied: '/x'"
    assert full_disk_message(OSError(errno.EACCES, "Permission denied", "/x")) is None
    assert full_disk_message(ValueError("n_trials must be positive")) is None
