"""``python -m benchmarks`` (``make bench``): the speed, fit_speed, training_precision, scale, quality, selection, criteria, default_run, embeddings, run_speed, blas_threads, spark_predict, fit_sample, neighbours and sota parts in turn.

Each part runs in its own process, writes its raw results to ``benchmarks/results/`` and
regenerates ``benchmarks/RESULTS.md``; this driver adds how long each part took.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

from benchmarks import common

PARTS = {
    "speed": ["-m", "pytest", "benchmarks/test_speed.py", "-q",
              f"--benchmark-json={common.relative(common.RESULTS_DIR / 'speed.json')}", "--benchmark-autosave"],
    "fit_speed": ["-m", "benchmarks.fit_speed"],
    "training_precision": ["-m", "benchmarks.training_precision"],
    "scale": ["-m", "benchmarks.scale"],
    "quality": ["-m", "benchmarks.quality"],
    "selection": ["-m", "benchmarks.selection"],
    "criteria": ["-m", "benchmarks.criteria"],
    "default_run": ["-m", "benchmarks.default_run"],
    "embeddings": ["-m", "benchmarks.embeddings"],
    "run_speed": ["-m", "benchmarks.run_speed"],
    "blas_threads": ["-m", "benchmarks.blas_threads"],
    "spark_predict": ["-m", "benchmarks.spark_predict"],
    "fit_sample": ["-m", "benchmarks.fit_sample"],
    "neighbours": ["-m", "benchmarks.neighbours"],
    "sota": ["-m", "benchmarks.sota"],
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, from {', '.join(PARTS)}")
    parser.add_argument("--threads", type=int, default=common.bench_threads(),
                        help="threads per process (default: $BENCH_THREADS or 1; 0 = the libraries' defaults)")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {unknown}; choose from {', '.join(PARTS)}")

    from benchmarks import report

    # The data and the model are local (the CSV beside the repository, MiniLM from its PyPI
    # package): no hub probe needed.
    env = {**os.environ, "BENCH_THREADS": str(args.threads), "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    common.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    took, failed = {}, []
    start = time.perf_counter()
    for part in parts:
        print(f"\n=== {part} ===", flush=True)
        t = time.perf_counter()
        code = subprocess.call([sys.executable, *PARTS[part]], cwd=common.ROOT, env=env)
        took[part] = time.perf_counter() - t
        if code != 0:
            failed.append(f"{part} (exit code {code})")
        print(f"=== {part}: {took[part] / 60:.1f} min{'' if code == 0 else f', FAILED with exit code {code}'} ===",
              flush=True)
    command = "python -m benchmarks" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    if parts == list(PARTS):  # only a full run says how long `make bench` takes
        run = {"command": command, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "threads": args.threads, "parts": took, "total_s": time.perf_counter() - start, "failed": failed}
        (common.RESULTS_DIR / "bench_run.json").write_text(json.dumps(run, indent=1) + "\n")
    path = report.write_results_md()
    print(f"\n{common.relative(path)} regenerated; {', '.join(f'{p} {s / 60:.1f} min' for p, s in took.items())}"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
