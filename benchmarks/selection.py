"""Label-free model selection on every shared corpus, as the study was before the cross-view
objective (MiniLM's silhouette over KMeans, DEC and IDEC): is the study's champion ever below the
MiniLM + KMeans it starts from, and which label-free score keeps tracking quality?
``benchmarks.criteria`` and ``benchmarks.default_run`` measure today's study.

Cases: AG News test, StackOverflow and Biomedical (``../shared/data/``), each at full size and
as a 1,000-text balanced subset, with ``n_clusters`` = the true k. For each case:

- **the default study**, exactly as ``mlflow run .`` runs it (the suite's search space,
  sampler, pruner, queued first trials and objective, through ``experiments.objective``) but
  without tracking, continued to ``n_trials`` completed trials for the correlation table;
- **the study's best trial**: the best by the objective among the first ``default_trials``
  completed ones (what the default study of 10 trials picks: same sampler seed, same
  sequence of trials), refitted with ``n_seeds`` seeds;
- **the champion**, chosen as ``mlflow run .`` chooses it (``entry_points._best_candidate``):
  the best mean objective over the seeds among MiniLM + KMeans, the study's best trial and
  DEC with the seed report's settings;
- **the oracle**: the trial with the best ACC (labels read here only), refitted likewise;
- MiniLM + KMeans, and DEC and IDEC with the seed report's settings, over the same seeds;
- for each label-free score, Spearman's rho with ACC and with NMI over all trials and over
  the best quarter (by ACC), and the ACC of the trial it would pick.

Labels only score; nothing here lets them steer a fit. Results go to
``benchmarks/results/selection/<case>.json``; ``RESULTS.md`` is regenerated from them.

    python -m benchmarks.selection                                    # all six cases
    python -m benchmarks.selection --cases biomedical:1000 --n_trials 30 --n_seeds 5
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import common
from experiments import methods


# -- its section of RESULTS.md ------------------------------------------------------------
# -- selection ----------------------------------------------------------------------------------
# the rows by the registry's names: "SBERT + KMeans", "DEC (seed report settings)", ...
KMEANS, DEC, IDEC = (methods.get(name).reference_row for name in (methods.STARTING_POINT, "dec", "idec"))
SELECTION_ROWS = (KMEANS, DEC, IDEC, "study's best trial", "oracle trial (labels)")
_OLD_NAMES = {"default champion": "study's best trial"}  # results written before the rename


def suite_champion(rows: dict) -> str:
    """The row ``mlflow run .`` registers among MiniLM + KMeans, the study's best trial and the
    seed report's DEC, by the suite's own rule (``entry_points._best_candidate``)."""
    from experiments.config import RunConfig
    from experiments.entry_points import _best_candidate

    candidates = {name: ([{"objective": r["objective"] if "objective" in r else r["silhouette"]} for r in rows[name]], [], "")
                  for name in (KMEANS, "study's best trial", DEC)}
    return _best_candidate(RunConfig(), candidates)


def markdown(cases: list[dict]) -> str:
    """The starting-point table, the score-correlation table and the verdicts, one row per case."""
    if not cases:
        return ""
    quality, rhos, deltas = [], [], []
    labels = {key: label for c in cases for key, label in c.get("score_labels", {}).items()}
    for c in cases:
        rows = {_OLD_NAMES.get(name, name): runs for name, runs in c["rows"].items()}
        row = {"case": c["case"], "texts": f"{c['n_texts']:,}", "k": c["k"], "trials": len(c.get("trials", []))}
        for name in SELECTION_ROWS:
            row[name] = f"{common.mean_std(rows[name], 'acc')} / {common.mean_std(rows[name], 'nmi')}"
        row["study's best trial"] += f" (#{c['champion']['number']} {c['champion']['params'].get('method')})"
        chosen = suite_champion(rows)
        km, ch = rows[KMEANS], rows[chosen]
        delta = {m: float(np.mean([r[m] for r in ch]) - np.mean([r[m] for r in km])) for m in ("acc", "nmi")}
        deltas.append((c["case"], delta))
        row["champion"] = chosen
        row["champion - KMeans (ACC / NMI)"] = f"{delta['acc']:+.3f} / {delta['nmi']:+.3f}"
        row["median trial ACC"] = f"{c['median_trial_acc']:.3f}"
        row["default study"] = common.seconds(c["default_study_s"])
        quality.append(row)
        for key, r in c["correlations"].items():
            rhos.append({"case": c["case"], "score": labels.get(key, key),
                         "rho ACC (all)": f"{r['rho_acc']:+.2f}", "rho NMI (all)": f"{r['rho_nmi']:+.2f}",
                         "rho ACC (best quarter)": f"{r['rho_acc_top']:+.2f}",
                         "rho NMI (best quarter)": f"{r['rho_nmi_top']:+.2f}",
                         "ACC of its pick": f"{r['picked_acc']:.3f}", "gap to best trial": f"{r['gap_acc']:.3f}"})
    below = [f"{case} ({d['acc']:+.3f} ACC, {d['nmi']:+.3f} NMI)" for case, d in deltas
             if d["acc"] < -0.005 or d["nmi"] < -0.005]
    mean_delta = {m: float(np.mean([d[m] for _, d in deltas])) for m in ("acc", "nmi")}
    worst = []
    for key in dict.fromkeys(k for c in cases for k in c["correlations"]):
        label = labels.get(key, key)
        values = [c["correlations"][key] for c in cases if key in c["correlations"]]
        if values:
            worst.append({"score": label, "cases": len(values),
                          "worst rho ACC (all)": f"{np.nanmin([v['rho_acc'] for v in values]):+.2f}",
                          "worst rho NMI (all)": f"{np.nanmin([v['rho_nmi'] for v in values]):+.2f}",
                          "mean gap of its pick to the best trial (ACC)":
                              f"{np.nanmean([v['gap_acc'] for v in values]):.3f}"})
    first = cases[0]
    loads = [c["machine"]["load_average"][0] for c in cases if (c.get("machine") or {}).get("load_average")]
    parts = [common.machine_line(first.get("machine"))
             + (f" The cases ran as parallel processes; load averages at their ends {min(loads):.1f}-{max(loads):.1f}, "
                "so times are those of a busy machine." if len(loads) > 1 else ""),
             f"Per case: the default study (search space, sampler, pruner, queued first trials and objective of "
             f"`mlflow run .`, untracked) run to the completed trials in column 'trials'; the **study's best "
             f"trial** is its best by the objective among the first {first['config']['default_trials']} (what the "
             f"default study picks), the **oracle** its best trial by ACC (labels read for this row only); each "
             f"refitted with {first['config']['n_seeds']} seeds (ACC / NMI, mean ± std). The **champion** is the row "
             f"`mlflow run . -P n_seeds={first['config']['n_seeds']}` registers: MiniLM + KMeans, unless the study's "
             f"best trial or the seed report's DEC has a better mean objective over the seeds by more than the "
             f"standard error of the difference. 'default study' is the "
             f"wall time of those first trials on this machine, pruned ones included.",
             common.markdown_table(quality),
             f"Champion below MiniLM + KMeans by more than 0.005 ACC or NMI: "
             f"{', '.join(below) if below else 'no case'}. Mean over the {len(deltas)} cases: "
             f"{mean_delta['acc']:+.3f} ACC, {mean_delta['nmi']:+.3f} NMI.",
             "Label-free scores against quality, every completed trial of each study (Spearman's rho; 'best "
             "quarter' = the trials with the top quarter of ACC; 'its pick' = the trial the score ranks first):",
             common.markdown_table(worst), "<details><summary>per case</summary>\n\n" + common.markdown_table(rhos) + "\n\n</details>"]
    return "\n\n".join(parts)

SIZES = ("full", "1000")
CASES = tuple(f"{c}:{s}" for c in common.CORPORA for s in SIZES)
OUT_DIR = common.RESULTS_DIR / "selection"
SUBSET = 1000

# The label-free scores compared, each "higher is better" as computed here.
SCORES = {
    "silhouette": "silhouette, fixed SBERT space (default objective)",
    "calinski_harabasz": "Calinski-Harabasz, fixed space",
    "neg_davies_bouldin": "Davies-Bouldin (negated), fixed space",
    "latent_silhouette": "silhouette, own space",
    "stability": "stability: ARI to a refit with the next seed",
    "consensus": "consensus: mean ARI to the other trials",
}


@dataclass(frozen=True)
class SelectionConfig:
    cases: str = ",".join(CASES)
    n_trials: int = 30  # completed trials per case, for the correlation table
    default_trials: int = 10  # the default study's size (RunConfig.n_trials)
    n_seeds: int = 5
    stability: bool = True  # refit every trial with seed + 1 (doubles the trials' cost)

    @property
    def case_list(self) -> list[str]:
        cases = [c.strip() for c in self.cases.split(",") if c.strip()]
        bad = [c for c in cases if c not in CASES]
        if bad:
            raise ValueError(f"unknown case(s) {bad}; choose from {', '.join(CASES)}")
        return cases


def load_case(case: str) -> common.LabelledData:
    """The texts, labels and cached MiniLM embeddings of one case (``corpus:full|1000``)."""
    from clustering.data import load_corpus
    from clustering.embed import embed_texts

    corpus_name, size = case.split(":")
    path = common.SHARED_DATA / common.CORPORA[corpus_name]
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: this benchmark needs the shared corpora beside the repository")
    full = load_corpus(path)
    X = embed_texts(full.texts, show_progress=False, precision="float32")
    if size == "full":
        return common.LabelledData(case, full.texts, np.asarray(full.labels), X)
    k = len(np.unique(full.labels))
    sub = load_corpus(path, n_per_class=SUBSET // k, seed=0)
    row = {text: i for i, text in enumerate(full.texts)}  # identical texts, identical embeddings
    return common.LabelledData(case, sub.texts, np.asarray(sub.labels), X[[row[t] for t in sub.texts]])


def fit_seeds(params: dict, data: common.LabelledData, k: int, seeds: list[int]) -> list[dict]:
    """Refit one configuration with each seed; ACC, NMI, ARI, fixed-space silhouette, time."""
    from experiments import evaluation
    from experiments.search_space import make_estimator

    runs = []
    for seed in seeds:
        model = make_estimator(params, n_clusters=k, random_state=seed)
        m = evaluation.fit_and_score(model, data.X, data.labels, data.texts, seed=seed, objective="silhouette")
        runs.append({"acc": m["acc"], "nmi": m["nmi"], "ari": m["ari"], "silhouette": m["silhouette"],
                     "objective": m["objective"], "n_clusters_found": m["n_clusters"], "fit_s": m["fit_seconds"]})
    return runs


def run_study(data: common.LabelledData, k: int, config: SelectionConfig, echo=print) -> list[dict]:
    """The default study, untracked, to ``config.n_trials`` completed trials; one dict per trial."""
    import optuna
    from sklearn.metrics import adjusted_rand_score

    from experiments.config import RunConfig
    from experiments.objective import (TrialResult, direction, fit_trial, make_pruner, make_sampler,
                                       queue_first_trials)
    from experiments.search_space import make_estimator

    # the study as it was before the cross-view objective: MiniLM's silhouette over KMeans, DEC and IDEC
    run_config = RunConfig(n_clusters=str(k), objective="silhouette", search_methods="kmeans,dec,idec")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=direction(run_config.objective), sampler=make_sampler(run_config.seed),
                                pruner=make_pruner())
    queue_first_trials(study, run_config)
    trials: list[dict] = []
    elapsed = 0.0

    def objective(trial):
        nonlocal elapsed
        start = time.perf_counter()
        result = TrialResult(params={})
        try:
            fit_trial(trial, run_config, data.X, data.labels, n_clusters=k, result=result)
        finally:
            elapsed += time.perf_counter() - start
        record = {"number": trial.number, "params": result.params, "value": result.value,
                  **{key: result.metrics[key] for key in ("acc", "nmi", "ari", "silhouette", "calinski_harabasz",
                                                          "latent_silhouette", "n_clusters")},
                  "neg_davies_bouldin": -result.metrics["davies_bouldin"],
                  "labels": result.model.labels_.tolist(), "elapsed_s": elapsed}
        if config.stability:
            again = make_estimator(result.params, n_clusters=k, random_state=run_config.seed + 1)
            again.fit(data.X)
            record["stability"] = float(adjusted_rand_score(result.model.labels_, again.labels_))
        trials.append(record)
        echo(f"  {data.name} trial {trial.number:3d} {result.params['method']:6s} acc {record['acc']:.3f} "
             f"nmi {record['nmi']:.3f} sil {record['silhouette']:.4f} ({elapsed:.0f}s so far)")
        return result.value

    def enough(study, trial):
        if len(trials) >= config.n_trials:
            study.stop()

    study.optimize(objective, callbacks=[enough], catch=(FloatingPointError, RuntimeError, ValueError),
                   n_trials=4 * config.n_trials)
    labels = [np.asarray(t["labels"]) for t in trials]
    for i, t in enumerate(trials):
        others = [adjusted_rand_score(labels[i], labels[j]) for j in range(len(trials)) if j != i]
        t["consensus"] = float(np.mean(others)) if others else float("nan")
    return trials


def correlations(trials: list[dict]) -> dict:
    """Per score: rho with ACC and NMI over all trials and over the best quarter by ACC, and
    the ACC of the trial the score picks."""
    by_acc = sorted(trials, key=lambda t: -t["acc"])
    top = by_acc[: max(4, len(trials) // 4)]
    best_acc = by_acc[0]["acc"]
    out = {}
    for key in SCORES:
        if not all(key in t for t in trials):
            continue
        finite = [t for t in trials if np.isfinite(t[key])]
        picked = max(finite, key=lambda t: t[key]) if finite else None
        out[key] = {
            "rho_acc": common.spearman([t[key] for t in trials], [t["acc"] for t in trials]),
            "rho_nmi": common.spearman([t[key] for t in trials], [t["nmi"] for t in trials]),
            "rho_acc_top": common.spearman([t[key] for t in top], [t["acc"] for t in top]),
            "rho_nmi_top": common.spearman([t[key] for t in top], [t["nmi"] for t in top]),
            "picked_acc": picked["acc"] if picked else float("nan"),
            "gap_acc": best_acc - picked["acc"] if picked else float("nan"),
        }
    return out


def run_case(case: str, config: SelectionConfig, echo=print) -> dict:
    from experiments.search_space import default_params

    data = load_case(case)
    k = len(np.unique(data.labels))
    seeds = list(range(config.n_seeds))
    echo(f"{case}: {len(data.labels):,} texts, k={k}")
    start = time.perf_counter()
    trials = run_study(data, k, config, echo)
    first = trials[: config.default_trials]
    champion = max(first, key=lambda t: t["value"])
    oracle = max(trials, key=lambda t: t["acc"])
    default_study_s = first[-1]["elapsed_s"]
    rows = {  # the champion is one of the first three: see suite_champion
        KMEANS: fit_seeds(default_params(methods.STARTING_POINT), data, k, seeds),
        DEC: fit_seeds(default_params("dec"), data, k, seeds),
        IDEC: fit_seeds(default_params("idec"), data, k, seeds),
        "study's best trial": fit_seeds(champion["params"], data, k, seeds),
        "oracle trial (labels)": fit_seeds(oracle["params"], data, k, seeds),
    }
    for name, runs in rows.items():
        echo(f"  {case} {name:28s} acc {np.mean([r['acc'] for r in runs]):.3f} ± {np.std([r['acc'] for r in runs]):.3f}"
             f"  nmi {np.mean([r['nmi'] for r in runs]):.3f}")
    return {
        "case": case, "n_texts": len(data.labels), "k": k, "config": config.__dict__,
        "machine": common.machine_info("python -m benchmarks.selection " + " ".join(sys.argv[1:])),
        "rows": rows, "champion": {key: champion[key] for key in ("number", "params", "value", "acc", "nmi")},
        "oracle": {key: oracle[key] for key in ("number", "params", "value", "acc", "nmi")},
        "default_study_s": default_study_s, "trials_s": trials[-1]["elapsed_s"],
        "case_s": time.perf_counter() - start,
        "median_trial_acc": float(np.median([t["acc"] for t in trials])),
        "kmeans_trial_acc": next((t["acc"] for t in trials if t["params"].get("method") == "kmeans"), float("nan")),
        "correlations": correlations(trials), "score_labels": SCORES,
        "trials": [{key: v for key, v in t.items() if key != "labels"} for t in trials],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def case_file(case: str, out_dir: Path = OUT_DIR) -> Path:
    return out_dir / f"{case.replace(':', '_')}.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.selection", description=__doc__.splitlines()[0])
    for name, default in SelectionConfig.__dataclass_fields__.items():
        kind = type(default.default)
        parser.add_argument(f"--{name}", type=(lambda s: s.lower() in ("1", "true", "yes")) if kind is bool else kind,
                            default=default.default)
    config = SelectionConfig(**vars(parser.parse_args(argv)))
    common.limit_threads()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for case in config.case_list:
        result = run_case(case, config)
        case_file(case).write_text(json.dumps(result, indent=1, default=float) + "\n")

    print(f"{common.relative(common.regenerate_results())} regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
