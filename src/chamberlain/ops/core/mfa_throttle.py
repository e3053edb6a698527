"""A limit on wrong one-time passwords per MFA device, so codes cannot be guessed.

A six-digit code with one step of drift either way is right one time in ~333,000; an
attacker holding a user's keys could otherwise try codes as fast as the server answers.
Every check of a code first reserves one of `limit` attempts for the device within
`window` (`attempt`); a right code then clears the count (`succeeded`), a wrong one keeps
its reservation. With all attempts reserved, every code for that device is refused
(without being checked) until the oldest of them leaves the window. Reserving before
checking keeps concurrent requests within the limit too.

The count lives in the process (several nodes each keep their own, so the bound grows
with the node count) and in memory only: this bounds guessing speed, it is not a record.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict, deque

LIMIT = 5
WINDOW = dt.timedelta(minutes=5)
#: Devices tracked at most; the ones least recently tried are forgotten first.
MAX_DEVICES = 100_000

Device = tuple[str, str]


class MfaThrottle:
    def __init__(
        self, limit: int = LIMIT, window: dt.timedelta = WINDOW, max_devices: int = MAX_DEVICES
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_devices = max_devices
        self._attempts: OrderedDict[Device, deque[dt.datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def attempt(self, account_id: str, serial_number: str, now: dt.datetime) -> bool:
        """Reserve an attempt at a code for this device; False: too many lately, refuse."""
        device = (account_id, serial_number)
        with self._lock:
            attempts = self._attempts.get(device)
            if attempts is None:
                if len(self._attempts) >= self.max_devices:
                    self._attempts.popitem(last=False)
                attempts = self._attempts[device] = deque()
            else:
                self._attempts.move_to_end(device)
            while attempts and attempts[0] <= now - self.window:
                attempts.popleft()
            if len(attempts) >= self.limit:
                return False
            attempts.append(now)
            return True

    def succeeded(self, account_id: str, serial_number: str) -> None:
        """A right code: the device's count starts again."""
        self.forget(account_id, serial_number)

    def forget(self, account_id: str, serial_number: str) -> None:
        """Drop the device's count (a right code, or the device enabled, deactivated or
        deleted)."""
        with self._lock:
            self._attempts.pop((account_id, serial_number), None)
