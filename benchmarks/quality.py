"""Quality table: every method over several seeds on AG News, beside published figures.

Methods: TF-IDF + KMeans, SBERT + KMeans (``kmeans``), AE + KMeans, DEC and IDEC at the library's
defaults, self-training (the suite's named configuration, ``mlflow run . -e selftrain``: it
fine-tunes MiniLM itself, so it is the slow one), and "the tuned best": the parameters in ``--tuned`` (a JSON file), or else the
best of a small label-free Optuna study (``experiments.tune.run_study``, silhouette in the
SBERT space) run here on the balanced subset. Datasets: the 7,600 AG News test articles and
the seed report's balanced subset (1,250 per class, seeded) of the same file.

Scores: ACC, NMI, ARI, purity, and silhouette twice: in the fixed SBERT space (cosine),
where every method is measured alike, and in the method's own space (tf-idf and SBERT:
cosine; autoencoder latent spaces: Euclidean, the geometry KMeans and DEC's Student-t
kernel use there). Everything is logged to the MLflow experiment ``benchmark``.

    python -m benchmarks.quality [--n_seeds 5] [--tuned PATH] [--datasets test,balanced]
    python -m benchmarks.quality --methods kmeans,selftrain --datasets test --merge 1   # add rows
    mlflow run . -e benchmark --env-manager local --experiment-name benchmark
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import common


# -- its section of RESULTS.md ------------------------------------------------------------
# -- quality ------------------------------------------------------------------------------------
QUALITY_HEADERS = {"acc": "ACC", "nmi": "NMI", "ari": "ARI", "purity": "purity",
                   "silhouette_sbert": "silhouette, SBERT space (cosine)", "silhouette_own": "silhouette, own space"}


def quality_rows(dataset: dict, methods: dict, own_space: dict) -> list[dict]:
    """``mean ± std`` per method over seeds, then the published figures."""

    rows = []
    for method, runs in dataset["runs"].items():
        s = common.summarise(runs)
        row = {"method": methods.get(method, method), "seeds": str(s["n_seeds"])}
        for col, header in QUALITY_HEADERS.items():
            row[header] = f"{s[col + '_mean']:.3f} ± {s[col + '_std']:.3f}" if col + "_mean" in s else "-"
        row["own space"] = own_space.get(method, "")
        row["fit time"] = f"{s['fit_s_mean']:.1f} ± {s['fit_s_std']:.1f} s" if "fit_s_mean" in s else "-"
        row["peak RSS"] = f"{s['peak_rss_mib_max']:.0f} MiB" if "peak_rss_mib_max" in s else "-"
        rows.append(row)
    from experiments.report import PUBLISHED

    for pub in (p for p in PUBLISHED if p["corpus"] == "ag_news" and p["source"] in ("seed report", "SCCL (Zhang et al., NAACL 2021)")):
        name = f"{pub['source']}, {pub['method']} ({pub['data']})" if "method" in pub else f"{pub['source']}, {pub['data']}"
        row = {"method": f"published: {name}", "seeds": ""}
        for col, header in QUALITY_HEADERS.items():
            row[header] = pub.get("silhouette" if col == "silhouette_own" else col, "")
        row["own space"] = "not stated" if pub["source"] == "seed report" else ""
        rows.append(row)
    return rows


# The project's target for label-free clustering of the AG News test split (issue 6).
GOAL = {"acc": 0.89, "nmi": 0.70}


def goal_line(dataset: dict, methods: dict) -> str:
    """How far the best row (by mean ACC, 5 seeds or more) is from ``GOAL``; "" if none qualifies."""

    scored = [(common.summarise(runs), m) for m, runs in dataset["runs"].items() if len(runs) >= 5]
    if not scored:
        return ""
    s, method = max(scored, key=lambda pair: pair[0].get("acc_mean", float("-inf")))
    gaps = {k: target - s[f"{k}_mean"] for k, target in GOAL.items()}
    verdict = "met" if all(g <= 0 for g in gaps.values()) else "not met: short by " + ", ".join(
        f"{g:.3f} {k.upper()}" for k, g in gaps.items() if g > 0)
    return (f"Goal: label-free ACC >= {GOAL['acc']} and NMI >= {GOAL['nmi']}, mean of 5 seeds. Best row here: "
            f"{methods.get(method, method)}, ACC {s['acc_mean']:.3f} / NMI {s['nmi_mean']:.3f}: {verdict}.")


def markdown(result: dict) -> str:
    parts = [common.machine_line(result.get("machine"))]
    tuned = result.get("tuned")
    if tuned:
        shown = ", ".join(f"{k}={v}" for k, v in tuned["params"].items())
        parts.append(f"Tuned best: {tuned['source']}. Parameters: {shown}.")
    for d in result["datasets"]:
        parts.append(f"**{d['name']}**, mean ± std over seeds (fit time per seed on this machine; peak RSS: the "
                     "benchmark process' peak after the method's last fit, an upper bound):\n\n"
                     + common.markdown_table(quality_rows(d, result.get("methods", {}), result.get("own_space", {}))))
        if d.get("key") == "test":
            parts.append(goal_line(d, result.get("methods", {})))
        commands: dict[str, list[str]] = {}
        for method, info in (d.get("provenance") or {}).items():
            key = (f"`{info.get('command')}` ({info.get('date')}, {info.get('torch_threads')} torch thread(s), "
                   f"load average {(info.get('load_average') or ['?'])[0]})")
            commands.setdefault(key, []).append(result.get("methods", {}).get(method, method))
        if len(commands) > 1:
            parts.append("These rows come from more than one run (`--merge 1`):\n\n"
                         + "\n".join(f"- {', '.join(methods)}: {key}" for key, methods in commands.items()))
    if result.get("total_s"):
        parts.append(f"The quality part took {result['total_s'] / 60:.1f} min; MLflow experiment "
                     f"`{result.get('config', {}).get('experiment_name', 'benchmark')}`, parent run "
                     f"`{result.get('mlflow_run_id', '?')}`.")
    return "\n\n".join(p for p in parts if p)

# The table's rows, in its order: the suite's methods by their names in the registry
# (experiments.methods), and "tuned" (the study's best point). Names and spaces come from the records.
METHODS = {key: key for key in ("tfidf", "kmeans", "ae", "dec", "idec", "tuned", "selftrain")}


def label(method: str) -> str:
    """How the table names ``method``."""
    from experiments import methods

    return "tuned best" if method == "tuned" else methods.get(method).display
DATASETS = ("test", "balanced")


@dataclass(frozen=True)
class QualityConfig:
    data: str = "ag_news_test"  # the copy bundled with the package (clustering/datasets/)
    datasets: str = ",".join(DATASETS)  # test = all 7,600; balanced = n_per_class per class
    # self-training fine-tunes the encoder (minutes per seed on a CPU): asked for by name
    methods: str = ",".join(m for m in METHODS if m != "selftrain")
    n_seeds: int = 5
    seed: int = 0  # first model seed; also seeds the balanced subset and the study
    n_per_class: int = 1250
    tuned: str = ""  # JSON file of make_estimator params; "" = run a small study
    n_trials: int = 6
    tune_timeout: float = 420.0  # seconds for the study (the trial running then finishes)
    experiment_name: str = "benchmark"
    merge: int = 0  # 1 = keep the other methods' rows already in `out`, replace only those run now
    out: str = str(common.RESULTS_DIR / "quality.json")

    def __post_init__(self):
        unknown = [m for m in self.method_list if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
        bad = [d for d in self.dataset_list if d not in DATASETS]
        if bad:
            raise ValueError(f"unknown dataset(s) {bad}; choose from {', '.join(DATASETS)}")
        if self.n_seeds < 1 or self.n_trials < 1:
            raise ValueError("n_seeds and n_trials must be >= 1")

    @property
    def method_list(self) -> list[str]:
        return [m.strip() for m in self.methods.split(",") if m.strip()]

    @property
    def dataset_list(self) -> list[str]:
        return [d.strip() for d in self.datasets.split(",") if d.strip()]

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.n_seeds))


# -- one method, one seed -------------------------------------------------------------------
def make_model(method: str, seed: int, tuned_params: dict | None = None):
    """A fresh, unfitted estimator for ``method`` at its reference settings (or the tuned params)."""
    from experiments.search_space import default_params, make_estimator

    params = tuned_params if method == "tuned" else default_params(method)
    return make_estimator(params, n_clusters=common.N_CLASSES, random_state=seed)


def own_space(method: str, model, tuned_params: dict | None = None) -> str:
    """How the table names the model's own space: what it is, and the distance used there."""
    from experiments import methods

    name = (tuned_params or {}).get("method", "dec") if method == "tuned" else method
    return f"{methods.get(name).representation}, {model.space_metric}"


