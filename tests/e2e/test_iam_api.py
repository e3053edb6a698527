"""IAM over the wire with unmodified boto3: identities, policies, errors, pagination."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, Server

ALLOW_LIST_USERS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}],
    }
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_caller_identity_of_admin_and_root(server: Server) -> None:
    me = server.client("sts").get_caller_identity()
    assert me["Account"] == ACCOUNT
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/admin"
    assert me["UserId"].startswith("AIDA")
    root = server.client("sts", profile="admin-root").get_caller_identity()
    assert root["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert root["UserId"] == ACCOUNT


def test_user_lifecycle_and_errors(server: Server) -> None:
    iam = server.client("iam")
    name = unique("alice")
    created = iam.create_user(UserName=name, Path="/team/", Tags=[{"Key": "team", "Value": "a"}])
    user = created["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/team/{name}"
    assert user["UserId"].startswith("AIDA")
    assert iam.get_user(UserName=name)["User"]["UserId"] == user["UserId"]
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName=name)
    assert error_of(exc)[:2] == ("EntityAlreadyExists", 409)
    iam.delete_user(UserName=name)
    with pytest.raises(ClientError) as exc:
        iam.get_user(UserName=name)
    code, status, message = error_of(exc)
    assert (code, status) == ("NoSuchEntity", 404)
    assert name in message
    assert exc.value.response["ResponseMetadata"]["RequestId"]


def test_model_validation_error(server: Server) -> None:
    with pytest.raises(ClientError) as exc:
        server.client("iam").create_user(UserName="bad name!")
    code, status, _ = error_of(exc)
    assert (code, status) == ("ValidationError", 400)


def test_new_user_has_no_permissions_until_a_policy_allows(server: Server) -> None:
    iam = server.client("iam")
    name = unique("bob")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    bob = server.client_with_keys("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        bob.list_users()
    code, status, message = error_of(exc)
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: "
        f"iam:ListUsers on resource: arn:aws:iam::{ACCOUNT}:user/ because no "
        "identity-based policy allows the iam:ListUsers action"
    )
    iam.put_user_policy(UserName=name, PolicyName="list", PolicyDocument=ALLOW_LIST_USERS)
    assert any(u["UserName"] == name for u in bob.list_users()["Users"])
    # An explicit deny wins over the allow.
    deny = json.loads(ALLOW_LIST_USERS)
    deny["Statement"][0]["Effect"] = "Deny"
    iam.put_user_policy(UserName=name, PolicyName="deny", PolicyDocument=json.dumps(deny))
    with pytest.raises(ClientError) as exc:
        bob.list_users()
    assert "with an explicit deny in an identity-based policy" in error_of(exc)[2]


def test_managed_policy_versions_and_attachment(server: Server) -> None:
    iam = server.client("iam")
    group, policy_name = unique("devs"), unique("read")
    iam.create_group(GroupName=group)
    arn = iam.create_policy(PolicyName=policy_name, PolicyDocument=ALLOW_LIST_USERS)["Policy"][
        "Arn"
    ]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/{policy_name}"
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == json.loads(ALLOW_LIST_USERS)  # URL-encoded on the wire
    assert version["IsDefaultVersion"] is True
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=ALLOW_LIST_USERS, SetAsDefault=True)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    attached = iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"]
    assert attached == [{"PolicyName": policy_name, "PolicyArn": arn}]
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert error_of(exc)[:2] == ("DeleteConflict", 409)
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName=unique("bad"), PolicyDocument='{"Version": "2012-10-17"}')
    # AWS's exact wire message; the explanation stays in the policy error's detail.
    assert error_of(exc) == ("MalformedPolicyDocument", 400, "Syntax errors in policy.")


def test_pagination_with_a_paginator(server: Server) -> None:
    iam = server.client("iam")
    prefix = f"/page{uuid.uuid4().hex[:6]}/"
    names = sorted(unique("p") for _ in range(7))
    for name in names:
        iam.create_user(UserName=name, Path=prefix)
    first = iam.list_users(PathPrefix=prefix, MaxItems=3)
    assert first["IsTruncated"] is True and len(first["Users"]) == 3
    pages = iam.get_paginator("list_users").paginate(
        PathPrefix=prefix, PaginationConfig={"PageSize": 2}
    )
    seen = [u["UserName"] for page in pages for u in page["Users"]]
    assert sorted(seen) == names


def test_role_with_trust_policy(server: Server) -> None:
    iam = server.client("iam")
    name = unique("app")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    assert role["RoleId"].startswith("AROA")
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == trust
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=unique("x"), AssumeRolePolicyDocument=ALLOW_LIST_USERS)
    assert error_of(exc)[:2] == ("MalformedPolicyDocument", 400)
