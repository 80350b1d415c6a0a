"""The one dataclass that describes a run.

MLproject parameters, command-line flags and these fields share their names, so
``dataclasses.asdict(config)`` is exactly what gets logged as the parent run's params.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, fields

from experiments import methods

OBJECTIVES = ("cross_view", "silhouette", "davies_bouldin", "calinski_harabasz", "nmi", "acc", "ari")
LABEL_FREE = ("cross_view", "silhouette", "davies_bouldin", "calinski_harabasz")
# clustering.embed.PRECISIONS, spelled out so that parsing a config never imports the library
EMBEDDING_PRECISIONS = ("auto", "float32", "bfloat16", "bfloat16-mixed", "int8")
ENGINES = ("local", "spark")


@dataclass(frozen=True)
class RunConfig:
    # data
    data: str = "fancyzhx/ag_news"
    split: str = "train"
    text_columns: str = ""  # "" = auto: `text`, else `title` + `description`
    label_column: str = "auto"  # auto = `label` when present; "" or none = no labels
    n_per_class: int = 1250  # 0 = use every text (the seed report: 4 x 1,250)
    max_samples: int = 0  # 0 = no cap
    clean: bool = True
    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_precision: str = "auto"  # auto = bfloat16-mixed where the device has native bfloat16
    engine: str = "local"  # where the corpus is embedded: this process, or Spark (experiments.spark)
    spark_master: str = ""  # engine=spark: the master URL; "" = $SPARK_MASTER, else local[*]
    # clustering
    n_clusters: str = "4"  # an integer, or "auto" to choose k by silhouette
    k_min: int = 2
    k_max: int = 10
    method: str = "search"  # search = Optuna chooses among search_methods; or fix one
    search_methods: str = "kmeans,dec,idec,pseudolabel"  # what method=search chooses from; add selftrain too
    params: str = ""  # JSON of estimator settings for `evaluate`, e.g. '{"lr": 0.001}'
    # tuning
    n_trials: int = 10
    timeout: float = 0.0  # seconds for the study; 0 = no limit
    objective: str = "cross_view"
    max_pretrain_epochs: int = 30
    max_epochs: int = 20
    study_sample: int = 5000  # the study's trials fit a seeded sample of this many texts (0 = all)
    fit_sample: int = 50000  # larger corpora: baselines and final fits train on a sample, assign every text
    # evaluation
    seed: int = 0
    n_seeds: int = 3
    tsne_points: int = 3000
    # where things go
    storage: str = "sqlite:///optuna.db"
    study_name: str = "deep-text-clustering"
    experiment_name: str = "deep-text-clustering"
    model_name: str = "deep-text-clustering"
    register: bool = True

    def __post_init__(self):
        checks = [
            (self.n_per_class >= 0, f"n_per_class must be >= 0; got {self.n_per_class}"),
            (self.max_samples >= 0, f"max_samples must be >= 0; got {self.max_samples}"),
            (self.n_trials >= 1, f"n_trials must be >= 1; got {self.n_trials}"),
            (self.timeout >= 0, f"timeout must be >= 0 seconds; got {self.timeout}"),
            (self.n_seeds >= 1, f"n_seeds must be >= 1; got {self.n_seeds}"),
            (self.study_sample >= 0, f"study_sample must be >= 0; got {self.study_sample}"),
            (self.fit_sample >= 0, f"fit_sample must be >= 0; got {self.fit_sample}"),
            (2 <= self.k_min <= self.k_max, f"need 2 <= k_min <= k_max; got k_min={self.k_min}, k_max={self.k_max}"),
            (self.objective in OBJECTIVES, f"unknown objective {self.objective!r}; choose from {', '.join(OBJECTIVES)}"),
            (self.method == "search" or self.method in methods.names(searchable=True),
             f"unknown method {self.method!r}; choose from search, {', '.join(methods.names(searchable=True))}"),
            (bool(self.search_method_list) and set(self.search_method_list) <= set(methods.names(searchable=True)),
             f"search_methods must be a comma-separated subset of {','.join(methods.names(searchable=True))}; "
             f"got {self.search_methods!r}"),
            (self.engine in ENGINES, f"unknown engine {self.engine!r}; choose from {', '.join(ENGINES)}"),
            (self.embedding_precision in EMBEDDING_PRECISIONS,
             f"unknown embedding_precision {self.embedding_precision!r}; choose from {', '.join(EMBEDDING_PRECISIONS)}"),
            (self.max_pretrain_epochs >= 1 and self.max_epochs >= 1, "max_pretrain_epochs and max_epochs must be >= 1"),
            (self.n_clusters == "auto" or (self.n_clusters.isdigit() and int(self.n_clusters) >= 2),
             f"n_clusters must be an integer >= 2 or 'auto'; got {self.n_clusters!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def label_peeking(self) -> bool:
        """True when model selection reads the true labels (the run is tagged so)."""
        return self.objective not in LABEL_FREE

    @property
    def search_method_list(self) -> list[str]:
        return [m.strip() for m in self.search_methods.split(",") if m.strip()]

    @property
    def text_column_list(self) -> list[str] | None:
        cols = [c.strip() for c in self.text_columns.split(",") if c.strip()]
        return cols or None

    def loggable(self) -> dict:
        """The params to log, with any password in ``storage`` replaced by ``***``."""
        from experiments.preflight import redact

        return {k: redact(str(v)) for k, v in dataclasses.asdict(self).items()}


HELP = {
    "data": "Hugging Face hub id, or a local .csv/.tsv/.parquet/.jsonl file",
    "split": "split to load (a local file has only 'train')",
    "text_columns": "comma-separated text column(s); empty = `text`, else `title`+`description`",
    "label_column": "'auto' = `label` when present; '' or 'none' = unlabelled; or a column name",
    "n_per_class": "balanced, seeded subset of this many texts per class (0 = all)",
    "max_samples": "seeded random subset of at most this many texts (0 = all)",
    "clean": "lowercase, strip special characters and AG News escapes",
    "embedding_model": "sentence-transformers model name or local path",
    "embedding_precision": "the encoder's arithmetic: auto (bfloat16-mixed where the CPU/GPU has native "
                           "bfloat16, else float32), float32, bfloat16, bfloat16-mixed or int8 (CPU)",
    "engine": "where the corpus is embedded: local (this process) or spark (partitioned over Spark's executors, "
              "the same vectors into the same cache)",
    "spark_master": "engine=spark: the Spark master URL; empty = $SPARK_MASTER, else local[*]",
    "n_clusters": "number of clusters, or 'auto' to choose k by silhouette",
    "k_min": "smallest k tried when n_clusters=auto",
    "k_max": "largest k tried when n_clusters=auto",
    "method": "'search' lets Optuna choose among search_methods; a method's name fixes it",
    "search_methods": "methods Optuna chooses among when method=search",
    "params": "JSON of estimator settings for the evaluate entry point",
    "n_trials": "trials the study runs in total, pruned ones included (all workers, all reruns)",
    "timeout": "seconds for this worker's share of the study (0 = no limit)",
    "objective": "model selection score; cross_view (silhouette, neighbour agreement and a classifier's "
                 "predictability in MiniLM and in tf-idf LSA, each relative to k-means' there, averaged) and "
                 "silhouette/davies_bouldin/calinski_harabasz (MiniLM space) are label-free; nmi/acc/ari read the "
                 "labels and tag the run label_peeking=true",
    "max_pretrain_epochs": "upper end of the autoencoder-epochs range searched",
    "max_epochs": "upper end of the DEC-epochs range searched",
    "study_sample": "texts the study's trials fit on, a seeded sample (0 = all); the baselines and the "
                    "final evaluation fit every text",
    "fit_sample": "corpora with more texts: the baselines and the final fits train on a seeded sample of this "
                  "many and assign every text with the fitted model (0 = fit on all)",
    "seed": "first seed; every random step is seeded from it",
    "n_seeds": "seeds for the final evaluation and the baselines (mean ± std)",
    "tsne_points": "points shown in the t-SNE plot (subsampled with the seed)",
    "storage": "Optuna storage: SQLAlchemy URL (sqlite, postgresql) or a .journal file",
    "study_name": "Optuna study name; workers with the same name and storage share it",
    "experiment_name": "MLflow experiment (ignored under `mlflow run`, which picks its own)",
    "model_name": "registered model name; the best encoder gets the alias 'champion'",
    "register": "register the final model in the MLflow Model Registry",
}


def _parse_int(text: str) -> int:
    try:
        value = float(text)  # MLflow may hand "20.0" to an int parameter
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    return int(value)


def _parse_bool(text: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


_PARSERS = {int: _parse_int, float: float, bool: _parse_bool, str: str}


def _help(name: str) -> str:
    if name in ("method", "search_methods"):  # the registered methods, as they are now
        listed = "; ".join(f"{m.name} ({m.description or m.display})" for m in methods.records() if m.searchable)
        return f"{HELP[name]}: {listed}"
    return HELP[name]


def add_arguments(parser: argparse.ArgumentParser, names: typing.Iterable[str] | None = None) -> None:
    """Add ``--<field>`` options for the named RunConfig fields (all by default)."""
    hints = typing.get_type_hints(RunConfig)
    for f in fields(RunConfig):
        if names is not None and f.name not in names:
            continue
        kind = hints[f.name]
        if isinstance(kind, types.UnionType):
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        parser.add_argument(f"--{f.name}", type=_PARSERS[kind], default=f.default, metavar=kind.__name__.upper(),
                            help=f"{_help(f.name)} (default: {f.default!r})")


def from_args(args: argparse.Namespace) -> RunConfig:
    known = {f.name for f in fields(RunConfig)}
    return RunConfig(**{k: v for k, v in vars(args).items() if k in known})
