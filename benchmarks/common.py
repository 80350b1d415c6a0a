"""What the three benchmark parts share: paths, thread limits, the real data, synthetic data.

The machine this suite was written on has two cores shared with other jobs. While they ran,
torch's default of one intra-op thread per core made an AE epoch 8x slower than a single
thread (OpenMP threads spin while waiting for a core); on the idle machine two threads were
1.3x faster. For numbers that hold up under either, the benchmarks pin every process to
``BENCH_THREADS`` threads (default 1; 0 leaves the libraries' defaults) and say so in
``RESULTS.md``. ``test_speed.py`` measures the default against one thread side by side.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
# The labelled corpora beside the repository (../shared/data) that quality is measured on.
SHARED_DATA = ROOT.parent / "shared" / "data"
CORPORA = {"ag_news": "ag_news_test.csv", "stackoverflow": "stackoverflow.csv", "biomedical": "biomedical.csv"}
RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
# The AG News test split shipped inside the package (clustering/datasets/), gzipped CSV.
AG_NEWS_CSV = ROOT / "clustering" / "datasets" / "ag_news_test.csv.gz"
N_CLASSES = 4
CORPUS_NAMES = {"ag_news": "AG News", "stackoverflow": "StackOverflow", "biomedical": "Biomedical"}


def bench_threads() -> int:
    """Threads per process for the benchmarks: ``$BENCH_THREADS``, default 1 (0 = library defaults)."""
    return int(os.environ.get("BENCH_THREADS", "1"))


def limit_threads(n: int | None = None) -> int:
    """Pin torch's intra-op pool and the BLAS/OpenMP pools (threadpoolctl) to ``n`` threads.

    ``n=None`` reads ``bench_threads()``; 0 changes nothing. Returns torch's thread count after.
    """
    import torch

    n = bench_threads() if n is None else n
    if n > 0:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(n)
        threadpool_limits(limits=n)  # applies process-wide until restored, which we never do
    return torch.get_num_threads()


def thread_env(n: int) -> dict[str, str]:
    """Environment variables that give a child process ``n`` threads from its first import on."""
    if n <= 0:
        return {}
    return {name: str(n) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")} | {
        "BENCH_THREADS": str(n)}


@dataclass(frozen=True)
class LabelledData:
    """Texts (optional), true labels (n,) and their fixed Sentence-BERT embeddings (n, 384)."""

    name: str
    texts: list[str] | None
    labels: np.ndarray
    X: np.ndarray


def corpus_sources() -> list:
    """The shared corpora's files that are there, in ``CORPORA``'s order; else the bundled AG News split."""
    found = [SHARED_DATA / name for name in CORPORA.values() if (SHARED_DATA / name).is_file()]
    return found or ["ag_news_test"]


def ag_news(csv: Path | str = AG_NEWS_CSV) -> LabelledData:
    """The 7,600 cleaned AG News test articles and their all-MiniLM-L6-v2 embeddings (disk-cached)."""
    from clustering.data import load_corpus
    from clustering.embed import embed_texts

    corpus = load_corpus(csv)
    X = embed_texts(corpus.texts, show_progress=False, precision="float32")  # the published model's arithmetic
    return LabelledData(f"AG News test ({len(corpus):,})", corpus.texts, corpus.labels, X)


def balanced_subset(full: LabelledData, csv: Path | str = AG_NEWS_CSV, *, n_per_class: int = 1250,
                    seed: int = 0) -> LabelledData:
    """The seed report's balanced subset (``n_per_class`` per class, seeded) of the same CSV.

    ``load_corpus`` draws the subset; its rows are then looked up in ``full`` so the
    embeddings come from the cached 7,600 rather than a second encoding pass (identical
    texts have identical embeddings, so the lookup by text is exact).
    """
    from clustering.data import load_corpus

    corpus = load_corpus(csv, n_per_class=n_per_class, seed=seed)
    row = {text: i for i, text in enumerate(full.texts)}
    idx = np.array([row[t] for t in corpus.texts])
    return LabelledData(f"balanced {len(corpus):,} ({n_per_class:,} per class, seed {seed})",
                        corpus.texts, corpus.labels, full.X[idx])


def mixture_stats(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class mean and per-dimension std of ``X``: (k, d) each, to fit synthetic data to."""
    classes = np.unique(labels)
    means = np.stack([X[labels == c].mean(0) for c in classes])
    stds = np.stack([X[labels == c].std(0) for c in classes])
    return means.astype(np.float32), stds.astype(np.float32)


