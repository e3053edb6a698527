"""Run one operation: one unit of work, authorized by the engine, then the handler.

The API, the console and the CLI all come through `execute`, so authorization (and,
with the audit trail, the event written in the same transaction) happens in one place.
"""

from __future__ import annotations

from chamberlain.ops.audit import records as audit
from chamberlain.ops.core import authz, catalog
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

#: Every operation module, imported (and so registered) when dispatch is: at start-up.
OPERATION_MODULES = catalog.load()
#: How often an operation is prepared again when what it prepared went stale.
PREPARE_ATTEMPTS = 3
#: ConcurrentModificationException's description in IAM's model.
CONCURRENT_MESSAGE = (
    "The request was rejected because multiple requests to change this object were "
    "submitted simultaneously. Wait a few minutes and submit your request again."
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
    op = lookup(service, name)
    if op is None:
        raise UnknownOperation(f"{service}:{name}")
    accounts = _audit_accounts(caller, params)
    try:
        for _ in range(PREPARE_ATTEMPTS):
            try:
                output = _run(services, caller, meta, op, params, accounts)
                break
            except StalePreparation:
                continue
        else:
            raise ConcurrentModification(CONCURRENT_MESSAGE)
    except ServiceError as error:  # rolled back: the failure is recorded on its own
        if services.audit:
            for account in accounts:
                audit.record_detached(
                    services,
                    caller,
                    meta,
                    service,
                    name,
                    params,
                    read_only=op.read_only,
                    error=error,
                    account_id=account,
                )
        raise
    except Exception:  # a bug: the client gets a 500, and the trail still has the call
        if services.audit:
            _record_internal_failure(services, caller, meta, service, name, params, op, accounts)
        raise
    if services.audit and op.read_only:
        for account in accounts:
            audit.record_detached(
                services, caller, meta, service, name, params, read_only=True, account_id=account
            )
    return output


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
    services: Services,
    caller: Caller,
    meta: RequestMeta,
    op: Operation,
    params: Params,
    accounts: list[str],
) -> Output:
    """Prepare (no lock held), then authorize and run in one unit of work."""
    prepared: object = None
    if op.prepare is not None:
        with services.store.unit_of_work(read_only=True) as reading:
            ctx = OpContext(caller=caller, meta=meta, uow=reading, services=services)
            authorize_operation(ctx, op, params)
            prepared = op.prepare(ctx, params)
        if isinstance(prepared, Later):  # slow work, holding no connection either
            prepared = prepared.run()
    with services.store.unit_of_work(read_only=op.read_only) as uow:
        ctx = OpContext(caller=caller, meta=meta, uow=uow, services=services, prepared=prepared)
        if not op.read_only:
            # Every account this call writes to (its trail included), in one order,
            # so calls between two accounts in opposite directions cannot deadlock.
            for account in sorted({caller.account_id, *accounts}):
                uow.lock_account(account)
        authorize_operation(ctx, op, params)
        output = op.handler(ctx, params)
        if services.audit and not op.read_only:
            # The change and its event commit together, or neither does.
            for account in accounts:
                audit.record(
                    ctx,
                    op.service,
                    op.name,
                    params,
                    read_only=False,
                    output=output,
                    account_id=account,
                )
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
