"""Trust in an identification: conformal prediction sets and unknown-mineral detection.

Both work from a model's ``predict_proba`` and ``class_scores`` only, so every lithoscope model
(library search, classical baselines, networks, fusion, mixtures) plugs in the same way.

* `ConformalPredictor`: lists of minerals that contain the true one with a chosen probability.
* `UnknownDetector`: "not in the library", with a controlled rate of false alarms.
* `metrics`: coverage, set size, AUROC, false-unknown rate.
"""

from lithoscope.uncertainty.conformal import (
    ConformalPredictor,
    conformal_quantile,
    labels_to_index,
    nonconformity,
)
from lithoscope.uncertainty.metrics import (
    auroc,
    coverage,
    false_unknown_rate,
    mean_set_size,
    per_class_coverage,
)
from lithoscope.uncertainty.unknown import UnknownDetector

__all__ = [
    "ConformalPredictor",
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
