"""The default ``make run``, cold, before and after a change: wall time, peak memory, the champion.

Each run is the README's first command as a new user types it (``mlflow run .`` with the
default parameters on the bundled AG News test split: 5,000 balanced articles, 10 trials,
3 seeds), in a fresh folder with an empty embedding cache (cold: the embeddings are computed)
and its own MLflow and Optuna stores. "Before" is a checkout of ``--baseline`` (``git
worktree``; by default main before the cross-view objective); "now" is this working tree. Runs
alternate which goes first, so both see the same load on a shared machine. After the "now"
run, a new process loads ``models:/deep-text-clustering@champion`` and clusters the same
articles from their raw text: the ACC it gets should be the one the run registered.

    python -m benchmarks.run_speed               # one pair
    python -m benchmarks.run_speed --pairs 2 --baseline 0f2c4c8

Results: ``benchmarks/results/run_speed.json``; ``RESULTS.md`` is regenerated.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import common


# -- its section of RESULTS.md ------------------------------------------------------------
def markdown(result: dict) -> str:
    """The default run before and after a change: wall time, peak RSS, trials, champion, the printed table."""
    rows = []
    for i, pair in enumerate(result["pairs"]):
        for version in ("before", "now"):
            r = pair[version]
            row = {"pair": str(i + 1), "code": version, "wall": common.seconds(r["wall_s"]),
                   "peak RSS": f"{r['peak_rss_mib']:.0f} MiB", "trials run": str(r["trials"]),
                   "skipped": str(r.get("skipped", "")),
                   "champion": r["champion"].removeprefix("champion: ").split(" (best")[0]}
            if "check" in r:
                c = r["check"]
                row["registered ACC / NMI"] = f"{c['registered_acc']:.3f} / {c['registered_nmi']:.3f}"
                row["reloaded, raw texts"] = f"{c['reloaded_acc']:.3f} / {c['reloaded_nmi']:.3f}"
            rows.append(row)
    ratios = [p["ratio"] for p in result["pairs"]]
    if "limit_s" in result:
        worst = max(p["now"]["wall_s"] for p in result["pairs"])
        verdict = (f"Slowest run now {common.seconds(worst)} against a limit of {common.seconds(result['limit_s'])}: "
                   f"{'met' if worst <= result['limit_s'] else 'NOT met'}.")
    else:  # results saved before the limit was the goal
        verdict = f"Goal {result['goal']}x: {'met' if min(ratios) >= result['goal'] else 'NOT met'}."
    last = result["pairs"][-1]
    tables = "\n\n".join(f"Comparison table printed by the {v} run (last pair):\n\n" + "\n".join(last[v]["table"])
                          for v in ("before", "now"))
    return "\n\n".join([
        common.machine_line(result.get("machine")),
        f"`mlflow run . -P data=ag_news_test` (5,000 balanced articles, 10 trials, 3 seeds) in a fresh folder with "
        f"an empty embedding cache, code at `{result['baseline'][:7]}` (before) and now, alternating. Before / now, "
        f"per pair: {', '.join(f'{r:.2f}x' for r in ratios)}. {verdict} \"reloaded\": the registered champion loaded "
        "in a new process, clustering the same articles from their raw text.",
        common.markdown_table(rows), tables])

BASELINE = "8cf76e13db20a430c2bb65295a0d4a0e0e661d2e"  # main before the cross-view objective and pseudo-labelling
OUT = common.RESULTS_DIR / "run_speed.json"
LIMIT_S = 180.0  # the default `make run`, cold, on 2 cores: at most
# A new process clusters the run's articles from their raw text with the registered champion.
CHAMPION_CHECK = """
import json, mlflow, numpy as np, pandas as pd
from sklearn.metrics import normalized_mutual_info_score
from clustering.data import load_corpus
from clustering.metrics import cluster_accuracy
raw = load_corpus("ag_news_test", n_per_class=1250, seed=0, clean=False)
cleaned = load_corpus("ag_news_test", n_per_class=1250, seed=0)
assert np.array_equal(raw.labels, cleaned.labels), "raw and cleaned subsets differ"
out = mlflow.pyfunc.load_model("models:/deep-text-clustering@champion").predict(pd.DataFrame({"text": raw.texts}))
client = mlflow.MlflowClient()
run = next(r for r in client.search_runs([e.experiment_id for e in client.search_experiments()])
           if r.data.tags.get("entry_point") == "main")
