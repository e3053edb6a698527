"""GetAccountAuthorizationDetails: the account's users, groups, roles and managed
policies with their relationships (shapes as in the AWS CLI reference's example)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.parsers import create_parser

from chamberlain.ops.core.aws_managed import AWS_MANAGED
from chamberlain.ops.core.context import Services
from chamberlain.ops.core.errors import AccessDenied, ServiceError
from chamberlain.ops.iam import auth_details as iam_auth_details  # noqa: F401  (registers the operation)
from chamberlain.protocol.models import service_model
from chamberlain.protocol.xml_out import serialize_response

from ..conftest import ACCOUNT, NOW, user_caller
from ..entity_seed import TRUST, Seed, allow, deny, policy

Call = Callable[..., Any]
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
SECURITY_AUDIT = "arn:aws:iam::aws:policy/SecurityAudit"
MINE = f"arn:aws:iam::{ACCOUNT}:policy/create-update"
LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
USED = dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def world(services: Services) -> Seed:
    seed = Seed(services)
    seed.user("Bob", tags=(("team", "blue"),), boundary=SECURITY_AUDIT)
    seed.user("alice", path="/eng/")
    seed.group("Admins")
    seed.group("dev")
    seed.member("Admins", "alice")
    seed.member("dev", "alice")
    seed.inline("user", "Bob", "DenyBilling", policy(deny("aws-portal:*")))
    seed.attach("group", "Admins", ADMIN)
    seed.inline("group", "dev", "Read", policy(allow("s3:Get*")))
    seed.role("EC2role", last_used=USED, last_used_region="us-west-2")
    seed.instance_profile("EC2role", "EC2role")
    seed.role("idle", tags=(("env", "dev"),))
    seed.attach("role", "idle", ADMIN)
    mine = seed.managed(
        "create-update", policy(allow("iam:GetPolicy")), policy(allow("iam:*Policy*")),
        attachments=1,
    )  # fmt: skip
    seed.attach("user", "alice", mine)
    seed.managed("unused", policy(allow("s3:ListBucket")))
    return seed


def names(out: dict[str, Any], list_name: str) -> list[str]:
    key = {"Policies": "PolicyName"}.get(list_name, list_name.replace("DetailList", "Name"))
    return [item[key] for item in out[list_name]]


def test_everything(iam: Call, world: Seed) -> None:
    out = iam("GetAccountAuthorizationDetails")
    assert out["IsTruncated"] is False
    assert "Marker" not in out
    alice, bob = out["UserDetailList"]  # in name order, case-insensitively
    assert alice == {
        "Path": "/eng/",
        "UserName": "alice",
        "UserId": alice["UserId"],
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/eng/alice",
        "CreateDate": NOW,
        "UserPolicyList": [],
        "GroupList": ["Admins", "dev"],
        "AttachedManagedPolicies": [{"PolicyName": "create-update", "PolicyArn": MINE}],
    }
    assert bob["UserPolicyList"] == [
        {"PolicyName": "DenyBilling", "PolicyDocument": policy(deny("aws-portal:*"))}
    ]
    assert bob["GroupList"] == []
    assert bob["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": SECURITY_AUDIT,
    }
    assert bob["Tags"] == [{"Key": "team", "Value": "blue"}]

    admins, dev = out["GroupDetailList"]
    assert admins["AttachedManagedPolicies"] == [
        {"PolicyName": "AdministratorAccess", "PolicyArn": ADMIN}
    ]
    assert (admins["GroupPolicyList"], dev["AttachedManagedPolicies"]) == ([], [])
    assert dev["GroupPolicyList"] == [
        {"PolicyName": "Read", "PolicyDocument": policy(allow("s3:Get*"))}
    ]

    ec2, idle = out["RoleDetailList"]
    assert ec2["AssumeRolePolicyDocument"] == TRUST
    assert ec2["RoleLastUsed"] == {"LastUsedDate": USED, "Region": "us-west-2"}
    [profile] = ec2["InstanceProfileList"]
    assert profile["InstanceProfileName"] == "EC2role"
    assert profile["Arn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/EC2role"
    assert [r["RoleName"] for r in profile["Roles"]] == ["EC2role"]
    assert profile["Roles"][0]["AssumeRolePolicyDocument"] == TRUST
    assert (ec2["RolePolicyList"], ec2["AttachedManagedPolicies"]) == ([], [])
    assert "Tags" not in ec2
    assert idle["RoleLastUsed"] == {}
    assert idle["InstanceProfileList"] == []
    assert idle["Tags"] == [{"Key": "env", "Value": "dev"}]

    # Customer managed policies (all of them), then the AWS managed ones in use.
    assert names(out, "Policies") == ["create-update", "unused", "AdministratorAccess"]
    mine, unused, admin = out["Policies"]
    assert mine["DefaultVersionId"] == "v2"
    assert (mine["AttachmentCount"], mine["PermissionsBoundaryUsageCount"]) == (1, 0)
    assert mine["IsAttachable"] is True
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in mine["PolicyVersionList"]] == [
        ("v2", True),
        ("v1", False),
    ]
    assert mine["PolicyVersionList"][1]["Document"] == policy(allow("iam:GetPolicy"))
    assert unused["AttachmentCount"] == 0
    # AdministratorAccess: attached to a group and a role. SecurityAudit is only a
    # boundary, not attached: AWS lists the attached AWS managed policies.
    assert admin["Arn"] == ADMIN
    assert (admin["AttachmentCount"], admin["PermissionsBoundaryUsageCount"]) == (2, 0)
    assert admin["PolicyVersionList"] == [
        {
            "Document": AWS_MANAGED[ADMIN].document,
            "VersionId": "v1",
            "IsDefaultVersion": True,
            "CreateDate": AWS_MANAGED[ADMIN].created,
        }
    ]


def test_aws_managed_boundary_usage_is_counted(iam: Call, world: Seed) -> None:
    world.attach("user", "Bob", SECURITY_AUDIT)
    out = iam("GetAccountAuthorizationDetails", Filter=["AWSManagedPolicy"])
    audit = next(p for p in out["Policies"] if p["Arn"] == SECURITY_AUDIT)
    assert (audit["AttachmentCount"], audit["PermissionsBoundaryUsageCount"]) == (1, 1)


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        (["User"], {"UserDetailList": ["alice", "Bob"]}),
        (["Group"], {"GroupDetailList": ["Admins", "dev"]}),
        (["Role"], {"RoleDetailList": ["EC2role", "idle"]}),
        (["LocalManagedPolicy"], {"Policies": ["create-update", "unused"]}),
        (["AWSManagedPolicy"], {"Policies": ["AdministratorAccess"]}),
        (["Role", "User"],
         {"UserDetailList": ["alice", "Bob"], "RoleDetailList": ["EC2role", "idle"]}),
        ([], {
            "UserDetailList": ["alice", "Bob"],
            "GroupDetailList": ["Admins", "dev"],
            "RoleDetailList": ["EC2role", "idle"],
            "Policies": ["create-update", "unused", "AdministratorAccess"],
        }),
    ],
)  # fmt: skip
def test_filter(iam: Call, world: Seed, filter_: list[str], expected: dict[str, list[str]]) -> None:
    out = iam("GetAccountAuthorizationDetails", Filter=filter_)
    for list_name in LISTS:  # every list is present, empty when filtered out
        assert names(out, list_name) == expected.get(list_name, []), list_name


@pytest.mark.parametrize("max_items", [1, 2, 3, 5, 100])
def test_pagination_counts_entities_across_lists(iam: Call, world: Seed, max_items: int) -> None:
    everything = iam("GetAccountAuthorizationDetails")
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"MaxItems": max_items}
    while True:
        page = iam("GetAccountAuthorizationDetails", **params)
        pages.append(page)
        assert sum(len(page[n]) for n in LISTS) <= max_items
        if not page["IsTruncated"]:
            break
        assert sum(len(page[n]) for n in LISTS) == max_items
        params["Marker"] = page["Marker"]
    total = sum(len(everything[n]) for n in LISTS)
    assert total == 9
    assert len(pages) == -(-total // max_items)
    for list_name in LISTS:
        assert [x for p in pages for x in p[list_name]] == everything[list_name]


def test_empty_account(iam: Call) -> None:
    out = iam("GetAccountAuthorizationDetails")
    assert out == {
        "UserDetailList": [],
        "GroupDetailList": [],
        "RoleDetailList": [],
        "Policies": [],
        "IsTruncated": False,
    }


def test_authorization(iam_as: Call, world: Seed) -> None:
    carol = user_caller("carol", "AIDAEXAMPLEEXAMPLE99")
    world.user("carol")
    with pytest.raises(ServiceError) as info:
        iam_as(carol, "GetAccountAuthorizationDetails")
    assert isinstance(info.value, AccessDenied)
    assert info.value.message == (
        f"User: {carol.arn} is not authorized to perform: iam:GetAccountAuthorizationDetails "
        "on resource: * because no identity-based policy allows the "
        "iam:GetAccountAuthorizationDetails action"
    )
    world.attach("user", "carol", SECURITY_AUDIT)  # iam:Get*
    out = iam_as(carol, "GetAccountAuthorizationDetails", Filter=["User"])
    assert names(out, "UserDetailList") == ["alice", "Bob", "carol"]


def _decoded(value: Any, shape: Any) -> Any:
    """botocore hands IAM's policy documents back URL-encoded (boto3 decodes them)."""
    if shape.type_name == "string" and shape.name == "policyDocumentType":
        return unquote(value)
    if shape.type_name == "structure":
        return {k: _decoded(v, shape.members[k]) for k, v in value.items()}
    if shape.type_name == "list":
        return [_decoded(v, shape.member) for v in value]
    return value


def test_output_serializes_to_the_model(iam: Call, world: Seed) -> None:
    """The XML serializer refuses members and types the output shape lacks; botocore
    parses the body back into the same data."""
    out = iam("GetAccountAuthorizationDetails", MaxItems=8)
    shape = service_model("iam").operation_model("GetAccountAuthorizationDetails").output_shape
    body = serialize_response("iam", "GetAccountAuthorizationDetails", out, "req-1")
    parsed = create_parser("query").parse({"body": body, "headers": {}, "status_code": 200}, shape)
    parsed.pop("ResponseMetadata")
    assert _decoded(parsed, shape) == out


def test_stored_names_keep_their_case(iam: Call, services: Services) -> None:
    seed = Seed(services)
    seed.user("Zed")
    group = seed.group("Ops")
    seed.member("ops", "zed")  # memberships keyed by name, whatever its case
    [zed] = iam("GetAccountAuthorizationDetails", Filter=["User"])["UserDetailList"]
    assert zed["GroupList"] == [group.name]
