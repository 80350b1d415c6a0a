"""How many threads numpy's and scipy's BLAS get in a run of the suite: one unless told otherwise.

Most of a run's arithmetic is many small products: logistic regressions on a few thousand
rows (the pseudo-labeller's rounds, the cross-view predictability of every scored
partition), k-means steps, neighbour smoothing. OpenBLAS' default of one thread per core
makes those slower, not faster; only large products gain, and they are a small share of a
run. torch keeps its own threads (the autoencoder and the embedding model are unaffected).
The measurement: ``python -m benchmarks.blas_threads``.
"""

from __future__ import annotations

import os

ENV = "DTC_BLAS_THREADS"  # threads for numpy's and scipy's BLAS; 0 leaves the libraries' defaults
DEFAULT = 1


def blas_threads() -> int:
    """``$DTC_BLAS_THREADS`` (default 1) as an integer >= 0.

    Returns
    -------
    n : int
        The threads for BLAS; 0 leaves the libraries' own default.

    Raises
    ------
    ValueError
        If the variable is not a whole number >= 0 (in one line).
    """
    raw = os.environ.get(ENV, str(DEFAULT)).strip()
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{ENV} must be a whole number >= 0 (0: the libraries' own default), got {raw!r}")
    return value


def limit_blas(n: int | None = None) -> int:
    """Limit the BLAS libraries numpy and scipy load to ``n`` threads (default ``blas_threads()``), process-wide.

    numpy and scipy's linear algebra are imported first, so that both BLAS libraries are
    loaded and limited (threadpoolctl sees only loaded ones).

    Parameters
    ----------
    n : int, default=None
        The threads; 0 changes nothing; None: ``blas_threads()``.

    Returns
    -------
    n : int
        The limit set (0: nothing was changed).

    Raises
    ------
    ValueError
        If ``n`` is None and ``$DTC_BLAS_THREADS`` is not a whole number >= 0.
    """
    n = blas_threads() if n is None else n
    if n > 0:
        import numpy  # noqa: F401
        import scipy.linalg  # noqa: F401
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n, user_api="blas")
    return n
