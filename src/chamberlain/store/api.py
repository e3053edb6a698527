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

import builtins
import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from chamberlain.domain import Event
from chamberlain.store.counters import Counter
from chamberlain.store.events import Attribute, Cursor, Digest, IndexRow, Pruned

T = TypeVar("T")


class Conflict(Exception):
    """`add` found an entity with the same account, kind and key."""


class LockOrder(Exception):
    """`lock_account` was asked for an account that sorts before one this unit of work
    already holds, and another transaction holds it: waiting could deadlock (each waiting
    for the other's account). Nothing waited; roll back and start again, taking
    `account_id` with the others in order (dispatch does)."""

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id} asked for out of order and busy")
        self.account_id = account_id


class Repo(Protocol[T]):
    def get(self, account_id: str, key: str) -> T | None: ...

    def add(self, entity: T) -> None:
        """Insert; raises Conflict when the key is taken."""

    def put(self, entity: T) -> None:
        """Insert or replace."""

    def touch(self, entity: T) -> bool:
        """Replace a stored entity with a change no cache depends on (usage data such as
        an access key's last use, which no authorization reads): unlike `put`, no
        generation is bumped, so every node's caches stay valid. Only an
        entity that exists is replaced (False: there was none). The caller holds the
        account's lock, as for any read-modify-write of a row."""

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
    ) -> builtins.list[T]:
        """Entities of the account, ordered by key; filtered by exact ref or key prefix;
        only keys greater than `after`, at most `limit` of them (a keyset page: its cost
        does not grow with its position or the account's size)."""

    def count(self, account_id: str, *, ref: str | None = None) -> int: ...

    def count_by_ref(self, account_id: str, *, ref_prefix: str = "") -> dict[str, int]:
        """How many of the account's entities have each ref that starts with `ref_prefix`
        (entities with no ref left out): one read of the ref index, the range of refs
        with that prefix only, however many refs there are."""

    def find(self, key: str) -> T | None:
        """The entity with this key in any account (access keys, MFA serials, ...)."""

    def find_by_ref(self, ref: str) -> builtins.list[T]:
        """Entities of any account with this ref (e.g. the account of a root email)."""


class EventLog(Protocol):
    """The audit trail (store/events.py): per account, events numbered 1, 2, ... by `seq`.

    Appending is the caller's read-check-write: take `lock_account`, read `last`, append
    `seq + 1`. A taken seq raises Conflict (the transaction goes on).
    """

    def append(self, event: Event) -> None: ...

    def append_many(self, events: Sequence[Event]) -> None:
        """`append` each event, in order, with a few statements for all of them (the
        group-commit writer's batches). A taken seq raises Conflict; the unit of work
        must then be rolled back (on PostgreSQL the transaction is aborted)."""

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
    ) -> builtins.list[Event]:
        """Newest first (event time, then seq): events with `attribute` (an exact
        (name, value) of events.ATTRIBUTE_NAMES), start <= time <= end, and
        (time, seq) < before."""

    def iterate(self, account_id: str, after_seq: int = 0) -> Iterator[Event]:
        """The account's events with seq > after_seq, in seq order (read in batches).
        A row that cannot be read as an Event raises events.CorruptEvent naming it."""

    def indexed(self, account_id: str, rows: Sequence[IndexRow]) -> set[IndexRow]:
        """Which of `rows` the account's lookup index holds."""

    def index_size(self, account_id: str) -> int:
        """How many lookup index rows the account has."""

    def index_scan(
        self, account_id: str, after: IndexRow | None = None, limit: int = 1000
    ) -> list[IndexRow]:
        """The account's lookup index rows in key order (name, value, time, seq), after
        `after`: `limit` at a time, for a scan in bounded memory."""

    def prune(self, account_id: str, before: dt.datetime) -> Pruned:
        """Delete the account's oldest events: every event with a seq below the first
        event at or after `before` (all of them if none is), so what remains is a seq
        range and no event at or after `before` goes. Returns the count and the newest
        deleted event. Digests about deleted events go too."""

    def add_digest(self, digest: Digest) -> None:
        """Insert, or replace the digest with the same account, seq and kind."""

    def digests(self, account_id: str) -> builtins.list[Digest]:
        """The account's digests, by seq then kind."""

    def accounts(self) -> builtins.list[str]:
        """Accounts with events or digests, sorted."""


