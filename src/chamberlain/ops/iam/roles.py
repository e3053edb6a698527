"""IAM roles: CreateRole, GetRole, UpdateRole, UpdateRoleDescription,
UpdateAssumeRolePolicy, DeleteRole, ListRoles, role tags and permissions boundaries."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chamberlain.crypto.ids import Prefix, new_unique_id
from chamberlain.domain import Attachment, InlinePolicy, InstanceProfile, Role, joined
from chamberlain.ops.core.common import (
    check_tag_count,
    compact,
    iam_arn,
    paginate_keyset,
    path_filter,
    tags_in,
    tags_out,
)
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import (
    ROLES,
    adjust_policy_counts,
    boundary_out,
    check_size,
    parse_document,
    principal_target,
    require_role,
)
from chamberlain.ops.core.errors import (
    DeleteConflict,
    InvalidInput,
    ValidationError,
)
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.ops.core.tagging import TaggedKind, tag_operations
from chamberlain.ops.iam import service_linked as slr  # a module import: it imports this one
from chamberlain.ops.iam import trust_principals
from chamberlain.policy import PolicyType
from chamberlain.policy.validate import TRUST_POLICY_MAX

MAX_ROLES = 1000  # AWS's default quota: roles per account
MIN_SESSION, MAX_SESSION = 3600, 43200  # MaxSessionDuration bounds, in seconds


def role_summary(role: Role) -> dict[str, Any]:
    """The Role shape as ListRoles returns it (no tags, boundary or last use)."""
    return compact(
        {
            "Path": role.path,
            "RoleName": role.name,
            "RoleId": role.role_id,
            "Arn": role.arn,
            "CreateDate": role.created,
            "AssumeRolePolicyDocument": role.assume_role_policy,
            "Description": role.description or None,
            "MaxSessionDuration": role.max_session_duration,
        }
    )


def role_out(role: Role, *, last_used: bool = True) -> dict[str, Any]:
    out = role_summary(role)
    if role.permissions_boundary:
        out["PermissionsBoundary"] = boundary_out(role.permissions_boundary)
    if role.tags:
        out["Tags"] = tags_out(role.tags)
    if last_used:  # GetRole always carries RoleLastUsed, empty for an unused role
        out["RoleLastUsed"] = compact(
            {"LastUsedDate": role.last_used, "Region": role.last_used_region}
        )
    return out


def _target(**kwargs: Any) -> Any:
    def resolve(ctx: OpContext, params: Params) -> Target:
        return principal_target(ctx, "role", params["RoleName"], **kwargs)

    return resolve


def _trust_policy(ctx: OpContext, text: str) -> trust_principals.Binding:
    """Validate a trust policy and bind the users and roles it names."""
    policy = parse_document(text, PolicyType.TRUST)
    check_size(
        text, TRUST_POLICY_MAX, f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_MAX}"
    )
    return trust_principals.bind(ctx, policy)


def _session_duration(value: int | None, default: int) -> int:
    """The model's bounds, checked again for callers that do not come over the wire."""
    if value is None:
        return default
    if not MIN_SESSION <= value <= MAX_SESSION:
        bound = (
            f"greater than or equal to {MIN_SESSION}"
            if value < MIN_SESSION
            else f"less than or equal to {MAX_SESSION}"
        )
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at 'maxSessionDuration' failed "
            f"to satisfy constraint: Member must have value {bound}"
        )
    return value


# ---------------------------------------------------------------------- create


@operation(
    "iam",
    "CreateRole",
    resource=lambda ctx, params: ROLES.create_target(ctx, params, "iam:TagRole"),
)
def create_role(ctx: OpContext, params: Params) -> Output:
    name, path = params["RoleName"], params.get("Path") or "/"
    document = params["AssumeRolePolicyDocument"]
    tags = check_tag_count(tags_in(params.get("Tags")))
    boundary = params.get("PermissionsBoundary")
    if path.startswith(slr.PATH_PREFIX):  # only CreateServiceLinkedRole puts roles there
        raise InvalidInput(
            f"Path prefix '{slr.PATH_PREFIX}' can only be used for AWS Service linked Roles"
        )
    duration = _session_duration(params.get("MaxSessionDuration"), MIN_SESSION)
    bound = _trust_policy(ctx, document)
    ROLES.check_new(ctx, name, boundary, MAX_ROLES)
    role = Role(
        account_id=ctx.account_id,
        role_id=new_unique_id(Prefix.ROLE),
        name=name,
        path=path,
        arn=iam_arn(ctx, "role", name, path),
        assume_role_policy=document,
        created=ctx.now,
        description=params.get("Description") or "",
        max_session_duration=duration,
        permissions_boundary=boundary or None,
        tags=tags,
        trust_principals=bound,
    )
    ctx.uow.repo(Role).add(role)
    adjust_policy_counts(ctx, boundary, boundaries=1)
    return {"Role": role_out(role, last_used=False)}


