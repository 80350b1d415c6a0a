"""numpy's and scipy's BLAS on their default threads against one thread: the steps of a default run.

``experiments.threads`` limits the BLAS pools to one thread in every run of the suite
(``DTC_BLAS_THREADS``); this measures why, on the run's own data (the bundled AG News split,
5,000 balanced articles, cached MiniLM rows, k = 4). Each step is timed with the pools at
the libraries' default and at one thread, alternating, in one process, ``--repeats`` times;
torch keeps its own threads throughout. Results: ``benchmarks/results/blas_threads.json``.

    python -m benchmarks.blas_threads
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from benchmarks import common

OUT = common.RESULTS_DIR / "blas_threads.json"


def steps():
    """``{name: callable}``: what a default run spends its time on, each fit from scratch."""
    import numpy as np
    from sklearn.cluster import KMeans

    from clustering import autoencoder, dec, measures
    from clustering.data import load_corpus
    from clustering.embed import embed_texts
    from clustering.pseudolabel import PseudoLabelClusterer
    from experiments import evaluation
    from experiments.search_space import default_params, make_estimator

    corpus = load_corpus("ag_news_test", n_per_class=1250, seed=0)
    X = embed_texts(corpus.texts, show_progress=False)
    labels = np.asarray(corpus.labels)
    partition = KMeans(4, n_init=1, random_state=1).fit_predict(X)
    evaluation.cross_view_scorer(X, corpus.texts, 4)  # fitted once per corpus in a run, as here

    def kmeans_model():
        model = make_estimator(default_params("kmeans"), n_clusters=4, random_state=0)
        return evaluation.fit(model, X, corpus.texts) or model

    fitted = kmeans_model()

    def fresh_dec():
        autoencoder._PRETRAINED.clear()
        dec._INPUT_KMEANS.clear()
        evaluation.fit(make_estimator(default_params("dec"), n_clusters=4, random_state=0), X, corpus.texts)

    def fresh_graph():
        measures._GRAPHS.clear()
        measures.neighbour_graph(X)

    return {
        "PseudoLabelClusterer fit (defaults)": lambda: PseudoLabelClusterer(4, random_state=0).fit(
            corpus.texts, embeddings=X),
        "cross-view score of one partition": lambda: evaluation.cross_view_scorer(X, corpus.texts, 4).score(partition),
        "a run's metrics of one model": lambda: evaluation.metrics(fitted, X, labels, corpus.texts, seed=0),
        "KMeans, 10 restarts": lambda: KMeans(4, n_init=10, random_state=0).fit(X),
        "neighbour graph, 5,000 x 5,000 similarities": fresh_graph,
        "DEC, seed report settings (torch)": fresh_dec,
    }


def measure(repeats: int = 3, echo=print) -> dict:
    from threadpoolctl import threadpool_info, threadpool_limits

    default = max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
    todo = steps()
    timed = {name: {"default": [], "one": []} for name in todo}
    for name, step in todo.items():
        step()  # warm: imports, first allocations
        for _ in range(repeats):
            for setting in ("default", "one"):
                start = time.perf_counter()
                if setting == "one":
                    with threadpool_limits(1, user_api="blas"):
                        step()
                else:
                    step()
                timed[name][setting].append(time.perf_counter() - start)
        d, o = (statistics.median(timed[name][s]) for s in ("default", "one"))
        echo(f"{name:45s} default {d:6.2f} s   one thread {o:6.2f} s   {d / o:4.1f}x")
    return {"blas_default_threads": default, "repeats": repeats, "seconds": timed,
            "machine": common.machine_info("python -m benchmarks.blas_threads " + " ".join(sys.argv[1:]))}


def markdown(result: dict) -> str:
    rows = []
    for name, t in result["seconds"].items():
        d, o = statistics.median(t["default"]), statistics.median(t["one"])
        rows.append({"step": name, f"BLAS at its default ({result['blas_default_threads']} threads)": f"{d:.2f} s",
                     "BLAS at 1 thread": f"{o:.2f} s", "default / one": f"{d / o:.2f}x"})
    return "\n\n".join([
        common.machine_line(result.get("machine")),
        f"The bundled AG News split (5,000 balanced articles, cached MiniLM rows, k = 4); each step timed "
        f"{result['repeats']} times per setting, alternating, in one process; medians. torch keeps its own "
        "threads. Above 1x, one BLAS thread is faster: what `experiments.threads` (`DTC_BLAS_THREADS`, default 1) "
        "gives every run.",
        common.markdown_table(rows)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.blas_threads", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    result = measure(args.repeats)
    common.save_result(OUT, result)  # and regenerates RESULTS.md
    return 0


if __name__ == "__main__":
    sys.exit(main())
