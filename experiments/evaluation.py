"""One evaluation path: fit a model on what it takes, score it every way, summarise seeds.

The study's trials, the baselines, the final evaluation and the benchmarks all measure a
model here, so a number means the same wherever it is printed. Nothing here tracks.
"""

from __future__ import annotations

import time

import numpy as np

from clustering.metrics import evaluate, silhouette
from experiments.config import LABEL_FREE

MINIMISE = {"davies_bouldin"}
QUICK_MEASURES = ("silhouette", "neighbours")  # cross_view's measures cheap enough for every epoch


def direction(objective: str) -> str:
    """Optuna's direction for the study's objective."""
    return "minimize" if objective in MINIMISE else "maximize"


def score(objective: str, labels_true, labels_pred, X_fixed, *, texts=None, n_clusters: int | None = None,
          sample_size=None, random_state=0, quick: bool = False) -> float:
    """The study's objective for one partition: label-free ones in the fixed space ``X_fixed``.

    ``cross_view`` also reads the ``texts`` (its lexical view; without them ``X_fixed`` is its
    one view) and ``n_clusters`` (its reference k-means; default: the clusters ``labels_pred`` uses);
    ``quick`` leaves out its costly measure (a classifier's), for a score after every epoch.
    ``cross_view``'s scorer is the same for every ``random_state`` (seeded 0): each seed's
    partition is judged against one reference on one sample, fitted once per corpus and k.
    """
    needs_labels = objective not in LABEL_FREE
    if needs_labels and labels_true is None:
        raise ValueError(f"objective={objective} needs true labels, but the data has none")
    if objective == "cross_view":
        k = n_clusters if n_clusters is not None else len(np.unique(labels_pred))
        measures = QUICK_MEASURES if quick else None
        return cross_view_scorer(X_fixed, texts, k).score(labels_pred, sample_size=sample_size,
                                                                        measures=measures)
    out = evaluate(labels_true if needs_labels else None, labels_pred, None if needs_labels else X_fixed,
                   sample_size=sample_size, random_state=random_state)
    return out[objective]


_SCORERS: dict = {}  # the last few corpora's CrossViewScore, by content


def cross_view_scorer(X, texts, n_clusters: int, seed: int = 0):
    """``clustering.selection.CrossViewScore`` fitted on ``X`` and ``texts`` (or None), once per corpus, k and seed.

    Its references for other numbers of clusters (partitions that leave some empty) are
    fitted on first use and kept with it.
    """
    import hashlib

    from clustering.selection import CrossViewScore

    X = np.ascontiguousarray(X)
    digest = hashlib.blake2b(X[:: max(1, len(X) // 512)].tobytes(), digest_size=16).hexdigest()
    key = (X.shape, digest, None if texts is None else (len(texts), texts[0], texts[-1]), int(n_clusters), int(seed))
    if key not in _SCORERS:
        if len(_SCORERS) >= 8:
            _SCORERS.pop(next(iter(_SCORERS)))
        _SCORERS[key] = CrossViewScore(int(n_clusters), random_state=int(seed)).fit(X, texts)
    return _SCORERS[key]


def objective_value(objective: str, metrics_: dict, model, X, labels_true, texts=None, *, seed: int) -> float:
    """The study's ``objective`` of a fitted ``model`` whose ``metrics`` are ``metrics_``: ``cross_view`` is
    one of them, scored the same way; the others are scored here."""
    if objective == "cross_view":
        return metrics_["cross_view"]
    return score(objective, labels_true, model.labels_, X, texts=texts, n_clusters=model.n_clusters,
                 random_state=seed)


def inputs(model, X, texts):
    """What ``model`` fits on (its declared ``input_kind``): the texts, or the embeddings ``X``."""
    if model.input_kind != "texts":
        return X
    if texts is None:
        raise ValueError(f"{type(model).__name__} fits raw texts: pass texts=")
    return texts


def fit(model, X, texts=None, *, callback=None, progress: str | None = None):
    """Fit ``model`` on what it takes; returns it. ``progress``: the label of a per-epoch bar
    (``experiments.progress.epoch_bar``, shown on a terminal only) around ``callback``."""
    if progress is None:
        return model.fit(inputs(model, X, texts), callback=callback)
    from experiments.progress import epoch_bar

    with epoch_bar(progress, callback) as tick:
        return model.fit(inputs(model, X, texts), callback=tick)


def metrics(model, X, labels_true, texts=None, *, seed: int) -> dict[str, float]:
    """Every metric of a fitted model: label-based (when labels exist) and internal in the fixed
    space ``X``, the silhouette in the model's own space, trainable weights, iterations."""
    labels = model.labels_
    out = evaluate(labels_true, labels, X, random_state=seed)
    own, metric = model.clustering_space(inputs(model, X, texts))
    out["latent_silhouette"] = silhouette(own, labels, metric=metric, random_state=seed)
    out["cross_view"] = score("cross_view", None, labels, X, texts=texts, n_clusters=model.n_clusters,
                              random_state=seed)
    out["n_parameters"] = float(model.n_trainable_parameters())
    out["n_iter"] = float(model.n_iter_)
    return out


def fit_and_score(model, X, labels_true, texts=None, *, seed: int, objective: str | None = None,
                  progress: str | None = None) -> dict[str, float]:
    """``fit`` (with a ``progress`` bar, if named) then ``metrics``, plus ``fit_seconds`` and, given
    one, the study's ``objective``."""
    start = time.perf_counter()
    fit(model, X, texts, progress=progress)
    fit_seconds = time.perf_counter() - start
    out = metrics(model, X, labels_true, texts, seed=seed)
    out["fit_seconds"] = fit_seconds
    if objective is not None:
        out["objective"] = objective_value(objective, out, model, X, labels_true, texts, seed=seed)
    return out


def mean_std(runs: list[dict], key: str) -> tuple[float, float]:
    """Mean and (population) standard deviation of ``key`` over runs, NaN ignored; NaNs if none."""
    values = [r[key] for r in runs if key in r and r[key] is not None and np.isfinite(r[key])]
    if not values:
        return float("nan"), float("nan")
    return float(np.mean(values)), float(np.std(values))


def summarise(runs: list[dict], keys=None) -> dict[str, float]:
    """``<key>_mean`` and ``<key>_std`` for every key (or those given) found in ``runs``."""
    keys = keys if keys is not None else sorted({k for r in runs for k in r})
    out = {}
    for key in keys:
        mean, std = mean_std(runs, key)
        if np.isfinite(mean):
            out[f"{key}_mean"], out[f"{key}_std"] = mean, std
    return out
