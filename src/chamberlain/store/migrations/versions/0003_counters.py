"""Attempt counters for throttling (store/counters.py, ops/core/throttle.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

# bytewise comparison and order on both databases (SQLite's default is BINARY)
KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("scope", KEY, nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("first_at", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.BigInteger(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=False),
        sa.Column("reported", sa.BigInteger(), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_counters"),
    )
    op.create_index("ix_counters_scope_expires", "counters", ["scope", "expires"])


def downgrade() -> None:
    op.drop_table("counters")
