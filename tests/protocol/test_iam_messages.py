"""IAM's own sentence for a name or path that breaks its pattern (protocol/iam_messages.py).

AWS's texts, as IAM returns them (ValidationError, HTTP 400):
- path: "The specified value for path is invalid. It must begin and end with / and contain
  only alphanumeric characters and/or / characters." (aws-cloudformation/cfn-lint#722)
- pathPrefix: "The specified value for pathPrefix is invalid. It must begin with the /
  character and contain only alphanumeric characters and/or / characters." (aws/aws-cli#5860,
  ListPolicies --path-prefix '/foo')
- userName / roleName: "The specified value for roleName is invalid. It must contain only
  alphanumeric characters and/or the following: +=,.@_-" (aws-amplify/amplify-cli#9120)
The patterns themselves: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateUser.html
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from chamberlain.protocol import iam_messages
from chamberlain.protocol.models import service_model
from chamberlain.protocol.query import decode_form
from chamberlain.protocol.wire_errors import ProtocolError

IAM_V = "2010-05-08"
PATH = (
    "The specified value for path is invalid. It must begin and end with / and contain only "
    "alphanumeric characters and/or / characters."
)
PATH_PREFIX = (
    "The specified value for pathPrefix is invalid. It must begin with the / character and "
    "contain only alphanumeric characters and/or / characters."
)


def name_message(member: str) -> str:
    return (
        f"The specified value for {member} is invalid. It must contain only alphanumeric "
        "characters and/or the following: +=,.@_-"
    )


def error(service: str, action: str, version: str = IAM_V, **params: str) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        decode_form(service, urlencode({"Action": action, "Version": version, **params}))
    err = caught.value
    assert (err.code, err.http_status, err.sender_fault) == ("ValidationError", 400, True)
    return err


@pytest.mark.parametrize(
    ("action", "params", "expected"),
    [
        ("CreateUser", {"UserName": "u", "Path": "test/"}, PATH),
        ("CreateUser", {"UserName": "u", "Path": "/a b/"}, PATH),
        ("CreateRole", {"RoleName": "r", "AssumeRolePolicyDocument": "{}", "Path": "/x"}, PATH),
        ("UpdateUser", {"UserName": "u", "NewPath": "x"}, PATH.replace("path", "newPath")),
        ("CreatePolicy", {"PolicyName": "p", "PolicyDocument": "{}", "Path": "/a"}, PATH),
        ("ListPolicies", {"PathPrefix": "/foo"}, PATH_PREFIX),
        ("ListUsers", {"PathPrefix": "foo"}, PATH_PREFIX),
        ("ListRoles", {"PathPrefix": "/a b"}, PATH_PREFIX),
        ("CreateUser", {"UserName": "a b"}, name_message("userName")),
        ("GetUser", {"UserName": "x#y"}, name_message("userName")),
        ("UpdateUser", {"UserName": "u", "NewUserName": "n/m"}, name_message("newUserName")),
        (
            "CreateRole",
            {"RoleName": "r:1", "AssumeRolePolicyDocument": "{}"},
            name_message("roleName"),
        ),
        ("CreateGroup", {"GroupName": "g!"}, name_message("groupName")),
        ("GetUserPolicy", {"UserName": "u", "PolicyName": "p p"}, name_message("policyName")),
    ],
)
def test_iam_words_a_bad_name_or_path_itself(
    action: str, params: dict[str, str], expected: str
) -> None:
    assert error("iam", action, **params).message == expected


def test_valid_names_and_paths_pass() -> None:
    ok = "Action=CreateUser&Version=2010-05-08&UserName=a%2B%3D%2C.%40_-1&Path=%2Fx%2Fy%2F"
    assert decode_form("iam", ok).params == {"UserName": "a+=,.@_-1", "Path": "/x/y/"}
    assert decode_form("iam", "Action=ListUsers&Version=2010-05-08&PathPrefix=%2Fab").params


def test_generic_constraints_come_first() -> None:
    """Length, required and enum checks run before IAM's own pattern check: a too-long name
    gets the generic line (without its pattern failure)."""
    long_bad = "a b" * 30
    message = error("iam", "CreateUser", UserName=long_bad).message
    assert message == (
        f"1 validation error detected: Value '{long_bad}' at 'userName' failed to satisfy "
        "constraint: Member must have length less than or equal to 64"
    )
    message = error("iam", "CreateUser", Path="x").message
    assert message == (
        "1 validation error detected: Value null at 'userName' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_first_bad_member_in_model_order() -> None:
    assert error("iam", "CreateUser", UserName="a b", Path="x").message == PATH


def test_sts_keeps_the_generic_text() -> None:
    message = error(
        "sts",
        "AssumeRole",
        "2011-06-15",
        RoleArn="arn:aws:iam::123456789012:role/r",
        RoleSessionName="a b",
    ).message
    assert message.startswith("1 validation error detected: Value 'a b' at 'roleSessionName'")
    assert "Member must satisfy regular expression pattern: [\\w+=,.@-]*" in message


def test_table_is_derived_from_the_model() -> None:
    """Every IAM input member with the name or path pattern is covered; members with the
    name pattern that are not entity names keep the generic text."""
    model = service_model("iam")
    covered: set[str] = set()
    for name in model.operation_names:
        shape = model.operation_model(name).input_shape
        for member, member_shape in shape.members.items() if shape else []:
            if iam_messages.rule_for(member, member_shape):
                covered.add(member)
    assert {"UserName", "Path", "PathPrefix", "NewPath", "RoleName", "GroupName"} <= covered
    assert {"PolicyName", "InstanceProfileName", "NewUserName"} <= covered
    assert not covered & {"AWSServiceName", "CustomSuffix", "RoleSessionName", "Description"}
