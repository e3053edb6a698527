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
from chamberlain.ops.core.arns import iam_arn
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import INSTANCE_PROFILES, ROLES, require_role, role_fields
from chamberlain.ops.core.errors import (
    DeleteConflict,
    LimitExceeded,
    NoSuchEntity,
)
from chamberlain.ops.core.pagination import paginate
from chamberlain.ops.core.path_lists import path_list_operation
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.ops.core.tagging import tag_operations
from chamberlain.ops.core.tags import (
    check_tag_count,
    tags_in,
    tags_out,
)
from chamberlain.ops.iam import trust_principals

ROLES_PER_PROFILE = 1
PROFILES_PER_ACCOUNT = 1000
PASSED_TO_SERVICE = "ec2.amazonaws.com"


# --------------------------------------------------------------------------- helpers


def render_role(ctx: OpContext, role: Role) -> dict[str, Any]:
    """A role as AWS lists it inside an instance profile (and in the authorization
    details' InstanceProfileList), its trust policy as IAM shows it."""
    return role_fields(trust_principals.as_shown(ctx, role))


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


# ------------------------------------------------------------------------ operations


@operation(
    "iam",
    "CreateInstanceProfile",
    resource=lambda ctx, params: INSTANCE_PROFILES.create_target(
        ctx, params, "iam:TagInstanceProfile"
    ),
)
def create_instance_profile(ctx: OpContext, params: Params) -> Output:
    name = params["InstanceProfileName"]
    path = params.get("Path") or "/"
    tags = check_tag_count(tags_in(params.get("Tags")))
    taken = f"Instance Profile {name} already exists."
    INSTANCE_PROFILES.check_free(
        ctx, name.lower(), taken, "InstanceProfilesPerAccount", PROFILES_PER_ACCOUNT
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
    ctx.uow.repo(InstanceProfile).add(profile)
    return {"InstanceProfile": render_profile(ctx, profile, tags=True)}


@operation("iam", "GetInstanceProfile", resource=INSTANCE_PROFILES.resolve, read_only=True)
def get_instance_profile(ctx: OpContext, params: Params) -> Output:
    profile = INSTANCE_PROFILES.require(ctx, params["InstanceProfileName"])
    return {"InstanceProfile": render_profile(ctx, profile, tags=True)}


@operation("iam", "DeleteInstanceProfile", resource=INSTANCE_PROFILES.resolve)
def delete_instance_profile(ctx: OpContext, params: Params) -> Output:
    profile = INSTANCE_PROFILES.require(ctx, params["InstanceProfileName"])
    if profile.role_names:
        raise DeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
    ctx.uow.repo(InstanceProfile).delete(ctx.account_id, profile.key)
    return None


path_list_operation(
    "ListInstanceProfiles",
    InstanceProfile,
    "instance-profile",
    "InstanceProfiles",
    lambda ctx, profile: render_profile(ctx, profile, tags=False),
)


def _add_role_target(ctx: OpContext, params: Params) -> Target:
    target = INSTANCE_PROFILES.resolve(ctx, params)
    role = ROLES.target(ctx, params["RoleName"])
    # iam:PassRole is about the role: its tags, and the service it is passed to.
    passing = {**role.context, "iam:PassedToService": PASSED_TO_SERVICE}
    return replace(target, also=(("iam:PassRole", role.resource),), also_context=(passing,))


@operation("iam", "AddRoleToInstanceProfile", resource=_add_role_target)
def add_role_to_instance_profile(ctx: OpContext, params: Params) -> Output:
    profile = INSTANCE_PROFILES.require(ctx, params["InstanceProfileName"])
    role = require_role(ctx, params["RoleName"])
    if len(profile.role_names) >= ROLES_PER_PROFILE:
        raise LimitExceeded(
            f"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {ROLES_PER_PROFILE}"
        )
    updated = replace(profile, role_names=(*profile.role_names, role.name))
    ctx.uow.repo(InstanceProfile).put(updated)
    return None


@operation("iam", "RemoveRoleFromInstanceProfile", resource=INSTANCE_PROFILES.resolve)
def remove_role_from_instance_profile(ctx: OpContext, params: Params) -> Output:
    profile = INSTANCE_PROFILES.require(ctx, params["InstanceProfileName"])
    role_name = params["RoleName"]
    remaining = tuple(n for n in profile.role_names if n.lower() != role_name.lower())
    if len(remaining) == len(profile.role_names):
        require_role(ctx, role_name)
        raise NoSuchEntity(
            f"The role with name {role_name} is not in instance profile {profile.name}."
        )
    ctx.uow.repo(InstanceProfile).put(replace(profile, role_names=remaining))
    return None


@operation("iam", "ListInstanceProfilesForRole", resource=ROLES.resolve, read_only=True)
def list_instance_profiles_for_role(ctx: OpContext, params: Params) -> Output:
    role = require_role(ctx, params["RoleName"])
    profiles = ctx.uow.repo(InstanceProfile).list(ctx.account_id, ref=role.name.lower())
    return paginate(
        params,
        profiles,
        lambda p: p.key,
        member="InstanceProfiles",
        render=lambda p: render_profile(ctx, p, tags=False),
    )


# ------------------------------------------------------------------------------ tags


tag_operations(INSTANCE_PROFILES, "InstanceProfile")
