"""A limit on wrong one-time passwords per MFA device, so codes cannot be guessed.

A six-digit code with one step of drift either way is right one time in ~333,000; an
attacker holding a user's keys could otherwise try codes as fast as the server answers.
After `limit` wrong codes for a device within `window`, every code for that device is
refused (without being checked) until the oldest of those failures leaves the window.
A right code clears the count.

The count lives in the process (several nodes each keep their own, so the bound grows
with the node count) and in memory only: this bounds guessing speed, it is not a record.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import deque

LIMIT = 5
WINDOW = dt.timedelta(minutes=5)
#: Devices tracked at most; the ones whose failures are oldest are forgotten first.
MAX_DEVICES = 100_000


class MfaThrottle:
    def __init__(self, limit: int = LIMIT, window: dt.timedelta = WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[tuple[str, str], deque[dt.datetime]] = {}
        self._lock = threading.Lock()

    def _recent(self, device: tuple[str, str], now: dt.datetime) -> deque[dt.datetime] | None:
        failures = self._failures.get(device)
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if failures is not None and not failures:
            del self._failures[device]
            return None
        return failures

    def blocked(self, account_id: str, serial_number: str, now: dt.datetime) -> bool:
        """Too many wrong codes for this device lately: refuse without checking."""
        with self._lock:
            failures = self._recent((account_id, serial_number), now)
            return failures is not None and len(failures) >= self.limit

    def failed(self, account_id: str, serial_number: str, now: dt.datetime) -> None:
        device = (account_id, serial_number)
        with self._lock:
            failures = self._recent(device, now)
            if failures is None:
                if len(self._failures) >= MAX_DEVICES:
                    oldest = min(self._failures, key=lambda d: self._failures[d][-1])
                    del self._failures[oldest]
                failures = self._failures[device] = deque(maxlen=self.limit)
            failures.append(now)

    def succeeded(self, account_id: str, serial_number: str) -> None:
        with self._lock:
            self._failures.pop((account_id, serial_number), None)
