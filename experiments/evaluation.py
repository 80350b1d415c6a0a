"""One evaluation path: fit a model on what it takes, score it every way, summarise seeds.

The study's trials, the baselines, the final evaluation and the benchmarks all measure a
model here, so a number means the same wherever it is printed. Nothing here tracks.
"""

from __future__ import annotations

import time

import numpy as np

from clustering.metrics import evaluate, sample_rows, silhouette
from experiments.scoring import CROSS_VIEW_ROWS, MINIMISE, QUICK_MEASURES, cross_view_scorer, direction, score

__all__ = ["direction", "score", "cross_view_scorer", "objective_value", "inputs", "fit", "assign", "own_space",
           "metrics", "fit_and_score", "mean_std", "summarise", "MINIMISE", "QUICK_MEASURES", "CROSS_VIEW_ROWS",
           "ASSIGN_CHUNK", "LATENT_SAMPLE"]

# Texts ``assign`` predicts at once: what a prediction holds (two-view features, posteriors)
# stays this size however many texts there are.
ASSIGN_CHUNK = 50_000
LATENT_SAMPLE = 10_000  # texts the own-space silhouette is computed on (``silhouette``'s default)


def objective_value(objective: str, metrics_: dict, model, X, labels_true, texts=None, *, seed: int,
                    labels=None) -> float:
    """The study's ``objective`` of a fitted ``model`` whose ``metrics`` are ``metrics_``.

    ``cross_view`` is one of those metrics, scored the same way; the others are scored here.

    Parameters
    ----------
    objective : str
        The study's objective.
    metrics_ : dict
        The model's ``metrics``; its ``cross_view`` is returned for that objective.
    model : estimator
        A fitted estimator of the library (``labels_``, ``n_clusters``).
    X : ndarray of shape (n_samples, n_features)
        The fixed embedding space.
    labels_true : array-like of shape (n_samples,) or None
        The true labels, for the objectives that read them.
    texts : list of str, default=None
        The corpus' texts, aligned with ``X``.
    seed : int
        The scoring seed.
    labels : ndarray of shape (n_samples,), default=None
        Every text's cluster, when already computed; None: ``assign``'s.

    Returns
    -------
    value : float
        The objective's value.
    """
    if objective == "cross_view":
        return metrics_["cross_view"]
    labels = assign(model, X, texts) if labels is None else labels
    return score(objective, labels_true, labels, X, texts=texts, n_clusters=model.n_clusters, random_state=seed)


def inputs(model, X, texts):
    """What ``model`` fits on (its declared ``input_kind``): the texts, or the embeddings ``X``.

    Parameters
    ----------
    model : estimator
        An estimator of the library, with ``input_kind``.
    X : ndarray of shape (n_samples, n_features)
        The embeddings.
    texts : list of str or None
        The texts, aligned with ``X``.

    Returns
    -------
    inputs : list of str or ndarray
        ``texts`` when ``model.input_kind == "texts"``, else ``X``.

    Raises
    ------
    ValueError
        If ``model`` fits raw texts and ``texts`` is None.
    """
    if model.input_kind != "texts":
        return X
    if texts is None:
        raise ValueError(f"{type(model).__name__} fits raw texts: pass texts=")
    return texts


def fit(model, X, texts=None, *, callback=None, progress: str | None = None):
    """Fit ``model`` on what it takes (``inputs``).

    Parameters
    ----------
    model : estimator
        An unfitted estimator of the library.
    X : ndarray of shape (n_samples, n_features)
        The embeddings.
    texts : list of str, default=None
        The texts, aligned with ``X``; needed by text-input models.
    callback : callable, default=None
        ``callback(step, logs)``, called by the estimator after every epoch or round.
    progress : str, default=None
        The label of a per-epoch bar (``experiments.progress.epoch_bar``, shown on a terminal
        only) around ``callback``; None: no bar.

    Returns
    -------
    model : estimator
        The fitted ``model``.
    """
    if progress is None:
        return model.fit(inputs(model, X, texts), callback=callback, **_rows(model.fit, X))
    from experiments.progress import epoch_bar

    with epoch_bar(progress, callback) as tick:
        return model.fit(inputs(model, X, texts), callback=tick, **_rows(model.fit, X))


