import argparse
import dataclasses

import pytest
import yaml

from experiments import methods
from experiments.config import RunConfig, add_arguments, from_args

MLPROJECT = __import__("pathlib").Path(__file__).resolve().parents[1] / "MLproject"


def _entry_points():
    return yaml.safe_load(MLPROJECT.read_text())["entry_points"]


NAMED = [m.name for m in methods.records() if m.named]  # `mlflow run . -e <name>`: evaluate at the reference


@pytest.mark.parametrize("entry", ["main", "baselines", "tune", "evaluate", *NAMED])
def test_mlproject_parameters_are_the_config_fields(entry):
    spec = _entry_points()[entry]
    named = entry in NAMED
    fields = dataclasses.asdict(RunConfig(method=entry if named else "search"))
    assert set(spec["parameters"]) == set(fields)
    for name, param in spec["parameters"].items():
        assert f"--{name} {{{name}}}" in spec["command"]
        default = fields[name]
        as_text = lambda v: str(v).lower() if isinstance(v, bool) else str(v)  # noqa: E731
        assert as_text(param["default"]) == as_text(default), name
    command = "evaluate" if named else entry
    assert spec["command"].startswith(f"python -m experiments {command} ")


def test_mlproject_names_an_entry_point_for_exactly_the_named_records():
    entries = _entry_points()
    evaluating = {name for name, spec in entries.items()
                  if spec["command"].startswith("python -m experiments evaluate ") and name != "evaluate"}
    assert evaluating == set(NAMED)
    assert set(NAMED) <= set(methods.names())


def test_cli_flags_parse_into_the_dataclass():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = from_args(parser.parse_args(["--n_trials", "20.0", "--register", "false", "--timeout", "1.5", "--data", "x.csv"]))
    assert config.n_trials == 20 and config.register is False and config.timeout == 1.5 and config.data == "x.csv"
    with pytest.raises(SystemExit):
        parser.parse_args(["--n_trials", "2.5"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_trials": 0}, "n_trials"),
        ({"n_trials": -3}, "n_trials"),
        ({"objective": "vibes"}, "unknown objective"),
        ({"method": "spectral"}, "unknown method"),
        ({"n_clusters": "1"}, "n_clusters"),
        ({"n_clusters": "four"}, "n_clusters"),
        ({"k_min": 5, "k_max": 3}, "k_min"),
        ({"n_seeds": 0}, "n_seeds"),
        ({"embedding_precision": "fp16"}, "unknown embedding_precision 'fp16'"),
    ],
)
def test_bad_values_fail_with_one_line(kwargs, match):
    with pytest.raises(ValueError, match=match) as info:
        RunConfig(**kwargs)
    assert "\n" not in str(info.value)


def test_embedding_precisions_are_the_librarys():
    # spelled out in the config so parsing one never imports numpy; the two lists must agree
    from clustering.embed import PRECISIONS

    from experiments.config import EMBEDDING_PRECISIONS

    assert sorted(EMBEDDING_PRECISIONS) == sorted(PRECISIONS)
    assert RunConfig().embedding_precision == "auto"


def test_label_peeking_follows_the_objective():
    assert not RunConfig().label_peeking
    assert not RunConfig(objective="davies_bouldin").label_peeking
    assert RunConfig(objective="nmi").label_peeking


def test_loggable_redacts_passwords():
    params = RunConfig(storage="postgresql://optuna:s3cret@db:5432/optuna").loggable()
    assert params["storage"] == "postgresql://optuna:***@db:5432/optuna"
    assert "s3cret" not in str(params)


def test_every_field_has_help():
    from experiments.config import HELP

    assert set(HELP) == {f.name for f in dataclasses.fields(RunConfig)}


def test_mlproject_predict_parameters_are_the_predict_flags():
    from experiments.__main__ import build_parser

    spec = _entry_points()["predict"]
    parser = build_parser()
    predict = parser._subparsers._group_actions[0].choices["predict"]
    flags = {a.dest for a in predict._actions if a.dest != "help"}
    assert set(spec["parameters"]) == flags
    assert all(f"--{name} {{{name}}}" in spec["command"] for name in flags)
    args = parser.parse_args(["predict", "--model_uri", "m", "--input", "i", "--output", "o", "--engine", "spark"])
    assert args.engine == "spark" and args.spark_master == ""
