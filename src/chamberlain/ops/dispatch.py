"""Run one operation: one unit of work, authorized by the engine, then the handler.

The API, the console and the CLI all come through `execute`, so authorization (and,
with the audit trail, the event written in the same transaction) happens in one place.
"""

from __future__ import annotations

from chamberlain.ops import authz
from chamberlain.ops.context import Caller, OpContext, RequestMeta, Services
from chamberlain.ops.registry import Operation, Output, Params, lookup


class UnknownOperation(LookupError):
    pass


def authorize_operation(ctx: OpContext, op: Operation, params: Params) -> None:
    if op.resource is None:
        return
    target = op.resource(ctx, params)
    authz.authorize(ctx, op.action, target.resource, target.context)
    for action, resource in target.also:
        authz.authorize(ctx, action, resource, target.context)


def execute(
    services: Services,
    caller: Caller,
    meta: RequestMeta,
    service: str,
    name: str,
    params: Params,
) -> Output:
    """Authorize and run `service:name` for `caller`; raises ServiceError subclasses."""
    import chamberlain.ops.catalog  # noqa: F401  (registers every operation)

    op = lookup(service, name)
    if op is None:
        raise UnknownOperation(f"{service}:{name}")
    with services.store.unit_of_work(read_only=op.read_only) as uow:
        ctx = OpContext(caller=caller, meta=meta, uow=uow, services=services)
        if not op.read_only:
            uow.lock_account(caller.account_id)
        authorize_operation(ctx, op, params)
        return op.handler(ctx, params)
