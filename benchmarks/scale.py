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


# -- its section of RESULTS.md ------------------------------------------------------------
# -- scale ------------------------------------------------------------------------------------
def markdown(result: dict) -> str:

    settings = result.get("settings", {})
    note = (f"7,600 rows: the real AG News test embeddings. Larger sizes: **synthetic** Gaussian-mixture "
            f"embeddings ({result.get('synthetic_source', '')}), L2-normalised. Each size runs in its own "
            f"process; peak RSS is that process's `ru_maxrss`. DEC runs with `tol=0` so every epoch runs; "
            f"sizes above {settings.get('big_rows', 0):,} rows ran {settings.get('big_pretrain_epochs')} AE + "
            f"{settings.get('big_epochs')} DEC epochs instead of {settings.get('pretrain_epochs')} + "
            f"{settings.get('epochs')} to keep the run short: compare the per-row-epoch columns across sizes. "
            f"Growth exponents are against the previous size (n^1.00 = linear). Evaluate = ACC/NMI/ARI/purity "
            f"+ silhouette on a 10,000-row sample + Davies-Bouldin + Calinski-Harabasz in the 384-d space.")
    lines = "\n".join(f"- {g}" for g in goals(result["records"]))
    return "\n\n".join([common.machine_line(result.get("machine")), note, common.markdown_table(scale_table(result["records"])),
                        lines])



MEMORY_GOAL_GB = 4.0  # for AG News' full size, 120,000 rows
MEMORY_GOAL_ROWS = 120_000


# -- the table ---------------------------------------------------------------------------
def _exponent(t1, t0, n1, n0):
    """Growth exponent b in t ~ n^b between two sizes; 1.0 is linear."""
    if not all(isinstance(v, (int, float)) and v > 0 and math.isfinite(v) for v in (t1, t0)) or n1 == n0:
        return None
    return math.log(t1 / t0) / math.log(n1 / n0)


def scale_table(records: list[dict]) -> list[dict]:
    """One row of display strings per size; growth exponents against the previous size."""
    rows, previous = [], None
    for r in sorted(records, key=lambda r: r["rows"]):
        data = "real AG News test" if r.get("data") == "real" else "synthetic mixture"
        if "failed" in r:
            rows.append({"rows": f"{r['rows']:,}", "data": data, "epochs AE+DEC": "-", "total s": r["failed"],
                         "peak RSS": _gb(r.get("peak_rss_mb"))})
            continue
        n = r["rows"]
        row = {
            "rows": f"{n:,}",
            "data": data,
            "epochs AE+DEC": f"{r['pretrain_epochs']}+{r['dec_epochs']}",
            "AE s/epoch": _num(r["ae_epoch_s"]),
            "DEC s/epoch": _num(r["dec_epoch_s"]),
            "KMeans init s": _num(r["kmeans_init_s"]),
            "evaluate s": _num(r["evaluate_s"]),
            "t-SNE s": _num(r["tsne_s"]) + f" ({r['tsne_points']:,} pts)",
            "total s": _num(r["total_s"]),
            "µs/row": _num(r["total_s"] / n * 1e6),
            "AE µs/row·epoch": _num(r["ae_epoch_s"] / n * 1e6),
            "DEC µs/row·epoch": _num(r["dec_epoch_s"] / n * 1e6),
            "growth AE/DEC/eval": "-",
            "peak RSS": _gb(r["peak_rss_mb"]),
            "ACC": _num(r.get("acc"), 3),
        }
        if previous is not None:
            exps = [_exponent(r[key], previous[key], n, previous["rows"])
                    for key in ("ae_epoch_s", "dec_epoch_s", "evaluate_s")]
            row["growth AE/DEC/eval"] = " / ".join("-" if e is None else f"n^{e:.2f}" for e in exps)
        rows.append(row)
        previous = r
    return rows


def goals(records: list[dict]) -> list[str]:
    """The issue's goals, each with what was measured."""
    out = []
    by_rows = {r["rows"]: r for r in records}
    full = by_rows.get(MEMORY_GOAL_ROWS)
    if full is not None:
        peak = full["peak_rss_mb"] / 1024
        verdict = "met" if peak <= MEMORY_GOAL_GB and "failed" not in full else "MISSED"
        out.append(f"{MEMORY_GOAL_ROWS:,} rows within {MEMORY_GOAL_GB:g} GB peak RSS: {verdict} ({peak:.2f} GB).")
    big = max(records, key=lambda r: r["rows"], default=None)
    if big is not None and big["rows"] >= 1_000_000:
        if "failed" in big:
            out.append(f"{big['rows']:,} rows: FAILED ({big['failed']}).")
        else:
            out.append(f"{big['rows']:,} rows completed in {big['process_s']:.0f} s with a peak RSS of "
                       f"{big['peak_rss_mb'] / 1024:.2f} GB ({big['peak_rss_mb'] * 2**20 / big['rows'] / 1024:.2f} KiB "
                       f"per row; the data alone is {384 * 4 / 1024:.2f} KiB per row).")
    ok = [r for r in sorted(records, key=lambda r: r["rows"]) if "failed" not in r]
    if len(ok) >= 2:
        first, last = ok[0], ok[-1]
        for key, name in (("ae_epoch_s", "AE epoch"), ("dec_epoch_s", "DEC epoch")):
            e = _exponent(last[key], first[key], last["rows"], first["rows"])
            if e is not None:
                out.append(f"{name} cost from {first['rows']:,} to {last['rows']:,} rows grows as n^{e:.2f} "
                           f"(linear = n^1.00).")
    return out


def _num(value, digits: int | None = None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if digits is not None:
        return f"{value:.{digits}f}"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"


def _gb(mb) -> str:
    return "-" if mb is None else f"{mb / 1024:.2f} GB"

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
    print(common.markdown_table(scale_table(records)))
    for line in goals(records):
        print(line)
    common.regenerate_results()
    return 0


if __name__ == "__main__":
    sys.exit(main())
