"""STS operations. GetCallerIdentity needs no permission, as in AWS."""

from __future__ import annotations

from chamberlain.ops.context import OpContext
from chamberlain.ops.registry import Output, Params, operation


@operation("sts", "GetCallerIdentity", resource=None, read_only=True)
def get_caller_identity(ctx: OpContext, params: Params) -> Output:
    caller = ctx.caller
    user_id = caller.principal_id
    if caller.session is not None and caller.session.session_name:
        user_id = f"{caller.session.issuer_id}:{caller.session.session_name}"
    return {"UserId": user_id, "Account": caller.account_id, "Arn": caller.arn}
