"""`lithoscope data ingest`: parse public data into MinDB.

Two kinds of source:

* ``rruff-ima``: the RRUFF IMA mineral list. Every IMA species not yet in MinDB is added (marked
  ``curated=False``; the curated files stay the authority for the species they hold), so that
  reference spectra of any mineral can be linked to it.
* ``rruff-raman``, ``rruff-ir`` (or a path to a RRUFF zip or folder): every spectrum is parsed,
  linked to its mineral by IMA name (``##NAMES``, through MinDB's aliases and a RRUFF-spelling
  key that ignores punctuation, so ``AgarditeY`` finds ``Agardite-(Y)``), deduplicated by the
  sha256 of the file, given its RRUFF ID from the header, and its ``##MEASURED CHEMISTRY`` parsed.

Everything a run adds is written in one transaction: an interrupted ingest leaves MinDB as it was.
Re-running ingests nothing twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import warnings
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select
from sqlalchemy.orm import Session

from lithoscope.errors import FormulaError, InputError
from lithoscope.mindb.build import attach_derived, formula_fields
from lithoscope.mindb.chemistry import parse_formula
from lithoscope.mindb.db import transaction
from lithoscope.mindb.models import (
    Alias,
    Mineral,
    Reference,
)
from lithoscope.mindb.models import (
    Spectrum as SpectrumRow,
)
from lithoscope.mindb.names import name_key
from lithoscope.mindb.queries import MinDB
from lithoscope.mindb.references import citation_key
from lithoscope.spectra.io import SpectrumFileError, SpectrumWarning, parse_spectrum
from lithoscope.spectra.io._common import decode

__all__ = ["IngestReport", "compact_key", "ingest", "ingest_ima", "ingest_spectra"]

RRUFF_CITATION = (
    "Lafuente B., Downs R.T., Yang H., Stone N. (2015) The power of databases: the RRUFF "
    "project. In: Highlights in Mineralogical Crystallography, Armbruster T., Danisi R.M. (eds.), "
    "De Gruyter, Berlin, 1-30; https://rruff.info"
)
_BASE_ID = re.compile(r"[RX]\d{6}")
_IMA_FILE = "rruff/ima/RRUFF_Export_with_Hey_Classification__RamanLab_5c829ff.csv"
_SPECTRA_SOURCES = {
    "rruff-raman": "rruff/raman/excellent_unoriented.zip",
    "rruff-ir": "rruff/infrared/Processed.zip",
}
_CRYSTAL_SYSTEMS = {
    "cubic",
    "isometric",
    "tetragonal",
    "hexagonal",
    "trigonal",
    "orthorhombic",
    "monoclinic",
    "triclinic",
    "amorphous",
}


def compact_key(name: str) -> str:
    """Name key without punctuation or spaces: RRUFF file names drop both (``AgarditeY``)."""
    return re.sub(r"[^0-9a-z]", "", name_key(name))


def base_sample_id(sample_id: str | None) -> str | None:
    """RRUFF sample id without suffixes (``R040063-1`` -> ``R040063``), the grouping key."""
    if not sample_id:
        return None
    match = _BASE_ID.search(sample_id)
    return match.group(0) if match else sample_id


@dataclass
class IngestReport:
    """What an ingest run did."""

    source: str
    files: int = 0
    ingested: int = 0
    duplicates: int = 0
    already_present: int = 0
    minerals_added: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    unmatched: dict[str, int] = field(default_factory=dict)
    conflicts: dict[str, list[str]] = field(default_factory=dict)
    chemistry_parsed: int = 0
    chemistry_unparsed: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "files": self.files,
            "ingested": self.ingested,
            "duplicates": self.duplicates,
            "already_present": self.already_present,
            "minerals_added": self.minerals_added,
            "unmatched_names": dict(sorted(self.unmatched.items())),
            "conflicts": dict(sorted(self.conflicts.items())),
            "failed": self.failed,
            "measured_chemistry": {
                "parsed": self.chemistry_parsed,
                "unparsed": self.chemistry_unparsed,
            },
            "warnings": self.warnings,
        }


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=True,
    )


def _reference(session: Session, citation: str) -> Reference:
    key = citation_key(citation)
    ref = session.scalar(select(Reference).where(Reference.citation_key == key))
    if ref is None:
        ref = Reference(citation=citation, citation_key=key, doi=None, url="https://rruff.info")
        session.add(ref)
    return ref


# ---------------------------------------------------------------------------------- IMA list
def _first(value: str | None) -> str | None:
    if not value:
        return None
    first = value.split("|")[0].strip()
    return first or None


def ingest_ima(db: MinDB, path: Path, *, progress: bool = True) -> IngestReport:
    """Add the IMA species of a RRUFF IMA export that MinDB does not hold yet."""
    report = IngestReport(source=str(path))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the IMA export ({exc})") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or "Mineral Name" not in rows[0]:
        raise InputError(f"{path}: not a RRUFF IMA export (no 'Mineral Name' column)")
    with transaction(db.session_factory) as session, _progress(progress) as bar:
        task = bar.add_task("IMA species", total=len(rows))
        known = set(session.scalars(select(Mineral.name_key)))
        ref = _reference(session, RRUFF_CITATION + " (IMA mineral list export)")
        for line, row in enumerate(rows, start=2):
            bar.advance(task)
            report.files += 1
            name = (row.get("Mineral Name (plain)") or row.get("Mineral Name") or "").strip()
            key = name_key(name)
            if not name or key in known:
                report.already_present += bool(name)
                continue
            # The IMA formula as published; where it is malformed in the export, the RRUFF one.
            candidates = [
                (row.get(col) or "").strip()
                for col in ("IMA Chemistry (plain)", "RRUFF Chemistry (concise)")
            ]
            formula = None
            errors = []
            for formula_text in (c for c in candidates if c):
                try:
                    formula = parse_formula(formula_text)
                    break
                except FormulaError as exc:
                    errors.append(str(exc))
            if formula is None:
                reason = "; ".join(errors) or "no formula"
                report.failed.append({"file": f"{path.name}:{line}", "reason": f"{name}: {reason}"})
                continue
            system = _first(row.get("Crystal System") or row.get("Crystal Systems"))
            system = system.lower() if system else None
            if system == "isometric":
                system = "cubic"
            if system not in _CRYSTAL_SYSTEMS:
                system = None
            space_group = _first(row.get("Space Group") or row.get("Space Groups"))
            group = (row.get("Structural Groupname") or "").strip()
            mineral = Mineral(
                name=name,
                name_key=key,
                formula=formula_text,
                **formula_fields(formula),
                crystal_system=system,
                space_group=space_group,
                structural_group=None if group in ("", "Not in a structural group") else group,
                ima_number=(row.get("IMA Number") or "").strip() or None,
                ima_status="Approved",
                curated=False,
                reference=ref,
            )
            attach_derived(mineral, formula)
            session.add(mineral)
            known.add(key)
            report.minerals_added += 1
    return report


# ---------------------------------------------------------------------------------- spectra
def iter_spectrum_files(path: Path) -> Iterator[tuple[str, str, bytes]]:
    """(display name, bare file name, bytes) of every spectrum file in a zip or folder."""
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir() or not info.filename.lower().endswith(".txt"):
                    continue
                bare = info.filename.rsplit("/", 1)[-1]
                yield f"{path.name}:{info.filename}", bare, zf.read(info)
    elif path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            if file.suffix.lower() in {".txt", ".csv", ".dx", ".jdx", ".jcamp"}:
                yield str(file), file.name, file.read_bytes()
    elif path.is_file():
        yield str(path), path.name, path.read_bytes()
    else:
        raise InputError(f"{path}: no such file or folder; give a RRUFF zip, folder or file")


def _count_files(path: Path) -> int | None:
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return sum(1 for i in zf.infolist() if i.filename.lower().endswith(".txt"))
    return None


class _Linker:
    """Finds the MinDB mineral of a spectrum label."""

    def __init__(self, session: Session) -> None:
        self.by_key: dict[str, int] = {}
        self.by_compact: dict[str, int] = {}
        for mid, key in session.execute(select(Mineral.id, Mineral.name_key)):
            self.by_key[key] = mid
            self.by_compact.setdefault(compact_key(key), mid)
        for alias_key, mid in session.execute(
            select(Alias.alias_key, Alias.mineral_id).where(Alias.mineral_id.is_not(None))
        ):
            self.by_key.setdefault(alias_key, mid)

    def find(self, label: str | None, filename: str) -> int | None:
        candidates = []
        if label:
            candidates += [label, *label.split(",")]
        candidates.append(filename.split("__")[0])
        for candidate in candidates:
            key = name_key(candidate)
            if key in self.by_key:
                return self.by_key[key]
            compact = compact_key(candidate)
            if compact in self.by_compact:
                return self.by_compact[compact]
        return None


def ingest_spectra(
    db: MinDB,
    path: Path,
    *,
    source_name: str | None = None,
    progress: bool = True,
    on_spectrum: Callable[[int], None] | None = None,
) -> IngestReport:
    """Ingest every spectrum file of a RRUFF zip, folder or single file into MinDB.

    Parameters
    ----------
    db : MinDB
        Open database.
    path : Path
        Zip, folder or file.
    source_name : str, optional
        Recorded as each spectrum's ``source`` (default: "RRUFF <zip name>").
    progress : bool
        Show a progress bar.
    on_spectrum : callable, optional
        Called with the running count after each stored spectrum (tests use it to interrupt).
    """
    report = IngestReport(source=str(path))
    source = source_name or f"RRUFF {path.name}"
    with transaction(db.session_factory) as session, _progress(progress) as bar:
        task = bar.add_task(f"Ingesting {path.name}", total=_count_files(path))
        linker = _Linker(session)
        present = set(session.scalars(select(SpectrumRow.checksum)))
        names_by_id: dict[str, set[str]] = defaultdict(set)
        for sid, label in session.execute(select(SpectrumRow.sample_id, SpectrumRow.label)):
            if sid:
                names_by_id[base_sample_id(sid)].add(label)
        seen: set[str] = set()
        new_ids: dict[str, list[SpectrumRow]] = defaultdict(list)
        for display, bare, data in iter_spectrum_files(path):
            bar.advance(task)
            report.files += 1
            checksum = hashlib.sha256(data).hexdigest()
            if checksum in present:
                report.already_present += 1
                continue
            if checksum in seen:
                report.duplicates += 1
                continue
            seen.add(checksum)
            try:
                text = decode(data, display)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", SpectrumWarning)
                    spectrum = parse_spectrum(text, display)
                report.warnings.extend(str(w.message) for w in caught)
            except SpectrumFileError as exc:
                report.failed.append({"file": display, "reason": str(exc)})
                continue
            meta = dict(spectrum.metadata)
            label = meta.get("mineral") or bare.split("__")[0]
            mineral_id = linker.find(meta.get("mineral"), bare)
            if mineral_id is None:
                report.unmatched[label] = report.unmatched.get(label, 0) + 1
            extra: dict[str, Any] = {
                k: v
                for k, v in meta.items()
                if k not in {"mineral", "sample_id", "laser_nm", "file", "measured_chemistry"}
                and v is not None
            }
            measured = meta.get("measured_chemistry")
            if measured:
                try:
                    parsed = parse_formula(measured)
                    extra["measured_composition"] = {
                        el: round(n, 5) for el, n in parsed.amounts.items()
                    }
                    report.chemistry_parsed += 1
                except FormulaError as exc:
                    extra["measured_chemistry_error"] = str(exc)
                    report.chemistry_unparsed += 1
            sample_id = meta.get("sample_id")
            row = SpectrumRow(
                mineral_id=mineral_id,
                label=label,
                method=spectrum.method,
                axis_unit=spectrum.unit.value,
                axis=spectrum.axis.astype("<f8").tobytes(),
                intensities=spectrum.intensities.astype("<f8").tobytes(),
                n_points=spectrum.n_points,
                axis_min=float(spectrum.axis[0]),
                axis_max=float(spectrum.axis[-1]),
                laser_nm=meta.get("laser_nm"),
                sample_id=sample_id,
                source=source,
                filename=bare,
                checksum=checksum,
                measured_chemistry=measured,
                extra=extra,
            )
            session.add(row)
            report.ingested += 1
            if sample_id:
                base = base_sample_id(sample_id)
                names_by_id[base].add(label)
                new_ids[base].append(row)
            if on_spectrum is not None:
                on_spectrum(report.ingested)
            if report.ingested % 500 == 0:
                session.flush()
        for base, labels in names_by_id.items():
            if len(labels) > 1:
                report.conflicts[base] = sorted(labels)
                for row in new_ids.get(base, []):
                    row.extra = {**row.extra, "label_conflict": sorted(labels)}
    return report


def ingest(
    db: MinDB,
    source: str,
    *,
    mirror: str | Path | None = None,
    progress: bool = True,
) -> IngestReport:
    """Ingest a named source (``rruff-ima``, ``rruff-raman``, ``rruff-ir``) or a path.

    Named sources are fetched first when not yet on disk (from ``mirror``,
    ``LITHOSCOPE_MIRROR`` or the official URL; see `lithoscope.data.fetch`).
    """
    candidate = Path(source).expanduser()
    if candidate.exists():
        return ingest_spectra(db, candidate, progress=progress)
    if source == "rruff-ima":
        from lithoscope.data.fetch import local_path

        return ingest_ima(db, local_path("rruff-ima", _IMA_FILE, mirror=mirror), progress=progress)
    if source in _SPECTRA_SOURCES:
        from lithoscope.data.fetch import local_path

        path = local_path(source, _SPECTRA_SOURCES[source], mirror=mirror)
        return ingest_spectra(db, path, source_name=f"RRUFF {Path(path).name}", progress=progress)
    valid = ", ".join(["rruff-ima", *_SPECTRA_SOURCES])
    raise InputError(f"source {source!r} is neither a file or folder nor one of: {valid}")


def spectrum_arrays(row: SpectrumRow) -> tuple[np.ndarray, np.ndarray]:
    """Axis and intensities of a stored spectrum."""
    return (
        np.frombuffer(row.axis, dtype="<f8").astype(np.float64),
        np.frombuffer(row.intensities, dtype="<f8").astype(np.float64),
    )
