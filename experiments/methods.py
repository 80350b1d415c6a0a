"""The clustering methods the suite knows: one record each, and the one place to add one.

A record says how to build the method's estimator from a flat dict of settings, which
settings it takes, its reference settings, its Optuna search space, how tables name it and
what it fits on. Config, the study, the final evaluation, the registered model and the
benchmarks all read these records and nothing else about a method; the estimators keep the
library's contract (``clustering.base``). To add a method: write the estimator, then
``register(Method(...))`` (here for the suite's own, or from any module imported before the
run). ``tests/test_methods.py`` does exactly that with a toy method.

"The seed report" is the course report this project grew from: its DEC and IDEC settings
are those methods' ``reference`` settings, the baseline every table shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Method:
    """One clustering method of the suite.

    ``make(params, *, n_clusters, random_state, device, embedding_model)`` builds the
    unfitted estimator from ``params`` (keys in ``known``, every one optional);
    ``reference`` are the settings the method is known by (the seed report's, for DEC and
    IDEC); ``space(trial, config)`` samples settings for one Optuna trial (None: nothing to
    search) under names prefixed with ``prefix`` so methods never share a distribution;
    ``fixed`` settings go with every searched point (Optuna does not record them);
    ``family`` names methods that share their knobs, so the final evaluation tries a tuned
    point as each of them; ``input_kind`` is the estimator's (``clustering.base``).
    """

    name: str
    display: str
    make: Callable[..., object]
    known: frozenset
    input_kind: str = "embeddings"
    reference: dict = field(default_factory=dict)
    space: Callable | None = None
    fixed: dict = field(default_factory=dict)
    prefix: str = ""
    family: tuple = ()
    searchable: bool = True
    start_study: bool = False  # tried first by every new study (the reference settings)
    description: str = ""
    representation: str = "latent"  # what the space it clusters in is, for tables


_REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` (or replace the record of that name); returns it."""
    if not method.name.isidentifier() or method.name == "search":
        raise ValueError(f"method name must be an identifier other than 'search'; got {method.name!r}")
    if method.input_kind not in ("embeddings", "texts"):
        raise ValueError(f"input_kind must be 'embeddings' or 'texts'; got {method.input_kind!r}")
    _REGISTRY[method.name] = method
    return method


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def get(name: str) -> Method:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(_REGISTRY)}") from None


def names(*, searchable: bool | None = None) -> list[str]:
    """Registered method names, in registration order (only the searchable ones if asked)."""
    return [n for n, m in _REGISTRY.items() if searchable is None or m.searchable == searchable]


def records() -> list[Method]:
    return list(_REGISTRY.values())


# -- MiniLM + KMeans: the starting point --------------------------------------------------------
def _make_kmeans(params, *, n_clusters, random_state, device=None, embedding_model=None):
    from clustering.baselines import EmbeddingKMeans

    return EmbeddingKMeans(n_clusters, random_state=random_state, **params)


# -- the baselines that are not searched ----------------------------------------------------------
def _make_tfidf(params, *, n_clusters, random_state, device=None, embedding_model=None):
    from clustering.baselines import TfidfKMeans

    return TfidfKMeans(n_clusters, random_state=random_state, **params)


def _make_ae_kmeans(params, *, n_clusters, random_state, device=None, embedding_model=None):
    from clustering.baselines import AutoEncoderKMeans

    return AutoEncoderKMeans(n_clusters, random_state=random_state, device=device, **params)


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
_DEC_KNOBS = frozenset(SEED_REPORT_DEC) | frozenset(ROBUST) | {"patience", "monitor_sample", "n_init", "tol"}


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


def _make_dec(params, *, n_clusters, random_state, device=None, embedding_model=None, idec=False):
    from clustering.dec import DEC, IDEC

    params = dict(params)
    hidden = (*ARCHITECTURES[params.pop("architecture", "256-128")], int(params.pop("latent_dim", 64)))
    return (IDEC if idec else DEC)(n_clusters, hidden_dims=hidden, random_state=random_state, device=device,
                                   **params)


