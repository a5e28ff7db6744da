"""`IdentificationModel`: the one trained artefact that train, learn, evaluate and identify use.

A bundle holds, per method, the preprocessing pipeline and the estimator, the conformal predictor
and the unknown-mineral detector calibrated for it, and the provenance of the whole (dataset
version, data checksums, training configuration, metrics). Nothing outside this module knows its
file names.

On disk (after MLflow's ``MLmodel`` and Keras' ``.keras``) a bundle is a folder::

    manifest.json                   written last: a folder without it is not a bundle
    raman/preprocessing.json        the pipeline (`pipeline_to_dict`)
    raman/estimator/...             `SpectralClassifier.save` (model.json, arrays, .keras/.skops)
    raman/conformal.json            absent when calibration was skipped (the manifest says why)
    raman/unknown.json
    raman/context.json              planetary-context prior (`ContextPrior`), if MinDB had any
    raman/groups.json               species -> group, for answers at group level
    raman/composition.json          solid-solution composition from band positions (Raman)
    raman/mixture/...               `MixtureModel.save` (``train --mixture``): unmixer, network
    fusion.json                     several methods trained together: the fused answer's sets

The manifest records the schema version, the lithoscope version that wrote it, the methods with
the role of each file, and the sha256 of every file. `IdentificationModel.load` checks the schema
and every checksum before anything is deserialised, so a truncated, swapped or edited file is a
one-line error, never a half-loaded model. Folders written by lithoscope 0.1 (``model.json``,
``conformal.json`` and ``unknown.json`` side by side) still load: `load` reads them as one-method
bundles (nothing is rewritten).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from lithoscope import __version__
from lithoscope._files import jsonable, read_json, sha256_file, write_json
from lithoscope.errors import InputError
from lithoscope.methods import Method, parse_enum
from lithoscope.spectra.spectrum import Spectrum

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_SCHEMA_VERSION",
    "FusionCalibration",
    "IdentificationModel",
    "MethodModel",
]

BUNDLE_FORMAT = "lithoscope-bundle"
BUNDLE_SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
_LEGACY_MODEL = "model.json"


@dataclass
class MethodModel:
    """What a bundle knows about one method.

    Parameters
    ----------
    method : str
    estimator : SpectralClassifier
        Fitted; its ``axis_`` is the preprocessing grid.
    preprocessing : dict
        The pipeline as `pipeline_to_dict` wrote it.
    conformal : ConformalPredictor, optional
    unknown : UnknownDetector, optional
    calibration : dict, optional
        How the two were calibrated, or ``{"skipped": reason}``.
    context : ContextPrior, optional
        Per-body occurrence prior and its conformal sets (``identify --body``).
    groups : dict of str to str, optional
        Species -> the group it answers to when species cannot be told apart.
    composition : CompositionEstimator, optional
        Olivine Fo, pyroxene En/Fs/Wo and plagioclase An from band positions.
    mixture : MixtureModel, optional
        Minerals and abundances of mixture spectra (``identify --mixture``).
    """

    method: str
    estimator: Any
    preprocessing: dict[str, Any]
    conformal: Any = None
    unknown: Any = None
    calibration: dict[str, Any] | None = None
    context: Any = None
    groups: dict[str, str] | None = None
    composition: Any = None
    mixture: Any = None

    def __post_init__(self) -> None:
        self.method = _method(self.method)
        if not isinstance(self.preprocessing, Mapping) or not self.preprocessing:
            raise InputError(f"{self.method} model: no preprocessing recorded; retrain it")

    @cached_property
    def pipeline(self) -> Any:
        """The scikit-learn preprocessing pipeline, rebuilt from its JSON."""
        from lithoscope.spectra.preprocessing import pipeline_from_dict

        return pipeline_from_dict(self.preprocessing)

    @cached_property
    def preprocessor(self) -> Any:
        """The fast batch path of `pipeline` (same numbers, one pass over the batch)."""
        from lithoscope.spectra.preprocessing import Preprocessor

        return Preprocessor.from_pipeline(self.pipeline)

    def preprocess(self, spectra: Sequence[Spectrum]) -> tuple[np.ndarray, np.ndarray]:
        """The estimator's input for raw ``spectra`` (n, n_grid) and the share of the grid each
        one covers (n,): the same numbers as training, in one pass over the batch."""
        pre = self.preprocessor
        return pre.transform(spectra), pre.coverage(spectra)

    @property
    def classes(self) -> np.ndarray:
        return self.estimator.classes_

    @property
    def grid(self) -> np.ndarray:
        """The axis the estimator was trained on."""
        return np.asarray(self.estimator.axis_)

    @cached_property
    def group_index(self) -> tuple[np.ndarray, list[str]]:
        """Group of each class as an index into the returned names (-1: none)."""
        names = sorted(set((self.groups or {}).values()))
        lookup = {n: i for i, n in enumerate(names)}
        index = np.array(
            [lookup.get((self.groups or {}).get(str(c), ""), -1) for c in self.classes],
            dtype=np.intp,
        )
        return index, names

    @property
    def calibrated(self) -> bool:
        return self.conformal is not None and self.unknown is not None

    def missing_calibration(self) -> str | None:
        """Why this method has no prediction sets or unknown verdicts, or None."""
        if self.calibrated:
            return None
        reason = (self.calibration or {}).get("skipped") or "it was never calibrated"
        return f"no conformal calibration for {self.method} ({reason}); retrain to get sets"


@dataclass
class FusionCalibration:
    """The conformal predictor of the fused answer of a bundle's methods.

    Parameters
    ----------
    methods : tuple of str
    classes : ndarray of str
        The fused class order (the union of the methods' classes).
    conformal : ConformalPredictor
        Calibrated on fused probabilities of calibration samples.
    summary : dict
    unknown : UnknownDetector, optional
        The unknown-mineral threshold on the fused probabilities (``max_proba``).
    weights : dict of str to float, optional
        Per-method weights of `late_fusion` chosen on the calibration samples
        (`fit_fusion_weights`); None: equal weights.
    """

    methods: tuple[str, ...]
    classes: np.ndarray
    conformal: Any
    summary: dict[str, Any] = field(default_factory=dict)
    unknown: Any = None
    weights: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "methods": list(self.methods),
            "classes": [str(c) for c in self.classes],
            "conformal": self.conformal.to_dict(),
            "unknown": self.unknown.to_dict() if self.unknown is not None else None,
            "weights": self.weights,
            "summary": self.summary,
        }

    @classmethod
    def from_dict(cls, doc: Any) -> FusionCalibration:
        from lithoscope.uncertainty import ConformalPredictor, UnknownDetector

        try:
            unknown = doc.get("unknown")
            return cls(
                tuple(str(m) for m in doc["methods"]),
                np.asarray(doc["classes"]).astype(str),
                ConformalPredictor.from_dict(doc["conformal"]),
                dict(doc.get("summary") or {}),
                UnknownDetector.from_dict(unknown) if unknown is not None else None,
                _weights(doc.get("weights")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"fusion calibration is incomplete or invalid: {exc}") from None


@dataclass
class IdentificationModel:
    """A trained identification model: one `MethodModel` per method, and its provenance.

    Parameters
    ----------
    parts : mapping of str to MethodModel
    provenance : dict, optional
        ``dataset_version``, ``data_checksums``, ``config``, ``metrics``, ``learned`` ...

    Attributes
    ----------
    ref : str or None
        ``NAME@VERSION`` once registered or loaded from the registry.
    path : Path or None
        The folder it was loaded from or saved to.
    """

    parts: dict[str, MethodModel]
    provenance: dict[str, Any] = field(default_factory=dict)
    ref: str | None = None
    path: Path | None = None
    fusion: FusionCalibration | None = None

    def __post_init__(self) -> None:
        if not self.parts:
            raise InputError("an identification model needs at least one method")
        self.parts = {_method(m): p for m, p in self.parts.items()}
        for method, part in self.parts.items():
            if part.method != method:
                raise InputError(f"the {method} entry holds a {part.method} model")

    # ------------------------------------------------------------------ access
    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(m.value for m in Method if m.value in self.parts)

    def part(self, method: str) -> MethodModel:
        """The `MethodModel` of ``method``; an `InputError` names the methods it has."""
        method = _method(method)
        if method not in self.parts:
            raise InputError(
                f"model {self.name} identifies {', '.join(self.methods)} spectra, not {method}; "
                f"pick a {method} model with --model"
            )
        return self.parts[method]

    @property
    def name(self) -> str:
        return self.ref or (str(self.path) if self.path else "(unsaved model)")

    def __str__(self) -> str:
        return self.name

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the bundle to the new folder ``path`` (it must not exist).

        Written into a temporary folder beside ``path`` and renamed into place, manifest last:
        readers never see a partial bundle, and two writers of one ``path`` cannot both
        succeed (the loser gets `FileExistsError`).
        """
        path = Path(path)
        if path.exists():
            raise FileExistsError(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        try:
            self._write(tmp)
            try:
                os.rename(tmp, path)  # atomic; fails if another writer made ``path`` meanwhile
            except OSError as exc:
                if path.exists():
                    raise FileExistsError(path) from exc
                raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.path = path
        return path

    def _write(self, folder: Path) -> None:
        methods: dict[str, Any] = {}
        for method, part in self.parts.items():
            entry: dict[str, Any] = {
                "estimator": f"{method}/estimator",
                "preprocessing": f"{method}/preprocessing.json",
                "conformal": None,
                "unknown": None,
                "context": None,
                "groups": None,
                "composition": None,
                "mixture": None,
                "calibration": part.calibration,
                "classes": len(part.classes),
            }
            part.estimator.save(folder / method / "estimator")
            write_json(folder / entry["preprocessing"], dict(part.preprocessing))
            if part.conformal is not None:
                entry["conformal"] = f"{method}/conformal.json"
                write_json(folder / entry["conformal"], part.conformal.to_dict())
            if part.unknown is not None:
                entry["unknown"] = f"{method}/unknown.json"
                write_json(folder / entry["unknown"], part.unknown.to_dict())
            if part.context is not None:
                entry["context"] = f"{method}/context.json"
                write_json(folder / entry["context"], part.context.to_dict())
            if part.groups is not None:
                entry["groups"] = f"{method}/groups.json"
                write_json(folder / entry["groups"], dict(part.groups))
            if part.composition is not None:
                entry["composition"] = f"{method}/composition.json"
                write_json(folder / entry["composition"], part.composition.to_dict())
            if part.mixture is not None:
                entry["mixture"] = f"{method}/mixture"
                part.mixture.save(folder / entry["mixture"])
            methods[method] = entry
        fusion = None
        if self.fusion is not None:
            fusion = "fusion.json"
            write_json(folder / fusion, self.fusion.to_dict())
        files = {
            p.relative_to(folder).as_posix(): sha256_file(p)
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
        manifest = {
            "format": BUNDLE_FORMAT,
            "schema_version": BUNDLE_SCHEMA_VERSION,
            "lithoscope_version": __version__,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "methods": methods,
            "fusion": fusion,
            "provenance": jsonable(self.provenance),
            "files": files,
        }
        write_json(folder / MANIFEST, manifest)

    @classmethod
    def is_bundle(cls, path: str | Path) -> bool:
        """Whether ``path`` holds a complete bundle (or a lithoscope 0.1 model folder)."""
        path = Path(path)
        return (path / MANIFEST).is_file() or (path / _LEGACY_MODEL).is_file()

    @classmethod
    def load(cls, path: str | Path, *, ref: str | None = None) -> IdentificationModel:
        """Read a bundle written by `save` (or a lithoscope 0.1 model folder).

        Raises
        ------
        InputError
            Not a bundle, a newer schema, a missing or altered file (checksum), or a part that
            does not deserialise; the message names the file and the fix.
        """
        path = Path(path)
        if not (path / MANIFEST).is_file():
            if (path / _LEGACY_MODEL).is_file():
                return _load_legacy(path, ref)
            raise InputError(
                f"{path}: no {MANIFEST}; not a complete lithoscope model (an interrupted save "
                "leaves none); retrain or restore it"
            )
        manifest = read_json(path / MANIFEST, what="model manifest")
        _check_manifest(manifest, path)
        _verify_files(path, manifest["files"])
        from lithoscope.models.base import load_model
        from lithoscope.uncertainty import ConformalPredictor, ContextPrior, UnknownDetector

        parts = {}
        for method, entry in manifest["methods"].items():
            conformal = unknown = context = groups = composition = mixture = None
            try:
                estimator = load_model(path / entry["estimator"])
                preprocessing = read_json(path / entry["preprocessing"], what="preprocessing")
                if entry.get("conformal"):
                    conformal = ConformalPredictor.from_dict(
                        read_json(path / entry["conformal"], what="conformal calibration")
                    )
                if entry.get("unknown"):
                    unknown = UnknownDetector.from_dict(
                        read_json(path / entry["unknown"], what="unknown calibration")
                    )
                if entry.get("context"):
                    context = ContextPrior.from_dict(
                        read_json(path / entry["context"], what="context prior")
                    )
                if entry.get("groups"):
                    groups = _groups(read_json(path / entry["groups"], what="species groups"))
                if entry.get("composition"):
                    from lithoscope.physics.composition import CompositionEstimator

                    composition = CompositionEstimator.from_dict(
                        read_json(path / entry["composition"], what="composition estimator")
                    )
                if entry.get("mixture"):
                    from lithoscope.models.mixture import MixtureModel

                    mixture = MixtureModel.load(path / entry["mixture"])
            except (KeyError, TypeError) as exc:
                raise InputError(
                    f"{path / MANIFEST}: the {method} entry is incomplete ({exc}); retrain or "
                    "restore the model"
                ) from None
            except InputError as exc:
                raise InputError(f"{path}: {method} part: {exc}") from None
            parts[method] = MethodModel(
                method,
                estimator,
                preprocessing,
                conformal,
                unknown,
                entry.get("calibration"),
                context,
                groups,
                composition,
                mixture,
            )
        fusion = None
        if manifest.get("fusion"):
            if manifest["fusion"] not in manifest["files"]:
                raise InputError(f"{path / MANIFEST}: 'fusion' names a file it does not list")
            fusion = FusionCalibration.from_dict(
                read_json(path / manifest["fusion"], what="fusion calibration")
            )
        return cls(parts, dict(manifest.get("provenance") or {}), ref=ref, path=path, fusion=fusion)


# ---------------------------------------------------------------------- helpers
def _weights(doc: Any) -> dict[str, float] | None:
    """Late-fusion weights read from fusion.json: finite and non-negative, or None."""
    if doc is None:
        return None
    weights = {str(m): float(w) for m, w in dict(doc).items()}
    if not all(np.isfinite(w) and w >= 0 for w in weights.values()):
        raise ValueError(f"weights must be finite and non-negative, got {weights}")
    return weights


def _method(value: Any) -> str:
    return parse_enum(Method, value, "method").value


def _groups(doc: Any) -> dict[str, str]:
    if not isinstance(doc, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in doc.items()
    ):
        raise InputError("species groups must be a JSON object of species -> group names")
    return doc


def _check_manifest(manifest: Any, path: Path) -> None:
    where = path / MANIFEST
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise InputError(f"{where}: not a lithoscope model manifest")
    version = manifest.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise InputError(f"{where}: schema_version {version!r} is not a positive integer")
    if version > BUNDLE_SCHEMA_VERSION:
        raise InputError(
            f"{where}: written by a newer lithoscope ({manifest.get('lithoscope_version')}, "
            f"schema {version}); upgrade lithoscope"
        )
    methods, files = manifest.get("methods"), manifest.get("files")
    if not isinstance(methods, dict) or not methods or not isinstance(files, dict):
        raise InputError(f"{where}: 'methods' and 'files' are missing or empty; restore it")
    for method in methods:
        _method(method)


def _verify_files(path: Path, files: Mapping[str, Any]) -> None:
    """Every file the manifest lists exists inside ``path`` with its recorded sha256."""
    root = path.resolve()
    for rel, digest in files.items():
        target = (path / rel).resolve()
        if root not in target.parents:
            raise InputError(f"{path / MANIFEST}: file {rel!r} points outside the model folder")
        if not target.is_file():
            raise InputError(f"{path}: {rel} is missing; restore the model or retrain it")
        if sha256_file(target) != digest:
            raise InputError(
                f"{path}: {rel} was changed or damaged after saving (checksum mismatch); "
                "restore the model or retrain it"
            )


def _load_legacy(path: Path, ref: str | None) -> IdentificationModel:
    """A lithoscope 0.1 folder: model.json (+ arrays) with conformal.json / unknown.json."""
    from lithoscope.models.base import load_model
    from lithoscope.uncertainty import ConformalPredictor, UnknownDetector

    estimator = load_model(path)
    prov = dict(getattr(estimator, "provenance_", None) or {})
    method = prov.get("method")
    if not method:
        raise InputError(f"{path}: the model records no method; retrain it")
    conformal = unknown = None
    if (path / "conformal.json").is_file():
        conformal = ConformalPredictor.load(path / "conformal.json")
    if (path / "unknown.json").is_file():
        unknown = UnknownDetector.load(path / "unknown.json")
    calibration = None if conformal is not None else {"skipped": "not calibrated (0.1 model)"}
    part = MethodModel(
        method, estimator, prov.get("preprocessing") or {}, conformal, unknown, calibration
    )
    provenance = {k: v for k, v in prov.items() if k not in ("preprocessing", "method")}
    provenance["converted_from"] = "lithoscope 0.1 model folder"
    return IdentificationModel({method: part}, provenance, ref=ref, path=path)


def single_method(
    method: str,
    estimator: Any,
    preprocessing: Mapping[str, Any],
    *,
    conformal: Any = None,
    unknown: Any = None,
    calibration: dict[str, Any] | None = None,
    provenance: dict[str, Any] | None = None,
    context: Any = None,
    groups: dict[str, str] | None = None,
    composition: Any = None,
) -> IdentificationModel:
    """The one-method bundle (what ``lithoscope train`` makes)."""
    part = MethodModel(
        method,
        estimator,
        dict(preprocessing),
        conformal,
        unknown,
        calibration,
        context,
        groups,
        composition,
    )
    return IdentificationModel({part.method: part}, dict(provenance or {}))
