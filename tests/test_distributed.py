"""Several workers on one PostgreSQL-backed study, a SIGKILL mid-trial, and the secrets check.

A real PostgreSQL and `mlflow server` come from scripts/local_cluster.sh (the one the README
tells people to use), in a throw-away folder on free ports. Without PostgreSQL's server
programs the tests fail, they never skip: CI installs Debian's postgresql (.ci/run).
"""

import glob
import os
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import mlflow
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from experiments.study import make_storage

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "local_cluster.sh"
TINY = ["--n_per_class", "25", "--max_pretrain_epochs", "5", "--max_epochs", "2", "--n_seeds", "1"]
# Trials that last seconds (the seed report's DEC on 2,000 texts), for the tests that need a
# trial to be caught running or two workers to overlap: on TINY data a trial ends in a blink.
SECONDS = ["--n_per_class", "500", "--max_pretrain_epochs", "20", "--max_epochs", "10", "--n_seeds", "1"]
FIGURES = {}  # scenario -> trials completed / lost / duplicated, printed at the end


@dataclass
class Cluster:
    directory: Path
    pg_port: int
    mlflow_port: int
    password: str  # the `dtc` database user's

    @property
    def pgpass(self) -> Path:
        return self.directory / "pgpass"

    def storage(self, *, with_password: bool) -> str:
        user = f"dtc:{self.password}" if with_password else "dtc"
        return f"postgresql://{user}@127.0.0.1:{self.pg_port}/optuna"

    def dump(self, database: str) -> str:
        """The whole database as SQL text."""
        bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
        out = subprocess.run([f"{bindir}/pg_dump", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "dtc", database],
                             env={**os.environ, "PGPASSFILE": str(self.pgpass)}, capture_output=True, text=True,
                             timeout=120, check=True)
        return out.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    directory = Path(tempfile.mkdtemp(prefix="dtc-cluster-"))
    directory.chmod(0o755)  # run as root, PostgreSQL runs as `postgres`, which must enter it
    env = {**os.environ, "LOCAL_CLUSTER_DIR": str(directory), "PG_PORT": str(free_port()),
           "MLFLOW_PORT": str(free_port())}
    up = subprocess.run(["bash", str(SCRIPT), "up"], env=env, capture_output=True, text=True, timeout=300)
    if up.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(f"scripts/local_cluster.sh up failed; these tests need PostgreSQL's server programs "
                    f"(apt-get install postgresql):\n{up.stdout}\n{up.stderr}")
    password = next(line.split(":")[4] for line in (directory / "pgpass").read_text().splitlines()
                    if line.split(":")[3] == "dtc")
    yield Cluster(directory, int(env["PG_PORT"]), int(env["MLFLOW_PORT"]), password)
    subprocess.run(["bash", str(SCRIPT), "down"], env=env, capture_output=True, timeout=120)
    shutil.rmtree(directory, ignore_errors=True)
    print("\n" + "\n".join(f"{k}: {v}" for k, v in FIGURES.items()))


def worker(tmp, ag_news_csv, storage, study_name, n_trials, *, tracking_uri, experiment, log_name, extra_env=None,
           size=TINY):
    """Start one `python -m experiments tune` worker; its output goes to <tmp>/<log_name>."""
    command = [sys.executable, "-m", "experiments", "tune", "--data", str(ag_news_csv), *size,
               "--n_trials", str(n_trials), "--storage", storage, "--study_name", study_name,
               "--experiment_name", experiment]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CLUSTERING_CACHE_DIR": str(tmp / "embeddings"),
           "MLFLOW_TRACKING_URI": tracking_uri, **(extra_env or {})}
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        env.pop(name, None)
    log = open(tmp / log_name, "w")
    return subprocess.Popen(command, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)


def finish(proc, timeout=420) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"worker {proc.pid} did not finish in {timeout}s")


def load(cluster, study_name):
    return optuna.load_study(study_name=study_name, storage=make_storage(cluster.storage(with_password=True)))


def runs_of(client, experiment_name, study_name):
    experiment = client.get_experiment_by_name(experiment_name)
    return client.search_runs([experiment.experiment_id], f"tags.study_name = '{study_name}'", max_results=1000)


