"""`mlflow run .` end to end on 200 real AG News articles, then the UI in a real browser.

Slow (one small study, ~1-2 minutes on 2 cores), so it runs once per module and every
check below reads the same tracking store.
"""

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", REPO / "test-artifacts"))
MODEL = "e2e-text-clusters"
UNSEEN = [
    "Shares of the chip maker jumped after quarterly profit beat forecasts",
    "The goalkeeper saved a late penalty to keep the title race alive",
    "Rebels and government troops agreed to a ceasefire in the capital",
    "Astronomers spotted water vapour on a distant planet with a new telescope",
]

pytestmark = pytest.mark.slow


def _env(root: Path) -> dict:
    return {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db", "HF_HUB_OFFLINE": "1",
            "CLUSTERING_CACHE_DIR": str(root / "cache"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.fixture(scope="module")
def study(tmp_path_factory, ag_news_csv):
    import mlflow

    root = tmp_path_factory.mktemp("e2e")
    env = _env(root)
    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    experiment_id = client.create_experiment("e2e", artifact_location=str(root / "artifacts"))
    params = {"data": ag_news_csv, "n_per_class": 50, "n_trials": 2, "max_pretrain_epochs": 3, "max_epochs": 2,
              "n_seeds": 1, "storage": f"sqlite:///{root}/optuna.db", "tsne_points": 200, "model_name": MODEL,
              "study_name": "e2e-study"}
    cmd = [sys.executable, "-m", "mlflow", "run", str(REPO), "--env-manager", "local", "--experiment-id", experiment_id]
    for k, v in params.items():
        cmd += ["-P", f"{k}={v}"]
    proc = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"root": root, "env": env, "client": client, "experiment_id": experiment_id, "output": proc.stdout + proc.stderr}


def _runs(study):
    return study["client"].search_runs([study["experiment_id"]], max_results=1000)


def test_parent_and_nested_trial_runs(study):
    runs = _runs(study)
    parents = [r for r in runs if r.data.tags.get("entry_point") == "main"]
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.params["n_trials"] == "2" and parent.data.params["data_n_texts"] == "200"
    assert parent.data.tags["label_peeking"] == "false" and len(parent.data.tags["data_hash"]) == 16
    # what the "auto" precisions resolved to here; the registered model embeds new texts in the same
    assert parent.data.tags["training_precision"] in ("float32", "bfloat16-mixed")
    assert parent.data.tags["embedding_precision"] in ("float32", "bfloat16-mixed")
    import mlflow

    mlflow.set_tracking_uri(study["env"]["MLFLOW_TRACKING_URI"])
    try:
        champion = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion").unwrap_python_model()
    finally:
        mlflow.set_tracking_uri(None)
    assert champion.meta["embedding_precision"] == parent.data.tags["embedding_precision"]
    assert "champion_acc" in parent.data.metrics and "best_objective" in parent.data.metrics
    # what label-free selection gave up against the best trial by ACC
    gap = parent.data.metrics
    assert gap["oracle_gap_acc"] == pytest.approx(gap["oracle_acc"] - gap["champion_acc"])
    assert gap["oracle_acc"] >= max(0.0, gap["oracle_gap_acc"]) and "oracle_trial" in parent.data.tags
    assert parent.data.tags["champion_method"] in ("kmeans", "dec", "idec", "pseudolabel")
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    trials = sorted((r for r in children if r.data.tags.get("stage") == "trial"),
                    key=lambda r: int(r.data.tags["optuna.trial"]))
    assert len(trials) == 2
    # every study starts from the plain MiniLM + KMeans, then the seed report's DEC
    assert [t.data.params["method"] for t in trials] == ["kmeans", "dec"]
    for trial in trials:
        assert {"acc", "nmi", "silhouette", "objective", "n_parameters"} <= set(trial.data.metrics)
    assert {"lr", "architecture", "pretrain_epochs"} <= set(trials[1].data.params)
    history = study["client"].get_metric_history(trials[1].info.run_id, "ae_loss")
    assert [m.step for m in history] == list(range(1, len(history) + 1))
    stages = {r.data.tags.get("stage") for r in children}
    assert {"baseline", "final"} <= stages
    assert not [r for r in runs if r.info.status == "RUNNING"]


def test_artifacts(study):
    parent = next(r for r in _runs(study) if r.data.tags.get("entry_point") == "main")
    names = {a.path for a in study["client"].list_artifacts(parent.info.run_id)}
    expected = {"tsne_latent.png", "contingency.png", "loss_curves.png", "cluster_keywords.csv", "comparison.md",
                "comparison.csv", "metrics.json", "optuna_trials.csv", "optuna_history.png",
                "error_accuracy_by_length.csv", "error_confused_pairs.csv", "best_trial.json"}
    assert expected <= names, expected - names
    table = Path(study["client"].download_artifacts(parent.info.run_id, "comparison.md", str(study["root"]))).read_text()
    for method in ("TF-IDF + KMeans", "SBERT + KMeans", "AE + KMeans", "seed report"):
        assert method in table
    # the study's best as a "(tuned)" row unless it was KMeans, which has no settings: no row twice
    best = json.loads(Path(study["client"].download_artifacts(parent.info.run_id, "best_trial.json",
                                                               str(study["root"]))).read_text())
    assert ("(tuned)" in table) == (best["params"].get("method") != "kmeans")
    rows = [line.split("|")[1].strip() for line in table.splitlines()[2:] if line.startswith("|")]
    assert len(rows) == len(set(rows))


def test_registered_champion_clusters_unseen_texts_in_a_new_process(study, tmp_path):
    version = study["client"].get_model_version_by_alias(MODEL, "champion")
    assert int(version.version) >= 1
    script = (
        "import json, mlflow, pandas as pd\n"
        f"m = mlflow.pyfunc.load_model('models:/{MODEL}@champion')\n"
        f"out = m.predict(pd.DataFrame({{'text': {UNSEEN!r}}}))\n"
        "print(json.dumps({'cluster': out['cluster'].tolist(), 'confidence': out['confidence'].tolist()}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], env=study["env"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(out["cluster"]) == 4 and all(0 <= c < 4 for c in out["cluster"])
    assert all(0.25 <= p <= 1.0 for p in out["confidence"])


def test_predict_entry_point_writes_a_csv(study, tmp_path):
    import pandas as pd

    source = tmp_path / "new.csv"
    pd.DataFrame({"text": UNSEEN}).to_csv(source, index=False)
    output = tmp_path / "out" / "clusters.csv"
    proc = subprocess.run([sys.executable, "-m", "experiments", "predict", "--model_uri", f"models:/{MODEL}@champion",
                           "--input", str(source), "--output", str(output)], env=study["env"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    frame = pd.read_csv(output)
    assert list(frame.columns) == ["text", "cluster", "confidence", "reason"] and len(frame) == 4
    assert not list(output.parent.glob(".*tmp"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.browser
def test_mlflow_ui_lists_the_study_in_a_real_browser(study):
    from conftest import chromium_path, wait_for_url

    chromium = chromium_path()  # present: conftest skips this test without it, or fails it under CI=true
    assert chromium, "headless Chromium is needed for the UI check: apt-get install chromium"
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", study["env"]["MLFLOW_TRACKING_URI"],
                               "--host", "127.0.0.1", "--port", str(port)], env=study["env"], cwd=study["root"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_for_url(f"http://127.0.0.1:{port}/health", server, timeout=90):
            pytest.fail("mlflow ui did not come up")
        url = f"http://127.0.0.1:{port}/#/experiments/{study['experiment_id']}/runs"
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={study['root'] / 'chromium'}", "--window-size=1600,1000",
                 "--virtual-time-budget=30000"]
        dom = subprocess.run([chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "mlflow_ui.png"
        subprocess.run([chromium, *flags, f"--screenshot={shot}", url], capture_output=True, timeout=180)
        assert shot.is_file() and shot.stat().st_size > 10_000
        assert "main: e2e-study" in dom, dom[-2000:]
        text = " ".join(re.sub(r"<!--.*?-->|<[^>]+>", " ", dom).split())  # React splits text into nodes
        assert f"{len(_runs(study))} matching runs" in text  # the parent row stands for all its nested runs
    finally:
        server.terminate()
        server.wait(timeout=30)