# ------------------------------------------------------------------ get / update


@operation("iam", "GetRole", resource=_target(), read_only=True)
def get_role_op(ctx: OpContext, params: Params) -> Output:
    return {"Role": role_out(trust_principals.as_shown(ctx, require_role(ctx, params["RoleName"])))}


@operation("iam", "UpdateRole", resource=_target())
def update_role(ctx: OpContext, params: Params) -> Output:
    role = require_role(ctx, params["RoleName"])
    duration = _session_duration(params.get("MaxSessionDuration"), role.max_session_duration)
    description = params.get("Description")
    updated = replace(
        role,
        max_session_duration=duration,
        description=role.description if description is None else description,
    )
    ctx.uow.repo(Role).put(updated)
    return {}


@operation("iam", "UpdateRoleDescription", resource=_target())
def update_role_description(ctx: OpContext, params: Params) -> Output:
    role = replace(require_role(ctx, params["RoleName"]), description=params["Description"])
    ctx.uow.repo(Role).put(role)
    return {"Role": role_out(trust_principals.as_shown(ctx, role))}


@operation("iam", "UpdateAssumeRolePolicy", resource=_target())
def update_assume_role_policy(ctx: OpContext, params: Params) -> Output:
    role = slr.require_modifiable(require_role(ctx, params["RoleName"]))
    bound = _trust_policy(ctx, params["PolicyDocument"])
    ctx.uow.repo(Role).put(
        replace(role, assume_role_policy=params["PolicyDocument"], trust_principals=bound)
    )
    return None


# ---------------------------------------------------------------------- delete


@operation("iam", "DeleteRole", resource=_target())
def delete_role(ctx: OpContext, params: Params) -> Output:
    """DeleteConflict while the role has inline or attached policies or is in an
    instance profile (checked in the order AWS's documentation lists them)."""
    role = slr.require_modifiable(require_role(ctx, params["RoleName"]))
    prefix = joined("role", role.key, "")
    if ctx.uow.repo(InlinePolicy).list(ctx.account_id, key_prefix=prefix):
        raise DeleteConflict("Cannot delete entity, must delete policies first.")
    if ctx.uow.repo(Attachment).list(ctx.account_id, key_prefix=prefix):
        raise DeleteConflict("Cannot delete entity, must detach all policies first.")
    if ctx.uow.repo(InstanceProfile).count(ctx.account_id, ref=role.key) > 0:
        raise DeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
    ctx.uow.repo(Role).delete(ctx.account_id, role.key)
    adjust_policy_counts(ctx, role.permissions_boundary, boundaries=-1)
    return None


def _list_target(ctx: OpContext, params: Params) -> Target:
    """AWS authorizes ListRoles on the path prefix: arn:aws:iam::ACCOUNT:role/PREFIX."""
    return Target(resource=iam_arn(ctx, "role", "", params.get("PathPrefix") or "/"))


@operation("iam", "ListRoles", resource=_list_target, read_only=True)
def list_roles(ctx: OpContext, params: Params) -> Output:
    return paginate_keyset(
        params,
        ctx.uow.repo(Role),
        ctx.account_id,
        keep=path_filter(params),
        member="Roles",
        render=lambda r: role_summary(trust_principals.as_shown(ctx, r)),
    )


# ------------------------------------------------------------------------ tags


tag_operations(
    TaggedKind(
        "Role",
        Role,
        target=lambda ctx, params, extra: principal_target(
            ctx, "role", params["RoleName"], extra=extra
        ),
        require=lambda ctx, params, action: require_role(ctx, params["RoleName"]),
        writable=lambda ctx, role, action: slr.require_modifiable(role),
    )
)
