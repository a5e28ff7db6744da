"""Linking spectrum labels to MinDB: species, groups (species left open) or nothing, with why.

A label (RRUFF ``##NAMES``, a file name, a user's mineral name) is matched, in this order, by:

1. a curated rename row for this label *and* this RRUFF sample (``renames.csv`` with a
   ``sample_id``: RRUFF re-identified the sample);
2. a species name or an alias of a species (case and accents ignored);
3. a curated rename row for the label (IMA renames, discredited names, group names, and the
   labels that stay unlinked with their reason: synthetic compounds, glasses, 'unknown');
4. a group name or an alias of a group: the spectrum links to the group, species left open;
5. the RRUFF file-name spelling without punctuation (``AgarditeY`` -> ``Agardite-(Y)``).

The label itself and, when it lists several names, each of them, then the file-name stem, are
tried in turn.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from lithoscope.mindb.models import Alias, Mineral, MineralGroup, Rename
from lithoscope.mindb.models import Spectrum as SpectrumRow
from lithoscope.mindb.names import name_key

__all__ = ["Link", "LinkReport", "Linker", "base_sample_id", "compact_key", "link_spectra"]

_BASE_ID = re.compile(r"[RX]\d{6}")

#: Kinds of ``renames.csv`` rows whose target is a species or group to link to.
LINKING_KINDS = frozenset({"renamed", "discredited", "reidentified", "group"})
_WHY = {
    "synthetic": "synthetic compound",
    "not_a_mineral": "not a mineral",
    "unidentified": "unidentified",
    "not_ima": "not in the IMA list",
}
_RENAMING = frozenset({"renamed", "discredited", "reidentified"})
#: Kinds whose labels stay unlinked; the row's note says why.
UNLINKED_KINDS = frozenset(_WHY)


def compact_key(name: str) -> str:
    """Name key without punctuation or spaces: RRUFF file names drop both (``AgarditeY``).

    Examples
    --------
    >>> compact_key("Agardite-(Y)") == compact_key("AgarditeY")
    True
    """
    return re.sub(r"[^0-9a-z]", "", name_key(name))


def base_sample_id(sample_id: str | None) -> str | None:
    """RRUFF sample id without suffixes (``R040063-1`` -> ``R040063``), the grouping key.

    Examples
    --------
    >>> base_sample_id("R040063-1"), base_sample_id("my-sample"), base_sample_id(None)
    ('R040063', 'my-sample', None)
    """
    if not sample_id:
        return None
    match = _BASE_ID.search(sample_id)
    return match.group(0) if match else sample_id


@dataclass(frozen=True)
class Link:
    """Where a label links: ``kind`` is 'mineral', 'group' or None (unlinked, see ``reason``)."""

    kind: str | None
    id: int | None
    name: str | None
    how: str
    reason: str | None = None


_UNMATCHED = (
    "not a MinDB species, group, alias or curated rename; add a row to "
    "lithoscope/mindb/curated/renames.csv and run 'lithoscope db build'"
)
#: Label prefixes of spectra that are not of one mineral (``lithoscope.data.vnir``: rocks,
#: meteorites and mixtures with modal labels): they stay unlinked, and say so.
NOT_ONE_MINERAL = ("rock:", "mixture:", "unlabelled:")


class Linker:
    """Label -> `Link` against the MinDB content visible to ``session``; results are cached."""

    def __init__(self, session: Session) -> None:
        self.species: dict[str, tuple[int, str]] = {}
        self.by_compact: dict[str, tuple[int, str]] = {}
        for mid, name, key in session.execute(
            select(Mineral.id, Mineral.name, Mineral.name_key).order_by(Mineral.id)
        ):
            self.species[key] = (mid, name)
            self.by_compact.setdefault(compact_key(key), (mid, name))
        self.groups: dict[str, tuple[int, str]] = {
            key: (gid, name)
            for gid, name, key in session.execute(
                select(MineralGroup.id, MineralGroup.name, MineralGroup.name_key)
            )
        }
        self.alias_species: dict[str, tuple[int, str]] = {}
        self.alias_groups: dict[str, tuple[int, str]] = {}
        rows = session.execute(
            select(Alias.alias_key, Mineral.id, Mineral.name, MineralGroup.id, MineralGroup.name)
            .outerjoin(Mineral, Alias.mineral_id == Mineral.id)
            .outerjoin(MineralGroup, Alias.group_id == MineralGroup.id)
        )
        for key, mid, mname, gid, gname in rows:
            if mid is not None:
                self.alias_species[key] = (mid, mname)
            elif gid is not None:
                self.alias_groups[key] = (gid, gname)
        self.renames: dict[tuple[str, str | None], tuple[str, str | None, str | None]] = {
            (key, sample): (kind, target, note)
            for key, sample, kind, target, note in session.execute(
                select(Rename.label_key, Rename.sample_id, Rename.kind, Rename.target, Rename.note)
            )
        }
        self.has_ima_list = (
            session.scalar(select(Mineral.id).where(Mineral.curated.is_(False)).limit(1))
            is not None
        )
        self._cache: dict[tuple[str | None, str | None, str | None], Link] = {}

    # ------------------------------------------------------------------ lookups
    def _species(self, key: str) -> tuple[int, str] | None:
        return self.species.get(key) or self.alias_species.get(key)

    def _group(self, key: str) -> tuple[int, str] | None:
        return self.groups.get(key) or self.alias_groups.get(key)

    def _rule(self, label: str, kind: str, target: str | None, note: str | None) -> Link:
        if target is None:
            return Link(None, None, None, kind, f"{_WHY[kind]}: {note or label}")
        key = name_key(target)
        species = self._species(key)
        if species is not None and kind != "group":
            return Link("mineral", species[0], species[1], kind)
        group = self._group(key)
        if group is not None:
            return Link("group", group[0], group[1], kind)
        hint = "" if self.has_ima_list else "; run 'lithoscope data ingest rruff-ima' first"
        return Link(None, None, None, kind, f"{kind} as {target!r}, which is not in MinDB{hint}")

    def link(
        self, label: str | None, *, filename: str | None = None, sample_id: str | None = None
    ) -> Link:
        """Where ``label`` (or, failing it, the file-name stem) links in MinDB.

        Parameters
        ----------
        label : str or None
            The mineral name the spectrum came with.
        filename : str, optional
            Its file name; RRUFF names start with the mineral (``AgarditeY__R060711__...``).
        sample_id : str, optional
            RRUFF sample id; selects the curated rows of that sample.
        """
        cache_key = (label, filename, base_sample_id(sample_id))
        found = self._cache.get(cache_key)
        if found is None:
            found = self._link(label, filename, cache_key[2])
            self._cache[cache_key] = found
        return found

    def _link(self, label: str | None, filename: str | None, sample: str | None) -> Link:
        if label and label.startswith(NOT_ONE_MINERAL):
            return Link(None, None, None, "not one mineral", "a rock or mixture: stays unlinked")
        candidates: list[str] = []
        if label:
            candidates += [label, *(part for part in label.split(",") if part.strip())]
        if filename:
            candidates.append(filename.split("__")[0])
        for text in candidates:
            key = name_key(text)
            if not key:
                continue
            if sample is not None and (key, sample) in self.renames:
                return self._rule(text, *self.renames[key, sample])
            species = self._species(key)
            if species is not None:
                how = "name" if key in self.species else "alias"
                return Link("mineral", species[0], species[1], how)
            if (key, None) in self.renames:
                return self._rule(text, *self.renames[key, None])
            group = self._group(key)
            if group is not None:
                return Link("group", group[0], group[1], "group")
            compact = self.by_compact.get(compact_key(text))
            if compact is not None:
                return Link("mineral", compact[0], compact[1], "rruff spelling")
        hint = "" if self.has_ima_list else " (or run 'lithoscope data ingest rruff-ima')"
        return Link(None, None, None, "unmatched", _UNMATCHED + hint)


@dataclass
class LinkReport:
    """How the stored spectra link: counts over the whole database, by label."""

    relinked: int = 0
    species: int = 0
    groups: int = 0
    unlinked: int = 0
    renamed: dict[str, str] = field(default_factory=dict)
    group_labels: dict[str, str] = field(default_factory=dict)
    unlinked_labels: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "relinked": self.relinked,
            "spectra_linked_to_species": self.species,
            "spectra_linked_to_groups": self.groups,
            "spectra_unlinked": self.unlinked,
            "renamed_labels": dict(sorted(self.renamed.items())),
            "group_labels": dict(sorted(self.group_labels.items())),
            "unlinked_labels": dict(sorted(self.unlinked_labels.items())),
        }


def link_spectra(session: Session, linker: Linker | None = None) -> LinkReport:
    """Link the stored spectra again from their labels, and describe all links.

    A spectrum whose label is the name of the species it links to keeps its link (a user's
    ``learn`` stays as taught). Every other spectrum (renamed, aliased, group-linked or
    unlinked) is linked again from its label, file name and sample, so a run after new curated
    renames or a new IMA list links what it can, and a corrected rename moves its spectra.
    """
    linker = linker or Linker(session)
    report = LinkReport()
    rows = session.execute(
        select(
            SpectrumRow.id,
            SpectrumRow.mineral_id,
            SpectrumRow.group_id,
            SpectrumRow.label,
            SpectrumRow.filename,
            SpectrumRow.sample_id,
            Mineral.name_key,
        ).outerjoin(Mineral, SpectrumRow.mineral_id == Mineral.id)
    ).all()
    changes = []
    unlinked: Counter[str] = Counter()
    reasons: dict[str, str] = {}
    for sid, mineral_id, group_id, label, filename, sample, species_key in rows:
        if species_key is not None and species_key == name_key(label):
            report.species += 1
            continue
        link = linker.link(label, filename=filename, sample_id=sample)
        new = (
            link.id if link.kind == "mineral" else None,
            link.id if link.kind == "group" else None,
        )
        if new != (mineral_id, group_id):
            changes.append({"sid": sid, "mid": new[0], "gid": new[1]})
            report.relinked += int(link.kind is not None)
        if link.kind == "mineral":
            report.species += 1
            if link.how in _RENAMING:
                report.renamed[label] = link.name or ""
        elif link.kind == "group":
            report.groups += 1
            report.group_labels[label] = link.name or ""
        else:
            report.unlinked += 1
            unlinked[label] += 1
            reasons[label] = link.reason or ""
    if changes:
        table = SpectrumRow.__table__
        session.execute(
            update(table)
            .where(table.c.id == bindparam("sid"))
            .values(mineral_id=bindparam("mid"), group_id=bindparam("gid")),
            changes,
        )
    report.unlinked_labels = {
        label: {"spectra": n, "reason": reasons[label]} for label, n in unlinked.items()
    }
    return report
