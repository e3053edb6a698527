"""The group-commit writer and one transaction per request, on a real SQLite store."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.domain import Account, User
from chamberlain.ops.audit import records, trail
from chamberlain.ops.core.context import RequestMeta, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.group_commit import GroupCommit
from chamberlain.store.sql import SqlStore

from ..conftest import ACCOUNT, NOW, root_caller

OTHER = "222222222222"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    store = SqlStore.from_data_dir(tmp_path)
    store.migrate()
    with store.unit_of_work() as uow:
        for account in (ACCOUNT, OTHER):
            uow.repo(Account).add(
                Account(account_id=account, email=f"{account}@example.com",
                        root_password_hash="x", created=NOW)
            )  # fmt: skip
    yield store
    store.close()


def _record(account: str, n: int) -> dict[str, Any]:
    meta = RequestMeta(request_id=f"r{n}", now=NOW)
    return records.build_record(
        caller=root_caller(account), meta=meta, service="iam", operation="GetUser",
        params={"UserName": f"u{n}"}, read_only=True, account_id=account,
    )  # fmt: skip


def test_concurrent_submissions_keep_every_chain_in_order(store: SqlStore) -> None:
    """Threads hand over events of two accounts while a write appends directly: every
    event lands once, each account's chain verifies, and one thread's events of one
    account are chained in the order they were submitted."""
    secrets = SecretBox(generate_key())
    writer = GroupCommit(store, max_delay=0.002)

    def submitter(worker: int) -> None:
        for n in range(40):
            account = ACCOUNT if n % 2 else OTHER
            rec = _record(account, worker * 1000 + n)
            writer.submit(
                (account,),
                lambda uow, a=account, r=rec: records.append(uow, secrets, a, r, []),
            )

    threads = [threading.Thread(target=submitter, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    with store.unit_of_work() as uow:  # a write of its own, racing the batches
        records.append(uow, secrets, ACCOUNT, _record(ACCOUNT, 99999), [])
    for t in threads:
        t.join()
    assert writer.flush()
    writer.close()
    result = trail.verify(store, secrets)
    assert result.problems == ()
    assert result.events == 161
    with store.unit_of_work(read_only=True) as uow:
        texts = [e.record for e in uow.events.iterate(OTHER)]
    order = [int(r.split('"requestID":"r')[1].split('"')[0]) for r in texts]
    assert len(order) == 80
    for worker in range(4):
        mine = [n for n in order if n // 1000 == worker]
        assert mine == sorted(mine)


def test_batched_events_are_chained_in_order_with_few_statements(store: SqlStore) -> None:
    """Pending events (records.record_deferred's items) of two accounts, handed over by
    threads while writes append directly: every chain verifies, each thread's events
    keep their order, and a batch inserts its events with far fewer statements than
    events (one multi-row insert per table, not three statements per event)."""
    secrets = SecretBox(generate_key())
    writer = GroupCommit(store, max_delay=0.01)
    inserts: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO EVENTS"):
            inserts.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)

    def submitter(worker: int) -> None:
        for n in range(50):
            account = ACCOUNT if n % 2 else OTHER
            pending = records.pending_event(secrets, account, _record(account, worker * 1000 + n),
                                            [["AWS::IAM::User", f"u{n}"]])  # fmt: skip
            writer.submit_item((account,), records.append_pending, pending)

    threads = [threading.Thread(target=submitter, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for n in range(5):
        with store.unit_of_work() as uow:  # writes of their own, racing the batches
            records.append(uow, secrets, ACCOUNT, _record(ACCOUNT, 90000 + n), [])
    for t in threads:
        t.join()
    assert writer.flush()
    writer.close()
    result = trail.verify(store, secrets)
    assert result.problems == ()
    assert result.events == 205
    assert len(inserts) < 100  # 5 direct appends + at most one per account and batch
    with store.unit_of_work(read_only=True) as uow:
        texts = [e.record for e in uow.events.iterate(OTHER)]
        assert uow.events.lookup(OTHER, attribute=("ResourceName", "u0"), limit=100)
    order = [int(r.split('"requestID":"r')[1].split('"')[0]) for r in texts]
    for worker in range(4):
        mine = [n for n in order if n // 1000 == worker]
        assert mine == sorted(mine) and len(mine) == 25


def test_flush_waits_and_close_commits_what_is_pending(store: SqlStore) -> None:
    secrets = SecretBox(generate_key())
    writer = GroupCommit(store, max_delay=0.5)  # long enough to be caught pending
    writer.submit((ACCOUNT,), lambda uow: records.append(uow, secrets, ACCOUNT,
                                                         _record(ACCOUNT, 1), []))  # fmt: skip
    assert writer.lag == 1
    writer.close()
    assert writer.lag == 0
    with store.unit_of_work(read_only=True) as uow:
        assert uow.events.last(ACCOUNT) is not None
    # a submit after close starts the writer again
    writer.submit((ACCOUNT,), lambda uow: records.append(uow, secrets, ACCOUNT,
                                                         _record(ACCOUNT, 2), []))  # fmt: skip
    assert writer.flush()
    assert trail.verify(store, secrets).events == 2


def test_the_writer_wakes_for_a_first_job_and_for_a_full_batch(store: SqlStore) -> None:
    """Jobs handed over while a batch fills do not wake the writer (it would only wait
    again); the first job of an idle writer and the job that fills a batch do."""
    secrets = SecretBox(generate_key())
    writer = GroupCommit(store, max_delay=60.0, max_batch=3)  # never waits out its delay
    for n in range(6):  # two full batches
        pending = records.pending_event(secrets, ACCOUNT, _record(ACCOUNT, n), [])
        writer.submit_item((ACCOUNT,), records.append_pending, pending)
    assert writer.flush(timeout=30)
    fast = GroupCommit(store, max_delay=0.001)
    for n in range(6, 9):  # one at a time, each to an idle writer
        fast.submit_item(
            (ACCOUNT,),
            records.append_pending,
            records.pending_event(secrets, ACCOUNT, _record(ACCOUNT, n), []),
        )
        assert fast.flush(timeout=30)  # fmt: skip
    writer.close()
    fast.close()
    result = trail.verify(store, secrets)
    assert result.problems == () and result.events == 9


def test_a_failing_job_does_not_take_its_batch_with_it(store: SqlStore) -> None:
    secrets = SecretBox(generate_key())
    writer = GroupCommit(store, max_delay=0.05)

    def broken(uow: Any) -> None:
        raise ValueError("boom")

    writer.submit((ACCOUNT,), lambda uow: records.append(uow, secrets, ACCOUNT,
                                                         _record(ACCOUNT, 1), []))  # fmt: skip
    writer.submit((ACCOUNT,), broken)
    writer.submit((ACCOUNT,), lambda uow: records.append(uow, secrets, ACCOUNT,
                                                         _record(ACCOUNT, 2), []))  # fmt: skip
    assert writer.flush()
    writer.close()
    assert writer.lost == 1
    assert trail.verify(store, secrets).events == 2


def _count_transactions(store: SqlStore) -> list[str]:
    """Every COMMIT the store's engine issues (SQLite: one per unit of work)."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.strip().upper().startswith(("BEGIN", "COMMIT")):
            seen.append(statement.strip().upper())

    event.listen(store.engine, "before_cursor_execute", before)
    return seen


def test_a_read_only_call_is_one_transaction_and_its_event_is_batched(store: SqlStore) -> None:
    secrets = SecretBox(generate_key())
    # a batch that waits long enough not to commit between the reads on a busy machine
    writer = GroupCommit(store, max_delay=1.0)
    services = Services(store=store, secrets=secrets, group_commit=writer)
    execute(services, root_caller(), RequestMeta("w", NOW), "iam", "CreateUser",
            {"UserName": "alice"})  # fmt: skip
    seen = _count_transactions(store)
    for n in range(5):
        execute(services, root_caller(), RequestMeta(f"g{n}", NOW), "iam", "GetUser",
                {"UserName": "alice"})  # fmt: skip
    reads = list(seen)
    assert services.group_commit is not None
    services.group_commit.flush()
    batch = seen[len(reads) :]
    services.group_commit.close()
    # five reads: five deferred BEGINs (SQLite's driver issues COMMIT through the DBAPI,
    # not as a statement) and no write transaction among them
    assert reads == ["BEGIN"] * 5
    assert 1 <= batch.count("BEGIN IMMEDIATE") <= 5
    result = trail.verify(store, secrets)
    assert result.problems == () and result.events == 6
    with store.unit_of_work(read_only=True) as uow:
        assert uow.repo(User).get(ACCOUNT, "alice") is not None


def test_lookup_events_sees_the_calls_answered_before_it(store: SqlStore) -> None:
    secrets = SecretBox(generate_key())
    services = Services(
        store=store, secrets=secrets, group_commit=GroupCommit(store, max_delay=0.3)
    )
    later = NOW + dt.timedelta(seconds=1)
    execute(services, root_caller(), RequestMeta("a", NOW), "iam", "ListUsers", {})
    out = execute(services, root_caller(), RequestMeta("b", later), "cloudtrail",
                  "LookupEvents", {})  # fmt: skip
    assert [e["EventName"] for e in out["Events"]] == ["ListUsers"]
    assert services.group_commit is not None
    services.group_commit.close()
