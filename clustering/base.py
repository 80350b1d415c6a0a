"""The contract every clustering estimator of the library keeps.

Code above the library (the study, the final evaluation, the registered model, the
benchmarks) relies on this and on nothing else; ``tests/test_contract.py`` runs it over
every estimator.

Construction (scikit-learn's rules)
    ``Estimator(n_clusters, *, <keyword-only hyperparameters>, random_state=None | int |
    RandomState)``. ``__init__`` only stores its arguments, so ``clone`` and ``get_params``
    work; checks happen in ``fit``. ``random_state`` is read once per fit through
    ``clustering._utils.seed_of``: an int is used as it is, so a seed gives the same numbers
    as ever; None draws a fresh one.

Input, declared rather than guessed
    ``input_kind`` (a class attribute) is ``"embeddings"``: ``fit``/``predict`` take a float
    array (n_samples, n_features), rows L2-normalised sentence embeddings by convention; or
    ``"texts"``: a sequence of strings (the estimator embeds them itself, e.g. while adapting
    the encoder). Bad input fails with one ``ValueError`` line: wrong width, NaN, empty.

Fitting
    ``fit(X, y=None, *, callback=None)`` returns ``self`` and sets ``labels_`` (n_samples,),
    ``n_iter_`` (epochs or rounds of the clustering stage; KMeans: Lloyd iterations) and
    ``history_`` (a dict of per-epoch lists of floats, named by what they measure; ``{}``
    when there are no epochs). ``y`` is ignored: no estimator reads true labels.
    ``callback(step, logs)`` runs after every epoch (and round); ``logs["stage"]`` says which
    part of training it ends (``"pretrain"``, ``"train"`` or ``"cluster"``); a ``"cluster"``
    log carries ``labels``, the hard assignment at that point, so a caller can score it
    (Optuna prunes on it). Returning ``True`` stops training; an exception raised in the
    callback (e.g. ``optuna.TrialPruned``) propagates.

After fitting
    ``predict(X)`` (n_samples,), ``predict_proba(X)`` (n_samples, n_clusters) rows summing to
    one, ``transform(X)`` the representation the model clusters in, and
    ``clustering_space(X) -> (Z, metric)``: that representation with the distance the model
    uses there (``space_metric``), for internal scores such as the silhouette.
    ``n_trainable_parameters()`` counts the weights training updated (0 for KMeans).
    A fitted estimator pickles whole and loads on a machine without a GPU.
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
    """Base class of the library's clustering estimators; see the module docstring for the contract."""

    input_kind: ClassVar[str] = "embeddings"
    space_metric: ClassVar[str] = "euclidean"

    def clustering_space(self, X) -> tuple[np.ndarray, str]:
        """``(Z, metric)``: ``X`` in the space the fitted model clusters in, and its distance there."""
        return self.transform(X), self.space_metric

    def n_trainable_parameters(self) -> int:
        """Weights that training updated; 0 for a model without trainable weights."""
        return 0

    def fit_predict(self, X, y=None, **fit_params) -> np.ndarray:
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
