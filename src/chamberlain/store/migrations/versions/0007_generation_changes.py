"""Generations in commit order: a `changed` number per generations row, set in the bump
from one sequence of the whole database, so a node can read what changed since it last
looked (`WHERE changed > ?`) instead of reading a scope's generation on every request
(store/generation_watch.py). Existing rows get 0: they are older than any node's look.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.add_column(
            sa.Column("changed", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_index("ix_generations_changed", "generations", ["changed"])


def downgrade() -> None:
    op.drop_index("ix_generations_changed", table_name="generations")
    with op.batch_alter_table("generations") as batch:
        batch.drop_column("changed")