def synthetic_embeddings(n: int, means: np.ndarray, stds: np.ndarray, *, seed: int = 0,
                         chunk: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """``n`` L2-normalised rows from a diagonal Gaussian mixture; returns (X float32 (n, d), labels (n,)).

    Component ``c`` has mean ``means[c]`` and per-dimension std ``stds[c]``, in equal
    shares. Rows are drawn ``chunk`` at a time straight into the output array, so a
    million 384-d rows need the 1.5 GB of the result and little more.
    """
    rng = np.random.default_rng(seed)
    k, d = means.shape
    labels = rng.permutation(np.arange(n) % k)
    X = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, chunk):
        lab = labels[start : start + chunk]
        block = rng.standard_normal((len(lab), d), dtype=np.float32)
        block *= stds[lab]
        block += means[lab]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        X[start : start + chunk] = block
    return X, labels


def random_mixture_stats(d: int = 384, k: int = N_CLASSES, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mixture parameters for when no real embeddings are at hand (tests, a missing CSV)."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((k, d)).astype(np.float32)
    means *= 0.5 / np.linalg.norm(means, axis=1, keepdims=True)
    return means, np.full((k, d), 0.045, dtype=np.float32)


def machine_info(command: str) -> dict:
    """Where, when and how a result was measured: ``command``, CPU, memory, versions, threads."""
    import torch

    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
        mem_gb = round(mem_kb / 2**20, 1)
    except (OSError, StopIteration):
        mem_gb = None
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "memory_gb": mem_gb,
        "load_average": load,
        "torch_threads": torch.get_num_threads(),
        "bench_threads": bench_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "command": command,
    }


def relative(path: Path | str) -> str:
    """``path`` relative to the repository (for printing commands and RESULTS.md); outside it, the
    path relative to the repository's parent (``../shared/data/x.csv``), else the file name alone:
    a generated file never names a folder of the machine that made it."""
    path = Path(path).resolve()
    for base, prefix in ((ROOT, ""), (ROOT.parent, "../")):
        try:
            return prefix + str(path.relative_to(base))
        except ValueError:
            continue
    return path.name


# The per-seed columns of the quality table; summarised the same way everywhere.
COLUMNS = ("acc", "nmi", "ari", "purity", "silhouette_sbert", "silhouette_own", "fit_s", "peak_rss_mib")


def summarise(runs: list[dict]) -> dict:
    """Mean and std (population, over seeds) of every column, ignoring NaN; the max; plus n_seeds."""
    from experiments.evaluation import summarise as mean_std

    out = {"n_seeds": len(runs), **mean_std(runs, COLUMNS)}
    for col in COLUMNS:
        if f"{col}_mean" in out:
            out[f"{col}_max"] = float(np.nanmax([r[col] for r in runs if r.get(col) is not None]))
    return out


def module_at(commit: str, path: str, name: str, *, replace: dict[str, str] | None = None) -> types.ModuleType:
    """The file ``path`` as it was at ``commit`` (``git show``), imported as the module ``name``.

    ``replace`` edits its source first (old text -> new, each of which must occur), e.g. to point
    its imports at other old modules; whatever else it imports is today's code.
    """
    text = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout
    for old, new in (replace or {}).items():
        if old not in text:
            raise RuntimeError(f"{path} at {commit[:7]} has no {old!r}")
        text = text.replace(old, new)
    module = types.ModuleType(name)
    module.__file__ = f"<{commit[:7]}:{path}>"
    sys.modules[name] = module
    exec(compile(text, module.__file__, "exec"), module.__dict__)
    return module


