"""The entities table: every entity of every account, its fields as JSON text.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# bytewise comparison and order on both databases (SQLite's default is BINARY)
KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "entities",
        sa.Column("account_id", KEY, nullable=False),
        sa.Column("kind", KEY, nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("ref", KEY, nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "kind", "key", name="pk_entities"),
    )
    op.create_index("ix_entities_kind_key", "entities", ["kind", "key", "account_id"])
    op.create_index("ix_entities_kind_ref", "entities", ["kind", "ref", "account_id", "key"])
    op.create_index(
        "ix_entities_account_kind_ref", "entities", ["account_id", "kind", "ref", "key"]
    )


def downgrade() -> None:
    op.drop_table("entities")
