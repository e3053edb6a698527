"""Sign-in throttling: the one place the console asks whether an attempt may proceed.

The counters are the database-backed ones of `ops.core.throttle`, shared by every node and
kept across restarts: per principal signing in (its account and name) and per source
address (the same per-source count as the API's password checks). An attempt is counted
before its password or code is checked, so concurrent guesses cannot exceed the bound; a
right answer starts the principal's count again and stops counting against the source.
"""

from __future__ import annotations

import datetime as dt

from chamberlain.ops.core import throttle
from chamberlain.ops.core.context import Services


def _attempts(account_id: str, principal: str, source_ip: str) -> list[tuple[throttle.Limit, str]]:
    key = throttle.password_key(account_id, f"console:{principal.lower()}")
    return [(throttle.PASSWORD_USER, key), (throttle.PASSWORD_SOURCE, source_ip)]


def check_sign_in_allowed(
    services: Services, account_id: str, principal: str, source_ip: str, now: dt.datetime
) -> bool:
    """Counts this attempt; False (nothing counted) while the principal or the address is
    locked out after too many failures: the attempt is refused before anything is checked."""
    try:
        throttle.reserve(services.store, _attempts(account_id, principal, source_ip), now)
    except throttle.Locked:
        return False
    return True


def record_sign_in_failure(
    services: Services, account_id: str, principal: str, source_ip: str, now: dt.datetime
) -> None:
    """A wrong password or code: already counted when the attempt was allowed."""


def record_sign_in_success(
    services: Services, account_id: str, principal: str, source_ip: str, now: dt.datetime
) -> None:
    """A successful sign-in: the principal's count starts again, and this attempt no
    longer counts against the address."""
    (user_limit, user_key), (source_limit, source_key) = _attempts(
        account_id, principal, source_ip
    )
    with services.store.unit_of_work() as uow:
        throttle.clear(uow, user_limit, user_key)
        throttle.forgive(uow, source_limit, source_key)
