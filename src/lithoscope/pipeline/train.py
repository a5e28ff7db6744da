"""Training a model on the spectra in MinDB and registering it."""

from __future__ import annotations

import functools
import hashlib
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lithoscope.data.datasets import Dataset, DatasetSpec, build_dataset, grouped_split
from lithoscope.errors import InputError
from lithoscope.methods import Method, parse_enum
from lithoscope.mindb.queries import MinDB
from lithoscope.models.kinds import MODEL_KINDS, make_model
from lithoscope.pipeline.bundle import FusionCalibration, IdentificationModel, MethodModel
from lithoscope.pipeline.registry import ModelRef, Registry
from lithoscope.spectra.preprocessing import make_preset
from lithoscope.uncertainty.calibration import calibrate, calibrate_context, unknown_score_for
from lithoscope.uncertainty.conformal import ConformalPredictor, labels_to_index
from lithoscope.uncertainty.unknown import UnknownDetector

__all__ = [
    "MODEL_KINDS",
    "TrainResult",
    "TrainedPart",
    "calibrate",
    "calibrate_fusion",
    "calibrate_part",
    "code_version",
    "fit_part",
    "make_model",
    "train",
    "unknown_score_for",
]


@functools.cache
def code_version() -> str:
    """lithoscope's version, with the git commit (and ``.dirty``) when run from a checkout.

    What a model records as the code that trained it (`lineage`): a release is its version
    alone; a development checkout adds ``+g<commit>`` so that two models of one version string
    trained on different code can be told apart.
    """
    from lithoscope import __version__

    root = Path(__file__).resolve().parents[3]
    if not (root / ".git").exists():
        return __version__
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "src"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{commit}{'.dirty' if dirty else ''}"


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
    mixture: bool = False,
    mixture_network: bool = True,
    mixture_params: dict[str, Any] | None = None,
) -> TrainResult:
    """Train a ``kind`` model on MinDB's ``method`` spectra and register it as a bundle.

    ``method`` may list several methods (``"raman,ir"``): one model per method, trained with the
    same samples held out for calibration (chosen by a hash of the sample id), and a conformal
    predictor of their fused answer calibrated on those samples (`calibrate_fusion`).

    The spectra go through the method's preset preprocessing; ``calibration_size`` of the
    RRUFF samples (grouped: no sample on both sides) is held out of training and calibrates the
    conformal prediction sets and the unknown-mineral threshold. The bundle (see
    `IdentificationModel`) records the dataset version, the data checksums, the training
    configuration and the metrics, and is registered as a new version of ``name`` (default
    ``<method>-<kind>``).

    With ``mixture`` each method also gets a mixture model (`fit_mixture_model`): the unmixer
    of the rock-forming minerals' training spectra, its presence thresholds chosen on mixtures
    of calibration spectra (``identify --mixture``); with ``mixture_network`` (default) also the
    multi-label network (``mixture_params``: its parameters, e.g. ``epochs``). For VNIR the
    mixture model is a `ModalMixtureModel` (`fit_modal_mixture_model`) learned from MinDB's
    spectra with modal labels (``mixture_params``: its `ModalRegressor` parameters).
    """
    methods = [parse_enum(Method, m.strip(), "--method").value for m in str(method).split(",")]
    if len(set(methods)) != len(methods):
        raise InputError(f"--method {method!r} names a method twice")
    registry = registry or Registry()
    name = Registry.check_name(name or f"{'-'.join(methods)}-{kind}")
    start = time.perf_counter()
    trained = [
        _train_part(
            db,
            m,
            kind,
            params=params,
            min_spectra_per_mineral=min_spectra_per_mineral,
            calibration_size=calibration_size,
            shared_split=len(methods) > 1,
            mixture=mixture,
            mixture_network=mixture_network,
            mixture_params=mixture_params,
        )
        for m in methods
    ]
    seconds = time.perf_counter() - start
    config = {
        "method": ",".join(methods),
        "kind": kind,
        "params": dict(params or {}),
        "min_spectra_per_mineral": min_spectra_per_mineral,
        "calibration_size": calibration_size,
        "split_random_state": 0,
        "split": "by sample id hash" if len(methods) > 1 else "grouped_split",
        "mixture": (
            {"network": mixture_network, "params": dict(mixture_params or {})} if mixture else None
        ),
    }
    first = trained[0]
    provenance = {
        "code_version": code_version(),
        "dataset_version": first.dataset.version,
        "data_checksums": _checksums_digest(first.dataset),
        "config": config,
        "metrics": {
            "fit_seconds": round(seconds, 2),
            "n_spectra": sum(t.n_fit for t in trained),
            "n_calibration_spectra": sum(int(t.cal_idx.size) for t in trained),
        },
    }
    if len(trained) > 1:
        provenance["datasets"] = {t.part.method: t.dataset.version for t in trained}
    bundle = IdentificationModel({t.part.method: t.part for t in trained}, provenance)
    calibration = first.part.calibration
    if len(trained) > 1:
        bundle.fusion = calibrate_fusion(trained)
        calibration = {
            "methods": {t.part.method: t.part.calibration for t in trained},
            "fusion": bundle.fusion.summary if bundle.fusion is not None else None,
        }
    ref = registry.register(bundle, name, make_default=make_default)
    return TrainResult(ref, first.dataset, seconds, calibration)


