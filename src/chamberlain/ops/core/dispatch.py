"""Run one operation: one unit of work, authorized by the engine, then the handler.

The API, the console and the CLI all come through `execute`, so authorization (and,
with the audit trail, the event written in the same transaction) happens in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from chamberlain.ops.audit import records as audit
from chamberlain.ops.core import auth_failures, authz, catalog, throttle
from chamberlain.ops.core.context import Caller, OpContext, RequestMeta, Services
from chamberlain.ops.core.errors import ConcurrentModification, ServiceError, ServiceFailure
from chamberlain.ops.core.registry import (
    Later,
    Operation,
    Output,
    Params,
    StalePreparation,
    lookup,
)
from chamberlain.store.api import LockOrder, UnitOfWork

#: Every operation module, imported (and so registered) when dispatch is: at start-up.
OPERATION_MODULES = catalog.load()
#: How often an operation is prepared again when what it prepared went stale.
PREPARE_ATTEMPTS = 3
#: ConcurrentModificationException's description in IAM's model.
CONCURRENT_MESSAGE = (
    "The request was rejected because multiple requests to change this object were "
    "submitted simultaneously. Wait a few minutes and submit your request again."
)


#: Operations that read what the group-commit writer writes (the audit trail, keys'
#: last use): on this node they see every call answered before them, so it is flushed
#: first.
TRAIL_READERS = frozenset(
    {
        ("cloudtrail", "LookupEvents"),
        ("iam", "GenerateServiceLastAccessedDetails"),
        ("iam", "GetAccessKeyLastUsed"),
        ("iam", "GenerateCredentialReport"),
    }
)


class UnknownOperation(LookupError):
    pass


def authorize_operation(ctx: OpContext, op: Operation, params: Params) -> None:
    if op.resource is None:
        return
    target = op.resource(ctx, params)
    ctx.resolved = target.entity
    authz.authorize(ctx, op.action, target.resource, target.context)
    for index, (action, resource) in enumerate(target.also):
        own = target.also_context[index] if index < len(target.also_context) else None
        authz.authorize(ctx, action, resource, target.context if own is None else own)


def execute(
    services: Services,
    caller: Caller,
    meta: RequestMeta,
    service: str,
    name: str,
    params: Params,
) -> Output:
    """Authorize and run `service:name` for `caller`; raises ServiceError subclasses."""
    if lookup(service, name) is None:
        raise UnknownOperation(f"{service}:{name}")
    return execute_request(services, meta, service, name, lambda _uow: caller, lambda: params)


@dataclass
class _Call:
    """What execute_request learns as it goes: who called with what, and the failure (if
    any) raised once the operation ran (authentication and decoding errors propagate
    unrecorded)."""

    caller: Caller | None = None
    params: Params = field(default_factory=dict)
    accounts: list[str] = field(default_factory=list)
    running: bool = False
    failure: ServiceError | None = None
    #: Accounts to lock up front (with the call's own, in order): asked for out of
    #: order by an earlier attempt (store.api.LockOrder).
    lock_first: set[str] = field(default_factory=set)


def execute_request(
    services: Services,
    meta: RequestMeta,
    service: str,
    name: str,
    authenticate: Callable[[UnitOfWork], Caller],
    decode: Callable[[], Params],
) -> Output:
    """One request in one unit of work: `authenticate` (given the unit of work, so the
    key and its owner are read in it), `decode` the input (after authentication, as AWS
    checks the signature first), authorize, run the handler and, for a write, append its
    event, then commit once. An operation with a preparer authenticates in the preparer's
    read-only unit of work instead; its write runs after the slow work, prepared again
    while what it read goes stale. A read-only call's event goes to the group-commit
    writer; a failed call's event is written after the rollback (a refused password's or
    MFA code's only as the first of its window, auth_failures.secret_refused). Authentication and
    decoding errors propagate unrecorded (the app records failures of known keys)."""
    op = lookup(service, name)
    read_only = op is None or op.read_only
    if services.group_commit is not None and (service, name) in TRAIL_READERS:
        services.group_commit.flush()
    call = _Call()
    try:
        output = _attempts(services, meta, service, name, op, authenticate, decode, call)
    except ServiceError as error:  # rolled back: the failure is recorded on its own
        if error is call.failure and call.caller is not None and services.audit:
            for account in call.accounts:
                if isinstance(error, throttle.RefusedSecret):  # a guess: counted
                    auth_failures.secret_refused(
                        services, meta, call.caller, service=service, operation=name,
                        params=call.params, error=error, account_id=account,
                    )  # fmt: skip
                elif read_only:
                    audit.record_deferred(
                        services, call.caller, meta, service, name, call.params, error=error,
                        account_id=account,
                    )  # fmt: skip
                else:
                    audit.record_detached(
                        services, call.caller, meta, service, name, call.params,
                        read_only=False, error=error, account_id=account,
                    )  # fmt: skip
        raise
    except Exception:  # a bug: the client gets a 500, and the trail still has the call
        if call.running and call.caller is not None and op is not None and services.audit:
            _record_internal_failure(
                services, call.caller, meta, service, name, call.params, op, call.accounts
            )
        raise
    if services.audit and read_only and call.caller is not None:
        for account in call.accounts:
            audit.record_deferred(
                services, call.caller, meta, service, name, call.params, account_id=account
            )  # fmt: skip
    return output


def _attempts(
    services: Services,
    meta: RequestMeta,
    service: str,
    name: str,
    op: Operation | None,
    authenticate: Callable[[UnitOfWork], Caller],
    decode: Callable[[], Params],
    call: _Call,
) -> Output:
    """Authenticate once, then prepare (if the operation does) and run; prepared again
    while the preparation goes stale (ConcurrentModification after PREPARE_ATTEMPTS)."""
    read_only = op is None or op.read_only
    for _ in range(PREPARE_ATTEMPTS):
        prepared: object = None
        if op is not None and op.prepare is not None:
            with services.store.unit_of_work(read_only=True) as reading:
                caller = _identify(reading, op, service, name, authenticate, decode, call)
                ctx = OpContext(caller=caller, meta=meta, uow=reading, services=services)
                call.running = True
                prepared = _failing(call, partial(_prepare, ctx, op, call.params))
            if isinstance(prepared, Later):  # slow work, holding no connection either
                prepared = _failing(call, prepared.run)
        try:
            while True:
                try:
                    with services.store.unit_of_work(read_only=read_only) as uow:
                        caller = _identify(uow, op, service, name, authenticate, decode, call)
                        ran = op
                        assert ran is not None  # _identify raised UnknownOperation otherwise
                        call.running = True
                        return _failing(
                            call,
                            partial(_run, uow, services, caller, meta, ran, call, prepared),
                        )
                except LockOrder as late:
                    # Something asked for an account's lock after a later account's:
                    # again, taking it first with the others, in order.
                    if late.account_id in call.lock_first:
                        raise
                    call.lock_first.add(late.account_id)
        except StalePreparation:
            continue
    call.failure = ConcurrentModification(CONCURRENT_MESSAGE)
    raise call.failure


def _identify(
    uow: UnitOfWork,
    op: Operation | None,
    service: str,
    name: str,
    authenticate: Callable[[UnitOfWork], Caller],
    decode: Callable[[], Params],
    call: _Call,
) -> Caller:
    """The caller: authenticated in `uow` the first time (then the input decoded)."""
    if call.caller is None:
        caller = authenticate(uow)
        call.params = decode()
        if op is None:
            raise UnknownOperation(f"{service}:{name}")
        call.accounts = _audit_accounts(caller, call.params)
        call.caller = caller
    return call.caller


def _prepare(ctx: OpContext, op: Operation, params: Params) -> object:
    """Authorize, then run the operation's preparer (in a read-only unit of work)."""
    assert op.prepare is not None
    authorize_operation(ctx, op, params)
    return op.prepare(ctx, params)


