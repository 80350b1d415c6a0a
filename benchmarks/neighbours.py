"""Neighbour search past ``EXACT_MAX``: the approximate index against exact search, recall, time and memory.

Rows: the shared corpora's cached MiniLM rows (AG News test, StackOverflow, Biomedical; the
bundled split alone without them), repeated to ``--sizes`` rows. For each size, in its own
process: ``NeighbourIndex`` exact and approximate (``--probes``), the build, each row's 10
nearest other rows (the pseudo-labeller's graph), and the queries of ``--assign`` new rows
against ``fit_sample`` (50,000) fitted ones, the step that assigns a large corpus; recall@10
(ties counted as found) on 2,000 seeded queries; peak RSS. Exact search past 50,000 rows is
timed on those 2,000 queries and scaled to all rows (marked "est."), and so is the approximate
graph past 200,000 rows, from 22,000 queries. Results:
``benchmarks/results/neighbours.json``.

    python -m benchmarks.neighbours                       # 47,600 (the corpora once), 120,000, 1,000,000
    python -m benchmarks.neighbours --sizes 120000 --probes 16,32
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from benchmarks import common

OUT = common.RESULTS_DIR / "neighbours.json"
K = 10
QUERIES = 2000
EXACT_ALL_MAX = 50_000  # above, exact search of every row is estimated from the sampled queries
GRAPH_ALL_MAX = 200_000  # above, the approximate graph's time too, from GRAPH_QUERIES more queries
GRAPH_QUERIES = 20_000


def rows(n: int):
    """``n`` MiniLM rows, the shared corpora's repeated in turn (``benchmarks.fit_sample.corpus``), and how many are distinct."""
    from benchmarks.fit_sample import corpus

    _, X, distinct = corpus(n, distinct=True)
    return X, distinct


def _without_self(found, queries):
    """Each query's K nearest other rows, from a search of K + 1 that may include the query itself."""
    import numpy as np

    return np.array([[j for j in row if j != q][:K] for row, q in zip(found, queries)])


def child(n: int, probes: list[int], fitted: int) -> dict:
    import numpy as np

    from clustering.neighbours import NeighbourIndex, recall_at_k

    X, distinct = rows(n)
    queries = np.sort(np.random.default_rng(1).choice(n, min(QUERIES, n), replace=False))
    out = {"n_rows": n, "distinct_rows": distinct, "fitted": min(fitted, n), "runs": []}
    start = time.perf_counter()
    exact = NeighbourIndex(K + 1, algorithm="exact").fit(X)
    sampled = exact.kneighbors(X[queries])
    per_query = (time.perf_counter() - start) / len(queries)
    if n <= EXACT_ALL_MAX:
        start = time.perf_counter()
        NeighbourIndex(K, algorithm="exact").fit(X).kneighbors()
        graph_s, estimated = time.perf_counter() - start, False
    else:
        graph_s, estimated = per_query * n, True
    own = _without_self(sampled, queries)
    assign = X[np.random.default_rng(2).choice(n, min(fitted, n), replace=False)]  # the fitted sample
    small = NeighbourIndex(K, algorithm="exact").fit(assign)
    start = time.perf_counter()
    small.kneighbors(X[queries])
    assign_ms = (time.perf_counter() - start) / len(queries) * 1000
    out["runs"].append({"algorithm": "exact", "build_s": 0.0, "graph_s": graph_s, "estimated": estimated,
                        "assign_ms": assign_ms, "recall": recall_at_k(X, own, queries=queries)})
    timed = None  # past GRAPH_ALL_MAX rows, the graph's time is that of these queries (and the recall's), scaled
    if n > GRAPH_ALL_MAX:
        timed = np.sort(np.random.default_rng(3).choice(n, GRAPH_QUERIES, replace=False))
    for probe in probes:
        start = time.perf_counter()
        index = NeighbourIndex(K, algorithm="approximate", n_probe=probe).fit(X)
        build_s = time.perf_counter() - start
        start = time.perf_counter()
        if timed is None:
            graph = index.kneighbors()[queries]
        else:
            index.n_neighbors = K + 1
            index.kneighbors(X[timed])
            graph = _without_self(index.kneighbors(X[queries]), queries)
            index.n_neighbors = K
        graph_s = (time.perf_counter() - start) * (1 if timed is None else n / (len(timed) + len(queries)))
        small = NeighbourIndex(K, algorithm="approximate", n_probe=probe).fit(assign)
        start = time.perf_counter()
        small.kneighbors(X[queries])
        assign_ms = (time.perf_counter() - start) / len(queries) * 1000
        out["runs"].append({"algorithm": f"approximate, n_probe={probe}", "build_s": build_s, "graph_s": graph_s,
                            "estimated": timed is not None, "assign_ms": assign_ms,
                            "recall": recall_at_k(X, graph, queries=queries)})
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def markdown(result: dict) -> str:
    table = []
    for size in result["sizes"]:
        for run in size["runs"]:
            graph = common.seconds(run["graph_s"]) + (" (est.)" if run["estimated"] else "")
            copies = size["n_rows"] > K * size["distinct_rows"]  # every row's 10 nearest are its own copies
            table.append({"rows": f"{size['n_rows']:,}", "search": run["algorithm"],
                          "build": common.seconds(run["build_s"]) if run["build_s"] else "-",
                          "10 nearest of every row": graph,
                          "recall@10": "(copies)" if copies else f"{run['recall']:.3f}",
                          "a new row against the fitted sample": f"{run['assign_ms']:.2f} ms ({size['fitted']:,})",
                          "peak RSS": f"{size['peak_rss_mib']:,.0f} MiB"})
    return "\n\n".join([
        common.machine_line(result.get("machine")),
        "`clustering.neighbours.NeighbourIndex`: exact (scikit-learn brute force, chunked) against the faiss "
        "inverted-file index `algorithm=\"auto\"` switches to past 20,000 fitted rows; MiniLM rows of the shared "
        "corpora, repeated to each size (recall counts an equally close copy as found; where every row has more "
        "than 10 copies its 10 nearest are copies, so recall says nothing there: \"(copies)\"). \"A new row\": "
        "one query against a fitted sample of that many rows, what assigning a corpus past `fit_sample` costs "
        "per text.",
        common.markdown_table(table)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.neighbours", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="47600,120000,1000000")
    parser.add_argument("--probes", default="16,32")
    parser.add_argument("--fitted", type=int, default=50_000)
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    probes = [int(p) for p in args.probes.split(",")]
    if args.child:
        print(json.dumps(child(args.child, probes, args.fitted)))
        return 0
    sizes = []
    for n in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run([sys.executable, "-m", "benchmarks.neighbours", "--child", str(n), "--probes", args.probes,
                              "--fitted", str(args.fitted)], capture_output=True, text=True, check=True)
        sizes.append(json.loads(out.stdout.strip().splitlines()[-1]))
        for run in sizes[-1]["runs"]:
            print(f"{n:,} rows, {run['algorithm']}: graph {run['graph_s']:.0f} s, recall {run['recall']:.3f}", flush=True)
    common.save_result(OUT, {"sizes": sizes, "machine": common.machine_info(
        "python -m benchmarks.neighbours " + " ".join(sys.argv[1:]))})
    return 0


if __name__ == "__main__":
    sys.exit(main())
