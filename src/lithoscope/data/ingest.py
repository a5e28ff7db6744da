"""`lithoscope data ingest`: parse public data into MinDB.

Two kinds of source:

* ``rruff-ima``: the RRUFF IMA mineral list. Every IMA species not yet in MinDB is added (marked
  ``curated=False``; the curated files stay the authority for the species they hold), so that
  reference spectra of any mineral can be linked to it.
  The RamanLab copy of the export stops at 'Zugshunstite-(Ce)'; the species after it are taken
  from the unmodified 2022-02-28 export.
* ``rruff-raman``, ``rruff-ir`` (or a path to a RRUFF zip or folder): every spectrum is parsed,
  deduplicated by the sha256 of the file, given its RRUFF ID from the header, its
  ``##MEASURED CHEMISTRY`` parsed, and stored with `MinDB.add_spectra`, which links its label
  (``##NAMES``) to a species, to a group with the species left open (``Tourmaline``), or to
  nothing, with the reason (see `lithoscope.mindb.labels` and ``curated/renames.csv``).

Everything a run adds is written in one transaction: an interrupted ingest leaves MinDB as it was.
Re-running ingests nothing twice, and links again the stored spectra that are not linked to a
species (after a new IMA list or new curated renames); the report lists every label that stays
unlinked and why.
"""

from __future__ import annotations

import csv
import hashlib
import io
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lithoscope.errors import FormulaError, InputError
from lithoscope.mindb.build import CRYSTAL_SYSTEMS
from lithoscope.mindb.chemistry import parse_formula
from lithoscope.mindb.labels import base_sample_id, compact_key
from lithoscope.mindb.names import name_key
from lithoscope.mindb.queries import MinDB, NewMineral
from lithoscope.mindb.store import NewChecksums
from lithoscope.spectra.io import SpectrumFileError, SpectrumWarning, parse_spectrum
from lithoscope.spectra.io._common import decode
from lithoscope.spectra.spectrum import Spectrum

__all__ = [
    "IngestReport",
    "base_sample_id",
    "compact_key",
    "ingest",
    "ingest_ima",
    "ingest_spectra",
]

RRUFF_CITATION = (
    "Lafuente B., Downs R.T., Yang H., Stone N. (2015) The power of databases: the RRUFF "
    "project. In: Highlights in Mineralogical Crystallography, Armbruster T., Danisi R.M. (eds.), "
    "De Gruyter, Berlin, 1-30; https://rruff.info"
)
_IMA_FILE = "rruff/ima/RRUFF_Export_with_Hey_Classification__RamanLab_5c829ff.csv"
# The unmodified RRUFF export of 2022-02-28: completes the RamanLab copy, which is cut short.
_IMA_COMPLEMENT = "rruff/ima/RRUFF_Export_20220228_102415.csv"
_SPECTRA_SOURCES = {
    "rruff-raman": "rruff/raman/excellent_unoriented.zip",
    "rruff-ir": "rruff/infrared/Processed.zip",
}
# VNIR tables with their own readers (`lithoscope.data.vnir`): source -> ingest function name
_VNIR_SOURCES = {"korda2024": "ingest_korda", "usgs-splib07": "ingest_usgs"}


@dataclass
class IngestReport:
    """What an ingest run did.

    ``unmatched`` counts, per label, the spectra of this run that link to no species or group;
    ``links`` describes the whole database after the run: spectra linked to species, to
    groups, and every unlinked label with its number of spectra and the reason.
    """

    source: str
    files: int = 0
    ingested: int = 0
    duplicates: int = 0
    already_present: int = 0
    minerals_added: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    unmatched: dict[str, int] = field(default_factory=dict)
    linked_to_groups: int = 0
    conflicts: dict[str, list[str]] = field(default_factory=dict)
    chemistry_parsed: int = 0
    chemistry_unparsed: int = 0
    warnings: list[str] = field(default_factory=list)
    links: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "files": self.files,
            "ingested": self.ingested,
            "duplicates": self.duplicates,
            "already_present": self.already_present,
            "minerals_added": self.minerals_added,
            "unmatched_names": dict(sorted(self.unmatched.items())),
            "linked_to_groups": self.linked_to_groups,
            "conflicts": dict(sorted(self.conflicts.items())),
            "failed": self.failed,
            "measured_chemistry": {
                "parsed": self.chemistry_parsed,
                "unparsed": self.chemistry_unparsed,
            },
            "warnings": self.warnings,
            "links": self.links,
        }

    def unlinked_lines(self) -> list[str]:
        """One line per label of MinDB that links to no species or group, with the reason."""
        labels = self.links.get("unlinked_labels", {})
        ordered = sorted(labels.items(), key=lambda kv: (-kv[1]["spectra"], kv[0]))
        return [
            f"unlinked: {label} ({v['spectra']} spectra): {v['reason']}" for label, v in ordered
        ]


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=True,
    )


