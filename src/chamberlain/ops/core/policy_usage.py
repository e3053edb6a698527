"""How a customer managed policy is used: its AttachmentCount and
PermissionsBoundaryUsageCount kept right as attachments and boundaries change, the
boundaries' index (BoundaryUse rows), and the PermissionsBoundary member of a user or role."""

from __future__ import annotations

from dataclasses import replace

from chamberlain.domain import BoundaryUse, ManagedPolicy, joined
from chamberlain.ops.core.context import OpContext


def adjust_policy_counts(
    ctx: OpContext, arn: str | None, *, attachments: int = 0, boundaries: int = 0
) -> None:
    """Keep AttachmentCount / PermissionsBoundaryUsageCount of a customer policy right.

    AWS managed policies are not stored: their counts are computed when read."""
    if not arn:
        return
    repo = ctx.uow.repo(ManagedPolicy)
    for policy in repo.list(ctx.account_id, ref=arn):
        repo.put(
            replace(
                policy,
                attachment_count=max(policy.attachment_count + attachments, 0),
                boundary_usage_count=max(policy.boundary_usage_count + boundaries, 0),
            )
        )


def boundary_out(arn: str | None) -> dict[str, str] | None:
    if not arn:
        return None
    return {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": arn}


def change_boundary(ctx: OpContext, kind: str, name: str, old: str | None, new: str | None) -> None:
    """Move the boundary of user or role `name` (`kind` "user" | "role") from policy
    `old` to policy `new` (either may be None: a boundary set, removed, or its user or
    role created or deleted): the policies' usage counts and the boundary's index."""
    if old == new:
        return
    uses = ctx.uow.repo(BoundaryUse)
    if old:
        adjust_policy_counts(ctx, old, boundaries=-1)
        uses.delete(ctx.account_id, joined(kind, name.lower(), old))
    if new:
        adjust_policy_counts(ctx, new, boundaries=1)
        uses.put(BoundaryUse(ctx.account_id, kind, name, new))
