"""The Examples sections of the library's docstrings run as doctests."""

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

import clustering

MODULES = sorted(m.name for m in pkgutil.iter_modules(clustering.__path__, "clustering."))


@pytest.mark.parametrize("name", [m for m in MODULES if ">>>" in open(importlib.util.find_spec(m).origin).read()])
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