_R = TypeVar("_R")


def _failing(call: _Call, run: Callable[[], _R]) -> _R:
    """`run()`, noting a ServiceError it raises as the call's failure (to be recorded)."""
    try:
        return run()
    except ServiceError as error:
        call.failure = error
        raise


#: What the client is told of an internal error (app.py), and what its event says.
INTERNAL_FAILURE = ServiceFailure("An internal error occurred. Try again later.")


def _record_internal_failure(
    services: Services,
    caller: Caller,
    meta: RequestMeta,
    service: str,
    name: str,
    params: Params,
    op: Operation,
    accounts: list[str],
) -> None:
    """Record a call that failed with an unexpected error. The input may be what broke the
    store, so if recording it fails the event is recorded without it (and if that fails
    too, the original error is what propagates)."""
    for account in accounts:
        for recorded in (params, None):
            try:
                audit.record_detached(
                    services,
                    caller,
                    meta,
                    service,
                    name,
                    recorded,
                    read_only=op.read_only,
                    error=INTERNAL_FAILURE,
                    account_id=account,
                )
                break
            except Exception:
                continue


def _run(
    uow: UnitOfWork,
    services: Services,
    caller: Caller,
    meta: RequestMeta,
    op: Operation,
    call: _Call,
    prepared: object,
) -> Output:
    """Authorize and run in the request's unit of work (with what was prepared)."""
    ctx = OpContext(caller=caller, meta=meta, uow=uow, services=services, prepared=prepared)
    params, accounts = call.params, call.accounts
    if not op.read_only:
        # Every account this call writes to (its trail included), in one order,
        # so calls between two accounts in opposite directions cannot deadlock; an
        # account a handler locks later (a role's, say) must sort after these, or the
        # store raises LockOrder and the call starts again with it among them.
        for account in sorted({caller.account_id, *accounts, *call.lock_first}):
            uow.lock_account(account)
    authorize_operation(ctx, op, params)
    output = op.handler(ctx, params)
    if services.audit and not op.read_only:
        # The change and its event commit together, or neither does.
        for account in accounts:
            audit.record(
                ctx, op.service, op.name, params, read_only=False, output=output,
                account_id=account,
            )  # fmt: skip
    return output


def _audit_accounts(caller: Caller, params: Params) -> list[str]:
    """The accounts whose trails record the call: the caller's, and the role's account for
    a role assumed across accounts (as CloudTrail records it in both); for an unsigned
    federation call, only the role's."""
    accounts = [caller.account_id] if caller.account_id else []
    role_arn = params.get("RoleArn")
    if isinstance(role_arn, str) and role_arn.count(":") >= 5:
        role_account = role_arn.split(":")[4]
        if role_account.isdigit() and len(role_account) == 12 and role_account not in accounts:
            accounts.append(role_account)
    return accounts
