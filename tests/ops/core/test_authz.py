"""The per-node cache of a caller's compiled policies covers every account they were read
from: a change to a managed policy of another account takes effect at once (issue 15)."""

from __future__ import annotations

import datetime as dt
import json
from functools import partial
from typing import Any

import pytest

from chamberlain.domain import Attachment
from chamberlain.ops.core.context import Caller, Services, Session
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import AccessDenied
from chamberlain.policy import PrincipalType

from ..conftest import ACCOUNT, LOWER, NOW, meta, root_caller, user_caller


def _document(*actions: str) -> str:
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_a_change_to_another_accounts_policy_invalidates_the_cached_set(
    sql_services: Services,
) -> None:
    services = sql_services
    lower = partial(execute, services, root_caller(LOWER), meta(), "iam")
    own = partial(execute, services, root_caller(), meta(), "iam")
    shared = {"PolicyName": "shared", "PolicyDocument": _document("iam:GetUser")}
    made = lower("CreatePolicy", shared)
    arn = made["Policy"]["Arn"]
    alice = own("CreateUser", {"UserName": "alice"})["User"]
    # IAM attaches only the account's own policies; the data can still name another
    # account's (an import, a future sharing feature): the cache must not go stale then.
    with services.store.unit_of_work() as uow:
        uow.repo(Attachment).add(Attachment(ACCOUNT, "user", "alice", arn))
    caller = user_caller("alice", alice["UserId"])
    as_alice = partial(execute, services, caller)
    for _ in range(3):  # the first read meets LOWER; later ones are cached
        as_alice(meta(), "iam", "GetUser", {"UserName": "alice"})
    lower("CreatePolicyVersion", {"PolicyArn": arn, "SetAsDefault": True,
                                  "PolicyDocument": _document("iam:ListUsers")})  # fmt: skip
    with pytest.raises(AccessDenied):
        as_alice(meta(), "iam", "GetUser", {"UserName": "alice"})
    as_alice(meta(), "iam", "ListUsers", {})
    ((stamps, _part),) = services.cache["principal_policies"].values()
    assert {scope for scope, _ in stamps} == {ACCOUNT, LOWER, f"{ACCOUNT}/user/alice"}
    assert all(generation >= 0 for _, generation in stamps)


