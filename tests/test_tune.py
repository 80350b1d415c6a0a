"""experiments/tune.py: storages, failing trials, the n_trials gate and recovery after a dead worker.

Everything here runs in one process on tiny blobs with SQLite stores; the real PostgreSQL,
several processes and SIGKILL are in test_distributed.py.
"""

import subprocess
import sys
import time

import mlflow
import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from sklearn.datasets import make_blobs

from experiments import search_space, study as mechanics, tune
from experiments import tracking as run_tracking
from experiments.config import RunConfig
from experiments.study import this_machine, worker_id


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"  # made once: its schema takes seconds


@pytest.fixture()
def tracking(tracking_uri, request, monkeypatch):
    """An MLflow client and a fresh experiment for this test; no run left active afterwards."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri)
    experiment = mlflow.set_experiment(request.node.name)
    yield mlflow.MlflowClient(), experiment.experiment_id
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=60, n_features=8, centers=3, cluster_std=0.5, random_state=0)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(np.float32), y


def config_for(tmp_path, **overrides) -> RunConfig:
    # the blobs here have no texts, so the study leaves out the method that fits texts (pseudo-labelling)
    settings = dict(n_trials=3, max_pretrain_epochs=5, max_epochs=2, storage=f"sqlite:///{tmp_path / 'optuna.db'}",
                    study_name="unit", seed=0, search_methods="kmeans,dec,idec")
    return RunConfig(**{**settings, **overrides})


def dead_pid() -> int:
    """A process id that was ours a moment ago and is gone (reaped) now."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def trial_runs(client, experiment_id, study_name):
    runs = client.search_runs([experiment_id], f"tags.study_name = '{study_name}' and tags.stage = 'trial'")
    return {int(r.data.tags["optuna.trial"]): r for r in runs}


# --- storages -------------------------------------------------------------------------

def test_make_storage_takes_sqlalchemy_urls_and_journal_files(tmp_path):
    rdb = mechanics.make_storage(f"sqlite:///{tmp_path / 'a.db'}")
    assert isinstance(rdb, optuna.storages.RDBStorage)
    assert rdb.get_heartbeat_interval() == mechanics.HEARTBEAT_SECONDS
    for url in (str(tmp_path / "b.journal"), f"journal:{tmp_path / 'c.log'}"):
        assert isinstance(mechanics.make_storage(url), optuna.storages.JournalStorage)


@pytest.mark.parametrize("url, words", [
    ("postgresql://someone:hunter2@127.0.0.1:1/optuna", ["postgresql://someone:***@127.0.0.1:1/optuna", "refused"]),
    ("not a url", ["cannot open Optuna storage not a url"]),
    ("journal:/no/such/folder/study.journal", ["folder /no/such/folder does not exist"]),
])
def test_a_bad_storage_fails_fast_in_one_line_without_its_password(url, words):
    start = time.perf_counter()
    with pytest.raises(ConnectionError) as info:
        mechanics.check_storage(url)
    message = str(info.value)
    assert time.perf_counter() - start < mechanics.CONNECT_TIMEOUT_SECONDS
    assert "\n" not in message and "hunter2" not in message
    for word in words:
        assert word in message


# --- one worker: failing trials --------------------------------------------------------

def test_a_trial_that_raises_or_diverges_fails_and_the_study_goes_on(tmp_path, tracking, blobs, monkeypatch):
    client, experiment_id = tracking
    real = search_space.make_estimator
    calls = []

    def flaky(params, **kwargs):
        calls.append(params)
        if len(calls) == 2:
            raise ValueError("bad configuration")
        model = real(params, **kwargs)
        if len(calls) == 3:
            def diverge(X, callback=None):
                raise FloatingPointError("autoencoder loss diverged at epoch 1 (loss=nan)")
            model.fit = diverge
        return model

    monkeypatch.setattr(search_space, "make_estimator", flaky)
    config = config_for(tmp_path)
    lines = []
    with mlflow.start_run(run_name="parent") as parent:
        study = tune.run_study(config, *blobs, n_clusters=3, echo=lines.append)
    states = [t.state for t in study.trials]
    assert states.count(TrialState.COMPLETE) == 3
    assert [t.number for t in study.trials if t.state == TrialState.FAIL] == [1, 2]
    assert "ValueError: bad configuration" in study.trials[1].user_attrs["error"]
    runs = trial_runs(client, experiment_id, "unit")
    assert sorted(runs) == [0, 1, 2, 3, 4]
    assert {n: r.info.status for n, r in runs.items()} == {0: "FINISHED", 1: "FAILED", 2: "FAILED", 3: "FINISHED",
                                                          4: "FINISHED"}
    assert runs[2].data.tags["error"].startswith("FloatingPointError: autoencoder loss diverged")
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in runs.values())
    assert any(line.startswith("trial   1 FAIL") and "bad configuration" in line for line in lines)


