"""PseudoLabelClusterer fit time and peak memory: today's code against the one at ``BASELINE``.

"Before" is ``clustering/pseudolabel.py`` at commit ``BASELINE``, read with ``git show`` and
imported as a module of its own (the helpers it imports are today's). Between the two: the
k-means posterior as one matrix product instead of an (n, k, d) array, the k-means++ restarts
on float64 rows (scikit-learn upcasts float32 ones chunk by chunk while seeding), and each
round's logistic regression started from the previous round's weights.

Cases: the three shared corpora at their own k, and two with many clusters, where the old
code spent its time: ``many89`` (2,472 StackOverflow texts, k=89: Tweet's size) and
``many152`` (11,109 texts, k=152: GoogleNews'). StackOverflow has 20 topics, so ACC and NMI
mean nothing there; every case reports the ARI between the two versions' partitions of the
same seed instead.

Every fit runs in a fresh process, so ``ru_maxrss`` is its own; before/after alternate which
goes first from seed to seed, and each pair's time ratio is reported with its median.

    python -m benchmarks.pseudolabel_speed                 # seeds 0,1, every case
    python -m benchmarks.pseudolabel_speed --cases many152 --seeds 0

Results: ``benchmarks/results/pseudolabel_speed.json``; ``RESULTS.md`` is regenerated.
"""

from __future__ import annotations

import argparse
import json
import sys
import types

import numpy as np

from benchmarks import common

BASELINE = "dd9dcab7d4afd89679b935a03c273baeb10ad8e6"
OUT = common.RESULTS_DIR / "pseudolabel_speed.json"
# case -> (corpus, texts drawn, k); None keeps the corpus whole at its own k
CASES = {"ag_news": ("ag_news", None, None), "stackoverflow": ("stackoverflow", None, None),
         "biomedical": ("biomedical", None, None), "many89": ("stackoverflow", 2472, 89),
         "many152": ("stackoverflow", 11109, 152)}


def baseline_module(commit: str = BASELINE) -> types.ModuleType:
    """``clustering/pseudolabel.py`` as it was at ``commit``, imported as ``_baseline_pseudolabel``."""
    return common.module_at(commit, "clustering/pseudolabel.py", "_baseline_pseudolabel")


def load_case(case: str):
    """Texts, labels, MiniLM rows and k of one case (a seeded draw for the ``many*`` ones)."""
    from benchmarks.sota import load

    corpus, n, k = CASES[case]
    texts, y, X = load(corpus, False)
    if n is not None:
        keep = np.sort(np.random.default_rng(0).choice(len(texts), n, replace=False))
        texts, y, X = [texts[i] for i in keep], y[keep], X[keep]
    return texts, y, X, k or len(np.unique(y))


def run_one(version: str, case: str, seed: int) -> dict:
    """Fit once in this process and measure it (call in a fresh process: RSS is process-wide)."""
    common.limit_threads()
    from sklearn.metrics import normalized_mutual_info_score

    from clustering.metrics import cluster_accuracy

    module = baseline_module() if version == "before" else __import__("clustering.pseudolabel", fromlist=["_"])
    texts, y, X, k = load_case(case)
    est = module.PseudoLabelClusterer(k, random_state=seed)
    measures = common.measured(lambda: est.fit(texts, embeddings=X))
    return {"version": version, "case": case, "seed": seed, "n_texts": len(texts), "k": k, **measures,
            "acc": cluster_accuracy(y, est.labels_), "nmi": float(normalized_mutual_info_score(y, est.labels_)),
            "clusters": int(len(np.unique(est.labels_))), "rounds": int(est.n_iter_), "balance": est.balance_,
            "labels": np.asarray(est.labels_).tolist()}


def summarise(runs: list[dict]) -> dict:
    """Per case: each version's mean time, peak RSS, ACC, NMI and clusters used; the median
    before/after time ratio of the seed pairs and the mean ARI between their partitions."""
    from sklearn.metrics import adjusted_rand_score

    out = {}
    for case in dict.fromkeys(r["case"] for r in runs):
        by, seeds = common.paired(runs, "case", case)
        if not seeds:
            continue
        ratios = [by["before"][s]["fit_s"] / by["after"][s]["fit_s"] for s in seeds]
        row = {"seeds": seeds, "n_texts": by["after"][seeds[0]]["n_texts"], "k": by["after"][seeds[0]]["k"],
               "ratios": ratios, "median_ratio": float(np.median(ratios)),
               "ari_before_after": float(np.mean([adjusted_rand_score(by["before"][s]["labels"], by["after"][s]["labels"])
                                                  for s in seeds]))}
        for v in ("before", "after"):
            for key in ("fit_s", "cpu_s", "acc", "nmi", "clusters", "peak_rss_mib", "fit_rss_rise_mib"):
                row[f"{key}_{v}"] = float(np.mean([by[v][s][key] for s in seeds]))
        out[case] = row
    return out


