"""The model kinds by name: ``make_model('cnn', epochs=10)``, and old class paths of saved models.

Each kind is imported only when it is made, so that ``import lithoscope.models`` and the
commands that serve a library-search model never load Keras or JAX.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lithoscope.errors import InputError

if TYPE_CHECKING:
    from lithoscope.models.base import SpectralClassifier

__all__ = [
    "LEGACY_CLASS_PATHS",
    "METHOD_DEFAULTS",
    "MODEL_KINDS",
    "make_model",
    "resolve_class_path",
]


def _lazy(path: str, **fixed: Any) -> Callable[..., SpectralClassifier]:
    """Factory of the estimator class at ``module.Class`` (imported on first use)."""
    module_name, _, class_name = path.rpartition(".")

    def make(**params: Any) -> SpectralClassifier:
        cls = getattr(importlib.import_module(module_name), class_name)
        return cls(**fixed, **params)

    make.__qualname__ = make.__name__ = class_name
    return make


#: model kind -> factory taking the estimator's keyword parameters
MODEL_KINDS: dict[str, Callable[..., SpectralClassifier]] = {
    "library": _lazy("lithoscope.models.library.LibrarySearch"),
    "cnn": _lazy("lithoscope.models.keras.cnn.CNNClassifier"),
    "kan": _lazy("lithoscope.models.keras.kan.KANClassifier"),
    "svm": _lazy("lithoscope.models.classical.ClassicalClassifier", kind="pca-svm"),
    "logreg": _lazy("lithoscope.models.classical.ClassicalClassifier", kind="pca-logreg"),
    "rf": _lazy("lithoscope.models.classical.ClassicalClassifier", kind="rf"),
    "ensemble": _lazy("lithoscope.models.ensemble.EnsembleClassifier"),
}

#: (kind, method) -> parameters chosen on validation splits of RRUFF (grouped by sample, carved
#: from the training side; never the test side), used unless the caller gives its own:
#: Raman library search blends half first-derivative similarity (top-1 0.783 -> 0.798, mean of
#: three validation splits); infrared matches first derivatives of unchanged intensities
#: (0.667 -> 0.747, five splits): sloping backgrounds and band-shape differences between IR
#: sample preparations cancel in the derivative.
METHOD_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("library", "raman"): {"derivative_weight": 0.5},
    ("library", "ir"): {"power": 1.0, "derivative_weight": 1.0},
    # the ensemble hands its method to its members (library + hybrid CNN)
    ("ensemble", "raman"): {"method": "raman"},
    ("ensemble", "ir"): {"method": "ir"},
}

#: class paths written into ``model.json`` by lithoscope before the Keras models moved under
#: ``lithoscope.models.keras`` -> where those classes live now
LEGACY_CLASS_PATHS: dict[str, str] = {
    "lithoscope.models.cnn.CNNClassifier": "lithoscope.models.keras.cnn.CNNClassifier",
    "lithoscope.models.kan.KANClassifier": "lithoscope.models.keras.kan.KANClassifier",
}


def resolve_class_path(path: str) -> str:
    """The current class path of a saved model's ``class`` entry (old paths mapped).

    Examples
    --------
    >>> resolve_class_path("lithoscope.models.cnn.CNNClassifier")
    'lithoscope.models.keras.cnn.CNNClassifier'
    >>> resolve_class_path("lithoscope.models.library.LibrarySearch")
    'lithoscope.models.library.LibrarySearch'
    """
    return LEGACY_CLASS_PATHS.get(path, path)


def make_model(kind: str, *, method: str | None = None, **params: Any) -> SpectralClassifier:
    """A new, unfitted estimator of a named kind.

    Parameters
    ----------
    kind : str
        One of `MODEL_KINDS`.
    method : str, optional
        The spectra it will learn (raman, ir, ...): `METHOD_DEFAULTS` fill the parameters not
        given.
    **params
        The estimator's parameters.

    Returns
    -------
    SpectralClassifier

    Raises
    ------
    InputError
        Unknown ``kind`` (the message lists the valid names).

    Examples
    --------
    >>> make_model("library", power=1.0).power
    1.0
    >>> make_model("library", method="ir").derivative_weight
    1.0
    """
    if kind not in MODEL_KINDS:
        raise InputError(f"--model {kind!r} is not one of {', '.join(MODEL_KINDS)}")
    estimator = MODEL_KINDS[kind]
    valid = estimator().get_params(deep=False)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise InputError(
            f"{kind} model has no parameter {unknown[0]!r}; its parameters: {', '.join(valid)}"
        )
    defaults = METHOD_DEFAULTS.get((kind, str(method))) if method is not None else None
    return estimator(**{**(defaults or {}), **params})
