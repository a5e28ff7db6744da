"""The Examples of every rocks module run as doctests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "lithoscope.rocks.chemistry",
    "lithoscope.rocks.iugs",
    "lithoscope.rocks.meteorites",
    "lithoscope.rocks.minerals",
    "lithoscope.rocks.naming",
    "lithoscope.rocks.planetary",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
