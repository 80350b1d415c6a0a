"""Corpora past ``fit_sample``: pseudo-labelling fitted on a 50,000-text sample, every text assigned.

The texts are the shared corpora's (AG News test, StackOverflow, Biomedical; the bundled split
alone without them) with their cached MiniLM rows (in the run's precision), repeated to ``--sizes`` texts: what grows is
the number of texts to assign and score, as in a run on a large corpus. Each size runs in its
own process: ``experiments.evaluation.fit_and_score`` of ``PseudoLabelClusterer`` defaults with
``fit_sample`` (the run's default), timing the fit and the whole call (fit, assignment of every
text, the run's metrics) and the peak RSS. Results: ``benchmarks/results/fit_sample.json``.

    python -m benchmarks.fit_sample                      # 120,000 and 1,000,000 texts
    python -m benchmarks.fit_sample --sizes 120000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from benchmarks import common

OUT = common.RESULTS_DIR / "fit_sample.json"


def corpus(n: int, *, distinct: bool = False):
    """``n`` texts and their MiniLM rows (a run's precision), the shared corpora repeated in turn
    (and, with ``distinct``, how many of the rows are not repeats)."""
    import numpy as np

    from clustering.data import load_corpus
    from clustering.embed import embed_texts, resolve_precision

    precision = resolve_precision("auto")  # a run's: its later embed_texts calls hit the same cache
    texts, rows = [], []
    for source in common.corpus_sources():
        data = load_corpus(source)
        texts += data.texts
        rows.append(embed_texts(data.texts, show_progress=False, precision=precision))
    X = np.vstack(rows)
    index = np.arange(n) % len(texts)
    out = [texts[i] for i in index], X[index]
    return (*out, min(n, len(texts))) if distinct else out


def child(n: int, fit_sample: int) -> dict:
    from clustering.pseudolabel import PseudoLabelClusterer
    from experiments import evaluation

    texts, X = corpus(n)
    loaded_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    out = evaluation.fit_and_score(PseudoLabelClusterer(20, random_state=0), X, None, texts, seed=0,
                                   fit_sample=fit_sample)
    return {"n_texts": n, "fit_sample": fit_sample, "fit_s": out["fit_seconds"], "total_s": time.perf_counter() - start,
            "data_rss_mib": loaded_mib, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "fit_texts": out["fit_texts"], "clusters": out["n_clusters"]}


def markdown(result: dict) -> str:
    rows = [{"texts": f"{r['n_texts']:,}", "fitted on": f"{r['fit_texts']:,.0f}", "fit": common.seconds(r["fit_s"]),
             "fit + assign every text + metrics": common.seconds(r["total_s"]),
             "peak RSS (data loaded)": f"{r['peak_rss_mib']:,.0f} MiB ({r['data_rss_mib']:,.0f} MiB)"}
            for r in result["runs"]]
    return "\n\n".join([
        common.machine_line(result.get("machine")),
        "`PseudoLabelClusterer` defaults, k = 20, through `experiments.evaluation.fit_and_score` with the run's "
        "`fit_sample`: the shared corpora's texts and cached MiniLM rows repeated to each size, one process per size.",
        common.markdown_table(rows)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fit_sample", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="120000,1000000")
    parser.add_argument("--fit_sample", type=int, default=50_000)
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.fit_sample)))
        return 0
    runs = []
    for n in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run([sys.executable, "-m", "benchmarks.fit_sample", "--child", str(n),
                              "--fit_sample", str(args.fit_sample)], capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"{n:,} texts: fit {runs[-1]['fit_s']:.0f} s, all {runs[-1]['total_s']:.0f} s, "
              f"peak {runs[-1]['peak_rss_mib']:,.0f} MiB", flush=True)
    common.save_result(OUT, {"runs": runs, "machine": common.machine_info(
        "python -m benchmarks.fit_sample " + " ".join(sys.argv[1:]))})
    return 0


if __name__ == "__main__":
    sys.exit(main())
