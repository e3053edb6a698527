"""A node's copy of the generations (store/generation_watch.py): what it answers, and two
stores on one database (two nodes) following each other's changes, on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from chamberlain.domain import User
from chamberlain.store import generation_watch
from chamberlain.store.generation_watch import GenerationWatch
from chamberlain.store.scopes import principal_scope
from chamberlain.store.sql import DB_FILE, SqlStore

from .conftest import PG_URL, PgSchemas

A = "111111111111"
NOW = dt.datetime(2026, 12, 8, tzinfo=dt.UTC)
BOUND_S = 1.0


# --- the copy itself ------------------------------------------------------------------


def test_no_token_until_a_follower_is_live_and_nothing_is_kept_before() -> None:
    watch = GenerationWatch()
    assert watch.token() is None
    watch.changed([("a", 3)])  # no follower: nothing may be trusted
    watch.restart(live=True)
    token = watch.token()
    assert token is not None and watch.get("a", token) is None


def test_generations_merge_by_the_larger() -> None:
    watch = GenerationWatch()
    watch.restart(live=True)
    watch.changed([("a", 3)])
    watch.changed([("a", 2)])  # an older news arriving late
    token = watch.token()
    assert token is not None
    watch.learned("a", 1, token)  # an older snapshot's read
    assert watch.get("a", watch.token() or token) == 3


def test_an_entry_set_after_a_unit_of_work_began_is_not_used_by_it() -> None:
    watch = GenerationWatch()
    watch.restart(live=True)
    watch.changed([("a", 1)])
    began = watch.token()
    assert began is not None
    watch.changed([("a", 2)])  # may be newer than what that unit of work has read
    assert watch.get("a", began) is None
    later = watch.token()
    assert later is not None and watch.get("a", later) == 2


def test_reads_of_units_of_work_begun_before_a_restart_are_dropped() -> None:
    watch = GenerationWatch()
    watch.restart(live=True)
    before = watch.token()
    assert before is not None
    watch.restart(live=True)  # the follower reconnected: it may have missed changes
    watch.learned("a", 5, before)
    now = watch.token()
    assert now is not None and watch.get("a", now) is None
    watch.learned("a", 5, now)
    assert watch.get("a", now) is None  # set after `now` was taken
    assert watch.get("a", watch.token() or now) == 5


def test_the_copy_is_not_used_once_the_follower_is_not_heard_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A follower whose connection died without a word (a partition) completes no round
    trip: STALE_S after the last one, units of work read the database again."""
    watch = GenerationWatch()
    watch.restart(live=True)
    watch.heard()
    assert watch.token() is not None
    later = time.monotonic() + generation_watch.STALE_S + 0.1
    monkeypatch.setattr(generation_watch.time, "monotonic", lambda: later)
    assert watch.token() is None
    watch.heard()  # heard again: used again
    assert watch.token() is not None


# --- two nodes on one database --------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def two_nodes(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[tuple[SqlStore, SqlStore]]:
    if request.param == "sqlite":
        shutil.copyfile(sqlite_template, tmp_path / DB_FILE)
        nodes = (SqlStore.from_data_dir(tmp_path), SqlStore.from_data_dir(tmp_path))
    else:
        schemas: PgSchemas = request.getfixturevalue("pg_schemas")
        schema = schemas.new()
        nodes = (SqlStore(PG_URL, schema=schema), SqlStore(PG_URL, schema=schema))
        nodes[0].migrate()
    try:
        yield nodes
    finally:
        for node in nodes:
            node.close()


def _add_user(store: SqlStore, name: str) -> None:
    with store.unit_of_work() as uow:
        uow.repo(User).put(User(A, f"AIDA{name}", name, "/", f"arn:aws:iam::{A}:user/{name}", NOW))


def _generation(store: SqlStore, scope: str) -> int:
    with store.unit_of_work(read_only=True) as uow:
        return uow.generation(scope)


def _statements(store: SqlStore) -> Callable[[], int]:
    count = [0]

    def counted(*_: Any) -> None:
        count[0] += 1

    event.listen(store.engine, "before_cursor_execute", counted)
    return lambda: count[0]


def _following(store: SqlStore) -> None:
    store.follow_generations()
    deadline = time.monotonic() + 10
    while not store.following:
        assert time.monotonic() < deadline, "the follower never started"
        time.sleep(0.01)


def test_a_known_generation_is_answered_without_a_statement(
    two_nodes: tuple[SqlStore, SqlStore],
) -> None:
    node, _ = two_nodes
    _following(node)
    alice = principal_scope(A, "user", "alice")
    _add_user(node, "alice")
    statements = _statements(node)
    first = _generation(node, alice)  # this node's own commit: known at once
    assert first >= 1
    assert statements() == 0  # and the read-only unit of work opened no connection
    assert _generation(node, A) == 0  # never changed: read once, then known
    read = statements()
    assert _generation(node, A) == 0
    assert statements() == read


