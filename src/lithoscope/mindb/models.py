"""MinDB's tables as a typed SQLAlchemy 2 ORM.

The schema is created and changed only by the Alembic migrations in ``lithoscope/mindb/migrations``;
``tests/mindb/test_migrations.py`` checks that these models and the migrations agree.

Enumerated columns are stored as short strings with CHECK constraints (``native_enum=False``) so
that SQLite and PostgreSQL hold the same thing and new values need only a migration of the check.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from lithoscope.methods import Method

__all__ = [
    "Abundance",
    "Alias",
    "Base",
    "Body",
    "Confidence",
    "Detectability",
    "Evidence",
    "GroupMember",
    "Meta",
    "Method",
    "Mineral",
    "MineralElement",
    "MineralGroup",
    "Occurrence",
    "Reference",
    "Rename",
    "Spectrum",
]


class Body(enum.StrEnum):
    """Where a mineral was reported."""

    MOON = "moon"
    MARS = "mars"
    METEORITE = "meteorite"


class Evidence(enum.StrEnum):
    """How it was observed."""

    RETURNED_SAMPLE = "returned sample"
    METEORITE = "meteorite"
    IN_SITU_ROVER = "in-situ rover"
    ORBITAL = "orbital"


class Abundance(enum.StrEnum):
    """Abundance class of a mineral in its setting."""

    MAJOR = "major"
    MINOR = "minor"
    ACCESSORY = "accessory"
    TRACE = "trace"
    UNKNOWN = "unknown"


class Confidence(enum.StrEnum):
    """How firmly the source establishes the occurrence."""

    CONFIRMED = "confirmed"
    REPORTED = "reported"
    TENTATIVE = "tentative"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Declarative base of MinDB."""

    type_annotation_map: ClassVar = {dict[str, Any]: JSON, list[Any]: JSON}


class Reference(Base):
    """A citation; every curated fact points to one."""

    __tablename__ = "references"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citation: Mapped[str] = mapped_column(Text, nullable=False)
    citation_key: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    doi: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)


class Mineral(Base):
    """A mineral species (IMA name) with its published formula and parsed composition."""

    __tablename__ = "minerals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    name_key: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    formula: Mapped[str] = mapped_column(Text, nullable=False)
    formula_normalized: Mapped[str] = mapped_column(Text, nullable=False)
    composition: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    molar_mass: Mapped[float] = mapped_column(Float, nullable=False)
    charge_residual: Mapped[float] = mapped_column(Float, nullable=False)
    crystal_system: Mapped[str | None] = mapped_column(String(32))
    space_group: Mapped[str | None] = mapped_column(String(64))
    structural_group: Mapped[str | None] = mapped_column(String(200))
    mineral_class: Mapped[str] = mapped_column(String(64), nullable=False)
    ima_number: Mapped[str | None] = mapped_column(String(40))
    ima_status: Mapped[str | None] = mapped_column(String(80))
    curated: Mapped[bool] = mapped_column(nullable=False, default=True)
    reference_id: Mapped[int | None] = mapped_column(ForeignKey("references.id"))

    reference: Mapped[Reference | None] = relationship()
    elements: Mapped[list[MineralElement]] = relationship(
        back_populates="mineral", cascade="all, delete-orphan", order_by="MineralElement.element"
    )
    occurrences: Mapped[list[Occurrence]] = relationship(
        back_populates="mineral", cascade="all, delete-orphan"
    )
    detectability: Mapped[list[Detectability]] = relationship(
        back_populates="mineral", cascade="all, delete-orphan"
    )


class MineralElement(Base):
    """Atoms per formula unit of one element in a mineral's representative composition."""

    __tablename__ = "mineral_elements"

    mineral_id: Mapped[int] = mapped_column(
        ForeignKey("minerals.id", ondelete="CASCADE"), primary_key=True
    )
    element: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount: Mapped[float] = mapped_column(Float, nullable=False)

    mineral: Mapped[Mineral] = relationship(back_populates="elements")

    __table_args__ = (Index("ix_mineral_elements_element", "element"),)


class MineralGroup(Base):
    """A named group (olivine, plagioclase, spinel, ...) with member species."""

    __tablename__ = "mineral_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    name_key: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)

    members: Mapped[list[GroupMember]] = relationship(
        back_populates="group", cascade="all, delete-orphan"
    )
    occurrences: Mapped[list[Occurrence]] = relationship(
        back_populates="group", cascade="all, delete-orphan"
    )


class GroupMember(Base):
    """Membership of a species in a group."""

    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("mineral_groups.id", ondelete="CASCADE"), primary_key=True
    )
    mineral_id: Mapped[int] = mapped_column(
        ForeignKey("minerals.id", ondelete="CASCADE"), primary_key=True
    )
    reference_id: Mapped[int | None] = mapped_column(ForeignKey("references.id"))

    group: Mapped[MineralGroup] = relationship(back_populates="members")
    mineral: Mapped[Mineral] = relationship()
    reference: Mapped[Reference | None] = relationship()


