"""The contract every clustering estimator of the library keeps: ``ClusteringEstimator``.

The contract in full (construction, input, fitting, after fitting) is in ``docs/library.md``;
``tests/test_contract.py`` runs it over every estimator.
"""

from __future__ import annotations

import copy
import sys
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin

INPUT_KINDS = ("embeddings", "texts")
STAGES = ("pretrain", "train", "cluster")


class ClusteringEstimator(TransformerMixin, ClusterMixin, BaseEstimator):
    """Base class of the library's clustering estimators.

    A subclass is a scikit-learn estimator: ``__init__`` only stores ``n_clusters`` and the
    keyword-only hyperparameters (``random_state`` among them), checks happen in ``fit``, so
    ``clone`` and ``get_params`` work. It implements ``fit``, ``predict``, ``predict_proba`` and
    ``transform``, and declares what it takes (``input_kind``) and the distance it clusters with
    (``space_metric``). The contract in full: ``docs/library.md``.

    Attributes
    ----------
    input_kind : {"embeddings", "texts"}
        Class attribute. ``"embeddings"``: ``fit``/``predict`` take a float array (n_samples,
        n_features), rows L2-normalised sentence embeddings by convention; ``"texts"``: a
        sequence of strings, which the estimator embeds itself.
    space_metric : str
        Class attribute: the distance the model uses in the space of ``transform``.
    labels_ : ndarray of shape (n_samples,)
        Set by ``fit``: the cluster of each training sample.
    n_iter_ : int
        Set by ``fit``: epochs or rounds of the clustering stage (KMeans: Lloyd iterations).
    history_ : dict of str to list of float
        Set by ``fit``: per-epoch values, named by what they measure; ``{}`` without epochs.

    See Also
    --------
    clustering.baselines.EmbeddingKMeans : The simplest subclass.
    clustering.dec.DEC : A subclass that trains in epochs and calls back after each.

    Notes
    -----
    ``fit(X, y=None, *, callback=None)`` returns ``self``; ``y`` is ignored: no estimator reads
    true labels. ``callback(step, logs)`` runs after every epoch (and round), ``logs["stage"]``
    one of ``STAGES``; a ``"cluster"`` log carries ``labels``, the hard assignment then, so a
    caller can score it (Optuna prunes on it). Returning ``True`` stops training; an exception
    raised in the callback propagates. A fitted estimator pickles whole, its torch modules as
    CPU copies, and loads on a machine without a GPU.

    Examples
    --------
    >>> import pickle
    >>> from sklearn.base import clone
    >>> from sklearn.datasets import make_blobs
    >>> from clustering.baselines import EmbeddingKMeans
    >>> X, _ = make_blobs(60, n_features=8, centers=2, random_state=0)
    >>> model = EmbeddingKMeans(2).fit(X)
    >>> isinstance(model, ClusteringEstimator), clone(model).get_params()["n_clusters"], model.clustering_space(X)[1]
    (True, 2, 'cosine')
    >>> bool((pickle.loads(pickle.dumps(model)).predict(X) == model.labels_).all())
    True
    """

    input_kind: ClassVar[str] = "embeddings"
    space_metric: ClassVar[str] = "euclidean"

    def clustering_space(self, X, **params) -> tuple[np.ndarray, str]:
        """``(Z, metric)``: ``X`` in the space the fitted model clusters in, and its distance there.

        ``params`` go to ``transform`` (e.g. ``embeddings=`` of text-input models that take them).
        """
        return self.transform(X, **params), self.space_metric

    def n_trainable_parameters(self) -> int:
        """Weights that training updated; 0 for a model without trainable weights."""
        return 0

    def fit_predict(self, X, y=None, **fit_params) -> np.ndarray:
        """Fit on ``X`` (``fit_params`` passed on, ``y`` ignored) and return ``labels_``."""
        return self.fit(X, **fit_params).labels_

    def __getstate__(self):
        # A model trained on a GPU must load where there is none: pickle CPU copies of its
        # torch modules, and leave the fitted model itself where it is.
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__.copy()
        torch = sys.modules.get("torch")
        if torch is None:
            return state
        return {k: _on_cpu(v, torch) for k, v in state.items()}


def _on_cpu(value, torch):
    if isinstance(value, torch.nn.Module) and any(t.device.type != "cpu" for t in _tensors(value)):
        return copy.deepcopy(value).cpu()
    return value


def _tensors(module):
    yield from module.parameters()
    yield from module.buffers()
