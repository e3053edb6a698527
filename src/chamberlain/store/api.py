"""The store's contract: typed repositories inside a unit of work.

Every operation runs in one unit of work, which is one database transaction: it either
commits as a whole or leaves nothing behind. Writes to one account are serialized (a
per-account lock), so read-check-write sequences such as quota checks are race-free on
every store, including several Chamberlain nodes sharing one PostgreSQL.

Each entity type of `chamberlain.domain` has one repository, addressed by its class:
``uow.repo(User).get(account_id, "alice")``. Keys are the entities' `key` property, refs
their `ref` property (see domain.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Conflict(Exception):
    """`add` found an entity with the same account, kind and key."""


class Repo(Protocol[T]):
    def get(self, account_id: str, key: str) -> T | None: ...

    def add(self, entity: T) -> None:
        """Insert; raises Conflict when the key is taken."""

    def put(self, entity: T) -> None:
        """Insert or replace."""

    def delete(self, account_id: str, key: str) -> bool:
        """Remove; False when there was nothing to remove."""

    def list(
        self,
        account_id: str,
        *,
        ref: str | None = None,
        key_prefix: str | None = None,
    ) -> list[T]:
        """Entities of the account, ordered by key; filtered by exact ref or key prefix."""

    def count(self, account_id: str, *, ref: str | None = None) -> int: ...

    def find(self, key: str) -> T | None:
        """The entity with this key in any account (access keys, MFA serials, ...)."""

    def find_by_ref(self, ref: str) -> list[T]:
        """Entities of any account with this ref (e.g. the account of a root email)."""


class UnitOfWork(Protocol):
    def repo(self, kind: type[T]) -> Repo[T]: ...

    def lock_account(self, account_id: str) -> None:
        """Serialize this transaction with every other write to the account."""


class Store(Protocol):
    def unit_of_work(self, *, read_only: bool = False) -> AbstractContextManager[UnitOfWork]:
        """A transaction: commits when the block ends normally, rolls back on exception.

        A read-only unit of work takes no write lock (SQLite: BEGIN DEFERRED instead of
        BEGIN IMMEDIATE) and must not write."""

    def accounts(self) -> Iterator[str]:
        """Every account id, for administration commands."""

    def close(self) -> None: ...

    def describe(self) -> dict[str, Any]:
        """What the store is (dialect, location), for logs and `chamberlain status`."""
