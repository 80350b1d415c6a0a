"""``RESULTS.md``, assembled from the raw results in ``benchmarks/results/`` by each part's own ``markdown``.

Every benchmark module renders its own section; this module imports them and none imports it
back (a part regenerates the file through ``common.regenerate_results``, in a process of its
own). The speed section, pytest-benchmark's JSON, is rendered here. Pure functions of the JSON,
tested on tiny inputs in ``tests/test_benchmarks.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks import blas_threads, criteria, default_run, imbalance_probe
from benchmarks import common
from benchmarks import embeddings as embeddings_module
from benchmarks import fit_sample as fit_sample_module
from benchmarks import neighbours as neighbours_module
from benchmarks import fit_speed as fit_speed_module
from benchmarks import pseudolabel_speed as pseudolabel_speed_module
from benchmarks import quality as quality_module
from benchmarks import run_speed as run_speed_module
from benchmarks import scale as scale_module
from benchmarks import selection as selection_module
from benchmarks import sota as sota_module
from benchmarks import spark_predict as spark_predict_module
from benchmarks import training_precision as training_precision_module
from benchmarks.common import markdown_table

EMBED_GOAL = 0.95  # embed_texts throughput / bare encode throughput, at least
TRACKING_GOAL = 1.05  # tracked trial time / untracked trial time, at most

def _read(name: str, results_dir: Path) -> dict | None:
    path = results_dir / name
    if not path.is_file():
        return None
    return json.loads(path.read_text())


# -- speed ------------------------------------------------------------------------------------
def speed_rows(bench: dict) -> list[dict]:
    """One row per pytest-benchmark entry: time statistics and throughput."""
    rows = []
    for b in bench.get("benchmarks", []):
        s, info = b["stats"], b.get("extra_info", {})
        row = {"benchmark": info.get("label", b["name"]), "rounds": s["rounds"], "min": common.seconds(s["min"]),
               "median": common.seconds(s["median"]), "mean ± std": f"{common.seconds(s['mean'])} ± {common.seconds(s['stddev'])}"}
        if info.get("items"):
            row["throughput (median)"] = f"{info['items'] / s['median']:,.0f} {info.get('unit', 'items')}/s"
        rows.append(row)
    return rows


def _by_key(bench: dict) -> dict[str, dict]:
    return {b.get("extra_info", {}).get("key", b["name"]): b for b in bench.get("benchmarks", [])}


def _pairs(bench: dict, group: str) -> list[dict]:
    return [p for b in bench.get("benchmarks", []) if b.get("extra_info", {}).get("pair_group") == group
            for p in b["extra_info"].get("pairs", [])]


def _median_ratio(pairs: list[dict], ratio) -> tuple[float, int, float, float] | None:
    """Median, count, min and max of ``ratio(pair)`` over the pairs that have what it needs."""
    values = []
    for p in pairs:
        try:
            values.append(ratio(p))
        except (KeyError, ZeroDivisionError):
            pass
    return (float(np.median(values)), len(values), min(values), max(values)) if values else None


def speed_ratios(bench: dict) -> list[str]:
    """The derived figures and the issue's goals, one sentence each.

    Each ratio is given three ways. "Inside one call" compares parts of the same call
    (encode time within ``embed_texts``; time within MLflow calls within a trial), so load
    that drifts between calls cannot bias it: it decides the goal. "Interleaved pairs"
    compares the two variants run back to back; "minima" compares pytest-benchmark's best rounds.
    """
    out, by = [], _by_key(bench)
    embed, bare = by.get("embed_texts"), by.get("bare_encode")
    if embed and bare:
        pairs = _pairs(bench, "embedding")
        inside = _median_ratio(pairs, lambda p: p["encode_inside_embed_texts"] / p["embed_texts"])
        paired = _median_ratio(pairs, lambda p: p["bare_encode"] / p["embed_texts"])
        ratio_min = bare["stats"]["min"] / embed["stats"]["min"]
        main = inside[0] if inside else ratio_min
        verdict = "met" if main >= EMBED_GOAL else f"MISSED by {EMBED_GOAL - main:.3f}"
        out.append(f"**Embedding throughput, `embed_texts` (cache off) / bare `SentenceTransformer.encode`**, same "
                   f"{embed['extra_info'].get('items', '?')} texts, same model object: "
                   + (f"**{inside[0]:.3f}** inside one call (encode time / `embed_texts` time, median of "
                      f"{inside[1]} calls); " if inside else "")
                   + (f"{paired[0]:.3f} from {paired[1]} interleaved pairs (range {paired[2]:.3f}-{paired[3]:.3f}); "
                      if paired else "")
                   + f"{ratio_min:.3f} from the minima. Goal >= {EMBED_GOAL}: {verdict}.")
    hit = by.get("embed_cache_hit")
    if hit and embed:
        per_text_miss = embed["stats"]["median"] / embed["extra_info"]["items"]
        out.append(f"**Cache hit** on {hit['extra_info']['items']:,} texts: {common.seconds(hit['stats']['median'])} "
                   f"(encoding them would take about {common.seconds(per_text_miss * hit['extra_info']['items'])} "
                   f"at the rate above).")
    ae1, ae_default = by.get("ae_epoch_1_thread"), by.get("ae_epoch_default_threads")
    if ae1 and ae_default:
        out.append(f"**Threads**: an AE epoch with torch's default of "
                   f"{ae_default['extra_info'].get('threads')} threads took "
                   f"{ae_default['stats']['median'] / ae1['stats']['median']:.2f}x as long as with 1 thread "
                   f"(medians, same run).")
    dec0 = by.get("dec_fit_0_epochs")
    decn = next((b for k, b in by.items() if k.startswith("dec_fit_") and b["extra_info"].get("epochs")), None)
    if dec0 and decn:
        n_epochs = decn["extra_info"]["epochs"]
        by_difference = (decn["stats"]["median"] - dec0["stats"]["median"]) / n_epochs
        gap = decn["extra_info"].get("epoch_gap_s")
        rows = decn["extra_info"].get("rows", decn["extra_info"].get("items", 0))
        out.append(f"**DEC epoch** on {rows:,} x 384, batch 64: "
                   + (f"{common.seconds(gap)} (median gap between epoch callbacks); " if gap else "")
                   + f"{common.seconds(by_difference)} (fit with {n_epochs} epochs minus fit with 0, over {n_epochs}; "
                   f"medians).")
    tracked, untracked = by.get("trial_tracked"), by.get("trial_untracked")
    if tracked and untracked:
        pairs = _pairs(bench, "trial")
        inside = _median_ratio(pairs, lambda p: p["trial_tracked"] / (p["trial_tracked"] - p["seconds_in_mlflow"]))
        spent = _median_ratio(pairs, lambda p: p["seconds_in_mlflow"])
        paired = _median_ratio(pairs, lambda p: p["trial_tracked"] / p["trial_untracked"])
        ratio_min = tracked["stats"]["min"] / untracked["stats"]["min"]
        main = inside[0] if inside else ratio_min
        verdict = "met" if main <= TRACKING_GOAL else f"MISSED by {main - TRACKING_GOAL:.3f}"
        out.append(f"**Tracking overhead, one Optuna trial with MLflow / without** "
                   f"({tracked['extra_info'].get('description', '')}): "
                   + (f"**{inside[0]:.3f}** inside one trial (trial time / trial time less the "
                      f"{common.seconds(spent[0])} spent in MLflow calls, median of {inside[1]} tracked trials); "
                      if inside else "")
                   + (f"{paired[0]:.3f} from {paired[1]} interleaved pairs (range {paired[2]:.3f}-{paired[3]:.3f}); "
                      if paired else "")
                   + f"{ratio_min:.3f} from the minima. Goal <= {TRACKING_GOAL}: {verdict}.")
    return out


def speed_markdown(bench: dict) -> str:
    parts = [common.machine_line(bench.get("bench_machine")), markdown_table(speed_rows(bench))]
    ratios = speed_ratios(bench)
    if ratios:
        parts.append("\n".join(f"- {line}" for line in ratios))
    return "\n\n".join(p for p in parts if p)

# -- RESULTS.md ---------------------------------------------------------------------------------
COMMANDS = """\
```sh
make bench                       # every part: python -m benchmarks
# or one part at a time (each regenerates this file):
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks --parts speed     # pytest-benchmark, JSON in benchmarks/results/speed.json
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.fit_speed         # DEC/IDEC fit, code before issue 13 vs now, seeds 0-4, one process per fit
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.training_precision  # DEC/IDEC trained in float32 vs bfloat16 products, 3 corpora, 5 seeds
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.scale             # 7,600 .. 1,000,000 rows
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.quality           # >= 5 seeds, logged to MLflow experiment `benchmark`
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.selection         # the study before the cross-view objective: AG News, StackOverflow, Biomedical x full, 1,000
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.criteria          # 14 cases x 12 candidates: each label-free criterion's rho, regret, gold rank (~30 min)
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.default_run       # the default main run on each of those cases: champion against MiniLM + KMeans (~1 h)
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.embeddings        # embedding precisions: speed vs a bare encode, ACC/NMI on the three corpora
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.run_speed         # the default `make run`, cold: code before the cross-view objective vs now, champion reloaded
BENCH_THREADS=0 HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.blas_threads  # a run's steps with numpy/scipy's BLAS at its default threads vs one
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.spark_predict    # predict --engine spark (local[2]) vs local on 200,000 texts: texts/s, peak RSS, agreement (~45 min)
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.fit_sample        # pseudo-labelling fitted on 50,000 texts, 120,000 and 1M assigned: time, peak RSS
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.neighbours        # exact vs approximate neighbour search at 47,600, 120,000 and 1M rows: recall, time, memory
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.sota              # MiniLM + KMeans, DEC, PseudoLabelClusterer x 3 corpora (+ long-tailed), 5 seeds (~20 min)
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.imbalance_probe --seeds 2   # pseudo-labelling's size prior on steep long tails and 44-topic Zipf sets (~40 min)
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.pseudolabel_speed  # PseudoLabelClusterer fit time and peak RSS, code at dd9dcab vs now, 3 corpora and k=89/152 (~25 min)
BENCH_THREADS=2 HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.quality --methods kmeans,selftrain --datasets test --merge 1   # + self-training rows (~30 min)
mlflow run . -e benchmark --env-manager local --experiment-name benchmark   # the quality part as an MLflow entry point
# compare a new speed run with the last saved one:
.venv/bin/python -m pytest benchmarks/test_speed.py --benchmark-autosave --benchmark-compare
```
`BENCH_THREADS` (or `python -m benchmarks --threads N`) sets the threads per process: 1 by default
(see `benchmarks/common.py` for why), 0 for the libraries' defaults."""


