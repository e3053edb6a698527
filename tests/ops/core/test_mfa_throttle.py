"""The per-device bound on code attempts (chamberlain.ops.mfa_throttle)."""

from __future__ import annotations

import datetime as dt
import threading

from chamberlain.ops.core.mfa_throttle import MfaThrottle

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
DEVICE = ("123456789012", "arn:aws:iam::123456789012:mfa/d")


def test_attempts_past_the_limit_are_refused_until_the_oldest_leaves_the_window():
    throttle = MfaThrottle(limit=3, window=dt.timedelta(minutes=5))
    for k in range(3):
        assert throttle.attempt(*DEVICE, NOW + dt.timedelta(minutes=k))
    assert not throttle.attempt(*DEVICE, NOW + dt.timedelta(minutes=3))
    assert not throttle.attempt(*DEVICE, NOW + dt.timedelta(minutes=4, seconds=59))
    assert throttle.attempt(*DEVICE, NOW + dt.timedelta(minutes=5))  # first one expired
    assert not throttle.attempt(*DEVICE, NOW + dt.timedelta(minutes=5, seconds=1))
    assert throttle.attempt("123456789012", "other", NOW)  # per device


def test_a_right_code_clears_the_count():
    throttle = MfaThrottle(limit=2)
    assert throttle.attempt(*DEVICE, NOW)
    assert throttle.attempt(*DEVICE, NOW)
    throttle.succeeded(*DEVICE)
    assert throttle.attempt(*DEVICE, NOW)


def test_concurrent_attempts_never_exceed_the_limit():
    """Reservation and check are one step: 40 threads racing get exactly `limit` tries."""
    throttle = MfaThrottle(limit=5)
    allowed: list[bool] = []
    start = threading.Barrier(40)

    def guess() -> None:
        start.wait()
        allowed.append(throttle.attempt(*DEVICE, NOW))

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 5


def test_the_least_recently_tried_device_is_forgotten_past_the_bound():
    throttle = MfaThrottle(limit=1, max_devices=2)
    assert throttle.attempt("a", "1", NOW)
    assert throttle.attempt("a", "2", NOW)
    assert not throttle.attempt("a", "1", NOW)  # 1 is now the most recently tried
    assert throttle.attempt("a", "3", NOW)  # forgets 2
    assert not throttle.attempt("a", "1", NOW)
    assert throttle.attempt("a", "2", NOW)  # forgotten, so counted afresh (forgets 3)
