"""What self-training needs from a sentence-transformers encoder, in one place.

This is the code a ``transformers`` or ``sentence-transformers`` upgrade can break: it
reaches past the public ``encode`` into ``encoder[0].auto_model`` (BERT's ``embeddings``
and ``encoder.layer``, the call signature of one layer and its additive attention mask),
and calls ``encoder.preprocess`` and the pooling modules directly. It also pickles an
encoder as its saved folder (``encoder_to_bytes``): transformers installs unpicklable
forward hooks on a model once hidden states are asked of it, and a folder is the format
that outlives a library upgrade.
``tests/test_selftrain.py::test_frozen_prefix_reproduces_the_full_encoder`` checks the
cached path against the encoder's own forward pass; run it after an upgrade.

``encoder`` is always a ``sentence_transformers.SentenceTransformer`` whose first module
wraps a Hugging Face model.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def freeze_lower_layers(encoder, trainable_layers: int | None) -> int:
    """Freeze the token embeddings and all but the top ``trainable_layers`` transformer layers.

    Returns how many layers froze (0 when ``trainable_layers`` is None: everything trains).
    """
    if trainable_layers is None:
        return 0
    transformer = encoder[0].auto_model
    layers = transformer.encoder.layer
    n_frozen = max(0, len(layers) - trainable_layers)
    for module in [transformer.embeddings, *layers[:n_frozen]]:
        for p in module.parameters():
            p.requires_grad_(False)
    return n_frozen


def to_device(features: dict, device) -> dict:
    """The tensors of a tokenizer's output moved to ``device``; other values as they are."""
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in features.items()}


def encode(encoder, texts: Sequence[str], batch_size: int) -> np.ndarray:
    """L2-normalised float32 embeddings (n, d) of ``texts`` by the encoder as it is now (eval mode)."""
    emb = encoder.encode(list(texts), batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True,
                         normalize_embeddings=True)
    return np.ascontiguousarray(emb, dtype=np.float32)


def encoder_to_bytes(encoder) -> bytes:
    """The encoder's ``save`` folder as one zip archive in memory (weights, tokenizer, config)."""
    import io
    import tempfile
    import zipfile

    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, _no_progress_bars():
        encoder.save(tmp)
        # stored, not deflated: the weights barely compress and this runs on every pickle
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for path in sorted(Path(tmp).rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(tmp).as_posix())
    return buffer.getvalue()


def encoder_from_bytes(data: bytes, device="cpu"):
    """The ``SentenceTransformer`` that ``encoder_to_bytes`` archived, loaded on ``device``."""
    import io
    import tempfile
    import zipfile

    from sentence_transformers import SentenceTransformer

    with tempfile.TemporaryDirectory() as tmp, _no_progress_bars():
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(tmp)
        return SentenceTransformer(tmp, device=str(device), local_files_only=True)


@contextlib.contextmanager
def _no_progress_bars():
    # transformers draws bars while it writes and reads weights; pickling should stay quiet
    from transformers.utils import logging as hf_logging

    bars_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars_on:
            hf_logging.enable_progress_bar()


def text_embedders(encoder, texts: Sequence[str], n_frozen: int, batch_size: int) -> tuple[Callable, Callable]:
    """``(embed, embed_all)`` for training the encoder on the fixed ``texts``.

    ``embed(idx)``: a LongTensor of text positions -> their sentence embeddings (len(idx), d)
    with gradients into the trainable weights; ``embed_all()``: L2-normalised numpy
    embeddings (n, d) of every text. With frozen lower layers on a supported model both run
    the top layers only, on states cached once (``FrozenPrefix``); otherwise full passes.
    """
    if n_frozen and FrozenPrefix.supports(encoder):
        prefix = FrozenPrefix(encoder, texts, n_frozen, batch_size)
        return prefix.embed, lambda: prefix.encode(batch_size)

    def embed(idx):
        features = encoder.preprocess([texts[i] for i in idx.tolist()])
        return encoder(to_device(features, encoder.device))["sentence_embedding"]

    return embed, lambda: encode(encoder, texts, batch_size)


class FrozenPrefix:
    """Token states of fixed texts after an encoder's frozen lower layers, computed once.

    When the lowest transformer layers are frozen their output never changes, so training
    and re-embedding the training texts only need the trainable top layers run on these
    cached states: a step costs the top layers' share of the network instead of all of it.
    ``embed(idx)`` runs the top layers (in the encoder's current train/eval mode) and the
    encoder's pooling modules on the cached states of the texts at ``idx``.
    Works for BERT-style models (``supports``); ``text_embedders`` falls back to full passes
    for others.
    """

    MODEL_TYPES = ("bert",)

    def __init__(self, encoder, texts, n_frozen: int, batch_size: int = 128):
        import torch

        self.encoder = encoder
        transformer = encoder[0].auto_model
        self.layers = transformer.encoder.layer[n_frozen:]
        self.states = []
        was_training = encoder.training
        encoder.eval()
        try:
            with torch.no_grad():
                for start in range(0, len(texts), batch_size):
                    features = to_device(encoder.preprocess(list(texts[start:start + batch_size])), encoder.device)
                    inputs = {k: features[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in features}
                    hidden = transformer(**inputs, output_hidden_states=True).hidden_states[n_frozen]
                    for h, length in zip(hidden, features["attention_mask"].sum(1).tolist()):
                        self.states.append(h[:length].clone())
        finally:
            encoder.train(was_training)

    @classmethod
    def supports(cls, encoder) -> bool:
        module = encoder[0]
        return getattr(getattr(getattr(module, "auto_model", None), "config", None), "model_type", None) in cls.MODEL_TYPES

    def __len__(self) -> int:
        return len(self.states)

    def embed(self, idx):
        import torch

        states = [self.states[i] for i in (idx.tolist() if hasattr(idx, "tolist") else idx)]
        hidden = torch.nn.utils.rnn.pad_sequence(states, batch_first=True)
        lengths = torch.tensor([len(s) for s in states], device=hidden.device)
        mask = (torch.arange(hidden.shape[1], device=hidden.device)[None, :] < lengths[:, None]).long()
        additive = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
        for layer in self.layers:
            out = layer(hidden, attention_mask=additive)
            hidden = out[0] if isinstance(out, tuple) else out
        features = {"token_embeddings": hidden, "attention_mask": mask}
        for module in list(self.encoder)[1:]:  # pooling (and normalisation, dense...) as the encoder does
            features = module(features)
        return features["sentence_embedding"]

    def encode(self, batch_size: int = 128) -> np.ndarray:
        """L2-normalised embeddings (n, d) of every cached text, in eval mode."""
        import torch

        was_training = self.encoder.training
        self.encoder.eval()
        try:
            with torch.no_grad():
                chunks = [torch.nn.functional.normalize(self.embed(range(s, min(s + batch_size, len(self)))), dim=1)
                          .cpu().numpy() for s in range(0, len(self), batch_size)]
        finally:
            self.encoder.train(was_training)
        return np.ascontiguousarray(np.concatenate(chunks), dtype=np.float32)