def fit_and_score(method: str, data: common.LabelledData, seed: int, tuned_params: dict | None = None) -> dict:
    """Fit ``method`` on ``data`` with ``seed``; its scores and fit time as a flat dict of floats."""
    import resource

    from experiments import evaluation

    m = evaluation.fit_and_score(make_model(method, seed, tuned_params), data.X, data.labels, data.texts, seed=seed)
    return {
        "acc": m["acc"], "nmi": m["nmi"], "ari": m["ari"], "purity": m["purity"],
        "silhouette_sbert": m["silhouette"], "silhouette_own": m["latent_silhouette"], "fit_s": m["fit_seconds"],
        # the process' peak so far (Linux reports KiB): an upper bound for this fit
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# -- the tuned best ---------------------------------------------------------------------------
def load_tuned(path: str) -> dict:
    """make_estimator params from a JSON file: a flat dict, or ``{"params": {...}}`` as
    ``best_trial.json`` (logged by the ``tune`` entry point) and ``tuned_params.json`` have."""
    from experiments.search_space import default_params

    obj = json.loads(Path(path).read_text())
    params = obj.get("params", obj)
    return {**default_params(params.get("method", "dec")), **params}


def tune(config: QualityConfig, data: common.LabelledData, echo) -> tuple[dict, dict]:
    """A small label-free study on ``data`` (silhouette in the SBERT space); (best params, provenance)."""
    import mlflow

    from experiments.config import RunConfig
    from experiments.search_space import default_params
    from experiments.study import create_study
    from experiments.tune import run_study

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-optuna-") as tmp:
        run_config = RunConfig(data=config.data, n_per_class=config.n_per_class, method="search",
                               n_trials=config.n_trials, timeout=config.tune_timeout, objective="silhouette",
                               max_pretrain_epochs=20, max_epochs=10, seed=config.seed,
                               storage=f"sqlite:///{tmp}/optuna.db", study_name="benchmark-quality",
                               experiment_name=config.experiment_name)
        with mlflow.start_run(run_name=f"tune: {data.name}", nested=True):
            mlflow.set_tags({"stage": "benchmark-tune", "label_peeking": "false"})
            study = create_study(run_config)
            # Trial 0 is the seed report's DEC, so a short study cannot pick anything that
            # scores worse on its own (label-free) objective than the defaults.
            study.enqueue_trial(default_params("dec"))
            study = run_study(run_config, data.X, data.labels, n_clusters=common.N_CLASSES, study=study, echo=echo)
            best = study.best_trial
            n_complete = sum(t.state.name == "COMPLETE" for t in study.trials)
            mlflow.log_metrics({"best_objective": best.value, "tune_seconds": time.perf_counter() - start})
    params = {**default_params(best.params.get("method", "dec")), **best.params}
    info = {"source": f"Optuna study run by benchmarks.quality: {n_complete} complete trial(s) of "
                      f"{len(study.trials)}, TPE seed {config.seed}, objective silhouette in the SBERT space "
                      f"(label-free), on {data.name}, epochs capped at 20 + 10, trial 0 = the seed report's DEC",
            "best_trial": best.number, "best_value": best.value, "n_complete": n_complete,
            "tune_s": time.perf_counter() - start, "params": params}
    return params, info


# -- summaries ------------------------------------------------------------------------------
from benchmarks.common import COLUMNS, summarise  # noqa: E402  (the table rows are summarised alike everywhere)


def _log_method(dataset: str, method: str, label: str, runs: list[dict], model_params: dict) -> None:
    import mlflow

    from experiments.tracking import log_history

    with mlflow.start_run(run_name=f"quality: {dataset} / {label}", nested=True):
        mlflow.set_tags({"stage": "benchmark", "dataset": dataset, "method": label})
        mlflow.log_params({"dataset": dataset, "method": method, "n_seeds": len(runs),
                           **{f"param_{k}": str(v)[:250] for k, v in model_params.items()}})
        log_history({k: [r[k] for r in runs] for k in COLUMNS}, prefix="seed_")
        summary = summarise(runs)
        mlflow.log_metrics({k: v for k, v in summary.items() if k != "n_seeds"})


def run(config: QualityConfig, echo=print) -> dict:
    """Every method x dataset x seed, logged under the active MLflow run; the results as a dict."""
    import mlflow

    full = common.ag_news(config.data)
    data = {"test": full}
    if "balanced" in config.dataset_list:
        data["balanced"] = common.balanced_subset(full, config.data, n_per_class=config.n_per_class, seed=config.seed)
    echo(f"quality: datasets {', '.join(d.name for d in data.values())}; seeds {config.seeds}")

    tuned_params = tuned_info = None
    if "tuned" in config.method_list:
        if config.tuned:
            tuned_params = load_tuned(config.tuned)
            tuned_info = {"source": f"parameters read from {config.tuned}", "params": tuned_params}
        else:
            tune_on = data.get("balanced", full)
            echo(f"tuned best: running a {config.n_trials}-trial label-free study on {tune_on.name} "
                 f"(pass --tuned FILE to skip it)")
            tuned_params, tuned_info = tune(config, tune_on, echo)
            path = Path(config.out).with_name("tuned_params.json")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(tuned_info, indent=1) + "\n")
            echo(f"tuned best: trial {tuned_info['best_trial']} (silhouette {tuned_info['best_value']:.4f}); "
                 f"saved to {common.relative(path)}")
        mlflow.log_dict(tuned_info, "tuned_params.json")

    datasets = []
    for key in config.dataset_list:
        d = data[key]
        runs_by_method = {}
        for method in config.method_list:
            runs = [fit_and_score(method, d, seed, tuned_params) for seed in config.seeds]
            params = make_model(method, config.seed, tuned_params).get_params()
            _log_method(d.name, method, label(method), runs, params)
            runs_by_method[method] = runs
            s = summarise(runs)
            echo(f"  {d.name:40s} {label(method):16s} acc {s['acc_mean']:.3f}±{s['acc_std']:.3f} "
                 f"nmi {s['nmi_mean']:.3f}±{s['nmi_std']:.3f}  {s['fit_s_mean']:.1f} s/fit")
        datasets.append({"key": key, "name": d.name, "n": int(len(d.labels)), "runs": runs_by_method})
    return {"datasets": datasets, "methods": {m: label(m) for m in config.method_list},
            "own_space": {m: own_space(m, make_model(m, config.seed, tuned_params), tuned_params)
                          for m in config.method_list},
            "tuned": tuned_info}


