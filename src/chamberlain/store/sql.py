"""The SQL store (SQLAlchemy Core): SQLite by default, PostgreSQL for several nodes.

Every entity is one row of `entities(account_id, kind, key, ref, data)`, its fields a
JSON text (codec.py), so a new entity type or field needs no migration. The audit trail
has tables of its own (`events`, its lookup index `event_attributes`, `event_digests`;
see store/events.py), reached through `uow.events`. Keys compare
and sort bytewise (SQLite's BINARY, PostgreSQL's "C" collation), which for UTF-8 is
code-point order: the same order as Python's, hence as the memory store's.

Transactions:
- SQLite: the driver's own transaction handling is off; a writing unit of work starts
  with BEGIN IMMEDIATE (one writer at a time, waiting up to the busy timeout), a
  read-only one with BEGIN (deferred; under WAL it never blocks). synchronous=FULL, so a
  unit of work that returned has reached the disk.
- PostgreSQL: READ COMMITTED; `lock_account` takes a transaction-scoped advisory lock,
  so writers to one account are serialized across every node sharing the database.
  Locks are waited for only in account order; one asked for out of order is only tried
  (LockOrder when busy), so two transactions never wait for each other.
  Read-only units of work run in autocommit (same visibility, fewer round trips).
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import itertools
import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    bindparam,
    case,
    create_engine,
    event,
    func,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import BindParameter

from chamberlain.domain import Account, Event
from chamberlain.store import codec
from chamberlain.store.api import Conflict, LockOrder
from chamberlain.store.counters import Counter
from chamberlain.store.events import (
    Attribute,
    CorruptEvent,
    Cursor,
    Digest,
    IndexRow,
    Pruned,
    attribute_rows,
    from_micros,
    index_value,
    to_micros,
)
from chamberlain.store.generation_watch import HEARTBEAT_S, POLL_S, Follower, GenerationWatch
from chamberlain.store.scopes import NEEDS_ENTITY, changed_scope

T = TypeVar("T")

MIGRATIONS = Path(__file__).with_name("migrations")
DB_FILE = "chamberlain.db"
BUSY_TIMEOUT_S = 30.0

# Text that compares bytewise on both databases (SQLite's default collation is BINARY).
_Key = Text().with_variant(Text(collation="C"), "postgresql")

metadata = MetaData()
entities = Table(
    "entities",
    metadata,
    Column("account_id", _Key, nullable=False),
    Column("kind", _Key, nullable=False),
    Column("key", _Key, nullable=False),
    Column("ref", _Key, nullable=True),
    Column("data", Text, nullable=False),
    PrimaryKeyConstraint("account_id", "kind", "key", name="pk_entities"),
    # find(key): any account, first by account id
    Index("ix_entities_kind_key", "kind", "key", "account_id"),
    # find_by_ref(ref), ordered like list
    Index("ix_entities_kind_ref", "kind", "ref", "account_id", "key"),
    # list(account, ref=...) / count(account, ref=...), ordered by key; count_by_ref
    Index("ix_entities_account_kind_ref", "account_id", "kind", "ref", "key"),
)

# The audit trail (store/events.py). Times are integer microseconds since the epoch.
events = Table(
    "events",
    metadata,
    Column("account_id", _Key, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("event_time", BigInteger, nullable=False),
    Column("event_id", _Key, nullable=False),
    Column("event_name", _Key, nullable=False),
    Column("event_source", _Key, nullable=False),
    Column("read_only", Boolean, nullable=False),
    Column("username", _Key, nullable=True),
    Column("access_key_id", _Key, nullable=True),
    Column("principal", _Key, nullable=True),
    Column("resources", Text, nullable=False),
    Column("record", Text, nullable=False),
    Column("hash", Text, nullable=False),
    Column("seal", LargeBinary, nullable=False),
    PrimaryKeyConstraint("account_id", "seq", name="pk_events"),
    # unfiltered lookups: an account's events by time
    Index("ix_events_account_time", "account_id", "event_time", "seq"),
)
# One row per (event, attribute it is looked up by): a filtered lookup is one range scan.
event_attributes = Table(
    "event_attributes",
    metadata,
    Column("account_id", _Key, nullable=False),
    Column("name", _Key, nullable=False),
    Column("value", _Key, nullable=False),
    Column("event_time", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    PrimaryKeyConstraint(
        "account_id", "name", "value", "event_time", "seq", name="pk_event_attributes"
    ),
    sqlite_with_rowid=False,  # the primary key is the table: no second copy
)
event_digests = Table(
    "event_digests",
    metadata,
    Column("account_id", _Key, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", _Key, nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("hash", Text, nullable=False),
    Column("seal", LargeBinary, nullable=False),
    PrimaryKeyConstraint("account_id", "seq", "kind", name="pk_event_digests"),
)
# Attempt counters (store/counters.py); locked_until 0: not locked.
counters = Table(
    "counters",
    metadata,
    Column("scope", _Key, nullable=False),
    Column("key", _Key, nullable=False),
    Column("attempts", BigInteger, nullable=False),
    Column("first_at", BigInteger, nullable=False),
    Column("last_at", BigInteger, nullable=False),
    Column("locked_until", BigInteger, nullable=False),
    Column("reported", BigInteger, nullable=False),
    Column("expires", BigInteger, nullable=False),
    PrimaryKeyConstraint("scope", "key", name="pk_counters"),
    # due() and prune(): a scope's expired counters
    Index("ix_counters_scope_expires", "scope", "expires"),
)

# Sessions revoked before they expired (store/api.py RevokedSessions): a row per session
# until it would have expired (microseconds), then pruned.
revoked_sessions = Table(
    "revoked_sessions",
    metadata,
    Column("session_id", _Key, nullable=False),
    Column("expires", BigInteger, nullable=False),
    PrimaryKeyConstraint("session_id", name="pk_revoked_sessions"),
    Index("ix_revoked_sessions_expires", "expires"),  # prune()
)

# A counter per scope (store/scopes.py: an account id, or an account's user or role, in
# the account_id column), bumped in every transaction that changes an authorization input
# in it: a node's caches are current while theirs are unchanged (store/api.py).
generations = Table(
    "generations",
    metadata,
    Column("account_id", _Key, nullable=False),
    Column("generation", BigInteger, nullable=False),
    # Where the row's last bump stands in the order of all bumps (store/generation_watch.py)
    Column("changed", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("account_id", name="pk_generations"),
    Index("ix_generations_changed", "changed"),
)

_E = entities.c
_ACCOUNT: BindParameter[str] = bindparam("a")
_KIND: BindParameter[str] = bindparam("k")
_KEY: BindParameter[str] = bindparam("key")


def _this_kind(*extra: Any) -> Any:
    return (_E.account_id == _ACCOUNT, _E.kind == _KIND, *extra)


_GET = select(_E.data).where(*_this_kind(_E.key == _KEY))
_DELETE = (
    entities.delete().where(*_this_kind(_E.key == _KEY)).execution_options(preserve_rowcount=True)
)
# (bind names other than the columns': an UPDATE reserves those for its SET)
_TOUCH = (
    entities.update()
    .where(
        _E.account_id == bindparam("t_a"), _E.kind == bindparam("t_k"),
        _E.key == bindparam("t_key"),
    )
    .values(ref=bindparam("t_ref"), data=bindparam("t_data"))
    .execution_options(preserve_rowcount=True)
)  # fmt: skip
_COUNT = select(func.count()).select_from(entities).where(*_this_kind())
_COUNT_REF = _COUNT.where(_E.ref == bindparam("ref"))
# count_by_ref: the refs in [lo, hi) (no hi: every ref from lo on; NULL is never >= lo)
_REF_COUNTS = (
    select(_E.ref, func.count()).where(*_this_kind(_E.ref >= bindparam("lo"))).group_by(_E.ref)
)
_REF_COUNTS_BELOW = _REF_COUNTS.where(_E.ref < bindparam("hi"))
_FIND = select(_E.data).where(_E.kind == _KIND, _E.key == _KEY).order_by(_E.account_id).limit(1)
_FIND_BY_REF = (
    select(_E.data)
    .where(_E.kind == _KIND, _E.ref == bindparam("ref"))
    .order_by(_E.account_id, _E.key)
)
_ACCOUNTS = select(_E.account_id).where(_E.kind == bindparam("k")).order_by(_E.account_id)
_VALUES = {"account_id": _ACCOUNT, "kind": _KIND, "key": _KEY, "ref": bindparam("ref"),
           "data": bindparam("data")}  # fmt: skip


def _list_statement(ref: bool, lower: bool, upper: bool, after: bool, limit: bool) -> Any:
    stmt = select(_E.data).where(*_this_kind())
    if ref:
        stmt = stmt.where(_E.ref == bindparam("ref"))
    if lower:
        stmt = stmt.where(_E.key >= bindparam("lo"))
    if upper:
        stmt = stmt.where(_E.key < bindparam("hi"))
    if after:
        stmt = stmt.where(_E.key > bindparam("after"))
    stmt = stmt.order_by(_E.key)
    if limit:
        stmt = stmt.limit(bindparam("limit", type_=BigInteger))
    return stmt


_LIST = {flags: _list_statement(*flags) for flags in itertools.product((False, True), repeat=5)}


_G = generations.c
_GENERATION = select(_G.generation).where(_G.account_id == _ACCOUNT)


_EARLIER = generations.alias("earlier")
#: The next number in the order of bumps. On SQLite (one writer at a time) the order is
#: the commit order, which the SQLite follower reads by; PostgreSQL's follower listens.
_NEXT_CHANGE = select(func.coalesce(func.max(_EARLIER.c.changed), 0) + 1).scalar_subquery()


def _bump(dialect: Any) -> Any:
    ins = dialect.insert(generations).values(
        account_id=_ACCOUNT, generation=1, changed=_NEXT_CHANGE
    )
    return ins.on_conflict_do_update(
        index_elements=[_G.account_id],
        set_={"generation": _G.generation + 1, "changed": _NEXT_CHANGE},
    ).returning(_G.generation)


_BUMP = {"sqlite": _bump(sqlite), "postgresql": _bump(postgresql)}
_CHANGES_SINCE = (
    select(_G.account_id, _G.generation, _G.changed)
    .where(_G.changed > bindparam("since", type_=BigInteger))
    .order_by(_G.changed)
)
_LAST_CHANGE = select(func.coalesce(func.max(_G.changed), 0))
#: pg_notify's payload limit is 8000 bytes: the bumps of one commit go in parts below it.
_NOTIFY_BYTES = 7000
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def _writes(dialect: Any) -> tuple[Any, Any]:
    """(insert-or-nothing, upsert) for one dialect: neither aborts the transaction."""
    ins = dialect.insert(entities).values(_VALUES)
    pk = [_E.account_id, _E.kind, _E.key]
    return (
        # rowcount (0: the key was taken) is kept for INSERT only when asked for
        ins.on_conflict_do_nothing(index_elements=pk).execution_options(preserve_rowcount=True),
        ins.on_conflict_do_update(
            index_elements=pk, set_={"ref": ins.excluded.ref, "data": ins.excluded.data}
        ),
    )


_WRITES = {"sqlite": _writes(sqlite), "postgresql": _writes(postgresql)}


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string greater than every string starting with `prefix` (None: none).

    `prefix <= key < bound` selects exactly the keys with that prefix, with no LIKE
    (whose `%` and `_` would need escaping) and using the primary key's order.
    """
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code <= 0x10FFFF:
            if 0xD800 <= code <= 0xDFFF:  # surrogates are not text; skip them
                code = 0xE000
            return "".join(chars) + chr(code)
    return None


