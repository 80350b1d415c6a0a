"""Passwords in a storage URL or MLFLOW_TRACKING_URI never reach MLflow or the console.

The end-to-end check (a real PostgreSQL password, grepped for in the whole tracking store,
the artifacts and the output of real workers) is in test_distributed.py; these are its parts.
"""

import os

import mlflow
import pytest

from experiments.config import RunConfig
from experiments.preflight import _credentials_to_env, check_tracking_server, redact, sqlalchemy_url
from experiments.tracking import parent_run


@pytest.mark.parametrize("text, shown", [
    ("postgresql://dtc:s3cr%40t@db.example:5432/optuna", "postgresql://dtc:***@db.example:5432/optuna"),
    ("postgresql+psycopg2://u:pw@127.0.0.1/mlflow", "postgresql+psycopg2://u:***@127.0.0.1/mlflow"),
    ("mysql://root:@localhost/optuna", "mysql://root:***@localhost/optuna"),
    ("https://me:token@mlflow.example/ and http://other:pw@h:1", "https://me:***@mlflow.example/ and http://other:***@h:1"),
    ("postgresql://db.example/optuna?user=dtc&password=s3cret&sslmode=require",
     "postgresql://db.example/optuna?user=dtc&password=***&sslmode=require"),
    ("error at postgresql://u:pw@h:1/db: connection refused", "error at postgresql://u:***@h:1/db: connection refused"),
])
def test_redact_hides_passwords_in_urls_and_query_strings(text, shown):
    assert redact(text) == shown


@pytest.mark.parametrize("text", ["sqlite:///optuna.db", "http://127.0.0.1:5000/#/experiments/1", "user@example.com",
                                  "postgresql://dtc@127.0.0.1:55432/optuna", "journal:/tmp/study.journal"])
def test_redact_leaves_text_without_passwords_alone(text):
    assert redact(text) == text


def test_the_logged_config_has_no_password():
    config = RunConfig(storage="postgresql://dtc:s3cret@db:5432/optuna", data="https://u:pw@host/data.csv")
    logged = config.loggable()
    assert logged["storage"] == "postgresql://dtc:***@db:5432/optuna"
    assert "s3cret" not in str(logged) and ":pw@" not in str(logged)


def test_plain_postgresql_urls_get_the_installed_driver():
    import importlib.util

    url = sqlalchemy_url("postgresql://dtc@127.0.0.1/optuna")
    if importlib.util.find_spec("psycopg") is None:
        assert url == "postgresql+psycopg2://dtc@127.0.0.1/optuna"
    assert sqlalchemy_url("sqlite:///x.db") == "sqlite:///x.db"


def test_credentials_leave_the_tracking_uri_for_mlflows_own_variables(monkeypatch):
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    previous = mlflow.get_tracking_uri()
    try:
        assert _credentials_to_env("https://ann:p%40ss@mlflow.example:5055") == "https://mlflow.example:5055"
        assert mlflow.get_tracking_uri() == "https://mlflow.example:5055"  # what MLflow prints in "View run at"
        assert os.environ["MLFLOW_TRACKING_URI"] == "https://mlflow.example:5055"
        assert (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]) == ("ann", "p@ss")
    finally:
        mlflow.set_tracking_uri(previous)


def test_an_unreachable_server_is_named_without_its_password(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://ann:s3cret@127.0.0.1:1")
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri("http://ann:s3cret@127.0.0.1:1")
    try:
        with pytest.raises(ConnectionError) as info:
            check_tracking_server()
    finally:
        mlflow.set_tracking_uri(previous)
    assert "s3cret" not in str(info.value) and "http://127.0.0.1:1" in str(info.value)


def test_a_password_that_mlflow_run_already_logged_stops_the_worker(tmp_path, monkeypatch):
    """`mlflow run -P storage=postgresql://u:pw@...` logs the password before our code starts."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    experiment = client.create_experiment("secrets")
    run = client.create_run(experiment)  # what `mlflow run` makes, with the -P values as params
    client.log_param(run.info.run_id, "storage", "postgresql://dtc:s3cret@db/optuna")
    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", experiment)
    try:
        with pytest.raises(ValueError) as info:
            with parent_run("secrets", "tune: x"):
                pytest.fail("the body must not run")
    finally:
        mlflow.set_tracking_uri(None)  # back to MLFLOW_TRACKING_URI, which monkeypatch restores
    message = str(info.value)
    assert "s3cret" not in message and "\n" not in message
    assert f"mlflow runs delete --run-id {run.info.run_id}" in message and "PGPASSWORD" in message
    assert client.get_run(run.info.run_id).info.status == "FAILED"
    assert mlflow.active_run() is None