def _rows(method, X) -> dict:
    """``{"embeddings": X}`` for a text-input method that also takes the texts' rows (so it never embeds
    them again, a sample of the corpus included), else nothing."""
    import inspect

    return {"embeddings": X} if "embeddings" in inspect.signature(method).parameters else {}


def assign(model, X, texts=None) -> np.ndarray:
    """The cluster of every text: the fit's own labels when it saw them all, else ``model.predict``.

    Parameters
    ----------
    model : estimator
        A fitted estimator of the library, fitted on all of ``X`` or on a sample of it.
    X : ndarray of shape (n_samples, n_features)
        The embeddings of every text.
    texts : list of str, default=None
        The texts, aligned with ``X``.

    Returns
    -------
    labels : ndarray of shape (n_samples,)
    """
    labels = np.asarray(model.labels_)
    if len(labels) == len(X):
        return labels
    data = inputs(model, X, texts)
    return np.concatenate([model.predict(data[start:start + ASSIGN_CHUNK], **_rows(model.predict, X[start:start + ASSIGN_CHUNK]))
                           for start in range(0, len(X), ASSIGN_CHUNK)])


def own_space(model, X, texts=None, rows=None) -> tuple[np.ndarray, str]:
    """``model.clustering_space`` of the texts at ``rows`` (None: all), given their embeddings where it takes them.

    A model fitted on every text maps them all (it may keep its training texts' space) and
    returns those rows; one fitted on a sample maps only ``rows``.

    Parameters
    ----------
    model : estimator
        A fitted estimator of the library.
    X : ndarray of shape (n_samples, n_features)
        The embeddings of every text.
    texts : list of str, default=None
        The texts, aligned with ``X``.
    rows : ndarray of int or None, default=None
        The texts wanted.

    Returns
    -------
    Z : ndarray of shape (len(rows), dim)
        Those texts in the model's own space.
    metric : str
        The distance there.
    """
    if rows is None or len(model.labels_) == len(X):
        Z, metric = model.clustering_space(inputs(model, X, texts), **_rows(model.transform, X))
        return (Z if rows is None else Z[rows]), metric
    X, texts = X[rows], None if texts is None else [texts[i] for i in rows]
    return model.clustering_space(inputs(model, X, texts), **_rows(model.transform, X))


def metrics(model, X, labels_true, texts=None, *, seed: int, labels=None) -> dict[str, float]:
    """Every metric of a fitted model.

    Label-based metrics (when labels exist) and internal ones in the fixed space ``X``, the
    silhouette in the model's own space (``latent_silhouette``), ``cross_view``, the number of
    trainable weights (``n_parameters``) and of iterations (``n_iter``).

    Parameters
    ----------
    model : estimator
        A fitted estimator of the library.
    X : ndarray of shape (n_samples, n_features)
        The fixed embedding space.
    labels_true : array-like of shape (n_samples,) or None
        The true labels; None leaves out the label-based metrics.
    texts : list of str, default=None
        The texts, aligned with ``X``.
    seed : int
        The scoring seed.
    labels : ndarray of shape (n_samples,), default=None
        Every text's cluster, when already computed; None: ``assign``'s.

    Returns
    -------
    metrics : dict of str to float
        Every metric by name.
    """
    labels = assign(model, X, texts) if labels is None else labels
    out = evaluate(labels_true, labels, X, random_state=seed)
    rows = sample_rows(len(X), LATENT_SAMPLE, seed)  # silhouette's own sample, so own_space maps no more
    own, metric = own_space(model, X, texts, rows)
    out["latent_silhouette"] = silhouette(own, labels if rows is None else labels[rows], metric=metric,
                                          sample_size=None)
    out["cross_view"] = score("cross_view", None, labels, X, texts=texts, n_clusters=model.n_clusters,
                              random_state=seed)
    out["n_parameters"] = float(model.n_trainable_parameters())
    out["n_iter"] = float(model.n_iter_)
    return out


