"""What the identity and policy operations share: lookups with AWS's not-found messages,
authorization targets, policy ARNs, policy documents and the counters on managed policies.

Registers no operation (iam/users.py, iam/groups.py, iam/roles.py, iam/policies.py ... do).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from chamberlain.domain import (
    Attachment,
    Group,
    InlinePolicy,
    ManagedPolicy,
    Role,
    User,
    joined,
)
from chamberlain.ops.core.aws_managed import AWS_MANAGED, AwsManagedPolicy
from chamberlain.ops.core.common import iam_arn, resource_tag_context
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import (
    AccessDenied,
    EntityAlreadyExists,
    InvalidInput,
    LimitExceeded,
    MalformedPolicyDocument,
    NoSuchEntity,
)
from chamberlain.ops.core.registry import Params, Target
from chamberlain.ops.core.tagging import creation_target
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

# ------------------------------------------------------------ users, groups and roles

P = TypeVar("P", User, Group, Role)


@dataclass(frozen=True)
class PrincipalKind(Generic[P]):
    """What the operations need to know of users, groups or roles: the stored class, the
    ARN's resource type ("user"), the request member naming one ("UserName"); from them,
    the lookups with AWS's not-found message and the authorization target."""

    entity: type[P]
    arn_kind: str
    name_param: str

    def get(self, ctx: OpContext, name: str) -> P | None:
        return ctx.uow.repo(self.entity).get(ctx.account_id, name.lower())

    def not_found(self, name: str) -> NoSuchEntity:
        return NoSuchEntity(f"The {self.arn_kind} with name {name} cannot be found.")

    def require(self, ctx: OpContext, name: str) -> P:
        """The entity `name` (the one the resolver read, when it did), or NoSuchEntity."""
        entity = ctx.take_resolved(self.entity, name.lower()) or self.get(ctx, name)
        if entity is None:
            raise self.not_found(name)
        return entity

    def target(
        self,
        ctx: OpContext,
        name: str,
        *,
        extra: Mapping[str, ContextValue] | None = None,
        boundary_key: bool = False,
        also: tuple[str, ...] = (),
    ) -> Target:
        """The target of an operation on an existing entity of this kind.

        The resource is the entity's ARN (with its path) when it exists, the path-less ARN
        otherwise (authorization comes before the existence check). The context carries
        aws:ResourceTag/* from its tags (users and roles) and, with `boundary_key`,
        iam:PermissionsBoundary from its current boundary; `also` names further actions
        on the same resource.
        """
        entity = self.get(ctx, name)
        context: Context = {}
        arn = iam_arn(ctx, self.arn_kind, name)
        if entity is not None:
            arn = entity.arn
            if not isinstance(entity, Group):
                context.update(resource_tag_context(entity.tags, iam_keys=True))
                if boundary_key and entity.permissions_boundary:
                    context["iam:PermissionsBoundary"] = entity.permissions_boundary
        if extra:
            context.update(extra)
        also_pairs = tuple((a, arn) for a in also)
        return Target(resource=arn, context=context, also=also_pairs, entity=entity)

    def create_target(self, ctx: OpContext, params: Params, tag_action: str) -> Target:
        """CreateUser / CreateRole: the new entity's ARN, the request's tags and boundary as
        condition keys, and `tag_action` (iam:TagUser) when tags come with it."""
        arn = iam_arn(ctx, self.arn_kind, params[self.name_param], params.get("Path") or "/")
        target = creation_target(arn, params, tag_action)
        if not params.get("PermissionsBoundary"):
            return target
        boundary = {"iam:PermissionsBoundary": params["PermissionsBoundary"]}
        return replace(target, context={**target.context, **boundary})

    def check_new(self, ctx: OpContext, name: str, boundary: str | None, quota: int) -> None:
        """Before creating `name`: not taken, its boundary attachable, under the quota."""
        repo = ctx.uow.repo(self.entity)
        if repo.get(ctx.account_id, name.lower()) is not None:
            noun = self.arn_kind.capitalize()
            raise EntityAlreadyExists(f"{noun} with name {name} already exists.")
        if boundary:
            require_attachable(ctx, boundary)
        if repo.count(ctx.account_id) >= quota:
            raise quota_exceeded(f"{self.arn_kind.capitalize()}sPerAccount", quota)


def role_fields(role: Role) -> dict[str, Any]:
    """The Role shape's members every rendering of a role has (ListRoles, instance
    profiles, authorization details), its trust policy as given."""
    return {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": role.created,
        "AssumeRolePolicyDocument": role.assume_role_policy,
    }


USERS = PrincipalKind(User, "user", "UserName")
GROUPS = PrincipalKind(Group, "group", "GroupName")
ROLES = PrincipalKind(Role, "role", "RoleName")
KINDS: dict[str, PrincipalKind[User] | PrincipalKind[Group] | PrincipalKind[Role]] = {
    "user": USERS,
    "group": GROUPS,
    "role": ROLES,
}

get_user = USERS.get
get_group = GROUPS.get
get_role = ROLES.get
require_user = USERS.require
require_group = GROUPS.require
require_role = ROLES.require


def require_principal(ctx: OpContext, kind: str, name: str) -> User | Group | Role:
    return KINDS[kind].require(ctx, name)


def principal_target(
    ctx: OpContext,
    kind: str,
    name: str,
    *,
    extra: Mapping[str, ContextValue] | None = None,
    boundary_key: bool = False,
    also: tuple[str, ...] = (),
) -> Target:
    """The target of an operation on the user, group or role `name` (PrincipalKind.target)."""
    return KINDS[kind].target(ctx, name, extra=extra, boundary_key=boundary_key, also=also)


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


def rename_principal_policies(ctx: OpContext, kind: str, old: str, new: str) -> None:
    """Re-key the attachments and inline policies of a renamed user or group."""
    account = ctx.account_id
    prefix = joined(kind, old.lower(), "")
    entity_types: tuple[type[Attachment] | type[InlinePolicy], ...] = (Attachment, InlinePolicy)
    for entity_type in entity_types:
        repo = ctx.uow.repo(entity_type)
        for entity in repo.list(account, key_prefix=prefix):
            repo.delete(account, entity.key)
            repo.put(replace(entity, principal_name=new))
