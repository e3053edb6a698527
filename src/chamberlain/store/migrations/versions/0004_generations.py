"""Account generations: a counter per account, bumped with every change to its entities,
so every node can tell at once whether what it cached of the account is current.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

# bytewise comparison and order on both databases (SQLite's default is BINARY)
KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "generations",
        sa.Column("account_id", KEY, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_generations"),
    )


def downgrade() -> None:
    op.drop_table("generations")
