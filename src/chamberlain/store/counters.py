"""Attempt counters: the storage vocabulary of ops/core/throttle.py, shared by every store.

A counter is one row per (scope, key), e.g. ("mfa-device", "ACCOUNT/SERIAL"): how many
attempts were counted since `first`, the last one, until when further attempts are
refused (`locked_until`), how many of the attempts a summary event already reported, and
when the row expires. An expired counter counts again from 1 and may be pruned.

Every change is one atomic statement on the row (INSERT ... ON CONFLICT DO UPDATE ...
RETURNING, or UPDATE ... WHERE ... RETURNING), so several nodes sharing one database
never lose an increment, and none of them takes an account lock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Counter:
    scope: str
    key: str
    count: int
    first: dt.datetime
    last: dt.datetime
    locked_until: dt.datetime | None
    reported: int
    expires: dt.datetime

    def locked(self, now: dt.datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now
