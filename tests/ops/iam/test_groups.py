"""IAM groups: CreateGroup, GetGroup, UpdateGroup, DeleteGroup, ListGroups, members."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.iam import groups as iam_groups

from ..conftest import ACCOUNT, NOW, user_caller

Call = Callable[..., Any]
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def error_of(call: Call, *args: Any, **params: Any) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        call(*args, **params)
    return info.value


def allow(actions: str | list[str], resource: str = "*") -> str:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def names(items: list[dict[str, Any]], key: str) -> list[str]:
    return [item[key] for item in items]


def test_create_group(iam: Call) -> None:
    group = iam("CreateGroup", GroupName="Devs", Path="/eng/")["Group"]
    assert group["GroupName"] == "Devs" and group["Path"] == "/eng/"
    assert group["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/eng/Devs"
    assert group["GroupId"].startswith("AGPA") and len(group["GroupId"]) == 21
    assert group["CreateDate"] == NOW
    err = error_of(iam, "CreateGroup", GroupName="devs")
    assert (err.code, err.message) == (
        "EntityAlreadyExists",
        "Group with name devs already exists.",
    )


def test_groups_per_account_quota(iam: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iam_groups, "MAX_GROUPS", 2)
    iam("CreateGroup", GroupName="a")
    iam("CreateGroup", GroupName="b")
    err = error_of(iam, "CreateGroup", GroupName="c")
    assert (err.code, err.message) == (
        "LimitExceeded",
        "Cannot exceed quota for GroupsPerAccount: 2",
    )


def test_get_group_lists_its_users_paginated(iam: Call) -> None:
    iam("CreateGroup", GroupName="devs")
    for name in ["carol", "alice", "bob"]:
        iam("CreateUser", UserName=name, Tags=[{"Key": "k", "Value": "v"}])
        iam("AddUserToGroup", GroupName="devs", UserName=name)
    out = iam("GetGroup", GroupName="DEVS")
    assert out["Group"]["GroupName"] == "devs"
    assert names(out["Users"], "UserName") == ["alice", "bob", "carol"]
    assert all("Tags" not in u for u in out["Users"]) and out["IsTruncated"] is False
    page = iam("GetGroup", GroupName="devs", MaxItems=2)
    assert names(page["Users"], "UserName") == ["alice", "bob"] and page["IsTruncated"]
    rest = iam("GetGroup", GroupName="devs", MaxItems=2, Marker=page["Marker"])
    assert names(rest["Users"], "UserName") == ["carol"] and not rest["IsTruncated"]
    assert rest["Group"]["GroupName"] == "devs"


def test_missing_group(iam: Call) -> None:
    iam("CreateUser", UserName="alice")
    for op, params in [
        ("GetGroup", {}),
        ("UpdateGroup", {"NewGroupName": "x"}),
        ("DeleteGroup", {}),
        ("AddUserToGroup", {"UserName": "alice"}),
        ("RemoveUserFromGroup", {"UserName": "alice"}),
    ]:
        err = error_of(iam, op, GroupName="ghosts", **params)
        assert (err.code, err.message) == (
            "NoSuchEntity",
            "The group with name ghosts cannot be found.",
        ), op


def test_membership_needs_an_existing_user(iam: Call) -> None:
    iam("CreateGroup", GroupName="devs")
    for op in ("AddUserToGroup", "RemoveUserFromGroup"):
        err = error_of(iam, op, GroupName="devs", UserName="ghost")
        assert (err.code, err.message) == (
            "NoSuchEntity",
            "The user with name ghost cannot be found.",
        )
    err = error_of(iam, "ListGroupsForUser", UserName="ghost")
    assert err.code == "NoSuchEntity"


def test_add_is_idempotent_and_remove_of_non_member_succeeds(iam: Call) -> None:
    iam("CreateGroup", GroupName="devs")
    iam("CreateUser", UserName="alice")
    iam("AddUserToGroup", GroupName="devs", UserName="alice")
    iam("AddUserToGroup", GroupName="devs", UserName="ALICE")
    assert names(iam("GetGroup", GroupName="devs")["Users"], "UserName") == ["alice"]
    iam("RemoveUserFromGroup", GroupName="devs", UserName="alice")
    iam("RemoveUserFromGroup", GroupName="devs", UserName="alice")
    assert iam("GetGroup", GroupName="devs")["Users"] == []


def test_groups_per_user_quota(iam: Call) -> None:
    iam("CreateUser", UserName="alice")
    for i in range(11):
        iam("CreateGroup", GroupName=f"g{i:02d}")
    for i in range(10):
        iam("AddUserToGroup", GroupName=f"g{i:02d}", UserName="alice")
    err = error_of(iam, "AddUserToGroup", GroupName="g10", UserName="alice")
    assert (err.code, err.message) == ("LimitExceeded", "Cannot exceed quota for GroupsPerUser: 10")
    groups = iam("ListGroupsForUser", UserName="alice", MaxItems=4)
    assert names(groups["Groups"], "GroupName") == ["g00", "g01", "g02", "g03"]
    rest = iam("ListGroupsForUser", UserName="alice", Marker=groups["Marker"])
    assert len(rest["Groups"]) == 6 and not rest["IsTruncated"]


def test_rename_group_carries_members_and_policies(iam: Call) -> None:
    iam("CreateGroup", GroupName="devs")
    iam("CreateUser", UserName="alice")
    iam("AddUserToGroup", GroupName="devs", UserName="alice")
    iam("AttachGroupPolicy", GroupName="devs", PolicyArn=READ_ONLY)
    iam("PutGroupPolicy", GroupName="devs", PolicyName="p", PolicyDocument=allow("s3:*"))
    iam("UpdateGroup", GroupName="devs", NewGroupName="Builders", NewPath="/b/")
    group = iam("GetGroup", GroupName="builders")
    assert group["Group"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/b/Builders"
    assert names(group["Users"], "UserName") == ["alice"]
    assert names(iam("ListGroupsForUser", UserName="alice")["Groups"], "GroupName") == ["Builders"]
    attached = iam("ListAttachedGroupPolicies", GroupName="Builders")["AttachedPolicies"]
    assert names(attached, "PolicyArn") == [READ_ONLY]
    assert iam("ListGroupPolicies", GroupName="Builders")["PolicyNames"] == ["p"]
    assert error_of(iam, "GetGroup", GroupName="devs").code == "NoSuchEntity"


def test_rename_group_to_taken_name(iam: Call) -> None:
    iam("CreateGroup", GroupName="a")
    iam("CreateGroup", GroupName="b")
    err = error_of(iam, "UpdateGroup", GroupName="a", NewGroupName="B")
    assert (err.code, err.message) == ("EntityAlreadyExists", "Group with name B already exists.")


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("member", "Cannot delete entity, must remove users from group first."),
        ("inline", "Cannot delete entity, must delete policies first."),
        ("attached", "Cannot delete entity, must detach all policies first."),
    ],
)
def test_delete_group_conflicts(iam: Call, what: str, message: str) -> None:
    iam("CreateGroup", GroupName="devs")
    if what == "member":
        iam("CreateUser", UserName="alice")
        iam("AddUserToGroup", GroupName="devs", UserName="alice")
    elif what == "inline":
        iam("PutGroupPolicy", GroupName="devs", PolicyName="p", PolicyDocument=allow("s3:*"))
    else:
        iam("AttachGroupPolicy", GroupName="devs", PolicyArn=READ_ONLY)
    err = error_of(iam, "DeleteGroup", GroupName="devs")
    assert (err.code, err.message) == ("DeleteConflict", message)


def test_delete_and_list_groups(iam: Call) -> None:
    for name, path in [("b", "/x/"), ("a", "/"), ("c", "/x/y/")]:
        iam("CreateGroup", GroupName=name, Path=path)
    assert names(iam("ListGroups")["Groups"], "GroupName") == ["a", "b", "c"]
    assert names(iam("ListGroups", PathPrefix="/x/")["Groups"], "GroupName") == ["b", "c"]
    page = iam("ListGroups", MaxItems=1)
    assert names(page["Groups"], "GroupName") == ["a"] and page["IsTruncated"]
    iam("DeleteGroup", GroupName="B")
    assert names(iam("ListGroups")["Groups"], "GroupName") == ["a", "c"]


def test_group_membership_grants_permissions(iam: Call, iam_as: Call) -> None:
    iam("CreateUser", UserName="bob")
    iam("CreateGroup", GroupName="readers")
    assert error_of(iam_as, user_caller("bob"), "ListGroups").code == "AccessDenied"
    iam("PutGroupPolicy", GroupName="readers", PolicyName="p", PolicyDocument=allow("iam:List*"))
    iam("AddUserToGroup", GroupName="readers", UserName="bob")
    assert names(iam_as(user_caller("bob"), "ListGroups")["Groups"], "GroupName") == ["readers"]


def test_add_user_to_group_is_authorized_on_the_group(iam: Call, iam_as: Call) -> None:
    iam("CreateUser", UserName="bob")
    iam("CreateGroup", GroupName="devs", Path="/t/")
    arn = f"arn:aws:iam::{ACCOUNT}:group/t/devs"
    err = error_of(iam_as, user_caller("bob"), "AddUserToGroup", GroupName="devs", UserName="bob")
    assert err.code == "AccessDenied" and f"on resource: {arn}" in err.message
    iam(
        "PutUserPolicy",
        UserName="bob",
        PolicyName="p",
        PolicyDocument=allow("iam:AddUserToGroup", arn),
    )
    iam_as(user_caller("bob"), "AddUserToGroup", GroupName="devs", UserName="bob")