@dataclass
class TrainedPart:
    """A method's model with the dataset it was fitted on and its calibration rows."""

    part: MethodModel
    dataset: Dataset
    cal_idx: np.ndarray
    n_fit: int


def _in_calibration(groups: np.ndarray, size: float, seed: int | str = 0) -> np.ndarray:
    """Whether each sample id is held out for calibration, decided by a hash of the id alone,
    so that a sample's Raman, IR, ... spectra all fall on the same side."""
    ids = np.asarray(groups).astype(str)
    unique, inverse = np.unique(ids, return_inverse=True)
    draws = np.array(
        [
            int.from_bytes(hashlib.sha256(f"{seed}:{g}".encode()).digest()[:8], "big") / 2**64
            for g in unique.tolist()
        ]
    )
    return (draws < size)[inverse]


def _train_part(
    db: MinDB,
    method: str,
    kind: str,
    *,
    params: dict[str, Any] | None,
    min_spectra_per_mineral: int,
    calibration_size: float,
    shared_split: bool,
    mixture: bool = False,
    mixture_network: bool = True,
    mixture_params: dict[str, Any] | None = None,
) -> TrainedPart:
    """One method's fitted and calibrated `MethodModel`."""
    # a bad kind or parameter is named before MinDB is read
    make_model(kind, method=method, **(params or {}))
    pipe = make_preset(method)
    spec = DatasetSpec.from_pipeline(pipe, min_spectra_per_mineral=min_spectra_per_mineral)
    dataset = build_dataset(db, spec, pipeline=pipe)
    if np.unique(dataset.y).size < 2:
        raise InputError(f"MinDB holds {method} spectra of fewer than 2 minerals; ingest more")
    fit_idx = np.arange(len(dataset))
    cal_idx = np.array([], dtype=int)
    if calibration_size > 0 and shared_split:
        held = _in_calibration(dataset.groups, calibration_size)
        fit_idx, cal_idx = np.flatnonzero(~held), np.flatnonzero(held)
    elif calibration_size > 0:
        fit_idx, cal_idx = grouped_split(
            dataset.y,
            dataset.groups,
            test_size=calibration_size,
            random_state=0,
            seen_classes_only=False,
        )
    trained = fit_part(
        db,
        dataset,
        kind,
        fit_idx=fit_idx,
        cal_idx=cal_idx,
        params=params,
        mixture=mixture,
        mixture_network=mixture_network,
        mixture_params=mixture_params,
        calibration_size=calibration_size,
    )
    if cal_idx.size == 0:
        trained.part.calibration = {"skipped": "calibration_size is 0"}
        return trained
    return calibrate_part(db, trained)


