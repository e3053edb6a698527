"""Stores for the contract suite: memory, SQLite (a file per test), PostgreSQL.

PostgreSQL runs in a fresh schema per test session (dropped at the end), so parallel
runs on one database do not collide. It is not optional: if the server is unreachable
the PostgreSQL tests fail. Point them elsewhere with CHAMBERLAIN_TEST_PG_URL.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

from chamberlain.store.memory import MemoryStore
from chamberlain.store.sql import DB_FILE, SqlStore, normalize_url

S = TypeVar("S")

PG_URL = os.environ.get(
    "CHAMBERLAIN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _psycopg_dsn(url: str) -> str:
    return normalize_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PgSchemas:
    """Creates throwaway schemas and drops every one of them at the end."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def reserve(self) -> str:
        """A new schema name, dropped at the end (for tests that create it)."""
        name = f"chamberlain_test_{secrets.token_hex(6)}"
        self.created.append(name)
        return name

    def new(self) -> str:
        name = self.reserve()
        with psycopg.connect(_psycopg_dsn(PG_URL), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return name

    def drop_all(self) -> None:
        if not self.created:
            return
        with psycopg.connect(_psycopg_dsn(PG_URL), autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(scope="session")
def pg_url() -> str:
    return PG_URL


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[PgSchemas]:
    schemas = PgSchemas()
    yield schemas
    schemas.drop_all()


@pytest.fixture(scope="session")
def pg_session_store(pg_schemas: PgSchemas) -> Iterator[SqlStore]:
    store = SqlStore(PG_URL, schema=pg_schemas.new())
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def pg_store(pg_session_store: SqlStore) -> SqlStore:
    """The session's PostgreSQL store, emptied."""
    with pg_session_store.unit_of_work() as uow:
        uow.connection.exec_driver_sql("DELETE FROM entities")  # type: ignore[attr-defined]
    return pg_session_store


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty database file, copied for each test (faster than migrating)."""
    directory = tmp_path_factory.mktemp("template")
    store = SqlStore.from_data_dir(directory)
    store.migrate()
    store.close()  # the last connection closing checkpoints the WAL into the file
    return directory / DB_FILE


@pytest.fixture
def sqlite_store(tmp_path: Path, sqlite_template: Path) -> Iterator[SqlStore]:
    shutil.copyfile(sqlite_template, tmp_path / DB_FILE)
    store = SqlStore.from_data_dir(tmp_path)
    yield store
    store.close()


def emptied(store: S, table: str) -> S:
    """`store` with `table` emptied if it is PostgreSQL's session store (which outlives a
    test; the memory and SQLite stores are new for each)."""
    if isinstance(store, SqlStore) and store.dialect == "postgresql":
        with store.unit_of_work() as uow:
            uow.connection.exec_driver_sql(f"DELETE FROM {table}")
    return store


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> object:
    if request.param == "memory":
        return MemoryStore()
    return request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_store")
