"""When the agent refreshes the role's credentials, and what it serves meanwhile."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from chamberlain.agent.credentials import (
    CredentialCache,
    Refresher,
    default_margin,
    utc_now,
)

from .helpers import ManualClock, ScriptedSource

MINUTE = 60


@pytest.mark.parametrize(
    ("lifetime", "margin"),
    [
        (900, 450),  # 15 minutes: half, or it would refresh forever
        (1800, 900),  # 15 minutes before expiry
        (3600, 1200),  # a third of an hour
        (43200, 14400),  # a third of 12 hours
    ],
)
def test_default_margin(lifetime: int, margin: int) -> None:
    assert default_margin(dt.timedelta(seconds=lifetime)) == dt.timedelta(seconds=margin)


def test_refreshes_a_third_of_an_hour_before_expiry_by_default() -> None:
    clock = ManualClock()
    source = ScriptedSource(clock, lifetime=3600)
    cache = CredentialCache(source, clock=clock)
    first = cache.refresh()
    assert cache.refresh_at == first.expiration - dt.timedelta(minutes=20)
    assert cache.seconds_until_refresh() == 40 * MINUTE
    clock.advance(40 * MINUTE - 1)
    assert cache.tick() is False
    assert source.calls == 1
    assert cache.current() == first
    clock.advance(1)
    assert cache.tick() is True
    second = cache.current()
    assert second is not None and second.access_key_id != first.access_key_id
    assert cache.refresh_at == second.expiration - dt.timedelta(minutes=20)


def test_refresh_before_overrides_the_margin() -> None:
    clock = ManualClock()
    source = ScriptedSource(clock, lifetime=900)
    cache = CredentialCache(source, clock=clock, refresh_before=dt.timedelta(seconds=890))
    cache.refresh()
    assert cache.seconds_until_refresh() == 10
    clock.advance(10)
    assert cache.tick() is True
    assert source.calls == 2


def test_failed_refresh_keeps_serving_and_backs_off() -> None:
    clock = ManualClock()
    source = ScriptedSource(clock, lifetime=3600)
    cache = CredentialCache(source, clock=clock)
    first = cache.refresh()
    clock.advance(40 * MINUTE)
    source.failure = ConnectionError("server down")
    delays = []
    for _ in range(6):
        assert cache.tick() is False
        assert cache.current() == first
        delays.append(cache.seconds_until_refresh())
        clock.advance(cache.seconds_until_refresh())
    assert delays == [5, 10, 20, 40, 60, 60]
    source.failure = None
    assert cache.tick() is True
    assert cache.current() != first
    assert cache.seconds_until_refresh() == 40 * MINUTE


def test_expired_credentials_are_not_served() -> None:
    clock = ManualClock()
    source = ScriptedSource(clock, lifetime=900)
    cache = CredentialCache(source, clock=clock)
    assert cache.current() is None  # nothing fetched yet
    first = cache.refresh()
    source.failure = ConnectionError("server down")
    clock.advance(899)
    cache.tick()
    assert cache.current() == first
    clock.advance(1)
    assert cache.current() is None


def test_refresh_failure_leaves_the_cache_alone() -> None:
    clock = ManualClock()
    source = ScriptedSource(clock)
    cache = CredentialCache(source, clock=clock)
    first = cache.refresh()
    source.failure = RuntimeError("boom")
    with pytest.raises(RuntimeError):
        cache.refresh()
    assert cache.current() == first


def test_refresher_thread_refreshes_on_schedule() -> None:
    """With the real clock: credentials good for 2 s, refreshed 1.8 s before expiry."""
    source = ScriptedSource(utc_now, lifetime=2)
    cache = CredentialCache(source, clock=utc_now, refresh_before=dt.timedelta(seconds=1.8))
    cache.refresh()
    refresher = Refresher(cache)
    refresher.start()
    try:
        deadline = time.monotonic() + 3
        while source.calls < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        refresher.stop()
    assert source.calls >= 4
    assert not refresher._thread.is_alive()
