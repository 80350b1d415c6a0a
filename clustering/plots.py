"""Figures for a clustering run: t-SNE of the latent space, contingency heatmap, curves.

Every function returns a ``matplotlib.figure.Figure`` built without ``pyplot``, so no GUI
backend is ever selected and nothing stays registered in pyplot's global figure list;
``fig.savefig(...)`` renders it with Agg. Saving is the caller's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D


def _name(value, label_names) -> str:
    """Display name of a label: ``label_names[value]`` (a sequence or a mapping) or the value."""
    if label_names is None:
        return str(value)
    return str(label_names[int(value)])


def _palette(n: int) -> list:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20" if n <= 20 else "turbo"]
    return [cmap(i) for i in range(n)] if n <= 20 else [cmap(i / max(n - 1, 1)) for i in range(n)]


def _scatter_by_label(ax, xy: np.ndarray, labels: np.ndarray, label_names, title: str) -> None:
    # One scatter call for all points (so no class is drawn on top of the others), with a
    # discrete colour per label and a hand-made legend.
    values, codes = np.unique(labels, return_inverse=True)
    colors = _palette(len(values))
    ax.scatter(xy[:, 0], xy[:, 1], c=[colors[c] for c in codes], s=4, alpha=0.7, linewidths=0)
    if len(values) <= 20:
        handles = [
            Line2D([], [], marker="o", linestyle="", color=colors[i], label=_name(v, label_names))
            for i, v in enumerate(values)
        ]
        ax.legend(handles=handles, fontsize="small", markerscale=1.2, loc="best")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])


def tsne_plot(
    X,
    labels_pred,
    labels_true=None,
    *,
    label_names: Sequence[str] | Mapping | None = None,
    max_points: int = 3000,
    perplexity: float = 30.0,
    random_state: int = 0,
    title: str | None = None,
) -> Figure:
    """2-D t-SNE (van der Maaten & Hinton 2008) of ``X`` (n_samples, n_features).

    Left panel coloured by ``labels_pred`` (n_samples,); when ``labels_true`` is given, a
    right panel coloured by the true classes, named through ``label_names``. Above
    ``max_points`` samples a seeded random subset is embedded, since t-SNE is quadratic-ish
    and a denser cloud shows nothing more. ``perplexity`` is capped at (n - 1) / 3 so tiny
    inputs still work.
    """
    from sklearn.manifold import TSNE

    X = np.asarray(X, dtype=np.float64)
    labels_pred = np.asarray(labels_pred)
    if X.ndim != 2 or len(labels_pred) != len(X):
        raise ValueError(f"X must be 2-D with one row per label; got X {X.shape}, labels {labels_pred.shape}")
    if labels_true is not None:
        labels_true = np.asarray(labels_true)
        if len(labels_true) != len(X):
            raise ValueError(f"labels_true has {len(labels_true)} entries for {len(X)} samples")
    if len(X) < 3:
        raise ValueError(f"t-SNE needs at least 3 samples; got {len(X)}")

    idx = np.arange(len(X))
    if len(X) > max_points:
        idx = np.sort(np.random.default_rng(random_state).choice(len(X), max_points, replace=False))
    perplexity = float(min(perplexity, max(1.0, (len(idx) - 1) / 3)))
    xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=random_state).fit_transform(X[idx])

    n_panels = 1 if labels_true is None else 2
    fig = Figure(figsize=(6 * n_panels, 5.5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n_panels))
    _scatter_by_label(axes[0], xy, labels_pred[idx], None, "clusters")
    if labels_true is not None:
        _scatter_by_label(axes[1], xy, labels_true[idx], label_names, "true classes")
    if title:
        fig.suptitle(title)
    return fig


def _matched_column_order(table: np.ndarray) -> np.ndarray:
    """Columns of a (classes x clusters) table reordered so matched pairs lie on the diagonal."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(table, maximize=True)
    matched = cols[np.argsort(rows)]
    rest = np.setdiff1d(np.arange(table.shape[1]), matched)
    return np.concatenate([matched, rest]).astype(int)


def contingency_heatmap(
    labels_true,
    labels_pred,
    *,
    label_names: Sequence[str] | Mapping | None = None,
    title: str | None = None,
) -> Figure:
    """Counts of true classes (rows) against clusters (columns), annotated in each cell.

    Columns are ordered by the Hungarian matching of clusters to classes (the one that
    defines clustering accuracy), so the diagonal holds the matched pairs; clusters left
    unmatched (more clusters than classes) come last. Both inputs have shape (n_samples,).
    """
    from sklearn.metrics.cluster import contingency_matrix

    labels_true, labels_pred = np.asarray(labels_true), np.asarray(labels_pred)
    if labels_true.shape != labels_pred.shape or labels_true.ndim != 1:
        raise ValueError(f"labels must be 1-D of equal length; got {labels_true.shape} and {labels_pred.shape}")
    classes, clusters = np.unique(labels_true), np.unique(labels_pred)
    table = contingency_matrix(labels_true, labels_pred)
    order = _matched_column_order(table)
    table = table[:, order]

    n_rows, n_cols = table.shape
    fig = Figure(figsize=(1.0 + 0.8 * n_cols + 1.5, 1.0 + 0.6 * n_rows), layout="constrained")
    ax = fig.subplots()
    ax.imshow(table, cmap="Blues", aspect="auto")
    threshold = table.max() / 2
    for i in range(n_rows):
        for j in range(n_cols):
            ax.text(j, i, str(table[i, j]), ha="center", va="center", fontsize="small",
                    color="white" if table[i, j] > threshold else "black")
    ax.set_xticks(range(n_cols), [str(c) for c in clusters[order]])
    ax.set_yticks(range(n_rows), [_name(c, label_names) for c in classes])
    ax.set_xlabel("cluster")
    ax.set_ylabel("true class")
    ax.set_title(title or "contingency (columns in matched order)")
    return fig


def loss_curves(histories: Mapping[str, Sequence[float]], *, logy: bool = False, title: str | None = None) -> Figure:
    """One line per named per-epoch series (e.g. ``ae_loss``, ``dec_loss``, ``label_change``).

    The x axis is the epoch, counted from 1; series may have different lengths.
    """
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    for name, values in histories.items():
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, marker="o" if len(values) <= 30 else None,
                markersize=3, label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("value")
    if histories:
        ax.legend()
    ax.set_title(title or "training curves")
    return fig


def score_curve(
    xs,
    ys_by_name: Mapping[str, Sequence[float]],
    *,
    xlabel: str = "k",
    chosen=None,
    title: str | None = None,
) -> Figure:
    """Scores against a swept value (silhouette etc. against k), a dashed line at ``chosen``.

    Every series in ``ys_by_name`` must have one value per entry of ``xs``.
    """
    xs = np.asarray(xs)
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    for name, ys in ys_by_name.items():
        ys = np.asarray(ys, dtype=float)
        if len(ys) != len(xs):
            raise ValueError(f"series {name!r} has {len(ys)} values for {len(xs)} x values")
        ax.plot(xs, ys, marker="o", label=name)
    if chosen is not None:
        ax.axvline(chosen, color="grey", linestyle="--", label=f"chosen {xlabel} = {chosen}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("score")
    if ys_by_name or chosen is not None:
        ax.legend()
    ax.set_title(title or f"scores by {xlabel}")
    return fig
