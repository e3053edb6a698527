"""Instance profiles: lifecycle, the one-role quota, PassRole, listing and tags."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from chamberlain.crypto.ids import Prefix, is_unique_id, new_unique_id
from chamberlain.domain import Role
from chamberlain.ops.core.context import Caller, Services
from chamberlain.ops.core.errors import ServiceError
from chamberlain.protocol.models import find_operation, validate_input
from chamberlain.protocol.xml_out import serialize_response

from ..conftest import ACCOUNT, NOW, error, root_caller
from ..entity_seed import add_user

Call = Callable[..., Any]
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


@pytest.fixture
def aws(iam_as: Call) -> Call:
    """Run an operation with model-valid input and check the output serializes."""

    def call(name: str, caller: Caller | None = None, **params: Any) -> Any:
        op = find_operation("iam", name)
        assert op is not None
        assert validate_input(op.input_shape, params) == []
        out = iam_as(caller or root_caller(), name, **params)
        serialize_response("iam", name, out, "req")
        return out

    return call


@pytest.fixture
def role(services: Services) -> Role:
    stored = Role(
        ACCOUNT,
        new_unique_id(Prefix.ROLE),
        "WebServer",
        "/app/",
        f"arn:aws:iam::{ACCOUNT}:role/app/WebServer",
        TRUST,
        NOW,
    )
    with services.store.unit_of_work() as uow:
        uow.repo(Role).add(stored)
    return stored






# ------------------------------------------------------------------------- lifecycle


def test_create_get_delete(aws: Call):
    created = aws("CreateInstanceProfile", InstanceProfileName="web", Path="/app/")
    profile = created["InstanceProfile"]
    assert profile["InstanceProfileName"] == "web"
    assert profile["Path"] == "/app/"
    assert profile["Arn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/app/web"
    assert is_unique_id(profile["InstanceProfileId"], Prefix.INSTANCE_PROFILE)
    assert profile["Roles"] == []
    assert profile["CreateDate"] == NOW
    assert aws("GetInstanceProfile", InstanceProfileName="WEB") == created

    with pytest.raises(ServiceError) as excinfo:
        aws("CreateInstanceProfile", InstanceProfileName="Web")
    assert error(excinfo) == ("EntityAlreadyExists", "Instance Profile Web already exists.")

    aws("DeleteInstanceProfile", InstanceProfileName="web")
    for name in ("GetInstanceProfile", "DeleteInstanceProfile"):
        with pytest.raises(ServiceError) as excinfo:
            aws(name, InstanceProfileName="web")
        assert error(excinfo) == ("NoSuchEntity", "Instance Profile web cannot be found.")


def test_one_role_per_profile(aws: Call, role: Role):
    aws("CreateInstanceProfile", InstanceProfileName="web")
    with pytest.raises(ServiceError) as excinfo:
        aws("AddRoleToInstanceProfile", InstanceProfileName="web", RoleName="missing")
    assert error(excinfo) == ("NoSuchEntity", "The role with name missing cannot be found.")

    aws("AddRoleToInstanceProfile", InstanceProfileName="web", RoleName="webserver")
    (shown,) = aws("GetInstanceProfile", InstanceProfileName="web")["InstanceProfile"]["Roles"]
    assert shown == {
        "Path": "/app/",
        "RoleName": "WebServer",
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": NOW,
        "AssumeRolePolicyDocument": TRUST,
    }
    with pytest.raises(ServiceError) as excinfo:
        aws("AddRoleToInstanceProfile", InstanceProfileName="web", RoleName="WebServer")
    assert error(excinfo) == (
        "LimitExceeded",
        "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1",
    )
    with pytest.raises(ServiceError) as excinfo:
        aws("DeleteInstanceProfile", InstanceProfileName="web")
    assert error(excinfo) == (
        "DeleteConflict",
        "Cannot delete entity, must remove roles from instance profile first.",
    )
    listed = aws("ListInstanceProfilesForRole", RoleName="WebServer")["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in listed] == ["web"]

    aws("RemoveRoleFromInstanceProfile", InstanceProfileName="web", RoleName="WebServer")
    with pytest.raises(ServiceError) as excinfo:
        aws("RemoveRoleFromInstanceProfile", InstanceProfileName="web", RoleName="WebServer")
    assert excinfo.value.code == "NoSuchEntity"
    assert aws("ListInstanceProfilesForRole", RoleName="WebServer")["InstanceProfiles"] == []
    aws("DeleteInstanceProfile", InstanceProfileName="web")
    with pytest.raises(ServiceError) as excinfo:
        aws("ListInstanceProfilesForRole", RoleName="nobody")
    assert error(excinfo) == ("NoSuchEntity", "The role with name nobody cannot be found.")


def test_list_filters_and_paginates(aws: Call):
    for name, path in (("a", "/"), ("b", "/team/"), ("c", "/team/x/"), ("d", "/other/")):
        aws("CreateInstanceProfile", InstanceProfileName=name, Path=path, Tags=[])
    everything = aws("ListInstanceProfiles")
    assert [p["InstanceProfileName"] for p in everything["InstanceProfiles"]] == list("abcd")
    assert everything["IsTruncated"] is False
    team = aws("ListInstanceProfiles", PathPrefix="/team/")["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in team] == ["b", "c"]
    page = aws("ListInstanceProfiles", MaxItems=3)
    assert page["IsTruncated"] is True
    rest = aws("ListInstanceProfiles", MaxItems=3, Marker=page["Marker"])
    assert [p["InstanceProfileName"] for p in rest["InstanceProfiles"]] == ["d"]


# ------------------------------------------------------------------------------ tags


def test_tags(aws: Call):
    tags = [{"Key": "team", "Value": "web"}, {"Key": "env", "Value": "prod"}]
    created = aws("CreateInstanceProfile", InstanceProfileName="web", Tags=tags)
    assert created["InstanceProfile"]["Tags"] == tags
    assert "Tags" not in aws("ListInstanceProfiles")["InstanceProfiles"][0]
    aws("TagInstanceProfile", InstanceProfileName="web", Tags=[{"Key": "ENV", "Value": "dev"}])
    assert aws("ListInstanceProfileTags", InstanceProfileName="web")["Tags"] == [
        {"Key": "team", "Value": "web"},
        {"Key": "env", "Value": "dev"},
    ]
    page = aws("ListInstanceProfileTags", InstanceProfileName="web", MaxItems=1)
    assert page["Tags"] == [{"Key": "team", "Value": "web"}] and page["IsTruncated"]
    rest = aws("ListInstanceProfileTags", InstanceProfileName="web", Marker=page["Marker"])
    assert rest["Tags"] == [{"Key": "env", "Value": "dev"}]
    aws("UntagInstanceProfile", InstanceProfileName="web", TagKeys=["team"])
    got = aws("GetInstanceProfile", InstanceProfileName="web")["InstanceProfile"]
    assert got["Tags"] == [{"Key": "env", "Value": "dev"}]
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    with pytest.raises(ServiceError) as excinfo:
        aws("TagInstanceProfile", InstanceProfileName="web", Tags=many)
    assert error(excinfo) == ("LimitExceeded", "The number of tags has reached the maximum limit.")
    with pytest.raises(ServiceError) as excinfo:
        aws("TagInstanceProfile", InstanceProfileName="nope", Tags=tags)
    assert excinfo.value.code == "NoSuchEntity"


# --------------------------------------------------------------------- authorization


def test_user_without_policy_is_denied(aws: Call, services: Services):
    alice = add_user(services, "alice", [])
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateInstanceProfile", caller=alice, InstanceProfileName="web")
    assert excinfo.value.code == "AccessDenied"
    assert "instance-profile/web" in excinfo.value.message
    aws("CreateInstanceProfile", InstanceProfileName="web")
    with pytest.raises(ServiceError) as excinfo:
        aws("ListInstanceProfiles", caller=alice)
    assert excinfo.value.code == "AccessDenied"


def test_tagging_on_create_needs_tag_permission(aws: Call, services: Services):
    alice = add_user(
        services,
        "alice",
        [{"Effect": "Allow", "Action": "iam:CreateInstanceProfile", "Resource": "*"}],
    )
    aws("CreateInstanceProfile", caller=alice, InstanceProfileName="plain")
    with pytest.raises(ServiceError) as excinfo:
        aws(
            "CreateInstanceProfile",
            caller=alice,
            InstanceProfileName="tagged",
            Tags=[{"Key": "a", "Value": "b"}],
        )
    assert excinfo.value.code == "AccessDenied"
    assert "iam:TagInstanceProfile" in excinfo.value.message


def test_adding_a_role_needs_pass_role(aws: Call, services: Services, role: Role):
    aws("CreateInstanceProfile", InstanceProfileName="web")
    add_only = {"Effect": "Allow", "Action": "iam:AddRoleToInstanceProfile", "Resource": "*"}
    alice = add_user(services, "alice", [add_only])
    with pytest.raises(ServiceError) as excinfo:
        aws(
            "AddRoleToInstanceProfile",
            caller=alice,
            InstanceProfileName="web",
            RoleName="WebServer",
        )
    assert excinfo.value.code == "AccessDenied"
    assert f"iam:PassRole on resource: {role.arn}" in excinfo.value.message

    pass_to_ec2 = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": role.arn,
        "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
    }
    bob = add_user(services, "bob", [add_only, pass_to_ec2])
    aws("AddRoleToInstanceProfile", caller=bob, InstanceProfileName="web", RoleName="WebServer")
    got = aws("GetInstanceProfile", InstanceProfileName="web")["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == ["WebServer"]


def test_pass_role_conditions_see_the_roles_tags(aws: Call, services: Services, role: Role):
    """iam:PassRole is evaluated on the role: aws:ResourceTag comes from the role's tags,
    not from the instance profile's (else a tag on the profile could pass any role)."""
    aws("CreateInstanceProfile", InstanceProfileName="blue",
        Tags=[{"Key": "team", "Value": "blue"}])  # fmt: skip
    add_only = {"Effect": "Allow", "Action": "iam:AddRoleToInstanceProfile", "Resource": "*"}
    pass_blue = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}},
    }
    carol = add_user(services, "carol", [add_only, pass_blue])
    with pytest.raises(ServiceError) as excinfo:  # the role is not tagged blue
        aws("AddRoleToInstanceProfile", caller=carol, InstanceProfileName="blue",
            RoleName="WebServer")  # fmt: skip
    assert excinfo.value.code == "AccessDenied"
    aws("TagRole", RoleName="WebServer", Tags=[{"Key": "team", "Value": "blue"}])
    aws("AddRoleToInstanceProfile", caller=carol, InstanceProfileName="blue", RoleName="WebServer")
