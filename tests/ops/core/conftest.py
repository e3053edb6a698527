"""Services on the SQL stores (SQLite in a temporary directory, PostgreSQL in a schema of
its own), for what depends on the database: locks, generations, group commit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chamberlain.crypto.passwords import TEST_PARAMS
from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.crypto.tokens import TokenSealer
from chamberlain.domain import Account
from chamberlain.ops.core.context import Services
from chamberlain.store.sql import SqlStore

from ..conftest import ACCOUNT, NOW

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
#: An account whose id sorts before ACCOUNT's (and so is locked before it).
LOWER = "011111111111"


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Services]:
    """Services on a migrated SQL store holding ACCOUNT and LOWER."""
    schema = None
    if request.param == "sqlite":
        store = SqlStore.from_data_dir(tmp_path / "db")
    else:
        schema = f"chamberlain_test_{uuid.uuid4().hex[:10]}"
        store = SqlStore(PG_URL, schema=schema)
    store.migrate()
    with store.unit_of_work() as uow:
        for account in (ACCOUNT, LOWER):
            uow.repo(Account).add(Account(account, f"root@{account}.example.com", "x", NOW))
    key = generate_key()
    yield Services(
        store=store, secrets=SecretBox(key), tokens=TokenSealer(key), password_params=TEST_PARAMS
    )
    if schema is not None:
        with store.engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    store.close()
