"""`lithoscope learn`: add a mineral to a model from a few spectra, as a new model version."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from lithoscope.errors import FormulaError, InputError, LithoscopeError
from lithoscope.mindb.chemistry import parse_formula
from lithoscope.mindb.queries import MinDB, MineralNotFound, NewMineral
from lithoscope.physics.instrument import reference_views
from lithoscope.pipeline.bundle import IdentificationModel
from lithoscope.pipeline.identify import MIN_COVERAGE
from lithoscope.pipeline.registry import ModelRef, Registry
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


def _check_mineral(db: MinDB, name: str, formula: str | None) -> tuple[str, NewMineral | None]:
    """Canonical MinDB name of ``name``, and the mineral to add when MinDB lacks it.

    Reads only: nothing is written to MinDB before the new model version is built.
    """
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
        return name.strip(), NewMineral(name.strip(), formula, parsed)
    if kind != "mineral":
        raise InputError(f"{name!r} is a mineral group; give a species name to learn")
    if formula is not None:
        raise InputError(f"{canonical} is already in MinDB; leave out --formula")
    return canonical, None


def _add_mineral(db: MinDB, new: NewMineral) -> bool:
    """Add ``new`` to MinDB; whether it was added (not already there)."""
    citation = f"added by 'lithoscope learn' on {dt.date.today().isoformat()} (user supplied)"
    added, _ = db.add_minerals([new], citation=citation)
    return bool(added)


def _store_spectra(db: MinDB, mineral: str, spectra: list[Spectrum]) -> None:
    # The "learn:" namespace keeps the identity of spectra stored by earlier versions.
    tagged = [
        sp.with_intensities(
            sp.intensities,
            checksum=hashlib.sha256(f"learn:{sp.checksum()}".encode()).hexdigest(),
        )
        for sp in spectra
    ]
    db.add_spectra(tagged, mineral=mineral, source="lithoscope learn (user spectra)")


def _carry_calibration(part: Any, n_classes: int) -> None:
    """Keep the parent's calibration; the scores stay those of the known minerals.

    Per-class (Mondrian) quantiles are indexed by the old classes: those are dropped, and the
    bundle says to recalibrate.
    """
    for attr in ("conformal", "unknown"):
        obj = getattr(part, attr)
        if obj is None:
            continue
        if getattr(obj, "mondrian", False):
            setattr(part, attr, None)
            part.calibration = {"skipped": "per-class calibration is stale after learn; retrain"}
            continue
        if hasattr(obj, "n_classes_"):
            obj.n_classes_ = n_classes


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
    also stored in MinDB as references of the mineral (source: the user). The parent's
    calibration is carried over; the new mineral has no calibration data of its own.

    Runs under the registry's lock on the model's name: two ``learn`` runs at once give two
    versions, the second built on the first (unless a version was named with ``NAME@V``).
    """
    if not spectra:
        raise InputError(f"give 1 to 5 spectra of {mineral}")
    methods = {s.method.value for s in spectra}
    if len(methods) != 1:
        raise InputError(f"the spectra mix methods ({', '.join(sorted(methods))}); give one")
    method = methods.pop()
    registry = registry or Registry()
    name = registry.resolve(model, method=method).name
    spec = model if model is not None and "@" in model else name
    # Everything from reading the parent to registering the child runs under the name's lock
    # (inter-process), so a concurrent learn builds on this one's version, not on the same
    # parent. Nothing is written before the new version is built: MinDB (mineral and spectra,
    # one transaction) first, then the version (an atomic rename), so a failure leaves no
    # half-written version.
    with registry.lock(name):
        _, parent = registry.load(spec, method=method)
        fresh = IdentificationModel.load(parent.path, ref=str(parent))  # never the cached one
        part = fresh.part(method)
        canonical, new_mineral = _check_mineral(db, mineral, formula)
        start = time.perf_counter()
        X, coverage = part.preprocess(spectra)
        short = [s for s, c in zip(spectra, coverage, strict=True) if c < MIN_COVERAGE]
        if short or not np.all(np.isfinite(X)):
            where = ", ".join(str(s.metadata.get("file", "spectrum")) for s in short) or "a file"
            raise InputError(
                f"{where}: does not cover the model's range ({part.grid[0]:g}-"
                f"{part.grid[-1]:g}); give spectra measured over that range"
            )
        # the few spectra and their instrument-model variants (other lasers, resolutions)
        part.estimator.add_class(canonical, reference_views(X, part.grid))
        if canonical not in set(np.asarray(part.classes).tolist()):
            raise LithoscopeError(
                f"{parent}: the model did not keep the name {canonical!r} when learning it; "
                "nothing was saved"
            )
        seconds = time.perf_counter() - start
        _carry_calibration(part, len(part.classes))
        if part.context is not None:
            part.context = part.context.with_classes(part.classes)
        if part.groups is not None:
            part.groups = {**part.groups, **db.species_groups([canonical])}
        entry = {"mineral": canonical, "n_spectra": len(spectra), "parent": str(parent)}
        fresh.provenance = {
            **fresh.provenance,
            "learned": [*fresh.provenance.get("learned", []), entry],
            "parent": str(parent),
        }
        with db.transaction():  # readers see the new mineral and its spectra together
            added = _add_mineral(db, new_mineral) if new_mineral is not None else False
            _store_spectra(db, canonical, spectra)
        ref = registry.register(fresh, name)
    return LearnResult(ref, parent, canonical, len(spectra), added, seconds)
