"""IAM roles: CreateRole, GetRole, updates, DeleteRole, ListRoles, tags, boundaries."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from chamberlain.domain import InstanceProfile, Role
from chamberlain.ops.core.context import Services
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.iam import roles as iam_roles

from ..conftest import ACCOUNT, NOW, user_caller

Call = Callable[..., Any]
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
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


def error_of(call: Call, *args: Any, **params: Any) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        call(*args, **params)
    return info.value


def allow(actions: str | list[str], resource: str = "*", condition: Any = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def trust_of_size(size: int) -> str:
    """A valid trust policy of exactly `size` non-whitespace characters."""
    base = json.loads(TRUST)
    base["Statement"][0]["Sid"] = ""
    empty = len(json.dumps(base, separators=(",", ":")))
    base["Statement"][0]["Sid"] = "A" * (size - empty)
    text = json.dumps(base, separators=(",", ":"))
    assert len(text) == size
    return text


def test_create_role(iam: Call) -> None:
    role = iam(
        "CreateRole",
        RoleName="App",
        Path="/svc/",
        AssumeRolePolicyDocument=TRUST,
        Description="the app",
        MaxSessionDuration=7200,
        Tags=[{"Key": "env", "Value": "prod"}],
    )["Role"]
    assert role["RoleName"] == "App" and role["Path"] == "/svc/"
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/svc/App"
    assert role["RoleId"].startswith("AROA") and role["CreateDate"] == NOW
    assert role["AssumeRolePolicyDocument"] == TRUST
    assert role["Description"] == "the app" and role["MaxSessionDuration"] == 7200
    assert role["Tags"] == [{"Key": "env", "Value": "prod"}]
    err = error_of(iam, "CreateRole", RoleName="app", AssumeRolePolicyDocument=TRUST)
    assert (err.code, err.message) == ("EntityAlreadyExists", "Role with name app already exists.")


def test_get_role_defaults_and_last_used(iam: Call, services: Services) -> None:
    iam("CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST)
    role = iam("GetRole", RoleName="R")["Role"]
    assert role["MaxSessionDuration"] == 3600 and "Description" not in role
    assert role["RoleLastUsed"] == {}
    used = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with services.store.unit_of_work() as uow:
        stored = uow.repo(Role).get(ACCOUNT, "r")
        uow.repo(Role).put(replace(stored, last_used=used, last_used_region="eu-west-1"))
    last = iam("GetRole", RoleName="r")["Role"]["RoleLastUsed"]
    assert last == {"LastUsedDate": used, "Region": "eu-west-1"}
    err = error_of(iam, "GetRole", RoleName="ghost")
    assert (err.code, err.message) == ("NoSuchEntity", "The role with name ghost cannot be found.")


@pytest.mark.parametrize(
    ("document", "code", "message"),
    [
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
                }
            ),
            "MalformedPolicyDocument",
            None,
        ),
        ("{not json", "MalformedPolicyDocument", None),
        (trust_of_size(2049), "LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048"),
    ],
)
def test_create_role_validates_the_trust_policy(
    iam: Call, document: str, code: str, message: str | None
) -> None:
    err = error_of(iam, "CreateRole", RoleName="r", AssumeRolePolicyDocument=document)
    assert err.code == code
    if message is not None:
        assert err.message == message
    assert error_of(iam, "GetRole", RoleName="r").code == "NoSuchEntity"


def test_trust_policy_at_the_size_limit_is_accepted(iam: Call) -> None:
    iam("CreateRole", RoleName="r", AssumeRolePolicyDocument=trust_of_size(2048))


@pytest.mark.parametrize(
    ("value", "bound"),
    [(3599, "greater than or equal to 3600"), (43201, "less than or equal to 43200")],
)
def test_max_session_duration_bounds(iam: Call, value: int, bound: str) -> None:
    err = error_of(
        iam, "CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST, MaxSessionDuration=value
    )
    assert err.code == "ValidationError"
    assert err.message == (
        f"1 validation error detected: Value '{value}' at 'maxSessionDuration' failed to "
        f"satisfy constraint: Member must have value {bound}"
    )
    iam("CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST, MaxSessionDuration=43200)


def test_roles_per_account_quota(iam: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iam_roles, "MAX_ROLES", 2)
    iam("CreateRole", RoleName="a", AssumeRolePolicyDocument=TRUST)
    iam("CreateRole", RoleName="b", AssumeRolePolicyDocument=TRUST)
    err = error_of(iam, "CreateRole", RoleName="c", AssumeRolePolicyDocument=TRUST)
    assert (err.code, err.message) == (
        "LimitExceeded",
        "Cannot exceed quota for RolesPerAccount: 2",
    )


def test_update_role_and_description(iam: Call) -> None:
    iam("CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST, Description="old")
    assert iam("UpdateRole", RoleName="r", MaxSessionDuration=10000) == {}
    role = iam("GetRole", RoleName="r")["Role"]
    assert (role["MaxSessionDuration"], role["Description"]) == (10000, "old")
    iam("UpdateRole", RoleName="r", Description="")
    assert "Description" not in iam("GetRole", RoleName="r")["Role"]
    out = iam("UpdateRoleDescription", RoleName="r", Description="new")["Role"]
    assert out["Description"] == "new" and out["MaxSessionDuration"] == 10000
    err = error_of(iam, "UpdateRole", RoleName="r", MaxSessionDuration=60)
    assert err.code == "ValidationError"
    for op, params in [("UpdateRole", {}), ("UpdateRoleDescription", {"Description": "x"})]:
        err = error_of(iam, op, RoleName="ghost", **params)
        assert (err.code, err.message) == (
            "NoSuchEntity",
            "The role with name ghost cannot be found.",
        )


def test_update_assume_role_policy(iam: Call) -> None:
    iam("CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST)
    other = TRUST.replace("ec2.amazonaws.com", "lambda.amazonaws.com")
    iam("UpdateAssumeRolePolicy", RoleName="r", PolicyDocument=other)
    assert iam("GetRole", RoleName="r")["Role"]["AssumeRolePolicyDocument"] == other
    err = error_of(iam, "UpdateAssumeRolePolicy", RoleName="r", PolicyDocument=trust_of_size(3000))
    assert (err.code, err.message) == (
        "LimitExceeded",
        "Cannot exceed quota for ACLSizePerRole: 2048",
    )
    err = error_of(iam, "UpdateAssumeRolePolicy", RoleName="r", PolicyDocument=allow("s3:*"))
    assert err.code == "MalformedPolicyDocument"
    assert iam("GetRole", RoleName="r")["Role"]["AssumeRolePolicyDocument"] == other


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("inline", "Cannot delete entity, must delete policies first."),
        ("attached", "Cannot delete entity, must detach all policies first."),
        ("profile", "Cannot delete entity, must remove roles from instance profile first."),
    ],
)
def test_delete_role_conflicts(iam: Call, services: Services, what: str, message: str) -> None:
    iam("CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST)
    if what == "inline":
        iam("PutRolePolicy", RoleName="r", PolicyName="p", PolicyDocument=allow("s3:*"))
    elif what == "attached":
        iam("AttachRolePolicy", RoleName="r", PolicyArn=READ_ONLY)
    else:
        with services.store.unit_of_work() as uow:
            uow.repo(InstanceProfile).add(
                InstanceProfile(
                    account_id=ACCOUNT,
                    instance_profile_id="AIPAEXAMPLEEXAMPLE01",
                    name="ip",
                    path="/",
                    arn=f"arn:aws:iam::{ACCOUNT}:instance-profile/ip",
                    created=NOW,
                    role_names=("r",),
                )
            )
    err = error_of(iam, "DeleteRole", RoleName="r")
    assert (err.code, err.message) == ("DeleteConflict", message)


def test_delete_role_releases_its_boundary(iam: Call) -> None:
    arn = iam("CreatePolicy", PolicyName="b", PolicyDocument=allow("s3:*"))["Policy"]["Arn"]
    iam("CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST, PermissionsBoundary=arn)
    assert iam("GetPolicy", PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    iam("DeleteRole", RoleName="R")
    assert iam("GetPolicy", PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 0
    err = error_of(iam, "DeleteRole", RoleName="r")
    assert (err.code, err.message) == ("NoSuchEntity", "The role with name r cannot be found.")


def test_list_roles(iam: Call) -> None:
    for name, path in [("b", "/x/"), ("a", "/"), ("c", "/x/")]:
        iam(
            "CreateRole",
            RoleName=name,
            Path=path,
            AssumeRolePolicyDocument=TRUST,
            Tags=[{"Key": "k", "Value": "v"}],
        )
    roles = iam("ListRoles")["Roles"]
    assert [r["RoleName"] for r in roles] == ["a", "b", "c"]
    assert all("Tags" not in r and "RoleLastUsed" not in r for r in roles)
    assert roles[0]["MaxSessionDuration"] == 3600
    assert [r["RoleName"] for r in iam("ListRoles", PathPrefix="/x/")["Roles"]] == ["b", "c"]
    page = iam("ListRoles", MaxItems=2)
    rest = iam("ListRoles", MaxItems=2, Marker=page["Marker"])
    assert [r["RoleName"] for r in page["Roles"] + rest["Roles"]] == ["a", "b", "c"]
    assert page["IsTruncated"] and not rest["IsTruncated"]


def test_role_tags(iam: Call) -> None:
    iam("CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST)
    iam("TagRole", RoleName="r", Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    iam("UntagRole", RoleName="r", TagKeys=["B"])
    assert iam("ListRoleTags", RoleName="r")["Tags"] == [{"Key": "a", "Value": "1"}]
    assert iam("GetRole", RoleName="r")["Role"]["Tags"] == [{"Key": "a", "Value": "1"}]
    err = error_of(iam, "TagRole", RoleName="ghost", Tags=[{"Key": "a", "Value": "1"}])
    assert err.code == "NoSuchEntity"


def test_role_boundary(iam: Call) -> None:
    iam("CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST)
    iam("PutRolePermissionsBoundary", RoleName="r", PermissionsBoundary=READ_ONLY)
    boundary = iam("GetRole", RoleName="r")["Role"]["PermissionsBoundary"]
    assert boundary == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": READ_ONLY,
    }
    assert iam("GetPolicy", PolicyArn=READ_ONLY)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    iam("DeleteRolePermissionsBoundary", RoleName="r")
    assert "PermissionsBoundary" not in iam("GetRole", RoleName="r")["Role"]
    missing = f"arn:aws:iam::{ACCOUNT}:policy/nope"
    err = error_of(iam, "PutRolePermissionsBoundary", RoleName="r", PermissionsBoundary=missing)
    assert (err.code, err.message) == (
        "NoSuchEntity",
        f"Policy {missing} does not exist or is not attachable.",
    )


def test_create_role_authorization(iam: Call, iam_as: Call) -> None:
    iam("CreateUser", UserName="bob")
    bob = user_caller("bob")
    err = error_of(iam_as, bob, "CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST)
    assert err.code == "AccessDenied"
    assert f"on resource: arn:aws:iam::{ACCOUNT}:role/r" in err.message
    iam("PutUserPolicy", UserName="bob", PolicyName="p", PolicyDocument=allow("iam:CreateRole"))
    tags = [{"Key": "a", "Value": "1"}]
    err = error_of(
        iam_as, bob, "CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST, Tags=tags
    )
    assert err.code == "AccessDenied" and "iam:TagRole" in err.message
    iam_as(bob, "CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST)
    assert error_of(iam_as, bob, "DeleteRole", RoleName="r").code == "AccessDenied"
    err = error_of(iam_as, bob, "ListRoles", PathPrefix="/svc/")
    assert f"iam:ListRoles on resource: arn:aws:iam::{ACCOUNT}:role/svc/ because" in err.message


# ------------------------------------------------------------ service-linked roles

EB = "elasticbeanstalk.amazonaws.com"
EB_ROLE = "AWSServiceRoleForElasticBeanstalk"
PROTECTED = (
    f"Cannot perform the operation on the protected role '{EB_ROLE}' "
    "- this role is only modifiable by AWS"
)


@pytest.mark.parametrize("path", ["/aws-service-role/", f"/aws-service-role/{EB}/"])
def test_create_role_refuses_the_service_linked_path(iam: Call, path: str) -> None:
    err = error_of(iam, "CreateRole", RoleName="r", Path=path, AssumeRolePolicyDocument=TRUST)
    assert (err.code, err.http_status, err.message) == (
        "InvalidInput",
        400,
        "Path prefix '/aws-service-role/' can only be used for AWS Service linked Roles",
    )
    assert iam("ListRoles")["Roles"] == []
    # A path that merely resembles it is an ordinary path.
    iam("CreateRole", RoleName="r", Path="/aws-service-roles/", AssumeRolePolicyDocument=TRUST)


GUARDED: list[tuple[str, dict[str, Any]]] = [
    ("DeleteRole", {}),
    ("UpdateAssumeRolePolicy", {"PolicyDocument": TRUST}),
    ("PutRolePermissionsBoundary", {"PermissionsBoundary": READ_ONLY}),
    ("DeleteRolePermissionsBoundary", {}),
    ("TagRole", {"Tags": [{"Key": "k", "Value": "v"}]}),
    ("UntagRole", {"TagKeys": ["k"]}),
]


@pytest.mark.parametrize(("op", "params"), GUARDED)
def test_service_linked_roles_are_only_modifiable_by_aws(
    iam: Call, op: str, params: dict[str, Any]
) -> None:
    before = iam("CreateServiceLinkedRole", AWSServiceName=EB)["Role"]
    err = error_of(iam, op, RoleName=EB_ROLE, **params)
    assert (err.code, err.http_status, err.message) == ("UnmodifiableEntity", 400, PROTECTED)
    after = iam("GetRole", RoleName=EB_ROLE)["Role"]
    after.pop("RoleLastUsed")
    assert after == before
    assert iam("GetPolicy", PolicyArn=READ_ONLY)["Policy"]["PermissionsBoundaryUsageCount"] == 0


def test_guarded_operations_still_work_on_ordinary_roles(iam: Call) -> None:
    iam("CreateRole", RoleName="plain", AssumeRolePolicyDocument=TRUST)
    for op, params in GUARDED[1:] + GUARDED[:1]:  # DeleteRole last
        iam(op, RoleName="plain", **params)
    assert error_of(iam, "GetRole", RoleName="plain").code == "NoSuchEntity"


def test_service_linked_role_description_and_duration_can_change(iam: Call) -> None:
    iam("CreateServiceLinkedRole", AWSServiceName=EB)
    iam("UpdateRoleDescription", RoleName=EB_ROLE, Description="mine")
    iam("UpdateRole", RoleName=EB_ROLE, MaxSessionDuration=7200)
    role = iam("GetRole", RoleName=EB_ROLE)["Role"]
    assert (role["Description"], role["MaxSessionDuration"]) == ("mine", 7200)
