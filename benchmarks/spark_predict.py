"""Clustering many texts with the registered model: ``predict --engine spark`` (local[N]) against ``--engine local``.

A KMeans champion (MiniLM, k = 4, fitted on the bundled AG News split) is registered in a
throw-away store; the input is ``--n_texts`` raw texts of the shared corpora (AG News test,
StackOverflow, Biomedical; the bundled split alone without them), repeated, in one parquet file
with an ``id`` column. Each engine runs as the CLI a user types, in its own process tree, one
after the other in one run: wall time, texts per second, and the peak of the summed resident
memory of the whole tree (the driver, Spark's JVM and its Python workers), sampled from /proc;
then the share of texts both engines put in the same cluster. Results:
``benchmarks/results/spark_predict.json``, one entry per ``--n_texts`` (a new run replaces its size's).

    python -m benchmarks.spark_predict --n_texts 200000          # embedding dominates the time
    python -m benchmarks.spark_predict --n_texts 20000 --master local[2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks import common

OUT = common.RESULTS_DIR / "spark_predict.json"


def tree_rss_mib(root: int) -> float:
    """Resident memory (MiB) of ``root`` and all its descendants now, from /proc."""
    parents, rss = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            status = (entry / "status").read_text()
            rss[int(entry.name)] = next(int(line.split()[1]) for line in status.splitlines()
                                        if line.startswith("VmRSS")) / 1024
        except (OSError, StopIteration, ValueError, IndexError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier and pid not in tree]
        tree.update(frontier)
    return sum(rss.get(pid, 0.0) for pid in tree)


def timed(command: list[str], env: dict) -> dict:
    """Run ``command``; its wall time and the peak summed RSS of its process tree (sampled every 0.5 s)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0.0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss_mib(proc.pid))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.communicate()[0]
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return {"wall_s": time.perf_counter() - start, "peak_tree_rss_mib": peak[0]}


def corpus_texts(n: int) -> list[str]:
    """``n`` raw texts: the shared corpora (or the bundled AG News split) in turn, repeated."""
    from clustering.data import read_rows

    texts = []
    for source in common.corpus_sources():
        texts += [t for t in read_rows(str(source))[1] if t.strip()]
    return [texts[i % len(texts)] for i in range(n)]


def register(root: Path) -> str:
    """A KMeans champion on MiniLM, logged as the suite logs one; its model URI."""
    import mlflow

    from clustering.baselines import EmbeddingKMeans
    from clustering.data import load_corpus
    from clustering.embed import embed_texts, resolve_precision
    from experiments.model import log_text_cluster_model

    precision = resolve_precision("auto")
    corpus = load_corpus("ag_news_test", n_per_class=1250, seed=0)
    model = EmbeddingKMeans(4, random_state=0).fit(embed_texts(corpus.texts, precision=precision, show_progress=False))
    mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
    experiment = mlflow.create_experiment("spark-predict", artifact_location=str(root / "artifacts"))
    with mlflow.start_run(experiment_id=experiment):
        log_text_cluster_model(model, embedding_model="all-MiniLM-L6-v2", clean=True, registered_model_name="bench",
                               embedding_precision=precision)
    return "models:/bench/1"


def measure(n_texts: int, master: str, echo=print) -> dict:
    import numpy as np
    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="spark-predict-") as tmp:
        root = Path(tmp)
        uri = register(root)
        pd.DataFrame({"id": np.arange(n_texts), "text": corpus_texts(n_texts)}).to_parquet(root / "texts.parquet")
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db", "HF_HUB_OFFLINE": "1",
               "CLUSTERING_CACHE_DIR": str(root / "cache")}  # no engine reads the other's embeddings
        base = [sys.executable, "-m", "experiments", "predict", "--model_uri", uri, "--input", str(root / "texts.parquet")]
        runs = {}
        runs["local"] = timed([*base, "--output", str(root / "local.csv")], env)
        echo(f"local: {runs['local']['wall_s']:.0f} s")
        runs["spark"] = timed([*base, "--output", str(root / "spark.parquet"), "--engine", "spark",
                               "--spark_master", master], env)
        echo(f"spark ({master}): {runs['spark']['wall_s']:.0f} s")
        local = pd.read_csv(root / "local.csv").sort_values("id")["cluster"].to_numpy()
        spark = pd.read_parquet(root / "spark.parquet").sort_values("id")["cluster"].to_numpy()
    for run in runs.values():
        run["texts_per_s"] = n_texts / run["wall_s"]
    return {"n_texts": n_texts, "master": master, "runs": runs, "agreement": float(np.mean(local == spark)),
            "machine": common.machine_info("python -m benchmarks.spark_predict " + " ".join(sys.argv[1:]))}


def markdown(result: dict) -> str:
    """One table over every size measured (``{"sizes": [...]}``, or one size's result), each size's ratio and date."""
    sizes = sorted(result.get("sizes", [result]), key=lambda r: r["n_texts"])
    rows, lines = [], []
    for size in sizes:
        rows += [{"engine": f"{name}" + (f" ({size['master']})" if name == "spark" else " (one process)"),
                  "texts": f"{size['n_texts']:,}", "wall time": common.seconds(run["wall_s"]),
                  "texts / s": f"{run['texts_per_s']:.0f}",
                  "peak RSS of the process tree": f"{run['peak_tree_rss_mib']:,.0f} MiB"}
                 for name, run in size["runs"].items()]
        ratio = size["runs"]["local"]["wall_s"] / size["runs"]["spark"]["wall_s"]
        lines.append(f"{size['n_texts']:,} texts: Spark / local throughput {ratio:.2f}x; the two engines put "
                     f"{size['agreement']:.2%} of the texts in the same cluster. "
                     + common.machine_line(size.get("machine")))
    return "\n\n".join([
        "`python -m experiments predict` on the same parquet file of raw texts (the shared corpora, repeated) with a "
        "registered MiniLM + KMeans champion, each engine in its own process tree, one after the other; wall time "
        "includes start-up (Spark's JVM, the model's load in each worker). Each size is its own run.",
        common.markdown_table(rows), *lines])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.spark_predict", description=__doc__.splitlines()[0])
    parser.add_argument("--n_texts", type=int, default=200_000)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args(argv)
    import json

    earlier = json.loads(OUT.read_text()) if OUT.is_file() else {}
    sizes = [r for r in earlier.get("sizes", [earlier] if earlier else []) if r["n_texts"] != args.n_texts]
    common.save_result(OUT, {"sizes": sizes + [measure(args.n_texts, args.master)]})  # and regenerates RESULTS.md
    return 0


if __name__ == "__main__":
    sys.exit(main())