def _advisory_key(scope: str, name: str) -> int:
    digest = hashlib.blake2b(f"chamberlain:{scope}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_MIGRATION_LOCK = _advisory_key("migrate", "")
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:lock)")
_TRY_ADVISORY_LOCK = text("SELECT pg_try_advisory_xact_lock(:lock)")


def storable(key: str) -> bool:
    """Whether a key can be stored at all: PostgreSQL's text holds no NUL, and neither
    database a lone surrogate (a non-UTF-8 byte decoded with surrogateescape). No entity
    has such a key (names are checked on creation), so a lookup by one finds nothing
    instead of failing in the driver."""
    if "\0" in key:
        return False
    return key.isascii() or not any(0xD800 <= ord(c) <= 0xDFFF for c in key)


def _read_only_violation(what: str) -> RuntimeError:
    return RuntimeError(f"{what} in a read-only unit of work")


class _SqlRepo:
    __slots__ = ("_cls", "_conn", "_dirty", "_insert", "_kind", "_read_only", "_upsert")

    def __init__(self, uow: _SqlUnitOfWork, cls: type) -> None:
        self._conn = uow.connection
        self._dirty = uow.dirty
        self._cls: type[Any] = cls
        self._kind = cls.KIND  # type: ignore[attr-defined]
        self._read_only = uow.read_only
        self._insert, self._upsert = uow.writes

    def _decode(self, data: str) -> Any:
        return codec.decode(self._cls, data)

    def _row(self, entity: Any, *, dirty: bool = True) -> dict[str, Any]:
        account: str = entity.account_id
        if type(entity) is not self._cls:
            raise TypeError(f"a {type(entity).__name__} in the {self._cls.__name__} repository")
        if self._read_only:
            raise _read_only_violation("write")
        if dirty:
            scope = changed_scope(self._cls, account, entity.key, entity)
            if scope is not None:
                self._dirty.add(scope)
        return {
            "a": entity.account_id,
            "k": self._kind,
            "key": entity.key,
            "ref": entity.ref,
            "data": codec.encode(entity),
        }

    def get(self, account_id: str, key: str) -> Any:
        if not storable(key):
            return None
        params = {"a": account_id, "k": self._kind, "key": key}
        data = self._conn.execute(_GET, params).scalar()
        return None if data is None else self._decode(data)

    def add(self, entity: Any) -> None:
        if self._conn.execute(self._insert, self._row(entity)).rowcount == 0:
            raise Conflict(f"{type(entity).__name__} {entity.key!r} exists")

    def put(self, entity: Any) -> None:
        self._conn.execute(self._upsert, self._row(entity))

    def touch(self, entity: Any) -> bool:
        row = {f"t_{name}": value for name, value in self._row(entity, dirty=False).items()}
        return self._conn.execute(_TOUCH, row).rowcount > 0

    def delete(self, account_id: str, key: str) -> bool:
        if self._read_only:
            raise _read_only_violation("delete")
        if not storable(key):
            return False
        gone = self.get(account_id, key) if self._cls in NEEDS_ENTITY else None
        params = {"a": account_id, "k": self._kind, "key": key}
        deleted = self._conn.execute(_DELETE, params).rowcount > 0
        scope = changed_scope(self._cls, account_id, key, gone) if deleted else None
        if scope is not None:
            self._dirty.add(scope)
        return deleted

    def list(
        self,
        account_id: str,
        *,
        ref: str | None = None,
        key_prefix: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[Any]:
        if not storable(ref or "") or not storable(key_prefix or ""):
            return []
        params: dict[str, Any] = {"a": account_id, "k": self._kind}
        if after is not None:
            params["after"] = after
        if limit is not None:
            params["limit"] = limit
        if ref is not None:
            params["ref"] = ref
        if key_prefix:
            params["lo"] = key_prefix
            upper = prefix_upper_bound(key_prefix)
            if upper is not None:
                params["hi"] = upper
        flags = (ref is not None, "lo" in params, "hi" in params, after is not None)
        stmt = _LIST[(*flags, limit is not None)]
        return [self._decode(t) for t in self._conn.execute(stmt, params).scalars()]

    def count(self, account_id: str, *, ref: str | None = None) -> int:
        params = {"a": account_id, "k": self._kind}
        if ref is None:
            return self._conn.execute(_COUNT, params).scalar_one()
        params["ref"] = ref
        return self._conn.execute(_COUNT_REF, params).scalar_one()

    def count_by_ref(self, account_id: str, *, ref_prefix: str = "") -> dict[str, int]:
        if not storable(ref_prefix):
            return {}
        params = {"a": account_id, "k": self._kind, "lo": ref_prefix}
        upper = prefix_upper_bound(ref_prefix) if ref_prefix else None
        if upper is not None:
            params["hi"] = upper
        stmt = _REF_COUNTS if upper is None else _REF_COUNTS_BELOW
        return {ref: n for ref, n in self._conn.execute(stmt, params)}

    def find(self, key: str) -> Any:
        if not storable(key):
            return None
        data = self._conn.execute(_FIND, {"k": self._kind, "key": key}).scalar()
        return None if data is None else self._decode(data)

    def find_by_ref(self, ref: str) -> builtins.list[Any]:
        if not storable(ref):
            return []
        rows = self._conn.execute(_FIND_BY_REF, {"k": self._kind, "ref": ref}).scalars()
        return [self._decode(t) for t in rows]


# ------------------------------------------------------------------------ audit trail

_V, _X, _D = events.c, event_attributes.c, event_digests.c
_EVENT_COLUMNS = (
    _V.account_id, _V.seq, _V.event_time, _V.event_id, _V.event_name, _V.event_source,
    _V.read_only, _V.username, _V.access_key_id, _V.principal, _V.resources, _V.record,
    _V.hash, _V.seal,
)  # fmt: skip
_ITERATE_BATCH = 1000


def _lookup_statement(attribute: bool, start: bool, end: bool, before: bool) -> Any:
    """Newest first, on the attribute index (filtered) or the account/time index."""
    if attribute:
        on = (_V.account_id == _X.account_id) & (_V.seq == _X.seq)
        stmt = select(*_EVENT_COLUMNS).select_from(event_attributes.join(events, on))
        stmt = stmt.where(
            _X.account_id == _ACCOUNT, _X.name == bindparam("n"), _X.value == bindparam("v")
        )
        time, seq = _X.event_time, _X.seq
    else:
        stmt = select(*_EVENT_COLUMNS).where(_V.account_id == _ACCOUNT)
        time, seq = _V.event_time, _V.seq
    if start:
        stmt = stmt.where(time >= bindparam("start", type_=BigInteger))
    if end:
        stmt = stmt.where(time <= bindparam("end", type_=BigInteger))
    if before:
        # a row-value comparison: both databases scan the index from the cursor on
        stmt = stmt.where(
            tuple_(time, seq)
            < tuple_(bindparam("bt", type_=BigInteger), bindparam("bs", type_=BigInteger))
        )
    return stmt.order_by(time.desc(), seq.desc()).limit(bindparam("limit", type_=BigInteger))


_LOOKUP = {flags: _lookup_statement(*flags) for flags in itertools.product((False, True), repeat=4)}
_LAST = select(*_EVENT_COLUMNS).where(_V.account_id == _ACCOUNT).order_by(_V.seq.desc()).limit(1)
_GET_EVENT = select(*_EVENT_COLUMNS).where(_V.account_id == _ACCOUNT, _V.seq == bindparam("s"))
_ITERATE = (
    select(*_EVENT_COLUMNS)
    .where(_V.account_id == _ACCOUNT, _V.seq > bindparam("s"))
    .order_by(_V.seq)
    .limit(bindparam("limit", type_=BigInteger))
)
_FIRST_SINCE = select(func.min(_V.seq)).where(
    _V.account_id == _ACCOUNT, _V.event_time >= bindparam("t")
)
_LAST_SEQ = select(func.max(_V.seq)).where(_V.account_id == _ACCOUNT)
_PRUNE_BATCH = (
    select(*_EVENT_COLUMNS)
    .where(_V.account_id == _ACCOUNT, _V.seq > bindparam("s"), _V.seq <= bindparam("upto"))
    .order_by(_V.seq)
    .limit(bindparam("limit", type_=BigInteger))
)
_DELETE_ATTRIBUTE = event_attributes.delete().where(
    _X.account_id == bindparam("a"),
    _X.name == bindparam("n"),
    _X.value == bindparam("v"),
    _X.event_time == bindparam("t"),
    _X.seq == bindparam("s"),
)
_DELETE_EVENTS = (
    events.delete()
    .where(_V.account_id == _ACCOUNT, _V.seq <= bindparam("upto"))
    .execution_options(preserve_rowcount=True)
)
_DELETE_DIGESTS = event_digests.delete().where(
    _D.account_id == _ACCOUNT, _D.seq <= bindparam("upto")
)
_DIGESTS = select(event_digests).where(_D.account_id == _ACCOUNT).order_by(_D.seq, _D.kind)
_INSERT_ATTRIBUTE = event_attributes.insert()


def _driver_insert(table: Table) -> dict[str, str]:
    """An INSERT of every column of `table` in each driver's own parameter style, run by
    the driver's executemany: the audit writer's batches skip SQLAlchemy's per-row
    parameter processing (a tenth of a read call's CPU), the values being plain already."""
    columns = [c.name for c in table.columns]
    names = ", ".join(columns)
    return {
        "sqlite": f"INSERT INTO {table.name} ({names}) VALUES "
        f"({', '.join(':' + c for c in columns)})",
        "postgresql": f"INSERT INTO {table.name} ({names}) VALUES "
        f"({', '.join(f'%({c})s' for c in columns)})",
    }


_DRIVER_INSERT_EVENT = _driver_insert(events)
_DRIVER_INSERT_ATTRIBUTE = _driver_insert(event_attributes)
# The audit verifier's reads of the index: which of some rows exist (primary key seeks),
# how many there are, and all of them in key order (keyset pagination).
_INDEX_CHUNK = 500
_INDEXED = select(_X.name, _X.value, _X.event_time, _X.seq)
_INDEX_SIZE = select(func.count()).select_from(event_attributes).where(_X.account_id == _ACCOUNT)
_INDEX_SCAN_FIRST = (
    _INDEXED.where(_X.account_id == _ACCOUNT)
    .order_by(_X.name, _X.value, _X.event_time, _X.seq)
    .limit(bindparam("limit", type_=BigInteger))
)
_INDEX_SCAN_AFTER = _INDEX_SCAN_FIRST.where(
    tuple_(_X.name, _X.value, _X.event_time, _X.seq)
    > tuple_(
        bindparam("n"),
        bindparam("v"),
        bindparam("t", type_=BigInteger),
        bindparam("s", type_=BigInteger),
    )
)
# Accounts of a large table without reading it all: a loose index scan (both databases).
_EVENT_ACCOUNTS = text(
    "WITH RECURSIVE a(id) AS ("
    " SELECT MIN(account_id) FROM events"
    " UNION ALL SELECT (SELECT MIN(account_id) FROM events WHERE account_id > a.id)"
    " FROM a WHERE a.id IS NOT NULL"
    ") SELECT id FROM a WHERE id IS NOT NULL"
)
_DIGEST_ACCOUNTS = select(_D.account_id).distinct()


def _event_writes(dialect: Any) -> tuple[Any, Any]:
    """(insert an event unless its seq is taken, upsert a digest) for one dialect."""
    ins = dialect.insert(events)
    dig = dialect.insert(event_digests)
    return (
        ins.on_conflict_do_nothing(index_elements=[_V.account_id, _V.seq]).execution_options(
            preserve_rowcount=True
        ),
        dig.on_conflict_do_update(
            index_elements=[_D.account_id, _D.seq, _D.kind],
            set_={"created": dig.excluded.created, "hash": dig.excluded.hash,
                  "seal": dig.excluded.seal},
        ),
    )  # fmt: skip


_EVENT_WRITES = {"sqlite": _event_writes(sqlite), "postgresql": _event_writes(postgresql)}


def _event_row(event: Event) -> dict[str, Any]:
    return {
        "account_id": event.account_id,
        "seq": event.seq,
        "event_time": to_micros(event.event_time),
        "event_id": event.event_id,
        "event_name": event.event_name,
        "event_source": event.event_source,
        "read_only": event.read_only,
        "username": event.username,
        "access_key_id": event.access_key_id,
        "principal": event.principal,
        "resources": json.dumps([list(r) for r in event.resources], ensure_ascii=False),
        "record": event.record,
        "hash": event.hash,
        "seal": bytes(event.seal),
    }


def _event(row: Any) -> Event:
    return Event(
        account_id=row.account_id,
        seq=row.seq,
        event_id=row.event_id,
        event_time=from_micros(row.event_time),
        event_name=row.event_name,
        event_source=row.event_source,
        read_only=bool(row.read_only),
        record=row.record,
        hash=row.hash,
        seal=bytes(row.seal),
        username=row.username,
        access_key_id=row.access_key_id,
        principal=row.principal,
        resources=tuple((str(t), str(n)) for t, n in json.loads(row.resources)),
    )


def _readable_event(row: Any) -> Event:
    """`_event`, or CorruptEvent naming the row when it cannot be read (edited by hand)."""
    try:
        return _event(row)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        reason = f"its row cannot be read ({type(exc).__name__}: {exc})"
        raise CorruptEvent(str(row.account_id), int(row.seq), reason) from None


def _attribute_params(event: Event) -> builtins.list[dict[str, Any]]:
    when = to_micros(event.event_time)
    return [
        {"account_id": event.account_id, "name": n, "value": v, "event_time": when,
         "seq": event.seq}
        for n, v in attribute_rows(event)
    ]  # fmt: skip


class _SqlEventLog:
    """`EventLog` (store/api.py) on the events, event_attributes and event_digests tables."""

    __slots__ = ("_conn", "_insert", "_read_only", "_upsert_digest")

    def __init__(self, uow: _SqlUnitOfWork) -> None:
        self._conn = uow.connection
        self._read_only = uow.read_only
        self._insert, self._upsert_digest = _EVENT_WRITES[uow.connection.dialect.name]

    def _writable(self) -> None:
        if self._read_only:
            raise _read_only_violation("audit trail write")

    def append(self, event: Event) -> None:
        self._writable()
        if self._conn.execute(self._insert, _event_row(event)).rowcount == 0:
            raise Conflict(f"event {event.seq} of account {event.account_id} exists")
        self._conn.execute(_INSERT_ATTRIBUTE, _attribute_params(event))

    def append_many(self, events: Sequence[Event]) -> None:
        self._writable()
        if not events:
            return
        attributes = [row for event in events for row in _attribute_params(event)]
        dialect = self._conn.dialect.name
        try:
            self._conn.exec_driver_sql(
                _DRIVER_INSERT_EVENT[dialect], [_event_row(event) for event in events]
            )
        except IntegrityError:
            raise Conflict(f"an event of {events[0].account_id} exists") from None
        if attributes:
            self._conn.exec_driver_sql(_DRIVER_INSERT_ATTRIBUTE[dialect], attributes)

    def last(self, account_id: str) -> Event | None:
        row = self._conn.execute(_LAST, {"a": account_id}).first()
        return None if row is None else _event(row)

    def get(self, account_id: str, seq: int) -> Event | None:
        row = self._conn.execute(_GET_EVENT, {"a": account_id, "s": seq}).first()
        return None if row is None else _event(row)

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
        params: dict[str, Any] = {"a": account_id, "limit": limit}
        if attribute is not None:
            params["n"], params["v"] = attribute[0], index_value(attribute[1])
        if start is not None:
            params["start"] = to_micros(start)
        if end is not None:
            params["end"] = to_micros(end)
        if before is not None:
            params["bt"], params["bs"] = to_micros(before[0]), before[1]
        flags = (attribute is not None, start is not None, end is not None, before is not None)
        return [_event(r) for r in self._conn.execute(_LOOKUP[flags], params)]

    def iterate(self, account_id: str, after_seq: int = 0) -> Iterator[Event]:
        seq = after_seq
        while True:
            batch = _ITERATE_BATCH
            params = {"a": account_id, "s": seq, "limit": batch}
            rows = self._conn.execute(_ITERATE, params).all()
            for row in rows:
                yield _readable_event(row)
            if len(rows) < batch:
                return
            seq = rows[-1].seq

    def indexed(self, account_id: str, rows: Sequence[IndexRow]) -> set[IndexRow]:
        found: set[IndexRow] = set()
        for start in range(0, len(rows), _INDEX_CHUNK):
            keys = [(n, v, t, s) for n, v, t, s in rows[start : start + _INDEX_CHUNK]]
            stmt = _INDEXED.where(
                _X.account_id == bindparam("a"),
                tuple_(_X.name, _X.value, _X.event_time, _X.seq).in_(keys),
            )
            found.update(tuple(r) for r in self._conn.execute(stmt, {"a": account_id}))
        return found

    def index_size(self, account_id: str) -> int:
        return int(self._conn.execute(_INDEX_SIZE, {"a": account_id}).scalar_one())

    def index_scan(
        self, account_id: str, after: IndexRow | None = None, limit: int = 1000
    ) -> list[IndexRow]:
        params: dict[str, Any] = {"a": account_id, "limit": limit}
        if after is None:
            return [tuple(r) for r in self._conn.execute(_INDEX_SCAN_FIRST, params)]
        params.update(zip(("n", "v", "t", "s"), after, strict=True))
        return [tuple(r) for r in self._conn.execute(_INDEX_SCAN_AFTER, params)]

    def prune(self, account_id: str, before: dt.datetime) -> Pruned:
        self._writable()
        params: dict[str, Any] = {"a": account_id, "t": to_micros(before)}
        first_kept = self._conn.execute(_FIRST_SINCE, params).scalar()
        upto = (
            self._conn.execute(_LAST_SEQ, params).scalar() if first_kept is None else first_kept - 1
        )
        if upto is None:
            return Pruned(0, None)
        last, seq = None, -1
        while True:  # the attribute rows, by their full keys (the index has no seq prefix)
            params = {"a": account_id, "s": seq, "upto": upto, "limit": _ITERATE_BATCH}
            rows = [_event(r) for r in self._conn.execute(_PRUNE_BATCH, params)]
            if not rows:
                break
            keys = [
                {"a": p["account_id"], "n": p["name"], "v": p["value"], "t": p["event_time"],
                 "s": p["seq"]}
                for e in rows for p in _attribute_params(e)
            ]  # fmt: skip
            self._conn.execute(_DELETE_ATTRIBUTE, keys)
            last, seq = rows[-1], rows[-1].seq
        count = self._conn.execute(_DELETE_EVENTS, {"a": account_id, "upto": upto}).rowcount
        self._conn.execute(_DELETE_DIGESTS, {"a": account_id, "upto": upto})
        return Pruned(count, last)

    def add_digest(self, digest: Digest) -> None:
        self._writable()
        row = {
            "account_id": digest.account_id,
            "seq": digest.seq,
            "kind": digest.kind,
            "created": to_micros(digest.created),
            "hash": digest.hash,
            "seal": bytes(digest.seal),
        }
        self._conn.execute(self._upsert_digest, row)

    def digests(self, account_id: str) -> builtins.list[Digest]:
        return [
            Digest(r.account_id, r.seq, r.hash, from_micros(r.created), r.kind, bytes(r.seal))
            for r in self._conn.execute(_DIGESTS, {"a": account_id})
        ]

    def accounts(self) -> builtins.list[str]:
        found = set(self._conn.execute(_EVENT_ACCOUNTS).scalars())
        found.update(self._conn.execute(_DIGEST_ACCOUNTS).scalars())
        return sorted(found)


# ----------------------------------------------------------------------- counters

_C = counters.c
_COUNTER_COLUMNS = (
    _C.scope, _C.key, _C.attempts, _C.first_at, _C.last_at, _C.locked_until, _C.reported,
    _C.expires,
)  # fmt: skip
_S: Any = bindparam("s")
_K: Any = bindparam("k")
_NOW: Any = bindparam("now", type_=BigInteger)
_THIS_COUNTER = (_C.scope == _S, _C.key == _K)
_GET_COUNTER = select(*_COUNTER_COLUMNS).where(*_THIS_COUNTER)
_LOCK_COUNTER = (
    counters.update()
    .where(*_THIS_COUNTER, _C.locked_until < bindparam("until", type_=BigInteger))
    .values(
        locked_until=bindparam("until", type_=BigInteger),
        expires=case(
            (_C.expires < bindparam("exp", type_=BigInteger), bindparam("exp", type_=BigInteger)),
            else_=_C.expires,
        ),
    )
)
_FORGIVE_COUNTER = (
    counters.update().where(*_THIS_COUNTER, _C.attempts > 0).values(attempts=_C.attempts - 1)
)
_CLEAR_COUNTER = counters.delete().where(*_THIS_COUNTER).execution_options(preserve_rowcount=True)
_DUE_COUNTERS = (
    select(*_COUNTER_COLUMNS)
    .where(_C.scope == _S, _C.expires <= _NOW, _C.attempts > _C.reported)
    .order_by(_C.key)
    .limit(bindparam("limit", type_=BigInteger))
)
_REPORT_COUNTER = (
    counters.update()
    .where(*_THIS_COUNTER, _C.expires <= _NOW, _C.attempts > _C.reported)
    .values(reported=_C.attempts)
    .returning(*_COUNTER_COLUMNS)
)


def _prune_statement(keep_unreported: bool) -> Any:
    """Delete a bounded batch: the keys of up to `limit` expired counters (both
    databases lack DELETE ... LIMIT in their default builds)."""
    chosen = select(_C.key).where(_C.scope == _S, _C.expires <= _NOW)
    if keep_unreported:
        chosen = chosen.where(_C.attempts <= _C.reported)
    chosen = chosen.limit(bindparam("limit", type_=BigInteger))
    return (
        counters.delete()
        .where(_C.scope == _S, _C.key.in_(chosen.scalar_subquery()))
        .execution_options(preserve_rowcount=True)
    )


_PRUNE_COUNTERS = {keep: _prune_statement(keep) for keep in (False, True)}


def _hit_statement(dialect: Any, sliding: bool) -> Any:
    """One attempt, atomically: a new (or expired) counter starts at 1; a live one counts
    up unless locked (then the WHERE refuses the update and nothing is returned)."""
    exp = bindparam("exp", type_=BigInteger)
    ins = dialect.insert(counters).values(
        scope=_S, key=_K, attempts=1, first_at=_NOW, last_at=_NOW, locked_until=0,
        reported=0, expires=exp,
    )  # fmt: skip
    fresh = _C.expires <= _NOW
    later: Any = case((_C.expires < exp, exp), else_=_C.expires) if sliding else _C.expires
    return ins.on_conflict_do_update(
        index_elements=[_C.scope, _C.key],
        set_={
            "attempts": case((fresh, 1), else_=_C.attempts + 1),
            "first_at": case((fresh, _NOW), else_=_C.first_at),
            "last_at": _NOW,
            "locked_until": case((fresh, 0), else_=_C.locked_until),
            "reported": case((fresh, 0), else_=_C.reported),
            "expires": case((fresh, exp), else_=later),
        },
        where=(_C.locked_until <= _NOW) | fresh,
    ).returning(*_COUNTER_COLUMNS)


_HITS = {
    name: {sliding: _hit_statement(d, sliding) for sliding in (False, True)}
    for name, d in (("sqlite", sqlite), ("postgresql", postgresql))
}


def _counter(row: Any) -> Counter:
    return Counter(
        scope=row.scope,
        key=row.key,
        count=row.attempts,
        first=from_micros(row.first_at),
        last=from_micros(row.last_at),
        locked_until=from_micros(row.locked_until) if row.locked_until else None,
        reported=row.reported,
        expires=from_micros(row.expires),
    )


class _SqlCounters:
    """`Counters` (store/api.py) on the counters table: every write one statement."""

    __slots__ = ("_conn", "_hits", "_read_only")

    def __init__(self, uow: _SqlUnitOfWork) -> None:
        self._conn = uow.connection
        self._read_only = uow.read_only
        self._hits = _HITS[uow.connection.dialect.name]

    def _writable(self) -> None:
        if self._read_only:
            raise _read_only_violation("counter write")

    def get(self, scope: str, key: str) -> Counter | None:
        row = self._conn.execute(_GET_COUNTER, {"s": scope, "k": key}).first()
        return None if row is None else _counter(row)

    def hit(
        self, scope: str, key: str, now: dt.datetime, window: dt.timedelta, *, sliding: bool
    ) -> Counter | None:
        self._writable()
        at = to_micros(now)
        params = {"s": scope, "k": key, "now": at, "exp": to_micros(now + window)}
        row = self._conn.execute(self._hits[sliding], params).first()
        return None if row is None else _counter(row)

    def lock(self, scope: str, key: str, until: dt.datetime, expires: dt.datetime) -> None:
        self._writable()
        params = {"s": scope, "k": key, "until": to_micros(until), "exp": to_micros(expires)}
        self._conn.execute(_LOCK_COUNTER, params)

    def clear(self, scope: str, key: str) -> bool:
        self._writable()
        return self._conn.execute(_CLEAR_COUNTER, {"s": scope, "k": key}).rowcount > 0

    def forgive(self, scope: str, key: str) -> None:
        self._writable()
        self._conn.execute(_FORGIVE_COUNTER, {"s": scope, "k": key})

    def due(self, scope: str, now: dt.datetime, limit: int = 100) -> list[Counter]:
        params = {"s": scope, "now": to_micros(now), "limit": limit}
        return [_counter(r) for r in self._conn.execute(_DUE_COUNTERS, params)]

    def report(self, scope: str, key: str, now: dt.datetime) -> Counter | None:
        self._writable()
        params = {"s": scope, "k": key, "now": to_micros(now)}
        row = self._conn.execute(_REPORT_COUNTER, params).first()
        return None if row is None else _counter(row)

    def prune(
        self, scope: str, now: dt.datetime, *, keep_unreported: bool = False, limit: int = 1000
    ) -> int:
        self._writable()
        params = {"s": scope, "now": to_micros(now), "limit": limit}
        return self._conn.execute(_PRUNE_COUNTERS[keep_unreported], params).rowcount


# --------------------------------------------------------------- revoked sessions

_R = revoked_sessions.c
_REVOKED = select(_R.session_id).where(_R.session_id == bindparam("sid"))
_PRUNE_REVOKED = (
    revoked_sessions.delete()
    .where(
        _R.session_id.in_(
            select(_R.session_id)
            .where(_R.expires <= _NOW)
            .limit(bindparam("limit", type_=BigInteger))
            .scalar_subquery()
        )
    )
    .execution_options(preserve_rowcount=True)
)
_REVOKE = {
    name: d.insert(revoked_sessions)
    .values(session_id=bindparam("sid"), expires=bindparam("exp", type_=BigInteger))
    .on_conflict_do_nothing(index_elements=[_R.session_id])
    for name, d in (("sqlite", sqlite), ("postgresql", postgresql))
}


class _SqlRevokedSessions:
    """`RevokedSessions` (store/api.py) on the revoked_sessions table."""

    __slots__ = ("_conn", "_read_only")

    def __init__(self, uow: _SqlUnitOfWork) -> None:
        self._conn = uow.connection
        self._read_only = uow.read_only

    def revoke(self, session_id: str, expires: dt.datetime) -> None:
        if self._read_only:
            raise _read_only_violation("revocation")
        revoke = _REVOKE[self._conn.dialect.name]
        self._conn.execute(revoke, {"sid": session_id, "exp": to_micros(expires)})

    def is_revoked(self, session_id: str) -> bool:
        return self._conn.execute(_REVOKED, {"sid": session_id}).first() is not None

    def prune(self, now: dt.datetime, limit: int = 100) -> int:
        if self._read_only:
            raise _read_only_violation("revocation pruning")
        params = {"now": to_micros(now), "limit": limit}
        return self._conn.execute(_PRUNE_REVOKED, params).rowcount


def _notify_payloads(bumped: Sequence[tuple[str, int]]) -> Iterator[str]:
    """The bumps of one commit as pg_notify payloads: "scope generation" lines."""
    lines: list[str] = []
    size = 0
    for scope, generation in bumped:
        line = f"{scope} {generation}"
        if lines and size + len(line) + 1 > _NOTIFY_BYTES:
            yield "\n".join(lines)
            lines, size = [], 0
        lines.append(line)
        size += len(line.encode()) + 1
    if lines:
        yield "\n".join(lines)


def _parse_notification(payload: str) -> Iterator[tuple[str, int]]:
    for line in payload.splitlines():
        scope, _, generation = line.rpartition(" ")
        yield scope, int(generation)


class _SqlUnitOfWork:
    """One transaction. A read-only one opens its connection at its first statement: a
    call answered from the caches (the generations included) touches no connection."""

    def __init__(
        self,
        connect: Callable[[], Connection],
        writes: tuple[Any, Any],
        read_only: bool,
        *,
        dialect: str,
        watch: GenerationWatch | None = None,
        notify_channel: str | None = None,
    ) -> None:
        self._connect = connect
        self._connection: Connection | None = None
        self.writes = writes
        self.read_only = read_only
        self._repos: dict[type, _SqlRepo] = {}
        self._postgres = dialect == "postgresql"
        self._dialect = dialect
        self._events: _SqlEventLog | None = None
        self._counters: _SqlCounters | None = None
        self._locked: set[str] = set()
        self.dirty: set[str] = set()  # scopes (store/scopes.py) this unit of work changed
        self._generations: dict[str, int] = {}
        self._watch = watch
        self._token = watch.token() if watch is not None else None  # before any read
        self._notify_channel = notify_channel
        self.bumped: list[tuple[str, int]] = []  # (scope, new generation), once committed

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    def generation(self, scope: str) -> int:
        if scope in self.dirty:
            return -1
        known = self._generations.get(scope)
        if known is not None:
            return known
        watch, token = self._watch, self._token
        if watch is not None and token is not None:
            known = watch.get(scope, token)
            if known is not None:
                self._generations[scope] = known
                return known
        found = self.connection.execute(_GENERATION, {"a": scope}).scalar()
        known = self._generations[scope] = int(found or 0)
        if watch is not None and token is not None:
            watch.learned(scope, known, token)
        return known

    def bump_generations(self) -> None:
        """Before commit: every changed scope's generation + 1 (in one order); on
        PostgreSQL, the other nodes are told at commit (LISTEN/NOTIFY)."""
        if not self.dirty:
            return
        bump = _BUMP[self._dialect]
        for scope in sorted(self.dirty):
            generation = self.connection.execute(bump, {"a": scope}).scalar_one()
            self.bumped.append((scope, int(generation)))
        if self._notify_channel is not None:
            for payload in _notify_payloads(self.bumped):
                self.connection.execute(
                    _NOTIFY, {"channel": self._notify_channel, "payload": payload}
                )

    @property
    def counters(self) -> _SqlCounters:
        if self._counters is None:
            self._counters = _SqlCounters(self)
        return self._counters

    @property
    def revoked_sessions(self) -> _SqlRevokedSessions:
        return _SqlRevokedSessions(self)

    @property
    def events(self) -> _SqlEventLog:
        if self._events is None:
            self._events = _SqlEventLog(self)
        return self._events

    def repo(self, kind: type[T]) -> Any:
        repo = self._repos.get(kind)
        if repo is None:
            codec.check(kind)
            repo = self._repos[kind] = _SqlRepo(self, kind)
        return repo

    def lock_account(self, account_id: str) -> None:
        if self.read_only:
            raise _read_only_violation("lock_account")
        if self._postgres and account_id not in self._locked:
            lock = {"lock": _advisory_key("account", account_id)}
            if self._locked and account_id < max(self._locked):
                # Out of order: waiting here while holding a later account could
                # deadlock with a transaction that took them in order.
                if not self.connection.execute(_TRY_ADVISORY_LOCK, lock).scalar():
                    raise LockOrder(account_id)
            else:
                self.connection.execute(_ADVISORY_LOCK, lock)
            self._locked.add(account_id)  # held until the transaction ends: ask once
        # SQLite: BEGIN IMMEDIATE already made this the only writer.


def alembic_config(connection: Connection) -> Any:
    """An Alembic Config for our migrations, running on `connection` (no alembic.ini)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def normalize_url(url: str) -> URL:
    """Parse a store URL; plain `postgresql://` (or `postgres://`) means psycopg 3."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError(
                "the SQLite store needs a file (sqlite:///path); in memory: MemoryStore"
            )
        return parsed
    raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL (persistent; a no-op once done).

    The switch needs an exclusive lock, and SQLite may refuse it at once instead of
    calling the busy handler when other connections are opening the same new file (several
    processes starting together), so retry until the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    if str(mode).lower() != "wal":
        raise RuntimeError(f"SQLite refused WAL mode (journal mode {mode!r}): a local disk?")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # We issue BEGIN ourselves (IMMEDIATE or DEFERRED), so the driver must not.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