def _make_idec(params, **kwargs):
    return _make_dec(params, idec=True, **kwargs)


# -- self-training: adapts the sentence encoder itself ------------------------------------------------
# The named configuration (`mlflow run . -e selftrain`): SCCL's two losses (KL to the sharpened
# target + instance contrast), with nearest neighbours in the starting space as positives, one
# epoch on the top two layers of the encoder. Measured on AG News in benchmarks/RESULTS.md;
# nothing in it depends on the corpus. These are SelfTrainingClusterer's own defaults, spelled
# out so that the run's params show them.
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


def _make_selftrain(params, *, n_clusters, random_state, device=None, embedding_model=DEFAULT_EMBEDDING_MODEL):
    from clustering.selftrain import SelfTrainingClusterer

    return SelfTrainingClusterer(n_clusters, embedding_model=embedding_model, random_state=random_state,
                                 device=device, **params)


_SELFTRAIN_KNOBS = frozenset(SELFTRAIN_REFERENCE) | {
    "confident_fraction", "head_lr", "max_seq_length", "temperature", "tol", "n_init", "embed_batch_size"}


register(Method("kmeans", "SBERT + KMeans", _make_kmeans, frozenset({"n_init"}), start_study=True,
                description="MiniLM + KMeans, the starting point", representation="SBERT"))
register(Method("dec", "DEC", _make_dec, _DEC_KNOBS, reference=SEED_REPORT_DEC, space=_dec_space, fixed=ROBUST,
                family=("dec", "idec"), start_study=True, description="Deep Embedded Clustering",
                representation="DEC latent"))
register(Method("idec", "IDEC", _make_idec, _DEC_KNOBS | {"gamma"}, reference={**SEED_REPORT_DEC, "gamma": 0.1},
                space=_idec_space, fixed=ROBUST, family=("dec", "idec"), start_study=True,
                description="DEC keeping the reconstruction loss", representation="IDEC latent"))
register(Method("selftrain", "Self-training", _make_selftrain, _SELFTRAIN_KNOBS, input_kind="texts",
                reference=SELFTRAIN_REFERENCE, space=_selftrain_space, prefix="st_",
                description="fine-tunes the encoder: minutes per trial on a CPU",
                representation="fine-tuned MiniLM"))
register(Method("tfidf", "TF-IDF + KMeans", _make_tfidf,
                frozenset({"max_features", "ngram_range", "min_df", "stop_words", "sublinear_tf", "n_init"}),
                input_kind="texts", searchable=False, description="baseline", representation="tf-idf"))
register(Method("ae", "AE + KMeans", _make_ae_kmeans,
                frozenset({"hidden_dims", "activation", "batch_norm", "dropout", "epochs", "batch_size", "lr",
                           "weight_decay", "n_init"}),
                searchable=False, description="baseline: DEC's initialisation without its KL step",
                representation="AE latent"))
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


def _make_pseudolabel(params, *, n_clusters, random_state, device=None, embedding_model=DEFAULT_EMBEDDING_MODEL):
    from clustering.pseudolabel import PseudoLabelClusterer

    return PseudoLabelClusterer(n_clusters, embedding_model=embedding_model, random_state=random_state, **params)


register(Method("pseudolabel", "Pseudo-labels (MiniLM + tf-idf)", _make_pseudolabel,
                frozenset(PSEUDOLABEL_REFERENCE) | {"tol", "n_init", "init_sample"}, input_kind="texts",
                reference=PSEUDOLABEL_REFERENCE, space=_pseudolabel_space, prefix="pl_", start_study=True,
                description="k-means on MiniLM + tf-idf, then balanced pseudo-labels: seconds per trial",
                representation="MiniLM + tf-idf LSA"))
BASELINES = ("tfidf", "kmeans", "ae")  # the rows every run compares against, in this order
