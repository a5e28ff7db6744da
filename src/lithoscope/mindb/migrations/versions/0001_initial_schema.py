"""Initial MinDB schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Minerals, groups, aliases, occurrences, references, spectra and build metadata.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "mineral_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("name_key", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name_key"),
    )
    op.create_table(
        "references",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citation", sa.Text(), nullable=False),
        sa.Column("citation_key", sa.String(length=64), nullable=False),
        sa.Column("doi", sa.String(length=200), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("citation_key"),
    )
    op.create_table(
        "minerals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("name_key", sa.String(length=120), nullable=False),
        sa.Column("formula", sa.Text(), nullable=False),
        sa.Column("formula_normalized", sa.Text(), nullable=False),
        sa.Column("composition", sa.JSON(), nullable=False),
        sa.Column("molar_mass", sa.Float(), nullable=False),
        sa.Column("charge_residual", sa.Float(), nullable=False),
        sa.Column("crystal_system", sa.String(length=32), nullable=True),
        sa.Column("space_group", sa.String(length=64), nullable=True),
        sa.Column("structural_group", sa.String(length=200), nullable=True),
        sa.Column("mineral_class", sa.String(length=64), nullable=False),
        sa.Column("ima_number", sa.String(length=40), nullable=True),
        sa.Column("ima_status", sa.String(length=80), nullable=True),
        sa.Column("curated", sa.Boolean(), nullable=False),
        sa.Column("reference_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reference_id"],
            ["references.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name_key"),
    )
    op.create_table(
        "aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=160), nullable=False),
        sa.Column("alias_key", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("mineral_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("reference_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["mineral_groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["mineral_id"], ["minerals.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["reference_id"],
            ["references.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alias_key"),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("mineral_id", sa.Integer(), nullable=False),
        sa.Column("reference_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["mineral_groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["mineral_id"], ["minerals.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["reference_id"],
            ["references.id"],
        ),
        sa.PrimaryKeyConstraint("group_id", "mineral_id"),
    )
    op.create_table(
        "mineral_elements",
        sa.Column("mineral_id", sa.Integer(), nullable=False),
        sa.Column("element", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["mineral_id"], ["minerals.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("mineral_id", "element"),
    )
    with op.batch_alter_table("mineral_elements", schema=None) as batch_op:
        batch_op.create_index("ix_mineral_elements_element", ["element"], unique=False)

    op.create_table(
        "occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mineral_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column(
            "body",
            sa.Enum(
                "moon",
                "mars",
                "meteorite",
                name="body",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("setting", sa.Text(), nullable=False),
        sa.Column(
            "evidence",
            sa.Enum(
                "returned sample",
                "meteorite",
                "in-situ rover",
                "orbital",
                name="evidence",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "abundance",
            sa.Enum(
                "major",
                "minor",
                "accessory",
                "trace",
                "unknown",
                name="abundance",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "confidence",
            sa.Enum(
                "confirmed",
                "reported",
                "tentative",
                name="confidence",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reference_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(mineral_id IS NULL) <> (group_id IS NULL)", name="occurrence_species_xor_group"
        ),
        sa.ForeignKeyConstraint(["group_id"], ["mineral_groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["mineral_id"], ["minerals.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["reference_id"],
            ["references.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_occurrences_body"), ["body"], unique=False)
        batch_op.create_index(batch_op.f("ix_occurrences_group_id"), ["group_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_occurrences_mineral_id"), ["mineral_id"], unique=False)

    op.create_table(
        "spectra",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mineral_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column(
            "method",
            sa.Enum(
                "raman",
                "ir",
                "libs",
                "vnir",
                "xrd",
                name="method",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("axis_unit", sa.String(length=32), nullable=False),
        sa.Column("axis", sa.LargeBinary(), nullable=False),
        sa.Column("intensities", sa.LargeBinary(), nullable=False),
        sa.Column("n_points", sa.Integer(), nullable=False),
        sa.Column("axis_min", sa.Float(), nullable=False),
        sa.Column("axis_max", sa.Float(), nullable=False),
        sa.Column("laser_nm", sa.Float(), nullable=True),
        sa.Column("sample_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("measured_chemistry", sa.Text(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column(
            "added_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(["mineral_id"], ["minerals.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("checksum"),
    )
    with op.batch_alter_table("spectra", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spectra_method"), ["method"], unique=False)
        batch_op.create_index(batch_op.f("ix_spectra_mineral_id"), ["mineral_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_spectra_sample_id"), ["sample_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("spectra", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spectra_sample_id"))
        batch_op.drop_index(batch_op.f("ix_spectra_mineral_id"))
        batch_op.drop_index(batch_op.f("ix_spectra_method"))

    op.drop_table("spectra")
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_occurrences_mineral_id"))
        batch_op.drop_index(batch_op.f("ix_occurrences_group_id"))
        batch_op.drop_index(batch_op.f("ix_occurrences_body"))

    op.drop_table("occurrences")
    with op.batch_alter_table("mineral_elements", schema=None) as batch_op:
        batch_op.drop_index("ix_mineral_elements_element")

    op.drop_table("mineral_elements")
    op.drop_table("group_members")
    op.drop_table("aliases")
    op.drop_table("minerals")
    op.drop_table("references")
    op.drop_table("mineral_groups")
    op.drop_table("meta")
