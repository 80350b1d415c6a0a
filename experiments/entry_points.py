"""The MLproject entry points: main, baselines, tune, evaluate (predict lives in predict.py)."""

from __future__ import annotations

import contextlib
import json
import time

import mlflow
import numpy as np

from experiments import methods, pipeline
from experiments.evaluation import direction
from experiments.pipeline import echo
from experiments.report import comparison_table, summarise
from experiments.search_space import as_method, default_params, from_trial_params, known_params
from experiments.tracking import base_tags, parent_run


def _load(config):
    """The corpus, read before any run exists: bad data ends in one line and leaves no run."""
    import re

    from sklearn.feature_extraction.text import TfidfVectorizer

    from clustering._utils import check_n_clusters

    corpus = pipeline.load(config)
    word = re.compile(TfidfVectorizer().token_pattern)  # a token as TF-IDF and the lexical view count one
    if not any(word.search(text) for text in corpus.texts):
        raise ValueError(f"none of the {len(corpus):,} texts has a word of two letters or more (punctuation or "
                         "one-letter tokens only): check text_columns, or give it real texts")
    if config.n_clusters != "auto":
        k = int(config.n_clusters)
        check_n_clusters(k, len(corpus))
        distinct = len(set(corpus.texts))
        if distinct < k:
            raise ValueError(f"the data has {distinct} distinct text(s) after cleaning, fewer than n_clusters={k}: "
                             "give it more varied texts or a smaller n_clusters")
    return corpus


def _setup(config, entry: str, corpus):
    """Inside the parent run: tags, params, the loaded corpus, embeddings, k."""
    # `mlflow run` has logged the MLproject parameters already (as it quoted them); add the rest.
    logged = mlflow.get_run(mlflow.active_run().info.run_id).data.params
    mlflow.log_params({k: v for k, v in config.loggable().items() if k not in logged})
    mlflow.set_tags({"entry_point": entry, "study_name": config.study_name,
                     "label_peeking": str(config.label_peeking).lower()})
    prep = pipeline.prepare(corpus, embedding_model=config.embedding_model, n_clusters=config.n_clusters,
                            k_min=config.k_min, k_max=config.k_max, seed=config.seed,
                            embedding_precision=config.embedding_precision, engine=config.engine,
                            spark_master=config.spark_master, fit_sample=config.fit_sample)
    mlflow.set_tags(base_tags(config, prep.corpus))
    return prep


def _evaluate(config, prep, params: dict, name: str):
    return pipeline.evaluate_config(prep, params, name, seeds=pipeline.seeds(config), objective=config.objective,
                                    study_name=config.study_name, embedding_model=config.embedding_model)


def _final_artifacts(config, prep, model, metrics, table, study=None):
    pipeline.log_final_artifacts(prep, model, metrics, table, tsne_points=config.tsne_points, seed=config.seed,
                                 study=study)


def run_baselines(config):
    corpus = _load(config)
    with parent_run(config.experiment_name, f"baselines: {config.study_name}"):
        prep = _setup(config, "baselines", corpus)
        results, _ = pipeline.run_baselines(prep, seeds=pipeline.seeds(config), objective=config.objective,
                                            study_name=config.study_name)
        table = comparison_table(summarise(results))
        pipeline.log_frame(table, "comparison.md")
        pipeline.log_frame(table, "comparison.csv")
        _print_table(table)


def run_tune(config):
    corpus = _load(config)
    with parent_run(config.experiment_name, f"tune: {config.study_name}") as run:
        prep = _setup(config, "tune", corpus)
        study = pipeline.run_study(config, prep)
        pipeline.log_study(study)
        _log_best(study)
        _log_oracle_gap(study, study.best_trial.user_attrs)
        echo(f"study {config.study_name}: {len(study.trials)} trials; parent run {run.info.run_id}")
        return study


def run_evaluate(config):
    params = _params_from_config(config)
    corpus = _load(config)
    with _registration(config) as registered, parent_run(config.experiment_name, f"evaluate: {config.study_name}"):
        prep = _setup(config, "evaluate", corpus)
        name = methods.get(params["method"]).display
        runs, models = _evaluate(config, prep, params, name)
        table = comparison_table(summarise({name: runs}))
        champion = _champion(config, runs, models)
        _final_artifacts(config, prep, models[champion], runs[champion], table)
        if config.register:
            registered["version"] = _register(config, prep, models[champion])
        _print_table(table)


