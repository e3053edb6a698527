"""IAM ARNs this account's entities are named by."""

from __future__ import annotations

from chamberlain.ops.core.context import OpContext


def iam_arn(ctx: OpContext, kind: str, name: str, path: str = "/") -> str:
    """arn:aws:iam::ACCOUNT:KIND/PATH/NAME (path "/" gives KIND/NAME)."""
    return f"arn:{ctx.services.partition}:iam::{ctx.account_id}:{kind}{path}{name}"


def account_root_arn(ctx: OpContext, account_id: str | None = None) -> str:
    return f"arn:{ctx.services.partition}:iam::{account_id or ctx.account_id}:root"