def figures(study, trial_runs) -> dict:
    numbers = [int(r.data.tags["optuna.trial"]) for r in trial_runs if r.info.status == "FINISHED"]
    complete = [t.number for t in study.trials if t.state == TrialState.COMPLETE]
    return {"completed": len(complete), "lost": len(set(complete) - set(numbers)),
            "duplicated": len(numbers) - len(set(numbers)) + len(complete) - len(set(complete)),
            "failed (killed)": sum(t.state == TrialState.FAIL for t in study.trials),
            "not run (n_trials reached)": sum(bool(t.user_attrs.get("not_run")) for t in study.trials)}


# --- two workers, one study ----------------------------------------------------------------

@pytest.fixture(scope="module")
def two_workers(cluster, ag_news_csv, tmp_path_factory):
    """Two workers on one study of 3 trials; passwords in both the storage URL and the tracking URI."""
    tmp = tmp_path_factory.mktemp("two-workers")
    tracking = f"http://dtc:{cluster.password}@127.0.0.1:{cluster.mlflow_port}"
    storage = cluster.storage(with_password=True)
    procs = [worker(tmp, ag_news_csv, storage, "pair", 3, tracking_uri=tracking, experiment="distributed",
                    log_name=f"worker{i}.log", size=SECONDS) for i in (1, 2)]
    codes = [finish(p) for p in procs]
    outputs = [(tmp / f"worker{i}.log").read_text() for i in (1, 2)]
    client = mlflow.MlflowClient(tracking_uri=f"http://127.0.0.1:{cluster.mlflow_port}")
    return codes, outputs, load(cluster, "pair"), runs_of(client, "distributed", "pair")


def test_two_workers_complete_exactly_n_trials_between_them(two_workers):
    codes, outputs, study, runs = two_workers
    assert codes == [0, 0], outputs
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 3
    assert len({t.number for t in study.trials}) == len(study.trials)
    assert not [t for t in study.trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]  # no copy left queued
    assert len({t.user_attrs["worker"] for t in study.trials}) == 2  # both took part
    trial_runs = [r for r in runs if r.data.tags.get("stage") == "trial"]
    FIGURES["two workers, 3 trials"] = figures(study, trial_runs)
    assert FIGURES["two workers, 3 trials"]["lost"] == FIGURES["two workers, 3 trials"]["duplicated"] == 0, (
        [(t.number, t.state.name, t.user_attrs.get("mlflow_run_id")) for t in study.trials],
        [(r.info.run_id, r.info.status, r.data.tags) for r in trial_runs], outputs)


def test_each_trial_is_a_finished_nested_run_under_its_workers_parent(two_workers):
    _, _, study, runs = two_workers
    parents = {r.info.run_id: r for r in runs if "stage" not in r.data.tags}
    trial_runs = [r for r in runs if r.data.tags.get("stage") == "trial"]
    assert len(parents) == 2 and all(p.info.status == "FINISHED" for p in parents.values())
    assert all(p.data.tags["study_name"] == "pair" for p in parents.values())
    finished = {int(r.data.tags["optuna.trial"]): r for r in trial_runs if r.info.status == "FINISHED"}
    assert sorted(finished) == sorted(t.number for t in study.trials if t.state == TrialState.COMPLETE)
    assert len(finished) == len([r for r in trial_runs if r.info.status == "FINISHED"])  # no duplicates
    for number, run in finished.items():
        assert run.data.tags["mlflow.parentRunId"] in parents
        assert run.data.tags["worker"] == parents[run.data.tags["mlflow.parentRunId"]].data.tags["worker"]
        assert study.trials[number].user_attrs["mlflow_run_id"] == run.info.run_id
    assert not [r for r in runs if r.info.status == "RUNNING"]
    seeds = {p.data.tags.get("sampler_seed", "0") for p in parents.values()}
    assert len(seeds) == 2  # the workers did not propose the same points


def test_no_password_in_the_tracking_store_the_artifacts_or_the_output(cluster, two_workers):
    _, outputs, _, runs = two_workers
    places = {"worker output": "\n".join(outputs), "MLflow database": cluster.dump("mlflow"),
              "Optuna database": cluster.dump("optuna"), "mlflow server log": (cluster.directory / "mlflow.log").read_text()}
    for path in (cluster.directory / "mlartifacts").rglob("*"):
        if path.is_file():
            places[str(path)] = path.read_bytes().decode("utf-8", "replace")
    assert len(places) > 6  # the artifacts are there: trials tables, plots, best trials
    found = [where for where, text in places.items() if cluster.password in text]
    FIGURES["secrets found (two workers: storage URL + tracking URI)"] = len(found)
    assert found == []
    parent = next(r for r in runs if "stage" not in r.data.tags)
    assert parent.data.params["storage"] == f"postgresql://dtc:***@127.0.0.1:{cluster.pg_port}/optuna"


