"""One source of pins: pyproject.toml. conda.yaml installs the project; the served model's requirements come from it."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from experiments import model

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def test_conda_env_installs_the_project_and_pins_nothing_itself():
    env = yaml.safe_load((REPO / "conda.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-e .[experiments]"]
    conda_packages = [d for d in env["dependencies"] if isinstance(d, str)]
    assert {_name(d) for d in conda_packages} == {"python", "pip"}


def test_the_served_models_requirements_are_pyprojects():
    requirements = model.pip_requirements()
    declared = PROJECT["dependencies"] + PROJECT["optional-dependencies"]["experiments"]
    assert [r for r in requirements if _name(r) != "mlflow"] == [r.replace(" ", "") for r in PROJECT["dependencies"]]
    pinned = [r for r in requirements if "==" in r]
    assert {_name(r) for r in pinned} == {"torch", "mlflow"}
    assert all(r in [d.replace(" ", "") for d in declared] for r in pinned)


def test_without_installed_metadata_the_requirements_come_from_pyproject(monkeypatch):
    installed = model.pip_requirements()

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "requires", missing)
    assert model.pip_requirements() == installed


def test_the_dtc_script_is_the_cli_under_its_own_name(capsys):
    from experiments.__main__ import main

    assert PROJECT["scripts"]["dtc"] == "experiments.__main__:cli"
    with pytest.raises(SystemExit) as info:
        main(["--help"], prog="dtc")
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: dtc ")