def run_main(config):
    """data -> embeddings -> baselines -> study -> multi-seed evaluation -> registered model."""
    start = time.perf_counter()
    corpus = _load(config)
    with _registration(config) as registered, parent_run(config.experiment_name, f"main: {config.study_name}") as run:
        prep = _setup(config, "main", corpus)
        results, baseline_models = pipeline.run_baselines(prep, seeds=pipeline.seeds(config),
                                                          objective=config.objective, study_name=config.study_name)
        study = pipeline.run_study(config, prep)
        best_params = from_trial_params(_log_best(study), config.method)
        final = {}
        # Candidates for the champion, each fitted with every seed: MiniLM + KMeans (the start),
        # the study's best configuration and the methods known by their reference settings.
        origin = methods.get(methods.STARTING_POINT)
        candidates = {origin.display: (results[origin.display], baseline_models[origin.display], origin.name)}
        # Methods of one family share their knobs (DEC and IDEC), so the tuned point is tried
        # as each of them; the others stand alone.
        best = methods.get(best_params["method"])
        for method in best.family or (best.name,):
            if methods.get(method).space is None:  # no settings to tune (KMeans): it is a baseline row already
                continue
            name = f"{methods.get(method).display} (tuned)"
            runs, models = _evaluate(config, prep, as_method(best_params, method), name)
            final[name] = runs
            if method == best.name:
                candidates[name] = (runs, models, method)
        for record in methods.candidates():
            row = record.reference_row
            final[row], models = _evaluate(config, prep, default_params(record.name), row)
            candidates[row] = (final[row], models, record.name)
        table = comparison_table(summarise({**results, **final}))
        chosen = _best_candidate(config, candidates)
        champion_runs, champion_models, champion_method = candidates[chosen]
        champion = _champion(config, champion_runs, champion_models)
        echo(f"champion: {chosen}, seed {pipeline.seeds(config)[champion]} (best mean {config.objective} over "
             f"{len(champion_runs)} seed(s) among {', '.join(candidates)})")
        _final_artifacts(config, prep, champion_models[champion], champion_runs[champion], table, study)
        mlflow.log_metrics({f"champion_{k}": v for k, v in champion_runs[champion].items() if np.isfinite(v)})
        mlflow.set_tags({"champion": chosen, "champion_method": champion_method})
        _log_oracle_gap(study, champion_runs[champion])
        mlflow.log_metric("total_seconds", time.perf_counter() - start)
        if config.register:
            registered["version"] = _register(config, prep, champion_models[champion])
        _print_table(table)
        ui = "make ui  (http://127.0.0.1:5000)"
        echo(f"\ndone in {time.perf_counter() - start:.0f}s. Parent run {run.info.run_id} in experiment "
             f"'{config.experiment_name}'; compare trials in the MLflow UI: {ui}")


def _log_oracle_gap(study, chosen: dict) -> None:
    """On labelled data: the best trial by ACC (the oracle, which label-free selection cannot
    see), the chosen model's ACC and NMI, and what the label-free choice gave up."""
    import optuna

    trials = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
              if np.isfinite(t.user_attrs.get("acc", np.nan))]
    if not trials or not np.isfinite(chosen.get("acc", np.nan)):
        return
    oracle = max(trials, key=lambda t: t.user_attrs["acc"])
    gap = {"oracle_acc": oracle.user_attrs["acc"], "oracle_nmi": oracle.user_attrs["nmi"],
           "chosen_acc": chosen["acc"], "chosen_nmi": chosen["nmi"]}
    gap["oracle_gap_acc"] = gap["oracle_acc"] - gap["chosen_acc"]
    gap["oracle_gap_nmi"] = gap["oracle_nmi"] - gap["chosen_nmi"]
    mlflow.log_metrics(gap)
    mlflow.set_tag("oracle_trial", oracle.number)
    echo(f"oracle: trial {oracle.number} had acc {gap['oracle_acc']:.3f}; the label-free choice has "
         f"{gap['chosen_acc']:.3f} (gap {gap['oracle_gap_acc']:+.3f})")


def _log_best(study) -> dict:
    """Record the best trial on the parent run; return its params in make_estimator's terms."""
    best = study.best_trial
    mlflow.log_metric("best_objective", best.value)
    mlflow.set_tags({"best_trial": best.number, "best_trial_run": best.user_attrs.get("mlflow_run_id", "")})
    mlflow.log_dict({"number": best.number, "value": best.value, "params": best.params,
                     "metrics": {k: v for k, v in best.user_attrs.items() if isinstance(v, float)}}, "best_trial.json")
    return dict(best.params)


