"""Fixtures for the speed benchmarks: threads pinned first, the real data loaded once."""

import sys

import numpy as np
import pytest

from benchmarks import common

# torch's own choice, read before the pin below, for the benchmark that compares the two
DEFAULT_THREADS = None


def pytest_configure(config):
    global DEFAULT_THREADS
    import torch

    DEFAULT_THREADS = torch.get_num_threads()
    common.limit_threads()


def pytest_benchmark_update_json(config, benchmarks, output_json):
    """Keep the machine and the command in the JSON beside pytest-benchmark's own machine_info."""
    args = " ".join(a for a in sys.argv[1:])
    output_json["bench_machine"] = common.machine_info(f"python -m pytest {args}")


@pytest.fixture(scope="session")
def default_threads() -> int:
    """torch's default intra-op thread count on this machine, before the pin."""
    return DEFAULT_THREADS


@pytest.fixture(scope="session")
def ag_news():
    """The 7,600 AG News test articles and their cached embeddings (a LabelledData)."""
    if not common.AG_NEWS_CSV.is_file():
        pytest.fail(f"AG News CSV not found at {common.AG_NEWS_CSV}")
    return common.ag_news()


@pytest.fixture(scope="session")
def kmeans_labels(ag_news):
    """SBERT + KMeans labels of the 7,600 articles: a realistic clustering to evaluate."""
    from clustering.baselines import EmbeddingKMeans

    return EmbeddingKMeans(common.N_CLASSES, n_init=1, random_state=0).fit(ag_news.X).labels_


@pytest.fixture(scope="session")
def synthetic_120k(ag_news):
    """120,000 synthetic rows fitted to the real embeddings, with labels 80% right: (X, true, pred)."""
    means, stds = common.mixture_stats(ag_news.X, ag_news.labels)
    X, labels = common.synthetic_embeddings(120_000, means, stds, seed=0)
    rng = np.random.default_rng(0)
    pred = np.where(rng.random(len(labels)) < 0.2, rng.integers(0, common.N_CLASSES, len(labels)), labels)
    return X, labels, pred
