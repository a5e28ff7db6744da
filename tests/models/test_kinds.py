"""The model-kind registry: lazy imports, errors that list the names, old class paths."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

from lithoscope.errors import InputError
from lithoscope.models import kinds
from lithoscope.models.base import SpectralClassifier
from lithoscope.models.kinds import LEGACY_CLASS_PATHS, MODEL_KINDS, make_model


def test_importing_models_and_making_a_library_model_loads_no_keras():
    code = (
        "import sys, lithoscope.models, lithoscope.models.kinds as k, lithoscope.models.scoring;"
        "k.make_model('library'); k.make_model('logreg');"
        "print(sorted(m for m in ('keras', 'jax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("kind", sorted(MODEL_KINDS))
def test_every_kind_makes_an_unfitted_estimator_with_its_parameters(kind):
    model = make_model(kind, random_state=3) if kind not in ("library",) else make_model(kind)
    assert isinstance(model, SpectralClassifier)
    assert not hasattr(model, "classes_")
    if kind != "library":
        assert model.get_params()["random_state"] == 3


def test_unknown_kind_lists_the_valid_names():
    with pytest.raises(InputError, match="'cnnn' is not one of library, cnn, kan, svm"):
        make_model("cnnn")


def test_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(
        InputError,
        match=r"library model has no parameter 'temprature'; its parameters: axis, "
        r"derivative_weight, metric, power, temperature$",
    ):
        make_model("library", method="raman", temprature=0.1)


@pytest.mark.parametrize("old", sorted(LEGACY_CLASS_PATHS))
def test_legacy_class_paths_name_importable_estimators(old):
    new = kinds.resolve_class_path(old)
    assert new.startswith("lithoscope.models.") and new != old
    module, _, name = new.rpartition(".")
    assert issubclass(getattr(importlib.import_module(module), name), SpectralClassifier)
    # the old module is gone: only the table leads there
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(old.rpartition(".")[0])


def test_doctests():
    assert doctest.testmod(kinds, optionflags=doctest.ELLIPSIS).failed == 0
