"""Small helpers shared by the estimators: input checks, device choice, seeding, neighbour search."""

from __future__ import annotations

import hashlib

import numpy as np


def check_embeddings(X, *, name: str = "X", n_features: int | None = None) -> np.ndarray:
    """Return ``X`` as a C-contiguous float32 array of shape (n_samples, n_features).

    Raises ``ValueError`` with one clear line for the inputs the estimators cannot use:
    not 2-D, empty, NaN/inf, or the wrong width for an already fitted model.
    """
    if hasattr(X, "tocsr") or hasattr(X, "todense"):  # scipy.sparse, without importing it
        raise TypeError(f"{name} is a sparse matrix; sentence embeddings are dense: pass X.toarray()")
    X = np.asarray(X)
    if np.iscomplexobj(X):
        raise ValueError(f"Complex data not supported: {name} has complex values")
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features); got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no samples")
    if X.shape[1] == 0:
        raise ValueError(f"0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    if not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"{name} must be numeric; got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).any(axis=1).sum())
        raise ValueError(f"{name} contains NaN or infinite values in {bad} row(s)")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features, but the model was fitted on {n_features}"
        )
    return X


def check_texts(texts, *, name: str = "X") -> list[str]:
    """Return ``texts`` as a list of strings, or raise ``ValueError`` with one clear line."""
    # A bare string is iterable too; clustering its characters is never what was meant.
    if isinstance(texts, (str, bytes)):
        raise ValueError(f"{name} must be a sequence of strings, not a single string")
    texts = list(texts)
    if not texts:
        raise ValueError(f"{name} has no documents")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise ValueError(f"{name} must contain only strings; item {bad[0]} is {type(texts[bad[0]]).__name__}")
    return texts


def check_n_clusters(n_clusters: int, n_samples: int) -> None:
    if not isinstance(n_clusters, (int, np.integer)) or isinstance(n_clusters, bool):
        raise ValueError(f"n_clusters must be an integer; got {n_clusters!r}")
    if n_clusters < 2:
        raise ValueError(f"n_clusters must be at least 2; got {n_clusters}")
    if n_clusters > n_samples:
        raise ValueError(f"n_clusters={n_clusters} is larger than the number of samples ({n_samples})")


def resolve_device(device=None):
    """``None`` -> CUDA when available, else CPU; otherwise ``torch.device(device)``."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def seed_of(random_state) -> int:
    """One int seed from ``random_state`` as scikit-learn takes it: an int (used as it is),
    None (a fresh seed) or a ``numpy.random.RandomState`` (its next draw)."""
    from sklearn.utils import check_random_state

    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def torch_generator(seed: int):
    import torch

    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


# Rows of the distance matrix a brute-force neighbour search holds at once, in MiB
# (scikit-learn's default is 1 GiB: 20,000 x 20,000 float64 distances in one chunk).
NEIGHBOUR_CHUNK_MIB = 64


def kneighbors(index, X=None) -> np.ndarray:
    """``index.kneighbors(X, return_distance=False)`` of a fitted ``NearestNeighbors``, with the
    distance matrix computed ``NEIGHBOUR_CHUNK_MIB`` at a time. ``X=None``: the fitted rows,
    each left out of its own list; given rows: a fitted row is its own nearest neighbour."""
    from sklearn import config_context

    with config_context(working_memory=NEIGHBOUR_CHUNK_MIB):
        return index.kneighbors(X, return_distance=False)


def text_digest(texts: list[str]) -> str:
    """A fingerprint of a text sequence: order, count and content (length-prefixed, so unambiguous)."""
    h = hashlib.sha256(len(texts).to_bytes(8, "little"))
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()
