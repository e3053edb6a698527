"""Harness for ops tests: an in-memory store, an account, and callers.

`iam(name, **params)` runs an IAM operation as the account's root user through the
dispatcher (so authorization runs too); `iam_as(caller, name, **params)` as anyone.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from chamberlain.crypto.passwords import TEST_PARAMS
from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.crypto.tokens import TokenSealer
from chamberlain.domain import Account
from chamberlain.ops.core.context import Caller, RequestMeta, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import ServiceError
from chamberlain.policy import PrincipalType
from chamberlain.store.memory import MemoryStore
from chamberlain.store.sql import SqlStore

ACCOUNT = "111111111111"
NOW = dt.datetime(2026, 11, 28, 12, 0, 0, tzinfo=dt.UTC)
_ids = itertools.count()


@pytest.fixture
def services() -> Services:
    store = MemoryStore()
    with store.unit_of_work() as uow:
        uow.repo(Account).add(
            Account(
                account_id=ACCOUNT, email="root@example.com", root_password_hash="x", created=NOW
            )
        )
    key = generate_key()
    return Services(
        store=store,
        secrets=SecretBox(key),
        tokens=TokenSealer(key),
        password_params=TEST_PARAMS,
    )


def root_caller(account: str = ACCOUNT) -> Caller:
    return Caller(
        account_id=account,
        arn=f"arn:aws:iam::{account}:root",
        principal_id=account,
        type=PrincipalType.ROOT,
    )


def user_caller(name: str, user_id: str = "AIDAEXAMPLEEXAMPLE01", account: str = ACCOUNT) -> Caller:
    return Caller(
        account_id=account,
        arn=f"arn:aws:iam::{account}:user/{name}",
        principal_id=user_id,
        type=PrincipalType.USER,
        user_name=name,
    )


def meta(now: dt.datetime = NOW) -> RequestMeta:
    return RequestMeta(request_id=f"req-{next(_ids)}", now=now)


@pytest.fixture
def iam_as(services: Services) -> Callable[..., Any]:
    def call(caller: Caller, name: str, **params: Any) -> Any:
        return execute(services, caller, meta(), "iam", name, params)

    return call


@pytest.fixture
def iam(iam_as: Callable[..., Any]) -> Callable[..., Any]:
    def call(name: str, **params: Any) -> Any:
        return iam_as(root_caller(), name, **params)

    return call


PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
#: An account whose id sorts before ACCOUNT's (and so is locked before it).
LOWER = "011111111111"


@contextmanager
def migrated_store(dialect: str, tmp_path: Path) -> Iterator[SqlStore]:
    """A migrated, empty SQL store: SQLite under `tmp_path`, or a PostgreSQL schema of its
    own (dropped afterwards)."""
    schema = None
    if dialect == "sqlite":
        store = SqlStore.from_data_dir(tmp_path / "db")
    else:
        schema = f"chamberlain_test_{uuid.uuid4().hex[:10]}"
        store = SqlStore(PG_URL, schema=schema)
    store.migrate()
    try:
        yield store
    finally:
        if schema is not None:
            with store.engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Services]:
    """Services on a migrated SQL store holding ACCOUNT and LOWER."""
    with migrated_store(request.param, tmp_path) as store:
        with store.unit_of_work() as uow:
            for account in (ACCOUNT, LOWER):
                uow.repo(Account).add(Account(account, f"root@{account}.example.com", "x", NOW))
        key = generate_key()
        yield Services(store, SecretBox(key), TokenSealer(key), password_params=TEST_PARAMS)


def error(excinfo: pytest.ExceptionInfo[ServiceError]) -> tuple[str, str]:
    """A refused call's AWS code and message."""
    return excinfo.value.code, excinfo.value.message
