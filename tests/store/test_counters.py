"""The attempt counters' store contract (`uow.counters`), on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from chamberlain.store.api import Store

from .conftest import emptied

T0 = dt.datetime(2026, 12, 7, 12, 0, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def counter_store(store: Store) -> Store:
    """The contract suite's store with its counters emptied."""
    return emptied(store, "counters")


def test_hit_counts_up_and_an_expired_counter_starts_again(counter_store: Store) -> None:
    with counter_store.unit_of_work() as uow:
        first = uow.counters.hit("s", "k", T0, 5 * MINUTE, sliding=True)
        second = uow.counters.hit("s", "k", T0 + MINUTE, 5 * MINUTE, sliding=True)
    assert first is not None and second is not None
    assert (first.count, first.first, first.expires) == (1, T0, T0 + 5 * MINUTE)
    assert (second.count, second.first, second.last) == (2, T0, T0 + MINUTE)
    assert second.expires == T0 + 6 * MINUTE  # sliding: from the last attempt
    with counter_store.unit_of_work() as uow:
        again = uow.counters.hit("s", "k", T0 + 6 * MINUTE, 5 * MINUTE, sliding=True)
    assert again is not None and (again.count, again.first) == (1, T0 + 6 * MINUTE)
    with counter_store.unit_of_work(read_only=True) as uow:
        assert uow.counters.get("s", "k") == again
        assert uow.counters.get("s", "other") is None
        assert uow.counters.get("other", "k") is None


def test_a_fixed_window_keeps_its_expiry(counter_store: Store) -> None:
    with counter_store.unit_of_work() as uow:
        uow.counters.hit("s", "k", T0, 5 * MINUTE, sliding=False)
        later = uow.counters.hit("s", "k", T0 + 4 * MINUTE, 5 * MINUTE, sliding=False)
    assert later is not None and (later.count, later.expires) == (2, T0 + 5 * MINUTE)


def test_a_locked_counter_refuses_and_counts_nothing(counter_store: Store) -> None:
    with counter_store.unit_of_work() as uow:
        uow.counters.hit("s", "k", T0, MINUTE, sliding=True)
        uow.counters.lock("s", "k", T0 + 10 * MINUTE, T0 + 20 * MINUTE)
        uow.counters.lock("s", "k", T0 + 2 * MINUTE, T0 + 3 * MINUTE)  # earlier: no effect
        assert uow.counters.hit("s", "k", T0 + 9 * MINUTE, MINUTE, sliding=True) is None
        locked = uow.counters.get("s", "k")
    assert locked is not None
    assert (locked.count, locked.locked_until, locked.expires) == (
        1,
        T0 + 10 * MINUTE,
        T0 + 20 * MINUTE,
    )
    assert locked.locked(T0 + 9 * MINUTE) and not locked.locked(T0 + 10 * MINUTE)
    with counter_store.unit_of_work() as uow:
        after = uow.counters.hit("s", "k", T0 + 10 * MINUTE, MINUTE, sliding=True)
    assert after is not None and after.count == 2  # the lock ended; the count goes on


def test_clear_report_due_and_prune(counter_store: Store) -> None:
    with counter_store.unit_of_work() as uow:
        for n in range(3):
            uow.counters.hit("auth", "a", T0 + n * dt.timedelta(seconds=1), MINUTE, sliding=False)
        uow.counters.hit("auth", "b", T0, MINUTE, sliding=False)
        uow.counters.hit("pw", "c", T0, MINUTE, sliding=True)
        assert uow.counters.clear("auth", "b") and not uow.counters.clear("auth", "b")
    later = T0 + 2 * MINUTE
    with counter_store.unit_of_work() as uow:
        assert uow.counters.report("auth", "a", T0) is None  # not expired yet
        assert [c.key for c in uow.counters.due("auth", later)] == ["a"]
        claimed = uow.counters.report("auth", "a", later)
        assert claimed is not None and (claimed.count, claimed.reported) == (3, 3)
        assert claimed.first == T0 and claimed.last == T0 + dt.timedelta(seconds=2)
        assert uow.counters.report("auth", "a", later) is None  # claimed once only
        assert uow.counters.due("auth", later) == []
        assert uow.counters.prune("pw", T0, keep_unreported=False) == 0  # not expired
        assert uow.counters.prune("pw", later, keep_unreported=True) == 0  # unreported
        assert uow.counters.prune("pw", later) == 1
        assert uow.counters.prune("auth", later, keep_unreported=True) == 1
        assert uow.counters.get("auth", "a") is None


def test_forgive_takes_one_attempt_back(counter_store: Store) -> None:
    with counter_store.unit_of_work() as uow:
        uow.counters.hit("s", "k", T0, MINUTE, sliding=True)
        uow.counters.hit("s", "k", T0, MINUTE, sliding=True)
        uow.counters.forgive("s", "k")
        uow.counters.forgive("s", "gone")  # nothing to forgive: no error, no row
        assert uow.counters.get("s", "gone") is None
        counter = uow.counters.get("s", "k")
        assert counter is not None and counter.count == 1
        uow.counters.forgive("s", "k")
        uow.counters.forgive("s", "k")
        counter = uow.counters.get("s", "k")
        assert counter is not None and counter.count == 0


def test_prune_is_bounded(counter_store: Store) -> None:
    with counter_store.unit_of_work() as uow:
        for n in range(5):
            uow.counters.hit("s", f"k{n}", T0, MINUTE, sliding=True)
    with counter_store.unit_of_work() as uow:
        assert uow.counters.prune("s", T0 + MINUTE, limit=3) == 3
        assert uow.counters.prune("s", T0 + MINUTE, limit=3) == 2


def test_writes_need_a_writing_unit_of_work(counter_store: Store) -> None:
    with counter_store.unit_of_work(read_only=True) as uow, pytest.raises(RuntimeError):
        uow.counters.hit("s", "k", T0, MINUTE, sliding=True)


def test_rolled_back_hits_leave_nothing(counter_store: Store) -> None:
    with pytest.raises(ZeroDivisionError), counter_store.unit_of_work() as uow:
        uow.counters.hit("s", "k", T0, MINUTE, sliding=True)
        1 / 0  # noqa: B018
    with counter_store.unit_of_work(read_only=True) as uow:
        assert uow.counters.get("s", "k") is None


def test_concurrent_hits_lose_no_increment(counter_store: Store) -> None:
    """Every hit from every thread is counted exactly once (one statement per hit)."""
    threads, each = 4, 25

    def work() -> None:
        for _ in range(each):
            with counter_store.unit_of_work() as uow:
                uow.counters.hit("s", "k", T0, dt.timedelta(days=1), sliding=True)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    with counter_store.unit_of_work(read_only=True) as uow:
        counter = uow.counters.get("s", "k")
    assert counter is not None and counter.count == threads * each
