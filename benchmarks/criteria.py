"""Which label-free score can choose among partitions made in different spaces?

Each case is a labelled set drawn from the shared corpora (full, 1,000-text subsets, long
tails, many-topic Zipf and tiny sets, a many-cluster mix). On each, every candidate of the
suite (MiniLM + KMeans, TF-IDF + KMeans, DEC and IDEC, pseudo-labelling and variants of it)
is fitted once, and every partition, the true labelling too (the *gold probe*), is scored by
each label-free measure in each fixed view (MiniLM, tf-idf LSA, their join). Results go to
``benchmarks/results/criteria/<case>.json``; labels only score here.

    python -m benchmarks.criteria                       # every case
    python -m benchmarks.criteria --cases ag_news:1000,zipf0
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from benchmarks import common

OUT_DIR = common.RESULTS_DIR / "criteria"
CASES = ("ag_news:full", "stackoverflow:full", "biomedical:full", "ag_news:1000", "stackoverflow:1000",
         "biomedical:1000", "ag_news:10", "ag_news:100", "stackoverflow:100", "biomedical:100", "zipf0", "zipf1",
         "tiny0", "mix44")
VIEWS = ("sbert", "lexical", "joint")


def candidates() -> dict[str, dict]:
    """The partitions compared: the suite's methods at their reference settings, and variants."""
    from experiments.methods import ROBUST
    from experiments.search_space import default_params

    pl = default_params("pseudolabel")
    return {
        "kmeans": default_params("kmeans"),
        "tfidf": {"method": "tfidf"},
        "dec (seed report)": default_params("dec"),
        "dec (study)": {**default_params("dec"), **ROBUST},
        "idec (study)": {**default_params("idec"), **ROBUST},
        "pseudolabel": pl,
        "pseudolabel balance=1": {**pl, "balance": 1.0, "select": None},
        "pseudolabel balance=0.25": {**pl, "balance": 0.25, "select": None},
        "pseudolabel rounds=0": {**pl, "rounds": 0},
        "pseudolabel lexical=0": {**pl, "lexical_weight": 0.0},
        "pseudolabel lexical=1.5": {**pl, "lexical_weight": 1.5},
        "pseudolabel no smoothing": {**pl, "neighbors": 0},
    }


def load_case(case: str) -> common.LabelledData:
    """Texts, labels and MiniLM rows of one case."""
    from benchmarks import imbalance_probe, selection

    if case.endswith((":full", ":1000")):
        return selection.load_case(case)
    if case.startswith("mix"):  # every class of the three corpora, the same number of texts each
        from benchmarks.sota import load

        per_class, texts, labels, rows = 50, [], [], []
        rng = np.random.default_rng(0)
        for corpus in common.CORPORA:
            t, y, X = load(corpus, False)
            for c in np.unique(y):
                pick = rng.choice(np.flatnonzero(y == c), per_class, replace=False)
                texts += [t[i] for i in pick]
                labels += [len(rows)] * per_class
                rows.append(X[pick])
        return common.LabelledData(case, texts, np.asarray(labels), np.vstack(rows))
    texts, labels, X = imbalance_probe.load_case(case)
    return common.LabelledData(case, texts, np.asarray(labels), X)


def views(data: common.LabelledData, seed: int = 0) -> dict[str, np.ndarray]:
    from sklearn.preprocessing import normalize

    from clustering.selection import lexical_view

    from experiments.methods import PSEUDOLABEL_REFERENCE

    lexical = lexical_view(data.texts, random_state=seed)
    weight = PSEUDOLABEL_REFERENCE["lexical_weight"]  # the join as the pseudo-labeller weighs it
    return {"sbert": data.X, "lexical": lexical,
            "joint": normalize(np.hstack([data.X, weight * lexical])).astype(np.float32)}


