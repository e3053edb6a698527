"""The store contract (store/api.py), run against every store: memory, SQLite, PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
import typing
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from chamberlain.domain import (
    ENTITY_TYPES,
    AccessKey,
    Account,
    Attachment,
    Group,
    InlinePolicy,
    InstanceProfile,
    LoginProfile,
    MfaDevice,
    User,
    joined,
)
from chamberlain.domain import Membership as M
from chamberlain.store.api import Conflict, LockOrder, Store
from chamberlain.store.scopes import principal_scope
from chamberlain.store.sql import SqlStore, normalize_url, prefix_upper_bound

from .conftest import emptied

A, B = "111111111111", "222222222222"
NOW = dt.datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=dt.UTC)


def _value(hint: Any, seed: str) -> Any:
    """A value of the type `hint`, distinct per seed, exercising the codec's corners."""
    if hint is str:
        return f"{seed}-é\x1f\"'%_"
    if hint is int:
        return 2**40 + len(seed)
    if hint is bool:
        return True
    if hint is bytes:
        return b"\x00\xff" + seed.encode()
    if hint is dt.datetime:
        return NOW + dt.timedelta(microseconds=len(seed))
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return (_value(args[0], seed + "a"), _value(args[0], seed + "b"))
        return tuple(_value(a, f"{seed}{i}") for i, a in enumerate(args))
    (inner,) = [a for a in args if a is not type(None)]  # X | None: the X
    return _value(inner, seed)


def sample(cls: type, **overrides: Any) -> Any:
    hints = typing.get_type_hints(cls)
    values = {f.name: _value(hints[f.name], f.name) for f in dataclasses.fields(cls)}
    return cls(**{**values, "account_id": A, **overrides})


def user(name: str, account: str = A, path: str = "/", **kw: Any) -> User:
    arn = f"arn:aws:iam::{account}:user{path}{name}"
    return User(account, f"AIDA{name.upper()}", name, path, arn, NOW, **kw)


def access_key(key_id: str, user_name: str, account: str = A) -> AccessKey:
    return AccessKey(account, user_name, key_id, b"\x01secret", "Active", NOW)


def account(account_id: str, email: str) -> Account:
    return Account(account_id, email, "hash", NOW)


def write(store: Store, *entities: Any) -> None:
    with store.unit_of_work() as uow:
        for e in entities:
            uow.repo(type(e)).add(e)


def read(store: Store, fn: Any) -> Any:
    with store.unit_of_work(read_only=True) as uow:
        return fn(uow)


# --- every entity type, every field type --------------------------------------------


@pytest.mark.parametrize("cls", ENTITY_TYPES, ids=lambda c: c.__name__)
def test_every_entity_type_round_trips(store: Store, cls: type) -> None:
    entity = sample(cls)
    write(store, entity)
    with store.unit_of_work(read_only=True) as uow:
        repo = uow.repo(cls)
        assert repo.get(A, entity.key) == entity
        assert repo.list(A) == [entity]
        assert repo.find(entity.key) == entity
        if entity.ref is not None:
            assert repo.find_by_ref(entity.ref) == [entity]
            assert repo.list(A, ref=entity.ref) == [entity]


# --- get / add / put / delete --------------------------------------------------------


def test_get_is_scoped_by_account_and_kind(store: Store) -> None:
    alice_a, alice_b = user("alice"), user("alice", B, path="/b/")
    group = Group(A, "AGPA1", "alice", "/", "arn:aws:iam::111111111111:group/alice", NOW)
    write(store, alice_a, alice_b, group)
    with store.unit_of_work(read_only=True) as uow:
        assert uow.repo(User).get(A, "alice") == alice_a
        assert uow.repo(User).get(B, "alice") == alice_b
        assert uow.repo(Group).get(A, "alice") == group
        assert uow.repo(Group).get(B, "alice") is None
        assert uow.repo(User).get(A, "bob") is None
        assert uow.repo(User).list(A) == [alice_a]


def test_duplicate_add_conflicts_and_the_transaction_goes_on(store: Store) -> None:
    original = user("Alice")
    write(store, original)
    with store.unit_of_work() as uow:
        users = uow.repo(User)
        with pytest.raises(Conflict):
            users.add(user("ALICE", path="/other/"))  # keys are case-insensitive
        users.add(user("bob"))
        assert users.get(A, "alice") == original
    assert read(store, lambda u: u.repo(User).list(A)) == [original, user("bob")]


