"""Checks before any run starts: is the tracking server or database there, and what of a URL may be shown.

Passwords never are. A bad URL ends in one line, before anything is logged.
"""

from __future__ import annotations

import os
import re

import mlflow

_PASSWORD_IN_URL = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)(?P<secret>[^@\s]*)(?P<tail>@)")

_PASSWORD_PARAM = re.compile(r"(?P<head>password=)(?P<secret>[^&\s]+)", re.IGNORECASE)


def redact(text: str) -> str:
    """Replace passwords in URLs (``user:secret@host``, ``?password=secret``) with ``***``.

    Parameters
    ----------
    text : str
        Any text (anything else is made a string first).

    Returns
    -------
    text : str
        ``text`` with every password in it replaced by ``***``.

    Examples
    --------
    >>> redact("postgresql://mlflow:s3cret@db:5432/mlflow")
    'postgresql://mlflow:***@db:5432/mlflow'
    >>> redact("host=db password=s3cret&user=me")
    'host=db password=***&user=me'
    """
    text = _PASSWORD_IN_URL.sub(lambda m: f"{m['head']}***{m['tail']}", str(text))
    return _PASSWORD_PARAM.sub(lambda m: f"{m['head']}***", text)


def sqlalchemy_url(url: str) -> str:
    """``url`` with an explicit PostgreSQL driver where SQLAlchemy's default is not installed.

    SQLAlchemy 2.1 reads ``postgresql://`` as psycopg 3; the project installs psycopg2, so
    a plain ``postgresql://`` URL is given the ``+psycopg2`` driver when psycopg is absent.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL.

    Returns
    -------
    url : str
        ``url`` itself, unless it is a plain PostgreSQL URL and psycopg 3 is not installed.
    """
    if not url.startswith(("postgresql://", "postgres://")):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg") is not None:
        return url
    return "postgresql+psycopg2://" + url.split("://", 1)[1]


def check_tracking_server() -> None:
    """Fail fast, in one line, when MLFLOW_TRACKING_URI names a server or database that does not answer.

    An HTTP URI's credentials move to MLflow's basic-auth variables first; a database URI is
    given the installed driver (``sqlalchemy_url``), and a new PostgreSQL database its schema
    (``pg_store.ensure_schema``).

    Raises
    ------
    ConnectionError
        If the tracking server or database does not answer (the message redacted).
    """
    uri = mlflow.get_tracking_uri()
    if uri.startswith(("http://", "https://")):
        uri = _credentials_to_env(uri)
        _check_http(uri)
    elif uri.startswith(("postgresql", "postgres://", "mysql", "mssql")):
        url = sqlalchemy_url(uri)
        if url != uri:
            mlflow.set_tracking_uri(url)  # the same database, through the driver that is installed
        _check_database(url, what="the MLflow tracking database")
        if url.startswith(("postgresql", "postgres://")):
            from experiments.pg_store import ensure_schema

            ensure_schema(url)  # a new database: made once, whoever else opens it now


def _credentials_to_env(uri: str) -> str:
    """Move ``user:password@`` out of an HTTP tracking URI into MLflow's basic-auth variables.

    MLflow prints its tracking URI in every "View run at" line; without the credentials
    in it, there is nothing to leak. Returns the URI now in use.
    """
    import urllib.parse

    parts = urllib.parse.urlsplit(uri)
    if parts.username is None:
        return uri
    os.environ["MLFLOW_TRACKING_USERNAME"] = urllib.parse.unquote(parts.username)
    if parts.password is not None:
        os.environ["MLFLOW_TRACKING_PASSWORD"] = urllib.parse.unquote(parts.password)
    bare = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    os.environ["MLFLOW_TRACKING_URI"] = bare
    mlflow.set_tracking_uri(bare)
    return bare