def _deny(action: str, condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {"Effect": "Deny", "Action": action, "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


#: Every change to an authorization input of alice (store/scopes.py), each followed by
#: whether alice may then ListUsers: each step's answer differs from the cached one.
_STEPS: list[tuple[str, dict[str, Any], bool]] = [
    ("CreatePolicyVersion", {"PolicyArn": "M", "PolicyDocument": _document("iam:GetUser"),
                             "SetAsDefault": True}, False),
    ("SetDefaultPolicyVersion", {"PolicyArn": "M", "VersionId": "v1"}, True),
    ("AddUserToGroup", {"GroupName": "devs", "UserName": "alice"}, False),
    ("RemoveUserFromGroup", {"GroupName": "devs", "UserName": "alice"}, True),
    ("AddUserToGroup", {"GroupName": "devs", "UserName": "alice"}, False),
    ("DeleteGroupPolicy", {"GroupName": "devs", "PolicyName": "no"}, True),
    ("PutGroupPolicy", {"GroupName": "devs", "PolicyName": "no",
                        "PolicyDocument": _deny("iam:ListUsers")}, False),
    ("RemoveUserFromGroup", {"GroupName": "devs", "UserName": "alice"}, True),
    ("PutUserPermissionsBoundary", {"UserName": "alice", "PermissionsBoundary": "B"}, False),
    ("DeleteUserPermissionsBoundary", {"UserName": "alice"}, True),
    ("TagUser", {"UserName": "alice", "Tags": [{"Key": "team", "Value": "red"}]}, False),
    ("UntagUser", {"UserName": "alice", "TagKeys": ["team"]}, True),
    ("PutUserPolicy", {"UserName": "alice", "PolicyName": "no",
                       "PolicyDocument": _deny("iam:ListUsers")}, False),
    ("DeleteUserPolicy", {"UserName": "alice", "PolicyName": "no"}, True),
    ("AttachUserPolicy", {"UserName": "alice", "PolicyArn": "D"}, False),
    ("DetachUserPolicy", {"UserName": "alice", "PolicyArn": "D"}, True),
    ("DetachUserPolicy", {"UserName": "alice", "PolicyArn": "M"}, False),
    ("AttachUserPolicy", {"UserName": "alice", "PolicyArn": "M"}, True),
    ("DeletePolicyVersion", {"PolicyArn": "M", "VersionId": "v2"}, True),
]  # fmt: skip


def test_each_change_to_an_input_invalidates_the_cached_set(sql_services: Services) -> None:
    services = sql_services
    own = partial(execute, services, root_caller(), meta(), "iam")
    arns = {
        "M": own("CreatePolicy", {"PolicyName": "m", "PolicyDocument": _document("iam:ListUsers")}),
        "D": own("CreatePolicy", {"PolicyName": "d", "PolicyDocument": _deny("iam:ListUsers")}),
        "B": own("CreatePolicy", {"PolicyName": "b", "PolicyDocument": _document("iam:GetUser")}),
    }
    arns = {name: made["Policy"]["Arn"] for name, made in arns.items()}
    alice = own("CreateUser", {"UserName": "alice"})["User"]
    own("AttachUserPolicy", {"UserName": "alice", "PolicyArn": arns["M"]})
    own("PutUserPolicy", {"UserName": "alice", "PolicyName": "abac",
                          "PolicyDocument": _deny("iam:ListUsers", {
                              "StringEquals": {"aws:PrincipalTag/team": "red"}})})  # fmt: skip
    own("CreateGroup", {"GroupName": "devs"})
    own("PutGroupPolicy", {"GroupName": "devs", "PolicyName": "no",
                           "PolicyDocument": _deny("iam:ListUsers")})  # fmt: skip
    as_alice = partial(execute, services, user_caller("alice", alice["UserId"]))

    def allowed() -> bool:
        try:
            as_alice(meta(), "iam", "ListUsers", {})
        except AccessDenied:
            return False
        return True

    assert allowed() and allowed()  # cached from the second on
    for name, params, expected in _STEPS:
        given = {k: arns.get(v, v) if isinstance(v, str) else v for k, v in params.items()}
        own(name, given)
        assert allowed() is expected, name


def test_unrelated_writes_leave_the_cached_set_and_key(sql_services: Services) -> None:
    """Writes to other principals, and to what no cache reads, bump neither the account's
    generation nor alice's: her cached policies and key are used as they are."""
    services = sql_services
    own = partial(execute, services, root_caller(), meta(), "iam")
    alice = own("CreateUser", {"UserName": "alice"})["User"]
    own("PutUserPolicy", {"UserName": "alice", "PolicyName": "p",
                          "PolicyDocument": _document("iam:ListUsers")})  # fmt: skip
    as_alice = partial(execute, services, user_caller("alice", alice["UserId"]))
    as_alice(meta(), "iam", "ListUsers", {})
    [cached] = services.cache["principal_policies"].values()
    made = ""
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action":
             "sts:AssumeRole", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}]}  # fmt: skip
    for name, params in [
        ("CreateUser", {"UserName": "bob"}),
        ("TagUser", {"UserName": "bob", "Tags": [{"Key": "team", "Value": "red"}]}),
        ("PutUserPolicy", {"UserName": "bob", "PolicyName": "p",
                           "PolicyDocument": _document("iam:GetUser")}),
        ("CreateLoginProfile", {"UserName": "bob", "Password": "Vq7#Lm2pXz9!"}),
        ("CreateLoginProfile", {"UserName": "alice", "Password": "Vq7#Lm2pXz9!"}),
        ("CreateVirtualMFADevice", {"VirtualMFADeviceName": "alice"}),
        ("CreateRole", {"RoleName": "r", "AssumeRolePolicyDocument": json.dumps(trust)}),
        ("CreateAccessKey", {"UserName": "bob"}),
        ("DeleteLoginProfile", {"UserName": "bob"}),
        ("DeleteUserPolicy", {"UserName": "bob", "PolicyName": "p"}),
        ("DeleteAccessKey", {"UserName": "bob", "AccessKeyId": "K"}),
        ("DeleteUser", {"UserName": "bob"}),
        ("DeleteRole", {"RoleName": "r"}),
    ]:  # fmt: skip
        if params.get("AccessKeyId") == "K":
            params = {**params, "AccessKeyId": made}
        out = own(name, params)
        if name == "CreateAccessKey":
            made = out["AccessKey"]["AccessKeyId"]
        as_alice(meta(), "iam", "ListUsers", {})
        [still] = services.cache["principal_policies"].values()
        assert still is cached, name


