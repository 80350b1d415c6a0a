"""Progress bars for the long fits the entry points run: one tqdm bar per fit, one tick per epoch.

The estimators call ``callback(step, logs)`` after every epoch (AE pretraining, DEC/IDEC,
self-training) or round (pseudo-labelling), with ``logs["stage"]``; ``epoch_bar`` turns those
calls into a bar that names the stage and its last loss. The library itself prints nothing;
the bar is the entry points' (``evaluation.fit(..., progress="...")``). It shows on a terminal
only (tqdm's ``disable=None``), so logs and CI output stay one line per step, and it
disappears when the fit ends (``leave=False``): the line the caller prints after stays.
"""

from __future__ import annotations

import contextlib
import sys

LOSS_KEYS = ("loss", "ae_loss", "kl_loss", "changed")  # what a bar shows of the last logs, when present


@contextlib.contextmanager
def epoch_bar(desc: str, callback=None, *, file=None, disable: bool | None = None, mininterval: float = 0.1):
    """A callback that ticks a tqdm bar labelled ``desc`` and then calls ``callback``.

    Each tick shows the stage and the last of ``LOSS_KEYS`` in the logs; the bar closes when
    the context ends.

    Parameters
    ----------
    desc : str
        The bar's label.
    callback : callable, default=None
        ``callback(step, logs)``, called after each tick; its answer is the tick's.
    file : file-like, default=None
        Where the bar is drawn; None: stderr.
    disable : bool or None, default=None
        None: shown only when ``file`` is a terminal; False: always; True: never.
    mininterval : float, default=0.1
        The least seconds between two redraws (tqdm's).

    Yields
    ------
    tick : callable
        ``tick(step, logs)``, the callback to give the estimator's ``fit``.
    """
    from tqdm.auto import tqdm

    bar = tqdm(desc=desc, unit="epoch", leave=False, file=file or sys.stderr, disable=disable,
               mininterval=mininterval)

    def tick(step, logs):
        stage = logs.get("stage")
        shown = {k: f"{logs[k]:.4g}" for k in LOSS_KEYS if isinstance(logs.get(k), (int, float))}
        bar.set_postfix({"stage": stage, **shown} if stage else shown, refresh=False)
        bar.update(1)
        return callback(step, logs) if callback is not None else None

    try:
        yield tick
    finally:
        bar.close()
