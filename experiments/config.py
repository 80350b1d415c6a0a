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

OBJECTIVES = ("silhouette", "davies_bouldin", "calinski_harabasz", "nmi", "acc", "ari")
LABEL_FREE = ("silhouette", "davies_bouldin", "calinski_harabasz")
METHODS = ("search", "dec", "idec")


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
    # clustering
    n_clusters: str = "4"  # an integer, or "auto" to choose k by silhouette
    k_min: int = 2
    k_max: int = 10
    method: str = "search"  # search = Optuna chooses DEC or IDEC; or fix one
    params: str = ""  # JSON of estimator settings for `evaluate`, e.g. '{"lr": 0.001}'
    # tuning
    n_trials: int = 10
    timeout: float = 0.0  # seconds for the study; 0 = no limit
    objective: str = "silhouette"
    max_pretrain_epochs: int = 30
    max_epochs: int = 20
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
            (2 <= self.k_min <= self.k_max, f"need 2 <= k_min <= k_max; got k_min={self.k_min}, k_max={self.k_max}"),
            (self.objective in OBJECTIVES, f"unknown objective {self.objective!r}; choose from {', '.join(OBJECTIVES)}"),
            (self.method in METHODS, f"unknown method {self.method!r}; choose from {', '.join(METHODS)}"),
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
    def text_column_list(self) -> list[str] | None:
        cols = [c.strip() for c in self.text_columns.split(",") if c.strip()]
        return cols or None

    def loggable(self) -> dict:
        """The params to log, with any password in ``storage`` replaced by ``***``."""
        from experiments.tracking import redact

        return {k: redact(str(v)) for k, v in dataclasses.asdict(self).items()}


def _parse_int(text: str) -> int:
    value = float(text)  # MLflow may hand "20.0" to an int parameter
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


def add_arguments(parser: argparse.ArgumentParser, names: typing.Iterable[str] | None = None) -> None:
    """Add ``--<field>`` options for the named RunConfig fields (all by default)."""
    hints = typing.get_type_hints(RunConfig)
    for f in fields(RunConfig):
        if names is not None and f.name not in names:
            continue
        kind = hints[f.name]
        if isinstance(kind, types.UnionType):
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        parser.add_argument(f"--{f.name}", type=_PARSERS[kind], default=f.default, metavar=kind.__name__.upper())


def from_args(args: argparse.Namespace) -> RunConfig:
    known = {f.name for f in fields(RunConfig)}
    return RunConfig(**{k: v for k, v in vars(args).items() if k in known})
