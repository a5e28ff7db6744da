"""The Examples sections of the chemistry engine's docstrings run as doctests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "lithoscope.mindb.chemistry._text",
    "lithoscope.mindb.chemistry.formula",
    "lithoscope.mindb.chemistry.classify",
    "lithoscope.mindb.chemistry.recalc",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
