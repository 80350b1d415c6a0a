"""MLflow stores for ``postgresql://`` tracking URIs that make a new database's schema once.

MLflow's SQLAlchemy stores create their tables when they find none. Two processes that open a
new, empty database at once (two ``mlflow run`` workers started together, no ``mlflow
server``) both try, and one dies inside ``CREATE TABLE alembic_version``. Registered as
MLflow's store builders for the ``postgresql`` scheme (the ``mlflow.tracking_store`` and
``mlflow.model_registry_store`` entry points in pyproject.toml), these hold a PostgreSQL
advisory lock while the store is built: the second process waits its turn and finds the
schema made. Every process of the venv gets them, ``mlflow run`` and ``mlflow server``
included; everything else is MLflow's own store.
"""

from __future__ import annotations

import contextlib

# pg_advisory_lock takes a bigint; any fixed number does, as long as everyone uses the same one.
SCHEMA_LOCK = int.from_bytes(b"mlflowdb", "big") & 0x7FFF_FFFF_FFFF_FFFF


@contextlib.contextmanager
def schema_lock(store_uri: str):
    """Hold a database-wide PostgreSQL advisory lock on ``store_uri``'s database."""
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


def tracking_store(store_uri, artifact_uri=None):
    """MLflow's tracking store for ``store_uri``, built while no other process builds one."""
    from mlflow.tracking._tracking_service.utils import _get_sqlalchemy_store

    with schema_lock(store_uri):
        return _get_sqlalchemy_store(store_uri, artifact_uri)


def registry_store(store_uri, tracking_uri=None):
    """MLflow's model registry store for ``store_uri``, built while no other process builds one."""
    from mlflow.tracking._model_registry.utils import _get_sqlalchemy_store

    with schema_lock(store_uri):
        return _get_sqlalchemy_store(store_uri)