class Counters(Protocol):
    """Attempt counters (store/counters.py). Each write is atomic on its row and takes no
    account lock; reads work in a read-only unit of work."""

    def get(self, scope: str, key: str) -> Counter | None: ...

    def hit(
        self, scope: str, key: str, now: dt.datetime, window: dt.timedelta, *, sliding: bool
    ) -> Counter | None:
        """Count one attempt and return the counter after it; None, counting nothing, while
        the counter is locked. An expired counter (or none) starts again: count 1, first
        now, not locked, nothing reported, expiring `window` from now. Otherwise the count
        goes up by one and, when `sliding`, the expiry moves to `window` after now (never
        earlier); a fixed window keeps its expiry."""

    def lock(self, scope: str, key: str, until: dt.datetime, expires: dt.datetime) -> None:
        """Refuse attempts until `until` (a later lock already there stays); the counter
        lives at least until `expires`."""

    def clear(self, scope: str, key: str) -> bool:
        """Forget the counter; False when there was none."""

    def forgive(self, scope: str, key: str) -> None:
        """Take one attempt back (never below 0): an attempt that proved right."""

    def due(self, scope: str, now: dt.datetime, limit: int = 100) -> list[Counter]:
        """Expired counters of `scope` with attempts no summary reported yet."""

    def report(self, scope: str, key: str, now: dt.datetime) -> Counter | None:
        """Claim an expired counter's unreported attempts for a summary: marks them
        reported (`reported` = `count`) and returns the counter so marked; None when it is
        not expired or has nothing unreported (exactly one of concurrent claims wins)."""

    def prune(
        self, scope: str, now: dt.datetime, *, keep_unreported: bool = False, limit: int = 1000
    ) -> int:
        """Delete up to `limit` expired counters of `scope` (except, with
        `keep_unreported`, those with attempts no summary reported); returns how many."""


class RevokedSessions(Protocol):
    """Sessions ended before they expired (the console's sign-out), by session id: a row
    per session until it would have expired anyway. Writes take no account lock; the
    check works in a read-only unit of work."""

    def revoke(self, session_id: str, expires: dt.datetime) -> None:
        """Refuse the session until `expires` (again: nothing changes)."""

    def is_revoked(self, session_id: str) -> bool: ...

    def prune(self, now: dt.datetime, limit: int = 100) -> int:
        """Forget up to `limit` revocations expired by `now`; returns how many."""


class UnitOfWork(Protocol):
    #: Whether it was opened read-only (its writes raise).
    read_only: bool

    def repo(self, kind: type[T]) -> Repo[T]: ...

    @property
    def counters(self) -> Counters:
        """Attempt counters (throttling); writes need a writing unit of work."""

    @property
    def revoked_sessions(self) -> RevokedSessions:
        """Revoked sessions; writes need a writing unit of work."""

    @property
    def events(self) -> EventLog:
        """The audit trail; writes need a writing unit of work."""

    def lock_account(self, account_id: str) -> None:
        """Serialize this transaction with every other write to the account.

        Locks are taken in account order: asked for an account that sorts before one
        already held, the store does not wait for it (which could deadlock) but takes it
        only if it is free, and raises LockOrder otherwise."""

    def generation(self, scope: str) -> int:
        """A scope's generation (store/scopes.py: an account id, or one of its users or
        roles): bumped, in the same transaction, by every unit of work that adds,
        replaces or deletes an entity whose changes bump that scope (0 before the
        first). A cache of authorization inputs is valid while the generations of the
        scopes it was read from are unchanged. Negative in a writing unit of work that
        changed the scope (not yet committed: nothing read in it may be cached)."""


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
