"""Bounds on guessing, shared by every node through the database (`uow.counters`).

Two kinds of limit:

- Secrets a caller proves (passwords, MFA codes): `reserve` counts an attempt *before*
  the secret is checked, each under its `Limit` (per principal, per source, per device),
  in a short transaction of its own that takes no account lock. The first `free`
  attempts go through; from the `free`-th on, each attempt locks the counter for
  `base * 2**n` (n = attempts past `free`, at most `cap`), so guessing slows down
  exponentially. A locked counter refuses at once (`Locked`), without counting and
  without checking the secret, so a right answer is refused too while it lasts. A
  right answer clears the principal's counter (`clear`, in the operation's own unit of
  work); the counter otherwise forgets after `window` without attempts.
- Failed signatures with a known access key (`failed_authentication`): counted per key
  and per source in fixed windows; past `free` failures in a window, further failures
  from that key or source answer Throttling without any write. The first failure of a
  window is recorded in the trail as before; the window's total is recorded once it has
  ended, as one summary event (`ops/audit/records.record_failure_summary`), by the
  next failure with that key or by `sweep`, which the server runs periodically.

Counters live in the database, so two nodes share one bound and a restart keeps it.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from chamberlain.ops.core.errors import (
    AccessDenied,
    InvalidAuthenticationCode,
    InvalidUserType,
    LimitExceeded,
    ServiceError,
)
from chamberlain.store.api import Store, UnitOfWork
from chamberlain.store.counters import Counter


@dataclass(frozen=True)
class Limit:
    scope: str
    free: int  # attempts (or failures) allowed before any lock
    window: dt.timedelta  # quiet time after which the count starts again
    base: dt.timedelta = dt.timedelta(0)  # first lock; 0: a fixed window, no back-off
    cap: dt.timedelta = dt.timedelta(0)  # longest lock

    def backoff(self, past_free: int) -> dt.timedelta:
        """The lock after the attempt `past_free` attempts beyond the `free`-th."""
        factor: int = 1 << min(past_free, 32)
        return min(self.base * factor, self.cap)


#: Console and ChangePassword passwords, per IAM user (its unique id) and per source IP.
#: 5 tries, then 30 s, 1 min, 2 min ... 15 min between tries: ~100 guesses a day.
PASSWORD_USER = Limit(
    "password-user", 5, dt.timedelta(hours=1), dt.timedelta(seconds=30), dt.timedelta(minutes=15)
)
PASSWORD_SOURCE = Limit(
    "password-source", 20, dt.timedelta(hours=1), dt.timedelta(seconds=5), dt.timedelta(minutes=15)
)
#: One-time codes, per MFA device (every path: STS, Enable/ResyncMFADevice, console).
MFA_DEVICE = Limit(
    "mfa-device", 5, dt.timedelta(hours=1), dt.timedelta(minutes=1), dt.timedelta(minutes=30)
)
#: Failed signatures with a known access key, per key and per source, in fixed windows.
AUTHN_KEY = Limit("authn-key", 100, dt.timedelta(minutes=5))
AUTHN_SOURCE = Limit("authn-source", 300, dt.timedelta(minutes=5))
#: Refused passwords and MFA codes (ChangePassword, the root password's change, console
#: sign-in, Enable/ResyncMFADevice, STS TokenCodes), per principal, operation, source
#: (and device), in fixed windows: only counted for the trail (the limits above bound
#: the guessing).
PASSWORD_FAILURES = Limit("password-failure", 0, dt.timedelta(minutes=5))
#: Limits whose ended windows are summarized in the trail (`due_summaries`).
SUMMARIZED = (AUTHN_KEY, PASSWORD_FAILURES)
#: Limits whose counters are pruned by `sweep` once expired.
RESERVED = (PASSWORD_USER, PASSWORD_SOURCE, MFA_DEVICE)

#: The answer to an attempt while locked (AWS's wording for its own attempt limits).
LOCKED_MESSAGE = "Attempt limit exceeded, please try after some time."
THROTTLED_MESSAGE = "Rate exceeded"


#: Password hashes and verifications (argon2, built to use all the CPU and memory it is
#: given) running at once in this process, at most: beyond that they queue among
#: themselves, so a burst of them leaves CPU for every other request.
HASHING_SLOTS = max(1, (os.cpu_count() or 2) // 2)
_hashing = threading.BoundedSemaphore(HASHING_SLOTS)


@contextmanager
def hashing() -> Iterator[None]:
    """Hold one of the HASHING_SLOTS while hashing or verifying passwords (never while
    holding a lock or a write transaction)."""
    with _hashing:
        yield


class Locked(Exception):
    """Too many attempts lately: refused without checking."""

    def __init__(self, until: dt.datetime | None) -> None:
        super().__init__(LOCKED_MESSAGE)
        self.until = until


class RefusedSecret:
    """A ServiceError refusing a password or an MFA code (wrong, or its guesses locked):
    the dispatcher counts it (auth_failures.secret_refused) instead of recording each one
    in full. `device`: the MFA device whose code was refused (None: a password, or a
    serial number naming no device of the caller's)."""

    device: str | None = None


class RefusedPassword(RefusedSecret):
    """A refused password."""


class RefusedCode(RefusedSecret):
    """A refused MFA code."""


class WrongPassword(InvalidUserType, RefusedPassword, code="InvalidUserType", status=400):
    """ChangePassword's answer to a wrong old password."""


class PasswordLocked(LimitExceeded, RefusedPassword, code="LimitExceeded", status=409):
    """The answer to a password attempt while its user or source is locked."""


class WrongCode(
    InvalidAuthenticationCode, RefusedCode, code="InvalidAuthenticationCode", status=403
):
    """Enable/ResyncMFADevice's answer to wrong codes."""


class CodeLocked(LimitExceeded, RefusedCode, code="LimitExceeded", status=409):
    """Enable/ResyncMFADevice's answer while the device is locked."""


class CodeDenied(AccessDenied, RefusedCode, code="AccessDenied", status=403):
    """STS's answer to a wrong (or replayed, or locked) TokenCode."""


def refused_code(
    kind: type[WrongCode | CodeLocked | CodeDenied], message: str, device: str | None
) -> ServiceError:
    """A refusal (WrongCode, CodeLocked, CodeDenied) of a code for `device`, counted per
    device in the trail."""
    error = kind(message)
    error.device = device
    return error


def reserve(store: Store, attempts: Sequence[tuple[Limit, str]], now: dt.datetime) -> None:
    """Count one attempt under each (limit, key) before the secret is checked; Locked
    (nothing counted) when any of them is locked."""
    with store.unit_of_work(read_only=True) as uow:  # the usual refusal writes nothing
        for limit, key in attempts:
            current = uow.counters.get(limit.scope, key)
            if current is not None and current.locked(now):
                raise Locked(current.locked_until)
    with store.unit_of_work() as uow:  # raising rolls back what this attempt counted
        for limit, key in attempts:
            counter = uow.counters.hit(limit.scope, key, now, limit.window, sliding=True)
            if counter is None:
                current = uow.counters.get(limit.scope, key)
                raise Locked(current.locked_until if current else None)
            if counter.count >= limit.free:
                until = now + limit.backoff(counter.count - limit.free)
                uow.counters.lock(limit.scope, key, until, until + limit.window)


def clear(uow: UnitOfWork, limit: Limit, key: str) -> None:
    """A right answer: the counter starts again (in the operation's unit of work)."""
    uow.counters.clear(limit.scope, key)


def forgive(uow: UnitOfWork, limit: Limit, key: str) -> None:
    """A right answer from a source: its attempt no longer counts against the source
    (which may hold other users' wrong guesses, so it is not cleared)."""
    uow.counters.forgive(limit.scope, key)


def mfa_key(account_id: str, serial_number: str) -> str:
    return f"{account_id}/{serial_number}"


def password_key(account_id: str, user_id: str) -> str:
    return f"{account_id}/{user_id}"


# ------------------------------------------------------------ failed authentication


@dataclass(frozen=True)
class Failure:
    """What counting one failed authentication decided."""

    throttled: bool  # over the limit: answer Throttling, record nothing
    first_in_window: bool  # record this failure in full
    summaries: tuple[Counter, ...] = ()  # ended windows to record as summary events


def over_limit(store: Store, limits: Sequence[tuple[Limit, str]], now: dt.datetime) -> bool:
    """Has any (limit, key) used up its failures in the current window? (A read only.)"""
    with store.unit_of_work(read_only=True) as uow:
        for limit, key in limits:
            counter = uow.counters.get(limit.scope, key)
            if counter is not None and counter.expires > now and counter.count >= limit.free:
                return True
    return False


def authn_key(account_id: str, access_key_id: str) -> str:
    return f"{account_id}/{access_key_id}"


def failed_authentication(
    store: Store, account_id: str, access_key_id: str, source: str, now: dt.datetime
) -> Failure:
    """Count a failed signature by a known key (no account lock). Over the key's or the
    source's limit, nothing is written."""
    key = authn_key(account_id, access_key_id)
    limits = ((AUTHN_KEY, key), (AUTHN_SOURCE, source))
    if over_limit(store, limits, now):
        return Failure(throttled=True, first_in_window=False)
    with store.unit_of_work() as uow:
        ended = uow.counters.report(AUTHN_KEY.scope, key, now)
        counted = uow.counters.hit(AUTHN_KEY.scope, key, now, AUTHN_KEY.window, sliding=False)
        uow.counters.hit(AUTHN_SOURCE.scope, source, now, AUTHN_SOURCE.window, sliding=False)
    first = counted is not None and counted.count == 1
    return Failure(throttled=False, first_in_window=first, summaries=(ended,) if ended else ())


def refused_password(store: Store, key: str, now: dt.datetime) -> Failure:
    """Count a refused password (PASSWORD_FAILURES, no account lock): whether to record it
    in full (the window's first), and the window before to summarize, if it just ended."""
    with store.unit_of_work() as uow:
        scope, window = PASSWORD_FAILURES.scope, PASSWORD_FAILURES.window
        ended = uow.counters.report(scope, key, now)
        counted = uow.counters.hit(scope, key, now, window, sliding=False)
    first = counted is not None and counted.count == 1
    return Failure(throttled=False, first_in_window=first, summaries=(ended,) if ended else ())


def due_summaries(store: Store, now: dt.datetime, limit: int = 100) -> list[Counter]:
    """Claim the ended windows of failed authentications and refused passwords not
    summarized yet (each claimed by exactly one caller, on any node), and prune expired
    counters."""
    claimed: list[Counter] = []
    with store.unit_of_work() as uow:
        for summarized in SUMMARIZED:
            for counter in uow.counters.due(summarized.scope, now, limit):
                mine = uow.counters.report(summarized.scope, counter.key, now)
                if mine is not None:
                    claimed.append(mine)
            uow.counters.prune(summarized.scope, now, keep_unreported=True)
        uow.counters.prune(AUTHN_SOURCE.scope, now)
        for reserved in RESERVED:
            uow.counters.prune(reserved.scope, now)
    return claimed
