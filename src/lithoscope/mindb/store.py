"""MinDB's spectra: the one place that reads, writes and links stored spectra.

`lithoscope.mindb.MinDB` exposes these as ``spectra``, ``spectra_arrays``, ``add_spectra``,
``link_spectra`` and ``add_minerals``; nothing outside ``lithoscope.mindb`` writes SQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from lithoscope.errors import InputError
from lithoscope.methods import Method
from lithoscope.mindb.arrays import encode_array
from lithoscope.mindb.build import attach_derived, formula_fields
from lithoscope.mindb.chemistry import Formula
from lithoscope.mindb.db import transaction
from lithoscope.mindb.labels import Link, Linker, LinkReport, base_sample_id, link_spectra
from lithoscope.mindb.models import Mineral, Reference
from lithoscope.mindb.models import Spectrum as SpectrumRow
from lithoscope.mindb.names import name_key
from lithoscope.mindb.references import citation_key, extract_doi, extract_url

__all__ = [
    "NewChecksums",
    "NewMineral",
    "SpectraReport",
    "StoredSpectra",
    "add_minerals",
    "add_spectra",
    "stored_checksums",
]

# Metadata keys that are columns (or are derived from them when reading): not copied to `extra`.
_COLUMN_KEYS = frozenset(
    {
        "mineral",
        "label",
        "link",
        "sample_id",
        "group",
        "laser_nm",
        "file",
        "checksum",
        "measured_chemistry",
        "spectrum_id",
        "source",
        "unit",
    }
)
_BATCH = 500


# ---------------------------------------------------------------------------------- reading
@dataclass(frozen=True, eq=False)
class StoredSpectra:
    """Stored spectra as arrays and metadata, without building `Spectrum` objects.

    The arrays are read-only views of the database bytes. ``metadata[i]`` holds
    ``spectrum_id``, ``mineral`` (the linked species or group name, else the label), ``link``
    ('mineral', 'group' or None), ``label``, ``sample_id``, ``group`` (RRUFF sample id without
    suffixes: the grouping key of splits), ``laser_nm``, ``checksum``, ``file``, ``source`` and
    ``measured_chemistry``.
    """

    axes: list[np.ndarray]
    intensities: list[np.ndarray]
    methods: list[Method]
    units: list[str]
    metadata: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.metadata)

    def to_spectra(self) -> list[Any]:
        """The same spectra as `lithoscope.spectra.spectrum.Spectrum` objects."""
        from lithoscope.spectra.spectrum import Spectrum

        return [
            Spectrum(a, y, m, u, meta)
            for a, y, m, u, meta in zip(
                self.axes, self.intensities, self.methods, self.units, self.metadata, strict=True
            )
        ]


def stored_checksums(factory: sessionmaker[Session]) -> set[str]:
    """Checksums of every stored spectrum (the identity used to skip what is already in)."""
    with factory() as session:
        return set(session.scalars(select(SpectrumRow.checksum)))


# ---------------------------------------------------------------------------------- writing
class NewChecksums:
    """Tells new content from what is stored or already seen in this run, and counts both."""

    def __init__(self, present: set[str]) -> None:
        self.present = present
        self.seen: set[str] = set()
        self.already_present = 0
        self.duplicates = 0

    def is_new(self, checksum: str) -> bool:
        """True the first time a checksum that is not stored comes by."""
        if checksum in self.present:
            self.already_present += 1
            return False
        if checksum in self.seen:
            self.duplicates += 1
            return False
        self.seen.add(checksum)
        return True


@dataclass
class SpectraReport:
    """What `add_spectra` stored."""

    added: int = 0
    already_present: int = 0
    duplicates: int = 0
    linked_to_species: int = 0
    linked_to_groups: int = 0
    unlinked: dict[str, int] = field(default_factory=dict)
    unlinked_reasons: dict[str, str] = field(default_factory=dict)
    conflicts: dict[str, list[str]] = field(default_factory=dict)
    links: LinkReport | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "added": self.added,
            "already_present": self.already_present,
            "duplicates": self.duplicates,
            "linked_to_species": self.linked_to_species,
            "linked_to_groups": self.linked_to_groups,
            "unlinked": dict(sorted(self.unlinked.items())),
            "unlinked_reasons": dict(sorted(self.unlinked_reasons.items())),
            "conflicts": dict(sorted(self.conflicts.items())),
        }
        if self.links is not None:
            out["links"] = self.links.to_dict()
        return out


def _file_name(meta: dict[str, Any]) -> str | None:
    text = str(meta.get("file") or "")
    return text.replace("\\", "/").replace(":", "/").rsplit("/", 1)[-1] or None


def add_spectra(
    factory: sessionmaker[Session],
    spectra: Iterable[Any],
    *,
    source: str,
    mineral: str | None = None,
    relink: bool = False,
    on_spectrum: Callable[[int], None] | None = None,
) -> SpectraReport:
    """Store spectra in one transaction (see `MinDB.add_spectra`)."""
    if not source or not str(source).strip():
        raise InputError("source is empty; say where the spectra come from")
    report = SpectraReport()
    with transaction(factory) as session:
        linker = Linker(session)
        fixed: Link | None = None
        if mineral is not None:
            fixed = linker.link(mineral)
            if fixed.kind is None or fixed.how in ("rruff spelling",):
                from lithoscope.mindb.queries import MineralNotFound

                raise MineralNotFound(
                    f"mineral {mineral!r} is not in MinDB; add it first (learn --formula)"
                )
        fresh = NewChecksums(set(session.scalars(select(SpectrumRow.checksum))))
        names_by_id: dict[str, set[str]] = defaultdict(set)
        for sid, label in session.execute(select(SpectrumRow.sample_id, SpectrumRow.label)):
            if sid:
                names_by_id[base_sample_id(sid) or sid].add(label)
        new_by_id: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        batch: list[dict[str, Any]] = []
        for spectrum in spectra:
            meta = dict(spectrum.metadata)
            checksum = str(meta.get("checksum") or spectrum.checksum())
            if not fresh.is_new(checksum):
                continue
            filename = _file_name(meta)
            label = (
                fixed.name
                if fixed is not None
                else str(meta.get("mineral") or (filename or "").split("__")[0] or "unlabelled")
            )
            sample_id = meta.get("sample_id")
            link = fixed or linker.link(label, filename=filename, sample_id=sample_id)
            if link.kind == "mineral":
                report.linked_to_species += 1
            elif link.kind == "group":
                report.linked_to_groups += 1
            else:
                report.unlinked[label] = report.unlinked.get(label, 0) + 1
                report.unlinked_reasons[label] = link.reason or ""
            extra = {k: v for k, v in meta.items() if k not in _COLUMN_KEYS and v is not None}
            axis = spectrum.axis
            batch.append(
                {
                    "mineral_id": link.id if link.kind == "mineral" else None,
                    "group_id": link.id if link.kind == "group" else None,
                    "label": label,
                    "method": spectrum.method,
                    "axis_unit": spectrum.unit.value,
                    "axis": encode_array(axis),
                    "intensities": encode_array(spectrum.intensities),
                    "n_points": int(axis.size),
                    "axis_min": float(axis[0]),
                    "axis_max": float(axis[-1]),
                    "laser_nm": meta.get("laser_nm"),
                    "sample_id": sample_id,
                    "source": source,
                    "filename": filename,
                    "checksum": checksum,
                    "measured_chemistry": meta.get("measured_chemistry"),
                    "extra": extra,
                }
            )
            report.added += 1
            if sample_id:
                base = base_sample_id(sample_id) or sample_id
                names_by_id[base].add(label)
                new_by_id[base].append((checksum, extra))
            if on_spectrum is not None:
                on_spectrum(report.added)
            if len(batch) >= _BATCH:
                session.execute(insert(SpectrumRow), batch)
                batch = []
        if batch:
            session.execute(insert(SpectrumRow), batch)
        marks = []
        for base, labels in names_by_id.items():
            if len(labels) > 1:
                report.conflicts[base] = sorted(labels)
                for checksum, extra in new_by_id.get(base, []):
                    marks.append({"c": checksum, "x": {**extra, "label_conflict": sorted(labels)}})
        if marks:
            table = SpectrumRow.__table__
            session.execute(
                update(table)
                .where(table.c.checksum == bindparam("c"))
                .values(extra=bindparam("x")),
                marks,
            )
        report.already_present, report.duplicates = fresh.already_present, fresh.duplicates
        if relink:
            report.links = link_spectra(session, linker)
    return report


# ---------------------------------------------------------------------------------- minerals
@dataclass(frozen=True)
class NewMineral:
    """A species to add to MinDB (from the IMA list, or a user's ``learn --formula``)."""

    name: str
    formula_text: str
    formula: Formula
    crystal_system: str | None = None
    space_group: str | None = None
    structural_group: str | None = None
    ima_number: str | None = None
    ima_status: str | None = None


def _reference(session: Session, citation: str, url: str | None = None) -> Reference:
    key = citation_key(citation)
    ref = session.scalar(select(Reference).where(Reference.citation_key == key))
    if ref is None:
        ref = Reference(
            citation=" ".join(citation.split()),
            citation_key=key,
            doi=extract_doi(citation),
            url=url or extract_url(citation),
        )
        session.add(ref)
    return ref


def add_minerals(
    factory: sessionmaker[Session],
    minerals: Iterable[NewMineral],
    *,
    citation: str,
    url: str | None = None,
) -> tuple[list[str], int]:
    """Add species MinDB does not hold yet, in one transaction (``curated=False``).

    Returns
    -------
    (added, already_present) : tuple
        Names added, and how many were already there (by name key).
    """
    added: list[str] = []
    present = 0
    with transaction(factory) as session:
        known = set(session.scalars(select(Mineral.name_key)))
        ref = _reference(session, citation, url)
        for new in minerals:
            key = name_key(new.name)
            if not key:
                raise InputError("mineral name is empty; give a species name")
            if key in known:
                present += 1
                continue
            mineral = Mineral(
                name=new.name.strip(),
                name_key=key,
                formula=new.formula_text,
                **formula_fields(new.formula),
                crystal_system=new.crystal_system,
                space_group=new.space_group,
                structural_group=new.structural_group,
                ima_number=new.ima_number,
                ima_status=new.ima_status,
                curated=False,
                reference=ref,
            )
            attach_derived(mineral, new.formula)
            session.add(mineral)
            known.add(key)
            added.append(mineral.name)
    return added, present
