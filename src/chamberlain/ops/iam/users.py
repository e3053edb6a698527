"""IAM users: CreateUser, GetUser, UpdateUser, DeleteUser, ListUsers, user tags and
permissions boundaries."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chamberlain.crypto.ids import Prefix, new_unique_id
from chamberlain.domain import (
    AccessKey,
    Account,
    Attachment,
    InlinePolicy,
    LoginProfile,
    Membership,
    MfaDevice,
    ServiceSpecificCredential,
    SigningCertificate,
    SshPublicKey,
    User,
    joined,
)
from chamberlain.ops.core.arns import iam_arn
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import (
    USERS,
    principal_target,
    rename_principal_policies,
    require_user,
)
from chamberlain.ops.core.errors import DeleteConflict, EntityAlreadyExists, ValidationError
from chamberlain.ops.core.path_lists import path_list_operation
from chamberlain.ops.core.policy_usage import boundary_out, change_boundary
from chamberlain.ops.core.registry import Output, Params, Target, compact, operation
from chamberlain.ops.core.tagging import tag_operations
from chamberlain.ops.core.tags import check_tag_count, tags_in, tags_out
from chamberlain.ops.iam.service_credentials import has_service_specific_credentials
from chamberlain.policy import PrincipalType

MAX_USERS = 5000  # AWS's default quota: users per account

PerUser = AccessKey | SshPublicKey | SigningCertificate | MfaDevice | ServiceSpecificCredential


def user_summary(user: User) -> dict[str, Any]:
    """The User shape as listing operations return it (no tags, no boundary)."""
    return compact(
        {
            "Path": user.path,
            "UserName": user.name,
            "UserId": user.user_id,
            "Arn": user.arn,
            "CreateDate": user.created,
            "PasswordLastUsed": user.password_last_used,
        }
    )


def user_out(user: User) -> dict[str, Any]:
    out = user_summary(user)
    if user.permissions_boundary:
        out["PermissionsBoundary"] = boundary_out(user.permissions_boundary)
    if user.tags:
        out["Tags"] = tags_out(user.tags)
    return out


def _target(name_key: str = "UserName", **kwargs: Any) -> Any:
    def resolve(ctx: OpContext, params: Params) -> Target:
        return principal_target(ctx, "user", params[name_key], **kwargs)

    return resolve


# ---------------------------------------------------------------------- create


@operation(
    "iam",
    "CreateUser",
    resource=lambda ctx, params: USERS.create_target(ctx, params, "iam:TagUser"),
)
def create_user(ctx: OpContext, params: Params) -> Output:
    name, path = params["UserName"], params.get("Path") or "/"
    tags = check_tag_count(tags_in(params.get("Tags")))
    boundary = params.get("PermissionsBoundary")
    USERS.check_new(ctx, name, boundary, MAX_USERS)
    user = User(
        account_id=ctx.account_id,
        user_id=new_unique_id(Prefix.USER),
        name=name,
        path=path,
        arn=iam_arn(ctx, "user", name, path),
        created=ctx.now,
        permissions_boundary=boundary or None,
        tags=tags,
    )
    ctx.uow.repo(User).add(user)
    change_boundary(ctx, "user", name, None, boundary)
    return {"User": user_out(user)}


# ------------------------------------------------------------------------- get


def _get_target(ctx: OpContext, params: Params) -> Target:
    caller = ctx.caller
    if params.get("UserName"):
        return principal_target(ctx, "user", params["UserName"])
    if caller.type is PrincipalType.USER and caller.user_name:
        return principal_target(ctx, "user", caller.user_name)
    if caller.is_root:
        return Target(resource=caller.arn)
    raise ValidationError("Must specify userName when calling with non-User credentials")


@operation("iam", "GetUser", resource=_get_target, read_only=True)
def get_user_op(ctx: OpContext, params: Params) -> Output:
    """GetUser; without UserName, the caller itself (the root user as AWS shows it:
    the account id as UserId, the root ARN, no name or path)."""
    caller = ctx.caller
    name = params.get("UserName") or caller.user_name
    if name:
        return {"User": user_out(require_user(ctx, name))}
    account = ctx.uow.repo(Account).get(ctx.account_id, "account")
    root: dict[str, Any] = {"UserId": ctx.account_id, "Arn": caller.arn}
    if account is not None:
        root["CreateDate"] = account.created
        root["PasswordLastUsed"] = account.root_password_last_used
    return {"User": compact(root)}


# ---------------------------------------------------------------------- update


def _carry_relations(ctx: OpContext, old: str, new: str) -> None:
    """Everything stored under the user's name follows it to the new one."""
    account, low = ctx.account_id, old.lower()
    memberships = ctx.uow.repo(Membership)
    for membership in memberships.list(account, ref=low):
        memberships.delete(account, membership.key)
        memberships.put(replace(membership, user_name=new))
    rename_principal_policies(ctx, "user", old, new)
    per_user: tuple[type[PerUser], ...] = (
        AccessKey,
        SshPublicKey,
        SigningCertificate,
        MfaDevice,
        ServiceSpecificCredential,
    )
    for kind in per_user:
        repo = ctx.uow.repo(kind)
        for entity in repo.list(account, ref=low):
            repo.delete(account, entity.key)
            repo.put(replace(entity, user_name=new))
    profiles = ctx.uow.repo(LoginProfile)
    profile = profiles.get(account, low)
    if profile is not None:
        profiles.delete(account, profile.key)
        profiles.put(replace(profile, user_name=new))