def _check_http(uri: str) -> None:
    import base64
    import urllib.error
    import urllib.request

    request = urllib.request.Request(uri.rstrip("/") + "/health")
    if os.environ.get("MLFLOW_TRACKING_USERNAME"):
        token = base64.b64encode(f"{os.environ['MLFLOW_TRACKING_USERNAME']}:"
                                 f"{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        urllib.request.urlopen(request, timeout=5)
    except urllib.error.HTTPError:
        return  # it answered; authentication and the like are MLflow's to report
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ConnectionError(
            f"cannot reach the MLflow tracking server at {redact(uri)} ({redact(getattr(exc, 'reason', exc))}); "
            "start it (e.g. scripts/local_cluster.sh up) or unset MLFLOW_TRACKING_URI to track locally"
        ) from None


def _check_database(url: str, *, what: str) -> None:
    """Open and close one connection to ``url`` within a few seconds, or raise ConnectionError."""
    import sqlalchemy

    try:
        timeout = {"connect_timeout": 10} if url.startswith(("postgres", "mysql")) else {}
        engine = sqlalchemy.create_engine(url, connect_args=timeout, poolclass=sqlalchemy.pool.NullPool)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # a dozen kinds (driver missing, refused, bad password): one line for the user
        raise ConnectionError(f"cannot connect to {what} at {redact(url)}: {first_line(exc)}; "
                              "check the URL and that the database server is running") from None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, redacted; its type's name when it has none.

    A full disk says where instead (``full_disk_message``).

    Parameters
    ----------
    exc : BaseException
        The exception.

    Returns
    -------
    line : str
        One line for the user.

    Examples
    --------
    >>> first_line(ValueError("cannot connect to postgresql://me:s3cret@db/x\\ndetails"))
    'cannot connect to postgresql://me:***@db/x'
    >>> first_line(KeyError())
    'KeyError'
    """
    full = full_disk_message(exc)
    if full is not None:
        return full
    text = str(exc).strip()
    return redact(text.splitlines()[0] if text else type(exc).__name__)


def full_disk_message(exc: BaseException) -> str | None:
    """One line for a full disk (``ENOSPC``, or SQLite's "database or disk is full").

    Parameters
    ----------
    exc : BaseException
        The exception.

    Returns
    -------
    line : str or None
        The line, naming the store or folder the user chose and the setting that moves it;
        None for any other error.
    """
    import errno

    text = str(exc)
    if "database or disk is full" in text:
        return (f"no space left for the MLflow tracking database ({_tracking_database()}); free space there or "
                "point MLFLOW_TRACKING_URI elsewhere")
    if not (isinstance(exc, OSError) and exc.errno == errno.ENOSPC):
        return None
    paths = [p for p in (getattr(exc, "filename2", None), exc.filename) if p]  # a copy's destination first
    full = next((p for p in paths if _free_bytes(p) < 1 << 20), paths[0] if paths else None)
    if full is None:
        return "no space left on the device; free space and run again"
    where, setting = _owner(os.path.abspath(str(full)))
    return f"no space left on {where}; free space there or point {setting} elsewhere"


def _tracking_database() -> str:
    uri = mlflow.get_tracking_uri()
    return redact(_sqlite_path(uri) or uri)


def _sqlite_path(uri: str) -> str | None:
    """The database file of a ``sqlite:///`` URI, else None."""
    return uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else None


def _free_bytes(path) -> int:
    """Free bytes on the filesystem of ``path`` (its nearest existing folder); large if unknown."""
    folder = os.path.abspath(str(path))
    while folder and not os.path.exists(folder):
        folder = os.path.dirname(folder)
    try:
        stats = os.statvfs(folder or "/")
        return stats.f_bavail * stats.f_frsize
    except OSError:
        return 1 << 62


def _owner(path: str) -> tuple[str, str]:
    """The folder the user chose that holds ``path``, and the setting that moves it."""
    import tempfile

    from clustering.embed import default_cache_dir

    database = _sqlite_path(mlflow.get_tracking_uri())
    known = {os.path.join(os.getcwd(), "mlruns"): "the MLflow artifact store (MLFLOW_TRACKING_URI, or a server's "
                                                  "--artifacts-destination)",
             str(default_cache_dir()): "the embedding cache (CLUSTERING_CACHE_DIR)",
             tempfile.gettempdir(): "the temporary folder (TMPDIR)"}
    if database is not None:
        known[os.path.dirname(os.path.abspath(database))] = "the MLflow tracking database (MLFLOW_TRACKING_URI)"
    holders = [folder for folder in known if path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)]
    if not holders:
        return os.path.dirname(path) or path, "the output"
    folder = max(holders, key=len)
    return folder, known[folder]
