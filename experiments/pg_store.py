"""Make a new PostgreSQL tracking database's schema once, however many processes open it at once.

MLflow's SQLAlchemy stores create their tables when they find none. Two processes that open
a new, empty database at once (two workers started together, no ``mlflow server``) both
try, and one dies inside ``CREATE TABLE alembic_version``. ``ensure_schema`` opens the
database through MLflow's public client while holding a PostgreSQL advisory lock: the first
process makes the schema, the others wait their turn and find it made. The project's entry
points call it before anything else touches the store (``preflight.check_tracking_server``);
MLflow's own stores are left as they are for every other process. ``mlflow run``'s launcher
opens the database before the project's code runs, so workers started through it on a new
database need the schema made once first (``docs/distributed.md``).
"""

from __future__ import annotations

import contextlib

# pg_advisory_lock takes a bigint; any fixed number does, as long as everyone uses the same one.
SCHEMA_LOCK = int.from_bytes(b"mlflowdb", "big") & 0x7FFF_FFFF_FFFF_FFFF


@contextlib.contextmanager
def schema_lock(store_uri: str):
    """Hold a database-wide PostgreSQL advisory lock (``SCHEMA_LOCK``) on ``store_uri``'s database.

    Parameters
    ----------
    store_uri : str
        A SQLAlchemy URL of a PostgreSQL database.

    Yields
    ------
    None
        While the lock is held; it is released, and the connection closed, on leaving.
    """
    import sqlalchemy

    engine = sqlalchemy.create_engine(store_uri, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK})
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("select pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK})
    finally:
        engine.dispose()


_ENSURED: set[str] = set()  # the databases this process has made sure of


def ensure_schema(store_uri: str) -> None:
    """Open MLflow's tracking and registry stores on ``store_uri`` once, under ``schema_lock``.

    On a new database the first caller's stores make the tables and the Default experiment;
    a caller that finds them made changes nothing. Once per database and process: the entry
    points check the tracking store before the run and again as it starts.

    Parameters
    ----------
    store_uri : str
        A SQLAlchemy URL of a PostgreSQL database, for both the tracking and the registry store.
    """
    import mlflow

    if store_uri in _ENSURED:
        return
    with schema_lock(store_uri):
        client = mlflow.MlflowClient(tracking_uri=store_uri, registry_uri=store_uri)
        client.search_experiments(max_results=1)
        client.search_registered_models(max_results=1)
    _ENSURED.add(store_uri)