def test_add_rejects_an_entity_of_another_type(store: Store) -> None:
    with store.unit_of_work() as uow, pytest.raises(TypeError):
        uow.repo(Group).add(user("alice"))  # type: ignore[arg-type]


def test_put_inserts_then_replaces_data_and_ref(store: Store) -> None:
    device = MfaDevice(A, "arn:aws:iam::111111111111:mfa/d", b"seed", NOW)
    with store.unit_of_work() as uow:
        uow.repo(MfaDevice).put(device)
    enabled = dataclasses.replace(device, user_name="Bob", enabled=NOW, last_step=7)
    with store.unit_of_work() as uow:
        uow.repo(MfaDevice).put(enabled)
    with store.unit_of_work(read_only=True) as uow:
        repo = uow.repo(MfaDevice)
        assert repo.get(A, device.key) == enabled
        assert repo.count(A) == 1
        assert repo.list(A, ref="bob") == [enabled]
        assert repo.find_by_ref("bob") == [enabled]


def test_delete(store: Store) -> None:
    write(store, user("alice"), user("bob"))
    with store.unit_of_work() as uow:
        assert uow.repo(User).delete(A, "alice") is True
        assert uow.repo(User).delete(A, "alice") is False
        assert uow.repo(User).delete(B, "bob") is False
        assert uow.repo(Group).delete(A, "bob") is False
    assert read(store, lambda u: u.repo(User).list(A)) == [user("bob")]


