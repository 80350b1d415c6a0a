"""A store that moves: `mlflow server` over one folder (its database and its artifacts), copied elsewhere.

A plain ``sqlite:///mlflow.db`` store records absolute artifact paths, so a copy in another
folder cannot load its models. Behind ``mlflow server --artifacts-destination`` the runs
record ``mlflow-artifacts:`` URIs instead, relative to the server's folder: the README's way
to move or share a store, run here as written with a real server, a real run and a real copy.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import wait_for_url

pytestmark = pytest.mark.slow

MLFLOW = Path(sys.executable).parent / "mlflow"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server(folder: Path, port: int) -> subprocess.Popen:
    """The README's command, run in ``folder``."""
    command = [str(MLFLOW), "server", "--backend-store-uri", "sqlite:///mlflow.db", "--artifacts-destination",
               "./mlartifacts", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    if not wait_for_url(f"http://127.0.0.1:{port}/health", proc, timeout=120):
        proc.kill()
        pytest.fail(f"mlflow server in {folder} did not answer on port {port}")
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
    proc.wait(timeout=60)


def test_a_store_behind_mlflow_server_is_copied_to_another_folder_and_its_champion_loads(tmp_path):
    first, moved = tmp_path / "first", tmp_path / "moved"
    first.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")} | {"HF_HUB_OFFLINE": "1"}
    port = _free_port()
    server = _server(first, port)
    try:
        run = subprocess.run([sys.executable, "-m", "experiments", "evaluate", "--data", "ag_news_test", "--method",
                              "kmeans", "--n_per_class", "10", "--n_seeds", "1", "--tsne_points", "40",
                              "--model_name", "moved", "--experiment_name", "moved"],
                             env=env | {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}, cwd=tmp_path,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    finally:
        _stop(server)
    shutil.copytree(first, moved)
    shutil.rmtree(first)  # nothing may point back at the first folder
    port = _free_port()
    server = _server(moved, port)
    try:
        code = ("import mlflow, pandas as pd\n"
                "model = mlflow.pyfunc.load_model('models:/moved@champion')\n"
                "out = model.predict(pd.DataFrame({'text': ['oil prices rose again', 'the striker scored twice']}))\n"
                "print(len(out), sorted(out.columns))\n")
        loaded = subprocess.run([sys.executable, "-c", code], env=env | {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"},
                                cwd=tmp_path, capture_output=True, text=True, timeout=300)
    finally:
        _stop(server)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.strip().splitlines()[-1].startswith("2 ['cluster', 'confidence'"), loaded.stdout