def test_each_change_to_a_roles_inputs_invalidates_its_sessions_set(
    sql_services: Services,
) -> None:
    """A role's policies, tags (ABAC), session revocation and deletion reach its cached
    sessions at once."""
    services = sql_services
    own = partial(execute, services, root_caller(), meta(), "iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action":
             "sts:AssumeRole", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}]}  # fmt: skip
    role = own("CreateRole", {"RoleName": "r", "AssumeRolePolicyDocument": json.dumps(trust)})
    role_arn, role_id = role["Role"]["Arn"], role["Role"]["RoleId"]
    own("PutRolePolicy", {"RoleName": "r", "PolicyName": "p",
                          "PolicyDocument": _document("iam:ListUsers")})  # fmt: skip
    issued = NOW - dt.timedelta(minutes=1)
    session = Session(role_arn, role_id, issued, NOW + dt.timedelta(hours=1), session_name="s")
    caller = Caller(
        account_id=ACCOUNT,
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s",
        principal_id=f"{role_id}:s",
        type=PrincipalType.ASSUMED_ROLE,
        session=session,
    )

    def allowed() -> bool:
        try:
            execute(services, caller, meta(), "iam", "ListUsers", {})
        except AccessDenied:
            return False
        return True

    abac = _deny("iam:ListUsers", {"StringEquals": {"aws:PrincipalTag/team": "red"}})
    revoke = _deny("*", {"DateLessThan": {"aws:TokenIssueTime": "2030-01-01T00:00:00Z"}})
    assert allowed() and allowed()
    for name, params, expected in [
        ("PutRolePolicy", {"RoleName": "r", "PolicyName": "abac", "PolicyDocument": abac}, True),
        ("TagRole", {"RoleName": "r", "Tags": [{"Key": "team", "Value": "red"}]}, False),
        ("UntagRole", {"RoleName": "r", "TagKeys": ["team"]}, True),
        ("PutRolePolicy", {"RoleName": "r", "PolicyName": "AWSRevokeOlderSessions",
                           "PolicyDocument": revoke}, False),
        ("DeleteRolePolicy", {"RoleName": "r", "PolicyName": "AWSRevokeOlderSessions"}, True),
        ("DeleteRolePolicy", {"RoleName": "r", "PolicyName": "abac"}, True),
        ("DeleteRolePolicy", {"RoleName": "r", "PolicyName": "p"}, False),
        ("PutRolePolicy", {"RoleName": "r", "PolicyName": "p",
                           "PolicyDocument": _document("iam:ListUsers")}, True),
    ]:  # fmt: skip
        own(name, params)
        assert allowed() is expected, name
    own("DeleteRolePolicy", {"RoleName": "r", "PolicyName": "p"})
    own("DeleteRole", {"RoleName": "r"})
    own("CreateRole", {"RoleName": "r", "AssumeRolePolicyDocument": json.dumps(trust)})
    own("PutRolePolicy", {"RoleName": "r", "PolicyName": "p",
                          "PolicyDocument": _document("iam:ListUsers")})  # fmt: skip
    assert not allowed()  # another role by the same name: the old session gets nothing
