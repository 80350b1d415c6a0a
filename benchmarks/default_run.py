"""The default `mlflow run .` on every case of ``benchmarks.criteria``: is its champion ever below MiniLM + KMeans?

Each case's texts and labels are written to a CSV and the ``main`` entry point runs on it as a
user would start it (``python -m experiments main --data <csv> --n_clusters <true k>
--n_per_class 0``, every other parameter at its default: 3 seeds, 10 trials), in its own
process with its own MLflow and Optuna stores, at the machine's default thread count. Read
back from the run: the registered champion's ACC/NMI, every candidate's mean over the seeds,
MiniLM + KMeans' mean, the oracle trial and the wall time. Results go to
``benchmarks/results/default_run/<case>.json``.

    python -m benchmarks.default_run                       # every case (about an hour on 2 cores)
    python -m benchmarks.default_run --cases ag_news:1000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import common, criteria
from experiments import methods

OUT_DIR = common.RESULTS_DIR / "default_run"
KMEANS = methods.get(methods.STARTING_POINT).display  # its row in the run's table


def write_case(case: str, folder: Path) -> tuple[Path, int]:
    """The case as a ``text,label`` CSV in ``folder``; returns its path and the true k."""
    import pandas as pd

    data = criteria.load_case(case)
    path = folder / f"{case.replace(':', '_')}.csv"
    pd.DataFrame({"text": data.texts, "label": data.labels}).to_csv(path, index=False)
    return path, int(len(np.unique(data.labels)))


def read_run(tracking_uri: str) -> dict:
    """The main run's champion, candidates (mean over seeds) and timing, from its MLflow store."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    parent = next(r for r in runs if r.data.tags.get("entry_point") == "main")
    rows = {}
    for r in runs:
        if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id and r.data.tags.get("stage") in ("baseline",
                                                                                                        "final"):
            m = r.data.metrics
            rows[r.data.tags["method"]] = {key: m.get(key) for key in ("acc_mean", "acc_std", "nmi_mean", "nmi_std",
                                                                       "objective_mean", "objective_std")}
    m, tags = parent.data.metrics, parent.data.tags
    return {"champion": tags["champion"], "champion_method": tags["champion_method"],
            "champion_acc": m["champion_acc"], "champion_nmi": m["champion_nmi"],
            "oracle_acc": m.get("oracle_acc"), "oracle_nmi": m.get("oracle_nmi"), "total_s": m["total_seconds"],
            "rows": rows}


def run_case(case: str, seed: int = 0, extra: list[str] | None = None, echo=print) -> dict:
    with tempfile.TemporaryDirectory(prefix="default_run_") as tmp:
        folder = Path(tmp)
        csv, k = write_case(case, folder)
        tracking = f"sqlite:///{folder / 'mlflow.db'}"
        env = {**os.environ, "MLFLOW_TRACKING_URI": tracking, "HF_HUB_OFFLINE": "1",
               "MLFLOW_LOGGING_LEVEL": "WARNING"}
        command = [sys.executable, "-m", "experiments", "main", "--data", str(csv), "--n_clusters", str(k),
                   "--n_per_class", "0", "--seed", str(seed), "--storage", f"sqlite:///{folder / 'optuna.db'}",
                   *(extra or [])]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode:
            raise RuntimeError(f"{case}: main failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
        result = read_run(tracking)
    kmeans = result["rows"][KMEANS]
    result.update({"case": case, "k": k, "seed": seed, "wall_s": wall,
                   "kmeans_acc": kmeans["acc_mean"], "kmeans_nmi": kmeans["nmi_mean"],
                   "command": "python -m experiments main --data <case csv> --n_clusters <k> --n_per_class 0 "
                              + " ".join(extra or []),
                   "machine": {**common.machine_info("python -m benchmarks.default_run " + " ".join(sys.argv[1:])),
                               "bench_threads": 0}})  # the run itself had the libraries' default threads
    echo(f"{case:20s} champion {result['champion']:45s} acc {result['champion_acc']:.3f} nmi "
         f"{result['champion_nmi']:.3f} | KMeans {kmeans['acc_mean']:.3f} / {kmeans['nmi_mean']:.3f} | "
         f"{wall:.0f} s")
    return result


TOLERANCE = 0.005  # "never below the starting point": the champion within this of MiniLM + KMeans


def markdown(results: list[dict]) -> str:
    """Per case: MiniLM + KMeans against the registered champion, the oracle and the wall time; the verdicts."""
    results = sorted(results, key=lambda r: criteria.CASES.index(r["case"]) if r["case"] in criteria.CASES else 99)
    rows, below = [], []
    for r in results:
        d_acc, d_nmi = r["champion_acc"] - r["kmeans_acc"], r["champion_nmi"] - r["kmeans_nmi"]
        if min(d_acc, d_nmi) < -TOLERANCE:
            below.append(r["case"])
        champion = r["rows"].get(r["champion"], {})
        rows.append({"case": r["case"], "k": r["k"],
                     "MiniLM + KMeans ACC / NMI (3 seeds)": f"{r['kmeans_acc']:.3f} / {r['kmeans_nmi']:.3f}",
                     "champion": r["champion"],
                     "registered ACC / NMI": f"{r['champion_acc']:.3f} / {r['champion_nmi']:.3f}",
                     "its mean over the seeds": f"{champion.get('acc_mean', float('nan')):.3f} / "
                                                f"{champion.get('nmi_mean', float('nan')):.3f}",
                     "ACC / NMI - KMeans": f"{d_acc:+.3f} / {d_nmi:+.3f}",
                     "oracle trial ACC": "" if r.get("oracle_acc") is None else f"{r['oracle_acc']:.3f}",
                     "wall": f"{r['wall_s'] / 60:.1f} min"})
    full = [r for r in results if r["case"].endswith(":full")]
    lines = [f"The default `python -m experiments main` (what `mlflow run .` runs) on each case with `n_clusters` = the "
             f"true k and `n_per_class 0`, everything else at its defaults (3 seeds, {results[0].get('n_trials', 10)} "
             "trials, objective `cross_view`), in a fresh process and store per case. The registered champion is the "
             "best seed (by the label-free objective) of the candidate the champion rule chose; the oracle trial is "
             "the study's best trial by ACC (on the study's sample).",
             common.markdown_table(rows),
             f"Within {TOLERANCE} of MiniLM + KMeans in ACC and NMI: {len(results) - len(below)} of {len(results)} cases"
             + (f"; below it: {', '.join(below)}." if below else ".")]
    if full:
        gain = np.mean([r["champion_acc"] - r["kmeans_acc"] for r in full])
        lines.append(f"Mean ACC gain over the shared full corpora ({len(full)}): {gain:+.3f}.")
    lines.append(common.machine_line(results[-1].get("machine")))
    return "\n\n".join(lines)


def case_file(case: str) -> Path:
    return OUT_DIR / f"{case.replace(':', '_')}.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.default_run", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(criteria.CASES))
    parser.add_argument("--seed", type=int, default=0)
    args, extra = parser.parse_known_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for case in [c.strip() for c in args.cases.split(",") if c.strip()]:
        if case not in criteria.CASES:
            raise SystemExit(f"unknown case {case!r}; choose from {', '.join(criteria.CASES)}")
        case_file(case).write_text(json.dumps(run_case(case, args.seed, extra), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