def test_trials_failing_in_a_row_stop_the_study_with_one_line(tmp_path, tracking, blobs, monkeypatch):
    def broken(params, **kwargs):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(search_space, "make_estimator", broken)
    monkeypatch.setattr(tune, "MAX_FAILURES_IN_A_ROW", 3)
    with mlflow.start_run(run_name="parent"):
        with pytest.raises(RuntimeError, match="3 trials in a row failed, the last with RuntimeError: CUDA out"):
            tune.run_study(config_for(tmp_path, n_trials=5), *blobs, n_clusters=3, echo=lambda line: None)
    study = optuna.load_study(study_name="unit", storage=config_for(tmp_path).storage)
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 3


# --- the n_trials gate ----------------------------------------------------------------

def test_room_counts_completed_and_running_trials(tmp_path):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'gate.db'}")
    study.tell(study.ask(), 1.0)
    running = study.ask()
    running.set_user_attr("worker", worker_id())  # alive: this very process
    assert mechanics.wait_for_room(study, 3)
    assert not mechanics.wait_for_room(study, 1)  # full already
    # One completed, one running that could complete: a second slot is not free yet.
    start = time.monotonic()
    assert not mechanics.wait_for_room(study, 2, deadline=time.monotonic() + 0.1)
    assert time.monotonic() - start < 5
    # ...but a trial numbered before the running one does not wait for it.
    assert mechanics.wait_for_room(study, 2, before=running.number)


def test_a_waiting_worker_takes_over_when_the_running_trial_dies(tmp_path, monkeypatch):
    monkeypatch.setattr(mechanics, "WAIT_SECONDS", 0.05)
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'gate.db'}")
    study.tell(study.ask(), 1.0)
    orphan = study.ask()
    orphan.set_user_attr("worker", f"{this_machine()}#{dead_pid()}")
    lost = []
    assert mechanics.wait_for_room(study, 2, on_lost=lambda s, t: lost.append(t.number))
    assert study.trials[orphan.number].state == TrialState.FAIL
    assert lost == [orphan.number]


# --- recovery ----------------------------------------------------------------------------

def test_recover_fails_a_dead_workers_trial_and_ends_its_runs(tmp_path, tracking):
    client, experiment_id = tracking
    study = optuna.create_study(study_name="crashed", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    dead = f"{this_machine()}#{dead_pid()}"
    parent = client.create_run(experiment_id, tags={"study_name": "crashed", "worker": dead})
    child = client.create_run(experiment_id, tags={"study_name": "crashed", "stage": "trial", "worker": dead,
                                                    "optuna.trial": "0", "mlflow.parentRunId": parent.info.run_id})
    trial = study.ask()
    trial.set_user_attr("worker", dead)
    trial.set_user_attr("mlflow_run_id", child.info.run_id)
    alive = client.create_run(experiment_id, tags={"study_name": "crashed", "worker": worker_id()})

    run_tracking.recover(study, experiment_id, "crashed")

    assert study.trials[0].state == TrialState.FAIL
    assert client.get_run(child.info.run_id).info.status == "FAILED"
    assert "stopped mid-trial" in client.get_run(child.info.run_id).data.tags["ended_by"]
    assert client.get_run(parent.info.run_id).info.status == "KILLED"
    assert client.get_run(alive.info.run_id).info.status == "RUNNING"  # this process: alive


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_a_silent_worker_elsewhere_is_failed_by_the_heartbeat(tmp_path, tracking, monkeypatch):
    client, experiment_id = tracking
    monkeypatch.setattr(mechanics, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(mechanics, "GRACE_SECONDS", 1)
    config = config_for(tmp_path, study_name="silent")
    study = mechanics.create_study(config, on_stale=run_tracking.run_ender(experiment_id))
    parent = client.create_run(experiment_id, tags={"study_name": "silent", "worker": "elsewhere#1"})
    child = client.create_run(experiment_id, tags={"study_name": "silent", "stage": "trial",
                                                    "mlflow.parentRunId": parent.info.run_id})
    trial = study.ask()
    trial.set_user_attr("worker", "another-machine#4242")  # cannot be checked from here
    trial.set_user_attr("mlflow_run_id", child.info.run_id)
    study._storage.record_heartbeat(trial._trial_id)  # what Optuna's heartbeat thread writes
    mechanics.fail_lost_trials(study)
    assert study.trials[0].state == TrialState.RUNNING  # within its grace period
    time.sleep(2.5)
    mechanics.fail_lost_trials(study)
    assert study.trials[0].state == TrialState.FAIL
    assert client.get_run(child.info.run_id).info.status == "FAILED"
    assert client.get_run(parent.info.run_id).info.status == "KILLED"


def test_workers_joining_one_study_get_distinct_sampler_seeds(tmp_path):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'join.db'}")
    assert [mechanics.join(study, w) for w in ("a#1", "b#2", "c#3")] == [0, 1, 2]
    assert mechanics.join(study, "a#1") == 2  # joining again: now the latest


def test_a_worker_that_loses_the_race_to_create_the_experiment_still_logs_there(tmp_path, monkeypatch):
    """Two workers start at once: one creates the experiment, the other's create fails."""
    from mlflow.tracking._tracking_service.client import TrackingServiceClient

    from experiments.tracking import parent_run

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)
    mlflow.set_tracking_uri(uri)
    winner = mlflow.MlflowClient().create_experiment("raced")
    real, calls = TrackingServiceClient.get_experiment_by_name, []

    def not_there_yet(self, name):  # what the loser saw just before the winner's create
        calls.append(name)
        return None if len(calls) == 1 else real(self, name)

    monkeypatch.setattr(TrackingServiceClient, "get_experiment_by_name", not_there_yet)
    try:
        with parent_run("raced", "tune: raced") as run:
            assert run.info.experiment_id == winner
    finally:
        mlflow.set_tracking_uri(None)


