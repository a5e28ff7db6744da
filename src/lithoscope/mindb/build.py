"""`lithoscope db build`: load MinDB's curated text files into the database.

The curated files (``lithoscope/mindb/curated/*.csv``) are read and validated completely before
anything is written: a bad row stops the build with ``file:line`` and the reason, and the
database is left as it was. The write itself is one transaction. Running the build twice changes
nothing the second time (the content checksum of the files is stored in the ``meta`` table).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from lithoscope.errors import CuratedDataError, FormulaError
from lithoscope.mindb.chemistry import Formula, mineral_class, parse_formula
from lithoscope.mindb.db import transaction
from lithoscope.mindb.detectability import derive_detectability
from lithoscope.mindb.labels import LINKING_KINDS, UNLINKED_KINDS, link_spectra
from lithoscope.mindb.models import (
    Abundance,
    Alias,
    Body,
    Confidence,
    Detectability,
    Evidence,
    GroupMember,
    Meta,
    Mineral,
    MineralElement,
    MineralGroup,
    Occurrence,
    Reference,
    Rename,
)
from lithoscope.mindb.names import name_key
from lithoscope.mindb.references import citation_key, extract_doi, extract_url

__all__ = [
    "CURATED_DIR",
    "BuildReport",
    "CuratedContent",
    "attach_derived",
    "build",
    "curated_is_current",
    "formula_fields",
    "read_curated",
]

CURATED_DIR = Path(__file__).resolve().parent / "curated"

# Bump when the way rows are turned into database content changes, so that an unchanged set of
# curated files is still rebuilt.
BUILD_LOGIC_VERSION = "2"

CRYSTAL_SYSTEMS = frozenset(
    {
        "cubic",
        "tetragonal",
        "hexagonal",
        "trigonal",
        "orthorhombic",
        "monoclinic",
        "triclinic",
        "amorphous",
    }
)
RENAME_KINDS = LINKING_KINDS | UNLINKED_KINDS
ALIAS_KINDS = frozenset(
    {"group", "variety", "discredited", "intermediate", "spelling", "not_a_mineral", "class"}
)

_COLUMNS = {
    "minerals.csv": (
        "name",
        "formula",
        "crystal_system",
        "space_group",
        "structural_group",
        "ima_number",
        "ima_status",
        "source",
    ),
    "groups.csv": ("group", "member", "source"),
    "aliases.csv": ("alias", "target", "kind", "source"),
    "occurrences.csv": (
        "mineral",
        "body",
        "setting",
        "evidence",
        "abundance",
        "confidence",
        "source",
        "note",
    ),
    "renames.csv": ("label", "sample_id", "target", "kind", "source", "note"),
}


@dataclass(frozen=True)
class _Row:
    file: str
    line: int
    values: dict[str, str | None]

    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def get(self, column: str) -> str | None:
        return self.values[column]

    def require(self, column: str) -> str:
        value = self.values[column]
        if value is None:
            raise CuratedDataError(
                f"{self.where()}: column '{column}' is empty; every row needs a {column}"
            )
        return value


@dataclass
class CuratedMineral:
    row: _Row
    name: str
    formula: Formula
    mineral_class: str


@dataclass
class CuratedContent:
    """Validated content of the curated files."""

    folder: Path
    checksum: str
    minerals: dict[str, CuratedMineral]
    groups: dict[str, tuple[str, list[tuple[str, str]]]]
    aliases: list[tuple[str, str, str | None, str | None, str]]
    occurrences: list[_Row]
    renames: list[_Row] = field(default_factory=list)
    open_groups: dict[str, str] = field(default_factory=dict)


@dataclass
class BuildReport:
    """What a build did."""

    unchanged: bool
    minerals: int = 0
    minerals_added: int = 0
    minerals_updated: int = 0
    minerals_retired: int = 0
    groups: int = 0
    aliases: int = 0
    occurrences: int = 0
    references: int = 0
    renames: int = 0
    links: dict[str, object] = field(default_factory=dict)
    checksum: str = ""
    by_body: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _read_csv(folder: Path, name: str) -> Iterator[_Row]:
    path = folder / name
    if not path.is_file():
        raise CuratedDataError(
            f"{path}: curated file missing; restore it from the repository or pass the folder "
            "that holds minerals.csv, groups.csv, aliases.csv, occurrences.csv and renames.csv"
        )
    expected = _COLUMNS[name]
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CuratedDataError(
            f"{name}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from exc
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = next(reader)
    except StopIteration:
        raise CuratedDataError(f"{name}:1: file is empty; it needs the header row") from None
    header = [h.strip() for h in header]
    missing = [c for c in expected if c not in header]
    if missing:
        raise CuratedDataError(
            f"{name}:1: header lacks column(s) {', '.join(missing)}; expected {','.join(expected)}"
        )
    index = {c: header.index(c) for c in expected}
    line = reader.line_num + 1
    for record in reader:
        start, line = line, reader.line_num + 1
        if not record or all(not cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            raise CuratedDataError(
                f"{name}:{start}: {len(record)} fields, expected {len(header)}; quote fields "
                "that contain commas"
            )
        values = {}
        for column, i in index.items():
            cell = record[i].strip()
            values[column] = cell or None
        yield _Row(name, start, values)


def _enum_value(row: _Row, column: str, enum_cls: type) -> str:
    value = row.require(column)
    try:
        return enum_cls(value).value
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        raise CuratedDataError(
            f"{row.where()}: {column} {value!r} is not one of: {allowed}"
        ) from None


def _checksum(folder: Path) -> str:
    digest = hashlib.sha256(BUILD_LOGIC_VERSION.encode())
    for name in sorted(_COLUMNS):
        path = folder / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()


def read_curated(folder: Path | str | None = None) -> CuratedContent:
    """Read and validate the curated files of ``folder`` (default: the packaged ones).

    Raises
    ------
    CuratedDataError
        For the first invalid row, with ``file:line`` and the reason.
    """
    folder = Path(folder) if folder is not None else CURATED_DIR
    if not folder.is_dir():
        raise CuratedDataError(f"curated folder {folder} does not exist; pass an existing folder")

    minerals: dict[str, CuratedMineral] = {}
    for row in _read_csv(folder, "minerals.csv"):
        name = row.require("name")
        key = name_key(name)
        if key in minerals:
            first = minerals[key].row.where()
            raise CuratedDataError(f"{row.where()}: mineral {name!r} already defined at {first}")
        formula_text = row.require("formula")
        try:
            formula = parse_formula(formula_text)
        except FormulaError as exc:
            raise CuratedDataError(f"{row.where()}: formula of {name}: {exc}") from None
        system = row.get("crystal_system")
        if system is not None and system.lower() not in CRYSTAL_SYSTEMS:
            raise CuratedDataError(
                f"{row.where()}: crystal_system {system!r} of {name} is not one of "
                f"{', '.join(sorted(CRYSTAL_SYSTEMS))}"
            )
        row.require("source")
        minerals[key] = CuratedMineral(row, name, formula, mineral_class(formula))

    groups: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for row in _read_csv(folder, "groups.csv"):
        group = row.require("group")
        member = row.require("member")
        source = row.require("source")
        if name_key(member) not in minerals:
            raise CuratedDataError(
                f"{row.where()}: member {member!r} of group {group!r} is not in minerals.csv; "
                "add the species there first"
            )
        if name_key(group) in minerals:
            raise CuratedDataError(
                f"{row.where()}: group name {group!r} is also a species name; rename the group"
            )
        entry = groups.setdefault(name_key(group), (group, []))
        if any(name_key(m) == name_key(member) for m, _ in entry[1]):
            raise CuratedDataError(f"{row.where()}: {member} listed twice in group {group}")
        entry[1].append((member, source))

    aliases: list[tuple[str, str, str | None, str | None, str]] = []
    seen_alias: dict[str, str] = {}
    for row in _read_csv(folder, "aliases.csv"):
        alias = row.require("alias")
        kind = row.require("kind")
        source = row.require("source")
        target = row.get("target")
        if kind not in ALIAS_KINDS:
            raise CuratedDataError(
                f"{row.where()}: kind {kind!r} is not one of {', '.join(sorted(ALIAS_KINDS))}"
            )
        key = name_key(alias)
        if key in minerals:
            raise CuratedDataError(
                f"{row.where()}: alias {alias!r} is an IMA species name in minerals.csv; "
                "remove the alias row"
            )
        if key in seen_alias:
            raise CuratedDataError(
                f"{row.where()}: alias {alias!r} already defined at {seen_alias[key]}"
            )
        seen_alias[key] = row.where()
        mineral = group = None
        if target is not None:
            if name_key(target) in minerals:
                mineral = target
            elif name_key(target) in groups:
                group = target
            else:
                raise CuratedDataError(
                    f"{row.where()}: alias target {target!r} is neither a species in "
                    "minerals.csv nor a group in groups.csv"
                )
        elif kind != "not_a_mineral":
            raise CuratedDataError(
                f"{row.where()}: alias {alias!r} has no target; only kind not_a_mineral may "
                "leave target empty"
            )
        aliases.append((alias, kind, mineral, group, source))

    occurrences: list[_Row] = []
    for row in _read_csv(folder, "occurrences.csv"):
        mineral = row.require("mineral")
        if name_key(mineral) not in minerals and name_key(mineral) not in groups:
            hint = ""
            if name_key(mineral) in seen_alias:
                hint = " (it is an alias: use its target)"
            raise CuratedDataError(
                f"{row.where()}: mineral {mineral!r} is neither a species in minerals.csv nor "
                f"a group in groups.csv{hint}"
            )
        for column, enum_cls in (
            ("body", Body),
            ("evidence", Evidence),
            ("abundance", Abundance),
            ("confidence", Confidence),
        ):
            _enum_value(row, column, enum_cls)
        row.require("setting")
        row.require("source")
        occurrences.append(row)

    renames, open_groups = _read_renames(folder, minerals, groups)
    return CuratedContent(
        folder, _checksum(folder), minerals, groups, aliases, occurrences, renames, open_groups
    )


def _read_renames(
    folder: Path,
    minerals: dict[str, CuratedMineral],
    groups: dict[str, tuple[str, list[tuple[str, str]]]],
) -> tuple[list[_Row], dict[str, str]]:
    """Rows of ``renames.csv`` and the groups its ``group`` rows name that groups.csv lacks."""
    rows: list[_Row] = []
    open_groups: dict[str, str] = {}
    seen: dict[tuple[str, str | None], str] = {}
    for row in _read_csv(folder, "renames.csv"):
        label = row.require("label")
        kind = row.require("kind")
        row.require("source")
        target = row.get("target")
        if kind not in RENAME_KINDS:
            raise CuratedDataError(
                f"{row.where()}: kind {kind!r} is not one of {', '.join(sorted(RENAME_KINDS))}"
            )
        identity = (name_key(label), row.get("sample_id"))
        if identity in seen:
            raise CuratedDataError(
                f"{row.where()}: label {label!r} already has a row at {seen[identity]}"
            )
        seen[identity] = row.where()
        if row.get("sample_id") is None and name_key(label) in minerals:
            raise CuratedDataError(
                f"{row.where()}: {label!r} is a species in minerals.csv; remove the rename row"
            )
        if kind in LINKING_KINDS and target is None:
            raise CuratedDataError(
                f"{row.where()}: kind {kind} needs a target (the current species or group)"
            )
        if kind in UNLINKED_KINDS:
            if target is not None:
                raise CuratedDataError(
                    f"{row.where()}: kind {kind} leaves the label unlinked; empty the target "
                    "or use kind renamed, discredited or group"
                )
            if row.get("note") is None:
                raise CuratedDataError(
                    f"{row.where()}: kind {kind} needs a note saying why the label stays unlinked"
                )
        if kind == "group" and target is not None:
            if name_key(target) in minerals:
                raise CuratedDataError(
                    f"{row.where()}: group target {target!r} is a species name; use kind renamed"
                )
            if name_key(target) not in groups:
                open_groups.setdefault(name_key(target), target)
        rows.append(row)
    labels = {key for key, sample in seen if sample is None}
    for row in rows:
        target = row.get("target")
        if target is not None and name_key(target) in labels:
            raise CuratedDataError(
                f"{row.where()}: target {target!r} is itself a label of renames.csv; "
                "point the row at the final name"
            )
    return rows, open_groups


class _References:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._by_key = {r.citation_key: r for r in session.scalars(select(Reference))}
        self.used: set[str] = set()

    def get(self, citation: str) -> Reference:
        key = citation_key(citation)
        self.used.add(key)
        ref = self._by_key.get(key)
        if ref is None:
            ref = Reference(
                citation=" ".join(citation.split()),
                citation_key=key,
                doi=extract_doi(citation),
                url=extract_url(citation),
            )
            self._session.add(ref)
            self._by_key[key] = ref
        return ref


def formula_fields(formula: Formula) -> dict[str, Any]:
    """Columns of `Mineral` derived from its parsed formula."""
    return {
        "formula_normalized": formula.normalized,
        "composition": {el: round(n, 6) for el, n in formula.amounts.items()},
        "molar_mass": formula.molar_mass,
        "charge_residual": formula.charge_residual,
        "mineral_class": mineral_class(formula),
    }


def attach_derived(mineral: Mineral, formula: Formula) -> None:
    """Set a mineral's element rows and detectability from its formula and structure."""
    mineral.elements = [
        MineralElement(element=el, amount=float(n)) for el, n in formula.amounts.items()
    ]
    mineral.detectability = [
        Detectability(method=d.method, level=d.level, features=d.features, basis=d.basis)
        for d in derive_detectability(
            formula, mineral.mineral_class, mineral.crystal_system, mineral.space_group
        )
    ]