def fit_part(
    db: MinDB,
    dataset: Dataset,
    kind: str,
    *,
    fit_idx: np.ndarray,
    cal_idx: np.ndarray,
    params: dict[str, Any] | None = None,
    mixture: bool = False,
    mixture_network: bool = True,
    mixture_params: dict[str, Any] | None = None,
    calibration_size: float = 0.15,
    test_idx: np.ndarray | None = None,
) -> TrainedPart:
    """Fit a ``kind`` model on ``dataset[fit_idx]``: a `MethodModel` not yet calibrated.

    The dataset's spectra went through its method's preset preprocessing (``dataset.spec``).
    Besides the classifier this fits what is learned from training spectra: the composition
    estimator (Raman) and, with ``mixture``, the mixture model, whose presence thresholds are
    chosen on mixtures of the ``cal_idx`` spectra. `calibrate_part` then adds the conformal
    sets, the unknown threshold and the planetary context from the ``cal_idx`` spectra.
    ``test_idx`` (a pipeline's test side) is kept out of what the mixture model learns from
    MinDB beyond the dataset (VNIR spectra with measured modes).
    """
    from lithoscope.spectra.preprocessing import pipeline_from_dict

    method = dataset.spec.method
    spec = dataset.spec
    pipe = pipeline_from_dict(spec.preprocessing)
    model = make_model(kind, method=method, **(params or {}))
    fit_set = dataset.subset(fit_idx)
    if np.unique(fit_set.y).size < 2:
        raise InputError(f"the {method} training split holds fewer than 2 minerals; ingest more")
    start = time.perf_counter()
    model.fit(fit_set, groups=fit_set.groups)
    seconds = time.perf_counter() - start
    calibration: dict[str, Any] = {}
    groups = db.species_groups(np.asarray(model.classes_).tolist())
    composition = None
    if method == "raman":
        from lithoscope.physics.composition import fit_from_mindb

        try:
            composition = fit_from_mindb(db, pipeline=pipe)
        except InputError as exc:  # too few spectra with measured chemistry
            calibration["composition"] = {"skipped": str(exc)}
    mixture_model = None
    if mixture and method == "vnir":
        from lithoscope.pipeline.mixture import fit_modal_mixture_model

        # the modes of MinDB's labelled rock and mixture spectra, not unmixing of references
        mixture_model = fit_modal_mixture_model(
            db,
            dataset,
            fit_idx,
            cal_idx,
            pipeline=pipe,
            in_calibration=lambda keys: _in_calibration(keys, calibration_size),
            test_idx=test_idx,
            params=mixture_params,
        )
        calibration["mixture"] = mixture_model.summary
    elif mixture:
        from lithoscope.pipeline.mixture import fit_mixture_model

        mixture_model = fit_mixture_model(
            dataset.X,
            dataset.y,
            np.asarray(dataset.axis),
            fit_idx,
            cal_idx,
            groups=db.species_groups(mixture_species_of(dataset)),
            sample_ids=np.asarray(dataset.groups).astype(str),
            network=mixture_network,
            network_params=mixture_params,
        )
        calibration["mixture"] = mixture_model.summary
    metrics = {"fit_seconds": round(seconds, 2), "n_spectra": len(fit_set)}
    model.set_provenance(
        dataset_version=dataset.version,
        preprocessing=spec.preprocessing,
        method=method,
        metrics=metrics,
    )
    part = MethodModel(
        method,
        model,
        dict(spec.preprocessing),
        calibration=calibration,
        groups=groups,
        composition=composition,
        mixture=mixture_model,
    )
    return TrainedPart(part, dataset, np.asarray(cal_idx, dtype=int), len(fit_set))