def fit_and_score(model, X, labels_true, texts=None, *, seed: int, objective: str | None = None,
                  progress: str | None = None, fit_sample: int = 0) -> dict[str, float]:
    """``fit`` then ``metrics``, plus ``fit_seconds`` and, given one, the study's ``objective``.

    Parameters
    ----------
    model : estimator
        An unfitted estimator of the library.
    X : ndarray of shape (n_samples, n_features)
        The fixed embedding space.
    labels_true : array-like of shape (n_samples,) or None
        The true labels, or None.
    texts : list of str, default=None
        The texts, aligned with ``X``.
    seed : int
        The scoring seed.
    objective : str, default=None
        The study's objective, added as ``objective``; None leaves it out.
    progress : str, default=None
        The label of a per-epoch bar (``fit``'s); None: no bar.
    fit_sample : int, default=0
        With more texts than this, the model fits a sample of this many (drawn with ``seed``) and
        every text is scored by its assignment (``assign``); 0: it fits them all.

    Returns
    -------
    metrics : dict of str to float
        ``metrics``'s, with ``fit_seconds``, ``fit_texts`` and (given ``objective``) ``objective``.
    """
    X_fit, texts_fit = X, texts
    if fit_sample and len(X) > fit_sample:
        rows = np.sort(np.random.default_rng(seed).choice(len(X), fit_sample, replace=False))
        X_fit, texts_fit = X[rows], None if texts is None else [texts[i] for i in rows]
    start = time.perf_counter()
    fit(model, X_fit, texts_fit, progress=progress)
    fit_seconds = time.perf_counter() - start
    labels = assign(model, X, texts)  # once: past fit_sample it is a prediction of every text
    out = metrics(model, X, labels_true, texts, seed=seed, labels=labels)
    out["fit_seconds"], out["fit_texts"] = fit_seconds, float(len(X_fit))
    if objective is not None:
        out["objective"] = objective_value(objective, out, model, X, labels_true, texts, seed=seed, labels=labels)
    return out


def mean_std(runs: list[dict], key: str) -> tuple[float, float]:
    """Mean and (population) standard deviation of ``key`` over runs, NaN ignored.

    Parameters
    ----------
    runs : list of dict
        One dict of metrics per run; runs without ``key``, or with None or a non-finite value, are skipped.
    key : str
        The metric.

    Returns
    -------
    mean : float
        The mean, NaN when no run has a finite value.
    std : float
        The population standard deviation, NaN when no run has a finite value.

    Examples
    --------
    >>> mean_std([{"acc": 0.5}, {"acc": 1.0}, {"acc": float("nan")}, {}], "acc")
    (0.75, 0.25)
    >>> mean_std([{}], "acc")
    (nan, nan)
    """
    values = [r[key] for r in runs if key in r and r[key] is not None and np.isfinite(r[key])]
    if not values:
        return float("nan"), float("nan")
    return float(np.mean(values)), float(np.std(values))


def summarise(runs: list[dict], keys=None) -> dict[str, float]:
    """``<key>_mean`` and ``<key>_std`` for every key (or those given) found in ``runs``.

    Parameters
    ----------
    runs : list of dict
        One dict of metrics per run.
    keys : list of str, default=None
        The metrics to summarise; None: every key of every run.

    Returns
    -------
    summary : dict of str to float
        ``<key>_mean`` and ``<key>_std`` (``mean_std``'s) for each key with a finite mean.

    Examples
    --------
    >>> summarise([{"acc": 0.5}, {"acc": 0.5}])
    {'acc_mean': 0.5, 'acc_std': 0.0}
    """
    keys = keys if keys is not None else sorted({k for r in runs for k in r})
    out = {}
    for key in keys:
        mean, std = mean_std(runs, key)
        if np.isfinite(mean):
            out[f"{key}_mean"], out[f"{key}_std"] = mean, std
    return out
