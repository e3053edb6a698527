"""Alembic environment: online only, on the connection `SqlStore.migrate()` passes.

The caller owns the transaction (and the lock that serializes concurrent migrations),
so the whole upgrade commits or rolls back as one.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with SqlStore.migrate(), which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=None,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
)
with context.begin_transaction():
    context.run_migrations()
