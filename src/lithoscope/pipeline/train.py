"""Training a model on the spectra in MinDB and registering it."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from lithoscope.data.datasets import Dataset, DatasetSpec, build_dataset, grouped_split
from lithoscope.errors import InputError
from lithoscope.methods import Method, parse_enum
from lithoscope.mindb.queries import MinDB
from lithoscope.models.kinds import MODEL_KINDS, make_model
from lithoscope.pipeline.bundle import single_method
from lithoscope.pipeline.registry import ModelRef, Registry
from lithoscope.spectra.preprocessing import make_preset
from lithoscope.uncertainty.calibration import calibrate, calibrate_context, unknown_score_for

__all__ = [
    "MODEL_KINDS",
    "TrainResult",
    "calibrate",
    "make_model",
    "train",
    "unknown_score_for",
]


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
    method = parse_enum(Method, method, "--method").value
    registry = registry or Registry()
    name = Registry.check_name(name or f"{method}-{kind}")
    model = make_model(kind, method=method, **(params or {}))
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
    conformal = unknown = context = None
    if cal_idx.size:
        X_cal, y_cal = dataset.X[cal_idx], dataset.y[cal_idx].astype(str)
        try:
            conformal, unknown, calibration = calibrate(model, X_cal, y_cal)
        except InputError as exc:
            # too few calibration spectra of known minerals: the model works, without sets
            calibration = {"skipped": str(exc)}
        reported = {body: names for body, names in db.species_reported().items() if names}
        if reported:
            try:
                context = calibrate_context(model, X_cal, y_cal, reported)
                calibration["context"] = context.calibration_
            except InputError as exc:
                calibration["context"] = {"skipped": str(exc)}
    groups = db.species_groups(np.asarray(model.classes_).tolist())
    composition = None
    if method == "raman":
        from lithoscope.physics.composition import fit_from_mindb

        try:
            composition = fit_from_mindb(db, pipeline=pipe)
        except InputError as exc:  # too few spectra with measured chemistry
            calibration["composition"] = {"skipped": str(exc)}
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
        context=context,
        groups=groups,
        composition=composition,
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
