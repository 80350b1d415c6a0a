"""Where a corpus's rows come from: a Hugging Face hub id, a dataset bundled with the package, or a
local CSV/TSV/parquet/JSONL file, all read through ``datasets.load_dataset``.

``clustering.data.load_corpus`` turns the rows into a ``Corpus``.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from clustering._hub import hub_offline, hub_reachable

# builder name and extra load_dataset arguments per supported suffix
_FORMATS = {
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"delimiter": "\t"}),
    ".parquet": ("parquet", {}),
    ".jsonl": ("json", {}),
    ".json": ("json", {}),
}


_SUPPORTED = ", ".join(_FORMATS)


_COMPRESSED = (".gz", ".bz2", ".xz", ".zst")


# Datasets inside the package (clustering/datasets/), by name, and the hub ids they stand in for
# when the hub cannot be reached.
_DATASETS_DIR = Path(__file__).resolve().parent / "datasets"


BUNDLED = {"ag_news_test": "ag_news_test.csv.gz"}


BUNDLED_STAND_INS = {"fancyzhx/ag_news": "ag_news_test"}


_OFFLINE = ("cannot reach the Hugging Face hub to load {!r}; pass a local file instead "
            f"({_SUPPORTED}), or data=ag_news_test for the AG News test split bundled with the package")


class DataError(ValueError):
    """A corpus cannot be loaded.

    The message is one line that says what to do. A subclass of ``ValueError``.

    See Also
    --------
    HubUnreachable : the hub cannot be reached.
    """


class HubUnreachable(DataError):
    """The Hugging Face hub cannot be reached.

    No network, or ``HF_HUB_OFFLINE`` without a cached copy; the message points at a local file
    or the bundled AG News test split instead.
    """


def bundled_path(name: str = "ag_news_test") -> Path:
    """Return the path of a dataset shipped inside the package.

    The package ships one, the way scikit-learn ships its own: ``"ag_news_test"``, the AG News
    test split as gzipped CSV, columns ``label,title,description``, 7,600 rows, 1-based labels;
    ``clustering/datasets/README.md`` gives its source and licence.

    Parameters
    ----------
    name : str, default="ag_news_test"
        A key of ``BUNDLED``.

    Returns
    -------
    path : pathlib.Path
        The file inside ``clustering/datasets/``.

    Raises
    ------
    DataError
        When no bundled dataset has that name.

    See Also
    --------
    load_corpus : reads it by name, ``load_corpus("ag_news_test")``.

    Examples
    --------
    >>> from clustering.sources import bundled_path
    >>> bundled_path().name
    'ag_news_test.csv.gz'
    """
    if name not in BUNDLED:
        raise DataError(f"no bundled dataset named {name!r}; bundled: {', '.join(BUNDLED)}")
    return _DATASETS_DIR / BUNDLED[name]


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _format_suffix(path: Path) -> str:
    """``.csv`` for both ``x.csv`` and ``x.csv.gz``: the suffix that names the format."""
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in _COMPRESSED:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def _looks_like_path(source: str) -> bool:
    # Hub ids are "name" or "owner/name"; anything else that names a file is a path.
    return (_format_suffix(Path(source)) in _FORMATS or source.startswith(("/", ".", "~"))
            or "\\" in source or source.count("/") > 1)


def is_hub_id(source) -> bool:
    """Tell whether ``load_corpus(source)`` would ask the Hugging Face hub.

    A path-like object, an existing file, anything that looks like a path (a data file suffix,
    a leading ``/``, ``.`` or ``~``, more than one ``/``) and a bundled name are not hub ids.

    Parameters
    ----------
    source : str or path-like
        What ``load_corpus`` would be given.

    Returns
    -------
    hub : bool
        True for a hub id such as ``"fancyzhx/ag_news"``.

    Examples
    --------
    >>> from clustering.sources import is_hub_id
    >>> is_hub_id("fancyzhx/ag_news"), is_hub_id("ag_news_test"), is_hub_id("news.csv")
    (True, False, False)
    """
    if isinstance(source, os.PathLike):
        return False
    source = str(source)
    return not (Path(os.path.expanduser(source)).exists() or _looks_like_path(source) or source in BUNDLED)


def _load_table(source, split):
    """Return (pyarrow table, datasets features) for ``source``'s ``split``."""
    if is_hub_id(source):
        return _load_hub(str(source), split or "train")
    path = Path(os.path.expanduser(str(source)))
    if not isinstance(source, os.PathLike) and not path.exists() and str(source) in BUNDLED:
        path = bundled_path(str(source))
    return _load_local(path, split)