print(json.dumps({"registered_acc": run.data.metrics["champion_acc"], "registered_nmi": run.data.metrics["champion_nmi"],
                  "reloaded_acc": cluster_accuracy(raw.labels, out["cluster"]),
                  "reloaded_nmi": float(normalized_mutual_info_score(raw.labels, out["cluster"])),
                  "champion_method": run.data.tags["champion_method"]}))
"""


def champion_check(workdir: Path, env: dict) -> dict:
    """The registered champion, loaded in a new process, on the run's articles as raw text."""
    done = subprocess.run([sys.executable, "-c", CHAMPION_CHECK], cwd=workdir, env=env, capture_output=True,
                          text=True)
    if done.returncode:
        raise RuntimeError(f"champion check failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_once(code_dir: Path, workdir: Path, *, check: bool = False) -> dict:
    """``mlflow run <code_dir> -P data=ag_news_test``, cold, with every store under ``workdir``."""
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir}/mlflow.db", "HF_HUB_OFFLINE": "1",
           "CLUSTERING_CACHE_DIR": str(workdir / "cache"), "MLFLOW_LOGGING_LEVEL": "WARNING",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("BENCH_THREADS", None)  # the run as a user gets it: the libraries' default threads
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(name, None)
    cmd = [str(mlflow_bin), "run", str(code_dir), "--env-manager", "local", "--experiment-name", "deep-text-clustering",
           "-P", "data=ag_news_test", "-P", f"storage=sqlite:///{workdir}/optuna.db"]
    start = time.perf_counter()
    with open(workdir / "run.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    output = (workdir / "run.log").read_text()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"mlflow run failed in {workdir}:\n{output[-3000:]}")
    return {"wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024, "table": _table(output),
            "champion": next((line for line in output.splitlines() if line.startswith("champion:")), ""),
            "trials": sum(bool(re.match(r"trial +\d+ (COMPLETE|PRUNED)", line)) for line in output.splitlines()),
            "skipped": sum(" SKIPPED " in line for line in output.splitlines()),
            **({"check": champion_check(workdir, env)} if check else {})}


def _table(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("|")]


def baseline_checkout(root: Path, baseline: str) -> Path:
    path = root / "before"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), baseline], cwd=common.ROOT, check=True,
                   capture_output=True)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--baseline", default=BASELINE, help="the commit 'before' runs (default: %(default)s)")
    args = parser.parse_args(argv)
    baseline = subprocess.run(["git", "rev-parse", args.baseline], cwd=common.ROOT, check=True, capture_output=True,
                              text=True).stdout.strip()
    root = Path(tempfile.mkdtemp(prefix="run-speed-"))
    before = baseline_checkout(root, baseline)
    pairs = []
    try:
        for i in range(args.pairs):
            order = ["before", "now"] if i % 2 == 0 else ["now", "before"]
            pair = {}
            for version in order:
                workdir = root / f"{version}-{i}"
                workdir.mkdir()
                pair[version] = run_once(before if version == "before" else common.ROOT, workdir,
                                         check=version == "now")
                print(f"{version}: {pair[version]['wall_s']:.0f} s, peak {pair[version]['peak_rss_mib']:.0f} MiB, "
                      f"{pair[version]['trials']} trials; {pair[version]['champion']} {pair[version].get('check', '')}",
                      flush=True)
            pair["ratio"] = pair["before"]["wall_s"] / pair["now"]["wall_s"]
            pairs.append(pair)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=common.ROOT, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    command = "python -m benchmarks.run_speed" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    result = {"baseline": baseline, "limit_s": LIMIT_S, "pairs": pairs, "machine": common.machine_info(command)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")

    print("\n" + markdown(result))
    common.regenerate_results()
    return 0


if __name__ == "__main__":
    sys.exit(main())
