"""Shared fixtures: the real AG News test split, a small balanced sample and its embeddings."""

from pathlib import Path

import pytest

from clustering.data import bundled_path

# The AG News test split shipped inside the package (clustering/datasets/), gzipped CSV.
AG_NEWS_CSV = bundled_path("ag_news_test")


@pytest.fixture(scope="session")
def ag_news_csv() -> Path:
    """Path to the bundled AG News test CSV (.csv.gz); fails (never skips) when it is missing."""
    if not AG_NEWS_CSV.is_file():
        pytest.fail(f"bundled AG News CSV not found at {AG_NEWS_CSV}; reinstall the package")
    return AG_NEWS_CSV


@pytest.fixture(scope="session")
def ag_news_small(ag_news_csv):
    """300 cleaned AG News articles, 75 per class (seed 0)."""
    from clustering.data import load_corpus

    return load_corpus(ag_news_csv, n_per_class=75, seed=0)


@pytest.fixture(scope="session")
def ag_news_small_embeddings(ag_news_small, tmp_path_factory):
    """Real all-MiniLM-L6-v2 embeddings of ``ag_news_small``, shape (300, 384)."""
    from clustering.embed import embed_texts

    cache = tmp_path_factory.mktemp("embeddings")
    return embed_texts(ag_news_small.texts, cache_dir=cache, show_progress=False)
