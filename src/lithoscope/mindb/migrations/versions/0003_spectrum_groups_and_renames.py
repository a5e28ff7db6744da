"""Spectra may link to a group (species left open); the curated rename table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "renames",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("label_key", sa.String(length=200), nullable=False),
        sa.Column("sample_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=160), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reference_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["reference_id"], ["references.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("renames", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_renames_label_key"), ["label_key"], unique=False)

    with op.batch_alter_table("spectra", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_spectra_group_id"), ["group_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_spectra_group_id_mineral_groups",
            "mineral_groups",
            ["group_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_check_constraint(
            "spectrum_species_or_group", "mineral_id IS NULL OR group_id IS NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("spectra", schema=None) as batch_op:
        batch_op.drop_constraint("spectrum_species_or_group", type_="check")
        batch_op.drop_constraint("fk_spectra_group_id_mineral_groups", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_spectra_group_id"))
        batch_op.drop_column("group_id")
    with op.batch_alter_table("renames", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_renames_label_key"))
    op.drop_table("renames")
