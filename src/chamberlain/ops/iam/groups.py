"""IAM groups and their members: CreateGroup, GetGroup, UpdateGroup, DeleteGroup,
ListGroups, AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chamberlain.crypto.ids import Prefix, new_unique_id
from chamberlain.domain import Attachment, Group, InlinePolicy, Membership, User, joined
from chamberlain.ops.core.arns import iam_arn
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import (
    GROUPS,
    principal_target,
    rename_principal_policies,
    require_group,
    require_user,
)
from chamberlain.ops.core.errors import DeleteConflict, EntityAlreadyExists
from chamberlain.ops.core.pagination import paginate
from chamberlain.ops.core.path_lists import path_list_operation
from chamberlain.ops.core.quotas import quota_exceeded
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.ops.iam.users import user_summary

MAX_GROUPS = 300  # AWS's default quota: groups per account
MAX_GROUPS_PER_USER = 10  # AWS's fixed quota: groups a user can be a member of


def group_out(group: Group) -> dict[str, Any]:
    return {
        "Path": group.path,
        "GroupName": group.name,
        "GroupId": group.group_id,
        "Arn": group.arn,
        "CreateDate": group.created,
    }


def _target(ctx: OpContext, params: Params) -> Target:
    return principal_target(ctx, "group", params["GroupName"])


def _members(ctx: OpContext, group: Group) -> list[Membership]:
    return ctx.uow.repo(Membership).list(ctx.account_id, key_prefix=joined(group.key, ""))


# ---------------------------------------------------------------------- create


def _create_target(ctx: OpContext, params: Params) -> Target:
    path = params.get("Path") or "/"
    return Target(resource=iam_arn(ctx, "group", params["GroupName"], path))


@operation("iam", "CreateGroup", resource=_create_target)
def create_group(ctx: OpContext, params: Params) -> Output:
    name, path = params["GroupName"], params.get("Path") or "/"
    GROUPS.check_new(ctx, name, None, MAX_GROUPS)
    group = Group(
        account_id=ctx.account_id,
        group_id=new_unique_id(Prefix.GROUP),
        name=name,
        path=path,
        arn=iam_arn(ctx, "group", name, path),
        created=ctx.now,
    )
    ctx.uow.repo(Group).add(group)
    return {"Group": group_out(group)}


# ------------------------------------------------------------------------- get


@operation("iam", "GetGroup", resource=_target, read_only=True)
def get_group_op(ctx: OpContext, params: Params) -> Output:
    """The group and its users (paginated, by user name)."""
    group = require_group(ctx, params["GroupName"])
    users_repo = ctx.uow.repo(User)
    users = [users_repo.get(ctx.account_id, m.user_name.lower()) for m in _members(ctx, group)]
    present = sorted((u for u in users if u is not None), key=lambda u: u.key)
    page = paginate(params, present, key=lambda u: u.key, member="Users", render=user_summary)
    return {"Group": group_out(group), **page}


# ---------------------------------------------------------------------- update


@operation(
    "iam",
    "UpdateGroup",
    resource=lambda ctx, params: GROUPS.rename_target(
        ctx, params, "NewGroupName", "iam:UpdateGroup"
    ),
)
def update_group(ctx: OpContext, params: Params) -> Output:
    group = require_group(ctx, params["GroupName"])
    name = params.get("NewGroupName") or group.name
    path = params.get("NewPath") or group.path
    repo = ctx.uow.repo(Group)
    if name.lower() != group.key and repo.get(ctx.account_id, name.lower()) is not None:
        raise EntityAlreadyExists(f"Group with name {name} already exists.")
    repo.delete(ctx.account_id, group.key)
    repo.put(replace(group, name=name, path=path, arn=iam_arn(ctx, "group", name, path)))
    if name != group.name:
        memberships = ctx.uow.repo(Membership)
        for membership in _members(ctx, group):
            memberships.delete(ctx.account_id, membership.key)
            memberships.put(replace(membership, group_name=name))
        rename_principal_policies(ctx, "group", group.name, name)
    return None


# ---------------------------------------------------------------------- delete


@operation("iam", "DeleteGroup", resource=_target)
def delete_group(ctx: OpContext, params: Params) -> Output:
    group = require_group(ctx, params["GroupName"])
    prefix = joined("group", group.key, "")
    if _members(ctx, group):
        raise DeleteConflict("Cannot delete entity, must remove users from group first.")
    if ctx.uow.repo(InlinePolicy).list(ctx.account_id, key_prefix=prefix):
        raise DeleteConflict("Cannot delete entity, must delete policies first.")
    if ctx.uow.repo(Attachment).list(ctx.account_id, key_prefix=prefix):
        raise DeleteConflict("Cannot delete entity, must detach all policies first.")
    ctx.uow.repo(Group).delete(ctx.account_id, group.key)
    return None


# ------------------------------------------------------------------------ list


path_list_operation("ListGroups", Group, "group", "Groups", lambda ctx, group: group_out(group))


# --------------------------------------------------------------------- members


@operation("iam", "AddUserToGroup", resource=_target)
def add_user_to_group(ctx: OpContext, params: Params) -> Output:
    group = require_group(ctx, params["GroupName"])
    user = require_user(ctx, params["UserName"])
    repo = ctx.uow.repo(Membership)
    if repo.get(ctx.account_id, joined(group.key, user.key)) is not None:
        return None  # already a member: AWS answers success
    if repo.count(ctx.account_id, ref=user.key) >= MAX_GROUPS_PER_USER:
        raise quota_exceeded("GroupsPerUser", MAX_GROUPS_PER_USER)
    repo.add(Membership(account_id=ctx.account_id, group_name=group.name, user_name=user.name))
    return None


@operation("iam", "RemoveUserFromGroup", resource=_target)
def remove_user_from_group(ctx: OpContext, params: Params) -> Output:
    """Removing a user who is not a member succeeds, as in AWS."""
    group = require_group(ctx, params["GroupName"])
    user = require_user(ctx, params["UserName"])
    ctx.uow.repo(Membership).delete(ctx.account_id, joined(group.key, user.key))
    return None


@operation(
    "iam",
    "ListGroupsForUser",
    resource=lambda ctx, params: principal_target(ctx, "user", params["UserName"]),
    read_only=True,
)
def list_groups_for_user(ctx: OpContext, params: Params) -> Output:
    user = require_user(ctx, params["UserName"])
    repo = ctx.uow.repo(Group)
    memberships = ctx.uow.repo(Membership).list(ctx.account_id, ref=user.key)
    groups = [repo.get(ctx.account_id, m.group_name.lower()) for m in memberships]
    present = sorted((g for g in groups if g is not None), key=lambda g: g.key)
    return paginate(params, present, key=lambda g: g.key, member="Groups", render=group_out)
