"""The library's docstrings are references: numpydoc sections on every public name, Examples that run."""

import dataclasses
import doctest
import importlib
import importlib.util
import inspect
import pkgutil

import pytest
from sklearn.base import BaseEstimator

import clustering
import experiments

MODULES = sorted(m.name for package in (clustering, experiments)
                 for m in pkgutil.iter_modules(package.__path__, package.__name__ + ".") if not m.name.endswith("__main__"))
PUBLIC = [m for m in MODULES if m.startswith("clustering.") and not m.rsplit(".", 1)[1].startswith("_")]


def _source(name: str) -> str:
    return open(importlib.util.find_spec(name).origin).read()


@pytest.mark.parametrize("name", [m for m in MODULES if ">>>" in _source(m)])
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def _public_names(module):
    for attr, obj in vars(module).items():
        if not attr.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj)) \
                and obj.__module__ == module.__name__:
            yield attr, obj


def _missing_sections(obj) -> list[str]:
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj) and issubclass(obj, Exception):
        return [] if doc else ["a docstring"]
    arguments = [p for p in inspect.signature(obj).parameters if p not in ("self", "cls")]
    missing = []
    if not doc or not doc.splitlines()[0].strip():
        missing.append("a one-line summary")
    fields = "Attributes\n----------" in doc if dataclasses.is_dataclass(obj) else False
    if arguments and "Parameters\n----------" not in doc and not fields:
        missing.append("Parameters")
    if inspect.isfunction(obj) and "Returns\n-------" not in doc and "Yields\n------" not in doc \
            and inspect.signature(obj).return_annotation not in (None, "None"):
        missing.append("Returns")
    if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
        missing += [s for s in ("Attributes", "Examples") if f"{s}\n{'-' * len(s)}" not in doc]
    return missing


@pytest.mark.parametrize("name", PUBLIC)
def test_public_names_have_numpydoc_sections(name):
    module = importlib.import_module(name)
    assert len((module.__doc__ or "").strip().splitlines()) <= 6, f"{name}: a module docstring of a few lines"
    missing = {attr: gaps for attr, obj in _public_names(module) if (gaps := _missing_sections(obj))}
    assert not missing, f"{name}: {missing}"