class SqlStore:
    """`Store` on SQLite or PostgreSQL. One engine (pooled, thread-safe) per store.

    `schema` (PostgreSQL only) puts the tables in that schema, via the connections'
    search_path; `migrate()` creates the schema if needed.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        pool_size: int = 10,
        max_overflow: int = 20,
    ) -> None:
        self.url = normalize_url(url)
        self.dialect = self.url.get_backend_name()
        if schema is not None:
            if self.dialect != "postgresql":
                raise ValueError("schema is for PostgreSQL only")
            if not _SCHEMA_NAME.fullmatch(schema):
                raise ValueError(f"invalid schema name {schema!r}")
        self.schema = schema
        self._engine = self._create_engine(pool_size, max_overflow)
        self._writes = _WRITES[self.dialect]
        self._sqlite_writer = threading.RLock()
        self._watch: GenerationWatch | None = None
        self._follower: Follower | None = None
        digest = hashlib.sha256((schema or "").encode()).hexdigest()[:16]
        self._notify_channel = f"chamberlain_generations_{digest}"

    @classmethod
    def from_data_dir(cls, path: str | Path, **kwargs: Any) -> SqlStore:
        """The default store: `chamberlain.db` in the data directory (created if needed)."""
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{(directory / DB_FILE).resolve()}", **kwargs)

    def _create_engine(self, pool_size: int, max_overflow: int) -> Engine:
        pool = {"pool_size": pool_size, "max_overflow": max_overflow}
        if self.dialect == "sqlite":
            engine = create_engine(
                self.url,
                connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
                hide_parameters=True,  # a failed statement's error never shows its values
                **pool,
            )
            event.listen(engine, "connect", _sqlite_on_connect)
            return engine
        connect_args: dict[str, Any] = {}
        if self.schema is not None:
            connect_args["options"] = f"-csearch_path={self.schema}"
        return create_engine(
            self.url,
            isolation_level="READ COMMITTED",
            connect_args=connect_args,
            hide_parameters=True,  # a failed statement's error never shows its values
            **pool,
        )

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextmanager
    def _transaction(self, *, read_only: bool) -> Iterator[Connection]:
        if self.dialect == "sqlite" and not read_only:
            # SQLite has one writer at a time anyway; threads of this process queue here
            # instead of in SQLite's busy handler, which sleeps up to tens of ms between
            # tries (other processes still meet the busy handler).
            with self._sqlite_writer, self._connected(read_only=False) as conn:
                yield conn
            return
        with self._connected(read_only=read_only) as conn:
            yield conn

    @contextmanager
    def _connected(self, *, read_only: bool) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
            elif read_only:
                # Under READ COMMITTED every statement has its own snapshot anyway, so a
                # transaction adds nothing to reads but two round trips (BEGIN, COMMIT).
                conn.execution_options(isolation_level="AUTOCOMMIT")
            else:
                conn.begin()
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[_SqlUnitOfWork]:
        with ExitStack() as stack:
            uow = _SqlUnitOfWork(
                lambda: stack.enter_context(self._transaction(read_only=read_only)),
                self._writes,
                read_only,
                dialect=self.dialect,
                watch=self._watch,
                # Every PostgreSQL writer tells the nodes, following or not (a CLI too).
                notify_channel=self._notify_channel if self.dialect == "postgresql" else None,
            )
            if not read_only:
                uow.connection  # noqa: B018 -- BEGIN IMMEDIATE / the transaction, now
            yield uow
            uow.bump_generations()
        if uow.bumped and self._watch is not None:
            self._watch.changed(uow.bumped)  # committed: this node knows at once

    def follow_generations(self) -> None:
        """Keep a copy of the generations current (store/generation_watch.py), so units
        of work read them from it instead of the database. For a server: a thread (and
        on PostgreSQL a listening connection) until `close`."""
        if self._follower is not None:
            return
        watch = self._watch = GenerationWatch()
        follow = self._follow_postgres if self.dialect == "postgresql" else self._follow_sqlite
        self._follower = Follower(watch, follow)

    @property
    def notify_channel(self) -> str:
        """PostgreSQL: the channel of this database's (schema's) generation changes, and
        the application_name of a node's listening connection in pg_stat_activity."""
        return self._notify_channel

    @property
    def following(self) -> bool:
        """Whether units of work now read the generations from the node's copy."""
        return self._watch is not None and self._watch.token() is not None

    def _follow_sqlite(self, watch: GenerationWatch, stopped: threading.Event) -> None:
        with self._transaction(read_only=True) as conn:
            since = int(conn.execute(_LAST_CHANGE).scalar_one())
        watch.restart(live=True)  # what commits from now on has a later number
        while not stopped.wait(POLL_S):
            with self._transaction(read_only=True) as conn:
                rows = conn.execute(_CHANGES_SINCE, {"since": since}).all()
            watch.heard()
            if rows:
                since = int(rows[-1][2])
                watch.changed((scope, int(generation)) for scope, generation, _ in rows)

    def _follow_postgres(self, watch: GenerationWatch, stopped: threading.Event) -> None:
        import psycopg

        conninfo = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        # A connection that dies silently fails within seconds (then the follower starts
        # over); the copy is unused from STALE_S after the last round trip anyway.
        with psycopg.connect(
            conninfo,
            autocommit=True,
            application_name=self._notify_channel,  # as pg_stat_activity names it
            tcp_user_timeout=5000,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=2,
        ) as conn:
            conn.execute(f'LISTEN "{self._notify_channel}"')
            watch.restart(live=True)  # what commits from now on is notified to us
            while not stopped.is_set():
                for note in conn.notifies(timeout=HEARTBEAT_S):
                    watch.changed(_parse_notification(note.payload))
                conn.execute("SELECT 1")  # still connected: notifications still come
                watch.heard()

    def accounts(self) -> Iterator[str]:
        with self._transaction(read_only=True) as conn:
            ids = list(conn.execute(_ACCOUNTS, {"k": Account.KIND}).scalars())
        return iter(ids)

    def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic); safe to run on every start.

        Concurrent starts are serialized (SQLite: BEGIN IMMEDIATE; PostgreSQL: an
        advisory lock), and the upgrade is one transaction on both.
        """
        from alembic import command

        with self.migration_connection() as conn:
            command.upgrade(alembic_config(conn), "head")

    @contextmanager
    def migration_connection(self) -> Iterator[Connection]:
        """A writing transaction holding the migration lock (schema created if needed)."""
        with self._transaction(read_only=False) as conn:
            if self.dialect == "postgresql":
                conn.execute(_ADVISORY_LOCK, {"lock": _MIGRATION_LOCK})
                if self.schema is not None:
                    conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            yield conn

    def revision(self) -> str | None:
        """The schema's current Alembic revision (None before the first migration)."""
        from alembic.runtime.migration import MigrationContext

        with self._transaction(read_only=True) as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        """The newest revision this code's migrations know."""
        from alembic.script import ScriptDirectory

        script = ScriptDirectory(str(MIGRATIONS))
        return script.get_current_head()

    def pool_status(self) -> dict[str, int]:
        """Connections of the pool in use and idle (for /metrics)."""
        pool = self._engine.pool
        checked_out = getattr(pool, "checkedout", None)
        checked_in = getattr(pool, "checkedin", None)
        if checked_out is None or checked_in is None:
            return {}
        return {"in_use": int(checked_out()), "idle": int(checked_in())}

    def stop_following(self) -> None:
        """Units of work read the generations from the database again."""
        if self._follower is not None:
            self._follower.stop()
            self._follower = None
            self._watch = None

    def close(self) -> None:
        self.stop_following()
        self._engine.dispose()

    def describe(self) -> dict[str, Any]:
        if self.dialect == "sqlite":
            return {"dialect": "sqlite", "location": self.url.database}
        location = f"{self.url.host or ''}:{self.url.port or 5432}/{self.url.database or ''}"
        out: dict[str, Any] = {"dialect": "postgresql", "location": location}
        if self.schema is not None:
            out["schema"] = self.schema
        return out
