"""Failed authentications with a known access key: counted, summarized, throttled.

A wrong signature costs the attacker nothing but a key id (which is not a secret), so it
must cost the server little too. Each one is counted per key and per source
(throttle.failed_authentication: one upsert, no account lock). Only the first failure of
a key's window is recorded in full in the key owner's trail (as `record_auth_failure`
always did); the window's total follows as one summary event once the window ended
(`records.record_failure_summary`), written by the next failure with that key or
by `sweep`. Past the limit, failures answer Throttling and write nothing at all.
A rightly signed request is never throttled: holding a key id does not let anyone shut
its owner out.

Refused passwords and MFA codes (ChangePassword's wrong old password or locked
attempts, the console's root password change, console sign-in failures, wrong or locked
codes of Enable/ResyncMFADevice and of STS's TokenCode) are aggregated the same way, per
principal, operation and source, and device for a code (throttle.PASSWORD_FAILURES): the
first of a window is recorded in full (handed to the group-commit writer, so the request
takes no account lock), the window's total follows as one summary event. The guessing
itself is bounded by throttle.PASSWORD_USER, PASSWORD_SOURCE and MFA_DEVICE.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from chamberlain.domain import ROOT, AccessKey, User
from chamberlain.ops.audit import records as audit
from chamberlain.ops.core import throttle
from chamberlain.ops.core.accounts import root_caller
from chamberlain.ops.core.authn import KeyAuthenticationFailed, caller_for_key, user_caller
from chamberlain.ops.core.context import Caller, RequestMeta, Services
from chamberlain.ops.core.errors import ServiceError, Throttling
from chamberlain.policy import PrincipalType
from chamberlain.store.counters import Counter


def authentication_failed(
    services: Services,
    meta: RequestMeta,
    failed: KeyAuthenticationFailed,
    *,
    service: str,
    operation: str,
) -> ServiceError:
    """Count (and maybe record) one failure; returns the error to answer."""
    key = failed.key
    failure = throttle.failed_authentication(
        services.store, key.account_id, key.access_key_id, meta.source_ip, meta.now
    )
    if failure.throttled:
        return Throttling(throttle.THROTTLED_MESSAGE)
    if services.audit:
        for ended in failure.summaries:  # the window before, then this one's first
            _summarize(services, ended)
        if failure.first_in_window:
            audit.record_auth_failure(
                services,
                meta,
                service=service,
                operation=operation,
                access_key_id=key.access_key_id,
                account_id=key.account_id,
                identity=key.identity,
                error=failed.error,
            )
    return failed.error


def sweep(services: Services, now: dt.datetime) -> int:
    """Record the summaries of ended windows (on whichever node claims them first) and
    prune expired counters; returns how many summaries were written."""
    written = 0
    for ended in throttle.due_summaries(services.store, now):
        written += _summarize(services, ended)
    return written


def secret_refused(
    services: Services,
    meta: RequestMeta,
    caller: Caller,
    *,
    service: str,
    operation: str,
    params: Mapping[str, Any] | None,
    error: ServiceError,
    account_id: str,
) -> None:
    """A refused password or MFA code of an API call (ChangePassword, Enable and
    ResyncMFADevice, an STS TokenCode): counted; recorded in full (by the group-commit
    writer: no account lock) only as the first of its principal's, source's and device's
    window."""
    device = error.device if isinstance(error, throttle.RefusedSecret) else None
    if _first_refusal(services, meta, caller, service, operation, account_id, device):
        audit.record_deferred(
            services, caller, meta, service, operation, params, error=error,
            account_id=account_id, read_only=False,
        )  # fmt: skip


def root_password_change_refused(
    services: Services, meta: RequestMeta, caller: Caller, error: ServiceError
) -> None:
    """The console's root password change refused: a wrong old password (or an attempt
    while locked) is counted, and a PasswordUpdated Failure event recorded for the first
    of its source's window; any other refusal is recorded in full. Both by the
    group-commit writer: no account lock."""
    if isinstance(error, throttle.RefusedSecret) and not _first_refusal(
        services, meta, caller, "signin", "PasswordUpdated", caller.account_id
    ):
        return
    if services.audit:
        audit.record_password_update_failure(services, meta, caller)


def sign_in_failed(
    services: Services, meta: RequestMeta, identity: Caller, *, mfa_used: bool, login_to: str
) -> None:
    """A failed console sign-in of a known account: counted; a ConsoleLogin Failure event
    for the first of its principal's and source's window."""
    if _first_refusal(services, meta, identity, "signin", "ConsoleLogin", identity.account_id):
        audit.record_sign_in(
            services, meta, identity=identity, success=False, mfa_used=mfa_used,
            login_to=login_to, deferred=True,
        )  # fmt: skip


def _first_refusal(
    services: Services,
    meta: RequestMeta,
    caller: Caller,
    service: str,
    operation: str,
    account_id: str,
    device: str | None = None,
) -> bool:
    """Count a refusal (for the trail: nothing without one); whether it is its window's
    first, to be recorded in full."""
    if not services.audit:
        return False
    name = ROOT if caller.type is PrincipalType.ROOT else (caller.user_name or audit.HIDDEN)
    # No part before the name holds a "/" (user names cannot); a serial number may.
    parts = (account_id, service, operation, meta.source_ip, name)
    key = "/".join((*parts, device) if device else parts)
    failure = throttle.refused_password(services.store, key, meta.now)
    for ended in failure.summaries:
        _summarize(services, ended)
    return failure.first_in_window


def _summarize(services: Services, counter: Counter) -> int:
    """Record an ended window's summary event (none for a lone failure, in full already)."""
    if counter.count <= 1 or not services.audit:
        return 0
    if counter.scope == throttle.PASSWORD_FAILURES.scope:
        account_id, service, operation, source, name, *device = counter.key.split("/", 5)
        identity, resources = _refused_identity(services, account_id, name)
        details: dict[str, Any] = {"refusedOperation": operation, "sourceIPAddress": source}
        if device:
            details["serialNumber"] = device[0]
            resources.append(["AWS::IAM::MFADevice", device[0]])
        details.update(_window(counter, throttle.PASSWORD_FAILURES))
    else:
        account_id, _, access_key_id = counter.key.partition("/")
        service, resources = "iam", [["AWS::IAM::AccessKey", access_key_id]]
        identity = _key_identity(services, account_id, access_key_id)
        details = {"accessKeyId": access_key_id, **_window(counter, throttle.AUTHN_KEY)}
        details["throttled"] = counter.count >= throttle.AUTHN_KEY.free
    audit.record_failure_summary(
        services,
        account_id=account_id,
        identity=identity,
        service=service,
        last=counter.last,
        details=details,
        resources=resources,
    )
    return 1


