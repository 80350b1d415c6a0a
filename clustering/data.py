"""Load a labelled (or unlabelled) text corpus from the Hugging Face hub or a local file.

``load_corpus`` is the one entry point: hub ids and local ``.csv``/``.tsv``/``.parquet``/
``.jsonl`` files (optionally gzipped) go through the same ``datasets.load_dataset`` path, so a
local copy of AG News (1-based labels, ``title``/``description`` columns) and the hub copy
(0-based ``ClassLabel``, one ``text`` column) come out as the same kind of ``Corpus``.

The package ships one small dataset, the way scikit-learn ships its own: ``"ag_news_test"``,
the 7,600-article AG News test split (``clustering/datasets/``, with its licence note).
``load_corpus("ag_news_test")`` reads it; ``bundled_path("ag_news_test")`` gives its file.
"""

from __future__ import annotations

import hashlib
import html
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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

# Label names for well-known corpora whose local copies store bare integers. An entry
# matches when the columns are present and the labels are 0..k-1 or 1..k.
_KNOWN_LABEL_NAMES = [
    ({"title", "description"}, ["World", "Sports", "Business", "Sci/Tech"]),  # AG News
]

_AG_ESCAPE = re.compile(r"(?<!&)#(\d{1,7});")  # AG News writes "&#36;" as "#36;"
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_APOSTROPHE = re.compile(r"['\u2019]")
_NOT_ALNUM = re.compile(r"[^\w\s]|_")
_SPACE = re.compile(r"\s+")


class DataError(ValueError):
    """A corpus cannot be loaded; the message is one line that says what to do."""


class HubUnreachable(DataError):
    """The Hugging Face hub cannot be reached (no network, or ``HF_HUB_OFFLINE`` without a cached copy)."""


def bundled_path(name: str = "ag_news_test") -> Path:
    """Path of a dataset shipped inside the package: ``"ag_news_test"`` (AG News test split, gzipped CSV).

    Columns ``label,title,description``, 7,600 rows, 1-based labels; see
    ``clustering/datasets/README.md`` for its source and licence.
    """
    if name not in BUNDLED:
        raise DataError(f"no bundled dataset named {name!r}; bundled: {', '.join(BUNDLED)}")
    return _DATASETS_DIR / BUNDLED[name]


def clean_text(text) -> str:
    """Normalise one article: undo AG News' escapes, lowercase, keep letters and digits.

    AG News' own escapes go first: ``\\`` (a former line break) becomes a space, ``#36;``
    style numeric escapes and HTML entities are decoded (``#151;`` is the cp1252 em dash,
    as browsers read it), and HTML tags such as ``&lt;b&gt;`` are removed. Then the text is
    lowercased, apostrophes are deleted (``it's`` -> ``its``), every other character that
    is not a letter, digit or whitespace (``$``, ``-``, ``.`` ...) becomes a space, and runs
    of whitespace collapse to one space. ``None`` and NaN give ``""``.
    """
    if _missing(text):
        return ""
    text = str(text).replace("\\", " ")
    text = html.unescape(_AG_ESCAPE.sub(r"&#\1;", text))
    text = _TAG.sub(" ", text).lower()
    text = _NOT_ALNUM.sub(" ", _APOSTROPHE.sub("", text))
    return _SPACE.sub(" ", text).strip()


@dataclass(frozen=True, eq=False)
class Corpus:
    """Texts with optional integer labels.

    ``labels`` is an int64 array of shape (n_texts,) with values 0..k-1, or ``None``;
    ``label_names[i]`` names label ``i``. ``n_dropped_empty`` counts the rows dropped
    because their text was empty (after cleaning).
    """

    texts: list[str]
    labels: np.ndarray | None = None
    label_names: list[str] | None = None
    source: str = ""
    n_dropped_empty: int = 0

    def __post_init__(self):
        if self.labels is not None:
            labels = np.asarray(self.labels, dtype=np.int64)
            if labels.shape != (len(self.texts),):
                raise ValueError(f"labels has shape {labels.shape}; expected ({len(self.texts)},)")
            object.__setattr__(self, "labels", labels)

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        return f"Corpus(source={self.source!r}, n_texts={len(self)}, label_names={self.label_names})"

    @property
    def stats(self) -> dict:
        """Summary for logging: sizes, class balance and text length in words."""
        words = np.array([len(t.split()) for t in self.texts])
        counts = None
        if self.labels is not None:
            k = len(self.label_names) if self.label_names else int(self.labels.max(initial=-1)) + 1
            names = self.label_names or [str(i) for i in range(k)]
            counts = dict(zip(names, np.bincount(self.labels, minlength=k).tolist()))
        return {
            "n_texts": len(self),
            "n_classes": None if counts is None else len(counts),
            "class_counts": counts,
            "mean_words": float(words.mean()) if len(words) else 0.0,
            "share_under_15_words": float((words < 15).mean()) if len(words) else 0.0,
            "n_dropped_empty": self.n_dropped_empty,
        }

    @property
    def fingerprint(self) -> str:
        """First 16 hex digits of a sha256 over the texts and labels; a data hash for tracking."""
        h = hashlib.sha256()
        for text in self.texts:
            data = text.encode("utf-8")
            h.update(len(data).to_bytes(8, "little") + data)
        if self.labels is not None:
            h.update(b"labels" + self.labels.astype("<i8").tobytes())
        return h.hexdigest()[:16]


