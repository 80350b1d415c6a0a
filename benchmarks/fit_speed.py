"""DEC and IDEC fit time at the seed report's settings: today's loops against the ones before issue 13.

"Before" is the training code at commit ``BASELINE`` (``clustering/autoencoder.py`` and
``clustering/dec.py``), read with ``git show`` and imported as modules of their own, so the
comparison needs a git checkout but no frozen copy. Everything else (data, metrics, KMeans,
thread limits) is shared.

Every fit runs in a fresh process of its own, so each pays the same one-time costs and its
``ru_maxrss`` is its own: the process's peak RSS after the fit, and how far the fit raised it
above the peak after imports and data (the fit's own high-water mark). The processes are
interleaved, before/after alternating which goes first from seed to seed, so both see the
same load on a shared machine; the ratio of each pair is reported with its median.

Settings: AE 384-256-128-64 + mirror, 20 pretraining epochs, batch 64, Adam 1e-3; 10 DEC
epochs, Adam 1e-4, KMeans init (n_init=20), alpha 1; IDEC gamma 0.1. Data: the 7,600 AG News
test embeddings (all-MiniLM-L6-v2, disk-cached). Today's code trains at its default
``precision="auto"``: bfloat16 matrix products where the CPU has them natively (AVX512-BF16,
AMX), float32 elsewhere; ``--precision float32`` measures its float32 loops alone. The old
code knew float32 only.

    python -m benchmarks.fit_speed                     # seeds 0-4, DEC and IDEC
    python -m benchmarks.fit_speed --precision float32 # today's loops in float32 (fit_speed_float32.json)
    python -m benchmarks.fit_speed --seeds 0 --models dec
    python -m benchmarks.fit_speed --dynamo-loaded   # as in a process that already imported torch._dynamo
    BENCH_THREADS=2 python -m benchmarks.fit_speed     # the ClustPy comparison's 2 threads

Results: ``benchmarks/results/fit_speed.json`` (``fit_speed_threads<n>.json`` with
``BENCH_THREADS=n``); ``RESULTS.md`` is regenerated from all of them.
"""

from __future__ import annotations

import argparse
import json
import sys
import types

import numpy as np

from benchmarks import common


# -- its section of RESULTS.md ------------------------------------------------------------
# -- fit speed (benchmarks.fit_speed) ----------------------------------------------------------------
GOAL_SPEEDUP = 1.7  # issue 13: DEC/IDEC fit time before / after, at least
GOAL_METRIC_DELTA = 0.005  # |after - before| in mean ACC and NMI, at most


def _precision_note(result: dict) -> str:
    """What today's code trained in (results from before precisions existed: float32)."""
    used = sorted({r.get("precision", "float32") for r in result.get("runs", []) if r["version"] == "after"})
    asked = result.get("precision")
    return (f"Today's code trained in {' and '.join(used) or 'float32'}"
            + (f" (`precision={asked!r}`)" if asked else "") + "; the code before issue 13 in float32. ")


