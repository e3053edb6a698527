"""The audit trail: events, their lookup index and signed digests (store/events.py).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# bytewise comparison and order on both databases (SQLite's default is BINARY)
KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("account_id", KEY, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_time", sa.BigInteger(), nullable=False),
        sa.Column("event_id", KEY, nullable=False),
        sa.Column("event_name", KEY, nullable=False),
        sa.Column("event_source", KEY, nullable=False),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("username", KEY, nullable=True),
        sa.Column("access_key_id", KEY, nullable=True),
        sa.Column("principal", KEY, nullable=True),
        sa.Column("resources", sa.Text(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.Column("seal", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "seq", name="pk_events"),
    )
    op.create_index("ix_events_account_time", "events", ["account_id", "event_time", "seq"])
    op.create_table(
        "event_attributes",
        sa.Column("account_id", KEY, nullable=False),
        sa.Column("name", KEY, nullable=False),
        sa.Column("value", KEY, nullable=False),
        sa.Column("event_time", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id", "name", "value", "event_time", "seq", name="pk_event_attributes"
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "event_digests",
        sa.Column("account_id", KEY, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", KEY, nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.Column("seal", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "seq", "kind", name="pk_event_digests"),
    )


def downgrade() -> None:
    op.drop_table("event_digests")
    op.drop_table("event_attributes")
    op.drop_table("events")
