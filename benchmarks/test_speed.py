"""Speed benchmarks (pytest-benchmark). Not collected by ``make test``; run them with

    python -m pytest benchmarks/test_speed.py --benchmark-json=benchmarks/results/speed.json

or ``python -m benchmarks --parts speed``, which also regenerates RESULTS.md.

Comparisons that carry a goal (embed_texts vs a bare encode, a tracked vs an untracked
Optuna trial) are measured as interleaved pairs: before every timed round of one variant,
the setup step runs and times the other, so both see the same load on a shared machine.
Each pair is kept in ``extra_info["pairs"]``; RESULTS.md reports the median ratio.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time

import numpy as np
import pytest

from benchmarks import common

EMBED_TEXTS = int(os.environ.get("BENCH_EMBED_TEXTS", "256"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PAIR_ROUNDS = int(os.environ.get("BENCH_PAIR_ROUNDS", "3"))  # per variant; pairs = 2 x this
DEC_EPOCHS = 5


def _paired(benchmark, target, other, *, group: str, key: str, other_key: str, rounds: int, prepare=None, **info):
    """Benchmark ``target``; the untimed setup before each round times ``other`` first.

    ``prepare()``, when given, returns fresh arguments for either variant (say, a new
    study); it runs untimed before each of them. A variant may return a dict of its own
    measurements (say, the seconds spent inside MLflow); they are kept with the pair.
    """
    pairs: list[dict] = []

    def setup():
        args = prepare() if prepare else ()
        start = time.perf_counter()
        extra = other(*args)
        pairs.append({other_key: time.perf_counter() - start, **(extra or {})})
        return (prepare() if prepare else ()), {}

    def timed(*args):
        start = time.perf_counter()
        extra = target(*args)
        pairs[-1].update({key: time.perf_counter() - start, **(extra or {})})

    benchmark.pedantic(timed, setup=setup, rounds=rounds, iterations=1)
    benchmark.extra_info.update(key=key, pair_group=group, pairs=pairs, **info)


class _Clock:
    """Wall seconds spent inside the calls made through ``timed``."""

    def __init__(self):
        self.seconds = 0.0

    def timed(self, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return wrapper


# -- embeddings ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def encoder():
    from clustering.embed import load_model

    model = load_model()
    model.encode(["warm up the model"] * 64, batch_size=64, show_progress_bar=False)
    return model


@pytest.fixture(scope="module")
def embed_pair(ag_news, encoder):
    """``(via_library, bare, n)``: ``embed_texts`` (cache off) and a bare ``encode`` on the same texts.

    ``via_library`` also times the ``encode`` call made inside ``embed_texts`` (the model
    object is the one ``load_model`` caches), so one call gives encode time / call time:
    the throughput ratio free of the load drifting between two calls.
    """
    from clustering.embed import embed_texts

    texts = ag_news.texts[:EMBED_TEXTS]

    def via_library():
        clock = _Clock()
        encoder.encode = clock.timed(type(encoder).encode.__get__(encoder))
        try:
            embed_texts(texts, cache_dir=False, show_progress=False, precision="float32")
        finally:
            del encoder.encode  # back to the class's method
        return {"encode_inside_embed_texts": clock.seconds}

    def bare():
        encoder.encode(texts, batch_size=64, show_progress_bar=False, convert_to_numpy=True, normalize_embeddings=True)

    np.testing.assert_allclose(embed_texts(texts, cache_dir=False, show_progress=False, precision="float32"),
                               encoder.encode(texts, batch_size=64, show_progress_bar=False, convert_to_numpy=True,
                                              normalize_embeddings=True),
                               atol=1e-5)  # same work, same result
    return via_library, bare, len(texts)


@pytest.mark.benchmark(group="embedding")
def test_embed_texts(benchmark, embed_pair):
    via_library, bare, n = embed_pair
    _paired(benchmark, via_library, bare, group="embedding", key="embed_texts", other_key="bare_encode",
            rounds=PAIR_ROUNDS, label=f"embed_texts, cache off ({n} texts)", items=n, unit="texts")


@pytest.mark.benchmark(group="embedding")
def test_bare_encode(benchmark, embed_pair):
    via_library, bare, n = embed_pair
    _paired(benchmark, bare, via_library, group="embedding", key="bare_encode", other_key="embed_texts",
            rounds=PAIR_ROUNDS, label=f"bare SentenceTransformer.encode ({n} texts)", items=n, unit="texts")


@pytest.mark.benchmark(group="embedding")
def test_embed_cache_hit(benchmark, ag_news, tmp_path):
    from clustering.embed import cache_key, embed_texts

    np.save(tmp_path / f"{cache_key(ag_news.texts)}.npy", ag_news.X)  # what a first call would have written
    out = benchmark.pedantic(embed_texts, args=(ag_news.texts,), kwargs={"cache_dir": tmp_path, "show_progress": False},
                             rounds=ROUNDS * 3, iterations=1)
    assert out.shape == ag_news.X.shape
    n = len(ag_news.texts)
    benchmark.extra_info.update(key="embed_cache_hit", label=f"embed_texts, cache hit ({n:,} texts)", items=n,
                                unit="texts")


# -- training epochs on 7,600 x 384 -------------------------------------------------------------------
@contextlib.contextmanager
def _threads(n: int):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.mark.benchmark(group="training")
@pytest.mark.parametrize("threads", ["1_thread", "default_threads"])
def test_ae_pretrain_epoch(benchmark, ag_news, default_threads, threads):
    import torch

    from clustering.autoencoder import AutoEncoder, pretrain

    n_threads = 1 if threads == "1_thread" else default_threads

    def fresh_model():
        torch.manual_seed(0)
        return (AutoEncoder(ag_news.X.shape[1]),), {}

    with _threads(n_threads):
        benchmark.pedantic(lambda model: pretrain(model, ag_news.X, epochs=1), setup=fresh_model, rounds=ROUNDS,
                           iterations=1)
    n = len(ag_news.X)
    benchmark.extra_info.update(key=f"ae_epoch_{threads}", threads=n_threads, items=n, unit="rows",
                                label=f"AE pretraining epoch, {n:,} x 384, batch 64, {n_threads} thread(s)")


@pytest.mark.benchmark(group="training")
@pytest.mark.parametrize("epochs", [0, DEC_EPOCHS])
def test_dec_fit(benchmark, ag_news, epochs):
    """DEC with no pretraining and one KMeans init, with 0 and with DEC_EPOCHS epochs (tol=0).

    The difference over DEC_EPOCHS is the cost of a DEC epoch; so is the gap between two
    epoch callbacks (each epoch starts with its target-distribution update on all rows).
    """
    from clustering.dec import DEC

    gaps: list[float] = []

    def fit():
        marks: list[float] = []
        model = DEC(common.N_CLASSES, pretrain_epochs=0, epochs=epochs, n_init=1, tol=0.0, random_state=0)
        model.fit(ag_news.X, callback=lambda step, logs: marks.append(time.perf_counter()))
        gaps.extend(np.diff(marks))

    benchmark.pedantic(fit, rounds=ROUNDS, iterations=1)
    n = len(ag_news.X)
    benchmark.extra_info.update(key=f"dec_fit_{epochs}_epochs", rows=n, epochs=epochs,
                                epoch_gap_s=float(np.median(gaps)) if gaps else None,
                                label=f"DEC fit, no pretraining, KMeans n_init=1, {epochs} DEC epochs, {n:,} x 384")


# -- evaluation and t-SNE -------------------------------------------------------------------------------
@pytest.mark.benchmark(group="evaluation")
@pytest.mark.parametrize("rows", [7_600, 120_000])
def test_evaluate(benchmark, ag_news, kmeans_labels, synthetic_120k, rows):
    from clustering.metrics import evaluate

    if rows == len(ag_news.X):
        X, true, pred, data = ag_news.X, ag_news.labels, kmeans_labels, "real"
    else:
        (X, true, pred), data = synthetic_120k, "synthetic"
    scores = benchmark.pedantic(evaluate, args=(true, pred, X), rounds=ROUNDS, iterations=1)
    assert 0 <= scores["acc"] <= 1
    benchmark.extra_info.update(key=f"evaluate_{rows}", items=rows, unit="rows",
                                label=f"evaluate, {rows:,} x 384 ({data}; silhouette sampled at 10,000)")


@pytest.mark.benchmark(group="evaluation")
def test_tsne_5000(benchmark, ag_news, kmeans_labels):
    from clustering.plots import tsne_plot

    n = 5000
    benchmark.pedantic(tsne_plot, args=(ag_news.X[:n], kmeans_labels[:n], ag_news.labels[:n]),
                       kwargs={"max_points": n}, rounds=1, iterations=1)
    benchmark.extra_info.update(key="tsne_5000", items=n, unit="points",
                                label=f"t-SNE figure (clustering.plots.tsne_plot), {n:,} x 384")


# -- one Optuna trial, tracked and untracked ---------------------------------------------------------------
@pytest.fixture(scope="module")
def trial(ag_news, tmp_path_factory):
    """``(run_tracked, run_untracked, prepare)``: one trial of the study's real objective, on 7,600 x 384.

    Each trial runs in a fresh study (same sampler seed) with the seed report's settings
    enqueued, so both variants fit the same model; MLflow tracks to a temporary SQLite store
    under a parent run, as ``make run`` does.
    """
    import logging

    import mlflow
    import optuna

    from experiments.config import RunConfig
    from experiments.search_space import default_params
    from experiments.study import create_study
    from experiments.tracking import TrialTracker
    from experiments.tune import run_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    root = tmp_path_factory.mktemp("trial")
    uri_before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
    mlflow.set_experiment("benchmark-trial-overhead")
    params = {k: v for k, v in default_params("dec").items() if k != "method"}
    names = (f"trial-{i}" for i in itertools.count())

    def prepare():
        config = RunConfig(method="dec", n_trials=1, max_pretrain_epochs=20, max_epochs=10, seed=0,
                           storage=f"sqlite:///{root}/optuna.db", study_name=next(names))
        study = create_study(config)  # a new study queues its first trial: the seed report's DEC
        if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
            study.enqueue_trial(params)
        return config, study

    def run(config, study, track):
        study = run_study(config, ag_news.X, ag_news.labels, n_clusters=common.N_CLASSES, study=study,
                          echo=lambda message: None, track=track)
        assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE]  # nothing left waiting

    def run_tracked(config, study):
        tracker = TrialTracker(config.study_name)  # the suite's own tracking; it clocks itself
        run(config, study, tracker)
        return {"seconds_in_mlflow": tracker.seconds}

    def run_untracked(config, study):
        run(config, study, False)

    with mlflow.start_run(run_name="parent"):
        yield run_tracked, run_untracked, prepare
    mlflow.set_tracking_uri(uri_before)


_TRIAL_INFO = dict(description="7,600 x 384, DEC at the seed report's settings (20 AE + up to 10 DEC epochs), "
                               "SQLite tracking store")


@pytest.mark.benchmark(group="optuna trial")
def test_trial_tracked(benchmark, trial):
    tracked, untracked, prepare = trial
    _paired(benchmark, tracked, untracked, group="trial", key="trial_tracked",
            other_key="trial_untracked", rounds=PAIR_ROUNDS, prepare=prepare,
            label="one Optuna trial, MLflow tracking on", **_TRIAL_INFO)


@pytest.mark.benchmark(group="optuna trial")
def test_trial_untracked(benchmark, trial):
    tracked, untracked, prepare = trial
    _paired(benchmark, untracked, tracked, group="trial", key="trial_untracked",
            other_key="trial_tracked", rounds=PAIR_ROUNDS, prepare=prepare,
            label="one Optuna trial, run_study(track=False)", **_TRIAL_INFO)
