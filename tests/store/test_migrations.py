"""Alembic migrations of the SQL store, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

import chamberlain
from chamberlain.domain import BoundaryUse, Group, Role, User
from chamberlain.store import sql
from chamberlain.store.events import to_micros
from chamberlain.store.sql import MIGRATIONS, SqlStore, alembic_config

HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()
GROUP = Group("1", "AGPA1", "admins", "/", "arn:aws:iam::1:group/admins", dt.datetime.now(dt.UTC))

Factory = Callable[[], SqlStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(
    request: pytest.FixtureRequest, tmp_path: Path, pg_url: str, pg_schemas: Any
) -> Iterator[Factory]:
    """Makes stores on one new, unmigrated database (a PostgreSQL schema not yet created)."""
    url, schema = f"sqlite:///{tmp_path / 'c.db'}", None
    if request.param == "postgresql":
        url, schema = pg_url, pg_schemas.reserve()
    made: list[SqlStore] = []

    def make() -> SqlStore:
        made.append(SqlStore(url, schema=schema))
        return made[-1]

    yield make
    for store in made:
        store.close()


def test_migrations_ship_inside_the_package() -> None:
    package = Path(chamberlain.__file__).parent
    assert MIGRATIONS.is_relative_to(package)
    for directory in (MIGRATIONS, MIGRATIONS / "versions"):
        assert (directory / "__init__.py").is_file()  # a package: wheels include its .py
    assert (MIGRATIONS / "script.py.mako").is_file()
    script = ScriptDirectory(str(MIGRATIONS))
    assert script.get_heads() == ["0007"]
    revisions = [r.revision for r in script.walk_revisions()]
    assert revisions == ["0007", "0006", "0005", "0004", "0003", "0002", "0001"]


def test_migrate_is_idempotent_and_keeps_data(new_store: Factory) -> None:
    store = new_store()
    assert store.revision() is None
    store.migrate()
    assert store.revision() == HEAD
    with store.unit_of_work() as uow:
        uow.repo(Group).add(GROUP)
    store.migrate()
    assert store.revision() == HEAD
    with store.unit_of_work(read_only=True) as uow:
        assert uow.repo(Group).get("1", "admins") == GROUP


def test_the_migrated_schema_matches_the_table_definitions(new_store: Factory) -> None:
    store = new_store()
    store.migrate()
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, sql.metadata) == []
        indexes = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("entities")}
    assert indexes == {
        "ix_entities_kind_key": ["kind", "key", "account_id"],
        "ix_entities_kind_ref": ["kind", "ref", "account_id", "key"],
        "ix_entities_account_kind_ref": ["account_id", "kind", "ref", "key"],
    }


def test_downgrade_to_nothing_and_up_again(new_store: Factory) -> None:
    store = new_store()
    store.migrate()
    with store.migration_connection() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert store.revision() is None
    with store.engine.connect() as conn:
        assert not inspect(conn).has_table("entities")
    store.migrate()
    assert store.revision() == HEAD


def test_0005_moves_the_sign_outs_out_of_the_counters_and_back(new_store: Factory) -> None:
    """Sessions signed out before the upgrade stay signed out (and after a downgrade)."""
    store = new_store()
    with store.migration_connection() as conn:
        command.upgrade(alembic_config(conn), "0004")
    expires = to_micros(GROUP.created + dt.timedelta(hours=12))
    with store.engine.begin() as conn:
        conn.execute(
            sql.counters.insert(),
            [
                {"scope": scope, "key": key, "attempts": 1, "first_at": 0, "last_at": 0,
                 "locked_until": 0, "reported": 0, "expires": expires}
                for scope, key in (("console-signed-out", "sid-1"), ("mfa-device", "sid-2"))
            ],
        )  # fmt: skip
    store.migrate()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.revoked_sessions.is_revoked("sid-1")
        assert not uow.revoked_sessions.is_revoked("sid-2")  # a throttle's key: stays there
        assert uow.counters.get("console-signed-out", "sid-1") is None
        assert uow.counters.get("mfa-device", "sid-2") is not None
    with store.migration_connection() as conn:
        command.downgrade(alembic_config(conn), "0004")
    with store.engine.connect() as conn:
        assert not inspect(conn).has_table("revoked_sessions")
        rows = conn.execute(select(sql.counters.c.scope, sql.counters.c.key)).all()
    assert sorted(rows) == [("console-signed-out", "sid-1"), ("mfa-device", "sid-2")]


def test_0006_indexes_the_boundaries_already_stored_and_drops_the_index(
    new_store: Factory,
) -> None:
    store = new_store()
    store.migrate()  # written by this code (whose writes need the newest schema), then
    now, bound = GROUP.created, "arn:aws:iam::1:policy/Bound"
    with store.unit_of_work() as uow:
        for name, boundary in (("Alice", bound), ("bob", None)):
            arn = f"arn:aws:iam::1:user/{name}"
            uow.repo(User).add(User("1", f"AIDA{name}", name, "/", arn, now, boundary))
        role = Role("1", "AROA1", "Ops", "/", "arn:aws:iam::1:role/Ops", "{}", now)
        uow.repo(Role).add(replace(role, permissions_boundary=bound))
        uow.repo(Role).add(replace(role, role_id="AROA2", name="free", arn="r2"))
    with store.migration_connection() as conn:  # taken back to before the index
        command.downgrade(alembic_config(conn), "0005")
    with store.unit_of_work(read_only=True) as uow:
        assert uow.repo(BoundaryUse).list("1") == []
    store.migrate()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.repo(BoundaryUse).list("1", ref=bound) == [
            BoundaryUse("1", "role", "Ops", bound),
            BoundaryUse("1", "user", "Alice", bound),
        ]
        assert uow.repo(BoundaryUse).list("1") == uow.repo(BoundaryUse).list("1", ref=bound)
    with store.migration_connection() as conn:
        command.downgrade(alembic_config(conn), "0005")
    with store.unit_of_work(read_only=True) as uow:
        assert uow.repo(BoundaryUse).list("1") == []
        alice = uow.repo(User).get("1", "alice")
        assert alice is not None and alice.permissions_boundary == bound  # the boundaries stay


def test_concurrent_migrations_are_serialized(new_store: Factory) -> None:
    stores = [new_store() for _ in range(3)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def migrate(store: SqlStore) -> None:
        try:
            barrier.wait(10)
            store.migrate()
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=migrate, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert stores[0].revision() == HEAD


def test_the_environment_needs_a_connection() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with pytest.raises(RuntimeError, match=r"SqlStore\.migrate"):
        command.upgrade(config, "head")