def _check_curated(db: MinDB, report: IngestReport) -> None:
    if not db.curated_is_current():
        report.warnings.append(
            "MinDB's curated content (names, groups, renames) is older than this lithoscope's "
            "or was never built; run 'lithoscope db build' and ingest again to link all labels"
        )


# ---------------------------------------------------------------------------------- IMA list
def _first(value: str | None) -> str | None:
    if not value:
        return None
    first = value.split("|")[0].strip()
    return first or None


def _read_export(path: Path) -> list[dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the IMA export ({exc})") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or "Mineral Name" not in rows[0]:
        raise InputError(f"{path}: not a RRUFF IMA export (no 'Mineral Name' column)")
    return rows


def _ima_species(
    rows: list[tuple[str, int, dict[str, str]]], report: IngestReport, bar: Progress
) -> Iterator[NewMineral]:
    task = bar.add_task("IMA species", total=len(rows))
    for file, line, row in rows:
        bar.advance(task)
        report.files += 1
        name = (row.get("Mineral Name (plain)") or row.get("Mineral Name") or "").strip()
        if not name:
            continue
        # The IMA formula as published; where it is malformed in the export, the RRUFF one.
        candidates = [
            (row.get(col) or "").strip()
            for col in ("IMA Chemistry (plain)", "RRUFF Chemistry (concise)")
        ]
        formula = None
        errors = []
        formula_text = ""
        for formula_text in (c for c in candidates if c):
            try:
                formula = parse_formula(formula_text)
                break
            except FormulaError as exc:
                errors.append(str(exc))
        if formula is None:
            reason = "; ".join(errors) or "no formula"
            report.failed.append({"file": f"{file}:{line}", "reason": f"{name}: {reason}"})
            continue
        system = _first(row.get("Crystal System") or row.get("Crystal Systems"))
        system = system.lower() if system else None
        if system == "isometric":
            system = "cubic"
        if system not in CRYSTAL_SYSTEMS:
            system = None
        group = (row.get("Structural Groupname") or "").strip()
        yield NewMineral(
            name=name,
            formula_text=formula_text,
            formula=formula,
            crystal_system=system,
            space_group=_first(row.get("Space Group") or row.get("Space Groups")),
            structural_group=None if group in ("", "Not in a structural group") else group,
            ima_number=(row.get("IMA Number") or "").strip() or None,
            ima_status="Approved",
        )


def ingest_ima(
    db: MinDB, path: Path, *, complement: Path | None = None, progress: bool = True
) -> IngestReport:
    """Add the IMA species of a RRUFF IMA export that MinDB does not hold yet.

    Parameters
    ----------
    db : MinDB
    path : Path
        A RRUFF IMA export (CSV with 'Mineral Name').
    complement : Path, optional
        An older, complete export: its species whose names sort after the last name of
        ``path`` are added too (the RamanLab copy of the export is cut short after
        'Zugshunstite-(Ce)').

    Afterwards the stored spectra not linked to a species are linked again.
    """
    report = IngestReport(source=str(path))
    _check_curated(db, report)
    rows = [(path.name, i, row) for i, row in enumerate(_read_export(path), start=2)]
    if complement is not None:
        last = max(_plain_name(row) for _, _, row in rows)
        rows += [
            (complement.name, i, row)
            for i, row in enumerate(_read_export(complement), start=2)
            if _plain_name(row) > last
        ]
    with _progress(progress) as bar:
        added, present = db.add_minerals(
            _ima_species(rows, report, bar),
            citation=RRUFF_CITATION + " (IMA mineral list export)",
            url="https://rruff.info",
        )
    report.minerals_added = len(added)
    report.already_present = present
    report.links = db.link_spectra().to_dict()
    return report


def _plain_name(row: dict[str, str]) -> str:
    return name_key(row.get("Mineral Name (plain)") or row.get("Mineral Name") or "")


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


def _parsed_files(
    path: Path, fresh: NewChecksums, report: IngestReport, bar: Progress
) -> Iterator[Spectrum]:
    """Parsed spectra of the files not stored yet, with their file checksum and label."""
    task = bar.add_task(f"Ingesting {path.name}", total=_count_files(path))
    for display, bare, data in iter_spectrum_files(path):
        bar.advance(task)
        report.files += 1
        checksum = hashlib.sha256(data).hexdigest()
        if not fresh.is_new(checksum):
            continue  # not parsed again: counted by `fresh`
        try:
            text = decode(data, display)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", SpectrumWarning)
                spectrum = parse_spectrum(text, display)
            report.warnings.extend(str(w.message) for w in caught)
        except SpectrumFileError as exc:
            report.failed.append({"file": display, "reason": str(exc)})
            continue
        meta = spectrum.metadata  # this run's own object: completed in place
        meta["checksum"] = checksum
        meta["file"] = bare
        meta["mineral"] = meta.get("mineral") or bare.split("__")[0]
        measured = meta.get("measured_chemistry")
        if measured:
            try:
                parsed = parse_formula(measured)
                meta["measured_composition"] = {el: round(n, 5) for el, n in parsed.amounts.items()}
                report.chemistry_parsed += 1
            except FormulaError as exc:
                meta["measured_chemistry_error"] = str(exc)
                report.chemistry_unparsed += 1
        yield spectrum


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
    _check_curated(db, report)
    fresh = NewChecksums(db.spectrum_checksums())
    with _progress(progress) as bar:
        stored = db.add_spectra(
            _parsed_files(path, fresh, report, bar),
            source=source_name or f"RRUFF {path.name}",
            relink=True,
            on_spectrum=on_spectrum,
        )
    report.ingested = stored.added
    report.already_present = fresh.already_present + stored.already_present
    report.duplicates = fresh.duplicates + stored.duplicates
    report.unmatched = stored.unlinked
    report.linked_to_groups = stored.linked_to_groups
    report.conflicts = stored.conflicts
    report.links = stored.links.to_dict() if stored.links is not None else {}
    return report


def ingest(
    db: MinDB,
    source: str,
    *,
    mirror: str | Path | None = None,
    progress: bool = True,
) -> IngestReport:
    """Ingest a named source (``rruff-ima``, ``rruff-raman``, ``rruff-ir``, ``korda2024``,
    ``usgs-splib07``) or a path.

    ``korda2024`` and ``usgs-splib07`` are VNIR tables read by `lithoscope.data.vnir`
    (`ingest_korda`, `ingest_usgs`): species links follow from their labels there.

    Named sources are fetched first when not yet on disk (from ``mirror``,
    ``LITHOSCOPE_MIRROR`` or the official URL; see `lithoscope.data.fetch`).
    """
    candidate = Path(source).expanduser()
    if candidate.exists():
        return ingest_spectra(db, candidate, progress=progress)
    if source == "rruff-ima":
        from lithoscope.data.fetch import local_path

        return ingest_ima(
            db,
            local_path("rruff-ima", _IMA_FILE, mirror=mirror),
            complement=local_path("rruff-ima", _IMA_COMPLEMENT, mirror=mirror),
            progress=progress,
        )
    if source in _SPECTRA_SOURCES:
        from lithoscope.data.fetch import local_path

        path = local_path(source, _SPECTRA_SOURCES[source], mirror=mirror)
        return ingest_spectra(db, path, source_name=f"RRUFF {Path(path).name}", progress=progress)
    if source in _VNIR_SOURCES:
        from lithoscope.data import vnir

        return getattr(vnir, _VNIR_SOURCES[source])(db, mirror=mirror)
    valid = ", ".join(["rruff-ima", *_SPECTRA_SOURCES, *_VNIR_SOURCES])
    raise InputError(f"source {source!r} is neither a file or folder nor one of: {valid}")