def test_writes_are_visible_inside_their_unit_of_work(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.repo(User).add(user("alice"))
        assert uow.repo(User).get(A, "alice") == user("alice")
        assert uow.repo(User).count(A) == 1
        uow.repo(User).delete(A, "alice")
        assert uow.repo(User).list(A) == []


# --- list / count / find -------------------------------------------------------------


def test_list_orders_by_code_point(store: Store) -> None:
    # byte order, not a locale's: punctuation counts, digits < letters, non-ASCII last
    names = ["a_b", "a-b", "ab", "a.b", "a+b", "a=b", "a,b", "a@b", "z", "a", "a0", "é", "ā"]
    write(store, *(user(n) for n in reversed(names)))
    keys = [u.key for u in read(store, lambda u: u.repo(User).list(A))]
    assert keys == sorted(names)
    assert keys[:3] == ["a", "a+b", "a,b"]


def _members(*groups: str) -> list[M]:
    return [M(A, g, u) for g in groups for u in ("u1", "u2")]


def test_key_prefix_is_literal(store: Store) -> None:
    groups = ("g", "g_1", "g_10", "g%1", "gx1", "h\U0010ffff", "h\U0010ffffz", "i")
    write(store, *_members(*groups))

    def prefixed(prefix: str) -> list[str]:
        rows = read(store, lambda u: u.repo(M).list(A, key_prefix=prefix))
        return [f"{m.group_name}/{m.user_name}" for m in rows]

    assert prefixed(joined("g_1", "")) == ["g_1/u1", "g_1/u2"]
    assert prefixed("g_") == ["g_1/u1", "g_1/u2", "g_10/u1", "g_10/u2"]
    assert prefixed("g%") == ["g%1/u1", "g%1/u2"]
    assert prefixed(joined("g", "u2")) == ["g/u2"]
    assert prefixed("h\U0010ffff") == [f"h\U0010ffff{s}" for s in ("/u1", "/u2", "z/u1", "z/u2")]
    assert prefixed("nothing") == []
    assert len(prefixed("")) == len(groups) * 2


def test_list_and_count_by_ref(store: Store) -> None:
    keys = [
        access_key("AKIA3", "alice"),
        access_key("AKIA1", "Alice"),
        access_key("AKIA2", "bob"),
        access_key("AKIA4", "alice", B),
    ]
    write(store, *keys)
    with store.unit_of_work(read_only=True) as uow:
        repo = uow.repo(AccessKey)
        assert [k.access_key_id for k in repo.list(A, ref="alice")] == ["AKIA1", "AKIA3"]
        assert repo.list(A, ref="alice", key_prefix="AKIA3") == [keys[0]]
        assert repo.list(A, ref="bob", key_prefix="AKIA3") == []
        assert repo.list(A, ref="carol") == []
        assert repo.count(A) == 3
        assert repo.count(A, ref="alice") == 2
        assert repo.count(B, ref="alice") == 1
        assert repo.count(B, ref="bob") == 0
        assert uow.repo(User).count(A) == 0


def test_count_by_ref_groups_a_ref_range_in_one_read(store: Store) -> None:
    aws = "arn:aws:iam::aws:policy/"
    read_only, view_only, mine = f"{aws}ReadOnlyAccess", f"{aws}job/ViewOnly", f"arn:{A}:mine"
    bound = prefix_upper_bound(aws)  # the first ref after the prefix's range
    assert bound is not None
    write(
        store,
        Attachment(A, "user", "ann", read_only),
        Attachment(A, "role", "app", read_only),
        Attachment(A, "group", "devs", view_only),
        Attachment(A, "user", "ann", mine),
        Attachment(A, "user", "ann", "\U0010ffff"),
        Attachment(A, "user", "ann", bound),
        Attachment(B, "user", "bob", read_only),
        sample(InstanceProfile, name="web", role_names=("App",)),
        sample(InstanceProfile, name="idle", role_names=()),  # no ref
    )
    with store.unit_of_work(read_only=True) as uow:
        links = uow.repo(Attachment)
        every = {read_only: 2, view_only: 1, mine: 1, "\U0010ffff": 1, bound: 1}
        assert links.count_by_ref(A) == every
        assert links.count_by_ref(A, ref_prefix=aws) == {read_only: 2, view_only: 1}
        assert links.count_by_ref(A, ref_prefix=f"{aws}job/") == {view_only: 1}
        assert links.count_by_ref(A, ref_prefix="\U0010ffff") == {"\U0010ffff": 1}  # no bound
        assert links.count_by_ref(A, ref_prefix=f"{aws}R") == {read_only: 2}
        assert links.count_by_ref(A, ref_prefix="\0") == {}  # no such ref can be stored
        assert links.count_by_ref(B, ref_prefix=aws) == {read_only: 1}
        assert uow.repo(InstanceProfile).count_by_ref(A) == {"app": 1}
        assert uow.repo(User).count_by_ref(A) == {}


def test_find_looks_in_every_account(store: Store) -> None:
    write(store, access_key("AKIAB", "bob", B), account(B, "b@example.com"))
    write(store, account(A, "a@example.com"))
    with store.unit_of_work(read_only=True) as uow:
        assert uow.repo(AccessKey).find("AKIAB") == access_key("AKIAB", "bob", B)
        assert uow.repo(AccessKey).find("AKIAX") is None
        assert uow.repo(User).find("AKIAB") is None
        # a key in several accounts: the first by account id
        assert uow.repo(Account).find("account") == account(A, "a@example.com")


def test_find_by_ref_orders_by_account_then_key(store: Store) -> None:
    write(store, M(B, "g2", "u"), M(A, "g2", "u"), M(B, "g1", "u"), M(A, "g1", "U"), M(A, "g", "v"))
    write(store, account(B, "root@example.com"))
    with store.unit_of_work(read_only=True) as uow:
        found = [(m.account_id, m.group_name) for m in uow.repo(M).find_by_ref("u")]
        assert found == [(A, "g1"), (A, "g2"), (B, "g1"), (B, "g2")]
        assert uow.repo(Account).find_by_ref("root@example.com") == [account(B, "root@example.com")]
        assert uow.repo(Account).find_by_ref("nobody@example.com") == []


def test_accounts_are_listed_in_order(store: Store) -> None:
    write(store, account(B, "b@example.com"), account(A, "a@example.com"), user("alice", "3"))
    assert list(store.accounts()) == [A, B]


def test_describe_names_the_dialect(store: Store) -> None:
    assert store.describe()["dialect"] in {"memory", "sqlite", "postgresql"}


# --- transactions --------------------------------------------------------------------


def test_an_exception_rolls_everything_back(store: Store) -> None:
    write(store, user("alice"), user("bob"))
    with pytest.raises(ZeroDivisionError), store.unit_of_work() as uow:
        uow.lock_account(A)
        uow.repo(User).add(user("carol"))
        uow.repo(User).put(user("alice", path="/changed/"))
        uow.repo(User).delete(A, "bob")
        uow.repo(Group).add(Group(A, "AGPA1", "g", "/", "arn:g", NOW))
        1 / 0  # noqa: B018
    with store.unit_of_work(read_only=True) as uow:
        assert uow.repo(User).list(A) == [user("alice"), user("bob")]
        assert uow.repo(Group).count(A) == 0


def test_read_only_unit_of_work_reads_and_refuses_writes(store: Store) -> None:
    write(store, user("alice"))
    with store.unit_of_work(read_only=True) as uow:
        users = uow.repo(User)
        assert users.get(A, "alice") == user("alice")
        for attempt in (
            lambda: users.add(user("bob")),
            lambda: users.put(user("alice", path="/x/")),
            lambda: users.delete(A, "alice"),
            lambda: uow.lock_account(A),
        ):
            with pytest.raises(RuntimeError, match="read-only"):
                attempt()
    assert read(store, lambda u: u.repo(User).list(A)) == [user("alice")]


def _in_thread(fn: Any) -> threading.Thread:
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread


def _holding(
    store: SqlStore, account: str, locked: threading.Event, release: threading.Event
) -> Callable[[], None]:
    """A unit of work holding `account`'s lock: `locked` once held, until `release`."""

    def holder() -> None:
        with store.unit_of_work() as uow:
            uow.lock_account(account)
            locked.set()
            release.wait(10)

    return holder


def test_readers_neither_wait_for_nor_see_an_open_writer(store: Store) -> None:
    written, release = threading.Event(), threading.Event()

    def writer() -> None:
        with store.unit_of_work() as uow:
            uow.repo(User).add(user("alice"))
            written.set()
            release.wait(10)

    thread = _in_thread(writer)
    try:
        assert written.wait(10)
        seen: list[Any] = []
        reader = _in_thread(lambda: seen.append(read(store, lambda u: u.repo(User).list(A))))
        reader.join(5)
        assert seen == [[]], "a reader waited for the writer or saw uncommitted data"
    finally:
        release.set()
        thread.join(10)
    assert read(store, lambda u: u.repo(User).list(A)) == [user("alice")]


def test_lock_account_serializes_read_check_write(store: Store) -> None:
    """Each thread adds a user only if the account has none: exactly one may succeed."""
    workers = 3
    barrier = threading.Barrier(workers)
    added: list[int] = []
    errors: list[BaseException] = []

    def attempt(i: int) -> None:
        try:
            barrier.wait(10)
            with store.unit_of_work() as uow:
                uow.lock_account(A)
                users = uow.repo(User)
                if users.count(A) < 1:
                    time.sleep(0.05)  # widen the window a missing lock would leave open
                    users.add(user(f"u{i}"))
                    added.append(i)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert errors == []
    assert len(added) == 1
    assert [u.name for u in read(store, lambda u: u.repo(User).list(A))] == [f"u{added[0]}"]


def test_locks_asked_in_opposite_orders_never_deadlock(store: Store) -> None:
    """Two writers each lock both accounts, in opposite orders, many times: the one asking
    out of order while the other holds the account gets LockOrder (without waiting) and
    starts again in order, as dispatch does. Waiting instead would deadlock on
    PostgreSQL (one side aborted by its deadlock detector)."""
    rounds = 15
    errors: list[BaseException] = []
    retried: list[str] = []

    def writer(first: str, second: str, name: str) -> None:
        try:
            for n in range(rounds):
                first_locks = [first]
                while True:
                    try:
                        with store.unit_of_work() as uow:
                            for account in [*sorted(first_locks), second]:
                                uow.lock_account(account)
                                time.sleep(0.005)  # the other writer takes its first lock
                            uow.repo(User).add(user(f"{name}{n}", first))
                        break
                    except LockOrder as late:
                        retried.append(late.account_id)
                        first_locks.append(late.account_id)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [_in_thread(lambda: writer(A, B, "ab")), _in_thread(lambda: writer(B, A, "ba"))]
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert read(store, lambda u: u.repo(User).count(A)) == rounds
    assert read(store, lambda u: u.repo(User).count(B)) == rounds
    assert set(retried) <= {A}  # only B-then-A ever asks out of order


def test_an_out_of_order_lock_that_is_free_is_taken(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.lock_account(B)
        uow.lock_account(A)  # out of order, but nobody holds it
        uow.repo(User).add(user("x", A))
    assert read(store, lambda u: u.repo(User).count(A)) == 1


def test_postgres_out_of_order_lock_raises_without_waiting(pg_store: SqlStore) -> None:
    locked, release = threading.Event(), threading.Event()
    holder = _holding(pg_store, A, locked, release)

    thread = _in_thread(holder)
    try:
        assert locked.wait(10)
        started = time.monotonic()
        with pytest.raises(LockOrder) as raised, pg_store.unit_of_work() as uow:
            uow.lock_account(B)
            uow.lock_account(A)
        assert raised.value.account_id == A
        assert time.monotonic() - started < 2
    finally:
        release.set()
        thread.join(10)


# --- SQL specifics -------------------------------------------------------------------


def test_sqlite_data_survives_close_and_reopen(tmp_path: Any) -> None:
    store = SqlStore.from_data_dir(tmp_path / "data")
    store.migrate()
    write(store, user("alice"))
    store.close()
    reopened = SqlStore.from_data_dir(tmp_path / "data")
    try:
        assert read(reopened, lambda u: u.repo(User).get(A, "alice")) == user("alice")
    finally:
        reopened.close()


def test_sqlite_connection_settings(sqlite_store: SqlStore) -> None:
    with sqlite_store.engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL
        assert pragma("busy_timeout") == 30000
        assert pragma("foreign_keys") == 1


def test_sqlite_writer_takes_the_write_lock_at_begin(sqlite_store: SqlStore) -> None:
    import sqlite3

    started, release = threading.Event(), threading.Event()

    def writer() -> None:
        with sqlite_store.unit_of_work():
            started.set()  # nothing written yet: only BEGIN IMMEDIATE holds the lock
            release.wait(10)

    thread = _in_thread(writer)
    try:
        assert started.wait(10)
        other = sqlite3.connect(sqlite_store.url.database, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.execute("BEGIN")  # a reader still may
            other.execute("SELECT count(*) FROM entities").fetchone()
            other.execute("COMMIT")
        finally:
            other.close()
    finally:
        release.set()
        thread.join(10)


def test_postgres_lock_account_is_per_account(pg_store: SqlStore) -> None:
    locked, release = threading.Event(), threading.Event()
    holder = _holding(pg_store, A, locked, release)

    def lock_and_write(account_id: str) -> None:
        with pg_store.unit_of_work() as uow:
            uow.lock_account(account_id)
            uow.repo(User).add(user("x", account_id))

    thread = _in_thread(holder)
    try:
        assert locked.wait(10)
        other = _in_thread(lambda: lock_and_write(B))
        other.join(5)
        assert not other.is_alive(), "another account's writer waited"
        same = _in_thread(lambda: lock_and_write(A))
        same.join(0.3)
        assert same.is_alive(), "the same account's writer did not wait"
    finally:
        release.set()
        thread.join(10)
    same.join(10)
    assert read(pg_store, lambda u: u.repo(User).count(A)) == 1


def test_postgres_reads_leave_the_connection_transactional(pg_store: SqlStore, pg_url: str) -> None:
    """Read-only units of work run in autocommit; the pooled connection must not keep it."""
    store = SqlStore(pg_url, schema=pg_store.schema, pool_size=1, max_overflow=0)
    try:
        assert read(store, lambda u: u.repo(User).list(A)) == []
        with pytest.raises(ZeroDivisionError), store.unit_of_work() as uow:
            uow.repo(User).add(user("alice"))
            1 / 0  # noqa: B018
        assert read(store, lambda u: u.repo(User).list(A)) == []
    finally:
        store.close()


def test_postgres_tables_live_in_the_store_schema(pg_store: SqlStore) -> None:
    with pg_store.engine.connect() as conn:
        schema = conn.execute(
            text("SELECT table_schema FROM information_schema.tables WHERE table_name = 'entities'")
        ).scalars()
        assert pg_store.schema in set(schema)
        assert conn.execute(text("SELECT current_schema()")).scalar() == pg_store.schema


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@db.example:5433/iam", "postgresql+psycopg"),
        ("postgres://u@db.example/iam", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db.example/iam", "postgresql+psycopg"),
        ("sqlite:////var/lib/chamberlain/chamberlain.db", "sqlite"),
        ("sqlite:///relative.db", "sqlite"),
    ],
)
def test_url_forms(url: str, driver: str) -> None:
    assert normalize_url(url).drivername == driver


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://u@h/db"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        SqlStore(url)


def test_schema_argument_is_checked(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        SqlStore(f"sqlite:///{tmp_path}/x.db", schema="s")
    with pytest.raises(ValueError, match="invalid schema"):
        SqlStore("postgresql://u@h/db", schema='x"; DROP TABLE entities; --')


def test_describe_never_shows_the_password() -> None:
    store = SqlStore("postgresql://iam:s3cret@db.example:6432/iam", schema="tenant")
    try:
        described = store.describe()
        assert described == {
            "dialect": "postgresql",
            "location": "db.example:6432/iam",
            "schema": "tenant",
        }
        assert "s3cret" not in repr(described)
    finally:
        store.close()


def test_from_data_dir_makes_the_directory(tmp_path: Any) -> None:
    store = SqlStore.from_data_dir(tmp_path / "new" / "dir")
    try:
        assert store.describe() == {
            "dialect": "sqlite",
            "location": str((tmp_path / "new" / "dir" / "chamberlain.db").resolve()),
        }
        assert (tmp_path / "new" / "dir").is_dir()
    finally:
        store.close()


_edgy = st.text(alphabet=st.sampled_from("ab\x00\x7f\ud7ff\ue000\uffff\U00010000\U0010ffff"))


@given(prefix=_edgy, key=_edgy)
def test_prefix_bound_selects_exactly_the_prefixed_keys(prefix: str, key: str) -> None:
    upper = prefix_upper_bound(prefix)
    in_range = prefix <= key and (upper is None or key < upper)
    assert in_range == key.startswith(prefix)


# --- account generations (what a node's caches of an account are checked against) -----


def test_generation_moves_with_every_change_to_a_scope(store: Store) -> None:
    """A user's rows bump the user's scope (store/scopes.py), not the account's."""
    alice = principal_scope(A, "user", "Alice")
    start, other, whole = read(
        store, lambda uow: (uow.generation(alice), uow.generation(B), uow.generation(A))
    )
    assert start >= 0  # 0 before the scope's first change
    write(store, user("alice"))
    first = read(store, lambda uow: uow.generation(alice))
    assert first > start
    assert read(store, lambda uow: uow.generation(B)) == other  # other accounts stay
    assert read(store, lambda uow: uow.generation(A)) == whole  # and the account's scope
    with store.unit_of_work() as uow:
        uow.repo(User).put(user("alice", path="/x/"))
    second = read(store, lambda uow: uow.generation(alice))
    assert second > first
    with store.unit_of_work() as uow:
        assert uow.repo(User).delete(A, "alice")
        assert uow.generation(alice) < 0  # changed, uncommitted: nothing read here is cacheable
        assert uow.generation(A) >= 0
    assert read(store, lambda uow: uow.generation(alice)) > second


def test_which_scope_each_kind_bumps(store: Store) -> None:
    alice, bob = principal_scope(A, "user", "alice"), principal_scope(A, "user", "bob")
    role = principal_scope(A, "role", "admin")

    def moved(*entities: Any) -> set[str]:
        scopes = (A, alice, bob, role)
        before = read(store, lambda uow: [uow.generation(s) for s in scopes])
        write(store, *entities)
        after = read(store, lambda uow: [uow.generation(s) for s in scopes])
        return {s for s, b, a in zip(scopes, before, after, strict=True) if a != b}

    assert moved(access_key("AKIAALICE", "alice")) == {alice}
    assert moved(M(A, "devs", "bob")) == {bob}
    assert moved(InlinePolicy(A, "role", "Admin", "p", "{}")) == {role}
    assert moved(InlinePolicy(A, "group", "devs", "p", "{}")) == {A}  # every member's
    assert moved(Attachment(A, "user", "alice", "arn:aws:iam::aws:policy/X")) == {alice}
    assert moved(account(A, "a@example.com")) == {A}
    assert moved(LoginProfile(A, "alice", "hash", NOW, NOW)) == set()  # no cache reads it
    with store.unit_of_work() as uow:  # a key deleted by id: its user's
        assert uow.repo(AccessKey).delete(A, "AKIAALICE")
        assert (uow.generation(A) >= 0, uow.generation(alice)) == (True, -1)


def test_generation_stays_when_nothing_changes_or_the_change_rolls_back(store: Store) -> None:
    write(store, user("alice"))
    before = read(store, lambda uow: uow.generation(A))
    with store.unit_of_work() as uow:
        uow.repo(User).get(A, "alice")
        assert not uow.repo(User).delete(A, "nobody")
    with pytest.raises(RuntimeError), store.unit_of_work() as uow:
        uow.repo(User).put(user("bob"))
        raise RuntimeError("rolled back")
    assert read(store, lambda uow: uow.generation(A)) == before


# --- revoked sessions (the console's sign-outs) ----------------------------------------


@pytest.fixture
def revocations(store: Store) -> Store:
    """The contract suite's store with no revoked sessions."""
    return emptied(store, "revoked_sessions")


def test_revoked_sessions_are_kept_until_they_expire_then_pruned(revocations: Store) -> None:
    hour = dt.timedelta(hours=1)
    with revocations.unit_of_work() as uow:
        uow.revoked_sessions.revoke("s1", NOW + hour)
        uow.revoked_sessions.revoke("s1", NOW + 5 * hour)  # again: nothing changes
        uow.revoked_sessions.revoke("s2", NOW + 2 * hour)
        uow.revoked_sessions.revoke("s3", NOW + 3 * hour)
    with revocations.unit_of_work(read_only=True) as uow:
        assert [uow.revoked_sessions.is_revoked(s) for s in ("s1", "s2", "S1", "s4")] == [
            True,
            True,
            False,
            False,
        ]
        with pytest.raises(RuntimeError, match="read-only"):
            uow.revoked_sessions.revoke("s4", NOW + hour)
    with revocations.unit_of_work() as uow:
        assert uow.revoked_sessions.prune(NOW + hour - dt.timedelta(microseconds=1)) == 0
        assert uow.revoked_sessions.prune(NOW + 2 * hour, limit=1) == 1  # a bounded batch
        assert uow.revoked_sessions.prune(NOW + 2 * hour) == 1
    with revocations.unit_of_work(read_only=True) as uow:
        revoked = [uow.revoked_sessions.is_revoked(s) for s in ("s1", "s2", "s3")]
    assert revoked == [False, False, True]


def test_a_revocation_rolled_back_is_none(revocations: Store) -> None:
    with pytest.raises(RuntimeError), revocations.unit_of_work() as uow:
        uow.revoked_sessions.revoke("gone", NOW)
        raise RuntimeError("rolled back")
    with revocations.unit_of_work(read_only=True) as uow:
        assert not uow.revoked_sessions.is_revoked("gone")


# --- keyset pages ---------------------------------------------------------------------


def test_list_pages_by_key_after_and_limit(store: Store) -> None:
    write(store, *(user(n) for n in ("ann", "bob", "cy", "dee", "eve")), user("zed", account=B))
    page = read(store, lambda uow: uow.repo(User).list(A, limit=2))
    assert [u.name for u in page] == ["ann", "bob"]
    page = read(store, lambda uow: uow.repo(User).list(A, after="bob", limit=2))
    assert [u.name for u in page] == ["cy", "dee"]
    page = read(store, lambda uow: uow.repo(User).list(A, after="dee", limit=2))
    assert [u.name for u in page] == ["eve"]
    assert read(store, lambda uow: uow.repo(User).list(A, after="eve")) == []
    # with a key prefix too: the page stays inside it
    page = read(store, lambda uow: uow.repo(User).list(A, key_prefix="d", after="c", limit=5))
    assert [u.name for u in page] == ["dee"]
