"""Failed authentications with a known access key: counted, summarized, throttled.

A wrong signature costs the attacker nothing but a key id (which is not a secret), so it
must cost the server little too. Each one is counted per key and per source
(throttle.failed_authentication: one upsert, no account lock). Only the first failure of
a key's window is recorded in full in the key owner's trail (as `record_auth_failure`
always did); the window's total follows as one summary event once the window ended
(`records.record_auth_failure_summary`), written by the next failure with that key or
by `sweep`. Past the limit, failures answer Throttling and write nothing at all.
A rightly signed request is never throttled: holding a key id does not let anyone shut
its owner out.
"""

from __future__ import annotations

import datetime as dt

from chamberlain.domain import AccessKey
from chamberlain.ops.audit import records as audit
from chamberlain.ops.core import throttle
from chamberlain.ops.core.authn import KeyAuthenticationFailed, caller_for_key
from chamberlain.ops.core.context import Caller, RequestMeta, Services
from chamberlain.ops.core.errors import ServiceError, Throttling
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


def _summarize(services: Services, counter: Counter) -> int:
    if counter.count <= 1 or not services.audit:  # the one failure is recorded in full
        return 0
    account_id, _, access_key_id = counter.key.partition("/")
    identity: Caller | None = None
    with services.store.unit_of_work(read_only=True) as uow:
        access_key = uow.repo(AccessKey).get(account_id, access_key_id)
        if access_key is not None:
            identity = caller_for_key(uow, access_key)
    audit.record_auth_failure_summary(
        services,
        account_id=account_id,
        access_key_id=access_key_id,
        identity=identity,
        failures=counter.count,
        first=counter.first,
        last=counter.last,
        window_seconds=int(throttle.AUTHN_KEY.window.total_seconds()),
        limit=throttle.AUTHN_KEY.free,
    )
    return 1