def test_another_nodes_change_is_seen_within_the_bound(
    two_nodes: tuple[SqlStore, SqlStore],
) -> None:
    node, other = two_nodes
    _following(node)
    bob = principal_scope(A, "user", "bob")
    _add_user(node, "bob")
    before = _generation(node, bob)
    _add_user(other, "bob")  # the other node changes bob: a bump this node did not make
    started = time.monotonic()
    while _generation(node, bob) == before:
        assert time.monotonic() - started < BOUND_S, "the change was not seen within 1 s"
        time.sleep(0.005)
    assert _generation(node, bob) == _generation(other, bob) == before + 1


def test_a_unit_of_work_never_stamps_with_a_generation_newer_than_its_snapshot(
    two_nodes: tuple[SqlStore, SqlStore],
) -> None:
    """A unit of work that began before the copy learned of a change reads the scope from
    the database (its own snapshot on SQLite) rather than the newer copy."""
    node, other = two_nodes
    _following(node)
    carol = principal_scope(A, "user", "carol")
    _add_user(node, "carol")
    old = _generation(node, carol)
    with node.unit_of_work(read_only=True) as uow:
        assert uow.repo(User).get(A, "carol") is not None  # its snapshot: before the change
        _add_user(other, "carol")
        started = time.monotonic()
        while _generation(node, carol) == old:  # the copy learns of it
            assert time.monotonic() - started < BOUND_S
            time.sleep(0.005)
        seen = uow.generation(carol)
    if node.dialect == "sqlite":
        assert seen == old  # what its snapshot holds
    else:
        assert seen == old + 1  # READ COMMITTED: each statement sees the newest


def test_without_a_follower_every_read_goes_to_the_database(
    two_nodes: tuple[SqlStore, SqlStore],
) -> None:
    node, other = two_nodes
    dave = principal_scope(A, "user", "dave")
    _add_user(node, "dave")
    before = _generation(node, dave)
    _add_user(other, "dave")
    assert _generation(node, dave) == before + 1  # at once: read afresh
    statements = _statements(node)
    _generation(node, dave)
    assert statements() >= 1


def test_a_commit_changing_many_scopes_reaches_the_other_node_whole(
    two_nodes: tuple[SqlStore, SqlStore],
) -> None:
    """400 users changed in one transaction: on PostgreSQL more than one notification's
    worth (pg_notify takes 8000 bytes), sent in parts; every scope arrives."""
    node, other = two_nodes
    _following(node)
    names = [f"user-with-a-long-name-{i:04d}" for i in range(400)]
    scopes = [principal_scope(A, "user", name) for name in names]
    for scope in scopes:
        assert _generation(node, scope) == 0  # known to the node: read, then kept
    with other.unit_of_work() as uow:
        for name in names:
            arn = f"arn:aws:iam::{A}:user/{name}"
            uow.repo(User).put(User(A, f"AIDA{name}", name, "/", arn, NOW))
    started = time.monotonic()
    while any(_generation(node, scope) == 0 for scope in scopes):
        assert time.monotonic() - started < BOUND_S, "not every change arrived within 1 s"
        time.sleep(0.01)
    statements = _statements(node)
    assert all(_generation(node, scope) == 1 for scope in scopes)
    assert statements() == 0  # all from the copy


def test_a_lost_listener_falls_back_to_the_database_then_listens_again(
    pg_schemas: PgSchemas,
) -> None:
    """PostgreSQL: the listening connection killed (a database restart, a proxy timeout):
    units of work read the generations from the database until the follower has
    listened again, and no change made meanwhile is missed."""
    schema = pg_schemas.new()
    node, other = SqlStore(PG_URL, schema=schema), SqlStore(PG_URL, schema=schema)
    node.migrate()
    try:
        _following(node)
        erin = principal_scope(A, "user", "erin")
        _add_user(node, "erin")
        before = _generation(node, erin)
        with other.unit_of_work() as uow:
            killed = uow.connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %(name)s",
                {"name": node.notify_channel},
            ).scalars().all()
        assert killed == [True]
        _add_user(other, "erin")  # while the node may not be listening
        started = time.monotonic()
        while _generation(node, erin) != before + 1:
            assert time.monotonic() - started < 5, "a change made meanwhile was missed"
            time.sleep(0.01)
        _following(node)  # listening again (the follower retries after a second)
        _add_user(other, "erin")
        started = time.monotonic()
        while _generation(node, erin) != before + 2:
            assert time.monotonic() - started < BOUND_S
            time.sleep(0.005)
        statements = _statements(node)
        assert _generation(node, erin) == before + 2
        assert statements() == 0  # from the copy again
    finally:
        node.close()
        other.close()
