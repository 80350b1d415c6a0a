"""Figures for a clustering run: t-SNE of the latent space, contingency heatmap, curves.

Every function returns a ``matplotlib.figure.Figure`` built without ``pyplot`` (no GUI backend,
nothing left in pyplot's figure list); ``fig.savefig(...)`` renders it with Agg, and saving is the caller's job.
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


def tsne_rows(n_samples: int, max_points: int = 3000, random_state: int = 0) -> np.ndarray:
    """The samples ``tsne_plot`` embeds: all, or a sorted seeded subset of ``max_points`` above it.

    A caller whose points are costly to compute maps only these and passes them with the
    same ``max_points``: the plot is the one all the points would give.

    Parameters
    ----------
    n_samples : int
        Samples there are.
    max_points : int, default=3000
        Most samples embedded.
    random_state : int, default=0
        Seed of the subset.

    Returns
    -------
    rows : ndarray of shape (min(n_samples, max_points),)
        Indices, ascending.

    Examples
    --------
    >>> from clustering.plots import tsne_rows
    >>> tsne_rows(4).tolist(), len(tsne_rows(100, 10))
    ([0, 1, 2, 3], 10)
    """
    if n_samples <= max_points:
        return np.arange(n_samples)
    return np.sort(np.random.default_rng(random_state).choice(n_samples, max_points, replace=False))


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
    """Scatter a 2-D t-SNE of ``X``, coloured by cluster and, optionally, by true class.

    The left panel is coloured by ``labels_pred``; when ``labels_true`` is given, a right
    panel is coloured by the true classes, named through ``label_names``. Above
    ``max_points`` samples a seeded random subset is embedded, since t-SNE is quadratic-ish
    and a denser cloud shows nothing more.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The points, e.g. a model's latent space or the embeddings.
    labels_pred : array-like of shape (n_samples,)
        Cluster of each sample.
    labels_true : array-like of shape (n_samples,), default=None
        True class of each sample; None draws the left panel only.
    label_names : sequence of str or mapping, default=None
        Display name of each true class, ``label_names[label]``; None shows the labels.
    max_points : int, default=3000
        Most samples embedded; a seeded random subset above it.
    perplexity : float, default=30.0
        t-SNE's perplexity, capped at (n - 1) / 3 so tiny inputs still work.
    random_state : int, default=0
        Seed of the subset and of t-SNE.
    title : str, default=None
        Title above the panels.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One panel, or two side by side.

    Raises
    ------
    ValueError
        When ``X`` is not 2-D, the label arrays do not have one entry per sample, or there
        are fewer than 3 samples.

    See Also
    --------
    sklearn.manifold.TSNE : the embedding (``init="pca"``).
    contingency_heatmap : the same comparison as counts.

    Notes
    -----
    t-SNE: van der Maaten & Hinton, "Visualizing Data using t-SNE", JMLR 2008.

    Examples
    --------
    >>> import numpy as np
    >>> from clustering.plots import tsne_plot
    >>> X = np.random.default_rng(0).normal(size=(12, 5))
    >>> fig = tsne_plot(X, np.repeat([0, 1], 6), labels_true=np.repeat([1, 0], 6), label_names=["a", "b"])
    >>> type(fig).__name__, len(fig.axes)
    ('Figure', 2)
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

    idx = tsne_rows(len(X), max_points, random_state)
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
    """Draw the counts of true classes (rows) against clusters (columns), annotated in each cell.

    Columns are ordered by the Hungarian matching of clusters to classes (the one that
    defines clustering accuracy), so the diagonal holds the matched pairs; clusters left
    unmatched (more clusters than classes) come last.

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        True class of each sample.
    labels_pred : array-like of shape (n_samples,)
        Cluster of each sample.
    label_names : sequence of str or mapping, default=None
        Display name of each true class, ``label_names[label]``; None shows the labels.
    title : str, default=None
        Axes title; None: ``"contingency (columns in matched order)"``.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One heatmap of the counts.

    Raises
    ------
    ValueError
        When the label arrays are not 1-D of equal length.

    See Also
    --------
    sklearn.metrics.cluster.contingency_matrix : the counts.
    clustering.metrics.cluster_accuracy : the accuracy under the same matching.

    Examples
    --------
    >>> from clustering.plots import contingency_heatmap
    >>> fig = contingency_heatmap([0, 0, 1, 1, 2], [1, 1, 0, 0, 0], label_names=["x", "y", "z"])
    >>> ax = fig.axes[0]
    >>> [t.get_text() for t in ax.get_xticklabels()], [t.get_text() for t in ax.get_yticklabels()]
    (['1', '0'], ['x', 'y', 'z'])
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
    """Plot one line per named per-epoch series (e.g. ``ae_loss``, ``dec_loss``, ``label_change``).

    The x axis is the epoch, counted from 1; series may have different lengths, so an
    estimator's ``history_`` can be passed as it is.

    Parameters
    ----------
    histories : mapping of str to sequence of float
        Each series by its name, one value per epoch.
    logy : bool, default=False
        Whether the y axis is logarithmic.
    title : str, default=None
        Axes title; None: ``"training curves"``.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One axes, a legend when there is a series.

    See Also
    --------
    score_curve : scores against a swept value instead of the epoch.

    Examples
    --------
    >>> from clustering.plots import loss_curves
    >>> fig = loss_curves({"ae_loss": [1.0, 0.5, 0.25], "dec_loss": [0.3, 0.2]}, logy=True)
    >>> ax = fig.axes[0]
    >>> [line.get_label() for line in ax.get_lines()], ax.get_yscale(), ax.get_lines()[0].get_xdata().tolist()
    (['ae_loss', 'dec_loss'], 'log', [1, 2, 3])
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
    """Plot scores against a swept value (silhouette etc. against k), a dashed line at ``chosen``.

    Parameters
    ----------
    xs : array-like of shape (n_values,)
        The swept values, e.g. the numbers of clusters tried.
    ys_by_name : mapping of str to sequence of float
        Each score by its name, one value per entry of ``xs``.
    xlabel : str, default="k"
        Name of the swept value, on the x axis and in the ``chosen`` line's label.
    chosen : float, default=None
        Value marked by a dashed vertical line; None: no line.
    title : str, default=None
        Axes title; None: ``"scores by <xlabel>"``.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One axes with a line per score.

    Raises
    ------
    ValueError
        When a series does not have one value per entry of ``xs``.

    See Also
    --------
    loss_curves : per-epoch series.

    Examples
    --------
    >>> from clustering.plots import score_curve
    >>> fig = score_curve([2, 3, 4], {"silhouette": [0.1, 0.3, 0.2]}, chosen=3)
    >>> type(fig).__name__, fig.axes[0].get_legend().get_texts()[1].get_text()
    ('Figure', 'chosen k = 3')
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
