"""`lithoscope learn`: add a mineral to a model from a few spectra, as a new model version."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from lithoscope.errors import FormulaError, InputError
from lithoscope.mindb.build import attach_derived, formula_fields
from lithoscope.mindb.chemistry import parse_formula
from lithoscope.mindb.db import transaction
from lithoscope.mindb.models import Mineral, Reference
from lithoscope.mindb.models import Spectrum as SpectrumRow
from lithoscope.mindb.names import name_key
from lithoscope.mindb.queries import MinDB, MineralNotFound
from lithoscope.mindb.references import citation_key
from lithoscope.models.registry import ModelRef, Registry
from lithoscope.spectra.preprocessing import pipeline_from_dict
from lithoscope.spectra.spectrum import Spectrum

__all__ = ["LearnResult", "learn"]


@dataclass
class LearnResult:
    ref: ModelRef
    parent: ModelRef
    mineral: str
    n_spectra: int
    added_to_mindb: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": str(self.ref),
            "parent": str(self.parent),
            "mineral": self.mineral,
            "n_spectra": self.n_spectra,
            "mineral_added_to_mindb": self.added_to_mindb,
            "seconds": round(self.seconds, 3),
        }


def _ensure_mineral(db: MinDB, name: str, formula: str | None) -> tuple[str, bool]:
    """Canonical MinDB name of ``name``; with ``formula``, add it when MinDB lacks it."""
    try:
        kind, canonical = db.resolve(name)
    except MineralNotFound:
        if formula is None:
            raise InputError(
                f"mineral {name!r} is not in MinDB; give its formula with --formula to add it"
            ) from None
        try:
            parsed = parse_formula(formula)
        except FormulaError as exc:
            raise InputError(f"--formula: {exc}") from None
        citation = f"added by 'lithoscope learn' on {dt.date.today().isoformat()} (user supplied)"
        with transaction(db.session_factory) as s:
            ref = s.scalar(
                select(Reference).where(Reference.citation_key == citation_key(citation))
            )
            if ref is None:
                ref = Reference(citation=citation, citation_key=citation_key(citation))
            mineral = Mineral(
                name=name.strip(),
                name_key=name_key(name),
                formula=formula,
                **formula_fields(parsed),
                curated=False,
                reference=ref,
            )
            attach_derived(mineral, parsed)
            s.add(mineral)
        return name.strip(), True
    if kind != "mineral":
        raise InputError(f"{name!r} is a mineral group; give a species name to learn")
    if formula is not None:
        raise InputError(f"{canonical} is already in MinDB; leave out --formula")
    return canonical, False


def _store_spectra(db: MinDB, mineral: str, spectra: list[Spectrum]) -> None:
    with transaction(db.session_factory) as s:
        mineral_id = s.scalar(select(Mineral.id).where(Mineral.name == mineral))
        present = set(s.scalars(select(SpectrumRow.checksum)))
        for sp in spectra:
            digest = hashlib.sha256(f"learn:{sp.checksum()}".encode()).hexdigest()
            if digest in present:
                continue
            s.add(
                SpectrumRow(
                    mineral_id=mineral_id,
                    label=mineral,
                    method=sp.method,
                    axis_unit=sp.unit.value,
                    axis=sp.axis.astype("<f8").tobytes(),
                    intensities=sp.intensities.astype("<f8").tobytes(),
                    n_points=sp.n_points,
                    axis_min=float(sp.axis[0]),
                    axis_max=float(sp.axis[-1]),
                    laser_nm=sp.metadata.get("laser_nm"),
                    sample_id=sp.metadata.get("sample_id"),
                    source="lithoscope learn (user spectra)",
                    filename=str(sp.metadata.get("file", "")).rsplit("/", 1)[-1] or None,
                    checksum=digest,
                    extra={},
                )
            )
            present.add(digest)


def _carry_calibration(parent: Any, child: Any, n_classes: int) -> None:
    """Copy the parent's calibration; the scores stay those of the known minerals."""
    from lithoscope.uncertainty import ConformalPredictor, UnknownDetector

    for name, cls in (("conformal.json", ConformalPredictor), ("unknown.json", UnknownDetector)):
        if not (parent / name).is_file():
            continue
        obj = cls.load(parent / name)
        if getattr(obj, "mondrian", False):
            continue  # per-class quantiles are indexed by the old classes; recalibrate instead
        if hasattr(obj, "n_classes_"):
            obj.n_classes_ = n_classes
        obj.save(child / name)


def learn(
    db: MinDB,
    mineral: str,
    spectra: list[Spectrum],
    *,
    model: str | None = None,
    formula: str | None = None,
    registry: Registry | None = None,
) -> LearnResult:
    """Teach a model a mineral from 1-5 spectra and register the result as a new version.

    The model must support `add_class` (library search, CNN embedding models). The spectra are
    also stored in MinDB as references of the mineral (source: the user). Calibration files of
    the parent version are carried over; the new mineral has no calibration data of its own.
    """
    import time

    if not spectra:
        raise InputError(f"give 1 to 5 spectra of {mineral}")
    methods = {s.method.value for s in spectra}
    if len(methods) != 1:
        raise InputError(f"the spectra mix methods ({', '.join(sorted(methods))}); give one")
    method = methods.pop()
    registry = registry or Registry()
    parent = registry.resolve(model, method=method)
    loaded = registry.load(str(parent))[0]
    from lithoscope.models.base import load_model

    fresh = load_model(parent.path)  # do not touch the cached parent
    prov = dict(getattr(loaded, "provenance_", None) or {})
    if prov.get("method") and prov["method"] != method:
        raise InputError(f"model {parent} identifies {prov['method']} spectra, not {method}")
    canonical, added = _ensure_mineral(db, mineral, formula)
    start = time.perf_counter()
    pipeline = pipeline_from_dict(prov["preprocessing"])
    X = pipeline.transform(spectra)
    if not np.all(np.isfinite(X)):
        raise InputError("the spectra give NaN after preprocessing; check their axis range")
    fresh.add_class(canonical, X)
    seconds = time.perf_counter() - start
    entry = {"mineral": canonical, "n_spectra": len(spectra), "parent": str(parent)}
    learned = [*prov.get("learned", []), entry]
    fresh.provenance_ = {**prov, "learned": learned, "parent": str(parent)}
    ref = registry.register(fresh, parent.name, method=method)
    _carry_calibration(parent.path, ref.path, len(fresh.classes_))
    _store_spectra(db, canonical, spectra)
    return LearnResult(ref, parent, canonical, len(spectra), added, seconds)
