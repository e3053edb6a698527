"""audit verify covers the lookup index and exported digests (issue #15): an index row
edited, deleted or added with SQL, on SQLite and PostgreSQL, is named with its event; a
corrupt event row is named; events deleted together with their stored digests are found
missing against a digest file kept outside the database."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from chamberlain.ops.audit import trail as audit_trail
from chamberlain.ops.core.context import Services
from chamberlain.store.sql import SqlStore

from ..conftest import ACCOUNT, NOW
from .test_audit import OTHER, fill, problem


@pytest.fixture
def trail_services(sql_services: Services) -> Services:
    """Services on SQLite and on PostgreSQL (tests/ops/conftest.py)."""
    return sql_services


def sql(services: Services, statement: str) -> None:
    """One statement straight to the database, as someone with database access would."""
    store = services.store
    assert isinstance(store, SqlStore)
    with store.engine.begin() as conn:
        conn.exec_driver_sql(statement)


def lookup(services: Services, name: str, value: str) -> list[int]:
    with services.store.unit_of_work(read_only=True) as uow:
        return [e.seq for e in uow.events.lookup(ACCOUNT, attribute=(name, value))]


def test_an_untouched_index_verifies_in_batches(
    trail_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_trail, "INDEX_BATCH", 2)  # several batches, and a partial one
    fill(trail_services, 5)
    fill(trail_services, 2, OTHER)
    result = audit_trail.verify(trail_services.store, trail_services.secrets)
    assert result.ok and result.events == 7


def test_an_edited_index_row_is_named(trail_services: Services) -> None:
    original = fill(trail_services)
    assert lookup(trail_services, "ResourceName", "user3") == [3]
    sql(
        trail_services,
        "UPDATE event_attributes SET value = 'someone-else' "
        "WHERE name = 'ResourceName' AND value = 'user3'",
    )
    assert lookup(trail_services, "ResourceName", "user3") == []  # hidden from LookupEvents
    found = problem(trail_services)
    assert (found.seq, found.event_id, found.kind) == (3, original[2].event_id, "index")
    assert "ResourceName='user3'" in found.reason


def test_a_deleted_index_row_is_named(trail_services: Services) -> None:
    fill(trail_services)
    sql(trail_services, "DELETE FROM event_attributes WHERE name = 'PrincipalAction' AND seq = 5")
    found = problem(trail_services)
    assert (found.seq, found.kind) == (5, "index")
    assert "PrincipalAction" in found.reason


def test_an_added_index_row_is_named(trail_services: Services) -> None:
    original = fill(trail_services)
    sql(
        trail_services,
        "INSERT INTO event_attributes (account_id, name, value, event_time, seq) "
        f"SELECT account_id, 'ResourceName', 'user1', event_time, seq FROM event_attributes "
        f"WHERE account_id = '{ACCOUNT}' AND seq = 4 AND name = 'EventId'",
    )
    assert lookup(trail_services, "ResourceName", "user1") == [4, 1]
    found = problem(trail_services)
    assert (found.seq, found.event_id, found.kind) == (4, original[3].event_id, "index")
    assert "does not give" in found.reason


def test_an_index_row_for_no_event_is_named(trail_services: Services) -> None:
    fill(trail_services, 3)
    sql(
        trail_services,
        "INSERT INTO event_attributes (account_id, name, value, event_time, seq) "
        f"VALUES ('{ACCOUNT}', 'EventName', 'CreateUser', 0, 99)",
    )
    found = problem(trail_services)
    assert (found.seq, found.kind) == (99, "index")


def test_an_index_problem_before_a_chain_problem_comes_first(trail_services: Services) -> None:
    fill(trail_services)
    sql(trail_services, "DELETE FROM event_attributes WHERE seq = 2")
    sql(trail_services, "DELETE FROM events WHERE seq = 4")
    found = problem(trail_services)
    assert (found.seq, found.kind) == (2, "index")


def test_a_corrupt_event_row_is_named(trail_services: Services) -> None:
    fill(trail_services)
    sql(trail_services, "UPDATE events SET resources = 'not json' WHERE seq = 4")
    result = audit_trail.verify(trail_services.store, trail_services.secrets)
    found = result.first
    assert found is not None and (found.seq, found.kind) == (4, "corrupt")
    assert "cannot be read" in str(found)


def test_events_deleted_with_their_digests_are_found_by_an_exported_digest_file(
    trail_services: Services, tmp_path: Path
) -> None:
    fill(trail_services)
    fill(trail_services, 2, OTHER)
    audit_trail.checkpoint(trail_services.store, trail_services.secrets, now=NOW)
    exported = tmp_path / "digests.json"
    stored = audit_trail.stored_digests(trail_services.store)
    assert audit_trail.write_digest_file(exported, stored) == 2
    digests = audit_trail.read_digest_file(exported)
    store, secrets = trail_services.store, trail_services.secrets
    assert audit_trail.verify(store, secrets, digests=digests).ok
    # Someone with database access cuts off the newest events, and the digests too.
    sql(trail_services, f"DELETE FROM events WHERE account_id = '{ACCOUNT}' AND seq >= 5")
    sql(trail_services, f"DELETE FROM event_attributes WHERE account_id = '{ACCOUNT}' AND seq >= 5")
    sql(trail_services, "DELETE FROM event_digests")
    assert audit_trail.verify(store, secrets).ok  # the database alone cannot tell
    found = audit_trail.verify(store, secrets, digests=digests).first
    assert found is not None and (found.account_id, found.seq, found.kind) == (
        ACCOUNT,
        5,
        "removed",
    )
    assert "5..6" in found.reason
    # A whole account's trail deleted: the file still names it.
    sql(trail_services, f"DELETE FROM events WHERE account_id = '{OTHER}'")
    result = audit_trail.verify(store, secrets, digests=digests)
    assert OTHER in result.accounts
    assert any(p.account_id == OTHER and p.kind == "removed" for p in result.problems)


def test_the_digest_file_keeps_what_it_had_and_its_digests_are_sealed(
    trail_services: Services, tmp_path: Path
) -> None:
    store, secrets = trail_services.store, trail_services.secrets
    exported = tmp_path / "digests.json"
    fill(trail_services, 2)
    audit_trail.checkpoint(store, secrets, now=NOW)
    audit_trail.write_digest_file(exported, audit_trail.stored_digests(store))
    fill(trail_services, 2)
    audit_trail.checkpoint(store, secrets, now=NOW + dt.timedelta(hours=1))
    sql(trail_services, "DELETE FROM event_digests WHERE seq = 2")
    assert audit_trail.write_digest_file(exported, audit_trail.stored_digests(store)) == 2
    body = json.loads(exported.read_text())
    body["digests"][0]["hash"] = "0" * 64  # a forged digest
    exported.write_text(json.dumps(body))
    found = audit_trail.verify(store, secrets, digests=audit_trail.read_digest_file(exported))
    assert found.first is not None and found.first.kind == "digest"
    assert "exported" in found.first.reason
    exported.write_text("[]")
    with pytest.raises(audit_trail.AuditTrailError, match="cannot read the digest file"):
        audit_trail.read_digest_file(exported)


def test_index_rows_with_nul_verify_on_both_databases(trail_services: Services) -> None:
    """A resource name with a NUL is indexed (as U+FFFD) and verify recomputes it alike."""
    from chamberlain.ops.audit import records as audit
    from chamberlain.ops.core.context import OpContext

    from ..conftest import root_caller
    from .test_audit import meta

    with trail_services.store.unit_of_work() as uow:
        ctx = OpContext(root_caller(ACCOUNT), meta(NOW), uow, trail_services)
        audit.record(ctx, "iam", "GetPolicy", {"PolicyArn": "arn:x\0"}, read_only=True)
    assert lookup(trail_services, "ResourceName", "arn:x\0") == [1]
    assert audit_trail.verify(trail_services.store, trail_services.secrets).ok