def merge(old: dict, new: dict) -> dict:
    """``old`` results with ``new``'s methods added or replaced, dataset by dataset.

    Each dataset keeps, per method, the command, date, threads and load of the run that
    measured it (``provenance``), so a merged table still says where every row came from.
    """
    def stamp(result: dict) -> dict:
        return {k: result.get("machine", {}).get(k) for k in ("command", "date", "torch_threads", "load_average")}

    merged = json.loads(json.dumps(old))
    merged["methods"] = {**old.get("methods", {}), **new["methods"]}
    merged["own_space"] = {**old.get("own_space", {}), **new["own_space"]}
    by_key = {d["key"]: d for d in merged["datasets"]}
    for d in merged["datasets"]:
        provenance = d.setdefault("provenance", {})
        for method in d["runs"]:
            provenance.setdefault(method, stamp(old))
    for d in new["datasets"]:
        target = by_key.get(d["key"])
        if target is None:
            target = {**d, "runs": {}, "provenance": {}}
            merged["datasets"].append(target)
        target["runs"].update(d["runs"])
        target["provenance"].update({method: stamp(new) for method in d["runs"]})
    merged["tuned"] = new.get("tuned") or old.get("tuned")
    return merged


# -- command line -----------------------------------------------------------------------------
def _int(text: str) -> int:
    value = float(text)  # MLflow hands "5.0" to an int parameter
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.splitlines()[0])
    kinds = {int: _int, float: float, str: str}
    for f in dataclasses.fields(QualityConfig):
        kind = kinds[type(f.default)]
        parser.add_argument(f"--{f.name}", type=kind, default=f.default, metavar=kind.__name__.upper().lstrip("_"))
    return parser


