"""IAM roles: CreateRole, GetRole, UpdateRole, UpdateRoleDescription,
UpdateAssumeRolePolicy, DeleteRole, ListRoles, role tags and permissions boundaries."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chamberlain.crypto.ids import Prefix, new_unique_id
from chamberlain.domain import Attachment, InlinePolicy, InstanceProfile, Role, joined
from chamberlain.ops.core.arns import iam_arn
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import ROLES, principal_target, require_role, role_fields
from chamberlain.ops.core.errors import (
    DeleteConflict,
    InvalidInput,
    ValidationError,
)
from chamberlain.ops.core.path_lists import path_list_operation
from chamberlain.ops.core.policy_documents import check_size, parse_document
from chamberlain.ops.core.policy_usage import boundary_out, change_boundary
from chamberlain.ops.core.registry import Output, Params, Target, compact, operation
from chamberlain.ops.core.tagging import tag_operations
from chamberlain.ops.core.tags import check_tag_count, tags_in, tags_out
from chamberlain.ops.iam import role_protection as slr
from chamberlain.ops.iam import trust_principals
from chamberlain.policy import PolicyType
from chamberlain.policy.validate import TRUST_POLICY_MAX

MAX_ROLES = 1000  # AWS's default quota: roles per account
MIN_SESSION, MAX_SESSION = 3600, 43200  # MaxSessionDuration bounds, in seconds


def role_summary(role: Role) -> dict[str, Any]:
    """The Role shape as ListRoles returns it (no tags, boundary or last use)."""
    return compact(
        {
            **role_fields(role),
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


def new_role(ctx: OpContext, name: str, path: str, document: str, **fields: Any) -> Role:
    """A new role of this account (CreateRole, CreateServiceLinkedRole): a fresh id, its
    ARN, created now; `fields` are the other members."""
    return Role(
        account_id=ctx.account_id,
        role_id=new_unique_id(Prefix.ROLE),
        name=name,
        path=path,
        arn=iam_arn(ctx, "role", name, path),
        assume_role_policy=document,
        created=ctx.now,
        **fields,
    )


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
    role = new_role(
        ctx,
        name,
        path,
        document,
        description=params.get("Description") or "",
        max_session_duration=duration,
        permissions_boundary=boundary or None,
        tags=tags,
        trust_principals=bound,
    )
    ctx.uow.repo(Role).add(role)
    change_boundary(ctx, "role", name, None, boundary)
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
    change_boundary(ctx, "role", role.name, role.permissions_boundary, None)
    return None


path_list_operation(
    "ListRoles",
    Role,
    "role",
    "Roles",
    lambda ctx, role: role_summary(trust_principals.as_shown(ctx, role)),
)


# ------------------------------------------------------------------------ tags


tag_operations(
    ROLES,
    "Role",
    writable=lambda ctx, name, action: slr.require_modifiable(require_role(ctx, name)),
)