def _window(counter: Counter, limit: throttle.Limit) -> dict[str, Any]:
    return {
        "failedAuthentications": counter.count,
        "firstFailureTime": audit.iso_time(counter.first),
        "lastFailureTime": audit.iso_time(counter.last),
        "windowSeconds": int(limit.window.total_seconds()),
    }


def _key_identity(services: Services, account_id: str, access_key_id: str) -> dict[str, Any]:
    """Whose key failed (its id added), or the account and key id when its user is gone."""
    with services.store.unit_of_work(read_only=True) as uow:
        access_key = uow.repo(AccessKey).get(account_id, access_key_id)
        owner = caller_for_key(uow, access_key) if access_key is not None else None
    if owner is None:
        return {"accountId": account_id, "accessKeyId": access_key_id}
    return {**audit.user_identity(owner), "accessKeyId": access_key_id}


def _refused_identity(
    services: Services, account_id: str, name: str
) -> tuple[dict[str, Any], list[list[str]]]:
    """Whose password was refused (root, a user, or HIDDEN: unknown names), and the
    event's resources."""
    if name == ROOT:
        return audit.user_identity(root_caller(account_id)), []
    identity: dict[str, Any] = {"accountId": account_id, "userName": name}
    if name == audit.HIDDEN:
        return identity, []
    with services.store.unit_of_work(read_only=True) as uow:
        user = uow.repo(User).get(account_id, name.lower())
    if user is not None:
        identity = audit.user_identity(user_caller(user))
    return identity, [["AWS::IAM::User", name]]