def load_corpus(source, *, split=None, text_columns=None, label_column=None, n_per_class=None,
                max_samples=None, clean=True, seed=0) -> Corpus:
    """Load texts and labels from a Hugging Face hub id or a local data file.

    ``source``: a hub id such as ``"fancyzhx/ag_news"``, the name of a bundled dataset
    (``"ag_news_test"``), or a path ending in one of .csv, .tsv, .parquet, .jsonl, .json
    (optionally followed by .gz, .bz2, .xz or .zst). ``split`` defaults to ``"train"`` (the only split a
    local file has). ``text_columns`` is a column name, a list of names or a comma-separated
    string; several columns are joined with a space. Without it, ``text`` is used, else
    ``title`` + ``description``. ``label_column=None`` uses ``label`` when present and loads
    no labels otherwise; ``False`` or ``""`` never loads labels. Labels (strings or
    integers, 0- or 1-based) are re-encoded as 0..k-1 in sorted order of the original values.
    Texts pass through ``clean_text`` when ``clean``; rows whose text is empty are dropped
    and counted. ``n_per_class`` then draws that many texts per class and ``max_samples``
    a random subset, both seeded by ``seed`` and kept in file order.

    Raises ``DataError`` with one line for a missing file, unknown columns, too few texts in
    a class, or an empty corpus; ``HubUnreachable`` (a ``DataError``) for an unreachable hub.
    """
    table, features = _load_table(source, split)
    columns = list(table.column_names)
    text_cols = _text_columns(text_columns, columns)
    label_col = _label_column(label_column, columns)

    parts = [table.column(c).to_pylist() for c in text_cols]
    raw = [" ".join(str(v) for v in row if not _missing(v)) for row in zip(*parts)]
    texts = [clean_text(t) for t in raw] if clean else [t.strip() for t in raw]
    keep = [i for i, t in enumerate(texts) if t]
    n_dropped = len(texts) - len(keep)
    texts = [texts[i] for i in keep]
    if not texts:
        raise DataError(f"no texts left in {source} after dropping {n_dropped} empty one(s)")

    labels = names = None
    if label_col is not None:
        values = table.column(label_col).to_pylist()
        values = [values[i] for i in keep]
        feature_names = getattr(features.get(label_col), "names", None)
        labels, names = _encode_labels(values, label_col, feature_names, columns)

    rng = np.random.default_rng(seed)
    idx = np.arange(len(texts))
    if n_per_class is not None:
        idx = _balanced_subset(labels, names, n_per_class, rng)
    if max_samples is not None:
        if not isinstance(max_samples, (int, np.integer)) or max_samples < 1:
            raise DataError(f"max_samples must be a positive integer; got {max_samples!r}")
        if max_samples < len(idx):
            idx = np.sort(rng.choice(idx, size=max_samples, replace=False))
    texts = [texts[i] for i in idx]
    if labels is not None:
        labels = labels[idx]
        present = np.unique(labels)
        if len(present) < len(names):  # a subset lost a class: keep codes 0..k-1
            labels = np.searchsorted(present, labels)
            names = [names[i] for i in present]
    return Corpus(texts=texts, labels=labels, label_names=names, source=str(source),
                  n_dropped_empty=n_dropped)


def read_rows(source, *, split=None, text_columns=None):
    """Every row and column of ``source`` as a DataFrame, and each row's text, raw.

    The same sources and ``text_columns`` rule as ``load_corpus``, but nothing is cleaned,
    dropped or sampled: the texts (the text columns joined with a space, ``""`` where all are
    missing) line up with the rows, for a caller that must answer every row (``predict``).
    """
    table, _ = _load_table(source, split)
    text_cols = _text_columns(text_columns, list(table.column_names))
    parts = [table.column(c).to_pylist() for c in text_cols]
    texts = [" ".join(str(v) for v in row if not _missing(v)) for row in zip(*parts)]
    return table.to_pandas(), texts


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
    """True when ``load_corpus(source)`` would ask the Hugging Face hub (not a file, not a bundled name)."""
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


def _label_column(label_column, columns: list[str]):
    if label_column is None:
        return "label" if "label" in columns else None
    if not label_column:  # False or ""
        return None
    if label_column not in columns:
        raise DataError(f"label column {label_column!r} not found; columns are {columns}")
    return label_column


def _encode_labels(values, column, feature_names, columns):
    """Map label values to 0..k-1 (sorted by original value) and name each code."""
    # ClassLabel uses -1 for "no label" (e.g. unlabelled test splits)
    n_missing = sum(_missing(v) or (feature_names is not None and v < 0) for v in values)
    if n_missing:
        raise DataError(f"label column {column!r} has {n_missing} missing value(s)")
    if all(isinstance(v, float) and v.is_integer() for v in values):
        values = [int(v) for v in values]  # integer labels read back as floats
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        values = [str(v) for v in values]
    uniques = sorted(set(values))
    code = {v: i for i, v in enumerate(uniques)}
    labels = np.array([code[v] for v in values], dtype=np.int64)
    if feature_names is not None:
        return labels, [feature_names[v] for v in uniques]
    if not isinstance(uniques[0], str):
        for required, names in _KNOWN_LABEL_NAMES:
            k = len(names)
            if required <= set(columns) and uniques in (list(range(k)), list(range(1, k + 1))):
                return labels, list(names)
    return labels, [str(v) for v in uniques]


def _balanced_subset(labels, names, n_per_class, rng) -> np.ndarray:
    if labels is None:
        raise DataError("n_per_class needs labels, but the corpus has no label column")
    if not isinstance(n_per_class, (int, np.integer)) or n_per_class < 1:
        raise DataError(f"n_per_class must be a positive integer; got {n_per_class!r}")
    counts = np.bincount(labels, minlength=len(names))
    small = int(np.argmin(counts))
    if n_per_class > counts[small]:
        raise DataError(f"n_per_class={n_per_class} is larger than class {names[small]!r}, "
                        f"which has {counts[small]} texts")
    picks = [rng.choice(np.flatnonzero(labels == c), size=n_per_class, replace=False)
             for c in range(len(names))]
    return np.sort(np.concatenate(picks))
