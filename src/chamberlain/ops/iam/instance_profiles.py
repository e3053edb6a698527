"""Instance profiles: the container that hands one role to an EC2-style workload.

CreateInstanceProfile, GetInstanceProfile, DeleteInstanceProfile, ListInstanceProfiles,
AddRoleToInstanceProfile, RemoveRoleFromInstanceProfile, ListInstanceProfilesForRole,
TagInstanceProfile, UntagInstanceProfile, ListInstanceProfileTags.

A profile holds at most one role (AWS's fixed quota). Adding a role also needs
iam:PassRole on it, as AWS requires, with iam:PassedToService ec2.amazonaws.com.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chamberlain.crypto.ids import Prefix, new_unique_id
from chamberlain.domain import InstanceProfile, Role
from chamberlain.ops.core.common import (
    check_tag_count,
    iam_arn,
    paginate,
    paginate_keyset,
    path_filter,
    request_tag_context,
    resource_tag_context,
    tags_in,
    tags_out,
)
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    NoSuchEntity,
)
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.ops.core.tagging import TaggedKind, adding, tag_operations
from chamberlain.ops.iam import trust_principals
from chamberlain.policy.request import ContextValue

ROLES_PER_PROFILE = 1
PROFILES_PER_ACCOUNT = 1000
PASSED_TO_SERVICE = "ec2.amazonaws.com"


# --------------------------------------------------------------------------- helpers


def _find(ctx: OpContext, name: str) -> InstanceProfile | None:
    return ctx.uow.repo(InstanceProfile).get(ctx.account_id, name.lower())


def _require(ctx: OpContext, name: str) -> InstanceProfile:
    profile = _find(ctx, name)
    if profile is None:
        raise NoSuchEntity(f"Instance Profile {name} cannot be found.")
    return profile


def _require_role(ctx: OpContext, name: str) -> Role:
    role = ctx.uow.repo(Role).get(ctx.account_id, name.lower())
    if role is None:
        raise NoSuchEntity(f"The role with name {name} cannot be found.")
    return role


def render_role(ctx: OpContext, role: Role) -> dict[str, Any]:
    """A role as AWS lists it inside an instance profile (and in the authorization
    details' InstanceProfileList), its trust policy as IAM shows it."""
    role = trust_principals.as_shown(ctx, role)
    return {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": role.created,
        "AssumeRolePolicyDocument": role.assume_role_policy,
    }


def render_profile(ctx: OpContext, profile: InstanceProfile, *, tags: bool) -> dict[str, Any]:
    """AWS's InstanceProfile structure. Listings leave tags out, as AWS's do."""
    repo = ctx.uow.repo(Role)
    roles = [repo.get(ctx.account_id, name.lower()) for name in profile.role_names]
    out: dict[str, Any] = {
        "Path": profile.path,
        "InstanceProfileName": profile.name,
        "InstanceProfileId": profile.instance_profile_id,
        "Arn": profile.arn,
        "CreateDate": profile.created,
        "Roles": [render_role(ctx, role) for role in roles if role is not None],
    }
    if tags and profile.tags:
        out["Tags"] = tags_out(profile.tags)
    return out


def _target(ctx: OpContext, params: Params, extra: dict[str, Any] | None = None) -> Target:
    name = params["InstanceProfileName"]
    profile = _find(ctx, name)
    if profile is None:
        return Target(iam_arn(ctx, "instance-profile", name), dict(extra or {}))
    return Target(profile.arn, {**resource_tag_context(profile.tags), **(extra or {})})


def _role_arn(ctx: OpContext, name: str) -> str:
    role = ctx.uow.repo(Role).get(ctx.account_id, name.lower())
    return role.arn if role is not None else iam_arn(ctx, "role", name)


# ------------------------------------------------------------------------ operations


def _create_target(ctx: OpContext, params: Params) -> Target:
    name = params["InstanceProfileName"]
    arn = iam_arn(ctx, "instance-profile", name, params.get("Path") or "/")
    raw_tags = params.get("Tags")
    also = (("iam:TagInstanceProfile", arn),) if raw_tags else ()
    return Target(arn, request_tag_context(raw_tags), also)


@operation("iam", "CreateInstanceProfile", resource=_create_target)
def create_instance_profile(ctx: OpContext, params: Params) -> Output:
    name = params["InstanceProfileName"]
    path = params.get("Path") or "/"
    tags = check_tag_count(tags_in(params.get("Tags")))
    repo = ctx.uow.repo(InstanceProfile)
    if repo.get(ctx.account_id, name.lower()) is not None:
        raise EntityAlreadyExists(f"Instance Profile {name} already exists.")
    if repo.count(ctx.account_id) >= PROFILES_PER_ACCOUNT:
        raise LimitExceeded(
            f"Cannot exceed quota for InstanceProfilesPerAccount: {PROFILES_PER_ACCOUNT}"
        )
    profile = InstanceProfile(
        account_id=ctx.account_id,
        instance_profile_id=new_unique_id(Prefix.INSTANCE_PROFILE),
        name=name,
        path=path,
        arn=iam_arn(ctx, "instance-profile", name, path),
        created=ctx.now,
        tags=tags,
    )
    repo.add(profile)
    return {"InstanceProfile": render_profile(ctx, profile, tags=True)}


@operation("iam", "GetInstanceProfile", resource=_target, read_only=True)
def get_instance_profile(ctx: OpContext, params: Params) -> Output:
    profile = _require(ctx, params["InstanceProfileName"])
    return {"InstanceProfile": render_profile(ctx, profile, tags=True)}


@operation("iam", "DeleteInstanceProfile", resource=_target)
def delete_instance_profile(ctx: OpContext, params: Params) -> Output:
    profile = _require(ctx, params["InstanceProfileName"])
    if profile.role_names:
        raise DeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
    ctx.uow.repo(InstanceProfile).delete(ctx.account_id, profile.key)
    return None


def _list_target(ctx: OpContext, params: Params) -> Target:
    return Target(iam_arn(ctx, "instance-profile", "", params.get("PathPrefix") or "/"))


@operation("iam", "ListInstanceProfiles", resource=_list_target, read_only=True)
def list_instance_profiles(ctx: OpContext, params: Params) -> Output:
    return paginate_keyset(
        params,
        ctx.uow.repo(InstanceProfile),
        ctx.account_id,
        keep=path_filter(params),
        member="InstanceProfiles",
        render=lambda p: render_profile(ctx, p, tags=False),
    )


def _add_role_target(ctx: OpContext, params: Params) -> Target:
    target = _target(ctx, params, {})
    role_arn = _role_arn(ctx, params["RoleName"])
    role = ctx.uow.repo(Role).get(ctx.account_id, params["RoleName"].lower())
    # iam:PassRole is about the role: its tags, and the service it is passed to.
    passing: dict[str, ContextValue] = {"iam:PassedToService": PASSED_TO_SERVICE}
    if role is not None:
        passing.update(resource_tag_context(role.tags, iam_keys=True))
    return replace(target, also=(("iam:PassRole", role_arn),), also_context=(passing,))


@operation("iam", "AddRoleToInstanceProfile", resource=_add_role_target)
def add_role_to_instance_profile(ctx: OpContext, params: Params) -> Output:
    profile = _require(ctx, params["InstanceProfileName"])
    role = _require_role(ctx, params["RoleName"])
    if len(profile.role_names) >= ROLES_PER_PROFILE:
        raise LimitExceeded(
            f"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {ROLES_PER_PROFILE}"
        )
    updated = replace(profile, role_names=(*profile.role_names, role.name))
    ctx.uow.repo(InstanceProfile).put(updated)
    return None


@operation("iam", "RemoveRoleFromInstanceProfile", resource=_target)
def remove_role_from_instance_profile(ctx: OpContext, params: Params) -> Output:
    profile = _require(ctx, params["InstanceProfileName"])
    role_name = params["RoleName"]
    remaining = tuple(n for n in profile.role_names if n.lower() != role_name.lower())
    if len(remaining) == len(profile.role_names):
        _require_role(ctx, role_name)
        raise NoSuchEntity(
            f"The role with name {role_name} is not in instance profile {profile.name}."
        )
    ctx.uow.repo(InstanceProfile).put(replace(profile, role_names=remaining))
    return None


def _role_target(ctx: OpContext, params: Params) -> Target:
    name = params["RoleName"]
    role = ctx.uow.repo(Role).get(ctx.account_id, name.lower())
    if role is None:
        return Target(iam_arn(ctx, "role", name))
    return Target(role.arn, resource_tag_context(role.tags, iam_keys=True))


@operation("iam", "ListInstanceProfilesForRole", resource=_role_target, read_only=True)
def list_instance_profiles_for_role(ctx: OpContext, params: Params) -> Output:
    role = _require_role(ctx, params["RoleName"])
    profiles = ctx.uow.repo(InstanceProfile).list(ctx.account_id, ref=role.name.lower())
    return paginate(
        params,
        profiles,
        lambda p: p.key,
        member="InstanceProfiles",
        render=lambda p: render_profile(ctx, p, tags=False),
    )


# ------------------------------------------------------------------------------ tags


tag_operations(
    TaggedKind(
        "InstanceProfile",
        InstanceProfile,
        target=adding(_target),
        require=lambda ctx, params, action: _require(ctx, params["InstanceProfileName"]),
    )
)
