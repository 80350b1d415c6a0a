"""Sentence-BERT embeddings of texts, cached on disk per (model, precision, corpus): ``embed_texts``.

Every later stage takes these rows, never the texts. The precisions, the cache and what was measured of
them: ``docs/library.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import warnings
from pathlib import Path

import numpy as np

from clustering.encoder import (_BFLOAT16_MIXED, _MINILM, _MINILM_ALIASES, DEFAULT_MODEL, PRECISIONS,
                                EmbeddingModelError, declared_width, embedding_dim, load_model, native_bfloat16,
                                resolve_model, resolve_precision)

# the encoder's public names stay importable from here, where they were first
__all__ = ["embed_texts", "cache_key", "default_cache_dir", "DEFAULT_MODEL", "PRECISIONS", "EmbeddingModelError",
           "declared_width", "embedding_dim", "load_model", "native_bfloat16", "resolve_model", "resolve_precision"]

# Bump when the cached arrays change meaning (e.g. a different normalisation).
_CACHE_FORMAT = 1
# How each precision enters the cache key: change a value when that route's arithmetic changes.
_PRECISION_IDENTITY = {"float32": "float32", "bfloat16": "bfloat16-weights",
                       _BFLOAT16_MIXED: "bfloat16-autocast-float32-weights",
                       "int8": "int8-dynamic-per-channel-linear"}


def default_cache_dir() -> Path:
    """Return the folder ``embed_texts`` caches embeddings in by default.

    Returns
    -------
    path : pathlib.Path
        ``$CLUSTERING_CACHE_DIR`` when set, else ``~/.cache/deep-text-clustering/embeddings``.

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> from clustering.embed import default_cache_dir
    >>> with mock.patch.dict(os.environ, {"CLUSTERING_CACHE_DIR": "/tmp/embeddings"}):
    ...     print(default_cache_dir())
    /tmp/embeddings
    """
    env = os.environ.get("CLUSTERING_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "deep-text-clustering" / "embeddings"


def _model_identity(model: str, precision: str = "float32") -> dict:
    """What decides the embeddings besides the texts; the bundled MiniLM shares the hub's key.

    ``precision`` is a resolved one (not ``"auto"``); float32 adds nothing, so the keys of
    caches written before precisions existed stay valid.
    """
    resolved = resolve_model(model)
    identity = {"model": _MINILM if model in _MINILM_ALIASES else resolved,
                "normalize": True, "format": _CACHE_FORMAT}
    if precision != "float32":
        identity["precision"] = _PRECISION_IDENTITY[precision]
    config = Path(resolved) / "sentence_bert_config.json"
    if config.is_file():
        identity["max_seq_length"] = json.loads(config.read_text()).get("max_seq_length")
    if model not in _MINILM_ALIASES and Path(resolved).is_dir():
        # A model retrained into the same folder must not hit the old cache.
        identity["files"] = sorted(
            (str(p.relative_to(resolved)), p.stat().st_size, p.stat().st_mtime_ns)
            for p in Path(resolved).rglob("*") if p.is_file()
        )
    return identity


def cache_key(texts, model: str = DEFAULT_MODEL, precision: str = "float32") -> str:
    """Hash the model identity, its precision and the exact texts: the embedding cache's file name.

    The identity is what decides the embeddings besides the texts: the model (the bundled
    MiniLM shares the hub copy's key), its ``max_seq_length``, and for a local folder its
    files' sizes and times, so a model retrained into the same folder misses the old cache.
    Texts are length-prefixed, so ``["ab"]`` and ``["a", "b"]`` differ.

    Parameters
    ----------
    texts : sequence of str
        The texts, in order.
    model : str, default="all-MiniLM-L6-v2"
        Model name or local folder.
    precision : {"float32", "bfloat16", "bfloat16-mixed", "int8"}, default="float32"
        A resolved precision (``resolve_precision``), not ``"auto"``.

    Returns
    -------
    key : str
        64 hex digits (sha256).

    Raises
    ------
    ValueError
        When ``precision`` is not a resolved one.

    Examples
    --------
    >>> from clustering.embed import cache_key
    >>> len(cache_key(["a"])), cache_key(["ab"]) != cache_key(["a", "b"])
    (64, True)
    >>> cache_key(["a"], precision="bfloat16") != cache_key(["a"])
    True
    """
    if precision not in _PRECISION_IDENTITY:
        raise ValueError(f"cache_key needs a resolved precision ({', '.join(_PRECISION_IDENTITY)}); "
                         f"got {precision!r}")
    h = hashlib.sha256(json.dumps(_model_identity(model, precision), sort_keys=True).encode())
    for text in texts:
        data = text.encode("utf-8")
        h.update(len(data).to_bytes(8, "little") + data)  # lengths keep ["ab"] != ["a", "b"]
    return h.hexdigest()


def embed_texts(texts, *, model: str = DEFAULT_MODEL, batch_size: int = 64, cache_dir=None,
                device=None, show_progress: bool = True, precision: str = "auto", encode=None) -> np.ndarray:
    """Embed texts with a Sentence-BERT model, through the on-disk cache.

    Embedding is the one slow step that sees the texts, so the rows are cached as
    ``<cache_dir>/<cache_key>.npy``, keyed on the model, the resolved precision and the exact
    texts: a second call on the same corpus is a file read. A cache file that cannot be read,
    or does not hold this model's unit rows, is recomputed and replaced; files are written
    atomically, so an interrupted run never leaves a truncated one.

    Parameters
    ----------
    texts : sequence of str
        The texts (a single string is refused).
    model : str, default="all-MiniLM-L6-v2"
        Sentence-transformers model name or local folder.
    batch_size : int, default=64
        Texts per forward pass.
    cache_dir : str, path-like, None or False, default=None
        Cache folder; None: ``default_cache_dir()``; False: no cache.
    device : str, torch.device or None, default=None
        Where the model runs; None: CUDA if present, else CPU.
    show_progress : bool, default=True
        Whether sentence-transformers draws a progress bar.
    precision : {"float32", "bfloat16", "bfloat16-mixed", "int8", "auto"}, default="auto"
        The forward pass's arithmetic: ``"float32"`` (the model as published), ``"bfloat16"``
        (bfloat16 weights), ``"bfloat16-mixed"`` (matrix products in bfloat16, the rest
        float32), ``"int8"`` (CPU only) or ``"auto"`` (bfloat16-mixed where the device runs
        bfloat16 natively, else float32). The rows are float32 either way.
    encode : callable or None, default=None
        ``encode(texts) -> rows`` computes the rows on a cache miss in place of this process's
        model (``experiments.spark.embed_spark`` runs it on Spark's executors at ``precision``).

    Returns
    -------
    embeddings : ndarray of shape (n_texts, dim)
        float32 rows, L2-normalised, so dot products are cosine similarities.

    Raises
    ------
    TypeError
        When ``texts`` is a string or holds something else than strings.
    EmbeddingModelError
        When the model is needed and cannot be loaded.
    ValueError
        For an unknown precision, or ``int8`` on a GPU.

    See Also
    --------
    cache_key : the cache file's name.
    load_model : the model it runs.

    Notes
    -----
    What each precision costs in speed, in cosine to float32 and in MiniLM + KMeans's ACC and
    NMI: ``docs/library.md`` and ``benchmarks/RESULTS.md``.

    Examples
    --------
    A cache hit is a file read: with the cache file in place, no model loads.

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from clustering.embed import cache_key, embed_texts
    >>> texts = ["stocks fall on wall street", "striker scores in cup final"]
    >>> rows = np.eye(2, 384, dtype=np.float32)  # unit rows standing in for MiniLM's
    >>> with tempfile.TemporaryDirectory() as cache:
    ...     np.save(Path(cache) / f"{cache_key(texts, precision='float32')}.npy", rows)
    ...     emb = embed_texts(texts, cache_dir=cache, precision="float32")
    >>> emb.shape, emb.dtype, bool((emb == rows).all())
    ((2, 384), dtype('float32'), True)
    """
    texts = _check_texts(texts)
    precision = resolve_precision(precision, device)
    path = None
    if cache_dir is not False and texts:
        directory = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
        path = directory / f"{cache_key(texts, model, precision)}.npy"
        cached = _read_cache(path, len(texts), declared_width(model))
        if cached is not None:
            return cached

    if encode is not None and texts:
        emb = np.ascontiguousarray(encode(texts), dtype=np.float32)
        if path is not None:
            _write_cache(path, emb)
        return emb
    encoder = load_model(model, device, precision)
    if not texts:
        return np.empty((0, encoder.get_embedding_dimension()), dtype=np.float32)
    if precision == "float32":
        emb = encoder.encode(texts, batch_size=batch_size, show_progress_bar=show_progress,
                             convert_to_numpy=True, normalize_embeddings=True)
        emb = np.ascontiguousarray(emb, dtype=np.float32)
    else:
        # Normalised in float32: normalised in bfloat16, a row's norm misses 1 by bfloat16's rounding.
        with _autocast(encoder, precision):
            emb = encoder.encode(texts, batch_size=batch_size, show_progress_bar=show_progress,
                                 convert_to_tensor=True, normalize_embeddings=False)
        emb = emb.float().cpu().numpy()
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        emb = np.ascontiguousarray(emb, dtype=np.float32)
    if path is not None:
        _write_cache(path, emb)
    return emb


def _autocast(encoder, precision: str):
    """The context ``precision`` runs ``encoder`` in: ``torch.autocast`` to bfloat16 for
    ``bfloat16-mixed``, else nothing.

    Under autocast (CPU and CUDA alike) linear layers and scaled-dot-product attention cast
    their inputs to bfloat16 and accumulate in float32, their outputs bfloat16; a residual
    addition of such an output to the float32 stream is float32, and LayerNorm runs in
    float32. Why SDPA is left to autocast and the weights are cast per batch: ``docs/library.md``.
    """
    import contextlib

    if precision != _BFLOAT16_MIXED:
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device_type=torch.device(encoder.device).type, dtype=torch.bfloat16)


def _check_texts(texts) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a sequence of strings, not a single string")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, not str")
    return texts


def _read_cache(path: Path, n_texts: int, width: int | None = None) -> np.ndarray | None:
    """The cached rows, or None (with a warning when a file is there) unless they are ``n_texts``
    finite float32 unit rows of ``width`` columns (any width when None)."""
    if not path.is_file():
        return None
    try:
        emb = np.load(path, allow_pickle=False)
        ok = (emb.ndim == 2 and emb.shape[0] == n_texts and emb.dtype == np.float32
              and np.isfinite(emb).all())
    except (OSError, ValueError, EOFError):
        ok = False
    if not ok:
        warnings.warn(f"embedding cache {path} is unreadable; recomputing it", RuntimeWarning,
                      stacklevel=3)
        return None
    norms = np.linalg.norm(emb, axis=1)
    if (width is not None and emb.shape[1] != width) or not np.all((np.abs(norms - 1) < 1e-3) | (norms == 0)):
        warnings.warn(f"embedding cache {path} holds {emb.shape[0]} x {emb.shape[1]} rows that are not this model's "
                      f"unit embeddings{'' if width is None else f' ({width} wide)'}; recomputing it",
                      RuntimeWarning, stacklevel=3)
        return None
    return emb


def _write_cache(path: Path, emb: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Not mkstemp: its 0600 mode would hide a shared cache from other users.
        tmp = path.parent / f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, emb)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:  # a read-only cache must not cost the caller its embeddings
        warnings.warn(f"could not write embedding cache {path}: {exc}", RuntimeWarning,
                      stacklevel=3)
