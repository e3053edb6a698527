"""Revoked sessions in a table of their own (store/api.py RevokedSessions): the console's
sign-outs were rows of the throttling counters (scope "console-signed-out"); they move
here, so that the counters hold throttling state only.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

# bytewise comparison and order on both databases (SQLite's default is BINARY)
KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
#: The counters' scope the console's sign-outs used before this revision.
SIGNED_OUT = "console-signed-out"


def upgrade() -> None:
    op.create_table(
        "revoked_sessions",
        sa.Column("session_id", KEY, nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_revoked_sessions"),
    )
    op.create_index("ix_revoked_sessions_expires", "revoked_sessions", ["expires"])
    op.execute(
        sa.text(
            "INSERT INTO revoked_sessions (session_id, expires) "
            "SELECT key, expires FROM counters WHERE scope = :scope"
        ).bindparams(scope=SIGNED_OUT)
    )
    op.execute(sa.text("DELETE FROM counters WHERE scope = :scope").bindparams(scope=SIGNED_OUT))


def downgrade() -> None:
    op.execute(
        sa.text(
            "INSERT INTO counters "
            "(scope, key, attempts, first_at, last_at, locked_until, reported, expires) "
            "SELECT :scope, session_id, 1, expires, expires, 0, 0, expires "
            "FROM revoked_sessions"
        ).bindparams(scope=SIGNED_OUT)
    )
    op.drop_table("revoked_sessions")
