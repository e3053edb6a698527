"""The audit trail's store contract (`uow.events`), on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from typing import Any

import pytest

from chamberlain.domain import Event
from chamberlain.store import sql
from chamberlain.store.api import Conflict, Store
from chamberlain.store.events import (
    LOOKUP_KEYS,
    PRINCIPAL_ACTION,
    PRINCIPAL_SERVICE,
    Digest,
    attribute_rows,
    principal_action,
    principal_service,
)
from chamberlain.store.sql import SqlStore

A, B = "111111111111", "222222222222"
T0 = dt.datetime(2026, 11, 28, 12, 0, 0, tzinfo=dt.UTC)
ALICE = "arn:aws:iam::111111111111:user/alice"


@pytest.fixture
def log_store(store: Store) -> Store:
    """The contract suite's store, with the audit tables emptied too (PostgreSQL's
    session store outlives a test)."""
    if isinstance(store, SqlStore) and store.dialect == "postgresql":
        with store.unit_of_work() as uow:
            for table in ("events", "event_attributes", "event_digests"):
                uow.connection.exec_driver_sql(f"DELETE FROM {table}")  # type: ignore[attr-defined]
    return store


def event(seq: int, account: str = A, minutes: float | None = None, **kw: Any) -> Event:
    values: dict[str, Any] = {
        "account_id": account,
        "seq": seq,
        "event_id": f"00000000-0000-4000-8000-{seq:012d}",
        "event_time": T0 + dt.timedelta(minutes=seq if minutes is None else minutes),
        "event_name": "CreateUser" if seq % 2 else "GetUser",
        "event_source": "iam.amazonaws.com",
        "read_only": seq % 2 == 0,
        "record": f'{{"eventID":"{seq}","note":"é\\u0000"}}',
        "hash": f"{seq:064x}",
        "seal": b"\x00\xff" + bytes([seq % 256]),
        "username": "alice",
        "access_key_id": "AKIAEXAMPLE",
        "principal": ALICE,
        "resources": (("AWS::IAM::User", f"user{seq}"), ("AWS::IAM::Policy", "arn:p")),
    }
    values.update(kw)
    return Event(**values)


def append(store: Store, *events: Event) -> None:
    with store.unit_of_work() as uow:
        for e in events:
            uow.events.append(e)


def lookup(store: Store, account: str = A, **kw: Any) -> list[int]:
    with store.unit_of_work(read_only=True) as uow:
        return [e.seq for e in uow.events.lookup(account, **kw)]


def test_append_round_trips_and_last_is_the_head(log_store: Store) -> None:
    odd = event(1, username=None, access_key_id=None, principal=None, resources=())
    append(log_store, odd, event(2), event(1, B))
    with log_store.unit_of_work(read_only=True) as uow:
        assert uow.events.get(A, 1) == odd
        assert uow.events.get(A, 2) == event(2)
        assert uow.events.get(A, 3) is None
        assert uow.events.last(A) == event(2)
        assert uow.events.last(B) == event(1, B)
        assert uow.events.last("333333333333") is None


def test_a_taken_seq_conflicts_and_the_transaction_goes_on(log_store: Store) -> None:
    append(log_store, event(1))
    with log_store.unit_of_work() as uow:
        with pytest.raises(Conflict):
            uow.events.append(event(1, event_name="Other"))
        uow.events.append(event(2))
    assert lookup(log_store) == [2, 1]
    assert lookup(log_store, attribute=("EventName", "Other")) == []


def test_append_many_writes_every_event_and_its_index(log_store: Store) -> None:
    append(log_store, event(1))
    with log_store.unit_of_work() as uow:
        uow.events.append_many([event(2), event(1, B), event(3), event(2, B)])
        uow.events.append_many([])
    assert lookup(log_store) == [3, 2, 1]
    assert lookup(log_store, B) == [2, 1]
    assert lookup(log_store, attribute=("ResourceName", "user3")) == [3]
    with log_store.unit_of_work(read_only=True) as uow:
        assert uow.events.last(A) == event(3)


def test_append_many_conflicts_on_a_taken_seq_and_writes_none(log_store: Store) -> None:
    append(log_store, event(1))
    with pytest.raises(Conflict), log_store.unit_of_work() as uow:
        uow.events.append_many([event(2), event(1, event_name="Other")])
    assert lookup(log_store) == [1]


def test_a_read_only_unit_of_work_cannot_write(log_store: Store) -> None:
    digest = Digest(A, 1, "h", T0, "checkpoint", b"s")
    with log_store.unit_of_work(read_only=True) as uow:
        for write in (
            lambda: uow.events.append(event(1)),
            lambda: uow.events.append_many([event(1)]),
            lambda: uow.events.prune(A, T0),
            lambda: uow.events.add_digest(digest),
        ):
            with pytest.raises(RuntimeError):
                write()


def test_a_rolled_back_unit_of_work_leaves_no_event(log_store: Store) -> None:
    with pytest.raises(ZeroDivisionError), log_store.unit_of_work() as uow:
        uow.events.append(event(1))
        raise ZeroDivisionError
    assert lookup(log_store) == []
    with log_store.unit_of_work(read_only=True) as uow:
        assert uow.events.last(A) is None
        assert uow.events.accounts() == []


def test_lookup_is_newest_first_and_per_account(log_store: Store) -> None:
    # times out of seq order (clocks of several nodes): time decides, then seq
    append(log_store, event(1, minutes=5), event(2, minutes=1), event(3, minutes=5))
    append(log_store, event(4, minutes=3), event(1, B))
    assert lookup(log_store) == [3, 1, 4, 2]
    assert lookup(log_store, B) == [1]
    assert lookup(log_store, "333333333333") == []


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        (("EventId", "00000000-0000-4000-8000-000000000002"), [2]),
        (("EventName", "CreateUser"), [3, 1]),
        (("ReadOnly", "true"), [4, 2]),
        (("ReadOnly", "false"), [3, 1]),
        (("Username", "bob"), [4]),
        (("ResourceType", "AWS::IAM::Role"), [3]),
        (("ResourceName", "user2"), [2]),
        (("ResourceName", "arn:p"), [4, 2, 1]),
        (("EventSource", "sts.amazonaws.com"), [4]),
        (("AccessKeyId", "ASIAOTHER"), [4]),
        ((PRINCIPAL_ACTION, principal_action(ALICE, "iam.amazonaws.com", "GetUser")), [2]),
        ((PRINCIPAL_SERVICE, principal_service(ALICE, "iam.amazonaws.com")), [3, 2, 1]),
        (("EventName", "createuser"), []),  # exact, case-sensitive
    ],
)
def test_lookup_by_each_attribute(
    log_store: Store, attribute: tuple[str, str], expected: list[int]
) -> None:
    append(
        log_store,
        event(1),
        event(2),
        event(3, resources=(("AWS::IAM::Role", "r"),)),
        event(
            4,
            username="bob",
            event_source="sts.amazonaws.com",
            access_key_id="ASIAOTHER",
            principal=None,
        ),
        event(1, B),
    )
    assert lookup(log_store, attribute=attribute) == expected


def test_every_lookup_key_is_indexed() -> None:
    names = {name for name, _ in attribute_rows(event(1))}
    assert names == set(LOOKUP_KEYS) | {PRINCIPAL_SERVICE, PRINCIPAL_ACTION}
    bare = event(1, username=None, access_key_id=None, principal=None, resources=())
    assert {n for n, _ in attribute_rows(bare)} == {
        "EventId",
        "EventName",
        "ReadOnly",
        "EventSource",
    }


@pytest.mark.parametrize("filtered", [False, True])
def test_time_range_cursor_and_limit(log_store: Store, filtered: bool) -> None:
    append(log_store, *(event(i) for i in range(1, 11)))
    attribute = ("EventSource", "iam.amazonaws.com") if filtered else None
    t = lambda seq: T0 + dt.timedelta(minutes=seq)  # noqa: E731
    assert lookup(log_store, attribute=attribute, start=t(3), end=t(6)) == [6, 5, 4, 3]
    assert lookup(log_store, attribute=attribute, start=t(9)) == [10, 9]
    assert lookup(log_store, attribute=attribute, end=t(2)) == [2, 1]
    assert lookup(log_store, attribute=attribute, limit=3) == [10, 9, 8]
    assert lookup(log_store, attribute=attribute, before=(t(8), 8), limit=3) == [7, 6, 5]
    assert lookup(log_store, attribute=attribute, start=t(5), before=(t(7), 7)) == [6, 5]


def test_the_cursor_separates_events_of_the_same_time(log_store: Store) -> None:
    append(log_store, *(event(i, minutes=0) for i in range(1, 6)))
    assert lookup(log_store, limit=2) == [5, 4]
    assert lookup(log_store, before=(T0, 4), limit=2) == [3, 2]
    assert lookup(log_store, attribute=("EventSource", "iam.amazonaws.com"), before=(T0, 2)) == [1]


def test_iterate_in_seq_order_across_batches(
    log_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "_ITERATE_BATCH", 3)
    append(log_store, *(event(i, minutes=20 - i) for i in range(1, 9)), event(1, B))
    with log_store.unit_of_work(read_only=True) as uow:
        assert [e.seq for e in uow.events.iterate(A)] == list(range(1, 9))
        assert [e.seq for e in uow.events.iterate(A, after_seq=6)] == [7, 8]
        assert [e.seq for e in uow.events.iterate(A, after_seq=8)] == []
        assert list(uow.events.iterate(B)) == [event(1, B)]


def test_prune_deletes_below_the_first_event_at_or_after_the_cut(
    log_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "_ITERATE_BATCH", 2)
    # event 4 is late by the clock but kept: it follows event 3, which is not old
    times = {1: 1, 2: 2, 3: 10, 4: 3, 5: 11}
    append(log_store, *(event(s, minutes=m) for s, m in times.items()), event(1, B, minutes=1))
    with log_store.unit_of_work() as uow:
        uow.events.add_digest(Digest(A, 2, "h2", T0, "checkpoint", b"s"))
        uow.events.add_digest(Digest(A, 4, "h4", T0, "checkpoint", b"s"))
        pruned = uow.events.prune(A, T0 + dt.timedelta(minutes=5))
    assert pruned.count == 2
    assert pruned.last == event(2, minutes=2)
    assert lookup(log_store) == [5, 3, 4]
    assert lookup(log_store, attribute=("ResourceName", "user1")) == []
    assert lookup(log_store, attribute=("ResourceName", "arn:p")) == [5, 3, 4]
    assert lookup(log_store, B) == [1]
    with log_store.unit_of_work(read_only=True) as uow:
        assert [d.seq for d in uow.events.digests(A)] == [4]
        assert [e.seq for e in uow.events.iterate(A)] == [3, 4, 5]


def test_prune_of_everything_and_of_nothing(log_store: Store) -> None:
    append(log_store, event(1), event(2))
    with log_store.unit_of_work() as uow:
        assert uow.events.prune(A, T0).count == 0
        assert uow.events.prune(B, T0 + dt.timedelta(days=1)).last is None
        everything = uow.events.prune(A, T0 + dt.timedelta(days=1))
    assert (everything.count, everything.last) == (2, event(2))
    assert lookup(log_store) == []
    with log_store.unit_of_work(read_only=True) as uow:
        assert uow.events.last(A) is None


def test_digests_are_upserted_by_seq_and_kind(log_store: Store) -> None:
    first = Digest(A, 3, "h3", T0, "checkpoint", b"one")
    later = dataclasses.replace(first, created=T0 + dt.timedelta(hours=1), seal=b"two")
    anchor = Digest(A, 3, "h3", T0, "prune", b"p")
    with log_store.unit_of_work() as uow:
        uow.events.add_digest(first)
        uow.events.add_digest(Digest(A, 1, "h1", T0, "checkpoint", b"x"))
        uow.events.add_digest(anchor)
        uow.events.add_digest(later)
        uow.events.add_digest(Digest(B, 9, "h9", T0, "checkpoint", b"y"))
    with log_store.unit_of_work(read_only=True) as uow:
        assert [(d.seq, d.kind) for d in uow.events.digests(A)] == [
            (1, "checkpoint"),
            (3, "checkpoint"),
            (3, "prune"),
        ]
        assert uow.events.digests(A)[1] == later
        assert uow.events.accounts() == [A, B]


def test_accounts_lists_accounts_with_events(log_store: Store) -> None:
    append(log_store, event(1, B), event(1, "333333333333"), event(1), event(2))
    with log_store.unit_of_work(read_only=True) as uow:
        assert uow.events.accounts() == [A, B, "333333333333"]


def test_naive_times_are_refused(log_store: Store) -> None:
    with pytest.raises(ValueError), log_store.unit_of_work() as uow:
        uow.events.append(event(1, event_time=dt.datetime(2026, 1, 1)))


def test_sqlite_answers_lookups_from_the_indexes(sqlite_store: SqlStore) -> None:
    """The plans that keep LookupEvents fast on a large trail: index range scans in
    order (no sort of the matches), for filtered and unfiltered lookups."""
    queries = {
        "filtered": sql._LOOKUP[(True, True, True, True)],
        "unfiltered": sql._LOOKUP[(False, True, True, True)],
    }
    params = {"a": A, "n": "EventName", "v": "x", "start": 0, "end": 1, "bt": 1, "bs": 1}
    with sqlite_store.unit_of_work(read_only=True) as uow:
        conn = uow.connection  # type: ignore[attr-defined]
        for name, stmt in queries.items():
            bound = stmt.params(**params, limit=51)
            compiled = bound.compile(conn, compile_kwargs={"literal_binds": True})
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
            details = " | ".join(str(row[-1]) for row in plan)
            assert "TEMP B-TREE" not in details, (name, details)
            assert "SCAN" not in details.replace("SCAN event_attributes USING PRIMARY KEY", ""), (
                name,
                details,
            )


def test_locked_appends_from_many_threads_leave_no_gap(log_store: Store) -> None:
    """lock_account serializes read-head-then-append (PostgreSQL: an advisory lock), so
    concurrent writers to one account never take the same seq or skip one."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(8):
                with log_store.unit_of_work() as uow:
                    uow.lock_account(A)
                    head = uow.events.last(A)
                    uow.events.append(event(head.seq + 1 if head else 1))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with log_store.unit_of_work(read_only=True) as uow:
        assert [e.seq for e in uow.events.iterate(A)] == list(range(1, 33))
