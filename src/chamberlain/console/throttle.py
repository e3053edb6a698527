"""Sign-in throttling: the one place the console asks whether an attempt may proceed.

The database-backed counter that survives restarts and is shared by every node lives in
ops (built separately); these two functions are where it is connected. Until then every
attempt is allowed and failures are not counted.
"""

from __future__ import annotations

import datetime as dt

from chamberlain.ops.core.context import Services


def check_sign_in_allowed(
    services: Services, account_id: str, principal: str, source_ip: str, now: dt.datetime
) -> bool:
    """False: too many recent failures for this principal (or from this address); the
    attempt is refused before its password is checked."""
    return True


def record_sign_in_failure(
    services: Services, account_id: str, principal: str, source_ip: str, now: dt.datetime
) -> None:
    """Count one failed attempt (wrong password or wrong MFA code)."""


def record_sign_in_success(
    services: Services, account_id: str, principal: str, source_ip: str, now: dt.datetime
) -> None:
    """A successful sign-in: the principal's failure count starts again."""