def calibrate_part(db: MinDB, trained: TrainedPart) -> TrainedPart:
    """Calibrate a fitted part on its ``cal_idx`` spectra, in place: the conformal predictor,
    the unknown-mineral threshold and (when MinDB reports species on planetary bodies) the
    context prior. Too few calibration spectra leave the part working without sets, the
    reason recorded in ``part.calibration``."""
    part, dataset, cal_idx = trained.part, trained.dataset, trained.cal_idx
    calibration = dict(part.calibration or {})
    calibration.pop("skipped", None)
    if cal_idx.size == 0:
        part.calibration = {**calibration, "skipped": "no calibration spectra"}
        return trained
    X_cal, y_cal = dataset.X[cal_idx], dataset.y[cal_idx].astype(str)
    model = part.estimator
    conformal = unknown = context = None
    try:
        conformal, unknown, cal_summary = calibrate(model, X_cal, y_cal)
        calibration.update(cal_summary)
    except InputError as exc:
        # too few calibration spectra of known minerals: the model works, without sets
        calibration["skipped"] = str(exc)
    reported = {body: names for body, names in db.species_reported().items() if names}
    if reported:
        try:
            context = calibrate_context(model, X_cal, y_cal, reported)
            calibration["context"] = context.calibration_
        except InputError as exc:
            calibration["context"] = {"skipped": str(exc)}
    part.conformal, part.unknown, part.context = conformal, unknown, context
    part.calibration = calibration
    return trained


def mixture_species_of(dataset: Dataset) -> list[str]:
    """The rock-forming minerals (of the planetary rock types) the dataset holds."""
    from lithoscope.pipeline.mixture import mixture_species

    return mixture_species(np.unique(dataset.y).tolist())


def calibrate_fusion(trained: list[TrainedPart]) -> FusionCalibration | None:
    """The conformal predictor of the fused answer, from the calibration samples of all methods.

    A calibration sample contributes one fused row: the first calibration spectrum of each of
    its methods (the others missing), labelled with its mineral (samples whose methods disagree
    on the mineral are left out).
    """
    from lithoscope.models.fusion import fit_fusion_weights, late_fusion

    rows: dict[str, dict[str, int]] = {}
    label: dict[str, str] = {}
    bad: set[str] = set()
    for t in trained:
        for i in t.cal_idx.tolist():
            g = str(t.dataset.groups[i])
            mineral = str(t.dataset.y[i])
            if label.setdefault(g, mineral) != mineral:
                bad.add(g)
            rows.setdefault(g, {}).setdefault(t.part.method, i)
    samples = [g for g in rows if g not in bad]
    if not samples:
        return None
    parts = {}
    for t in trained:
        method = t.part.method
        X = np.full((len(samples), t.dataset.X.shape[1]), np.nan)
        present = [k for k, g in enumerate(samples) if method in rows[g]]
        proba = np.full((len(samples), t.part.classes.size), np.nan)
        if present:
            X = t.dataset.X[[rows[samples[k]][method] for k in present]]
            proba[present] = t.part.estimator.predict_proba(X)
        parts[method] = (t.part.classes, proba)
    truth = [label[g] for g in samples]
    n_methods = [len(rows[g]) for g in samples]
    weights = None
    if len(parts) > 1 and sum(n > 1 for n in n_methods) >= 10:
        # the weights matter where methods meet: chosen on the samples that have several
        several = np.flatnonzero(np.asarray(n_methods) > 1)
        weights = fit_fusion_weights(
            {m: (c, p[several]) for m, (c, p) in parts.items()}, [truth[k] for k in several]
        )
    classes, fused = late_fusion(parts, weights=weights)
    y_index, known = labels_to_index(classes, truth)
    if known.sum() < 10:
        return None
    conformal = ConformalPredictor(method="lac").calibrate(fused[known], y_index)
    summary: dict[str, Any] = {
        "n_calibration_samples": int(known.sum()),
        "samples_with_several_methods": int(sum(n > 1 for n in n_methods)),
        "conformal_method": "lac",
        "weights": weights or "equal (too few samples with several methods to choose them)",
    }
    unknown = None
    try:
        unknown = UnknownDetector(score="max_proba").fit(fused[known], None, y_index)
        summary["unknown_score"] = "max_proba"
    except InputError as exc:  # too few calibration samples for the rate
        summary["unknown"] = {"skipped": str(exc)}
    return FusionCalibration(tuple(parts), classes, conformal, summary, unknown, weights)


def _checksums_digest(dataset: Dataset) -> str:
    """sha256 over the sorted content checksums of the training spectra."""
    checksums = sorted(str(m.get("checksum")) for m in dataset.collection.metadata)
    return hashlib.sha256("\n".join(checksums).encode()).hexdigest()
