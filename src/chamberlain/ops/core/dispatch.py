"""Run one operation: one unit of work, authorized by the engine, then the handler.

The API, the console and the CLI all come through `execute`, so authorization (and,
with the audit trail, the event written in the same transaction) happens in one place.
"""

from __future__ import annotations

from collections.abc import Callable

from chamberlain.ops.audit import records as audit
from chamberlain.ops.core import authz, catalog
from chamberlain.ops.core.context import Caller, OpContext, RequestMeta, Services
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.core.registry import Operation, Output, Params, lookup
from chamberlain.store.api import UnitOfWork

#: Every operation module, imported (and so registered) when dispatch is: at start-up.
OPERATION_MODULES = catalog.load()


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


def is_read_only(service: str, name: str) -> bool:
    """Whether `service:name` runs in a read-only unit of work (unknown ones do)."""
    op = lookup(service, name)
    return op is None or op.read_only


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
    event, then commit once. A read-only call's event goes to the group-commit writer;
    a failed call's event is written after the rollback. Authentication and decoding
    errors propagate unrecorded (the app records failures of known keys)."""
    read_only = is_read_only(service, name)
    if services.group_commit is not None and (service, name) in TRAIL_READERS:
        services.group_commit.flush()
    failure: ServiceError | None = None
    try:
        with services.store.unit_of_work(read_only=read_only) as uow:
            caller = authenticate(uow)
            params = decode()
            op = lookup(service, name)
            if op is None:
                raise UnknownOperation(f"{service}:{name}")
            accounts = _audit_accounts(caller, params)
            try:
                output = _run(uow, services, caller, meta, op, service, name, params, accounts)
            except ServiceError as error:
                failure = error
                raise
    except ServiceError as error:  # rolled back: the failure is recorded on its own
        if error is failure and services.audit:
            for account in accounts:
                if read_only:
                    audit.record_deferred(
                        services, caller, meta, service, name, params, error=error,
                        account_id=account,
                    )  # fmt: skip
                else:
                    audit.record_detached(
                        services, caller, meta, service, name, params, read_only=False,
                        error=error, account_id=account,
                    )  # fmt: skip
        raise
    if services.audit and read_only:
        for account in accounts:
            audit.record_deferred(
                services, caller, meta, service, name, params, account_id=account
            )  # fmt: skip
    return output


def _run(
    uow: UnitOfWork,
    services: Services,
    caller: Caller,
    meta: RequestMeta,
    op: Operation,
    service: str,
    name: str,
    params: Params,
    accounts: list[str],
) -> Output:
    ctx = OpContext(caller=caller, meta=meta, uow=uow, services=services)
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
                ctx, service, name, params, read_only=False, output=output, account_id=account
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