class Alias(Base):
    """A name that is not an IMA species (variety, discredited, intermediate member, spelling)."""

    __tablename__ = "aliases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alias: Mapped[str] = mapped_column(String(160), nullable=False)
    alias_key: Mapped[str] = mapped_column(String(160), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    mineral_id: Mapped[int | None] = mapped_column(ForeignKey("minerals.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("mineral_groups.id", ondelete="CASCADE")
    )
    reference_id: Mapped[int | None] = mapped_column(ForeignKey("references.id"))

    mineral: Mapped[Mineral | None] = relationship()
    group: Mapped[MineralGroup | None] = relationship()
    reference: Mapped[Reference | None] = relationship()


class Occurrence(Base):
    """A cited report of a species (or a group) on the Moon, on Mars or in meteorites."""

    __tablename__ = "occurrences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mineral_id: Mapped[int | None] = mapped_column(
        ForeignKey("minerals.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("mineral_groups.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[Body] = mapped_column(_enum(Body, "body"), nullable=False, index=True)
    setting: Mapped[str] = mapped_column(Text, nullable=False)
    evidence: Mapped[Evidence] = mapped_column(_enum(Evidence, "evidence"), nullable=False)
    abundance: Mapped[Abundance] = mapped_column(_enum(Abundance, "abundance"), nullable=False)
    confidence: Mapped[Confidence] = mapped_column(_enum(Confidence, "confidence"), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    reference_id: Mapped[int] = mapped_column(ForeignKey("references.id"), nullable=False)

    mineral: Mapped[Mineral | None] = relationship(back_populates="occurrences")
    group: Mapped[MineralGroup | None] = relationship(back_populates="occurrences")
    reference: Mapped[Reference] = relationship()

    __table_args__ = (
        CheckConstraint(
            "(mineral_id IS NULL) <> (group_id IS NULL)", name="occurrence_species_xor_group"
        ),
    )


class Rename(Base):
    """How a spectrum label that is not a current species name links to MinDB.

    Loaded from ``curated/renames.csv``. ``target`` is a name resolved when spectra are linked
    (a species added later by the IMA list ingest counts): a species for ``renamed`` and
    ``discredited`` rows, a group for ``group`` rows, empty for labels that stay unlinked
    (synthetic compounds, glasses, 'unknown'...), whose reason is ``note``. A row with a
    ``sample_id`` applies to that RRUFF sample only and wins over the row without one.
    """

    __tablename__ = "renames"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(200), nullable=False)
    label_key: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    sample_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    target: Mapped[str | None] = mapped_column(String(160))
    note: Mapped[str | None] = mapped_column(Text)
    reference_id: Mapped[int] = mapped_column(ForeignKey("references.id"), nullable=False)

    reference: Mapped[Reference] = relationship()


class Spectrum(Base):
    """A reference spectrum; axis and intensities are encoded by `lithoscope.mindb.arrays`.

    A spectrum links to a species (``mineral_id``), to a group with the species left open
    (``group_id``: labels such as 'Tourmaline'), or to nothing; never to both.
    """

    __tablename__ = "spectra"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mineral_id: Mapped[int | None] = mapped_column(
        ForeignKey("minerals.id", ondelete="SET NULL"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("mineral_groups.id", ondelete="SET NULL"), index=True
    )
    label: Mapped[str] = mapped_column(String(200), nullable=False)
    method: Mapped[Method] = mapped_column(_enum(Method, "method"), nullable=False, index=True)
    axis_unit: Mapped[str] = mapped_column(String(32), nullable=False)
    axis: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    intensities: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    n_points: Mapped[int] = mapped_column(Integer, nullable=False)
    axis_min: Mapped[float] = mapped_column(Float, nullable=False)
    axis_max: Mapped[float] = mapped_column(Float, nullable=False)
    laser_nm: Mapped[float | None] = mapped_column(Float)
    sample_id: Mapped[str | None] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    filename: Mapped[str | None] = mapped_column(Text)
    checksum: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    measured_chemistry: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    added_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    mineral: Mapped[Mineral | None] = relationship()
    group: Mapped[MineralGroup | None] = relationship()

    __table_args__ = (
        CheckConstraint("mineral_id IS NULL OR group_id IS NULL", name="spectrum_species_or_group"),
    )


class Detectability(Base):
    """What a method can see of a mineral, derived from its chemistry and structure."""

    __tablename__ = "detectability"

    mineral_id: Mapped[int] = mapped_column(
        ForeignKey("minerals.id", ondelete="CASCADE"), primary_key=True
    )
    method: Mapped[Method] = mapped_column(_enum(Method, "method"), primary_key=True)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    features: Mapped[list[Any]] = mapped_column(JSON, nullable=False)
    basis: Mapped[str] = mapped_column(Text, nullable=False)

    mineral: Mapped[Mineral] = relationship(back_populates="detectability")

    __table_args__ = (
        CheckConstraint("level IN ('strong', 'weak', 'none')", name="detectability_level"),
    )


class Meta(Base):
    """Key-value facts about the database (content checksum of the last build, ...)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )
