"""The default ``make run``, cold, before issue 13 and now: wall time, peak memory, the champion.

Each run is the README's first command as a new user types it (``mlflow run .`` with the
default parameters on the bundled AG News test split: 5,000 balanced articles, 10 trials,
3 seeds), in a fresh folder with an empty embedding cache (cold: the embeddings are computed)
and its own MLflow and Optuna stores. "Before" is a checkout of ``BASELINE`` (``git
worktree``); "now" is this working tree. Runs alternate which goes first, so both see the
same load on a shared machine, and the ratio of each pair is reported.

    python -m benchmarks.run_speed               # one pair
    python -m benchmarks.run_speed --pairs 2

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

BASELINE = "0f2c4c84d5dca46d2edae75a89dfbf406139c6ca"  # main before issue 13
OUT = common.RESULTS_DIR / "run_speed.json"
GOAL = 2.2


def run_once(code_dir: Path, workdir: Path) -> dict:
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
            "trials": sum(bool(re.match(r"trial +\d+ (COMPLETE|PRUNED)", line)) for line in output.splitlines())}


def _table(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("|")]


def baseline_checkout(root: Path) -> Path:
    path = root / "before"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), BASELINE], cwd=common.ROOT, check=True,
                   capture_output=True)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="run-speed-"))
    before = baseline_checkout(root)
    pairs = []
    try:
        for i in range(args.pairs):
            order = ["before", "now"] if i % 2 == 0 else ["now", "before"]
            pair = {}
            for version in order:
                workdir = root / f"{version}-{i}"
                workdir.mkdir()
                pair[version] = run_once(before if version == "before" else common.ROOT, workdir)
                print(f"{version}: {pair[version]['wall_s']:.0f} s, peak {pair[version]['peak_rss_mib']:.0f} MiB, "
                      f"{pair[version]['trials']} trials; {pair[version]['champion']}", flush=True)
            pair["ratio"] = pair["before"]["wall_s"] / pair["now"]["wall_s"]
            pairs.append(pair)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=common.ROOT, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    command = "python -m benchmarks.run_speed" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    result = {"baseline": BASELINE, "goal": GOAL, "pairs": pairs, "machine": common.machine_info(command)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    from benchmarks import report

    print("\n" + report.run_speed_markdown(result))
    report.write_results_md()
    return 0


if __name__ == "__main__":
    sys.exit(main())
