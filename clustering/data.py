"""Load a labelled (or unlabelled) text corpus from the Hugging Face hub, the package or a local file.

``load_corpus`` is the one entry point; how the sources line up and the bundled AG News test split:
``docs/library.md``.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass

import numpy as np

from clustering.sources import (BUNDLED, BUNDLED_STAND_INS, DataError, HubUnreachable, _load_table, _missing,
                                _text_columns, bundled_path, is_hub_id, read_rows)

# the sources' public names stay importable from here, where they were first
__all__ = ["Corpus", "clean_text", "load_corpus", "read_rows", "DataError", "HubUnreachable", "BUNDLED",
           "BUNDLED_STAND_INS", "bundled_path", "is_hub_id"]


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


def clean_text(text) -> str:
    """Normalise one article: undo AG News' escapes, lowercase, keep letters and digits.

    AG News' own escapes go first: ``\\`` (a former line break) becomes a space, ``#36;``
    style numeric escapes and HTML entities are decoded (``#151;`` is the cp1252 em dash,
    as browsers read it), and HTML tags such as ``&lt;b&gt;`` are removed. Then the text is
    lowercased, apostrophes are deleted (``it's`` -> ``its``), every other character that
    is not a letter, digit or whitespace (``$``, ``-``, ``.`` ...) becomes a space, and runs
    of whitespace collapse to one space.

    Parameters
    ----------
    text : str, None or float
        The raw text; any other value is turned into a string first.

    Returns
    -------
    cleaned : str
        The normalised text; ``""`` for None and NaN.

    See Also
    --------
    load_corpus : cleans every text with it when ``clean=True``.

    Examples
    --------
    >>> from clustering.data import clean_text
    >>> clean_text("Oil prices #36;50 a barrel &lt;b&gt;up&lt;/b&gt; -- it's official")
    'oil prices 50 a barrel up its official'
    >>> clean_text(None)
    ''
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
    """Texts with optional integer labels: what ``load_corpus`` returns.

    A frozen dataclass; ``len(corpus)`` is the number of texts.

    Parameters
    ----------
    texts : list of str
        The texts.
    labels : array-like of shape (n_texts,) or None, default=None
        Integer label of each text, 0..k-1; stored as an int64 array.
    label_names : list of str or None, default=None
        ``label_names[i]`` names label ``i``.
    source : str, default=""
        Where the texts came from (hub id, bundled name or path).
    n_dropped_empty : int, default=0
        Rows dropped because their text was empty (after cleaning).

    Attributes
    ----------
    texts, labels, label_names, source, n_dropped_empty
        The fields above; ``labels`` an int64 ndarray or None.
    stats : dict
        Summary for logging (see the property).
    fingerprint : str
        Data hash for tracking (see the property).

    Raises
    ------
    ValueError
        When ``labels`` does not have one entry per text.

    See Also
    --------
    load_corpus : builds one from a hub id or a file.

    Examples
    --------
    >>> from clustering.data import Corpus
    >>> corpus = Corpus(["stocks fall", "striker scores in final"], labels=[0, 1], label_names=["business", "sport"])
    >>> len(corpus), corpus.labels.dtype, corpus.stats["class_counts"], corpus.stats["mean_words"]
    (2, dtype('int64'), {'business': 1, 'sport': 1}, 3.0)
    >>> len(corpus.fingerprint)
    16
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
        """Summary for logging: sizes, class balance and text length in words.

        Returns
        -------
        stats : dict
            ``n_texts``, ``n_classes`` and ``class_counts`` (by label name; None without labels),
            ``mean_words``, ``share_under_15_words`` and ``n_dropped_empty``.
        """
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
        """Data hash for tracking: the first 16 hex digits of a sha256 over the texts and labels.

        Returns
        -------
        fingerprint : str
            16 hex digits; texts are length-prefixed, so ``["ab"]`` and ``["a", "b"]`` differ.
        """
        h = hashlib.sha256()
        for text in self.texts:
            data = text.encode("utf-8")
            h.update(len(data).to_bytes(8, "little") + data)
        if self.labels is not None:
            h.update(b"labels" + self.labels.astype("<i8").tobytes())
        return h.hexdigest()[:16]


def load_corpus(source, *, split=None, text_columns=None, label_column=None, n_per_class=None,
                max_samples=None, clean=True, seed=0) -> Corpus:
    """Load texts and labels from a Hugging Face hub id, a bundled dataset or a local data file.

    Hub ids and local files go through the same ``datasets.load_dataset`` path, so a local copy
    of AG News and the hub copy come out as the same kind of ``Corpus``. Labels (strings or
    integers, 0- or 1-based) are re-encoded as 0..k-1 in sorted order of the original values;
    a local AG News copy's bare integers get AG News' class names. Texts pass through
    ``clean_text`` when ``clean``; rows whose text is empty are dropped and counted. Then
    ``n_per_class`` draws that many texts per class and ``max_samples`` a random subset, both
    kept in file order; a class a subset loses is dropped from the codes.

    Parameters
    ----------
    source : str or path-like
        A hub id such as ``"fancyzhx/ag_news"``, the name of a bundled dataset
        (``"ag_news_test"``), or a path ending in one of .csv, .tsv, .parquet, .jsonl, .json
        (optionally followed by .gz, .bz2, .xz or .zst).
    split : str, default=None
        The split to load; None: ``"train"``, the only split a local file has.
    text_columns : str, list of str or None, default=None
        A column name, a list of names or a comma-separated string; several columns are joined
        with a space. None: ``text``, else ``title`` + ``description``.
    label_column : str, False or None, default=None
        The label column; None: ``label`` when present, else no labels; False or ``""``: no labels.
    n_per_class : int, default=None
        Texts drawn per class (needs labels); None: all.
    max_samples : int, default=None
        Size of a random subset; None: all.
    clean : bool, default=True
        Whether texts pass through ``clean_text`` (else they are only stripped).
    seed : int, default=0
        Seed of ``n_per_class`` and ``max_samples``' draws.

    Returns
    -------
    corpus : Corpus
        The texts, labels and label names, with ``source`` and ``n_dropped_empty`` set.

    Raises
    ------
    DataError
        With one line, for a missing, empty or unreadable file, an unsupported format or split,
        unknown columns, missing labels, too few texts in a class, a bad ``n_per_class`` or
        ``max_samples``, an unknown hub dataset, or an empty corpus.
    HubUnreachable
        (a ``DataError``) When the hub is needed and cannot be reached.

    See Also
    --------
    read_rows : every row as it is, for a caller that must answer each one.
    is_hub_id : whether ``source`` would be asked of the hub.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from clustering.data import load_corpus
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "news.csv"
    ...     _ = path.write_text("text,label\\nStocks fall 2%!,business\\nStriker scores,sport\\n,sport\\n")
    ...     corpus = load_corpus(path)
    >>> corpus.texts, corpus.labels.tolist(), corpus.label_names, corpus.n_dropped_empty
    (['stocks fall 2', 'striker scores'], [0, 1], ['business', 'sport'], 1)
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
