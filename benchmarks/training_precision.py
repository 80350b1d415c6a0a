"""Training precision: DEC and IDEC trained in float32 against bfloat16 matrix products, on AG News
test, StackOverflow and Biomedical.

``DEC(precision=...)`` (and IDEC, AE + KMeans) chooses the arithmetic of the training's matrix
products: ``"bfloat16-mixed"`` rounds their inputs to bfloat16 and accumulates in float32; weights,
Adam, biases, losses and the target distribution stay float32 (``clustering/_train.py``). This
part asks whether that changes what DEC finds. Each (corpus, model) runs seeds 0..n-1 in both
precisions, interleaved, in one process with one thread; the seed report's settings, k = the
true number of classes, the cached MiniLM embeddings. Labels only score.

Reported per (corpus, model): ACC and NMI mean ± std in each precision, the mean of the paired
differences (bfloat16 - float32, same seed) with its standard error, and the fit-time ratio.
The precision **holds the quality** on a (corpus, model) when both mean differences are within
0.005 (issue 13's tolerance).

Writes ``benchmarks/results/training_precision.json``; ``RESULTS.md`` is regenerated from it.

    python -m benchmarks.training_precision                           # 3 corpora x DEC, IDEC x 5 seeds (~15 min)
    python -m benchmarks.training_precision --corpora ag_news --models dec --n_seeds 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from benchmarks import common, sota
from benchmarks.fit_speed import GOAL_METRIC_DELTA  # the same quality tolerance


# -- its section of RESULTS.md ------------------------------------------------------------
# -- training precision (benchmarks.training_precision) ---------------------------------------------
def markdown(result: dict) -> str:
    """Per (corpus, model): ACC/NMI in float32 and bfloat16 training, paired differences, time ratio."""
    rows, verdicts = [], []
    for case in result["cases"].values():
        s, n = case["summary"], len(case["runs"]["float32"])
        row = {"corpus": common.CORPUS_NAMES.get(case["corpus"], case["corpus"]), "texts": f"{case['n_texts']:,}",
               "model": case["model"].upper(), "seeds": n}
        for p in ("float32", "bfloat16"):
            row[f"ACC {p}"] = f"{s[f'acc_{p}']:.4f} ± {s[f'acc_{p}_std']:.4f}"
            row[f"NMI {p}"] = f"{s[f'nmi_{p}']:.4f} ± {s[f'nmi_{p}_std']:.4f}"
        for key in ("acc", "nmi"):
            row[f"{key.upper()} bf16 - fp32 (paired, ± s.e.)"] = f"{s[f'{key}_diff']:+.4f} ± {s[f'{key}_diff_se']:.4f}"
        row["fit s fp32 / bf16"] = f"{s['seconds_float32']:.2f} / {s['seconds_bfloat16']:.2f} ({s['speedup']:.2f}x)"
        rows.append(row)
        worse = [k.upper() for k in ("acc", "nmi") if s[f"{k}_diff"] < -GOAL_METRIC_DELTA]
        better = [k.upper() for k in ("acc", "nmi") if s[f"{k}_diff"] > GOAL_METRIC_DELTA]
        verdict = (f"does NOT hold the quality: {' and '.join(worse)} worse by more than {GOAL_METRIC_DELTA}" if worse
                   else f"holds the quality: no worse, {' and '.join(better)} better by more than {GOAL_METRIC_DELTA}"
                   if better else f"holds the quality: within {GOAL_METRIC_DELTA} in ACC and NMI")
        verdicts.append(f"- {row['corpus']} {row['model']}: {verdict} (mean of paired differences)")
    return "\n\n".join([
        common.machine_line(result.get("machine")),
        "The seed report's DEC and IDEC settings, k = the true number of classes, cached MiniLM embeddings; each "
        "seed fitted in both precisions, interleaved, in one process (every fit pays its own pretraining). "
        "bfloat16 = the training's matrix products in bfloat16, accumulated in float32; weights, Adam, losses "
        "and targets in float32. Differences are paired by seed (same seed, same initial weights).",
        common.markdown_table(rows), "\n".join(verdicts)])

MODELS = ("dec", "idec")
PRECISIONS = ("float32", "bfloat16")
ARITHMETIC = {"float32": "float32", "bfloat16": "bfloat16-mixed"}  # the label in results -> DEC(precision=)
OUT = common.RESULTS_DIR / "training_precision.json"


def fit_one(model: str, precision: str, X, labels, seed: int) -> dict:
    """One fit at the seed report's settings; its scores and time. The pretraining memo is
    cleared first: every fit pays for its own pretraining."""
    from sklearn.metrics import normalized_mutual_info_score

    from clustering import autoencoder
    from clustering.dec import DEC, IDEC
    from clustering.metrics import cluster_accuracy

    autoencoder._PRETRAINED.clear()
    est = {"dec": DEC, "idec": IDEC}[model](len(np.unique(labels)), precision=ARITHMETIC[precision], random_state=seed)
    start = time.perf_counter()
    est.fit(X)
    took = time.perf_counter() - start
    return {"seed": seed, "acc": cluster_accuracy(labels, est.labels_),
            "nmi": float(normalized_mutual_info_score(labels, est.labels_)), "seconds": took}


def summarise(runs: dict[str, list[dict]]) -> dict:
    """Per precision: mean/std; paired bfloat16 - float32 differences: mean and standard error."""
    out = {}
    for p in PRECISIONS:
        for key in ("acc", "nmi", "seconds"):
            values = [r[key] for r in runs[p]]
            out[f"{key}_{p}"], out[f"{key}_{p}_std"] = float(np.mean(values)), float(np.std(values))
    for key in ("acc", "nmi"):
        diffs = np.array([b[key] - f[key] for f, b in zip(runs["float32"], runs["bfloat16"])])
        out[f"{key}_diff"] = float(diffs.mean())
        out[f"{key}_diff_se"] = float(diffs.std(ddof=1) / np.sqrt(len(diffs))) if len(diffs) > 1 else float("nan")
    out["speedup"] = out["seconds_float32"] / out["seconds_bfloat16"]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.training_precision",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default=",".join(common.CORPORA))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--n_seeds", type=int, default=5)
    args = parser.parse_args(argv)
    corpora, models = args.corpora.split(","), args.models.split(",")
    bad = [c for c in corpora if c not in common.CORPORA] + [m for m in models if m not in MODELS]
    if bad:
        parser.error(f"unknown corpus or model {bad}; corpora: {', '.join(common.CORPORA)}; models: {', '.join(MODELS)}")
    common.limit_threads()
    result = json.loads(OUT.read_text()) if OUT.is_file() else {"cases": {}}
    for corpus in corpora:
        _, labels, X = sota.load(corpus, imbalanced=False)  # float32 MiniLM embeddings, cached
        for model in models:
            runs = {p: [] for p in PRECISIONS}
            for seed in range(args.n_seeds):
                order = PRECISIONS if seed % 2 == 0 else PRECISIONS[::-1]  # interleaved: load drifts cancel
                for p in order:
                    runs[p].append(fit_one(model, p, X, labels, seed))
                    r = runs[p][-1]
                    print(f"{corpus:14s} {model:5s} {p:9s} seed {seed}  {r['seconds']:6.2f} s  "
                          f"ACC {r['acc']:.4f}  NMI {r['nmi']:.4f}", flush=True)
            result["cases"][f"{corpus}/{model}"] = {"corpus": corpus, "model": model, "n_texts": len(labels),
                                                    "k": int(len(np.unique(labels))), "runs": runs,
                                                    "summary": summarise(runs)}
    result["machine"] = common.machine_info("python -m benchmarks.training_precision "
                                            + " ".join(sys.argv[1:] if argv is None else argv))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1, default=float) + "\n")

    print(f"{common.relative(common.regenerate_results())} regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
