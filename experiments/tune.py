"""The Optuna study: every trial a nested MLflow run under the worker's parent run.

The objective is label-free by default: the silhouette of the trial's clusters measured
in the fixed Sentence-BERT space (cosine), so trials are compared in one space that no
trial can reshape. ``objective=nmi|acc|ari`` reads the true labels; such runs are tagged
``label_peeking=true``. Every trial logs every metric either way, so the gap between the
label-free choice and the oracle choice stays visible.
"""

from __future__ import annotations

import logging
import time

import mlflow
import numpy as np
import optuna

from clustering.autoencoder import count_parameters
from clustering.metrics import evaluate, silhouette
from experiments.search_space import make_estimator, suggest
from experiments.tracking import log_history, redact

log = logging.getLogger("experiments")
MINIMISE = {"davies_bouldin"}
PRUNE_SAMPLE = 2000  # silhouette sample for per-epoch pruning reports


def direction(objective: str) -> str:
    return "minimize" if objective in MINIMISE else "maximize"


def make_storage(url: str):
    """Optuna storage from a SQLAlchemy URL, or a journal file (``*.journal`` / ``journal:PATH``).

    RDB storages get a heartbeat, so a trial whose worker was killed is marked FAIL when
    another worker (or a rerun) starts, instead of staying RUNNING forever.
    """
    if url.startswith("journal:") or url.endswith(".journal"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
    try:
        return optuna.storages.RDBStorage(url, heartbeat_interval=10, grace_period=30,
                                          engine_kwargs={"pool_pre_ping": True})
    except Exception as exc:  # sqlalchemy raises a dozen kinds; the user needs one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConnectionError(f"cannot open Optuna storage {redact(url)}: {redact(reason)}") from None


def create_study(config):
    return optuna.create_study(
        study_name=config.study_name,
        storage=make_storage(config.storage),
        direction=direction(config.objective),
        sampler=optuna.samplers.TPESampler(seed=config.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
        load_if_exists=True,
    )


def score(objective: str, labels_true, labels_pred, X_fixed, *, sample_size=None, random_state=0) -> float:
    needs_labels = objective not in ("silhouette", "davies_bouldin", "calinski_harabasz")
    if needs_labels and labels_true is None:
        raise ValueError(f"objective={objective} needs true labels, but the data has none")
    out = evaluate(labels_true if needs_labels else None, labels_pred, None if needs_labels else X_fixed,
                   sample_size=sample_size, random_state=random_state)
    return out[objective]


def trial_metrics(model, X, labels_true, *, seed: int) -> dict[str, float]:
    """Every metric for a fitted model: label-based, fixed-space internal, own-space silhouette."""
    labels = model.labels_
    metrics = evaluate(labels_true, labels, X, random_state=seed)
    metrics["latent_silhouette"] = silhouette(model.transform(X), labels, metric="euclidean", random_state=seed)
    metrics["n_parameters"] = float(count_parameters(model.autoencoder_))
    metrics["n_iter"] = float(model.n_iter_)
    return metrics


def run_study(config, X: np.ndarray, labels_true, *, n_clusters: int, study=None, echo=print):
    """Run ``config.n_trials`` trials (counting those already in the study) and return it."""
    study = study or create_study(config)
    parent = mlflow.active_run().info.run_id

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, config)
        model = make_estimator(params, n_clusters=n_clusters, random_state=config.seed)
        with mlflow.start_run(run_name=f"trial-{trial.number:03d}", nested=True) as run:
            trial.set_user_attr("mlflow_run_id", run.info.run_id)
            mlflow.set_tags({"optuna.trial": trial.number, "study_name": config.study_name, "stage": "trial",
                             "parent_run": parent, "label_peeking": str(config.label_peeking).lower()})
            mlflow.log_params({**params, "n_clusters": n_clusters, "seed": config.seed})
            start = time.perf_counter()

            def report(step, logs):
                if logs["stage"] != "cluster":
                    return
                value = score(config.objective, labels_true, logs["labels"], X, sample_size=PRUNE_SAMPLE,
                              random_state=config.seed)
                trial.report(value, step)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at step {step}")

            try:
                model.fit(X, callback=report)
                value = score(config.objective, labels_true, model.labels_, X, random_state=config.seed)
                if not np.isfinite(value):
                    raise FloatingPointError(f"objective {config.objective} is {value}")
            except optuna.TrialPruned:
                _log_partial(model)
                mlflow.set_tag("state", "PRUNED")
                mlflow.end_run("KILLED")
                raise
            except Exception as exc:
                _log_partial(model)
                error = redact(f"{type(exc).__name__}: {exc}")[:500]
                trial.set_user_attr("error", error)
                mlflow.set_tags({"state": "FAIL", "error": error})
                mlflow.end_run("FAILED")
                raise
            metrics = trial_metrics(model, X, labels_true, seed=config.seed)
            metrics["fit_seconds"] = time.perf_counter() - start
            metrics["objective"] = value
            for name, v in metrics.items():
                trial.set_user_attr(name, v)
            mlflow.log_metrics(metrics)
            log_history(model.history_)
            mlflow.set_tag("state", "COMPLETE")
        return value

    def progress(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        best = _best_or_none(study)
        shown = {k: (f"{v:.3g}" if isinstance(v, float) else v) for k, v in trial.params.items()}
        value = "-" if trial.value is None else f"{trial.value:.4f}"
        acc = trial.user_attrs.get("acc")
        extra = "" if acc is None else f" (acc {acc:.3f}, nmi {trial.user_attrs['nmi']:.3f})"
        echo(f"trial {trial.number:3d} {trial.state.name:8s} {config.objective}={value}{extra} "
             f"best={'-' if best is None else f'{best.value:.4f} (#{best.number})'} {shown}")

    # Count completed trials across every worker and rerun, so a resumed or shared study
    # stops at n_trials in total rather than n_trials more.
    done = optuna.study.MaxTrialsCallback(config.n_trials, states=(optuna.trial.TrialState.COMPLETE,))
    failures: list[optuna.trial.FrozenTrial] = []

    def give_up(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        # A failing trial does not count towards n_trials; without a cap, a space where
        # every point fails (say, bad settings) would loop for ever.
        if trial.state == optuna.trial.TrialState.FAIL:
            failures.append(trial)
            if len(failures) >= max(3, config.n_trials):
                study.stop()

    if _n_complete(study) < config.n_trials:
        study.optimize(
            objective, timeout=config.timeout or None, callbacks=[progress, done, give_up],
            catch=(FloatingPointError, RuntimeError, ValueError),
        )
    if _n_complete(study) == 0:
        reason = failures[-1].user_attrs.get("error", "see the trial runs") if failures else "no trial finished in time"
        raise RuntimeError(f"no trial of study {config.study_name!r} completed ({len(failures)} failed): {reason}")
    return study


def _log_partial(model) -> None:
    history = getattr(model, "history_", None)
    if history:
        log_history(history)


def _n_complete(study) -> int:
    return sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.get_trials(deepcopy=False))


def _best_or_none(study):
    try:
        return study.best_trial
    except ValueError:
        return None
