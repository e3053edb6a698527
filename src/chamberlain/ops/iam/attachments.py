"""Managed policies attached to users, groups and roles: Attach/Detach/ListAttached
{User,Group,Role}Policies and ListEntitiesForPolicy.

Attach and detach are authorized on the user, group or role with iam:PolicyARN (and,
for users and roles, iam:PermissionsBoundary of their current boundary) in the context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chamberlain.domain import Attachment, BoundaryUse, Group, Role, User, joined
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import (
    PRINCIPAL_WORDS,
    check_policy_arn,
    find_policy,
    policy_target,
    principal_target,
    require_attachable,
    require_policy,
    require_principal,
)
from chamberlain.ops.core.errors import NoSuchEntity
from chamberlain.ops.core.pagination import Fetch, paginate_fetched, paginate_keyset
from chamberlain.ops.core.policy_usage import adjust_policy_counts
from chamberlain.ops.core.quotas import MAX_ATTACHED_POLICIES, PRINCIPAL_QUOTA_NAMES, quota_exceeded
from chamberlain.ops.core.registry import Handler, Output, Params, Resolver, Target, operation
from chamberlain.ops.iam import role_protection as slr


def _attachments(ctx: OpContext, kind: str, key: str) -> list[Attachment]:
    return ctx.uow.repo(Attachment).list(ctx.account_id, key_prefix=joined(kind, key, ""))


def _policy_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _require_changeable(ctx: OpContext, kind: str, name: str) -> User | Group | Role:
    """The principal, unless it is a service-linked role (UnmodifiableEntity)."""
    principal = require_principal(ctx, kind, name)
    if isinstance(principal, Role):
        slr.require_modifiable(principal)
    return principal


def _attach_target(kind: str, name_param: str) -> Resolver:
    def resolve(ctx: OpContext, params: Params) -> Target:
        return principal_target(
            ctx,
            kind,
            params[name_param],
            extra={"iam:PolicyARN": params["PolicyArn"]},
            boundary_key=kind != "group",
        )

    return resolve


def _list_target(kind: str, name_param: str) -> Resolver:
    return lambda ctx, params: principal_target(ctx, kind, params[name_param])


def _attach(kind: str, name_param: str) -> Handler:
    def handler(ctx: OpContext, params: Params) -> Output:
        arn = params["PolicyArn"]
        check_policy_arn(arn)
        principal = _require_changeable(ctx, kind, params[name_param])
        require_attachable(ctx, arn)
        repo = ctx.uow.repo(Attachment)
        if repo.get(ctx.account_id, joined(kind, principal.key, arn)) is not None:
            return None  # attaching an attached policy again succeeds, as in AWS
        if len(_attachments(ctx, kind, principal.key)) >= MAX_ATTACHED_POLICIES:
            raise quota_exceeded(PRINCIPAL_QUOTA_NAMES[kind], MAX_ATTACHED_POLICIES)
        repo.add(
            Attachment(
                account_id=ctx.account_id,
                principal_kind=kind,
                principal_name=principal.name,
                policy_arn=arn,
            )
        )
        adjust_policy_counts(ctx, arn, attachments=1)
        return None

    return handler


def _detach(kind: str, name_param: str) -> Handler:
    def handler(ctx: OpContext, params: Params) -> Output:
        arn = params["PolicyArn"]
        check_policy_arn(arn)
        principal = _require_changeable(ctx, kind, params[name_param])
        if not ctx.uow.repo(Attachment).delete(ctx.account_id, joined(kind, principal.key, arn)):
            raise NoSuchEntity(f"Policy {arn} was not found.")
        adjust_policy_counts(ctx, arn, attachments=-1)
        return None

    return handler


def _list_attached(kind: str, name_param: str) -> Handler:
    def handler(ctx: OpContext, params: Params) -> Output:
        principal = require_principal(ctx, kind, params[name_param])
        prefix = params.get("PathPrefix") or "/"

        def keep(attachment: Attachment) -> bool:
            policy = find_policy(ctx, attachment.policy_arn)
            return policy is not None and policy.path.startswith(prefix)

        return paginate_keyset(  # the principal's attachments after the marker
            params,
            ctx.uow.repo(Attachment),
            ctx.account_id,
            member="AttachedPolicies",
            render=lambda a: {"PolicyName": _policy_name(a.policy_arn), "PolicyArn": a.policy_arn},
            keep=keep,
            key_prefix=joined(kind, principal.key, ""),
        )

    return handler


for _word, (_kind, _param) in PRINCIPAL_WORDS.items():
    operation("iam", f"Attach{_word}Policy", resource=_attach_target(_kind, _param))(
        _attach(_kind, _param)
    )
    operation("iam", f"Detach{_word}Policy", resource=_attach_target(_kind, _param))(
        _detach(_kind, _param)
    )
    operation(
        "iam",
        f"ListAttached{_word}Policies",
        resource=_list_target(_kind, _param),
        read_only=True,
    )(_list_attached(_kind, _param))


# ------------------------------------------------------------- entities for policy


@dataclass(frozen=True)
class _Entity:
    kind: str  # "group" | "role" | "user"
    name: str
    entity_id: str
    path: str

    @property
    def key(self) -> str:
        return joined(self.kind, self.name.lower())


_ENTITY_TYPES: dict[str, tuple[type[User] | type[Group] | type[Role], Callable[[Any], str]]] = {
    "user": (User, lambda e: e.user_id),
    "group": (Group, lambda e: e.group_id),
    "role": (Role, lambda e: e.role_id),
}
_FILTERS = {"User": "user", "Group": "group", "Role": "role"}
_MEMBERS = {
    "group": ("PolicyGroups", "GroupName", "GroupId"),
    "user": ("PolicyUsers", "UserName", "UserId"),
    "role": ("PolicyRoles", "RoleName", "RoleId"),
}


def _entity(ctx: OpContext, kind: str, name: str) -> _Entity | None:
    entity_type, id_of = _ENTITY_TYPES[kind]
    entity = ctx.uow.repo(entity_type).get(ctx.account_id, name.lower())
    if entity is None:
        return None
    return _Entity(kind, entity.name, id_of(entity), entity.path)


Use = Attachment | BoundaryUse  # keyed (kind, name, policy ARN), ref the policy ARN


def _uses(ctx: OpContext, arn: str, usage: str | None, kind: str | None) -> Fetch[Use]:
    """The attachments of policy `arn` (PermissionsPolicy) and the users and roles it
    bounds (PermissionsBoundary; both when `usage` is None), of principal `kind` only
    when given, read from the store a page at a time: both indexes by the policy ARN,
    merged in key order, an entity that uses the policy both ways once."""
    prefix = joined(kind, "") if kind else None
    sources: list[type[Attachment] | type[BoundaryUse]] = []
    if usage in (None, "PermissionsPolicy"):
        sources.append(Attachment)
    if usage in (None, "PermissionsBoundary") and kind != "group":  # groups have none
        sources.append(BoundaryUse)

    def fetch(after: str | None, limit: int) -> list[Use]:
        merged: dict[str, Use] = {}
        for source in sources:
            repo = ctx.uow.repo(source)
            for use in repo.list(
                ctx.account_id, ref=arn, key_prefix=prefix, after=after, limit=limit
            ):
                merged.setdefault(use.key, use)
        return [merged[key] for key in sorted(merged)[:limit]]

    return fetch


def _no_uses(after: str | None, limit: int) -> list[Use]:
    return []


@operation("iam", "ListEntitiesForPolicy", resource=policy_target, read_only=True)
def list_entities_for_policy(ctx: OpContext, params: Params) -> Output:
    """The users, groups and roles the policy is attached to (PermissionsPolicy) or
    that use it as their boundary (PermissionsBoundary); both when no filter is given.
    EntityFilter LocalManagedPolicy / AWSManagedPolicy name no user, group or role.

    A keyset page of the store's indexes on the policy ARN (attachments, boundary
    uses): its cost does not grow with the account's size or the page's position."""
    arn = params["PolicyArn"]
    require_policy(ctx, arn)
    wanted = params.get("EntityFilter")
    prefix = params.get("PathPrefix") or "/"
    usage = params.get("PolicyUsageFilter")
    entities: dict[str, _Entity | None] = {}

    def entity_of(use: Use) -> _Entity | None:
        key = joined(use.principal_kind, use.principal_name.lower())
        if key not in entities:
            entities[key] = _entity(ctx, use.principal_kind, use.principal_name)
        return entities[key]

    def kept(use: Use) -> bool:
        entity = entity_of(use)
        return entity is not None and entity.path.startswith(prefix)

    kind = _FILTERS.get(wanted or "")
    # EntityFilter LocalManagedPolicy / AWSManagedPolicy: no user, group or role
    fetch = _no_uses if wanted is not None and kind is None else _uses(ctx, arn, usage, kind)
    page = paginate_fetched(
        params, fetch, key=lambda u: u.key, member="_entities", render=entity_of, keep=kept
    )
    out: dict[str, Any] = {member: [] for member, _, _ in _MEMBERS.values()}
    for entity in page.pop("_entities"):
        member, name_key, id_key = _MEMBERS[entity.kind]
        out[member].append({name_key: entity.name, id_key: entity.entity_id})
    out.update(page)
    return out
