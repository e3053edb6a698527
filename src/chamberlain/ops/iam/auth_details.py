"""GetAccountAuthorizationDetails: every user, group, role and managed policy of the
account with their relationships, in one paginated snapshot.

MaxItems counts entities across the four lists together: the pages walk users, then
groups, then roles, then customer managed policies, then AWS managed policies, each in
name order. AWS managed policies appear only when attached to an entity of the account
(AWS lists the ones in use, not its whole catalogue). Empty lists are returned as empty
lists, as AWS does.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from chamberlain.domain import (
    SEP,
    Attachment,
    Group,
    InlinePolicy,
    InstanceProfile,
    ManagedPolicy,
    Membership,
    PolicyVersion,
    Role,
    User,
    joined,
)
from chamberlain.ops.core.aws_managed import AWS_MANAGED, AwsManagedPolicy
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.pagination import paginate
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.ops.core.tags import tags_out
from chamberlain.ops.iam import trust_principals
from chamberlain.ops.iam.groups import group_out
from chamberlain.ops.iam.instance_profiles import render_role
from chamberlain.ops.iam.policies import aws_in_use

USERS, GROUPS, ROLES, POLICIES = "UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"
ENTITY_TYPES = ("User", "Group", "Role", "LocalManagedPolicy", "AWSManagedPolicy")

Entry = tuple[str, str, Callable[[], dict[str, Any]]]  # (page key, list, build detail)


# --------------------------------------------------------------------------- pieces


def _inline(ctx: OpContext, kind: str, name: str) -> list[dict[str, str]]:
    prefix = joined(kind, name.lower(), "")
    return [
        {"PolicyName": p.policy_name, "PolicyDocument": p.document}
        for p in ctx.uow.repo(InlinePolicy).list(ctx.account_id, key_prefix=prefix)
    ]


def _attached(ctx: OpContext, kind: str, name: str) -> list[dict[str, str]]:
    prefix = joined(kind, name.lower(), "")
    return [
        {"PolicyName": a.policy_arn.rsplit("/", 1)[-1], "PolicyArn": a.policy_arn}
        for a in ctx.uow.repo(Attachment).list(ctx.account_id, key_prefix=prefix)
    ]


def _boundary_and_tags(detail: dict[str, Any], boundary: str | None, tags: Any) -> None:
    if boundary:
        detail["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": boundary,
        }
    if tags:
        detail["Tags"] = tags_out(tags)


def _instance_profiles(ctx: OpContext, role: Role) -> list[dict[str, Any]]:
    roles = ctx.uow.repo(Role)
    out: list[dict[str, Any]] = []
    for profile in ctx.uow.repo(InstanceProfile).list(ctx.account_id, ref=role.name.lower()):
        members = [roles.get(ctx.account_id, n.lower()) for n in profile.role_names]
        item: dict[str, Any] = {
            "Path": profile.path,
            "InstanceProfileName": profile.name,
            "InstanceProfileId": profile.instance_profile_id,
            "Arn": profile.arn,
            "CreateDate": profile.created,
            "Roles": [render_role(ctx, r) for r in members if r is not None],
        }
        if profile.tags:
            item["Tags"] = tags_out(profile.tags)
        out.append(item)
    return out


# -------------------------------------------------------------------------- details


def _user_detail(ctx: OpContext, user: User) -> dict[str, Any]:
    groups = ctx.uow.repo(Group)
    group_names: list[str] = []
    for membership in ctx.uow.repo(Membership).list(ctx.account_id, ref=user.name.lower()):
        group = groups.get(ctx.account_id, membership.group_name.lower())
        group_names.append(group.name if group is not None else membership.group_name)
    detail: dict[str, Any] = {
        "Path": user.path,
        "UserName": user.name,
        "UserId": user.user_id,
        "Arn": user.arn,
        "CreateDate": user.created,
        "UserPolicyList": _inline(ctx, "user", user.name),
        "GroupList": group_names,
        "AttachedManagedPolicies": _attached(ctx, "user", user.name),
    }
    _boundary_and_tags(detail, user.permissions_boundary, user.tags)
    return detail


def _group_detail(ctx: OpContext, group: Group) -> dict[str, Any]:
    return {
        **group_out(group),
        "GroupPolicyList": _inline(ctx, "group", group.name),
        "AttachedManagedPolicies": _attached(ctx, "group", group.name),
    }


def _role_detail(ctx: OpContext, role: Role) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": role.created,
        "AssumeRolePolicyDocument": trust_principals.trust_text(ctx, role),
        "InstanceProfileList": _instance_profiles(ctx, role),
        "RolePolicyList": _inline(ctx, "role", role.name),
        "AttachedManagedPolicies": _attached(ctx, "role", role.name),
    }
    _boundary_and_tags(detail, role.permissions_boundary, role.tags)
    last_used: dict[str, Any] = {}
    if role.last_used is not None:
        last_used["LastUsedDate"] = role.last_used
        if role.last_used_region:
            last_used["Region"] = role.last_used_region
    detail["RoleLastUsed"] = last_used
    return detail


def _version_number(version: PolicyVersion) -> int:
    return int(version.version_id.lstrip("v").split(".", 1)[0] or 0)


def _local_policy_detail(ctx: OpContext, policy: ManagedPolicy) -> dict[str, Any]:
    versions = sorted(
        ctx.uow.repo(PolicyVersion).list(ctx.account_id, ref=policy.arn),
        key=_version_number,
        reverse=True,
    )
    detail: dict[str, Any] = {
        "PolicyName": policy.name,
        "PolicyId": policy.policy_id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": policy.default_version_id,
        "AttachmentCount": policy.attachment_count,
        "PermissionsBoundaryUsageCount": policy.boundary_usage_count,
        "IsAttachable": True,
        "CreateDate": policy.created,
        "UpdateDate": policy.updated,
        "PolicyVersionList": [
            {
                "Document": v.document,
                "VersionId": v.version_id,
                "IsDefaultVersion": v.version_id == policy.default_version_id,
                "CreateDate": v.created,
            }
            for v in versions
        ],
    }
    if policy.description:
        detail["Description"] = policy.description
    return detail


def _aws_policy_detail(policy: AwsManagedPolicy, attached: int, boundaries: int) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "PolicyName": policy.name,
        "PolicyId": policy.policy_id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": policy.version_id,
        "AttachmentCount": attached,
        "PermissionsBoundaryUsageCount": boundaries,
        "IsAttachable": True,
        "CreateDate": policy.created,
        "UpdateDate": policy.updated,
        "PolicyVersionList": [
            {
                "Document": policy.document,
                "VersionId": policy.version_id,
                "IsDefaultVersion": True,
                "CreateDate": policy.created,
            }
        ],
    }
    if policy.description:
        detail["Description"] = policy.description
    return detail


# -------------------------------------------------------------------------- entries


def _page_key(order: int, key: str) -> str:
    return f"{order}{SEP}{key}"


def _aws_entries(ctx: OpContext) -> list[Entry]:
    """The AWS managed policies attached to something in the account."""
    in_use = aws_in_use(ctx)
    policies = sorted(
        (
            AWS_MANAGED[arn]
            for arn, (attached, _) in in_use.items()
            if attached and arn in AWS_MANAGED
        ),
        key=lambda p: p.name.lower(),
    )
    return [
        (
            _page_key(5, p.name.lower()),
            POLICIES,
            partial(_aws_policy_detail, p, *in_use[p.arn]),
        )
        for p in policies
    ]


def _entries(ctx: OpContext, wanted: set[str]) -> list[Entry]:
    account = ctx.account_id
    entries: list[Entry] = []
    if "User" in wanted:
        entries += [
            (_page_key(1, u.key), USERS, partial(_user_detail, ctx, u))
            for u in ctx.uow.repo(User).list(account)
        ]
    if "Group" in wanted:
        entries += [
            (_page_key(2, g.key), GROUPS, partial(_group_detail, ctx, g))
            for g in ctx.uow.repo(Group).list(account)
        ]
    if "Role" in wanted:
        entries += [
            (_page_key(3, r.key), ROLES, partial(_role_detail, ctx, r))
            for r in ctx.uow.repo(Role).list(account)
        ]
    if "LocalManagedPolicy" in wanted:
        entries += [
            (_page_key(4, p.key), POLICIES, partial(_local_policy_detail, ctx, p))
            for p in ctx.uow.repo(ManagedPolicy).list(account)
        ]
    if "AWSManagedPolicy" in wanted:
        entries += _aws_entries(ctx)
    return entries


@operation(
    "iam",
    "GetAccountAuthorizationDetails",
    resource=lambda ctx, params: Target(resource="*"),
    read_only=True,
)
def get_account_authorization_details(ctx: OpContext, params: Params) -> Output:
    wanted = set(params.get("Filter") or ENTITY_TYPES)
    page = paginate(
        params,
        _entries(ctx, wanted),
        key=lambda entry: entry[0],
        member="Items",
        render=lambda entry: (entry[1], entry[2]()),
    )
    out: dict[str, Any] = {USERS: [], GROUPS: [], ROLES: [], POLICIES: []}
    for list_name, detail in page.pop("Items"):
        out[list_name].append(detail)
    out.update(page)
    return out
