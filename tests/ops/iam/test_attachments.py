"""Managed policy attachments and ListEntitiesForPolicy."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from chamberlain.ops.core.context import Services
from chamberlain.ops.core.errors import ServiceError

from ..conftest import ACCOUNT, user_caller
from ..entity_seed import Seed

Call = Callable[..., Any]
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
# Operation word, name parameter, how to create one, quota name
PRINCIPALS = [
    ("User", "UserName", ("CreateUser", {}), "PoliciesPerUser"),
    ("Group", "GroupName", ("CreateGroup", {}), "PoliciesPerGroup"),
    ("Role", "RoleName", ("CreateRole", {"AssumeRolePolicyDocument": TRUST}), "PoliciesPerRole"),
]


def error_of(call: Call, *args: Any, **params: Any) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        call(*args, **params)
    return info.value


def allow(actions: str | list[str], resource: str = "*", condition: Any = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def create(iam: Call, how: tuple[str, dict], param: str, name: str, **extra: Any) -> None:
    op, params = how
    iam(op, **{param: name}, **params, **extra)


def policy(iam: Call, name: str, path: str = "/") -> str:
    return iam("CreatePolicy", PolicyName=name, Path=path, PolicyDocument=allow("s3:*"))["Policy"][
        "Arn"
    ]


@pytest.mark.parametrize(("word", "param", "how", "quota"), PRINCIPALS)
def test_attach_detach_list(iam: Call, word: str, param: str, how: tuple, quota: str) -> None:
    create(iam, how, param, "p1")
    arn = policy(iam, "Custom", "/team/")
    iam(f"Attach{word}Policy", **{param: "P1"}, PolicyArn=arn)
    iam(f"Attach{word}Policy", **{param: "p1"}, PolicyArn=arn)  # again: no error, no count
    iam(f"Attach{word}Policy", **{param: "p1"}, PolicyArn=READ_ONLY)
    assert iam("GetPolicy", PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    listed = iam(f"ListAttached{word}Policies", **{param: "p1"})
    assert sorted(a["PolicyName"] for a in listed["AttachedPolicies"]) == [
        "Custom",
        "ReadOnlyAccess",
    ]
    only_team = iam(f"ListAttached{word}Policies", **{param: "p1"}, PathPrefix="/team/")
    assert only_team["AttachedPolicies"] == [{"PolicyName": "Custom", "PolicyArn": arn}]
    page = iam(f"ListAttached{word}Policies", **{param: "p1"}, MaxItems=1)
    assert len(page["AttachedPolicies"]) == 1 and page["IsTruncated"]
    iam(f"Detach{word}Policy", **{param: "p1"}, PolicyArn=arn)
    assert iam("GetPolicy", PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    err = error_of(iam, f"Detach{word}Policy", **{param: "p1"}, PolicyArn=arn)
    assert (err.code, err.message) == ("NoSuchEntity", f"Policy {arn} was not found.")


@pytest.mark.parametrize(("word", "param", "how", "quota"), PRINCIPALS)
def test_attach_errors(iam: Call, word: str, param: str, how: tuple, quota: str) -> None:
    kind = word.lower()
    err = error_of(iam, f"Attach{word}Policy", **{param: "ghost"}, PolicyArn=READ_ONLY)
    assert (err.code, err.message) == (
        "NoSuchEntity",
        f"The {kind} with name ghost cannot be found.",
    )
    err = error_of(iam, f"ListAttached{word}Policies", **{param: "ghost"})
    assert err.code == "NoSuchEntity"
    create(iam, how, param, "p1")
    missing = f"arn:aws:iam::{ACCOUNT}:policy/missing"
    err = error_of(iam, f"Attach{word}Policy", **{param: "p1"}, PolicyArn=missing)
    assert (err.code, err.message) == (
        "NoSuchEntity",
        f"Policy {missing} does not exist or is not attachable.",
    )
    err = error_of(iam, f"Attach{word}Policy", **{param: "p1"}, PolicyArn="arn:aws:s3:::bucket")
    assert (err.code, err.message) == ("InvalidInput", "ARN arn:aws:s3:::bucket is not valid.")


@pytest.mark.parametrize(("word", "param", "how", "quota"), PRINCIPALS)
def test_ten_managed_policies_at_most(
    iam: Call, word: str, param: str, how: tuple, quota: str
) -> None:
    create(iam, how, param, "p1")
    arns = [policy(iam, f"pol{i}") for i in range(11)]
    for arn in arns[:10]:
        iam(f"Attach{word}Policy", **{param: "p1"}, PolicyArn=arn)
    err = error_of(iam, f"Attach{word}Policy", **{param: "p1"}, PolicyArn=arns[10])
    assert (err.code, err.message) == ("LimitExceeded", f"Cannot exceed quota for {quota}: 10")
    assert iam("GetPolicy", PolicyArn=arns[10])["Policy"]["AttachmentCount"] == 0


def test_list_entities_for_policy(iam: Call) -> None:
    arn = policy(iam, "shared")
    iam("CreateUser", UserName="alice", Path="/eng/")
    iam("CreateUser", UserName="bob")
    iam("CreateGroup", GroupName="devs")
    iam("CreateRole", RoleName="app", AssumeRolePolicyDocument=TRUST)
    iam("AttachUserPolicy", UserName="alice", PolicyArn=arn)
    iam("AttachGroupPolicy", GroupName="devs", PolicyArn=arn)
    iam("AttachRolePolicy", RoleName="app", PolicyArn=arn)
    iam("PutUserPermissionsBoundary", UserName="bob", PermissionsBoundary=arn)
    out = iam("ListEntitiesForPolicy", PolicyArn=arn)
    group_id = iam("GetGroup", GroupName="devs")["Group"]["GroupId"]
    assert out["PolicyGroups"] == [{"GroupName": "devs", "GroupId": group_id}]
    assert [u["UserName"] for u in out["PolicyUsers"]] == ["alice", "bob"]
    assert out["PolicyUsers"][0]["UserId"] == iam("GetUser", UserName="alice")["User"]["UserId"]
    assert [r["RoleName"] for r in out["PolicyRoles"]] == ["app"]
    assert out["IsTruncated"] is False

    def names(**params: Any) -> list[str]:
        got = iam("ListEntitiesForPolicy", PolicyArn=arn, **params)
        return [
            *(g["GroupName"] for g in got["PolicyGroups"]),
            *(u["UserName"] for u in got["PolicyUsers"]),
            *(r["RoleName"] for r in got["PolicyRoles"]),
        ]

    assert names(EntityFilter="User") == ["alice", "bob"]
    assert names(EntityFilter="Role") == ["app"]
    assert names(EntityFilter="LocalManagedPolicy") == []
    assert names(PathPrefix="/eng/") == ["alice"]
    assert names(PolicyUsageFilter="PermissionsBoundary") == ["bob"]
    assert names(PolicyUsageFilter="PermissionsPolicy") == ["devs", "alice", "app"]
    first = iam("ListEntitiesForPolicy", PolicyArn=arn, MaxItems=2)
    rest = iam("ListEntitiesForPolicy", PolicyArn=arn, MaxItems=2, Marker=first["Marker"])
    assert first["IsTruncated"] and not rest["IsTruncated"]
    count = sum(
        len(p[k]) for p in (first, rest) for k in ("PolicyGroups", "PolicyUsers", "PolicyRoles")
    )
    assert count == 4
    err = error_of(iam, "ListEntitiesForPolicy", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/x")
    assert (err.code, err.message) == (
        "NoSuchEntity",
        f"Policy arn:aws:iam::{ACCOUNT}:policy/x was not found.",
    )


def test_attached_policy_grants_permissions(iam: Call, iam_as: Call) -> None:
    iam("CreateUser", UserName="bob")
    bob = user_caller("bob")
    assert error_of(iam_as, bob, "ListRoles").code == "AccessDenied"
    iam("AttachUserPolicy", UserName="bob", PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    assert iam_as(bob, "ListRoles")["Roles"] == []


def test_policy_arn_condition_key(iam: Call, iam_as: Call) -> None:
    """An admin may attach only ReadOnlyAccess (iam:PolicyARN)."""
    iam("CreateUser", UserName="bob")
    iam("CreateUser", UserName="alice")
    cond = {"ArnEquals": {"iam:PolicyARN": READ_ONLY}}
    doc = allow(["iam:AttachUserPolicy", "iam:DetachUserPolicy"], condition=cond)
    iam("PutUserPolicy", UserName="bob", PolicyName="p", PolicyDocument=doc)
    bob = user_caller("bob")
    err = error_of(iam_as, bob, "AttachUserPolicy", UserName="alice", PolicyArn=ADMIN)
    assert err.code == "AccessDenied"
    assert f"iam:AttachUserPolicy on resource: arn:aws:iam::{ACCOUNT}:user/alice" in err.message
    iam_as(bob, "AttachUserPolicy", UserName="alice", PolicyArn=READ_ONLY)
    iam_as(bob, "DetachUserPolicy", UserName="alice", PolicyArn=READ_ONLY)


def test_service_linked_role_attachments_are_only_modifiable_by_aws(
    iam: Call, services: Services
) -> None:
    role = "AWSServiceRoleForElasticBeanstalk"
    iam("CreateServiceLinkedRole", AWSServiceName="elasticbeanstalk.amazonaws.com")
    Seed(services).attach("role", role, READ_ONLY)
    protected = (
        f"Cannot perform the operation on the protected role '{role}' "
        "- this role is only modifiable by AWS"
    )
    for op, arn in (
        ("AttachRolePolicy", ADMIN),
        ("AttachRolePolicy", READ_ONLY),
        ("DetachRolePolicy", READ_ONLY),
    ):
        err = error_of(iam, op, RoleName=role, PolicyArn=arn)
        assert (err.code, err.http_status, err.message) == ("UnmodifiableEntity", 400, protected)
    listed = iam("ListAttachedRolePolicies", RoleName=role)["AttachedPolicies"]
    assert listed == [{"PolicyName": "ReadOnlyAccess", "PolicyArn": READ_ONLY}]
    # The role's own deletion still detaches its policies.
    iam("DeleteServiceLinkedRole", RoleName=role)
    assert iam("ListEntitiesForPolicy", PolicyArn=READ_ONLY)["PolicyRoles"] == []
