"""The clustering methods the suite knows: one record each, and the one place to add one.

A record names the method's estimator and says which settings the run gives it, its reference
settings, its Optuna search space and how tables name it. Config, the study, the champion rule,
the final evaluation, the registered model, MLproject's named entry points and the benchmarks
read these records and nothing else about a method. To add a method: write the estimator (the
library's contract, ``clustering.base``), then ``register(Method(...))``; ``tests/test_methods.py``
does exactly that with a toy method.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
# Constructor arguments the run fills in itself: never settings of a point.
RUN_ARGUMENTS = frozenset({"n_clusters", "random_state", "device", "embedding_model"})


@dataclass(frozen=True)
class Method:
    """One clustering method of the suite.

    Parameters
    ----------
    name : str
        The identifier runs, studies and MLproject use (``method=name``).
    display : str
        How tables and the MLflow UI name it.
    estimator : type or str
        The estimator class, or ``"module:Class"`` to import it when first needed (so that
        parsing a config never loads torch). Its ``get_params()`` names the settings.
    reference : dict, default={}
        The settings the method is known by (the seed report's, for DEC and IDEC).
    space : callable or None, default=None
        ``space(trial, config) -> settings`` for one Optuna trial, its distributions named with
        ``prefix`` so that methods never share one; None: nothing to search.
    fixed : dict, default={}
        Settings that go with every searched point (Optuna does not record them).
    prefix : str, default=""
        Prefix of the method's distributions in a study.
    family : tuple of str, default=()
        Methods that share their settings: the final evaluation tries a tuned point as each.
    searchable : bool, default=True
        Whether ``method=search`` may choose it.
    start_study : bool, default=False
        Whether every new study tries its reference settings first.
    reference_name : str, default=""
        Names the reference settings in tables (``"seed report settings"``).
    candidate : bool, default=False
        Whether every main run fits it at its reference settings as a candidate for the champion.
    named : bool, default=False
        Whether MLproject has an entry point of that name (``evaluate`` at the reference).
    derived : dict of str to tuple, default={}
        Constructor arguments given by other settings, e.g. ``{"hidden_dims": ("architecture",
        "latent_dim")}``: the tuple's settings replace the argument and ``arguments`` turns them
        into it.
    arguments : callable or None, default=None
        ``arguments(settings) -> constructor keyword arguments`` where ``derived`` is not empty.
    description : str, default=""
        One phrase for ``--help``.
    representation : str, default="latent"
        What the space it clusters in is, for tables.

    Attributes
    ----------
    known : frozenset of str
        The settings a point may give: the estimator's ``get_params()`` less ``RUN_ARGUMENTS``,
        with ``derived`` arguments replaced by their settings.
    input_kind : str
        The estimator's (``clustering.base``): ``"embeddings"`` or ``"texts"``.
    """

    name: str
    display: str
    estimator: type | str
    reference: dict = field(default_factory=dict)
    space: Callable | None = None
    fixed: dict = field(default_factory=dict)
    prefix: str = ""
    family: tuple = ()
    searchable: bool = True
    start_study: bool = False
    reference_name: str = ""
    candidate: bool = False
    named: bool = False
    derived: dict = field(default_factory=dict)
    arguments: Callable[[dict], dict] | None = None
    description: str = ""
    representation: str = "latent"

    @cached_property
    def estimator_class(self) -> type:
        if not isinstance(self.estimator, str):
            return self.estimator
        module, _, name = self.estimator.partition(":")
        return getattr(importlib.import_module(module), name)

    @cached_property
    def _arguments(self) -> frozenset:
        return frozenset(self.estimator_class().get_params(deep=False))

    @cached_property
    def known(self) -> frozenset:
        settings = self._arguments - RUN_ARGUMENTS - set(self.derived)
        return frozenset(settings.union(*self.derived.values()))

    @property
    def input_kind(self) -> str:
        return self.estimator_class.input_kind

    @property
    def reference_row(self) -> str:
        """The table row of the reference settings: ``"DEC (seed report settings)"``."""
        return f"{self.display} ({self.reference_name})" if self.reference_name else self.display

    def make(self, params: dict, *, n_clusters: int, random_state, device=None,
             embedding_model: str = DEFAULT_EMBEDDING_MODEL):
        """The unfitted estimator for ``params`` (settings in ``known``, every one optional)."""
        run = {"device": device, "embedding_model": embedding_model}
        kwargs = {k: v for k, v in run.items() if k in self._arguments}
        settings = self.arguments(dict(params)) if self.arguments is not None else dict(params)
        return self.estimator_class(n_clusters, random_state=random_state, **kwargs, **settings)


_REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` (or replace the record of that name); returns it."""
    if not method.name.isidentifier() or method.name == "search":
        raise ValueError(f"method name must be an identifier other than 'search'; got {method.name!r}")
    _REGISTRY[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove the record ``name`` (nothing when there is none)."""
    _REGISTRY.pop(name, None)


def get(name: str) -> Method:
    """The record ``name``; a ValueError listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(_REGISTRY)}") from None


def names(*, searchable: bool | None = None) -> list[str]:
    """Registered method names, in registration order (only the searchable ones if asked)."""
    return [n for n, m in _REGISTRY.items() if searchable is None or m.searchable == searchable]


def records() -> list[Method]:
    """Every record, in registration order."""
    return list(_REGISTRY.values())


def candidates() -> list[Method]:
    """The records every main run fits at their reference settings as candidates for the champion."""
    return [m for m in _REGISTRY.values() if m.candidate]


# -- DEC and IDEC ------------------------------------------------------------------------------------
ARCHITECTURES = {  # encoder hidden sizes before the latent layer
    "256-128": (256, 128),
    "512-256": (512, 256),
    "256": (256,),
    "500-500-2000": (500, 500, 2000),  # Xie et al. 2016's DEC architecture
}
SEED_REPORT_DEC = {"architecture": "256-128", "latent_dim": 64, "lr": 1e-3, "pretrain_epochs": 20, "epochs": 10,
                   "batch_size": 64, "alpha": 1.0, "dec_lr": 1e-4, "update_interval": 1, "batch_norm": False,
                   "dropout": 0.0, "weight_decay": 0.0}
# The deep methods' safeguards in the study: start from KMeans on the embeddings and keep the
# state the label-free monitor scores best (clustering.dec). Not searched: each trial would
# otherwise spend a slot rediscovering that dropping them loses to KMeans on many-class data.
ROBUST = {"init": "input", "early_stopping": True}
_LAYERS = {"hidden_dims": ("architecture", "latent_dim")}


def _dec_arguments(settings: dict) -> dict:
    """``architecture`` and ``latent_dim`` as DEC's ``hidden_dims``."""
    hidden = ARCHITECTURES[settings.pop("architecture", "256-128")]
    return {"hidden_dims": (*hidden, int(settings.pop("latent_dim", 64))), **settings}


def _dec_space(trial, config) -> dict:
    return {
        "architecture": trial.suggest_categorical("architecture", list(ARCHITECTURES)),
        "latent_dim": trial.suggest_categorical("latent_dim", [10, 32, 64, 128]),
        "lr": trial.suggest_float("lr", 1e-4, 3e-3, log=True),
        "pretrain_epochs": trial.suggest_int("pretrain_epochs", min(5, config.max_pretrain_epochs),
                                             config.max_pretrain_epochs),
        "epochs": trial.suggest_int("epochs", min(2, config.max_epochs), config.max_epochs),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
        "alpha": trial.suggest_float("alpha", 0.5, 2.0),
        "dec_lr": trial.suggest_float("dec_lr", 1e-5, 1e-3, log=True),
        "update_interval": trial.suggest_int("update_interval", 1, 3),
        "batch_norm": trial.suggest_categorical("batch_norm", [False, True]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.3),
        "weight_decay": trial.suggest_categorical("weight_decay", [0.0, 1e-5, 1e-4]),
    }


def _idec_space(trial, config) -> dict:
    return {**_dec_space(trial, config), "gamma": trial.suggest_float("gamma", 0.01, 1.0, log=True)}


# -- self-training: adapts the sentence encoder itself ------------------------------------------------
# The named configuration (`mlflow run . -e selftrain`): SCCL's two losses (KL to the sharpened
# target + instance contrast), with nearest neighbours in the starting space as positives, one
# epoch on the top two layers of the encoder; nothing in it depends on the corpus. These are
# SelfTrainingClusterer's own defaults, spelled out so that the run's params show them.
SELFTRAIN_REFERENCE = {"loss": "kl", "rounds": 1, "epochs_per_round": 1, "lr": 2e-4, "batch_size": 64,
                       "trainable_layers": 2, "positives": "neighbors", "n_neighbors": 10,
                       "contrastive_weight": 1.0}


def _selftrain_space(trial, config) -> dict:
    """The ranges hold what a 2-core CPU runs in minutes per trial."""
    loss = trial.suggest_categorical("st_loss", ["kl", "ce", "none"])
    params = {
        "loss": loss,
        "rounds": trial.suggest_int("st_rounds", 1, 2),
        "epochs_per_round": trial.suggest_int("st_epochs_per_round", 1, min(2, config.max_epochs)),
        "lr": trial.suggest_float("st_lr", 2e-5, 5e-4, log=True),
        "trainable_layers": trial.suggest_int("st_trainable_layers", 1, 3),
        "positives": trial.suggest_categorical("st_positives", ["neighbors", "dropout"]),
        "contrastive_weight": trial.suggest_float("st_contrastive_weight", 0.1 if loss == "none" else 0.0, 1.0),
    }
    if loss == "ce":
        params["confident_fraction"] = trial.suggest_float("st_confident_fraction", 0.3, 1.0)
    return params


# -- pseudo-labelling on two views: MiniLM and tf-idf ---------------------------------------------------
# clustering.pseudolabel: k-means on [MiniLM, tf-idf LSA], then Sinkhorn-balanced pseudo-labels, a
# classifier on each cluster's confident core and neighbour smoothing of its posterior; its constructor
# defaults are the named configuration (`mlflow run . -e pseudolabel`), the same on every corpus.
PSEUDOLABEL_REFERENCE = {"lexical_weight": 0.7, "lexical_dims": 128, "rounds": 8, "confident_fraction": 0.7,
                         "balance": "auto", "C": 1.0, "neighbors": 10, "smoothing": 0.5, "select": "cross_view"}


def _pseudolabel_space(trial, config) -> dict:
    """The ranges of the estimator's docstring; the label-free guard stays on."""
    return {
        "lexical_weight": trial.suggest_float("pl_lexical_weight", 0.0, 1.5),
        "lexical_dims": trial.suggest_categorical("pl_lexical_dims", [32, 64, 128, 256, 512]),
        "rounds": trial.suggest_int("pl_rounds", 0, 15),
        "confident_fraction": trial.suggest_float("pl_confident_fraction", 0.3, 1.0),
        "balance": trial.suggest_categorical("pl_balance", ["auto", 1.0, 0.75, 0.5, 0.25, 0.0]),
        "C": trial.suggest_float("pl_C", 0.1, 10.0, log=True),
        "neighbors": trial.suggest_categorical("pl_neighbors", [0, 5, 10, 20, 40]),
        "smoothing": trial.suggest_float("pl_smoothing", 0.0, 0.9),
    }


register(Method("kmeans", "SBERT + KMeans", "clustering.baselines:EmbeddingKMeans", start_study=True,
                description="MiniLM + KMeans, the starting point", representation="SBERT"))
register(Method("dec", "DEC", "clustering.dec:DEC", reference=SEED_REPORT_DEC, space=_dec_space, fixed=ROBUST,
                family=("dec", "idec"), start_study=True, reference_name="seed report settings",
                candidate=True, derived=_LAYERS, arguments=_dec_arguments, description="Deep Embedded Clustering",
                representation="DEC latent"))
register(Method("idec", "IDEC", "clustering.dec:IDEC", reference={**SEED_REPORT_DEC, "gamma": 0.1},
                space=_idec_space, fixed=ROBUST, family=("dec", "idec"), start_study=True,
                reference_name="seed report settings", derived=_LAYERS,
                arguments=_dec_arguments, description="DEC keeping the reconstruction loss",
                representation="IDEC latent"))
register(Method("selftrain", "Self-training", "clustering.selftrain:SelfTrainingClusterer",
                reference=SELFTRAIN_REFERENCE, space=_selftrain_space, prefix="st_", named=True,
                description="fine-tunes the encoder: minutes per trial on a CPU",
                representation="fine-tuned MiniLM"))
register(Method("tfidf", "TF-IDF + KMeans", "clustering.baselines:TfidfKMeans", searchable=False,
                description="baseline", representation="tf-idf"))
register(Method("ae", "AE + KMeans", "clustering.baselines:AutoEncoderKMeans", searchable=False,
                description="baseline: DEC's initialisation without its KL step", representation="AE latent"))
register(Method("pseudolabel", "Pseudo-labels (MiniLM + tf-idf)", "clustering.pseudolabel:PseudoLabelClusterer",
                reference=PSEUDOLABEL_REFERENCE, space=_pseudolabel_space, prefix="pl_", start_study=True, named=True,
                description="k-means on MiniLM + tf-idf, then balanced pseudo-labels: seconds per trial",
                representation="MiniLM + tf-idf LSA"))
STARTING_POINT = "kmeans"  # every study's first trial and a champion candidate of every main run
BASELINES = ("tfidf", "kmeans", "ae")  # the rows every run compares against, in this order
