"""The permissions boundaries' index: a `boundary_use` entity per user or role with a
boundary (domain.BoundaryUse, ref the policy ARN), so ListEntitiesForPolicy reads a page
of the entities a policy bounds instead of every user and role. Upgrading indexes the
boundaries already stored; downgrading drops the index (the boundaries stay on their
users and roles).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

KIND = "boundary_use"
SEP = "\x1f"  # domain.SEP: joins the parts of composite keys
_BATCH = 1000


def upgrade() -> None:
    conn = op.get_bind()
    insert = sa.text(
        "INSERT INTO entities (account_id, kind, key, ref, data) "
        "VALUES (:account_id, :kind, :key, :ref, :data)"
    )
    rows = conn.execute(
        sa.text("SELECT account_id, kind, data FROM entities WHERE kind IN ('user', 'role')")
    )
    batch: list[dict[str, str]] = []
    for account_id, kind, data in rows.fetchall():
        fields = json.loads(data)
        arn = fields.get("permissions_boundary")
        if not arn:
            continue
        name = fields["name"]
        use = {
            "account_id": account_id,
            "principal_kind": kind,
            "principal_name": name,
            "policy_arn": arn,
        }
        batch.append(
            {
                "account_id": account_id,
                "kind": KIND,
                "key": SEP.join((kind, name.lower(), arn)),
                "ref": arn,
                "data": json.dumps(use, separators=(",", ":")),
            }
        )
        if len(batch) >= _BATCH:
            conn.execute(insert, batch)
            batch = []
    if batch:
        conn.execute(insert, batch)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM entities WHERE kind = :kind").bindparams(kind=KIND))