def _write(session: Session, content: CuratedContent, report: BuildReport) -> None:
    refs = _References(session)

    existing = {m.name_key: m for m in session.scalars(select(Mineral))}
    by_key: dict[str, Mineral] = {}
    for key, cm in content.minerals.items():
        row, formula = cm.row, cm.formula
        values = {
            "name": cm.name,
            "name_key": key,
            "formula": row.require("formula"),
            **formula_fields(formula),
            "crystal_system": (row.get("crystal_system") or "").lower() or None,
            "space_group": row.get("space_group"),
            "structural_group": row.get("structural_group"),
            "ima_number": row.get("ima_number"),
            "ima_status": row.get("ima_status"),
            "curated": True,
            "reference": refs.get(row.require("source")),
        }
        mineral = existing.get(key)
        if mineral is None:
            mineral = Mineral(**values)
            session.add(mineral)
            report.minerals_added += 1
        else:
            changed = any(getattr(mineral, k) != v for k, v in values.items())
            for k, v in values.items():
                setattr(mineral, k, v)
            report.minerals_updated += int(changed)
        attach_derived(mineral, formula)
        by_key[key] = mineral
    for key, mineral in existing.items():
        if key not in by_key and mineral.curated:
            # Kept, not deleted: spectra may point to it. Its curated facts go.
            mineral.curated = False
            report.minerals_retired += 1
    report.minerals = len(by_key)

    # Groups, aliases and occurrences belong to the curated files alone: replaced as a whole.
    session.execute(delete(Occurrence))
    session.execute(delete(Alias).where(Alias.kind.in_(sorted(ALIAS_KINDS))))
    session.execute(delete(GroupMember))
    session.flush()
    groups = {g.name_key: g for g in session.scalars(select(MineralGroup))}
    for key, (name, members) in content.groups.items():
        group = groups.get(key)
        if group is None:
            group = MineralGroup(name=name, name_key=key)
            session.add(group)
            groups[key] = group
        group.name = name
        for member, source in members:
            session.add(
                GroupMember(
                    group=group, mineral=by_key[name_key(member)], reference=refs.get(source)
                )
            )
    for key, name in content.open_groups.items():
        # Groups named only by renames.csv: their species are left open (no members).
        if key not in groups:
            groups[key] = MineralGroup(name=name, name_key=key)
            session.add(groups[key])
    for key, group in list(groups.items()):
        if key not in content.groups and key not in content.open_groups:
            session.delete(group)
            del groups[key]
    report.groups = len(content.groups) + len(content.open_groups)

    for alias, kind, mineral_name, group_name, source in content.aliases:
        session.add(
            Alias(
                alias=alias,
                alias_key=name_key(alias),
                kind=kind,
                mineral=by_key[name_key(mineral_name)] if mineral_name else None,
                group=groups[name_key(group_name)] if group_name else None,
                reference=refs.get(source),
            )
        )
    report.aliases = len(content.aliases)

    session.execute(delete(Rename))
    for row in content.renames:
        session.add(
            Rename(
                label=row.require("label"),
                label_key=name_key(row.require("label")),
                sample_id=row.get("sample_id"),
                kind=row.require("kind"),
                target=row.get("target"),
                note=row.get("note"),
                reference=refs.get(row.require("source")),
            )
        )
    report.renames = len(content.renames)

    seen: set[tuple[str, ...]] = set()
    for row in content.occurrences:
        key = name_key(row.require("mineral"))
        identity = (
            key,
            row.require("body"),
            row.require("setting"),
            row.require("evidence"),
            citation_key(row.require("source")),
        )
        if identity in seen:
            continue
        seen.add(identity)
        session.add(
            Occurrence(
                mineral=by_key.get(key),
                group=groups.get(key) if key not in by_key else None,
                body=Body(row.require("body")),
                setting=row.require("setting"),
                evidence=Evidence(row.require("evidence")),
                abundance=Abundance(row.require("abundance")),
                confidence=Confidence(row.require("confidence")),
                note=row.get("note"),
                reference=refs.get(row.require("source")),
            )
        )
    report.occurrences = len(seen)
    report.references = len(refs.used)
    session.flush()
    # Curated names changed: stored spectra without a species link are linked again.
    report.links = link_spectra(session).to_dict()


