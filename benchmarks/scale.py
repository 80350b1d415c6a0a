"""Scale and memory: AE + DEC + evaluation on 7,600 to 1,000,000 rows of 384-d embeddings.

Each size runs in a fresh process, so the peak resident memory reported for it (that
child's ``ru_maxrss``, read with ``os.wait4``) is its own and starts from the same imports.
The 7,600 rows are the real AG News test embeddings; larger sizes are synthetic, since no
real text is at hand for them: a Gaussian mixture fitted to the real embeddings (class
means, per-dimension stds), L2-normalised. The output says which is which.

``tol=0`` makes every size run all its DEC epochs, so per-epoch costs compare across
sizes. Sizes above ``--big_rows`` get fewer epochs (``--big_pretrain_epochs``,
``--big_epochs``) to keep the run within minutes on two cores; the table shows the epochs
each size ran, and the per-row-epoch columns are what compares across sizes.

    python -m benchmarks.scale [--sizes 7600,30000,120000,1000000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.report import goals, scale_table

DEFAULT_SIZES = (7_600, 30_000, 120_000, 1_000_000)


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_size(X: np.ndarray, labels: np.ndarray, *, pretrain_epochs: int, epochs: int, tsne_points: int = 3000,
             seed: int = 0) -> dict:
    """Fit DEC on ``X`` (n, d), evaluate it against ``labels`` (n,), draw a t-SNE; time every stage.

    Every stage time is the gap between two clock readings taken where the stage starts and
    ends, never a difference of other estimates, so none can come out negative. The readings:
    DEC's per-epoch callback (an epoch is the gap between two callbacks; a DEC epoch includes
    its target-distribution update on all rows) and the end of the KMeans that seeds the
    centres (read by wrapping ``KMeans.fit`` during the fit). Returns seconds per stage, the
    scores and the peak RSS (MB) of this process after each stage.
    """
    from sklearn.cluster import KMeans

    from clustering.dec import DEC
    from clustering.metrics import evaluate
    from clustering.plots import tsne_plot

    marks: list[tuple[str, float]] = []
    kmeans_fit = KMeans.fit

    def timed_kmeans_fit(self, *args, **kwargs):
        result = kmeans_fit(self, *args, **kwargs)
        marks.append(("kmeans", time.perf_counter()))
        return result

    start = time.perf_counter()
    model = DEC(common.N_CLASSES, pretrain_epochs=pretrain_epochs, epochs=epochs, tol=0.0, random_state=seed)
    KMeans.fit = timed_kmeans_fit
    try:
        model.fit(X, callback=lambda step, logs: marks.append((logs["stage"], time.perf_counter())))
    finally:
        KMeans.fit = kmeans_fit
    fitted = time.perf_counter()
    rss_fit = _maxrss_mb()
    scores = evaluate(labels, model.labels_, X, random_state=seed)
    evaluated = time.perf_counter()
    rss_eval = _maxrss_mb()
    tsne_plot(model.transform(X), model.labels_, labels, max_points=tsne_points, random_state=seed)
    drawn = time.perf_counter()

    pre = [t for stage, t in marks if stage == "pretrain"]
    clu = [t for stage, t in marks if stage == "cluster"]
    pretrained = pre[-1] if pre else start
    # The end of the first KMeans after pretraining: encode + KMeans lie between the two readings.
    seeded = next((t for stage, t in marks if stage == "kmeans" and t >= pretrained), clu[0] if clu else fitted)
    ae_epoch = float(np.median(np.diff([start, *pre]))) if pre else math.nan
    dec_epoch = float(np.median(np.diff([seeded, *clu]))) if clu else math.nan
    init = seeded - pretrained
    return {
        "rows": int(len(X)),
        "pretrain_epochs": len(pre),
        "dec_epochs": int(model.n_iter_),
        "fit_s": fitted - start,
        "pretrain_s": pretrained - start,
        "ae_epoch_s": ae_epoch,
        "dec_epoch_s": dec_epoch,
        "kmeans_init_s": init,
        "predict_s": fitted - (clu[-1] if clu else pretrained),
        "evaluate_s": evaluated - fitted,
        "tsne_s": drawn - evaluated,
        "tsne_points": int(min(tsne_points, len(X))),
        "total_s": drawn - start,
        "acc": scores.get("acc"),
        "nmi": scores.get("nmi"),
        "silhouette": scores.get("silhouette"),
        "rss_after_fit_mb": rss_fit,
        "rss_after_evaluate_mb": rss_eval,
        "rss_after_tsne_mb": _maxrss_mb(),
    }


# -- one size, in a child process ----------------------------------------------------------
def _child(args) -> None:
    common.limit_threads()
    rss_imports = _maxrss_mb()
    start = time.perf_counter()
    inputs = np.load(Path(args.input) / "inputs.npz")
    if args.data == "real":
        X, labels = inputs["X"], inputs["labels"]
        if len(X) != args.rows:
            raise SystemExit(f"the real data has {len(X)} rows, not {args.rows}")
    else:
        X, labels = common.synthetic_embeddings(args.rows, inputs["means"], inputs["stds"], seed=0)
    data_s = time.perf_counter() - start
    rss_data = _maxrss_mb()
    record = run_size(X, labels, pretrain_epochs=args.pretrain_epochs, epochs=args.epochs,
                      tsne_points=args.tsne_points)
    record.update(data=args.data, data_s=data_s, rss_after_imports_mb=rss_imports, rss_after_data_mb=rss_data)
    Path(args.result).write_text(json.dumps(record))


def _run_child(rows: int, data: str, pretrain_epochs: int, epochs: int, tsne_points: int, workdir: Path,
               threads: int) -> dict:
    result = workdir / f"result_{rows}.json"
    cmd = [sys.executable, "-m", "benchmarks.scale", "--child", "--rows", str(rows), "--data", data,
           "--pretrain_epochs", str(pretrain_epochs), "--epochs", str(epochs), "--tsne_points", str(tsne_points),
           "--input", str(workdir), "--result", str(result)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=common.ROOT, env={**os.environ, **common.thread_env(threads)})
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        return {"rows": rows, "data": data, "failed": f"exit code {proc.returncode}", "process_s": wall,
                "peak_rss_mb": usage.ru_maxrss / 1024}
    record = json.loads(result.read_text())
    record.update(process_s=wall, peak_rss_mb=usage.ru_maxrss / 1024)
    return record


# -- the driver ----------------------------------------------------------------------------
def _prepare_inputs(workdir: Path) -> str:
    """Write the real embeddings and the mixture fitted to them; return where they came from."""
    if common.AG_NEWS_CSV.is_file():
        real = common.ag_news()
        means, stds = common.mixture_stats(real.X, real.labels)
        np.savez(workdir / "inputs.npz", X=real.X, labels=real.labels, means=means, stds=stds)
        return f"fitted to the real AG News test embeddings ({common.relative(common.AG_NEWS_CSV)})"
    means, stds = common.random_mixture_stats()
    np.savez(workdir / "inputs.npz", X=np.empty((0, 384), np.float32), labels=np.empty(0, int), means=means, stds=stds)
    return "random centres (the AG News CSV was not found)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="comma-separated row counts")
    parser.add_argument("--pretrain_epochs", type=int, default=20, help="AE epochs (library default 20)")
    parser.add_argument("--epochs", type=int, default=10, help="DEC epochs (library default 10)")
    parser.add_argument("--big_rows", type=int, default=200_000, help="sizes above this use the --big_* epochs")
    parser.add_argument("--big_pretrain_epochs", type=int, default=2)
    parser.add_argument("--big_epochs", type=int, default=2)
    parser.add_argument("--tsne_points", type=int, default=3000, help="t-SNE subsample (the suite's default)")
    parser.add_argument("--out", default=str(common.RESULTS_DIR / "scale.json"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", choices=("real", "synthetic"), help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args)
        return 0

    from benchmarks import report

    threads = common.bench_threads()
    common.limit_threads(threads)
    command = "python -m benchmarks.scale" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    records = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        workdir = Path(tmp)
        source = _prepare_inputs(workdir)
        real_rows = len(np.load(workdir / "inputs.npz")["labels"])
        print(f"scale: sizes {sizes}; synthetic data {source}; {threads or 'default'} thread(s) per process",
              flush=True)
        for rows in sizes:
            big = rows > args.big_rows
            pre, dec = (args.big_pretrain_epochs, args.big_epochs) if big else (args.pretrain_epochs, args.epochs)
            data = "real" if rows == real_rows else "synthetic"
            record = _run_child(rows, data, pre, dec, args.tsne_points, workdir, threads)
            record["reduced_epochs"] = big
            records.append(record)
            print(f"  {rows:>9,} rows ({data}, {pre}+{dec} epochs): "
                  + (record["failed"] if "failed" in record else
                     f"{record['total_s']:.1f} s, peak RSS {record['peak_rss_mb'] / 1024:.2f} GB"), flush=True)
    result = {"machine": common.machine_info(command), "synthetic_source": source, "settings": vars(args) | {
        "out": common.relative(args.out), "threads": threads}, "records": records}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(report.markdown_table(scale_table(records)))
    for line in goals(records):
        print(line)
    report.write_results_md()
    return 0


if __name__ == "__main__":
    sys.exit(main())