def run_case(case: str, seed: int = 0, echo=print) -> dict:
    from clustering.selection import MEASURES
    from experiments import evaluation
    from experiments.search_space import make_estimator

    data = load_case(case)
    k = len(np.unique(data.labels))
    echo(f"{case}: {len(data.labels):,} texts, k={k}")
    start = time.perf_counter()
    spaces = views(data, seed)
    partitions, seconds = {}, {}
    for name, params in candidates().items():
        t0 = time.perf_counter()
        model = make_estimator(params, n_clusters=k, random_state=seed)
        evaluation.fit(model, data.X, data.texts)
        partitions[name], seconds[name] = np.asarray(model.labels_), time.perf_counter() - t0
    rows = score_partitions(partitions, spaces, data.labels, k, seed, seconds, texts=data.texts)
    for name, row in rows.items():
        echo(f"  {case} {name:26s} acc {row['acc']:.3f} nmi {row['nmi']:.3f} "
             + " ".join(f"{m[:4]}:{'/'.join(f'{s:.3f}' for s in row['scores'][m].values())}" for m in MEASURES))
    return {"case": case, "n_texts": len(data.labels), "k": k, "seed": seed, "rows": rows,
            "seconds": time.perf_counter() - start,
            "machine": common.machine_info("python -m benchmarks.criteria " + " ".join(sys.argv[1:]))}


# -- the analysis: criteria built from the per-view measures, and how each ranks the candidates ----------
POOLED = ("sbert", "lexical")  # the two views a pooled criterion averages
# The study's objective, `cross_view`: clustering.selection.CrossViewScore's own value. It is the
# next criterion with the reference of each partition's own number of clusters, times coverage.
STUDY_OBJECTIVE = "cross_view (the study's objective)"
FIXED_K = "silhouette+neighbours+predictability, ratio-pooled"  # the same with k-means at k as the reference


def corpus_of(case: str) -> str:
    """The shared corpus a case is drawn from, or "mixed" for the sets drawn from all three."""
    name = case.split(":")[0]
    return name if name in common.CORPORA else "mixed"


def criterion_values(result: dict) -> dict[str, dict[str, float]]:
    """criterion -> {partition: value} for every partition of a case, higher is better.

    For each measure: its value in each view, and two poolings over ``POOLED``: ``ratio``, the
    mean over the views of the value relative to k-means in that view (a scale every view
    shares, and none of them favoured), and ``min-ratio``, the smaller of those ratios.
    """
    from clustering.selection import MEASURES

    rows = result["rows"]
    out: dict[str, dict[str, float]] = {}
    for m in MEASURES:
        for v in VIEWS:
            out[f"{m} in {v}"] = {name: row["scores"][m][v] for name, row in rows.items()}
        refs = {v: rows[f"kmeans in {v}"]["scores"][m][v] for v in POOLED}
        ratios = {name: [row["scores"][m][v] / refs[v] for v in POOLED] for name, row in rows.items()}
        out[f"{m}, ratio-pooled"] = {name: float(np.mean(r)) for name, r in ratios.items()}
        out[f"{m}, min-ratio"] = {name: float(np.min(r)) for name, r in ratios.items()}
    for combo in (("silhouette", "neighbours"), MEASURES):  # pooled over measures too: every ratio averaged
        label = "+".join(combo) + ", ratio-pooled"
        out[label] = {name: float(np.mean([out[f"{m}, ratio-pooled"][name] for m in combo])) for name in rows}
        # Borda: the mean rank (among all partitions, the gold probe too) under each measure's ratio-pooling
        ranks = [_ranks(out[f"{m}, ratio-pooled"]) for m in combo]
        out["+".join(combo) + ", Borda"] = {name: float(np.mean([r[name] for r in ranks])) for name in rows}
    if all("cross_view" in row for row in rows.values()):  # results saved before it was recorded have none
        out[STUDY_OBJECTIVE] = {name: row["cross_view"] for name, row in rows.items()}
    return out


def _ranks(values: dict[str, float]) -> dict[str, float]:
    """Each key's rank by value, 0 for the lowest (ties share the mean rank; NaN ranks lowest)."""
    from scipy.stats import rankdata

    names = list(values)
    filled = [values[n] if np.isfinite(values[n]) else -np.inf for n in names]
    return dict(zip(names, (rankdata(filled) - 1).tolist()))


def case_stats(result: dict) -> dict[str, dict]:
    """Per criterion: Spearman rho with ACC and NMI over the candidates, the pick, its regret
    (best candidate's ACC minus the pick's), its ACC against MiniLM + KMeans, and the gold rank
    (1 = the true labelling scores above every candidate)."""
    rows = result["rows"]
    names = [n for n in rows if n != "gold" and not n.startswith("kmeans in ")]
    best_acc = max(rows[n]["acc"] for n in names)
    out = {}
    for criterion, values in criterion_values(result).items():
        finite = [n for n in names if np.isfinite(values[n])]
        pick = max(finite, key=lambda n: values[n])
        gold = values["gold"]
        out[criterion] = {
            "rho_acc": common.spearman([values[n] for n in names], [rows[n]["acc"] for n in names]),
            "rho_nmi": common.spearman([values[n] for n in names], [rows[n]["nmi"] for n in names]),
            "pick": pick, "regret": best_acc - rows[pick]["acc"],
            "vs_kmeans": rows[pick]["acc"] - rows["kmeans"]["acc"],
            "vs_kmeans_nmi": rows[pick]["nmi"] - rows["kmeans"]["nmi"],
            "gold_rank": 1 + sum(values[n] > gold for n in finite) if np.isfinite(gold) else float("nan"),
        }
    return out


