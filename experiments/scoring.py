"""Scoring one partition: the study's objective (``score``), its direction, the shared cross-view scorer.

``experiments.evaluation`` scores fitted models with these; nothing here fits a model or tracks.
"""

from __future__ import annotations

import numpy as np

from clustering.metrics import evaluate
from experiments.config import LABEL_FREE

__all__ = ["direction", "score", "cross_view_scorer", "MINIMISE", "QUICK_MEASURES", "CROSS_VIEW_ROWS"]

MINIMISE = {"davies_bouldin"}
QUICK_MEASURES = ("silhouette", "neighbours")  # cross_view's measures cheap enough for every epoch
# Past this many texts, cross_view scores a seeded sample of them: its measures read 5,000 rows,
# and its reference k-means and lexical view would otherwise grow with the corpus.
CROSS_VIEW_ROWS = 50_000


def direction(objective: str) -> str:
    """Optuna's direction for the study's objective.

    Parameters
    ----------
    objective : str
        The name of the objective (a metric of ``clustering.metrics.evaluate``, or ``cross_view``).

    Returns
    -------
    direction : {"minimize", "maximize"}
        ``"minimize"`` for the objectives in ``MINIMISE``, ``"maximize"`` for every other.

    Examples
    --------
    >>> direction("davies_bouldin")
    'minimize'
    >>> direction("silhouette")
    'maximize'
    """
    return "minimize" if objective in MINIMISE else "maximize"


def score(objective: str, labels_true, labels_pred, X_fixed, *, texts=None, n_clusters: int | None = None,
          sample_size=None, random_state=0, quick: bool = False) -> float:
    """The study's objective for one partition: label-free ones in the fixed space ``X_fixed``.

    ``cross_view``'s scorer is the same for every ``random_state`` (seeded 0): each seed's
    partition is judged against one reference on one sample, fitted once per corpus and k.

    Parameters
    ----------
    objective : str
        The study's objective: a metric of ``clustering.metrics.evaluate`` or ``cross_view``.
    labels_true : array-like of shape (n_samples,) or None
        The true labels; read only by the objectives not in ``LABEL_FREE``.
    labels_pred : array-like of shape (n_samples,)
        The partition to score.
    X_fixed : ndarray of shape (n_samples, n_features)
        The fixed embedding space the label-free objectives are measured in.
    texts : list of str, default=None
        ``cross_view``'s lexical view; without them ``X_fixed`` is its one view.
    n_clusters : int, default=None
        ``cross_view``'s reference k-means; None: the clusters ``labels_pred`` uses.
    sample_size : int, default=None
        Score a sample of this many points (``evaluate``'s and ``CrossViewScore.score``'s).
    random_state : int, default=0
        Seed of that sample for the objectives other than ``cross_view``.
    quick : bool, default=False
        Leave out ``cross_view``'s costly measure (a classifier's), for a score after every epoch.

    Returns
    -------
    value : float
        The objective's value for ``labels_pred``.

    Raises
    ------
    ValueError
        If ``objective`` needs true labels and ``labels_true`` is None.
    """
    needs_labels = objective not in LABEL_FREE
    if needs_labels and labels_true is None:
        raise ValueError(f"objective={objective} needs true labels, but the data has none")
    if objective == "cross_view":
        k = n_clusters if n_clusters is not None else len(np.unique(labels_pred))
        measures = QUICK_MEASURES if quick else None
        if len(X_fixed) > CROSS_VIEW_ROWS:  # one seeded sample of a large corpus, the same for every partition
            rows = np.sort(np.random.default_rng(0).choice(len(X_fixed), CROSS_VIEW_ROWS, replace=False))
            X_fixed, labels_pred = np.asarray(X_fixed)[rows], np.asarray(labels_pred)[rows]
            texts = None if texts is None else [texts[i] for i in rows]
        return cross_view_scorer(X_fixed, texts, k).score(labels_pred, sample_size=sample_size,
                                                                        measures=measures)
    out = evaluate(labels_true if needs_labels else None, labels_pred, None if needs_labels else X_fixed,
                   sample_size=sample_size, random_state=random_state)
    return out[objective]


_SCORERS: dict = {}  # the last few corpora's CrossViewScore, by content


def cross_view_scorer(X, texts, n_clusters: int, seed: int = 0):
    """``clustering.selection.CrossViewScore`` fitted on ``X`` and ``texts``, once per corpus, k and seed.

    The last few scorers are kept by content, so every trial and seed of one corpus reuses
    one. Its references for other numbers of clusters (partitions that leave some empty) are
    fitted on first use and kept with it.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The fixed embedding space.
    texts : list of str or None
        The lexical view; None for a scorer on ``X`` alone.
    n_clusters : int
        The number of clusters of the reference k-means.
    seed : int, default=0
        The scorer's ``random_state``.

    Returns
    -------
    scorer : clustering.selection.CrossViewScore
        The fitted scorer (shared: do not refit it).
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