def _set_meta(session: Session, key: str, value: str) -> None:
    meta = session.get(Meta, key)
    if meta is None:
        session.add(Meta(key=key, value=value))
    else:
        meta.value = value


def curated_is_current(factory: sessionmaker[Session]) -> bool:
    """Whether MinDB was last built from the packaged curated files as they are now.

    A build from another folder counts as current (the curator chose it).
    """
    with factory() as session:
        stored = session.get(Meta, "curated_checksum")
        folder = session.get(Meta, "curated_folder")
    if stored is None:
        return False
    if folder is not None and Path(folder.value) != CURATED_DIR:
        return True
    return stored.value == _checksum(CURATED_DIR)


def build(
    factory: sessionmaker[Session],
    folder: Path | str | None = None,
    *,
    force: bool = False,
    after_write: Callable[[Session], None] | None = None,
) -> BuildReport:
    """Load the curated files into MinDB in one transaction.

    Parameters
    ----------
    factory : sessionmaker
        Session factory of an open MinDB (see `lithoscope.mindb.connect`).
    folder : path, optional
        Folder with the curated CSV files; default: the ones shipped with lithoscope.
    force : bool, default=False
        Rebuild even when the files are unchanged since the last build.
    after_write : callable, optional
        Called with the session after all rows are written, before commit (used by tests to
        check that a failure there leaves the database untouched).

    Returns
    -------
    BuildReport
    """
    content = read_curated(folder)
    with transaction(factory) as session:
        stored = session.get(Meta, "curated_checksum")
        if stored is not None and stored.value == content.checksum and not force:
            return BuildReport(unchanged=True, checksum=content.checksum)
        report = BuildReport(unchanged=False, checksum=content.checksum)
        _write(session, content, report)
        _set_meta(session, "curated_checksum", content.checksum)
        _set_meta(session, "curated_folder", str(content.folder))
        _set_meta(session, "build_report", json.dumps(report.to_dict(), sort_keys=True))
        if after_write is not None:
            after_write(session)
    return report
