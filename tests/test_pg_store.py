"""experiments.pg_store without a server: the schema is made under the lock once per database and process."""

import contextlib

import mlflow

from experiments import pg_store


def test_a_database_is_made_sure_of_once_per_process(monkeypatch):
    locks, opened = [], []

    @contextlib.contextmanager
    def lock(uri):
        locks.append(uri)
        yield

    class Client:
        def __init__(self, tracking_uri, registry_uri):
            opened.append((tracking_uri, registry_uri))

        def search_experiments(self, max_results):
            return []

        def search_registered_models(self, max_results):
            return []

    monkeypatch.setattr(pg_store, "schema_lock", lock)
    monkeypatch.setattr(mlflow, "MlflowClient", Client)
    monkeypatch.setattr(pg_store, "_ENSURED", set())
    for _ in range(3):
        pg_store.ensure_schema("postgresql://dtc@db/one")
    pg_store.ensure_schema("postgresql://dtc@db/two")
    assert locks == ["postgresql://dtc@db/one", "postgresql://dtc@db/two"]
    assert opened == [("postgresql://dtc@db/one",) * 2, ("postgresql://dtc@db/two",) * 2]