def results_markdown(results_dir: Path = common.RESULTS_DIR) -> str:
    speed, scale, quality = (_read(f"{n}.json", results_dir) for n in ("speed", "scale", "quality"))
    bench_run = _read("bench_run.json", results_dir)
    parts = ["# Benchmark results",
             "_Generated by the scripts in `benchmarks/` from the raw results in `benchmarks/results/`; "
             "do not edit by hand: rerun them._"]
    if bench_run:
        took = ", ".join(f"{name} {s / 60:.1f} min" for name, s in bench_run["parts"].items())
        parts.append(f"The last `{bench_run['command']}` ({bench_run['date']}) took "
                     f"**{bench_run['total_s'] / 60:.0f} min** on this machine: {took}.")
    parts += ["## How to rerun", COMMANDS]
    parts += ["## Speed (pytest-benchmark)", speed_markdown(speed) if speed else "_not run yet_"]
    fit_speed = [json.loads(p.read_text()) for p in sorted(results_dir.glob("fit_speed*.json"))]
    if fit_speed:
        parts += ["## DEC and IDEC fit time: before and after issue 13", *map(fit_speed_module.markdown, fit_speed)]
    parts += ["## Scale and memory", scale_module.markdown(scale) if scale else "_not run yet_"]
    parts += ["## Quality", quality_module.markdown(quality) if quality else "_not run yet_"]
    sota = _read("sota.json", results_dir)
    if sota:
        parts += ["## Towards published numbers: three corpora, same defaults", sota_module.markdown(sota)]
    imbalance = _read("imbalance_probe.json", results_dir)
    if imbalance:
        parts += ["## Topics of very unequal size: pseudo-labelling's size prior (probe)",
                  imbalance_probe.markdown(imbalance)]
    pseudolabel_speed = _read("pseudolabel_speed.json", results_dir)
    if pseudolabel_speed:
        parts += ["## Pseudo-labelling fit time: before and after, up to 152 clusters", pseudolabel_speed_module.markdown(pseudolabel_speed)]
    criteria_results = [json.loads(p.read_text()) for p in sorted((results_dir / "criteria").glob("*.json"))]
    if criteria_results:
        parts += ["## Choosing without labels across spaces: each criterion against ACC, NMI and the gold probe",
                  criteria.markdown(criteria_results, criteria.STUDY_OBJECTIVE)]
    default_runs = [json.loads(p.read_text()) for p in sorted((results_dir / "default_run").glob("*.json"))]
    if default_runs:
        parts += ["## The default run on every case: its champion against MiniLM + KMeans",
                  default_run.markdown(default_runs)]
    selection = [json.loads(p.read_text()) for p in sorted((results_dir / "selection").glob("*.json"))]
    parts += ["## Label-free selection with the earlier objective (the MiniLM silhouette)",
              selection_module.markdown(selection) or "_not run yet_"]
    run_speed = _read("run_speed.json", results_dir)
    parts += ["## The default `make run`, cold: before and after",
              run_speed_module.markdown(run_speed) if run_speed else "_not run yet_"]
    blas = _read("blas_threads.json", results_dir)
    if blas:
        parts += ["## One BLAS thread: a run's steps at the default threads and at one", blas_threads.markdown(blas)]
    spark_predict = _read("spark_predict.json", results_dir)
    if spark_predict:
        parts += ["## Clustering many texts: predict on Spark against one process", spark_predict_module.markdown(spark_predict)]
    fit_sample = _read("fit_sample.json", results_dir)
    if fit_sample:
        parts += ["## Corpora past `fit_sample`: fitted on a sample, every text assigned", fit_sample_module.markdown(fit_sample)]
    neighbours = _read("neighbours.json", results_dir)
    if neighbours:
        parts += ["## Neighbour search: exact against the approximate index", neighbours_module.markdown(neighbours)]
    training_precision = _read("training_precision.json", results_dir)
    if training_precision:
        parts += ["## Training precision: DEC and IDEC in float32 and bfloat16",
                  training_precision_module.markdown(training_precision)]
    embeddings = _read("embeddings.json", results_dir)
    parts += ["## Embedding precision: speed against a bare encode, and what it costs in ACC/NMI",
              embeddings_module.markdown(embeddings) if embeddings else "_not run yet_"]
    return "\n\n".join(parts) + "\n"


def write_results_md(results_dir: Path = common.RESULTS_DIR, path: Path = common.RESULTS_MD) -> Path:
    path.write_text(results_markdown(results_dir))
    return path



def main() -> int:
    """``python -m benchmarks.report``: rebuild RESULTS.md from the saved results (every part calls it)."""
    write_results_md()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