@operation(
    "iam",
    "UpdateUser",
    resource=lambda ctx, params: USERS.rename_target(ctx, params, "NewUserName", "iam:UpdateUser"),
)
def update_user(ctx: OpContext, params: Params) -> Output:
    user = require_user(ctx, params["UserName"])
    name = params.get("NewUserName") or user.name
    path = params.get("NewPath") or user.path
    repo = ctx.uow.repo(User)
    if name.lower() != user.key and repo.get(ctx.account_id, name.lower()) is not None:
        raise EntityAlreadyExists(f"User with name {name} already exists.")
    updated = replace(user, name=name, path=path, arn=iam_arn(ctx, "user", name, path))
    repo.delete(ctx.account_id, user.key)
    repo.put(updated)
    if name != user.name:
        _carry_relations(ctx, user.name, name)
    return None


# ---------------------------------------------------------------------- delete


def _delete_conflict(ctx: OpContext, user: User) -> str | None:
    """What still hangs on the user, in the order AWS's documentation lists it."""
    account, low = ctx.account_id, user.key
    prefix = joined("user", low, "")
    checks: tuple[tuple[bool, str], ...] = (
        (ctx.uow.repo(LoginProfile).get(account, low) is not None, "delete login profile"),
        (ctx.uow.repo(AccessKey).count(account, ref=low) > 0, "delete access keys"),
        (
            ctx.uow.repo(SigningCertificate).count(account, ref=low) > 0,
            "delete signing certificates",
        ),
        (ctx.uow.repo(SshPublicKey).count(account, ref=low) > 0, "delete SSH public keys"),
        (
            has_service_specific_credentials(ctx, user.name),
            "remove service specific credentials",
        ),
        (ctx.uow.repo(MfaDevice).count(account, ref=low) > 0, "delete MFA device"),
        (bool(ctx.uow.repo(InlinePolicy).list(account, key_prefix=prefix)), "delete policies"),
        (bool(ctx.uow.repo(Attachment).list(account, key_prefix=prefix)), "detach all policies"),
        (ctx.uow.repo(Membership).count(account, ref=low) > 0, "remove users from group"),
    )
    return next((what for present, what in checks if present), None)


@operation("iam", "DeleteUser", resource=_target())
def delete_user(ctx: OpContext, params: Params) -> Output:
    user = require_user(ctx, params["UserName"])
    conflict = _delete_conflict(ctx, user)
    if conflict is not None:
        raise DeleteConflict(f"Cannot delete entity, must {conflict} first.")
    ctx.uow.repo(User).delete(ctx.account_id, user.key)
    change_boundary(ctx, "user", user.name, user.permissions_boundary, None)
    return None


# ------------------------------------------------------------------------ list


path_list_operation("ListUsers", User, "user", "Users", lambda ctx, user: user_summary(user))


# ------------------------------------------------------------------------ tags


tag_operations(USERS, "User")
