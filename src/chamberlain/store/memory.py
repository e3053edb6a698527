"""An in-memory store for fast tests: the same contract as the SQL store.

A writing unit of work sees a private copy-on-write view and publishes it on commit,
under one lock, so writers are serialized like SQLite's. Published tables are never
mutated, so a read-only unit of work reads a snapshot without the lock (like SQLite's
readers under WAL, it neither waits for a writer nor sees its uncommitted changes).
"""

from __future__ import annotations

import bisect
import builtins
import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar

from chamberlain.domain import Account, Event
from chamberlain.store.api import Conflict
from chamberlain.store.counters import Counter
from chamberlain.store.events import (
    Attribute,
    Cursor,
    Digest,
    IndexRow,
    Pruned,
    attribute_rows,
    in_range,
    index_rows,
    index_value,
    to_micros,
)
from chamberlain.store.scopes import changed_scope

T = TypeVar("T")
Table = dict[tuple[str, str], Any]  # (account_id, key) -> entity
Log = dict[str, list[Any]]  # account_id -> its events by seq (or digests by seq, kind)
CounterTable = dict[tuple[str, str], Counter]  # (scope, key) -> counter


class _MemoryRepo:
    def __init__(self, table: Table, cls: type, read_only: bool, dirty: set[str]) -> None:
        self._t = table
        self._cls = cls
        self._read_only = read_only
        self._dirty = dirty

    def _writable(self, entity: Any = None) -> None:
        if entity is not None and type(entity) is not self._cls:
            raise TypeError(f"a {type(entity).__name__} in the {self._cls.__name__} repository")
        if self._read_only:
            raise RuntimeError("write in a read-only unit of work")
        if entity is not None:
            written: Any = entity
            scope = changed_scope(self._cls, written.account_id, written.key, written)
            if scope is not None:
                self._dirty.add(scope)

    def get(self, account_id: str, key: str) -> Any:
        return self._t.get((account_id, key))

    def add(self, entity: Any) -> None:
        self._writable(entity)
        k = (entity.account_id, entity.key)
        if k in self._t:
            raise Conflict(f"{type(entity).__name__} {entity.key!r} exists")
        self._t[k] = entity

    def put(self, entity: Any) -> None:
        self._writable(entity)
        self._t[(entity.account_id, entity.key)] = entity

    def touch(self, entity: Any) -> bool:
        self._writable()
        k = (entity.account_id, entity.key)
        if type(entity) is not self._cls:
            raise TypeError(f"a {type(entity).__name__} in the {self._cls.__name__} repository")
        if k not in self._t:
            return False
        self._t[k] = entity
        return True

    def delete(self, account_id: str, key: str) -> bool:
        self._writable()
        gone = self._t.pop((account_id, key), None)
        if gone is None:
            return False
        scope = changed_scope(self._cls, account_id, key, gone)
        if scope is not None:
            self._dirty.add(scope)
        return True

    def list(
        self,
        account_id: str,
        *,
        ref: str | None = None,
        key_prefix: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[Any]:
        rows = [
            (k, e)
            for (a, k), e in self._t.items()
            if a == account_id
            and (ref is None or e.ref == ref)
            and (key_prefix is None or k.startswith(key_prefix))
            and (after is None or k > after)
        ]
        found = [e for _, e in sorted(rows, key=lambda r: r[0])]
        return found if limit is None else found[:limit]

    def count(self, account_id: str, *, ref: str | None = None) -> int:
        return len(self.list(account_id, ref=ref))

    def count_by_ref(self, account_id: str, *, ref_prefix: str = "") -> dict[str, int]:
        counts: dict[str, int] = {}
        for (a, _), e in self._t.items():
            if a == account_id and e.ref is not None and e.ref.startswith(ref_prefix):
                counts[e.ref] = counts.get(e.ref, 0) + 1
        return counts

    def find(self, key: str) -> Any:
        """The first by account id, as the SQL store answers."""
        hits = sorted(a for (a, k) in self._t if k == key)
        return self._t[(hits[0], key)] if hits else None

    def find_by_ref(self, ref: str) -> builtins.list[Any]:
        """Ordered by account id, then key, as the SQL store answers."""
        return [e for _, e in sorted((k, e) for k, e in self._t.items() if e.ref == ref)]


class _MemoryEventLog:
    """`EventLog` on per-account lists, copied on the first write to an account (the
    published lists are never mutated, like the entity tables)."""

    def __init__(self, events: Log, digests: Log, read_only: bool) -> None:
        self.event_lists = events if read_only else dict(events)
        self.digest_lists = digests if read_only else dict(digests)
        self._read_only = read_only
        self._copied: set[tuple[int, str]] = set()

    def _own(self, log: Log, account_id: str) -> builtins.list[Any]:
        if self._read_only:
            raise RuntimeError("audit trail write in a read-only unit of work")
        if (id(log), account_id) not in self._copied:
            log[account_id] = list(log.get(account_id, ()))
            self._copied.add((id(log), account_id))
        return log[account_id]

    def append(self, event: Event) -> None:
        to_micros(event.event_time)  # an aware time, as the SQL store requires
        events = self._own(self.event_lists, event.account_id)
        if events and events[-1].seq >= event.seq:  # not the next one: keep seq order
            if any(e.seq == event.seq for e in events):
                raise Conflict(f"event {event.seq} of account {event.account_id} exists")
            events.insert(bisect.bisect([e.seq for e in events], event.seq), event)
        else:
            events.append(event)

    def append_many(self, events: Sequence[Event]) -> None:
        for event in events:
            self.append(event)

    def last(self, account_id: str) -> Event | None:
        events = self.event_lists.get(account_id)
        return events[-1] if events else None

    def get(self, account_id: str, seq: int) -> Event | None:
        return next((e for e in self.event_lists.get(account_id, ()) if e.seq == seq), None)

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
        if attribute is not None:
            attribute = (attribute[0], index_value(attribute[1]))
        hits = [
            e
            for e in self.event_lists.get(account_id, ())
            if in_range(e, start, end, before)
            and (attribute is None or attribute in attribute_rows(e))
        ]
        hits.sort(key=lambda e: (e.event_time, e.seq), reverse=True)
        return hits[:limit]

    def _index(self, account_id: str) -> list[IndexRow]:
        """The memory store's index is computed from its events: it cannot diverge."""
        return sorted(r for e in self.event_lists.get(account_id, ()) for r in index_rows(e))

    def indexed(self, account_id: str, rows: Sequence[IndexRow]) -> set[IndexRow]:
        return set(rows) & set(self._index(account_id))

    def index_size(self, account_id: str) -> int:
        return len(self._index(account_id))

    def index_scan(
        self, account_id: str, after: IndexRow | None = None, limit: int = 1000
    ) -> list[IndexRow]:
        return [r for r in self._index(account_id) if after is None or r > after][:limit]

    def iterate(self, account_id: str, after_seq: int = 0) -> Iterator[Event]:
        return iter([e for e in self.event_lists.get(account_id, ()) if e.seq > after_seq])

    def prune(self, account_id: str, before: dt.datetime) -> Pruned:
        if self._read_only:
            raise RuntimeError("audit trail write in a read-only unit of work")
        current = self.event_lists.get(account_id, [])
        newer = [e.seq for e in current if e.event_time >= before]
        upto = min(newer) - 1 if newer else (current[-1].seq if current else 0)
        gone = [e for e in current if e.seq <= upto]
        if not gone:
            return Pruned(0, None)
        self._own(self.event_lists, account_id)[: len(gone)] = []
        digests = self._own(self.digest_lists, account_id)
        digests[:] = [d for d in digests if d.seq > upto]
        return Pruned(len(gone), gone[-1])

    def add_digest(self, digest: Digest) -> None:
        digests = self._own(self.digest_lists, digest.account_id)
        digests[:] = [d for d in digests if (d.seq, d.kind) != (digest.seq, digest.kind)]
        digests.append(digest)
        digests.sort(key=lambda d: (d.seq, d.kind))

    def digests(self, account_id: str) -> builtins.list[Digest]:
        return list(self.digest_lists.get(account_id, ()))

    def accounts(self) -> builtins.list[str]:
        logs = (self.event_lists, self.digest_lists)
        return sorted({a for log in logs for a, items in log.items() if items})


class _MemoryCounters:
    """`Counters` on a dict, copied on the first write (like the entity tables)."""

    def __init__(self, table: CounterTable, read_only: bool) -> None:
        self.table = table if read_only else dict(table)
        self._read_only = read_only

    def _writable(self) -> None:
        if self._read_only:
            raise RuntimeError("counter write in a read-only unit of work")

    def get(self, scope: str, key: str) -> Counter | None:
        return self.table.get((scope, key))

    def hit(
        self, scope: str, key: str, now: dt.datetime, window: dt.timedelta, *, sliding: bool
    ) -> Counter | None:
        self._writable()
        to_micros(now)  # an aware time, as the SQL store requires
        old = self.table.get((scope, key))
        if old is None or old.expires <= now:
            new = Counter(scope, key, 1, now, now, None, 0, now + window)
        elif old.locked(now):
            return None
        else:
            expires = max(old.expires, now + window) if sliding else old.expires
            new = replace(old, count=old.count + 1, last=now, expires=expires)
        self.table[(scope, key)] = new
        return new

    def lock(self, scope: str, key: str, until: dt.datetime, expires: dt.datetime) -> None:
        self._writable()
        old = self.table.get((scope, key))
        if old is not None and (old.locked_until is None or old.locked_until < until):
            self.table[(scope, key)] = replace(
                old, locked_until=until, expires=max(old.expires, expires)
            )

    def clear(self, scope: str, key: str) -> bool:
        self._writable()
        return self.table.pop((scope, key), None) is not None

    def forgive(self, scope: str, key: str) -> None:
        self._writable()
        old = self.table.get((scope, key))
        if old is not None and old.count > 0:
            self.table[(scope, key)] = replace(old, count=old.count - 1)

    def due(self, scope: str, now: dt.datetime, limit: int = 100) -> list[Counter]:
        hits = [
            c
            for (s, _), c in sorted(self.table.items())
            if s == scope and c.expires <= now and c.count > c.reported
        ]
        return hits[:limit]

    def report(self, scope: str, key: str, now: dt.datetime) -> Counter | None:
        self._writable()
        old = self.table.get((scope, key))
        if old is None or old.expires > now or old.count <= old.reported:
            return None
        new = self.table[(scope, key)] = replace(old, reported=old.count)
        return new

    def prune(
        self, scope: str, now: dt.datetime, *, keep_unreported: bool = False, limit: int = 1000
    ) -> int:
        self._writable()
        gone = [
            k
            for k, c in self.table.items()
            if k[0] == scope and c.expires <= now and not (keep_unreported and c.count > c.reported)
        ][:limit]
        for k in gone:
            del self.table[k]
        return len(gone)


class _MemoryRevokedSessions:
    """`RevokedSessions` on a dict (session id: expiry), copied on the first write."""

    def __init__(self, table: dict[str, dt.datetime], read_only: bool) -> None:
        self.table = table if read_only else dict(table)
        self._read_only = read_only

    def revoke(self, session_id: str, expires: dt.datetime) -> None:
        if self._read_only:
            raise RuntimeError("revocation in a read-only unit of work")
        to_micros(expires)  # an aware time, as the SQL store requires
        self.table.setdefault(session_id, expires)

    def is_revoked(self, session_id: str) -> bool:
        return session_id in self.table

    def prune(self, now: dt.datetime, limit: int = 100) -> int:
        if self._read_only:
            raise RuntimeError("revocation pruned in a read-only unit of work")
        gone = [sid for sid, expires in self.table.items() if expires <= now][:limit]
        for sid in gone:
            del self.table[sid]
        return len(gone)


class _MemoryUnitOfWork:
    def __init__(
        self,
        tables: dict[type, Table],
        log: tuple[Log, Log],
        read_only: bool,
        counters: CounterTable | None = None,
        generations: dict[str, int] | None = None,
        revoked: dict[str, dt.datetime] | None = None,
    ) -> None:
        self._base = tables
        self.read_only = read_only
        self.tables: dict[type, Table] = {}
        self._log = log
        self._events: _MemoryEventLog | None = None
        self._counter_base: CounterTable = {} if counters is None else counters
        self._counters: _MemoryCounters | None = None
        self._generations = generations if generations is not None else {}
        self._revoked_base: dict[str, dt.datetime] = {} if revoked is None else revoked
        self._revoked: _MemoryRevokedSessions | None = None
        self.dirty: set[str] = set()

    @property
    def counters(self) -> _MemoryCounters:
        if self._counters is None:
            self._counters = _MemoryCounters(self._counter_base, read_only=self.read_only)
        return self._counters

    def published_counters(self) -> CounterTable:
        return self._counter_base if self._counters is None else self._counters.table

    @property
    def revoked_sessions(self) -> _MemoryRevokedSessions:
        if self._revoked is None:
            self._revoked = _MemoryRevokedSessions(self._revoked_base, read_only=self.read_only)
        return self._revoked

    def published_revoked(self) -> dict[str, dt.datetime]:
        return self._revoked_base if self._revoked is None else self._revoked.table

    def generation(self, scope: str) -> int:
        if scope in self.dirty:
            return -1
        return self._generations.get(scope, 0)

    def published_generations(self) -> dict[str, int]:
        """The generations as this unit of work leaves them (its scopes' bumped)."""
        if not self.dirty:
            return self._generations
        bumped = dict(self._generations)
        for scope in self.dirty:
            bumped[scope] = bumped.get(scope, 0) + 1
        return bumped

    @property
    def events(self) -> _MemoryEventLog:
        if self._events is None:
            self._events = _MemoryEventLog(*self._log, read_only=self.read_only)
        return self._events

    def published_log(self) -> tuple[Log, Log]:
        """The event log as this unit of work leaves it (the base if it never looked)."""
        if self._events is None:
            return self._log
        return self._events.event_lists, self._events.digest_lists

    def repo(self, kind: type[T]) -> Any:
        if kind not in self.tables:
            base = self._base.get(kind, {})
            self.tables[kind] = base if self.read_only else dict(base)
        return _MemoryRepo(self.tables[kind], kind, self.read_only, self.dirty)

    def lock_account(self, account_id: str) -> None:
        """Units of work are already serialized; only a writing one may ask."""
        if self.read_only:
            raise RuntimeError("lock_account in a read-only unit of work")


class MemoryStore:
    def __init__(self) -> None:
        self._tables: dict[type, Table] = {}
        self._log: tuple[Log, Log] = ({}, {})  # events, digests
        self._counters: CounterTable = {}
        self._generations: dict[str, int] = {}  # published like the tables: never mutated
        self._revoked: dict[str, dt.datetime] = {}
        self._lock = threading.RLock()

    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[_MemoryUnitOfWork]:
        if read_only:
            yield _MemoryUnitOfWork(
                self._tables, self._log, True, self._counters, self._generations, self._revoked
            )
            return
        with self._lock:
            uow = _MemoryUnitOfWork(
                self._tables, self._log, False, self._counters, self._generations, self._revoked
            )
            yield uow
            self._tables = {**self._tables, **uow.tables}
            self._log = uow.published_log()
            self._counters = uow.published_counters()
            self._generations = uow.published_generations()
            self._revoked = uow.published_revoked()

    def accounts(self) -> Iterator[str]:
        return iter(sorted(a for a, _ in self._tables.get(Account, {})))

    def close(self) -> None:
        self._tables = {}
        self._log = ({}, {})
        self._counters = {}
        self._generations = {}
        self._revoked = {}

    def describe(self) -> dict[str, Any]:
        return {"dialect": "memory"}
