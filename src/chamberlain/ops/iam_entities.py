"""What the identity and policy operations share: lookups with AWS's not-found messages,
authorization targets, policy ARNs, policy documents and the counters on managed policies.

Registers no operation (iam_users, iam_groups, iam_roles, iam_policies, ... do).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from chamberlain.domain import (
    Attachment,
    Group,
    InlinePolicy,
    ManagedPolicy,
    Role,
    Tags,
    User,
    joined,
)
from chamberlain.ops.aws_managed import AWS_MANAGED, AwsManagedPolicy
from chamberlain.ops.common import iam_arn, paginate, resource_tag_context
from chamberlain.ops.context import OpContext
from chamberlain.ops.errors import (
    AccessDenied,
    InvalidInput,
    LimitExceeded,
    MalformedPolicyDocument,
    NoSuchEntity,
)
from chamberlain.ops.registry import Target
from chamberlain.policy import MalformedPolicyDocument as PolicyMalformed
from chamberlain.policy import Policy, PolicyTooLarge, PolicyType, parse_policy
from chamberlain.policy.request import ContextValue
from chamberlain.policy.validate import (
    MANAGED_POLICY_MAX,
    policy_size,
)

# AWS's default quota: managed policies attached to one user, group or role.
MAX_ATTACHED_POLICIES = 10
PRINCIPAL_QUOTA_NAMES = {
    "user": "PoliciesPerUser",
    "group": "PoliciesPerGroup",
    "role": "PoliciesPerRole",
}

Context = dict[str, ContextValue]

# --------------------------------------------------------------------------- lookups


def get_user(ctx: OpContext, name: str) -> User | None:
    return ctx.uow.repo(User).get(ctx.account_id, name.lower())


def get_group(ctx: OpContext, name: str) -> Group | None:
    return ctx.uow.repo(Group).get(ctx.account_id, name.lower())


def get_role(ctx: OpContext, name: str) -> Role | None:
    return ctx.uow.repo(Role).get(ctx.account_id, name.lower())


def require_user(ctx: OpContext, name: str) -> User:
    user = get_user(ctx, name)
    if user is None:
        raise NoSuchEntity(f"The user with name {name} cannot be found.")
    return user


def require_group(ctx: OpContext, name: str) -> Group:
    group = get_group(ctx, name)
    if group is None:
        raise NoSuchEntity(f"The group with name {name} cannot be found.")
    return group


def require_role(ctx: OpContext, name: str) -> Role:
    role = get_role(ctx, name)
    if role is None:
        raise NoSuchEntity(f"The role with name {name} cannot be found.")
    return role


def require_principal(ctx: OpContext, kind: str, name: str) -> User | Group | Role:
    if kind == "user":
        return require_user(ctx, name)
    if kind == "group":
        return require_group(ctx, name)
    return require_role(ctx, name)


# --------------------------------------------------------------- authorization targets


def principal_target(
    ctx: OpContext,
    kind: str,
    name: str,
    *,
    extra: Mapping[str, ContextValue] | None = None,
    boundary_key: bool = False,
    also: tuple[str, ...] = (),
) -> Target:
    """The target of an operation on an existing user, group or role.

    The resource is the entity's ARN (with its path) when it exists, the path-less ARN
    otherwise (authorization comes before the existence check). The context carries
    aws:ResourceTag/* from its tags and, with `boundary_key`, iam:PermissionsBoundary
    from its current boundary; `also` names further actions on the same resource.
    """
    entity = (
        get_user(ctx, name)
        if kind == "user"
        else get_group(ctx, name)
        if kind == "group"
        else get_role(ctx, name)
    )
    context: Context = {}
    arn = iam_arn(ctx, kind, name)
    if entity is not None:
        arn = entity.arn
        if not isinstance(entity, Group):
            context.update(resource_tag_context(entity.tags, iam_keys=True))
            if boundary_key and entity.permissions_boundary:
                context["iam:PermissionsBoundary"] = entity.permissions_boundary
    if extra:
        context.update(extra)
    return Target(resource=arn, context=context, also=tuple((a, arn) for a in also))


# --------------------------------------------------------------------- policy ARNs

_POLICY_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):iam::(?P<account>[0-9]{12}|aws):policy"
    r"(?P<path>/(?:[\x21-\x7e]*/)?)(?P<name>[\w+=,.@-]+)"
)


def check_policy_arn(arn: str) -> None:
    """InvalidInput for text that is not a managed policy's ARN, as IAM words it."""
    if _POLICY_ARN.fullmatch(arn) is None:
        raise InvalidInput(f"ARN {arn} is not valid.")