def main(argv=None) -> int:
    import logging

    import mlflow
    import optuna

    from experiments.tracking import parent_run

    args = build_parser().parse_args(argv)
    config = QualityConfig(**vars(args))
    threads = common.limit_threads()
    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    command = "python -m benchmarks.quality" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    start = time.perf_counter()
    with parent_run(config.experiment_name, "benchmark: quality") as parent:
        logged = mlflow.get_run(parent.info.run_id).data.params  # `mlflow run` logged its own already
        mlflow.log_params({k: str(v) for k, v in dataclasses.asdict(config).items() if k not in logged})
        mlflow.set_tags({"stage": "benchmark", "bench_threads": str(threads)})
        result = run(config, echo=lambda m: print(m, flush=True))
        result["machine"] = common.machine_info(command)
        result["config"] = dataclasses.asdict(config) | {"out": common.relative(config.out)}
        result["total_s"] = time.perf_counter() - start
        result["mlflow_run_id"] = parent.info.run_id
        tables = markdown(result)
        mlflow.log_text(tables, "quality.md")
        mlflow.log_dict(result, "quality.json")
        mlflow.log_metric("total_seconds", result["total_s"])
    out = Path(config.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if config.merge and out.is_file():
        result = merge(json.loads(out.read_text()), result)
    out.write_text(json.dumps(result, indent=1))
    print("\n" + tables)
    common.regenerate_results()
    return 0


if __name__ == "__main__":
    sys.exit(main())
