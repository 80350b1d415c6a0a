"""Shared fixtures: the real AG News test split, a small balanced sample and its embeddings."""

import os
from pathlib import Path

import pytest

from clustering.data import bundled_path

# The AG News test split shipped inside the package (clustering/datasets/), gzipped CSV.
AG_NEWS_CSV = bundled_path("ag_news_test")


def pytest_configure(config):
    """The tests fit in-process with the BLAS threads a run of the suite has (``experiments.threads``)."""
    from experiments.threads import limit_blas

    limit_blas()


def wait_for_url(url: str, process, timeout: float = 180) -> bool:
    """Poll ``url`` until it answers (True), ``process`` exits or ``timeout`` seconds pass (False)."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(url, timeout=2)
            return True
        except OSError:
            time.sleep(1)
    return False


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
    return embed_texts(ag_news_small.texts, cache_dir=cache, show_progress=False, precision="float32")


# --- system programs: installed by `make test` (scripts/system_deps.sh) where it can -------------
def chromium_path() -> str | None:
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser")


def has_postgres() -> bool:
    import glob
    import shutil

    return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb") or shutil.which("initdb")) and bool(
        shutil.which("curl")) and bool(shutil.which("ps"))


def has_java() -> bool:
    import shutil

    return shutil.which("java") is not None


_NEEDS = {
    "browser": (lambda: chromium_path() is not None,
                "headless Chromium not found: run `make test` as root on Debian, or apt-get install chromium"),
    "postgres": (has_postgres,
                 "PostgreSQL's server programs (or curl, ps) not found: run `make test` as root on Debian, "
                 "or apt-get install postgresql curl procps"),
    "spark": (has_java, "no Java runtime for Spark: run `make test` as root on Debian, "
                        "or apt-get install default-jre-headless"),
}


def pytest_collection_modifyitems(config, items):
    """Skip the browser, PostgreSQL and Spark tests, with one line each, where their programs are missing.

    Under CI=true nothing skips: the tests run and fail, so CI never passes without them.
    """
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return
    for marker, (available, reason) in _NEEDS.items():
        if any(marker in item.keywords for item in items) and not available():
            skip = pytest.mark.skip(reason=reason)
            for item in items:
                if marker in item.keywords:
                    item.add_marker(skip)