def test_log_corpus_survives_a_worker_that_created_the_same_dataset_first(tracking, monkeypatch, ag_news_small):
    from experiments.tracking import log_corpus

    calls = []
    real = mlflow.log_input

    def racing(dataset, context=None):
        calls.append(context)
        if len(calls) == 1:  # what a PostgreSQL store answers when another worker inserted it first
            raise mlflow.exceptions.MlflowException(
                'BAD_REQUEST: (psycopg2.errors.UniqueViolation) duplicate key value violates unique constraint "dataset_pk"')
        return real(dataset, context=context)

    monkeypatch.setattr(mlflow, "log_input", racing)
    with mlflow.start_run() as run:
        log_corpus(ag_news_small, "ag_news_test.csv")
    assert calls == ["training", "training"]
    assert len(mlflow.get_run(run.info.run_id).inputs.dataset_inputs) == 1

    def broken(dataset, context=None):
        raise mlflow.exceptions.MlflowException("the store is read-only")

    monkeypatch.setattr(mlflow, "log_input", broken)
    with pytest.raises(mlflow.exceptions.MlflowException, match="read-only"), mlflow.start_run():
        log_corpus(ag_news_small, "ag_news_test.csv")


def test_pruned_trials_count_towards_n_trials_but_skipped_duplicates_do_not(tmp_path):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'count.db'}")
    study.tell(study.ask(), 1.0)
    study.tell(study.ask(), state=TrialState.PRUNED)  # it ran: its time is spent
    assert not mechanics.wait_for_room(study, 2)
    duplicate = study.ask()
    duplicate.set_user_attr("duplicate_of", 0)
    study.tell(duplicate, state=TrialState.PRUNED)
    failed = study.ask()
    study.tell(failed, state=TrialState.FAIL)
    assert mechanics.wait_for_room(study, 3)
    assert [mechanics.counts(t) for t in study.trials] == [True, True, False, False]


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_first_trials_queued_by_two_workers_at_once_leave_one_copy_in_the_queue(tmp_path):
    """Two workers found the new study empty and both queued its first trials."""
    config = config_for(tmp_path, study_name="raced-queue")
    first = mechanics.create_study(config)  # found it empty: queued, nothing to drop
    queued = [t.system_attrs["fixed_params"] for t in first.trials]
    assert len(queued) >= 2 and all(t.state == TrialState.WAITING for t in first.trials)
    popped = first.ask()  # a worker takes the first trial before the second one queues
    for params in queued:  # what the second worker queued, having found the study empty too
        first.enqueue_trial(params)
    assert mechanics.drop_queued_copies(first) == list(range(len(queued), 2 * len(queued)))
    trials = first.trials
    assert [t.state for t in trials] == [TrialState.RUNNING] + [TrialState.WAITING] * (len(queued) - 1) + [
        TrialState.PRUNED] * len(queued)
    assert [t.user_attrs["duplicate_of"] for t in trials[len(queued):]] == list(range(len(queued)))
    assert all(t.user_attrs["worker"] == worker_id() for t in trials[len(queued):])
    assert not any(mechanics.counts(t) for t in trials)
    assert mechanics.drop_queued_copies(first) == []  # nothing left to drop; the running trial untouched
    assert first.trials[0].state == TrialState.RUNNING and popped.number == 0


def test_a_queued_copy_a_worker_already_took_is_left_to_it(tmp_path):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'taken.db'}")
    study.enqueue_trial({"x": 1.0})
    study.enqueue_trial({"x": 1.0})
    study.enqueue_trial({"x": 2.0})
    storage, ids = study._storage, [t._trial_id for t in study.trials]
    assert storage.set_trial_state_values(ids[1], TrialState.RUNNING)  # popped by another worker first
    assert mechanics.drop_queued_copies(study) == []  # fit_trial prunes it as a duplicate when it runs
    assert [t.state for t in study.trials] == [TrialState.WAITING, TrialState.RUNNING, TrialState.WAITING]