def save_result(path: Path, result: dict) -> None:
    """Write one benchmark's ``result`` as JSON to ``path`` and regenerate ``RESULTS.md`` from all of them."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{relative(path)} written, {relative(regenerate_results())} regenerated")


def interleaved(seeds: list[int], items: list[str]):
    """``(seed, item, version)`` for a before/after benchmark: every item at every seed in both
    versions, the one that goes first alternating from seed to seed, so both see the same load."""
    for i, seed in enumerate(seeds):
        for item in items:
            for version in (("before", "after") if i % 2 == 0 else ("after", "before")):
                yield seed, item, version


def measured(fit) -> dict:
    """Call ``fit()`` and measure it: wall and CPU seconds, the process's peak RSS after it, and how
    far the call raised that peak (call in a fresh process: RSS is process-wide)."""
    import resource
    import time

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, cpu_start = time.perf_counter(), time.process_time()
    fit()
    fit_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"fit_s": fit_s, "cpu_s": cpu_s, "peak_rss_mib": rss_after / 1024,
            "fit_rss_rise_mib": (rss_after - rss_before) / 1024}


def child_json(module: str, arg: str) -> dict:
    """Run ``python -m <module> --child <arg>`` at the benchmarks' threads, offline; its last stdout line as JSON."""
    import json

    env = {**os.environ, **thread_env(bench_threads()), "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    out = subprocess.run([sys.executable, "-m", module, "--child", arg], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def paired(runs: list[dict], field: str, item: str) -> tuple[dict[str, dict[int, dict]], list[int]]:
    """The ``runs`` whose ``field`` is ``item``, as ``{"before": {seed: run}, "after": {seed: run}}``,
    and the seeds both versions ran."""
    by = {v: {r["seed"]: r for r in runs if r[field] == item and r["version"] == v} for v in ("before", "after")}
    return by, sorted(set(by["before"]) & set(by["after"]))


def markdown_table(rows: list[dict]) -> str:
    """A GitHub markdown table; columns in first-seen order, missing cells empty."""
    if not rows:
        return "(no rows)"
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")).replace("|", "\\|") for c in columns) + " |")
    return "\n".join(lines)


def machine_line(m: dict | None) -> str:
    """One sentence: where, when and with what command a result (``machine_info``) was measured."""
    if not m:
        return ""
    load = "" if not m.get("load_average") else f", load average {m['load_average'][0]} (1 min) when it ended"
    threads = m.get("bench_threads")
    pinned = "library defaults" if threads == 0 else f"pinned to {threads} per process"
    return (f"Measured {m['date']} on {m['cpu_model']} ({m['cpu_count']} cores, {m.get('memory_gb')} GB RAM), "
            f"torch {m['torch']} with {m['torch_threads']} intra-op thread(s) ({pinned}), "
            f"Python {m['python']}{load}. Command: `{m['command']}`.")


def spearman(a, b) -> float:
    """Spearman's rho of two sequences over the pairs where both are finite; NaN for under 3 pairs or a constant."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    return float(spearmanr(a[ok], b[ok]).statistic)


def seconds(s: float) -> str:
    """A duration as a table shows it: ``1,234 s``, ``12.34 s``, ``5.0 ms``, ``80 µs``."""
    if s >= 100:
        return f"{s:,.0f} s"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"


def mean_std(runs: list[dict], key: str) -> str:
    """``runs``' mean ± std of ``key``, three decimals."""
    values = [r[key] for r in runs]
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def regenerate_results() -> Path:
    """Rebuild ``RESULTS.md`` from every saved result, in a process of its own (``python -m benchmarks.report``),
    so no benchmark module imports the report that imports them."""
    subprocess.run([sys.executable, "-m", "benchmarks.report"], cwd=ROOT, check=True)
    return RESULTS_MD
