"""Towards published short-text clustering numbers: MiniLM + KMeans, DEC and the pseudo-labelling
clusterer on AG News test, StackOverflow and Biomedical, same defaults everywhere, only k given.

For each corpus and method, ``n_seeds`` seeds in one child process (so its peak RSS is the
method's own, an upper bound for one seed: data, embeddings and every seed's fit). Methods:

- ``kmeans``: ``EmbeddingKMeans`` on the cached MiniLM embeddings (``n_init=10``);
- ``dec``: ``clustering.dec.DEC()`` defaults (the seed report's settings);
- ``pseudolabel``: ``clustering.pseudolabel.PseudoLabelClusterer()`` defaults, texts +
  cached embeddings; the row ``two views + k-means`` is its first stage (``kmeans_``),
  and the row ``rounds always kept`` (``rounds_labels_``, what ``select=None`` returns) are
  read from the same fits.

``--imbalanced 1`` also runs kmeans and pseudolabel on a long-tailed subset of each corpus
(class c keeps ``0.1 ** (c / (k - 1))`` of its texts, seeded): the balance prior's price.
Labels only score. Writes ``benchmarks/results/sota.json`` and regenerates ``RESULTS.md``.

    python -m benchmarks.sota                       # everything, 5 seeds (~20 min on 1 thread)
    python -m benchmarks.sota --corpora ag_news --n_seeds 2
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

from benchmarks import common
from experiments import methods


# the methods this benchmark fits, by their registry names, each as tables name it at its reference
METHODS = {name: methods.get(name).reference_row for name in ("kmeans", "dec", "pseudolabel")}
STAGE = "two views + k-means (pseudo-labelling's first stage)"
UNGUARDED = "pseudo-labelling, rounds always kept (select=None)"
GOALS = {"ag_news": {"acc": 0.89, "nmi": 0.70}, "stackoverflow": {"acc": 0.84}, "biomedical": {"acc": 0.55}}  # issue 14


# -- its section of RESULTS.md ------------------------------------------------------------
def markdown(result: dict) -> str:
    """Per corpus: ACC / NMI mean ± std over seeds, time per seed and peak RSS per method."""
    from experiments.report import PUBLISHED

    published = {}
    for pub in PUBLISHED:
        if pub["source"] != "seed report":
            figures = " / ".join(pub[m] for m in ("acc", "nmi") if m in pub)
            published.setdefault(pub["corpus"], []).append(f"{pub['source'].split(' (')[0]} {figures}")

    rows, goals, deltas = [], [], []
    for key, case in result["cases"].items():
        order = [METHODS["kmeans"], METHODS["dec"], STAGE, UNGUARDED, METHODS["pseudolabel"]]
        for name, row in sorted(case["rows"].items(), key=lambda item: order.index(item[0]) if item[0] in order else 99):
            runs = row["runs"]
            secs = [r["seconds"] for r in runs if "seconds" in r]
            rows.append({"corpus": key, "texts": f"{case['n_texts']:,}", "k": case["k"], "method": name,
                         "seeds": len(runs), "ACC": common.mean_std(runs, "acc"), "NMI": common.mean_std(runs, "nmi"),
                         "s / seed": f"{np.mean(secs):.1f} ± {np.std(secs):.1f}" if secs else "(same fits)",
                         "s / 10k texts": f"{np.mean(secs) * 1e4 / case['n_texts']:.1f}" if secs else "",
                         "peak RSS MiB": f"{row['peak_rss_mib']:.0f}" if secs else ""})
        ours = case["rows"].get(METHODS["pseudolabel"])
        if ours and not case.get("imbalanced") and case["corpus"] in GOALS:
            got = {m: float(np.mean([r[m] for r in ours["runs"]])) for m in ("acc", "nmi")}
            gaps = ", ".join(f"{m.upper()} {got[m]:.3f} vs {g} ({got[m] - g:+.3f})" for m, g in GOALS[case["corpus"]].items())
            goals.append(f"- {key}: {gaps}; published (ACC / NMI): {'; '.join(published.get(case['corpus'], []))}")
        base = case["rows"].get(METHODS["kmeans"])
        if ours and base:
            mean = lambda row, m: float(np.mean([r[m] for r in row["runs"]]))  # noqa: E731
            deltas.append(f"- {key}: ACC {mean(ours, 'acc') - mean(base, 'acc'):+.3f}, "
                          f"NMI {mean(ours, 'nmi') - mean(base, 'nmi'):+.3f}")
    runs = result.get("commands") or {"": result.get("machine", {})}
    commands = "; ".join(f"`{m.get('command', 'python -m benchmarks.sota')}` ({m.get('date', '?')}, "
                         f"{m.get('torch_threads', '?')} torch thread(s), load average "
                         f"{(m.get('load_average') or ['?'])[0]})" for m in runs.values())
    head = (f"{commands}. Each method's seeds run in one "
            "child process; its peak RSS covers data, embeddings and all its fits (an upper bound for one seed). "
            "Embeddings come from the on-disk cache and are not timed. Long-tailed rows: a seeded subset where "
            "class c keeps 0.1 ** (c / (k - 1)) of its texts.")
    parts = [head, common.markdown_table(rows), "Goals (mean of the seeds, pseudo-labelling defaults):\n" + "\n".join(goals)]
    if deltas:
        parts.append("Pseudo-labelling defaults against MiniLM + KMeans (means of the seeds):\n" + "\n".join(deltas))
    return "\n\n".join(parts)

OUT = common.RESULTS_DIR / "sota.json"


def load(corpus: str, imbalanced: bool):
    from clustering.data import load_corpus
    from clustering.embed import embed_texts

    data = load_corpus(common.SHARED_DATA / common.CORPORA[corpus])
    texts, labels = data.texts, np.asarray(data.labels)
    X = embed_texts(texts, show_progress=False, precision="float32")
    if imbalanced:
        rng, classes, keep = np.random.default_rng(0), np.unique(labels), []
        for i, c in enumerate(classes):
            members = np.flatnonzero(labels == c)
            n = max(20, int(0.1 ** (i / (len(classes) - 1)) * len(members)))
            keep += list(rng.choice(members, n, replace=False))
        keep = np.sort(keep)
        texts, labels, X = [texts[i] for i in keep], labels[keep], X[keep]
    return texts, labels, X


def child(corpus: str, method: str, n_seeds: int, imbalanced: bool) -> dict:
    """Fit ``method`` with seeds 0..n_seeds-1 in this process; per-seed scores and times."""
    from sklearn.metrics import normalized_mutual_info_score

    from clustering.metrics import cluster_accuracy
    from experiments import evaluation
    from experiments.search_space import default_params, make_estimator

    common.limit_threads()
    texts, labels, X = load(corpus, imbalanced)
    k = len(np.unique(labels))
    score = lambda pred: {"acc": cluster_accuracy(labels, pred), "nmi": normalized_mutual_info_score(labels, pred)}
    runs: dict[str, list] = {METHODS[method]: []} | ({UNGUARDED: [], STAGE: []} if method == "pseudolabel" else {})
    for seed in range(n_seeds):
        # the suite's records: each method at its reference settings, fitted on what it takes
        model = make_estimator(default_params(method), n_clusters=k, random_state=seed)
        start = time.perf_counter()
        evaluation.fit(model, X, texts)
        took = time.perf_counter() - start
        runs[METHODS[method]].append(score(model.labels_) | {"seconds": took, "seed": seed})
        if method == "pseudolabel":
            runs[METHODS[method]][-1].update(rounds=model.n_iter_, kept_rounds=bool(model.use_rounds_),
                                                   balance=model.balance_)
            runs[UNGUARDED].append(score(model.rounds_labels_) | {"seed": seed})
            runs[STAGE].append(score(model.kmeans_.labels_) | {"seed": seed})
    return {"n_texts": len(labels), "k": k, "runs": runs,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sota", description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default=",".join(common.CORPORA))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--n_seeds", type=int, default=5)
    parser.add_argument("--imbalanced", type=int, default=1, help="1: also the long-tailed subsets (kmeans, pseudolabel)")
    parser.add_argument("--child", nargs=3, metavar=("CORPUS", "METHOD", "IMBALANCED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        corpus, method, imb = args.child
        print(json.dumps(child(corpus, method, args.n_seeds, imb == "1"), default=float))
        return 0
    result = {"cases": {}}
    cases = [(c, m, False) for c in args.corpora.split(",") for m in args.methods.split(",")]
    if args.imbalanced:
        cases += [(c, m, True) for c in args.corpora.split(",") for m in args.methods.split(",") if m != "dec"]
    common.limit_threads()
    env = {**common.thread_env(common.bench_threads()), "HF_HUB_OFFLINE": "1"}
    import os
    for corpus, method, imb in cases:
        key = f"{corpus}{' (long-tailed)' if imb else ''}"
        out = subprocess.run([sys.executable, "-m", "benchmarks.sota", "--n_seeds", str(args.n_seeds),
                              "--child", corpus, method, "1" if imb else "0"], cwd=common.ROOT,
                             env={**os.environ, **env}, capture_output=True, text=True, check=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        case = result["cases"].setdefault(key, {"corpus": corpus, "imbalanced": imb, "rows": {}})
        case.update(n_texts=res["n_texts"], k=res["k"])
        for name, runs in res["runs"].items():
            case["rows"][name] = {"runs": runs, "peak_rss_mib": res["peak_rss_mib"]}
            accs = [r["acc"] for r in runs]
            print(f"{key:28s} {name:52s} acc {np.mean(accs):.3f} ± {np.std(accs):.3f}  "
                  f"nmi {np.mean([r['nmi'] for r in runs]):.3f}", flush=True)
    # Reread before writing: another run (other methods) may have finished meanwhile.
    latest = json.loads(OUT.read_text()) if OUT.is_file() else {"cases": {}}
    for key, case in result["cases"].items():
        latest["cases"].setdefault(key, case)["rows"].update(case["rows"])
    latest.setdefault("commands", {})[",".join(args.methods.split(","))] = common.machine_info(
        "python -m benchmarks.sota " + " ".join(sys.argv[1:] if argv is None else argv))
    latest["machine"] = latest["commands"][",".join(args.methods.split(","))]
    OUT.write_text(json.dumps(latest, indent=1, default=float) + "\n")

    print(f"{common.relative(common.regenerate_results())} regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