def test_workers_creating_a_study_at_once_leave_its_first_trials_queued_once(cluster):
    """Three workers create each of 20 new studies at once; all may find it empty and queue."""
    import threading

    from experiments.config import RunConfig
    from experiments.search_space import first_trials
    from experiments.study import create_study

    storage = cluster.storage(with_password=True)
    create_study(RunConfig(storage=storage, study_name="race-0"))  # Optuna's tables exist first
    n_first, raced = len(first_trials(RunConfig())), 0
    for round_ in range(1, 21):
        name, barrier, errors = f"race-{round_}", threading.Barrier(3), []

        def create():
            barrier.wait()
            try:
                create_study(RunConfig(storage=storage, study_name=name))
            except Exception as exc:  # noqa: BLE001 - reported below, with the round
                errors.append(exc)

        threads = [threading.Thread(target=create) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, (round_, errors)
        trials = load(cluster, name).trials
        assert [t.state for t in trials].count(TrialState.WAITING) == n_first, (round_, trials)
        copies = [t for t in trials if t.state != TrialState.WAITING]
        assert all(t.state == TrialState.PRUNED and "duplicate_of" in t.user_attrs for t in copies)
        raced += bool(copies)
    FIGURES["studies created by 3 workers at once"] = {"studies": 20, "queued twice, copies dropped": raced}


# --- SIGKILL mid-trial, then the same command again ---------------------------------------------

def test_the_cluster_leaves_room_for_many_workers_connections(cluster):
    """PostgreSQL's default 100 connections ran out under load (workers' pools, heartbeats, the
    MLflow server's pool): scripts/local_cluster.sh starts it with 300."""
    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
    out = subprocess.run([f"{bindir}/psql", "-X", "-q", "-tA", "-h", "127.0.0.1", "-p", str(cluster.pg_port),
                          "-U", "postgres", "-d", "postgres", "-c", "show max_connections"],
                         env={**os.environ, "PGPASSFILE": str(cluster.pgpass)}, capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "300"


def test_a_worker_killed_mid_trial_is_recovered_by_rerunning_the_command(cluster, ag_news_csv, tmp_path):
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    storage = cluster.storage(with_password=True)
    args = dict(tracking_uri=tracking, experiment="resume", size=SECONDS)
    first = worker(tmp_path, ag_news_csv, storage, "resume", 2, log_name="first.log", **args)
    study = None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and first.poll() is None:
        try:
            study = load(cluster, "resume")
            running = [t for t in study.get_trials(states=(TrialState.RUNNING,)) if "mlflow_run_id" in t.user_attrs]
        except KeyError:  # the study is not there yet
            running = []
        if running:
            first.send_signal(signal.SIGKILL)
            break
        time.sleep(0.2)
    assert first.wait(timeout=60) == -signal.SIGKILL, (tmp_path / "first.log").read_text()
    killed = [t for t in load(cluster, "resume").trials if t.state == TrialState.RUNNING]
    assert len(killed) == 1, "the worker was not killed mid-trial"
    killed = killed[0]

    again = worker(tmp_path, ag_news_csv, storage, "resume", 2, log_name="again.log", **args)
    assert finish(again) == 0, (tmp_path / "again.log").read_text()
    output = (tmp_path / "again.log").read_text()

    study = load(cluster, "resume")
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 2
    assert study.trials[killed.number].state == TrialState.FAIL
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    assert f"trial {killed.number:3d} FAIL     its worker" in output
    # the killed trial was a reference setting (the first two are): queued again and run by the rerun
    fixed = killed.system_attrs.get("fixed_params")
    assert fixed and "queued again:" in output
    assert any(t.state == TrialState.COMPLETE and t.system_attrs.get("fixed_params") == fixed for t in study.trials)
    client = mlflow.MlflowClient(tracking_uri=tracking)
    runs = runs_of(client, "resume", "resume")
    assert not [r for r in runs if r.info.status == "RUNNING"]
    lost_run = client.get_run(killed.user_attrs["mlflow_run_id"])
    assert lost_run.info.status == "FAILED" and "stopped mid-trial" in lost_run.data.tags["ended_by"]
    parents = [r for r in runs if "stage" not in r.data.tags]
    assert sorted(p.info.status for p in parents) == ["FINISHED", "KILLED"]
    trial_runs = [r for r in runs if r.data.tags.get("stage") == "trial"]
    FIGURES["SIGKILL mid-trial + rerun, 2 trials"] = figures(study, trial_runs)
    assert FIGURES["SIGKILL mid-trial + rerun, 2 trials"]["lost"] == 0
    assert FIGURES["SIGKILL mid-trial + rerun, 2 trials"]["duplicated"] == 0

    # The password was in the storage URL: not in the local tracking store, its artifacts or the output.
    places = [p for p in tmp_path.rglob("*") if p.is_file()]  # mlflow.db, artifacts, both outputs
    assert {"mlflow.db", "first.log", "again.log", "optuna_trials.csv"} <= {p.name for p in places}
    found = [str(p) for p in places if cluster.password.encode() in p.read_bytes()]
    FIGURES["secrets found (SIGKILL run: SQLite store + mlruns)"] = len(found)
    assert found == []


# --- the URLs users write: plain postgresql://, a new tracking database, workers at once -------

def test_plain_postgresql_urls_work_and_a_new_tracking_database_gets_its_schema_once(cluster, tmp_path):
    """Four of the project's processes open a new, empty MLflow database through a plain postgresql:// URL at once.

    MLflow alone lets each of them create the schema, and all but one die in CREATE TABLE; the
    project's entry points make it under a lock first (experiments.pg_store.ensure_schema), so
    the first makes it and the others wait for it. MLflow's stores stay MLflow's own: no entry
    point replaces them. The same plain URL serves Optuna in the project's venv, as
    `optuna.load_study` is called.
    """
    from importlib.metadata import entry_points

    assert not entry_points(group="mlflow.tracking_store") and not entry_points(group="mlflow.model_registry_store")
    env = {**os.environ, "PGPASSFILE": str(cluster.pgpass)}
    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
    subprocess.run([f"{bindir}/psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(cluster.pg_port), "-U", "postgres",
                    "-d", "postgres", "-c", "create database fresh owner dtc"], env=env, check=True, timeout=60)
    url = f"postgresql://dtc@127.0.0.1:{cluster.pg_port}/fresh"
    # `predict` of a model that is not there: the store is opened (and made) before the lookup fails
    command = [sys.executable, "-m", "experiments", "predict", "--model_uri", "models:/absent@champion",
               "--input", str(tmp_path / "texts.csv"), "--output", str(tmp_path / "clusters.csv")]
    pd.DataFrame({"text": ["one text", "another text"]}).to_csv(tmp_path / "texts.csv", index=False)
    procs = [subprocess.Popen(command, env={**env, "MLFLOW_TRACKING_URI": url}, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(4)]
    outputs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [2] * 4, outputs
    assert all(out.strip().splitlines()[-1].startswith("error: ") and "absent" in out.strip().splitlines()[-1]
               and "CREATE TABLE" not in out and "Traceback" not in out for out in outputs), outputs
    client = subprocess.run([sys.executable, "-c", "import sys, mlflow; c = mlflow.MlflowClient(sys.argv[1]); "
                             "print(len(c.search_experiments()), c.search_registered_models())", url],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert client.stdout.strip().splitlines()[-1] == "1 []", client.stdout + client.stderr  # the Default experiment

    code = ("import sys, optuna\n"
            "optuna.logging.set_verbosity(optuna.logging.ERROR)\n"
            "optuna.create_study(study_name='plain-url', storage=sys.argv[1]).optimize(lambda t: t.suggest_float('x', 0, 1), 2)\n"
            "print(len(optuna.load_study(study_name='plain-url', storage=sys.argv[1]).trials))\n")
    out = subprocess.run([sys.executable, "-c", code, f"postgresql://dtc@127.0.0.1:{cluster.pg_port}/optuna"], env=env,
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "2", out.stderr[-2000:]
