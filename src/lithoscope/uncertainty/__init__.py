"""Trust in an identification: conformal prediction sets and unknown-mineral detection.

Both work from a model's ``predict_proba`` and ``class_scores`` only, so every lithoscope model
(library search, classical baselines, networks, fusion, mixtures) plugs in the same way.

* `ConformalPredictor`: lists of minerals that contain the true one with a chosen probability.
* `UnknownDetector`: "not in the library", with a controlled rate of false alarms.
* `ContextPrior`: where a sample comes from (Moon, Mars, meteorites) as a prior over minerals.
* `metrics`: coverage, set size, AUROC, false-unknown rate.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lithoscope.uncertainty.conformal import (
        ConformalPredictor,
        conformal_quantile,
        labels_to_index,
        nonconformity,
    )
    from lithoscope.uncertainty.context import ContextPrior
    from lithoscope.uncertainty.metrics import (
        auroc,
        coverage,
        false_unknown_rate,
        mean_set_size,
        per_class_coverage,
    )
    from lithoscope.uncertainty.unknown import UnknownDetector

#: public name -> the module that defines it (imported on first use: `metrics` needs scipy.stats)
_HOMES = {
    "ConformalPredictor": "conformal",
    "ContextPrior": "context",
    "conformal_quantile": "conformal",
    "labels_to_index": "conformal",
    "nonconformity": "conformal",
    "auroc": "metrics",
    "coverage": "metrics",
    "false_unknown_rate": "metrics",
    "mean_set_size": "metrics",
    "per_class_coverage": "metrics",
    "UnknownDetector": "unknown",
}

__all__ = [
    "ConformalPredictor",
    "ContextPrior",
    "UnknownDetector",
    "auroc",
    "conformal_quantile",
    "coverage",
    "false_unknown_rate",
    "labels_to_index",
    "mean_set_size",
    "nonconformity",
    "per_class_coverage",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
