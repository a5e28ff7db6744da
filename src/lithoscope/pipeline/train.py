"""Training a model on the spectra in MinDB and registering it."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lithoscope.data.datasets import Dataset, DatasetSpec, build_dataset, grouped_split
from lithoscope.errors import InputError
from lithoscope.methods import Method
from lithoscope.mindb.queries import MinDB
from lithoscope.models.base import SpectralClassifier
from lithoscope.pipeline.bundle import single_method
from lithoscope.pipeline.registry import ModelRef, Registry
from lithoscope.spectra.preprocessing import make_preset

__all__ = ["MODEL_KINDS", "TrainResult", "make_model", "train"]


def _library(**kw: Any) -> SpectralClassifier:
    from lithoscope.models.library import LibrarySearch

    return LibrarySearch(**kw)


def _classical(kind: str) -> Callable[..., SpectralClassifier]:
    def make(**kw: Any) -> SpectralClassifier:
        from lithoscope.models.classical import ClassicalClassifier

        return ClassicalClassifier(kind=kind, **kw)

    return make


def _cnn(**kw: Any) -> SpectralClassifier:
    from lithoscope.models.cnn import CNNClassifier

    return CNNClassifier(**kw)


def _kan(**kw: Any) -> SpectralClassifier:
    from lithoscope.models.kan import KANClassifier

    return KANClassifier(**kw)


#: model kind -> factory taking the estimator's keyword parameters
MODEL_KINDS: dict[str, Callable[..., SpectralClassifier]] = {
    "library": _library,
    "cnn": _cnn,
    "kan": _kan,
    "svm": _classical("pca-svm"),
    "logreg": _classical("pca-logreg"),
    "rf": _classical("rf"),
}


def make_model(kind: str, **params: Any) -> SpectralClassifier:
    """A new, unfitted estimator of a named kind."""
    if kind not in MODEL_KINDS:
        raise InputError(f"--model {kind!r} is not one of {', '.join(MODEL_KINDS)}")
    return MODEL_KINDS[kind](**params)


@dataclass
class TrainResult:
    ref: ModelRef
    dataset: Dataset
    seconds: float
    calibration: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": str(self.ref),
            "path": str(self.ref.path),
            "dataset_version": self.dataset.version,
            "n_spectra": len(self.dataset),
            "n_minerals": int(np.unique(self.dataset.y).size),
            "seconds": round(self.seconds, 2),
            "calibration": self.calibration,
        }


def unknown_score_for(model: SpectralClassifier) -> str:
    """The out-of-library score that suits a model's class scores."""
    matching = hasattr(model, "embed") and getattr(model, "head", None) in (None, "match")
    if getattr(model, "similarity_scores", False) or matching:
        return "max_similarity"
    return "max_proba"


def calibrate(
    model: SpectralClassifier,
    X: np.ndarray,
    labels: np.ndarray,
    *,
    method: str = "aps",
    false_unknown_rate: float = 0.05,
) -> tuple[Any, Any, dict[str, Any]]:
    """Conformal predictor and unknown detector fitted on calibration spectra of ``model``.

    Calibration spectra of minerals the model does not know are left out of both (they are
    what "unknown" means), and counted in the summary.
    """
    from lithoscope.uncertainty import ConformalPredictor, UnknownDetector, labels_to_index

    proba = model.predict_proba(X)
    scores = model.class_scores(X)
    y_index, known = labels_to_index(model.classes_, labels)
    conformal = ConformalPredictor(method=method).calibrate(proba[known], y_index)
    unknown = UnknownDetector(
        score=unknown_score_for(model), false_unknown_rate=false_unknown_rate
    ).fit(proba[known], scores[known], y_index)
    summary = {
        "n_calibration": int(known.sum()),
        "n_unseen_minerals_left_out": int((~known).sum()),
        "conformal_method": method,
        "unknown_score": unknown.score,
        "false_unknown_rate": false_unknown_rate,
    }
    return conformal, unknown, summary


def train(
    db: MinDB,
    method: str,
    kind: str,
    *,
    name: str | None = None,
    min_spectra_per_mineral: int = 1,
    registry: Registry | None = None,
    params: dict[str, Any] | None = None,
    make_default: bool = False,
    calibration_size: float = 0.15,
) -> TrainResult:
    """Train a ``kind`` model on MinDB's ``method`` spectra and register it as a bundle.

    The spectra go through the method's preset preprocessing; ``calibration_size`` of the
    RRUFF samples (grouped: no sample on both sides) is held out of training and calibrates the
    conformal prediction sets and the unknown-mineral threshold. The bundle (see
    `IdentificationModel`) records the dataset version, the data checksums, the training
    configuration and the metrics, and is registered as a new version of ``name`` (default
    ``<method>-<kind>``).
    """
    try:
        method = Method(method.lower()).value
    except ValueError:
        raise InputError(
            f"--method {method!r} is not one of {', '.join(m.value for m in Method)}"
        ) from None
    registry = registry or Registry()
    name = Registry.check_name(name or f"{method}-{kind}")
    model = make_model(kind, **(params or {}))
    pipe = make_preset(method)
    spec = DatasetSpec.from_pipeline(pipe, min_spectra_per_mineral=min_spectra_per_mineral)
    dataset = build_dataset(db, spec, pipeline=pipe)
    if np.unique(dataset.y).size < 2:
        raise InputError(f"MinDB holds {method} spectra of fewer than 2 minerals; ingest more")
    fit_idx = np.arange(len(dataset))
    cal_idx = np.array([], dtype=int)
    if calibration_size > 0:
        fit_idx, cal_idx = grouped_split(
            dataset.y,
            dataset.groups,
            test_size=calibration_size,
            random_state=0,
            seen_classes_only=False,
        )
    fit_set = dataset.subset(fit_idx)
    start = time.perf_counter()
    model.fit(fit_set, groups=fit_set.groups)
    seconds = time.perf_counter() - start
    calibration: dict[str, Any] = {"skipped": "calibration_size is 0"}
    conformal = unknown = None
    if cal_idx.size:
        try:
            conformal, unknown, calibration = calibrate(
                model, dataset.X[cal_idx], dataset.y[cal_idx].astype(str)
            )
        except InputError as exc:
            # too few calibration spectra of known minerals: the model works, without sets
            calibration = {"skipped": str(exc)}
    metrics = {"fit_seconds": round(seconds, 2), "n_spectra": len(fit_set)}
    model.set_provenance(
        dataset_version=dataset.version,
        preprocessing=spec.preprocessing,
        method=method,
        metrics=metrics,
    )
    bundle = single_method(
        method,
        model,
        spec.preprocessing,
        conformal=conformal,
        unknown=unknown,
        calibration=calibration,
        provenance={
            "dataset_version": dataset.version,
            "data_checksums": _checksums_digest(dataset),
            "config": {
                "method": method,
                "kind": kind,
                "params": dict(params or {}),
                "min_spectra_per_mineral": min_spectra_per_mineral,
                "calibration_size": calibration_size,
                "split_random_state": 0,
            },
            "metrics": {**metrics, "n_calibration_spectra": int(cal_idx.size)},
        },
    )
    ref = registry.register(bundle, name, make_default=make_default)
    return TrainResult(ref, dataset, seconds, calibration)


def _checksums_digest(dataset: Dataset) -> str:
    """sha256 over the sorted content checksums of the training spectra."""
    checksums = sorted(str(m.get("checksum")) for m in dataset.collection.metadata)
    return hashlib.sha256("\n".join(checksums).encode()).hexdigest()
