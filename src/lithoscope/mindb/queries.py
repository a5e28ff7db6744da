"""Typed read access to MinDB: the `MinDB` handle returned by `lithoscope.mindb.connect`."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import periodictable
from sqlalchemy import Engine, distinct, func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from lithoscope.errors import InputError
from lithoscope.methods import parse_enum
from lithoscope.mindb import build as _build
from lithoscope.mindb import store as _store
from lithoscope.mindb.arrays import decode_array
from lithoscope.mindb.chemistry import parse_formula
from lithoscope.mindb.db import head_revision, safe_url, transaction
from lithoscope.mindb.labels import LinkReport, base_sample_id, link_spectra
from lithoscope.mindb.models import (
    Alias,
    Body,
    Evidence,
    GroupMember,
    Meta,
    Method,
    Mineral,
    MineralElement,
    MineralGroup,
    Occurrence,
    Rename,
    Spectrum,
)
from lithoscope.mindb.names import name_key
from lithoscope.mindb.store import NewMineral, SpectraReport, StoredSpectra

if TYPE_CHECKING:
    from lithoscope.methods import Method as MethodName
    from lithoscope.spectra.spectrum import Spectrum as SpectrumData

__all__ = ["MinDB", "MineralNotFound", "NewMineral", "SpectraReport", "StoredSpectra"]


class MineralNotFound(InputError, LookupError):
    """A mineral, group or alias name that MinDB does not hold."""


def _occurrence_dict(occ: Occurrence) -> dict[str, Any]:
    return {
        "body": occ.body.value,
        "setting": occ.setting,
        "evidence": occ.evidence.value,
        "abundance": occ.abundance.value,
        "confidence": occ.confidence.value,
        "source": occ.reference.citation,
        "doi": occ.reference.doi,
        "note": occ.note,
    }


_BODY_ORDER = {b.value: i for i, b in enumerate(Body)}


def _sorted_occurrences(occurrences: Iterable[Occurrence]) -> list[dict[str, Any]]:
    """`_occurrence_dict` of each, ordered by body (in `Body` order), evidence and setting."""
    return sorted(
        (_occurrence_dict(o) for o in occurrences),
        key=lambda o: (_BODY_ORDER[o["body"]], o["evidence"], o["setting"]),
    )


def _method(value: Method | str) -> Method:
    return parse_enum(Method, value, "method")


def _as_list(value: Any, name: str) -> list[Any] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes, int, float)):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise InputError(f"{name} must be a value or a list of values, got {value!r}") from None


class MinDB:
    """An open MinDB database.

    Obtain one with `lithoscope.mindb.connect`. All methods return plain Python data (dicts and
    lists) shaped as the JSON that the CLI prints.
    """

    def __init__(self, engine: Engine, factory: sessionmaker[Session]) -> None:
        self.engine = engine
        self.session_factory = factory

    def __repr__(self) -> str:
        return f"MinDB({safe_url(self.engine.url.render_as_string(hide_password=False))!r})"

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def session(self) -> Session:
        """A new ORM session (use as a context manager)."""
        return self.session_factory()

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    def __enter__(self) -> MinDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ building
    def build(self, folder: Path | str | None = None, *, force: bool = False) -> _build.BuildReport:
        """Load the curated files (see `lithoscope.mindb.build.build`) and count species by body."""
        report = _build.build(self.session_factory, folder, force=force)
        report.by_body = self.species_by_body()
        return report

    # ------------------------------------------------------------------ spectra
    def spectra(
        self,
        *,
        method: MethodName | str | None = None,
        minerals: str | Iterable[str] | None = None,
        source: str | Iterable[str] | None = None,
        laser_nm: float | Iterable[float] | None = None,
        sample_ids: str | Iterable[str] | None = None,
        ids: int | Iterable[int] | None = None,
        linked_only: bool = False,
        limit: int | None = None,
    ) -> list[SpectrumData]:
        """Stored spectra matching every given filter, oldest first.

        Parameters
        ----------
        method : str, optional
            raman, ir, libs, vnir or xrd.
        minerals : str or iterable of str, optional
            Species or group names (case and accents ignored): spectra linked to them.
        source : str or iterable of str, optional
            Exact ``source`` of the spectra (``'RRUFF excellent_unoriented.zip'``,
            ``'lithoscope learn (user spectra)'``).
        laser_nm : float or iterable of float, optional
            Raman laser wavelength(s) in nm.
        sample_ids : str or iterable of str, optional
            Sample ids as stored (RRUFF ``##RRUFFID``).
        ids : int or iterable of int, optional
            MinDB spectrum ids.
        linked_only : bool, default=False
            Only spectra linked to a species (not those linked to a group only, nor unlinked
            ones): what species training uses.
        limit : int, optional
            At most this many.

        Returns
        -------
        list of Spectrum
            Metadata: ``spectrum_id``, ``mineral`` (the linked species or group, else the
            label), ``link`` ('mineral', 'group' or None), ``label``, ``sample_id``, ``group``
            (sample id without suffixes, the grouping key of splits), ``laser_nm``,
            ``checksum``, ``file``, ``source``, ``measured_chemistry``.

        Raises
        ------
        InputError
            For an unknown method or laser values that are not numbers.

        See Also
        --------
        spectra_arrays : the same without building `Spectrum` objects (5,000 spectra in a
            fraction of the time; what dataset building uses).
        """
        return self.spectra_arrays(
            method=method,
            minerals=minerals,
            source=source,
            laser_nm=laser_nm,
            sample_ids=sample_ids,
            ids=ids,
            linked_only=linked_only,
            limit=limit,
        ).to_spectra()

    def spectra_arrays(
        self,
        *,
        method: MethodName | str | None = None,
        minerals: str | Iterable[str] | None = None,
        source: str | Iterable[str] | None = None,
        laser_nm: float | Iterable[float] | None = None,
        sample_ids: str | Iterable[str] | None = None,
        ids: int | Iterable[int] | None = None,
        linked_only: bool = False,
        limit: int | None = None,
        extra: bool = False,
    ) -> StoredSpectra:
        """`spectra` as read-only arrays and metadata dicts (no per-spectrum validation).

        Each metadata dict's ``group`` is the key that grouped splits keep on one side: the
        spectrum's ``material`` when its stored metadata records one (grain-size splits and
        preparations of one analysed material, e.g. the Korda VNIR spectra), else the base
        sample id (`base_sample_id`: ``R040063-1`` -> ``R040063``).

        With ``extra`` each metadata dict also holds ``extra``: the spectrum's other stored
        metadata (a dict; e.g. the modal and chemical labels of the Korda VNIR spectra).
        """
        columns = (
            Spectrum.id,
            Spectrum.method,
            Spectrum.axis,
            Spectrum.intensities,
            Spectrum.axis_unit,
            Spectrum.label,
            Spectrum.sample_id,
            Spectrum.laser_nm,
            Spectrum.checksum,
            Spectrum.filename,
            Spectrum.source,
            Spectrum.measured_chemistry,
            Mineral.name,
            MineralGroup.name,
            Spectrum.extra["material"].as_string(),
        )
        if extra:
            columns += (Spectrum.extra,)
        query = (
            select(*columns)
            .outerjoin(Mineral, Spectrum.mineral_id == Mineral.id)
            .outerjoin(MineralGroup, Spectrum.group_id == MineralGroup.id)
            .order_by(Spectrum.id)
        )
        if method is not None:
            query = query.where(Spectrum.method == _method(method))
        names = _as_list(minerals, "minerals")
        if names is not None:
            keys = sorted({name_key(str(n)) for n in names})
            query = query.where(Mineral.name_key.in_(keys) | MineralGroup.name_key.in_(keys))
        sources = _as_list(source, "source")
        if sources is not None:
            query = query.where(Spectrum.source.in_([str(s) for s in sources]))
        lasers = _as_list(laser_nm, "laser_nm")
        if lasers:
            try:
                query = query.where(Spectrum.laser_nm.in_([float(v) for v in lasers]))
            except (TypeError, ValueError):
                raise InputError(f"laser_nm must be numbers (nm), got {laser_nm!r}") from None
        samples = _as_list(sample_ids, "sample_ids")
        if samples is not None:
            query = query.where(Spectrum.sample_id.in_([str(s) for s in samples]))
        id_list = _as_list(ids, "ids")
        if id_list is not None:
            query = query.where(Spectrum.id.in_([int(i) for i in id_list]))
        if linked_only:
            query = query.where(Spectrum.mineral_id.is_not(None))
        if limit is not None:
            query = query.limit(int(limit))
        axes, ys, methods, units, metas = [], [], [], [], []
        with self.session() as session:
            for (
                sid,
                m,
                axis,
                y,
                unit,
                label,
                sample,
                laser,
                checksum,
                filename,
                src,
                chemistry,
                mineral,
                group,
                material,
                *stored_extra,
            ) in session.execute(query):
                axes.append(decode_array(axis))
                ys.append(decode_array(y))
                methods.append(m)
                units.append(unit)
                metas.append(
                    {
                        "spectrum_id": sid,
                        "mineral": mineral or group or label,
                        "link": "mineral" if mineral else "group" if group else None,
                        "label": label,
                        "sample_id": sample,
                        "group": material or base_sample_id(sample) or f"spectrum-{sid}",
                        "laser_nm": laser,
                        "checksum": checksum,
                        "file": filename,
                        "source": src,
                        "measured_chemistry": chemistry,
                    }
                )
                if extra:
                    metas[-1]["extra"] = dict(stored_extra[0] or {})
        return StoredSpectra(axes, ys, methods, units, metas)

    def spectrum_checksums(self) -> set[str]:
        """The checksum of every stored spectrum (what `add_spectra` deduplicates by)."""
        return _store.stored_checksums(self.session_factory)

    def add_spectra(
        self,
        spectra: Iterable[SpectrumData],
        *,
        source: str,
        mineral: str | None = None,
        relink: bool = False,
        on_spectrum: Callable[[int], None] | None = None,
    ) -> SpectraReport:
        """Store spectra in one transaction: all of them, or none if anything fails.

        Parameters
        ----------
        spectra : iterable of Spectrum
            Consumed once, inside the transaction (a generator that parses files works).
            Metadata used: ``checksum`` (the identity; default: the content checksum),
            ``mineral`` (the label), ``sample_id``, ``laser_nm``, ``file``,
            ``measured_chemistry``; other keys are kept as the spectrum's extra metadata.
        source : str
            Where they come from, stored with each spectrum.
        mineral : str, optional
            Link every spectrum to this species or group (it must be in MinDB); default:
            link each by its label (see `lithoscope.mindb.labels`).
        relink : bool, default=False
            Afterwards link again every stored spectrum not linked to a species, and report
            the links of the whole database (``report.links``).
        on_spectrum : callable, optional
            Called with the running count after each new spectrum.

        Returns
        -------
        SpectraReport
            Added, already present, duplicates in the input, links and, per label, what stays
            unlinked and why; ``conflicts``: sample ids stored under several labels.

        Raises
        ------
        MineralNotFound
            ``mineral`` is not in MinDB.
        """
        return _store.add_spectra(
            self.session_factory,
            spectra,
            source=source,
            mineral=mineral,
            relink=relink,
            on_spectrum=on_spectrum,
        )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Make the writes inside (`add_minerals`, `add_spectra`, ...) one transaction.

        Readers see all of them or none; an error inside rolls all of them back. The writers'
        lock is held throughout (see `lithoscope.mindb.db.db_lock`).

        Examples
        --------
        >>> from lithoscope.mindb import connect
        >>> db = connect("sqlite://")
        >>> with db.transaction():
        ...     added, _ = db.add_minerals(
        ...         [NewMineral("Testite", "MgO", parse_formula("MgO"))], citation="a test"
        ...     )
        >>> db.resolve("testite")
        ('mineral', 'Testite')
        """
        with transaction(self.session_factory):
            yield

    def link_spectra(self) -> LinkReport:
        """Link again every spectrum not linked to a species; the links of the whole database."""
        with transaction(self.session_factory) as session:
            return link_spectra(session)

    def add_minerals(
        self, minerals: Iterable[NewMineral], *, citation: str, url: str | None = None
    ) -> tuple[list[str], int]:
        """Add species MinDB lacks (``curated=False``), in one transaction.

        Returns the names added and how many were already present.
        """
        return _store.add_minerals(self.session_factory, minerals, citation=citation, url=url)

    def curated_is_current(self) -> bool:
        """Whether MinDB was built from this lithoscope's curated files as they are now."""
        return _build.curated_is_current(self.session_factory)

    # ------------------------------------------------------------------ summary
    def species_by_body(self) -> dict[str, int]:
        """Number of distinct species with at least one occurrence on each body."""
        with self.session() as s:
            rows = s.execute(
                select(Occurrence.body, func.count(distinct(Occurrence.mineral_id)))
                .where(Occurrence.mineral_id.is_not(None))
                .group_by(Occurrence.body)
            ).all()
        counts = {b.value: 0 for b in Body}
        counts.update({body.value: n for body, n in rows})
        return counts

    def info(self) -> dict[str, Any]:
        """Counts and schema version: the shape of ``lithoscope db info --json``."""
        with self.session() as s:
            n_minerals = s.scalar(select(func.count()).select_from(Mineral)) or 0
            spectra_rows = s.execute(
                select(Spectrum.method, func.count()).group_by(Spectrum.method)
            ).all()
            n_groups = s.scalar(select(func.count()).select_from(MineralGroup)) or 0
            n_occ = s.scalar(select(func.count()).select_from(Occurrence)) or 0
            from lithoscope.mindb.models import Reference

            n_refs = s.scalar(select(func.count()).select_from(Reference)) or 0
            built = s.get(Meta, "curated_checksum")
            by_confidence = s.execute(
                select(
                    Occurrence.body,
                    Occurrence.confidence,
                    func.count(distinct(Occurrence.mineral_id)),
                )
                .where(Occurrence.mineral_id.is_not(None))
                .group_by(Occurrence.body, Occurrence.confidence)
            ).all()
        spectra = {m.value: 0 for m in Method}
        spectra.update({m.value: n for m, n in spectra_rows})
        confidence: dict[str, dict[str, int]] = {b.value: {} for b in Body}
        for body, conf, n in by_confidence:
            confidence[body.value][conf.value] = n
        return {
            "minerals": n_minerals,
            "by_body": self.species_by_body(),
            "spectra": spectra,
            "schema_version": head_revision(),
            "groups": n_groups,
            "occurrences": n_occ,
            "references": n_refs,
            "species_by_body_and_confidence": confidence,
            "built": built is not None,
            "database": self.url,
        }

    # ------------------------------------------------------------------ lookup
    def resolve(self, name: str) -> tuple[str, str]:
        """Resolve a species, group or alias name to ``("mineral"|"group", canonical name)``.

        Old and group names of the curated rename table resolve to their current species or
        group (``Apophyllite-(KF)`` -> ``Fluorapophyllite-(K)`` once the IMA list is in).

        Raises
        ------
        MineralNotFound
            With close matches suggested.
        """
        key = name_key(name)
        if not key:
            raise MineralNotFound("mineral name is empty; give an IMA mineral or group name")
        with self.session() as s:
            mineral = s.scalar(select(Mineral.name).where(Mineral.name_key == key))
            if mineral:
                return "mineral", mineral
            group = s.scalar(select(MineralGroup.name).where(MineralGroup.name_key == key))
            if group:
                return "group", group
            alias = s.scalar(
                select(Alias)
                .options(selectinload(Alias.mineral), selectinload(Alias.group))
                .where(Alias.alias_key == key)
            )
            if alias is not None and alias.mineral is not None:
                return "mineral", alias.mineral.name
            if alias is not None and alias.group is not None:
                return "group", alias.group.name
            if alias is not None:
                raise MineralNotFound(
                    f"{name!r} is not a mineral ({alias.kind}); search MinDB with "
                    "'lithoscope db search'"
                )
            rename = s.scalar(
                select(Rename).where(Rename.label_key == key, Rename.sample_id.is_(None))
            )
            names = list(s.scalars(select(Mineral.name_key)))
        if rename is not None and rename.target and name_key(rename.target) != key:
            return self.resolve(rename.target)
        if rename is not None:
            raise MineralNotFound(
                f"{name!r} is not a mineral species ({rename.kind.replace('_', ' ')}: "
                f"{rename.note}); search MinDB with 'lithoscope db search'"
            )

        close = difflib.get_close_matches(key, names, n=3, cutoff=0.75)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise MineralNotFound(
            f"mineral {name!r} is not in MinDB{hint} (run 'lithoscope db build' if MinDB is empty)"
        )

    def mineral(self, name: str) -> dict[str, Any]:
        """The card of a species or group: the shape of ``lithoscope db show NAME --json``."""
        kind, canonical = self.resolve(name)
        if kind == "group":
            return self._group_card(canonical)
        with self.session() as s:
            m = s.scalar(
                select(Mineral)
                .options(
                    selectinload(Mineral.occurrences).selectinload(Occurrence.reference),
                    selectinload(Mineral.detectability),
                    selectinload(Mineral.reference),
                )
                .where(Mineral.name == canonical)
            )
            assert m is not None
            groups = list(
                s.scalars(
                    select(MineralGroup.name)
                    .join(GroupMember)
                    .where(GroupMember.mineral_id == m.id)
                    .order_by(MineralGroup.name)
                )
            )
            aliases = list(
                s.scalars(select(Alias.alias).where(Alias.mineral_id == m.id).order_by(Alias.alias))
            )
            n_spectra = dict(
                s.execute(
                    select(Spectrum.method, func.count())
                    .where(Spectrum.mineral_id == m.id)
                    .group_by(Spectrum.method)
                ).all()
            )
            formula = parse_formula(m.formula)
            occurrences = _sorted_occurrences(m.occurrences)
            return {
                "kind": "mineral",
                "name": m.name,
                "formula": m.formula,
                "formula_normalized": m.formula_normalized,
                "elements": sorted(m.composition),
                "composition": m.composition,
                "crystal_system": m.crystal_system,
                "space_group": m.space_group,
                "structural_group": m.structural_group,
                "mineral_class": m.mineral_class,
                "ima_number": m.ima_number,
                "ima_status": m.ima_status,
                "molar_mass": round(m.molar_mass, 4),
                "element_wt_percent": {
                    k: round(v, 4) for k, v in formula.element_wt_percent().items()
                },
                "oxide_wt_percent": {k: round(v, 4) for k, v in formula.oxide_wt_percent().items()},
                "charge_residual": round(m.charge_residual, 6),
                "groups": groups,
                "aliases": aliases,
                "bodies": sorted({o["body"] for o in occurrences}, key=_BODY_ORDER.get),
                "occurrences": occurrences,
                "detectability": {
                    d.method.value: {"level": d.level, "features": d.features, "basis": d.basis}
                    for d in sorted(m.detectability, key=lambda d: d.method.value)
                },
                "spectra": {k.value: v for k, v in n_spectra.items()},
                "source": m.reference.citation if m.reference else None,
                "notes": formula.notes,
            }

    def summaries(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Formula, bodies and occurrences of many species or groups in a few queries.

        The short form of `mineral` cards, for answers that name many candidates at once
        (`lithoscope.pipeline.identify`): current species names are read in one query; other
        names (groups, old names) take the `mineral` path; names MinDB does not know are left
        out of the result.

        Returns
        -------
        dict
            ``name -> {"formula", "bodies", "occurrences"}``, keyed and ordered as given.
        """
        wanted = list(dict.fromkeys(str(n) for n in names))
        out: dict[str, dict[str, Any]] = {}
        with self.session() as s:
            for start in range(0, len(wanted), 500):  # bound the IN list
                chunk = wanted[start : start + 500]
                for m in s.scalars(
                    select(Mineral)
                    .options(selectinload(Mineral.occurrences).selectinload(Occurrence.reference))
                    .where(Mineral.name.in_(chunk))
                ):
                    occurrences = _sorted_occurrences(m.occurrences)
                    out[m.name] = {
                        "formula": m.formula,
                        "bodies": sorted({o["body"] for o in occurrences}, key=_BODY_ORDER.get),
                        "occurrences": occurrences,
                    }
        for name in wanted:
            if name not in out:
                try:
                    card = self.mineral(name)
                except MineralNotFound:
                    continue
                out[name] = {k: card.get(k) for k in ("formula", "bodies", "occurrences")}
        return {name: out[name] for name in wanted if name in out}

    def species_reported(self) -> dict[str, list[str]]:
        """Body -> the species with at least one occurrence there (sorted), in one query.

        Species-level occurrences only: a group reported on a body ('spinel group' on the Moon)
        does not make each of its members reported there.
        """
        with self.session() as s:
            rows = s.execute(
                select(Occurrence.body, Mineral.name)
                .join(Mineral, Occurrence.mineral_id == Mineral.id)
                .distinct()
            ).all()
        out: dict[str, list[str]] = {b.value: [] for b in Body}
        for body, name in rows:
            out[body.value].append(name)
        return {body: sorted(names) for body, names in out.items()}

    def species_groups(self, names: Iterable[str]) -> dict[str, str]:
        """The group each species answers to when its species cannot be told apart.

        The smallest curated group holding it (``Forsterite`` -> ``olivine``, ``Albite`` ->
        ``plagioclase`` before ``feldspar``), else its RRUFF structural group in lower case
        (``Dravite`` -> ``tourmaline``); species with neither are left out.
        """
        wanted = list(dict.fromkeys(str(n) for n in names))
        out: dict[str, str] = {}
        with self.session() as s:
            sizes = dict(
                s.execute(
                    select(GroupMember.group_id, func.count()).group_by(GroupMember.group_id)
                ).all()
            )
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows = s.execute(
                    select(Mineral.name, MineralGroup.name, MineralGroup.id)
                    .join(GroupMember, GroupMember.mineral_id == Mineral.id)
                    .join(MineralGroup, MineralGroup.id == GroupMember.group_id)
                    .where(Mineral.name.in_(chunk))
                ).all()
                best: dict[str, tuple[int, str]] = {}
                for mineral, group, gid in rows:
                    key = (sizes.get(gid, 0), group)
                    if mineral not in best or key < best[mineral]:
                        best[mineral] = key
                out.update({m: g for m, (_, g) in best.items()})
                for mineral, structural in s.execute(
                    select(Mineral.name, Mineral.structural_group).where(Mineral.name.in_(chunk))
                ):
                    if mineral not in out and structural:
                        out[mineral] = structural.strip().lower()
        return {n: out[n] for n in wanted if n in out}

    def _group_card(self, name: str) -> dict[str, Any]:
        with self.session() as s:
            g = s.scalar(
                select(MineralGroup)
                .options(
                    selectinload(MineralGroup.members).selectinload(GroupMember.mineral),
                    selectinload(MineralGroup.occurrences).selectinload(Occurrence.reference),
                )
                .where(MineralGroup.name == name)
            )
            assert g is not None
            members = sorted(
                ({"name": gm.mineral.name, "formula": gm.mineral.formula} for gm in g.members),
                key=lambda m: m["name"],
            )
            occurrences = _sorted_occurrences(g.occurrences)
            return {
                "kind": "group",
                "name": g.name,
                "members": members,
                "bodies": sorted({o["body"] for o in occurrences}, key=_BODY_ORDER.get),
                "occurrences": occurrences,
            }

    # ------------------------------------------------------------------ search
    def search(
        self,
        *,
        body: str | None = None,
        elements: Sequence[str] = (),
        evidence: str | None = None,
        mineral_class: str | None = None,
        name_contains: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Species matching all the given conditions, by name.

        Parameters
        ----------
        body : {'moon', 'mars', 'meteorite'}, optional
            Reported on this body.
        elements : sequence of str
            Contains every one of these elements (symbols, case as in the periodic table).
        evidence : str, optional
            With an occurrence of this evidence class (on ``body`` if given).
        mineral_class : str, optional
            E.g. ``'silicate'``, ``'oxide'``.
        name_contains : str, optional
            Case-insensitive substring of the name.
        limit : int, optional
            At most this many results.
        """
        if body is not None:
            body = parse_enum(Body, body, "--body").value
        if evidence is not None:
            evidence = parse_enum(Evidence, evidence, "--evidence").value
        symbols = _check_elements(elements)
        query = select(Mineral).options(
            selectinload(Mineral.occurrences), selectinload(Mineral.elements)
        )
        if body is not None or evidence is not None:
            occ = select(Occurrence.mineral_id)
            if body is not None:
                occ = occ.where(Occurrence.body == Body(body))
            if evidence is not None:
                occ = occ.where(Occurrence.evidence == Evidence(evidence))
            query = query.where(Mineral.id.in_(occ))
        for symbol in symbols:
            query = query.where(
                Mineral.id.in_(
                    select(MineralElement.mineral_id).where(MineralElement.element == symbol)
                )
            )
        if mineral_class is not None:
            query = query.where(func.lower(Mineral.mineral_class) == mineral_class.lower())
        if name_contains:
            query = query.where(Mineral.name_key.contains(name_key(name_contains)))
        query = query.order_by(Mineral.name_key)
        if limit is not None:
            query = query.limit(limit)
        with self.session() as s:
            out = []
            for m in s.scalars(query):
                out.append(
                    {
                        "name": m.name,
                        "formula": m.formula,
                        "elements": sorted(m.composition),
                        "mineral_class": m.mineral_class,
                        "crystal_system": m.crystal_system,
                        "bodies": sorted(
                            {o.body.value for o in m.occurrences}, key=_BODY_ORDER.get
                        ),
                    }
                )
        return out


def _check_elements(elements: Iterable[str]) -> list[str]:

    valid = {el.symbol for el in periodictable.elements if el.number > 0}
    out = []
    for raw in elements:
        symbol = raw.strip()
        fixed = symbol[:1].upper() + symbol[1:].lower()
        if fixed not in valid:
            raise InputError(
                f"--element {raw!r} is not an element symbol; use symbols such as Ti, Fe, Mg"
            )
        out.append(fixed)
    return out