def scalar(criterion: str) -> bool:
    """Whether a criterion scores one partition alone (a study's objective can be); Borda ranks a set."""
    return not criterion.endswith("Borda")


def leave_one_corpus_out(results: list[dict]) -> dict[str, dict]:
    """For each corpus (and the mixed sets): the scalar criterion with the highest mean rho with ACC
    (ties: the lower mean regret) on the cases of the *other* corpora, and how it does on the held-out
    ones. Rho is over every candidate, so it is steadier than the regret of one pick per case. The
    mixed sets hold texts of every corpus, so they never train a fold."""
    stats = {r["case"]: case_stats(r) for r in results}
    out = {}
    for fold in sorted({corpus_of(c) for c in stats}):
        train = [c for c in stats if corpus_of(c) not in (fold, "mixed")]
        test = [c for c in stats if corpus_of(c) == fold]
        if not train or not test:
            continue
        eligible = [cr for cr in stats[train[0]] if scalar(cr)]
        chosen = max(eligible, key=lambda cr: (_nanmean([stats[c][cr]["rho_acc"] for c in train]),
                                               -np.mean([stats[c][cr]["regret"] for c in train])))
        out[fold] = {"chosen": chosen, "train": train, "test": {c: stats[c][chosen] for c in test}}
    return out


