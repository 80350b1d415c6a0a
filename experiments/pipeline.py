"""The steps every entry point shares: data -> embeddings -> k -> baselines / study / final
evaluation -> artifacts and the registered model. Each step logs to the active MLflow run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import mlflow
import numpy as np

from experiments.tracking import log_corpus, log_figure, log_frame, log_history


def echo(message: str) -> None:
    """Print ``message`` (a str), flushed: progress a person can follow on the console (the library never prints)."""
    print(message, flush=True)


@dataclass
class Prepared:
    """The corpus of a run, embedded, with its number of clusters settled (``prepare``'s).

    Parameters
    ----------
    corpus : clustering.data.Corpus
    X : ndarray of shape (n_samples, n_features), the fixed Sentence-BERT space, L2-normalised
    n_clusters : int
    embedding_precision : str, default="float32", the arithmetic of ``X`` (resolved, never ``"auto"``)
    fit_sample : int, default=0
        Beyond this many texts, fits train on a seeded sample and assign every text (0: all).
    """

    corpus: object
    X: np.ndarray  # the fixed Sentence-BERT space, (n, d), L2-normalised
    n_clusters: int
    embedding_precision: str = "float32"  # the arithmetic X was computed in (resolved, never "auto")
    fit_sample: int = 0


def load(config):
    """The corpus ``config.data`` names; its bundled stand-in, said in one line, when the hub is out of reach.

    Parameters
    ----------
    config : RunConfig
        Reads ``data``, ``split``, the text and label columns, the sampling, ``clean`` and ``seed``.

    Returns
    -------
    corpus : clustering.data.Corpus

    Raises
    ------
    clustering.data.HubUnreachable
        If the hub is out of reach and ``config.data`` has no bundled stand-in.
    """
    from clustering.data import BUNDLED_STAND_INS, HubUnreachable

    kwargs = dict(split=config.split, text_columns=config.text_column_list, label_column=_label_column(config),
                  n_per_class=config.n_per_class or None, max_samples=config.max_samples or None,
                  clean=config.clean, seed=config.seed)
    try:
        return _load_corpus(config.data, kwargs)
    except HubUnreachable:
        stand_in = BUNDLED_STAND_INS.get(config.data)
        if stand_in is None:
            raise
        echo(f"note: cannot reach the Hugging Face hub for {config.data}; using the copy bundled with the "
             f"package instead (data={stand_in}, see clustering/datasets/README.md)")
        return _load_corpus(stand_in, {**kwargs, "split": None})


def _load_corpus(source, kwargs):
    from clustering.data import DataError, load_corpus

    try:
        return load_corpus(source, **kwargs)
    except DataError as exc:
        if "needs labels" not in str(exc):
            raise
        echo("note: the data has no labels, so n_per_class is ignored (use max_samples to subsample)")
        return load_corpus(source, **{**kwargs, "n_per_class": None})


def _label_column(config):
    value = config.label_column.strip()
    return None if value == "auto" else ("" if value.lower() in ("", "none") else value)


def prepare(corpus, *, embedding_model: str, n_clusters: str, k_min: int, k_max: int, seed: int,
            embedding_precision: str = "auto", engine: str = "local", spark_master: str = "",
            fit_sample: int = 0) -> Prepared:
    """Log and embed the corpus (from ``load``, read before the run); settle k. Logs to the active run.

    Parameters
    ----------
    corpus : clustering.data.Corpus
    embedding_model : str
    n_clusters : str
        An integer as text, or "auto" to choose it by silhouette over ``k_min..k_max`` (``choose_k``).
    k_min, k_max, seed : int
        The range of k that "auto" sweeps, and the sweep's seed.
    embedding_precision : str, default="auto"
        ``embed_texts``'s; what it resolved to is tagged ``embedding_precision``.
    engine, spark_master : str, default="local", ""
        ``"spark"`` embeds on Spark (``experiments.spark.embed_spark``) at that master.
    fit_sample : int, default=0
        Kept as ``Prepared.fit_sample``.

    Returns
    -------
    prepared : Prepared

    Raises
    ------
    ValueError
        If k is not at least 2 and at most the number of texts.
    """
    from clustering.embed import embed_texts, resolve_precision

    stats = corpus.stats
    echo(f"data: {len(corpus)} texts from {corpus.source}, {stats['n_classes'] or 'no'} labelled classes, "
         f"{stats['mean_words']:.1f} words on average, {stats['share_under_15_words']:.1%} under 15 words")
    log_corpus(corpus, corpus.source)
    start = time.perf_counter()
    precision = resolve_precision(embedding_precision)
    if engine == "spark":
        from experiments.spark import embed_spark

        X = embed_spark(corpus.texts, model=embedding_model, precision=precision, master=spark_master or None)
    else:
        X = embed_texts(corpus.texts, model=embedding_model, precision=precision)
    mlflow.log_metric("embed_seconds", time.perf_counter() - start)
    mlflow.set_tag("embedding_precision", precision)
    echo(f"embeddings: {X.shape[0]} x {X.shape[1]} from {embedding_model} ({precision}) "
         f"in {time.perf_counter() - start:.1f}s")
    k = choose_k(X, k_min=k_min, k_max=k_max, seed=seed) if n_clusters == "auto" else int(n_clusters)
    from clustering._utils import check_n_clusters

    check_n_clusters(k, len(corpus))
    mlflow.set_tag("n_clusters", k)
    return Prepared(corpus, X, k, precision, fit_sample)


def choose_k(X, *, k_min: int, k_max: int, seed: int) -> int:
    """Sweep k with KMeans in the embedding space; choose the best silhouette (no labels).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    k_min, k_max : int
        The range of k swept (``k_max`` at most ``n_samples - 1``).
    seed : int

    Returns
    -------
    k : int
    """
    from sklearn.cluster import KMeans

    from clustering.metrics import evaluate
    from clustering.plots import score_curve

    ks = list(range(k_min, min(k_max, len(X) - 1) + 1))
    curves: dict[str, list[float]] = {"silhouette": [], "davies_bouldin": []}
    for k in ks:
        labels = KMeans(k, n_init=4, random_state=seed).fit_predict(X)
        scores = evaluate(None, labels, X, sample_size=5000, random_state=seed)
        for name in curves:
            curves[name].append(scores[name])
            mlflow.log_metric(f"k_sweep_{name}", scores[name], step=k)
    chosen = ks[int(np.nanargmax(curves["silhouette"]))]
    log_figure(score_curve(ks, curves, chosen=chosen, title="Choosing k by silhouette (SBERT space)"), "k_selection.png")
    mlflow.set_tag("n_clusters_chosen_by", "silhouette")
    echo(f"n_clusters=auto: silhouette over k={ks[0]}..{ks[-1]} chose k={chosen} "
         f"({', '.join(f'{k}:{s:.3f}' for k, s in zip(ks, curves['silhouette']))})")
    return chosen


def study_rows(n: int, sample: int, seed: int) -> np.ndarray:
    """Sorted indices (ndarray of int) of the ``sample`` texts of ``n`` a study fits, drawn with ``seed``
    (all when ``sample`` is 0 or ``n <= sample``): every worker of a study draws the same rows."""
    if not sample or n <= sample:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))


def run_study(config, prep: Prepared, **kwargs):
    """``experiments.tune.run_study`` on ``study_rows`` of the prepared corpus (said in one line when a sample).

    Parameters
    ----------
    config : RunConfig
    prep : Prepared
    **kwargs
        Passed on to ``tune.run_study`` (``study``, ``track``).

    Returns
    -------
    study : optuna.Study
    """
    from experiments.tune import run_study as run

    rows = study_rows(len(prep.X), config.study_sample, config.seed)
    corpus = prep.corpus
    if len(rows) < len(prep.X):
        echo(f"study: trials fit a seeded sample of {len(rows):,} of the {len(prep.X):,} texts (study_sample); "
             "the final evaluation fits them all")
    mlflow.log_metric("study_texts", len(rows))
    labels = None if corpus.labels is None else np.asarray(corpus.labels)[rows]
    return run(config, prep.X[rows], labels, n_clusters=prep.n_clusters, texts=[corpus.texts[i] for i in rows],
               echo=echo, **kwargs)


def run_baselines(prep: Prepared, *, seeds: list[int], objective: str, study_name: str
                  ) -> tuple[dict[str, list[dict]], dict[str, list]]:
    """The baseline methods (``methods.BASELINES``) over ``seeds``, a nested run each.

    Parameters
    ----------
    prep : Prepared
    seeds : list of int
    objective : str
        The study's objective, scored on each baseline's labels.
    study_name : str

    Returns
    -------
    results : dict of str to list of dict
        The metrics of every seed per baseline (``objective`` included), keyed by display name.
    fitted : dict of str to list
        The fitted models per baseline, keyed by display name.
    """
    from experiments import evaluation, methods
    from experiments.search_space import make_estimator

    results: dict[str, list[dict]] = {}
    fitted: dict[str, list] = {}
    for name in methods.BASELINES:
        display = methods.get(name).display
        with mlflow.start_run(run_name=f"baseline: {display}", nested=True):
            mlflow.set_tags({"stage": "baseline", "study_name": study_name, "method": display})
            runs, fitted[display] = [], []
            for seed in seeds:
                model = make_estimator({"method": name}, n_clusters=prep.n_clusters, random_state=seed)
                runs.append(evaluation.fit_and_score(model, prep.X, prep.corpus.labels, prep.corpus.texts,
                                                     seed=seed, objective=objective, fit_sample=prep.fit_sample,
                                                     progress=f"baseline {display}, seed {seed}"))
                fitted[display].append(model)
            _log_seed_metrics(runs)
        results[display] = runs
        echo(f"baseline {display:16s} {_brief(runs)}")
    return results, fitted


def evaluate_config(prep: Prepared, params: dict, name: str, *, seeds: list[int], objective: str,
                    study_name: str, embedding_model: str):
    """Fit one configuration with each of ``seeds`` in a nested run; keep every fitted model.

    Parameters
    ----------
    prep : Prepared
    params : dict
        ``search_space.make_estimator``'s params, logged as ``param_<name>``.
    name : str
        The configuration's display name.
    seeds : list of int
    objective, study_name, embedding_model : str

    Returns
    -------
    runs : list of dict
        The metrics of every seed.
    models : list
        The fitted model of every seed.
    """
    from experiments import evaluation
    from experiments.search_space import make_estimator

    runs, models = [], []
    with mlflow.start_run(run_name=f"final: {name}", nested=True):
        mlflow.set_tags({"stage": "final", "study_name": study_name, "method": name})
        mlflow.log_params({f"param_{k}": v for k, v in params.items()})
        for seed in seeds:
            model = make_estimator(params, n_clusters=prep.n_clusters, random_state=seed,
                                   embedding_model=embedding_model)
            runs.append(evaluation.fit_and_score(model, prep.X, prep.corpus.labels, prep.corpus.texts, seed=seed,
                                                 objective=objective, fit_sample=prep.fit_sample,
                                                 progress=f"final {name}, seed {seed}"))
            models.append(model)
            echo(f"         {name:16s} seed {seed}: {_brief(runs[-1:])}")
        _log_seed_metrics(runs)
    echo(f"final    {name:16s} {_brief(runs)}")
    return runs, models


def log_final_artifacts(prep: Prepared, model, metrics: dict, comparison, *, tsne_points: int, seed: int,
                        study=None) -> None:
    """Figures and tables for the chosen model and the whole comparison, on the active run.

    Parameters
    ----------
    prep : Prepared
    model : estimator
        The chosen, fitted model.
    metrics : dict
        Its metrics, logged as ``metrics.json``.
    comparison : DataFrame
        The comparison table, logged as markdown and CSV.
    tsne_points, seed : int
        The most points the t-SNE plots, and its seed.
    study : optuna.Study, default=None
        Also log its trials and plots (``log_study``).
    """
    from clustering.keywords import keywords_table
    from clustering.plots import contingency_heatmap, loss_curves, tsne_plot, tsne_rows
    from experiments.evaluation import assign, own_space
    from experiments.report import accuracy_by_length, confused_pairs

    corpus = prep.corpus
    labels = assign(model, prep.X, corpus.texts)  # every text's, also when the model was fitted on a sample
    rows = tsne_rows(len(labels), tsne_points, seed)  # the texts t-SNE shows: only they are mapped
    latent = own_space(model, prep.X, corpus.texts, rows)[0]
    truth = None if corpus.labels is None else np.asarray(corpus.labels)[rows]
    log_figure(tsne_plot(latent, labels[rows], truth, label_names=corpus.label_names,
                         max_points=tsne_points, random_state=seed,
                         title="t-SNE of the latent space"), "tsne_latent.png")
    # losses only: no counts, and not the early-stopping monitor's silhouettes (they can be < 0)
    curves = {k: v for k, v in model.history_.items() if v and not k.startswith("n_") and k != "monitor"}
    log_figure(loss_curves(curves, logy=True, title="Training losses"),
               "loss_curves.png")
    log_frame(keywords_table(corpus.texts, labels), "cluster_keywords.csv")
    if corpus.labels is not None:
        log_figure(contingency_heatmap(corpus.labels, labels, label_names=corpus.label_names,
                                       title="Classes x clusters"), "contingency.png")
        log_frame(accuracy_by_length(corpus.texts, corpus.labels, labels), "error_accuracy_by_length.csv")
        log_frame(confused_pairs(corpus.labels, labels, corpus.label_names), "error_confused_pairs.csv")
    log_frame(comparison, "comparison.md")
    log_frame(comparison, "comparison.csv")
    mlflow.log_dict({"champion": metrics}, "metrics.json")
    if study is not None:
        log_study(study)


def log_study(study) -> None:
    """The trials table and Optuna's own plots (history, parameter importances).

    Parameters
    ----------
    study : optuna.Study
    """
    import warnings

    import optuna
    from optuna.visualization import matplotlib as ovm

    frame = study.trials_dataframe()
    log_frame(frame, "optuna_trials.csv")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        if complete:
            log_figure(ovm.plot_optimization_history(study).figure, "optuna_history.png")
        if len(complete) >= 2 and len({json.dumps(t.params, sort_keys=True) for t in complete}) >= 2:
            try:
                log_figure(ovm.plot_param_importances(study).figure, "optuna_importances.png")
            except (ValueError, RuntimeError) as exc:  # e.g. every trial scored the same
                echo(f"note: no parameter-importance plot ({exc})")


def seeds(config) -> list[int]:
    """The run's seeds: ``config.n_seeds`` of them from ``config.seed`` on (``config``: a RunConfig).

    Returns
    -------
    seeds : list of int
    """
    return list(range(config.seed, config.seed + config.n_seeds))


def _log_seed_metrics(runs: list[dict]) -> None:
    """Per-seed values as steps of each metric, plus ``<metric>_mean`` / ``_std``."""
    from experiments.evaluation import summarise

    names = sorted({k for r in runs for k in r})
    log_history({n: [r[n] for r in runs if n in r] for n in names}, prefix="seed_")
    summary = summarise(runs, names)
    summary.update({n: summary[f"{n}_mean"] for n in names if f"{n}_mean" in summary})
    mlflow.log_metrics(summary)


def _brief(runs: list[dict]) -> str:
    parts = []
    for key in ("acc", "nmi", "silhouette"):
        values = [r[key] for r in runs if key in r]
        if values:
            parts.append(f"{key} {np.mean(values):.3f}" + (f"±{np.std(values):.3f}" if len(runs) > 1 else ""))
    seconds = np.mean([r["fit_seconds"] for r in runs])
    return ", ".join(parts) + (f"  ({seconds:.1f}s/seed)" if len(runs) > 1 else f"  ({seconds:.1f}s)")