def _best_candidate(config, candidates: dict) -> str:
    """The champion among ``candidates`` (name -> (runs, models, method)), without labels.

    The first candidate is the starting point (MiniLM + KMeans). Another replaces it only if
    its mean objective over the seeds is better by more than the standard error of the
    difference of the two means; among those that are, the best mean wins. The study ranks
    trials on one seed, where the top of the space is within noise: a configuration that won
    that seed by chance must not replace the plain KMeans it started from.
    """
    sign = -1.0 if direction(config.objective) == "minimize" else 1.0

    def stats(name):
        values = sign * np.array([r["objective"] for r in candidates[name][0]], dtype=float)
        values = values[np.isfinite(values)]
        if not len(values):
            return -np.inf, 0.0
        return float(values.mean()), float(values.var() / len(values))

    start = next(iter(candidates))
    start_mean, start_var = stats(start)
    better = {name: mean for name in candidates if name != start
              for mean, var in [stats(name)] if mean - start_mean > np.sqrt(var + start_var)}
    return max(better, key=better.get) if better else start


def _champion(config, runs, models) -> int:
    """The seed whose model scores best on the run's objective (label-free by default)."""
    sign = -1.0 if direction(config.objective) == "minimize" else 1.0
    values = sign * np.array([r["objective"] for r in runs], dtype=float)
    return int(np.argmax(np.where(np.isfinite(values), values, -np.inf)))


def _register(config, prep, model):
    """Log and register ``model`` as the pyfunc that clusters raw texts; return its version (``_registration``
    aliases it)."""
    from experiments.model import log_text_cluster_model

    info = log_text_cluster_model(model, embedding_model=config.embedding_model, clean=config.clean,
                                  label_names=prep.corpus.label_names, registered_model_name=config.model_name,
                                  embedding_precision=prep.embedding_precision)
    return info.registered_model_version


@contextlib.contextmanager
def _registration(config):
    """Around a run that may register a model (``registered["version"]``): the ``champion`` alias
    moves only once the run has ended well, everything it logs written; a run that fails after
    registering deletes that version, so a failed run leaves nothing registered."""
    registered: dict = {}
    try:
        yield registered
    except BaseException:
        if registered.get("version") is not None:
            with contextlib.suppress(Exception):
                client = mlflow.MlflowClient()
                client.delete_model_version(config.model_name, str(registered["version"]))
                if not client.search_model_versions(f"name = '{config.model_name}'", max_results=1):
                    client.delete_registered_model(config.model_name)  # the run made the name: nothing is left
        raise
    if registered.get("version") is not None:
        from experiments.model import set_champion

        set_champion(config.model_name, registered["version"])
        echo(f"registered: models:/{config.model_name}@champion (version {registered['version']})")


def _params_from_config(config) -> dict:
    # method=search evaluates the first champion candidate at its reference (the seed report's DEC)
    method = methods.candidates()[0].name if config.method == "search" else config.method
    try:
        overrides = json.loads(config.params) if config.params.strip() else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"params must be a JSON object, e.g. '{{\"lr\": 0.001}}': {exc}") from None
    if not isinstance(overrides, dict):
        raise ValueError("params must be a JSON object, e.g. '{\"lr\": 0.001}'")
    params = {**default_params(method), **overrides}
    known = known_params(method)
    unknown = set(params) - known
    if unknown:
        raise ValueError(f"unknown keys in params for method {method}: {sorted(unknown)}; known: {sorted(known)}")
    _check_types(method, overrides)
    return params


def _check_types(method: str, overrides: dict) -> None:
    """A setting whose reference value is a number or a boolean must be one too (one line naming the key)."""
    record = methods.get(method)
    reference = {**record.reference, **record.fixed}
    for key, value in overrides.items():
        if key not in reference:
            continue
        expected = reference[key]
        if isinstance(expected, bool):
            if not isinstance(value, bool):
                raise ValueError(f"params: {key!r} must be true or false for method {method}; got {value!r}")
        elif isinstance(expected, (int, float)) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"params: {key!r} must be a number for method {method} (its reference is {expected!r}); "
                             f"got {value!r}")


def _print_table(table) -> None:
    echo("\n" + table.to_markdown(index=False))