def _load_local(path: Path, split):
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    suffix = _format_suffix(path)
    if suffix not in _FORMATS:
        raise DataError(f"unsupported data file {path}: use one of {_SUPPORTED}")
    if split not in (None, "train"):
        raise DataError(f"a local data file has the single split 'train'; got split={split!r}")
    if path.stat().st_size == 0:
        raise DataError(f"data file is empty: {path}")
    import datasets

    builder, kwargs = _FORMATS[suffix]
    bars_on = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # a local read takes milliseconds; no bar needed
    try:
        # The arrow cache of a local file is worth nothing once in memory: keep it temporary.
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as cache:
            ds = datasets.load_dataset(builder, data_files={"train": str(path)}, split="train",
                                       keep_in_memory=True, cache_dir=cache, **kwargs)
    except Exception as exc:
        if "corresponds to no data" in str(exc):
            raise DataError(f"data file has no rows: {path}") from exc
        if isinstance(_root(exc), UnicodeDecodeError) or "codec can't decode" in _root_message(exc):
            raise DataError(f"could not read {path}: it is not UTF-8 text ({_root_message(exc)}); "
                            f"save it as UTF-8, or as parquet") from exc
        raise DataError(f"could not read {path}: {_root_message(exc)}") from exc
    finally:
        if bars_on:
            datasets.enable_progress_bars()
    if ds.num_rows == 0:
        raise DataError(f"data file has no rows: {path}")
    return ds.data, ds.features


def _load_hub(source: str, split: str):
    if not hub_offline() and not hub_reachable():
        raise HubUnreachable(_OFFLINE.format(source))
    import datasets
    from datasets.exceptions import DatasetNotFoundError

    try:
        ds = datasets.load_dataset(source, split=split)
    except DatasetNotFoundError as exc:
        if hub_offline():  # offline and not cached shows up as "not found" in some versions
            raise HubUnreachable(_OFFLINE.format(source)) from exc
        raise DataError(f"dataset {source!r} not found on the Hugging Face hub, and no local file "
                        f"has that name") from exc
    except (ConnectionError, OSError) as exc:
        raise HubUnreachable(_OFFLINE.format(source)) from exc
    except ValueError as exc:  # e.g. an unknown split
        raise DataError(f"could not load {source!r} split {split!r}: {_root_message(exc)}") from exc
    return ds.data, ds.features


def _root(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    return exc


def _root_message(exc: BaseException) -> str:
    exc = _root(exc)
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def read_rows(source, *, split=None, text_columns=None):
    """Read every row and column of ``source`` as a DataFrame, and each row's text, raw.

    The same sources and ``text_columns`` rule as ``load_corpus``, but nothing is cleaned,
    dropped or sampled: the texts line up with the rows, for a caller that must answer every
    row (``predict``).

    Parameters
    ----------
    source : str or path-like
        A hub id, a bundled dataset's name or a local data file, as for ``load_corpus``.
    split : str, default=None
        The split; None: ``"train"``.
    text_columns : str, list of str or None, default=None
        The text columns, as for ``load_corpus``.

    Returns
    -------
    frame : pandas.DataFrame
        Every row and column.
    texts : list of str
        Each row's text columns joined with a space, ``""`` where all are missing.

    Raises
    ------
    DataError
        As ``load_corpus`` for the source and the columns; ``HubUnreachable`` for the hub.

    See Also
    --------
    load_corpus : cleaned, filtered and labelled texts.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from clustering.sources import read_rows
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "new.csv"
    ...     _ = path.write_text("id,text\\n1,Stocks fall 2%!\\n2,\\n")
    ...     frame, texts = read_rows(path)
    >>> frame.shape, texts
    ((2, 2), ['Stocks fall 2%!', ''])
    """
    table, _ = _load_table(source, split)
    text_cols = _text_columns(text_columns, list(table.column_names))
    parts = [table.column(c).to_pylist() for c in text_cols]
    texts = [" ".join(str(v) for v in row if not _missing(v)) for row in zip(*parts)]
    return table.to_pandas(), texts


def _text_columns(text_columns, columns: list[str]) -> list[str]:
    if text_columns is None:
        if "text" in columns:
            return ["text"]
        if "title" in columns and "description" in columns:
            return ["title", "description"]
        raise DataError(f"no text column found: pass text_columns=...; columns are {columns}")
    if isinstance(text_columns, str):
        text_columns = text_columns.split(",")
    names = [c.strip() for c in text_columns if c.strip()]
    missing = [c for c in names if c not in columns]
    if missing or not names:
        raise DataError(f"text column(s) {missing or names} not found; columns are {columns}")
    return names
