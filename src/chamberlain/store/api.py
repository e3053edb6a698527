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

import datetime as dt
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from chamberlain.domain import Event
from chamberlain.store.events import Attribute, Cursor, Digest, Pruned

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
        after: str | None = None,
        limit: int | None = None,
    ) -> list[T]:
        """Entities of the account, ordered by key; filtered by exact ref or key prefix;
        only keys greater than `after`, at most `limit` of them (a keyset page: its cost
        does not grow with its position or the account's size)."""

    def count(self, account_id: str, *, ref: str | None = None) -> int: ...

    def find(self, key: str) -> T | None:
        """The entity with this key in any account (access keys, MFA serials, ...)."""

    def find_by_ref(self, ref: str) -> list[T]:
        """Entities of any account with this ref (e.g. the account of a root email)."""


class EventLog(Protocol):
    """The audit trail (store/events.py): per account, events numbered 1, 2, ... by `seq`.

    Appending is the caller's read-check-write: take `lock_account`, read `last`, append
    `seq + 1`. A taken seq raises Conflict (the transaction goes on).
    """

    def append(self, event: Event) -> None: ...

    def last(self, account_id: str) -> Event | None:
        """The account's newest event by seq (the head of its chain)."""

    def get(self, account_id: str, seq: int) -> Event | None: ...

    def lookup(
        self,
        account_id: str,
        *,
        attribute: Attribute | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        before: Cursor | None = None,
        limit: int = 50,
    ) -> list[Event]:
        """Newest first (event time, then seq): events with `attribute` (an exact
        (name, value) of events.ATTRIBUTE_NAMES), start <= time <= end, and
        (time, seq) < before."""

    def iterate(self, account_id: str, after_seq: int = 0) -> Iterator[Event]:
        """The account's events with seq > after_seq, in seq order (read in batches)."""

    def prune(self, account_id: str, before: dt.datetime) -> Pruned:
        """Delete the account's oldest events: every event with a seq below the first
        event at or after `before` (all of them if none is), so what remains is a seq
        range and no event at or after `before` goes. Returns the count and the newest
        deleted event. Digests about deleted events go too."""

    def add_digest(self, digest: Digest) -> None:
        """Insert, or replace the digest with the same account, seq and kind."""

    def digests(self, account_id: str) -> list[Digest]:
        """The account's digests, by seq then kind."""

    def accounts(self) -> list[str]:
        """Accounts with events or digests, sorted."""


class UnitOfWork(Protocol):
    def repo(self, kind: type[T]) -> Repo[T]: ...

    @property
    def events(self) -> EventLog:
        """The audit trail; writes need a writing unit of work."""

    def lock_account(self, account_id: str) -> None:
        """Serialize this transaction with every other write to the account."""

    def generation(self, account_id: str) -> int:
        """The account's generation: bumped, in the same transaction, by every unit of work
        that adds, replaces or deletes one of its entities (0 before the first). A cache
        of anything read from the account is valid while the generation is unchanged.
        Negative in a writing unit of work that changed the account's entities (not yet
        committed: nothing read in it may be cached)."""


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