def markdown(result: dict) -> str:
    """The RESULTS.md section for ``pseudolabel_speed.json``."""

    rows = []
    for case, s in result["summary"].items():
        for v in ("before", "after"):
            rows.append({"case": case if v == "before" else "", "texts": f"{s['n_texts']:,}" if v == "before" else "",
                         "k": str(s["k"]) if v == "before" else "",
                         "code": f"before ({result['baseline'][:7]})" if v == "before" else "after",
                         "fit time (mean)": f"{s[f'fit_s_{v}']:.2f} s", "CPU time (mean)": f"{s[f'cpu_s_{v}']:.2f} s",
                         "peak RSS (mean)": f"{s[f'peak_rss_mib_{v}']:.0f} MiB",
                         "RSS rise in fit": f"{s[f'fit_rss_rise_mib_{v}']:.0f} MiB",
                         "ACC / NMI (mean)": "-" if case.startswith("many") else f"{s[f'acc_{v}']:.4f} / {s[f'nmi_{v}']:.4f}",
                         "clusters used": f"{s[f'clusters_{v}']:g} of {s['k']}",
                         "speed-up (median of pairs)": f"**{s['median_ratio']:.2f}x**" if v == "after" else "",
                         "ARI before/after": f"{s['ari_before_after']:.3f}" if v == "after" else ""})
    return "\n\n".join([
        common.machine_line(result["machine"]),
        f"`PseudoLabelClusterer` defaults, each fit in its own process, before/after interleaved; before = "
        f"`clustering/pseudolabel.py` at `{result['baseline'][:7]}` (read with `git show`). Seeds: "
        f"{', '.join(map(str, result['seeds']))}. `many89` and `many152` are seeded draws of StackOverflow (20 topics) "
        "clustered into Tweet's and GoogleNews' numbers of clusters, for time only: their ACC/NMI mean nothing. "
        "ARI before/after compares the two versions' partitions of the same seed.",
        common.markdown_table(rows)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pseudolabel_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # version,case,seed: one fit, JSON on stdout
    args = parser.parse_args(argv)
    if args.child:
        version, case, seed = args.child.split(",")
        print(json.dumps(run_one(version, case, int(seed))))
        return 0

    seeds = [int(s) for s in args.seeds.split(",")]
    cases = [c.strip() for c in args.cases.split(",")]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case {unknown[0]!r}; choose from {', '.join(CASES)}")
    common.limit_threads()  # only so machine_info reports the children's threads
    baseline_module()  # fail here, not in a child, when the old code cannot be read
    runs = []
    for seed, case, version in common.interleaved(seeds, cases):
        runs.append(r := common.child_json("benchmarks.pseudolabel_speed", f"{version},{case},{seed}"))
        print(f"{case:13s} seed {seed} {version:6s} {r['fit_s']:7.2f} s  ACC {r['acc']:.4f}  NMI {r['nmi']:.4f}  "
              f"{r['clusters']}/{r['k']} clusters  peak RSS {r['peak_rss_mib']:.0f} MiB", flush=True)
    command = "python -m benchmarks.pseudolabel_speed" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    summary = summarise(runs)
    for run in runs:  # the partitions served the ARI; the file keeps the measurements
        del run["labels"]
    result = {"machine": common.machine_info(command), "baseline": BASELINE, "seeds": seeds, "runs": runs,
              "summary": summary}
    for case, s in summary.items():
        print(f"{case}: {s['fit_s_before']:.2f} s -> {s['fit_s_after']:.2f} s ({s['median_ratio']:.2f}x, median of pairs), "
              f"peak RSS {s['peak_rss_mib_before']:.0f} -> {s['peak_rss_mib_after']:.0f} MiB, "
              f"ACC {s['acc_before']:.4f} -> {s['acc_after']:.4f}, ARI between them {s['ari_before_after']:.3f}")
    common.save_result(OUT, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