def markdown(result: dict) -> str:
    """The RESULTS.md section for a ``fit_speed.json``."""
    rows, lines = [], []
    for model, s in result["summary"].items():
        for v in ("before", "after"):
            rows.append({"model": model.upper(), "code": f"{v} ({result['baseline'][:7]})" if v == "before" else v,
                         "fit time (mean)": f"{s[f'fit_s_{v}']:.2f} s", "CPU time (mean)": f"{s[f'cpu_s_{v}']:.2f} s", "ACC (mean)": f"{s[f'acc_{v}']:.4f}",
                         "NMI (mean)": f"{s[f'nmi_{v}']:.4f}", "peak RSS (mean)": f"{s[f'peak_rss_mib_{v}']:.0f} MiB",
                         "RSS rise in fit (mean)": f"{s[f'fit_rss_rise_mib_{v}']:.0f} MiB",
                         "speed-up, wall (median of pairs)": f"**{s['median_ratio']:.2f}x**" if v == "after" else "",
                         "speed-up, CPU time": f"{s['median_cpu_ratio']:.2f}x" if v == "after" else ""})
        met = (s["median_ratio"] >= GOAL_SPEEDUP and abs(s["acc_after"] - s["acc_before"]) <= GOAL_METRIC_DELTA
               and abs(s["nmi_after"] - s["nmi_before"]) <= GOAL_METRIC_DELTA
               and s["peak_rss_mib_after"] <= s["peak_rss_mib_before"])
        lines.append(
            f"- **{model.upper()}**: {s['median_ratio']:.2f}x faster (median of {len(s['ratios'])} interleaved pairs, "
            f"range {min(s['ratios']):.2f}-{max(s['ratios']):.2f}; ratio of means {s['ratio_of_means']:.2f}; "
            f"{s['median_cpu_ratio']:.2f}x in CPU time); "
            f"ACC {s['acc_after'] - s['acc_before']:+.4f}, NMI {s['nmi_after'] - s['nmi_before']:+.4f}; "
            f"peak RSS {s['peak_rss_mib_after'] - s['peak_rss_mib_before']:+.0f} MiB. "
            f"Against ClustPy (through issue 13's 11.8 s / 9.5 s, measured at 2 threads): "
            f"{s['after_over_clustpy']:.2f}x its wall time. "
            f"Goal >= {GOAL_SPEEDUP}x, ACC/NMI within {GOAL_METRIC_DELTA}, same peak memory or less: "
            f"{'met' if met else 'not met'}.")
    return "\n\n".join([common.machine_line(result["machine"]),
                        f"Each fit in its own process, before/after interleaved; before = commit `{result['baseline'][:7]}` "
                        "(read with `git show`). Peak RSS is the process's `ru_maxrss` after the fit (imports and data "
                        "included); the rise is how far the fit lifted it. CPU time is the process's over the fit, all "
                        "threads: with one thread and a busy machine it tracks the idle machine's wall time better than "
                        "wall time does. Seeds: "
                        f"{', '.join(map(str, result['seeds']))}. "
                        + _precision_note(result)
                        + ("Each process imported `torch._dynamo` before its fit (`--dynamo-loaded`): the state of a "
                           "process that has already built a `torch.optim` optimizer; the code before issue 13 no longer "
                           "pays that import inside its fit." if result.get("dynamo_loaded") else
                           "Fresh processes: the code before issue 13 pays `torch.optim`'s import of `torch._dynamo` "
                           "(about a second) inside its fit; today's code never imports it. `--dynamo-loaded` measures "
                           "without that difference."),
                        common.markdown_table(rows), "\n".join(lines)])

BASELINE = "0f2c4c84d5dca46d2edae75a89dfbf406139c6ca"  # main before issue 13


def result_path(threads: int, dynamo_loaded: bool = False, precision: str = "auto"):
    """``fit_speed.json`` at the benchmarks' default of one thread, a fresh process and today's
    default precision; ``_threads<n>``, ``_dynamo`` and ``_<precision>`` in the name otherwise."""
    name = ("fit_speed" + ("" if threads == 1 else f"_threads{threads}") + ("_dynamo" if dynamo_loaded else "")
            + ("" if precision == "auto" else f"_{precision}"))
    return common.RESULTS_DIR / f"{name}.json"

# Issue 13 quotes, 2 threads, this machine: our DEC 9.5 s, ClustPy's DEC 11.8 s (ClustPy cannot
# be installed beside the CPU torch, so it is compared through today's code).
CLUSTPY_OVER_BASELINE = 11.8 / 9.5


def baseline_modules(commit: str = BASELINE) -> types.ModuleType:
    """Import ``clustering/autoencoder.py`` and ``clustering/dec.py`` as they were at ``commit``;
    return the old ``dec`` module (its estimators call the old autoencoder module)."""
    common.module_at(commit, "clustering/autoencoder.py", "_baseline_autoencoder")
    return common.module_at(commit, "clustering/dec.py", "_baseline_dec",
                            replace={"from clustering.autoencoder import": "from _baseline_autoencoder import"})


def _estimator(version: str, model: str, seed: int, precision: str = "auto"):
    """The seed report's DEC or IDEC in the code ``version``; today's trains in ``precision``
    (its default, ``"auto"``: bfloat16 products where the CPU has them natively)."""
    if version == "before":
        dec = baseline_modules()
        extra = {}  # float32: the only arithmetic it had
    else:
        import clustering.dec as dec
        extra = {"precision": precision}
    cls = {"dec": dec.DEC, "idec": dec.IDEC}[model]
    # The seed report's settings are the defaults; spelled out so a changed default shows here.
    return cls(4, hidden_dims=(256, 128, 64), pretrain_epochs=20, epochs=10, batch_size=64, lr=1e-3,
               dec_lr=1e-4, alpha=1.0, n_init=20, random_state=seed, **extra)