def find_policy(ctx: OpContext, arn: str) -> ManagedPolicy | AwsManagedPolicy | None:
    """The customer managed policy of this account or the AWS managed policy at `arn`."""
    check_policy_arn(arn)
    builtin = AWS_MANAGED.get(arn)
    if builtin is not None:
        return builtin
    for policy in ctx.uow.repo(ManagedPolicy).list(ctx.account_id, ref=arn):
        return policy
    return None


def require_policy(ctx: OpContext, arn: str) -> ManagedPolicy | AwsManagedPolicy:
    policy = find_policy(ctx, arn)
    if policy is None:
        raise NoSuchEntity(f"Policy {arn} was not found.")
    return policy


def require_attachable(ctx: OpContext, arn: str) -> ManagedPolicy | AwsManagedPolicy:
    """A policy to attach or to use as a permissions boundary."""
    policy = find_policy(ctx, arn)
    if policy is None:
        raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
    return policy


def require_customer_policy(ctx: OpContext, arn: str, action: str) -> ManagedPolicy:
    """A policy the caller may change: AWS managed policies live in account "aws", where
    no one but AWS may write, so changing one is denied like any cross-account write."""
    policy = require_policy(ctx, arn)
    if isinstance(policy, AwsManagedPolicy):
        raise AccessDenied(
            f"User: {ctx.caller.arn} is not authorized to perform: {action} on resource: "
            f"{arn} because no resource-based policy allows the {action} action"
        )
    return policy


def policy_target(
    ctx: OpContext, params: Mapping[str, Any], extra: Mapping[str, ContextValue] | None = None
) -> Target:
    """The target of an operation on the managed policy named by PolicyArn."""
    arn = params["PolicyArn"]
    context: Context = {}
    if _POLICY_ARN.fullmatch(arn) is not None:
        for policy in ctx.uow.repo(ManagedPolicy).list(ctx.account_id, ref=arn):
            context.update(resource_tag_context(policy.tags))
    if extra:
        context.update(extra)
    return Target(resource=arn, context=context)


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


def change_boundary(ctx: OpContext, old: str | None, new: str | None) -> None:
    """Move one boundary use from policy `old` to policy `new` (either may be None)."""
    if old == new:
        return
    adjust_policy_counts(ctx, old, boundaries=-1)
    adjust_policy_counts(ctx, new, boundaries=1)


# ----------------------------------------------------------------- policy documents


def parse_document(text: str, kind: PolicyType, *, current_version: bool = False) -> Policy:
    """Parse and validate a document, with the policy engine's errors as IAM's."""
    try:
        policy = parse_policy(text, kind, current_version=current_version)
    except PolicyTooLarge as exc:
        raise LimitExceeded(exc.message) from exc
    except PolicyMalformed as exc:
        raise MalformedPolicyDocument(exc.message) from exc
    return policy


def check_size(text: str, limit: int, message: str) -> None:
    if policy_size(text) > limit:
        raise LimitExceeded(message)


def managed_document(text: str) -> None:
    """CreatePolicy / CreatePolicyVersion: an identity policy, Version 2012-10-17,
    at most MANAGED_POLICY_MAX characters (whitespace not counted)."""
    parse_document(text, PolicyType.IDENTITY, current_version=True)
    check_size(
        text, MANAGED_POLICY_MAX, f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_MAX}"
    )


def quota_exceeded(name: str, limit: int) -> LimitExceeded:
    return LimitExceeded(f"Cannot exceed quota for {name}: {limit}")


# ------------------------------------------------------------------- shared pieces


def list_tags(params: Mapping[str, Any], tags: Tags) -> dict[str, Any]:
    """ListXTags: the tags in the order they were added, paginated."""
    items = list(enumerate(tags))
    return paginate(
        dict(params),
        items,
        key=lambda item: f"{item[0]:04d}",
        member="Tags",
        render=lambda item: {"Key": item[1][0], "Value": item[1][1]},
    )


def rename_principal_policies(ctx: OpContext, kind: str, old: str, new: str) -> None:
    """Re-key the attachments and inline policies of a renamed user or group."""
    account = ctx.account_id
    prefix = joined(kind, old.lower(), "")
    for entity_type in (Attachment, InlinePolicy):
        repo = ctx.uow.repo(entity_type)
        for entity in repo.list(account, key_prefix=prefix):
            repo.delete(account, entity.key)
            repo.put(replace(entity, principal_name=new))


def compact(out: dict[str, Any]) -> dict[str, Any]:
    """An output structure without its absent (None) members."""
    return {k: v for k, v in out.items() if v is not None}
