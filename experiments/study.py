"""Study mechanics: Optuna storage, the workers that share a study, and their failures.

Several workers (processes, machines) given the same ``study_name`` and ``storage`` share
one study and stop at exactly ``n_trials`` completed trials between them. A worker that
dies mid-trial is noticed by the next one to look (at once on the same machine, after
Optuna's heartbeat grace period elsewhere): its trial is marked FAIL and ``on_lost(study,
trial)`` is called for it, so whoever tracks the trials can close their records. Nothing
here tracks or knows what a trial fits.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from experiments.evaluation import direction
from experiments.objective import make_pruner, make_sampler, queue_first_trials
from experiments.preflight import first_line, redact, sqlalchemy_url

HEARTBEAT_SECONDS = 10  # a running trial tells the storage it is alive this often;
GRACE_SECONDS = 60  # silent this long, it is failed as stale by the next worker that looks
WAIT_SECONDS = 2.0  # how often a worker waiting for the last trials of others looks again
CONNECT_TIMEOUT_SECONDS = 10


def this_machine() -> str:
    """Where a process id means something: host name, boot and PID namespace (Linux).

    Returns
    -------
    machine : str
        The host name, then the boot id's head and the PID namespace where they can be read, ``/``-joined.
    """
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8])
    with contextlib.suppress(OSError):
        parts.append(os.readlink("/proc/self/ns/pid").strip("pid:[]"))
    return "/".join(parts)


def worker_id() -> str:
    """This process as ``<machine>#<pid>``; recorded on parent runs and Optuna trials.

    Returns
    -------
    worker : str
        ``this_machine()``, ``#`` and the process id.
    """
    return f"{this_machine()}#{os.getpid()}"


def is_dead_here(worker: str) -> bool:
    """True only when ``worker`` ran on this machine and its process is gone.

    A worker elsewhere, or a process id now taken by another process, reads as alive:
    those are left to Optuna's heartbeat, which is slower but sees every machine.

    Parameters
    ----------
    worker : str
        A ``worker_id()``, as recorded on a run or trial.

    Returns
    -------
    dead : bool
    """
    machine, _, pid = str(worker).rpartition("#")
    if machine != this_machine() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. EPERM: it exists, owned by someone else
        return False
    return False


def make_storage(url: str, *, on_stale=None):
    """Optuna storage from a SQLAlchemy URL, or a journal file (``*.journal`` / ``journal:PATH``).

    RDB storages (SQLite, PostgreSQL, MySQL) get a heartbeat: a trial whose worker was
    killed is marked FAIL by the next worker that starts a trial, and ``on_stale(study,
    trial)`` is called for it. A server that does not answer fails within
    ``CONNECT_TIMEOUT_SECONDS`` with one line (any password in it shown as ``***``).

    Parameters
    ----------
    url : str
        A SQLAlchemy URL, a ``*.journal`` path or ``journal:PATH``.
    on_stale : callable, default=None
        ``on_stale(study, trial)``, the RDB storage's stale-trial callback.

    Returns
    -------
    storage : optuna.storages.RDBStorage or optuna.storages.JournalStorage

    Raises
    ------
    ConnectionError
        If the storage cannot be opened (a journal's folder missing, a server that does not answer).
    """
    if url.startswith("journal:") or url.endswith(".journal"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(url.removeprefix("journal:")).expanduser()
        if not path.parent.is_dir():
            raise ConnectionError(f"cannot open Optuna journal {path}: folder {path.parent} does not exist")
        return JournalStorage(JournalFileBackend(str(path)))
    engine_kwargs = {"pool_pre_ping": True}
    if url.startswith(("postgres", "mysql")):
        engine_kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    import sqlalchemy.exc

    try:
        for attempt in range(3):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeat_interval
                    return optuna.storages.RDBStorage(
                        sqlalchemy_url(url), heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                        heartbeat_stale_trial_callback=on_stale, engine_kwargs=engine_kwargs)
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
                # Workers starting together on a new database race to create Optuna's tables;
                # the loser finds them there on its next try.
                if attempt == 2:
                    raise
                time.sleep(1 + attempt)
    except Exception as exc:  # sqlalchemy raises a dozen kinds; the user needs one line
        raise ConnectionError(f"cannot open Optuna storage {redact(url)}: {first_line(exc)}; check the URL "
                              "and that its database server is running (storage=sqlite:///optuna.db works "
                              "on one machine)") from None


def check_storage(url: str) -> None:
    """Open ``url`` once and let it go: a bad or unreachable storage fails before any run starts.

    Parameters
    ----------
    url : str
        ``make_storage``'s.

    Raises
    ------
    ConnectionError
        If the storage cannot be opened.
    """
    storage = make_storage(url)
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()


def create_study(config, *, on_stale=None):
    """Create or join the study ``config.study_name`` in ``config.storage``.

    A new study gets ``search_space.first_trials`` queued: the MiniLM + KMeans starting
    point and the seed report's settings, so they are candidates whatever the sampler does.

    Parameters
    ----------
    config : RunConfig
        Reads ``study_name``, ``storage``, ``objective``, ``seed`` and what ``first_trials`` reads.
    on_stale : callable, default=None
        ``on_stale(study, trial)``, for trials whose worker stopped (``make_storage``'s).

    Returns
    -------
    study : optuna.Study

    Raises
    ------
    ConnectionError
        If the storage cannot be opened.
    """
    study = optuna.create_study(
        study_name=config.study_name,
        storage=make_storage(config.storage, on_stale=on_stale),
        direction=direction(config.objective),
        sampler=make_sampler(config.seed),
        pruner=make_pruner(),
        load_if_exists=True,
    )
    if queue_first_trials(study, config):
        drop_queued_copies(study)
    return study


def drop_queued_copies(study) -> list[int]:
    """Prune the waiting trials that repeat the params queued for an earlier trial; return their numbers.

    Workers that create a new study at once all find it empty and all queue its first
    trials. Each, after queueing, drops the copies it sees; the last to queue sees them all.
    A copy is claimed from the queue atomically (WAITING -> RUNNING, which fails if a worker
    popped it first: ``fit_trial`` then skips it as a duplicate) and told PRUNED with
    ``duplicate_of``, so it never counts and never waits in the queue of a full study.

    Parameters
    ----------
    study : optuna.Study

    Returns
    -------
    dropped : list of int
        The numbers of the trials pruned.
    """
    storage = study._storage  # Optuna has no public call to take one given trial off the queue
    kept: dict[str, int] = {}
    dropped = []
    for trial in study.get_trials(deepcopy=False):
        fixed = trial.system_attrs.get("fixed_params")
        if fixed is None or (trial.state == TrialState.PRUNED and "duplicate_of" in trial.user_attrs):
            continue
        key = repr(sorted(fixed.items()))
        if key not in kept:
            kept[key] = trial.number
        elif trial.state == TrialState.WAITING and _claim(storage, trial._trial_id):
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                storage.set_trial_user_attr(trial._trial_id, "duplicate_of", kept[key])
                storage.set_trial_user_attr(trial._trial_id, "worker", worker_id())
                storage.set_trial_state_values(trial._trial_id, TrialState.PRUNED)
                dropped.append(trial.number)
    return dropped


def _claim(storage, trial_id: int) -> bool:
    """Take a WAITING trial off the queue; False when another worker took it (or finished it) first.

    Atomic on PostgreSQL and MySQL (SELECT ... FOR UPDATE). SQLite has no row lock: two
    workers may both take it, as they may both pop one trial in Optuna's own ``optimize``;
    the second to prune it then finds it finished, which is what it wanted.
    """
    try:
        return storage.set_trial_state_values(trial_id, TrialState.RUNNING)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False


def join(study, worker: str) -> int:
    """Register ``worker`` with the study; return its rank (0 for the first worker ever).

    Workers seed their samplers with ``seed + rank``: with one seed, two workers starting
    together would propose the same points. The first worker of a study keeps ``seed``
    itself, so a study run by one worker is reproducible.

    Parameters
    ----------
    study : optuna.Study
    worker : str
        A ``worker_id()``, kept as the study's user attribute ``worker <worker>``.

    Returns
    -------
    rank : int
        The worker's place in the order of joining.
    """
    key = f"worker {worker}"
    study.set_user_attr(key, time.time())
    joined = sorted((v, k) for k, v in study.user_attrs.items() if k.startswith("worker "))
    return [k for _, k in joined].index(key)


def fail_lost_trials(study, *, on_lost=None) -> None:
    """Mark FAIL the RUNNING trials whose worker is gone; ``on_lost(study, trial)`` for each.

    On this machine a dead process is seen at once. Elsewhere Optuna's heartbeat tells:
    ``fail_stale_trials`` fails trials silent for ``GRACE_SECONDS`` and calls the storage's
    stale-trial callback (``make_storage(on_stale=...)``) for them.

    Parameters
    ----------
    study : optuna.Study
    on_lost : callable, default=None
        ``on_lost(study, trial)``, called for each trial failed here.
    """
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if is_dead_here(trial.user_attrs.get("worker", "")):
            if study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True).state == TrialState.FAIL:
                if on_lost is not None:
                    on_lost(study, trial)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def wait_for_room(study, n_trials: int, *, before: int | None = None, deadline=None, on_lost=None) -> bool:
    """Whether one more trial may run, waiting while the running trials could still fill the study.

    True when the trials that ran (``counts``: completed or pruned) plus the running ones
    are fewer than ``n_trials``. While the running ones could still fill the study, wait:
    each either completes or is pruned (then False) or fails or loses its worker (then
    True). A running trial that nobody could declare lost (no heartbeat in the storage, and
    a worker on another machine) is not waited for.

    Parameters
    ----------
    study : optuna.Study
    n_trials : int
        The trials the study is to hold.
    before : int, default=None
        Count only the running trials numbered below this; None: all of them.
    deadline : float, default=None
        A ``time.monotonic()`` time at which to stop waiting (and answer False); None: none.
    on_lost : callable, default=None
        ``on_lost(study, trial)``, for each trial found lost while waiting (``fail_lost_trials``).

    Returns
    -------
    room : bool
    """
    heartbeat = _has_heartbeat(study)
    here = this_machine()
    while True:
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING))
        ran = sum(counts(t) for t in trials)
        ahead = [t for t in trials if t.state == TrialState.RUNNING and (before is None or t.number < before)
                 and (heartbeat or t.user_attrs.get("worker", "").rpartition("#")[0] == here)]
        if ran >= n_trials:
            return False
        if ran + len(ahead) < n_trials:
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(WAIT_SECONDS)
        fail_lost_trials(study, on_lost=on_lost)


def counts(trial) -> bool:
    """Whether ``trial`` counts towards the study's ``n_trials``.

    It counts when it completed, or ran and was pruned (the time it took is spent, as
    Optuna's own ``n_trials`` counts it). A failed trial, a duplicate skipped before fitting
    and a trial that found the study full do not.

    Parameters
    ----------
    trial : optuna.trial.FrozenTrial

    Returns
    -------
    counts : bool
    """
    if trial.state == TrialState.COMPLETE:
        return True
    return trial.state == TrialState.PRUNED and not ({"duplicate_of", "not_run"} & set(trial.user_attrs))


def _has_heartbeat(study) -> bool:
    # Study keeps its storage private; RDB storages made by make_storage have a heartbeat.
    interval = getattr(getattr(study, "_storage", None), "get_heartbeat_interval", lambda: None)
    return interval() is not None