def run_one(version: str, model: str, seed: int, dynamo_loaded: bool = False, precision: str = "auto") -> dict:
    """Fit once in this process and measure it (call in a fresh process: RSS is process-wide).

    ``dynamo_loaded`` imports ``torch._dynamo`` before the fit, as a process that has already
    built a ``torch.optim`` optimizer (or imported transformers) has: the code before issue 13
    pays that import (about a second) inside its first fit, today's code never makes it.
    """
    common.limit_threads()
    if dynamo_loaded:
        __import__("torch._dynamo")
    from clustering.metrics import cluster_accuracy
    from sklearn.metrics import normalized_mutual_info_score

    data = common.ag_news()
    est = _estimator(version, model, seed, precision)
    __import__("torch")  # imported by both versions; loaded before the RSS mark

    from clustering._train import resolve_precision

    arithmetic = "float32" if version == "before" else resolve_precision(precision, "cpu")

    measures = common.measured(lambda: est.fit(data.X))
    return {"version": version, "model": model, "seed": seed, **measures,
            "acc": cluster_accuracy(data.labels, est.labels_),
            "nmi": float(normalized_mutual_info_score(data.labels, est.labels_)),
            "n_iter": int(est.n_iter_), "precision": arithmetic}


def _child(version: str, model: str, seed: int, dynamo_loaded: bool, precision: str = "auto") -> dict:
    return common.child_json("benchmarks.fit_speed", f"{version},{model},{seed},{int(dynamo_loaded)},{precision}")


def summarise(runs: list[dict]) -> dict:
    """Per model: mean time, ACC, NMI, peak RSS of each version, and the before/after ratios."""
    out = {}
    for model in sorted({r["model"] for r in runs}):
        by, seeds = common.paired(runs, "model", model)
        ratios = [by["before"][s]["fit_s"] / by["after"][s]["fit_s"] for s in seeds]
        cpu_ratios = [by["before"][s]["cpu_s"] / by["after"][s]["cpu_s"] for s in seeds]
        row = {"seeds": seeds, "ratios": ratios, "median_ratio": float(np.median(ratios)),
               "cpu_ratios": cpu_ratios, "median_cpu_ratio": float(np.median(cpu_ratios)),
               "ratio_of_means": float(np.mean([by["before"][s]["fit_s"] for s in seeds])
                                       / np.mean([by["after"][s]["fit_s"] for s in seeds]))}
        for v in ("before", "after"):
            for key in ("fit_s", "cpu_s", "acc", "nmi", "peak_rss_mib", "fit_rss_rise_mib"):
                row[f"{key}_{v}"] = float(np.mean([by[v][s][key] for s in seeds]))
        row["after_over_clustpy"] = CLUSTPY_OVER_BASELINE ** -1 / row["median_ratio"]
        out[model] = row
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fit_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds")
    parser.add_argument("--models", default="dec,idec", help="comma-separated, from dec, idec")
    parser.add_argument("--dynamo-loaded", action="store_true",
                        help="import torch._dynamo in each process before its fit (a long-lived process's state)")
    parser.add_argument("--precision", default="auto", choices=("auto", "float32", "bfloat16-mixed"),
                        help="today's training arithmetic (default: its default, auto)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # version,model,seed,dynamo,precision: one fit, JSON on stdout
    args = parser.parse_args(argv)
    if args.child:
        version, model, seed, dynamo, precision = args.child.split(",")
        print(json.dumps(run_one(version, model, int(seed), dynamo == "1", precision)))
        return 0

    seeds = [int(s) for s in args.seeds.split(",")]
    models = [m.strip() for m in args.models.split(",")]
    common.limit_threads()  # only so machine_info reports the children's threads
    baseline_modules()  # fail here, not in a child, when the old code cannot be read
    runs = []
    for seed, model, version in common.interleaved(seeds, models):
        runs.append(r := _child(version, model, seed, args.dynamo_loaded, args.precision))
        print(f"{model:4s} seed {seed} {version:6s} {r['fit_s']:6.2f} s  ACC {r['acc']:.4f}  NMI {r['nmi']:.4f}  "
              f"peak RSS {r['peak_rss_mib']:.0f} MiB (+{r['fit_rss_rise_mib']:.0f} in fit)", flush=True)
    command = "python -m benchmarks.fit_speed" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    result = {"machine": common.machine_info(command), "baseline": BASELINE, "seeds": seeds,
              "dynamo_loaded": args.dynamo_loaded, "precision": args.precision, "runs": runs,
              "summary": summarise(runs)}
    for model, s in result["summary"].items():
        print(f"{model}: before {s['fit_s_before']:.2f} s, after {s['fit_s_after']:.2f} s, "
              f"speed-up {s['median_ratio']:.2f}x (median of pairs), ACC {s['acc_before']:.4f} -> {s['acc_after']:.4f}, "
              f"NMI {s['nmi_before']:.4f} -> {s['nmi_after']:.4f}, peak RSS {s['peak_rss_mib_before']:.0f} -> "
              f"{s['peak_rss_mib_after']:.0f} MiB, {s['after_over_clustpy']:.2f}x ClustPy's time")
    common.save_result(result_path(common.bench_threads(), args.dynamo_loaded, args.precision), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