def _nanmean(values) -> float:
    """The mean of the finite values; NaN, without a warning, when there are none."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def summary(results: list[dict]) -> list[dict]:
    """One row per criterion over every case: mean rho, mean regret, mean gold rank, worst ACC/NMI against KMeans."""
    stats = [case_stats(r) for r in results]
    rows = []
    for cr in stats[0]:
        s = [st[cr] for st in stats]
        rows.append({"criterion": cr, "rho ACC": _nanmean([x["rho_acc"] for x in s]),
                     "rho NMI": _nanmean([x["rho_nmi"] for x in s]),
                     "regret": float(np.mean([x["regret"] for x in s])),
                     "gold rank": float(np.mean([x["gold_rank"] for x in s])),
                     "pick - KMeans ACC, mean": float(np.mean([x["vs_kmeans"] for x in s])),
                     "worst ACC": float(min(x["vs_kmeans"] for x in s)),
                     "worst NMI": float(min(x["vs_kmeans_nmi"] for x in s))})
    return sorted(rows, key=lambda r: r["regret"])


def markdown(results: list[dict], default: str | None = None) -> str:
    """The case list, the criterion summary, the criterion x case table and the leave-one-corpus-out choice.

    Cases saved before each partition's ``cross_view`` was recorded are left out of the tables
    (they have no value of the study's objective) and named at the end.
    """
    stale = sorted(r["case"] for r in results if not all("cross_view" in row for row in r["rows"].values()))
    results = [r for r in results if r["case"] not in stale] or results
    if len(results) == len(stale):
        stale = []
    results = sorted(results, key=lambda r: CASES.index(r["case"]) if r["case"] in CASES else len(CASES))
    n_candidates = len([n for n in results[0]["rows"] if n != "gold" and not n.startswith("kmeans in ")])
    cases = [{"case": r["case"], "texts": f"{r['n_texts']:,}", "k": r["k"],
              "MiniLM + KMeans ACC / NMI": f"{r['rows']['kmeans']['acc']:.3f} / {r['rows']['kmeans']['nmi']:.3f}",
              "best candidate ACC": f"{max(v['acc'] for n, v in r['rows'].items() if n != 'gold'):.3f}",
              "seconds": f"{r['seconds']:.0f}"} for r in results]
    fmt = {"rho ACC": "{:+.2f}", "rho NMI": "{:+.2f}", "regret": "{:.3f}", "gold rank": "{:.1f}",
           "pick - KMeans ACC, mean": "{:+.3f}", "worst ACC": "{:+.3f}", "worst NMI": "{:+.3f}"}
    summary_rows = [{k: (fmt[k].format(v) if k in fmt else (f"**{v}**" if v == default else v)) for k, v in row.items()}
                    for row in summary(results)]
    stats = {r["case"]: case_stats(r) for r in results}
    detail = []
    for row in summary(results):
        cr = row["criterion"]
        detail.append({"criterion": cr, **{c: f"{s[cr]['rho_acc']:+.2f} / {s[cr]['regret']:.3f} / {s[cr]['gold_rank']}"
                                           for c, s in stats.items()}})
    loco = [{"held out": fold, "chosen on the others": v["chosen"],
             **{"held-out case": ", ".join(f"{c}: {s['vs_kmeans']:+.3f} ACC / {s['vs_kmeans_nmi']:+.3f} NMI, regret "
                                           f"{s['regret']:.3f}" for c, s in v["test"].items())}}
            for fold, v in leave_one_corpus_out(results).items()]
    return "\n\n".join([
        f"{len(results)} cases from the three shared corpora, {n_candidates} candidate partitions each (the suite's "
        "methods at their reference settings and variants of pseudo-labelling), seed 0; every partition and the true "
        "labelling are scored by each measure in each view. `regret` is the best candidate's ACC minus that of the "
        "candidate the criterion picks; `gold rank` is where the true labelling would rank among the candidates "
        "(1 = above all); `worst ACC`/`NMI` is the pick's lowest difference to MiniLM + KMeans over the cases."
        + (f" In bold: the study's objective (`{default}`)." if default else ""),
        common.markdown_table(cases), common.markdown_table(summary_rows),
        "Per case: rho with ACC / regret / gold rank.", common.markdown_table(detail),
        "Leave one corpus out: the scalar criterion (one a study can use as its objective) with the highest mean "
        "rho with ACC on the other corpora's cases, scored on the held-out ones (the mixed sets hold every "
        "corpus's texts and never train a fold).",
        common.markdown_table(loco)]
        + ([f"Not in these tables: {', '.join(stale)}, saved by an earlier version of the benchmark (before the "
            "study's objective itself was recorded); `python -m benchmarks.criteria --cases "
            f"{','.join(stale)}` reruns them."] if stale else [])
        + [_machine(results)])


def _machine(results: list[dict]) -> str:
    return common.machine_line(results[-1].get("machine"))




def score_partitions(partitions: dict, spaces: dict, labels_true, k: int, seed: int, seconds=None,
                     texts=None) -> dict:
    """Each partition (and k-means in each view, and the true labelling) with its ACC, NMI and every measure
    in every view; k-means in each view is the reference ``CrossViewScore`` divides by for a partition
    of k clusters. Given the ``texts``, also ``cross_view``: the study's objective itself
    (``CrossViewScore``, whose reference follows the clusters a partition uses, times ``coverage``)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    from clustering.metrics import cluster_accuracy
    from clustering.selection import MEASURES, view_score

    partitions, seconds = dict(partitions), dict(seconds or {})
    for view, Z in spaces.items():  # the references: k-means in each view, as CrossViewScore fits them
        t0 = time.perf_counter()
        partitions[f"kmeans in {view}"] = KMeans(k, n_init=10, random_state=seed).fit_predict(Z)
        seconds[f"kmeans in {view}"] = time.perf_counter() - t0
    partitions["gold"] = labels_true
    scorer = None
    if texts is not None:
        from clustering.selection import CrossViewScore

        scorer = CrossViewScore(k, random_state=seed).fit(spaces["sbert"], texts)
    rows = {}
    for name, labels in partitions.items():
        rows[name] = {"acc": cluster_accuracy(labels_true, labels),
                      "nmi": float(normalized_mutual_info_score(labels_true, labels)),
                      "clusters": int(len(np.unique(labels))), "fit_s": seconds.get(name, 0.0),
                      "scores": {m: {v: view_score(m, Z, labels, random_state=seed) for v, Z in spaces.items()}
                                 for m in MEASURES}}
        if scorer is not None:
            rows[name]["cross_view"] = scorer.score(labels)
    return rows


def case_file(case: str):
    return OUT_DIR / f"{case.replace(':', '_')}.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.criteria", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    common.limit_threads()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for case in [c.strip() for c in args.cases.split(",") if c.strip()]:
        if case not in CASES:
            raise SystemExit(f"unknown case {case!r}; choose from {', '.join(CASES)}")
        case_file(case).write_text(json.dumps(run_case(case, args.seed), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
