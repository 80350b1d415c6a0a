"""Console output a person can read: progress lines, the summary, and one line per real warning.

Known-harmless warnings are silenced by exact message and origin, never by category alone;
any other warning is printed as one line (``warning: ... (Category, file:line)``) instead of
Python's two, so it reads as something to act on rather than noise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import warnings
from pathlib import Path

# (message regex, category name, module regex): each one checked and found harmless here.
_HARMLESS = [
    # KMeans on a latent space where points coincide (a collapsed DEC trial): the clusters it finds
    # are scored as they are, and the trial's objective says how bad they are.
    (r"Number of distinct clusters \(\d+\) found smaller than n_clusters", "ConvergenceWarning", r"sklearn\."),
    # Optuna's median pruner over trials whose every intermediate value is NaN (diverged or pruned
    # early): it cannot prune on them, which is the right answer.
    (r"All-NaN slice encountered", "RuntimeWarning", r"optuna\."),
    # MLflow asks for type hints on PythonModel.predict; the model logs an explicit signature instead.
    # (It starts with a colour code; MLflow shows it through a "once" filter of its own: see _show.)
    (r".*Add type hints to the `predict` method to enable data validation", "UserWarning", r""),
    # The dataset input's schema: the label column is an integer and is never missing.
    (r"Hint: Inferred schema contains integer column", "UserWarning", r"mlflow\."),
    # A collapsed trial (every point in one cluster) has no internal scores; its trial line says so.
    (r"internal scores need 2 <= n_clusters", "RuntimeWarning", r"clustering\.metrics"),
]

# MLflow's own log lines that repeat what our progress lines say, or warn about our own code.
_HARMLESS_LOGS = {
    "mlflow.pyfunc": ("Passing a Python object as `python_model`",),  # our own class, pickled by us
    # A database error with its whole traceback (e.g. a full disk), logged before MLflow raises it
    # again: the error reaches the entry point, which says it in one line.
    "mlflow.store.db.utils": ("SQLAlchemy database error",),
}


class _DropMessages(logging.Filter):
    def __init__(self, prefixes):
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefixes)


def _one_line(message, category, filename, lineno, line=None) -> str:
    text = str(message).strip().splitlines()
    where = "/".join(Path(filename).parts[-2:])
    return f"warning: {text[0] if text else category.__name__} ({category.__name__}, {where}:{lineno})\n"


def _show(message, category, filename, lineno, file=None, line=None) -> None:
    # MLflow shows some warnings whatever the filters say (a "once" filter of its own around the
    # call), so the harmless ones are dropped here too, by the same message patterns.
    names = {kind.__name__ for kind in category.__mro__}
    if any(name in names and re.match(pattern, str(message), re.I) for pattern, name, _ in _HARMLESS):
        return
    with contextlib.suppress(OSError, AttributeError):
        (file or sys.stderr).write(_one_line(message, category, filename, lineno))


def quiet_known_warnings() -> None:
    """Install the filters above for this process (the ``python -m experiments`` entry points)."""
    from sklearn.exceptions import ConvergenceWarning

    categories = {"ConvergenceWarning": ConvergenceWarning, "RuntimeWarning": RuntimeWarning,
                  "UserWarning": UserWarning}
    for message, category, module in _HARMLESS:
        warnings.filterwarnings("ignore", message=message, category=categories[category], module=module)
    warnings.formatwarning = _one_line
    warnings.showwarning = _show
    for logger, prefixes in _HARMLESS_LOGS.items():
        log = logging.getLogger(logger)
        if not any(isinstance(f, _DropMessages) for f in log.filters):
            log.addFilter(_DropMessages(prefixes))
    # MLflow reads these when it is imported: INFO lines and artifact progress bars off in our process.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
