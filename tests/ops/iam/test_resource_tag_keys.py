"""aws:ResourceTag/* and iam:ResourceTag/* reach the policies of operations on users
and roles, whichever way the operation names its resource (name, ARN, policy source)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from chamberlain.ops.core.context import Services
from chamberlain.ops.core.errors import ServiceError

from ..conftest import ACCOUNT
from .test_instance_profiles import add_user

Call = Callable[..., Any]
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
             "Action": "sts:AssumeRole"}
        ],
    }
)  # fmt: skip


def _user(color: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/staff/{color}-user"


def _role(color: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{color}-role"


#: operation -> the parameters that name the blue or the red entity
CASES: dict[str, Callable[[str], dict[str, Any]]] = {
    "GetUser": lambda c: {"UserName": f"{c}-user"},
    "ListAccessKeys": lambda c: {"UserName": f"{c}-user"},
    "GetRole": lambda c: {"RoleName": f"{c}-role"},
    "ListInstanceProfilesForRole": lambda c: {"RoleName": f"{c}-role"},
    "SimulatePrincipalPolicy": lambda c: {
        "PolicySourceArn": _user(c), "ActionNames": ["iam:GetUser"]},
    "GetContextKeysForPrincipalPolicy": lambda c: {"PolicySourceArn": _role(c)},
    "GenerateServiceLastAccessedDetails": lambda c: {"Arn": _user(c)},
    "ListPoliciesGrantingServiceAccess": lambda c: {
        "Arn": _role(c), "ServiceNamespaces": ["iam"]},
}  # fmt: skip


@pytest.fixture
def tagged(iam: Call) -> None:
    for color in ("blue", "red"):
        tags = [{"Key": "team", "Value": color}]
        iam("CreateUser", UserName=f"{color}-user", Path="/staff/", Tags=tags)
        iam("CreateRole", RoleName=f"{color}-role", AssumeRolePolicyDocument=TRUST, Tags=tags)


@pytest.mark.parametrize("prefix", ["aws", "iam"])
@pytest.mark.parametrize("operation", sorted(CASES))
def test_tag_condition_decides(
    tagged: None, services: Services, iam_as: Call, operation: str, prefix: str
):
    statement = {
        "Effect": "Allow",
        "Action": f"iam:{operation}",
        "Resource": "*",
        "Condition": {"StringEquals": {f"{prefix}:ResourceTag/team": "blue"}},
    }
    carol = add_user(services, "carol", [statement])
    iam_as(carol, operation, **CASES[operation]("blue"))
    with pytest.raises(ServiceError) as excinfo:
        iam_as(carol, operation, **CASES[operation]("red"))
    assert excinfo.value.code == "AccessDenied"


def test_service_last_accessed_needs_the_entitys_own_arn(tagged: None, iam: Call):
    """An ARN whose last segment names a user but whose path is not the user's names
    no entity (authorization was on that ARN, so it must not report on another)."""
    wrong_path = f"arn:aws:iam::{ACCOUNT}:user/other/blue-user"
    with pytest.raises(ServiceError) as excinfo:
        iam("GenerateServiceLastAccessedDetails", Arn=wrong_path)
    assert excinfo.value.code == "NoSuchEntity"
    assert iam("GenerateServiceLastAccessedDetails", Arn=_user("blue"))["JobId"]
