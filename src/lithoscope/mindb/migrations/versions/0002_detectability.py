"""Derived detectability of each mineral by each method.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "detectability",
        sa.Column("mineral_id", sa.Integer(), nullable=False),
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
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.CheckConstraint("level IN ('strong', 'weak', 'none')", name="detectability_level"),
        sa.ForeignKeyConstraint(["mineral_id"], ["minerals.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("mineral_id", "method"),
    )


def downgrade() -> None:
    op.drop_table("detectability")
