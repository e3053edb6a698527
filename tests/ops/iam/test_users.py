"""IAM users: CreateUser, GetUser, UpdateUser, DeleteUser, ListUsers, tags, boundaries."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from chamberlain.crypto.ids import is_unique_id
from chamberlain.domain import (
    AccessKey,
    InlinePolicy,
    LoginProfile,
    Membership,
    MfaDevice,
    ServiceSpecificCredential,
    SigningCertificate,
    SshPublicKey,
    joined,
)
from chamberlain.ops.core.context import Caller, Services
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.iam import users as iam_users
from chamberlain.policy import PrincipalType

from ..conftest import ACCOUNT, NOW, root_caller, user_caller
from ..entity_seed import TRUST

Call = Callable[..., Any]
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
CODECOMMIT = "codecommit.amazonaws.com"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def error_of(call: Call, *args: Any, **params: Any) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        call(*args, **params)
    return info.value


def allow(actions: str | list[str], resource: str = "*", condition: Any = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def add(services: Services, *entities: Any) -> None:
    with services.store.unit_of_work() as uow:
        for entity in entities:
            uow.repo(type(entity)).add(entity)


# ----------------------------------------------------------------------- create


def test_create_user_returns_aws_shape(iam: Call) -> None:
    out = iam("CreateUser", UserName="alice", Path="/eng/", Tags=[{"Key": "team", "Value": "a"}])
    user = out["User"]
    assert user["UserName"] == "alice"
    assert user["Path"] == "/eng/"
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/eng/alice"
    assert is_unique_id(user["UserId"]) and user["UserId"].startswith("AIDA")
    assert user["CreateDate"] == NOW
    assert user["Tags"] == [{"Key": "team", "Value": "a"}]
    assert "PermissionsBoundary" not in user and "PasswordLastUsed" not in user


def test_create_user_default_path_and_no_tags(iam: Call) -> None:
    user = iam("CreateUser", UserName="bob")["User"]
    assert user["Path"] == "/" and user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/bob"
    assert "Tags" not in user


@pytest.mark.parametrize("second", ["alice", "ALICE", "Alice"])
def test_create_user_names_are_case_insensitively_unique(iam: Call, second: str) -> None:
    iam("CreateUser", UserName="alice")
    err = error_of(iam, "CreateUser", UserName=second)
    assert (err.code, err.message) == (
        "EntityAlreadyExists",
        f"User with name {second} already exists.",
    )
    assert err.http_status == 409


def test_create_user_with_boundary_counts_its_use(iam: Call) -> None:
    arn = iam("CreatePolicy", PolicyName="b", PolicyDocument=allow("s3:*"))["Policy"]["Arn"]
    user = iam("CreateUser", UserName="alice", PermissionsBoundary=arn)["User"]
    assert user["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": arn,
    }
    assert iam("GetPolicy", PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    iam("DeleteUser", UserName="alice")
    assert iam("GetPolicy", PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 0


@pytest.mark.parametrize(
    ("boundary", "code", "message"),
    [
        (
            f"arn:aws:iam::{ACCOUNT}:policy/missing",
            "NoSuchEntity",
            f"Policy arn:aws:iam::{ACCOUNT}:policy/missing does not exist or is not attachable.",
        ),
        ("not-an-arn", "InvalidInput", "ARN not-an-arn is not valid."),
        (
            f"arn:aws:iam::{ACCOUNT}:user/bob",
            "InvalidInput",
            f"ARN arn:aws:iam::{ACCOUNT}:user/bob is not valid.",
        ),
    ],
)
def test_create_user_bad_boundary(iam: Call, boundary: str, code: str, message: str) -> None:
    err = error_of(iam, "CreateUser", UserName="alice", PermissionsBoundary=boundary)
    assert (err.code, err.message) == (code, message)
    assert error_of(iam, "GetUser", UserName="alice").code == "NoSuchEntity"


@pytest.mark.parametrize(
    ("tags", "code", "message"),
    [
        (
            [{"Key": "aws:x", "Value": "1"}],
            "InvalidInput",
            "The tag key 'aws:' prefix is reserved for AWS use.",
        ),
        (
            [{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}],
            "InvalidInput",
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        ),
    ],
)
def test_create_user_bad_tags(iam: Call, tags: list, code: str, message: str) -> None:
    err = error_of(iam, "CreateUser", UserName="alice", Tags=tags)
    assert (err.code, err.message) == (code, message)


def test_users_per_account_quota(iam: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iam_users, "MAX_USERS", 3)
    for i in range(3):
        iam("CreateUser", UserName=f"u{i}")
    err = error_of(iam, "CreateUser", UserName="u3")
    assert (err.code, err.message) == (
        "LimitExceeded",
        "Cannot exceed quota for UsersPerAccount: 3",
    )
    iam("DeleteUser", UserName="u0")
    iam("CreateUser", UserName="u3")


# -------------------------------------------------------------------------- get


def test_get_user_by_name_is_case_insensitive(iam: Call) -> None:
    iam("CreateUser", UserName="Alice", Tags=[{"Key": "k", "Value": "v"}])
    user = iam("GetUser", UserName="alice")["User"]
    assert user["UserName"] == "Alice" and user["Tags"] == [{"Key": "k", "Value": "v"}]


def test_get_missing_user(iam: Call) -> None:
    err = error_of(iam, "GetUser", UserName="nobody")
    assert (err.code, err.message) == ("NoSuchEntity", "The user with name nobody cannot be found.")
    assert err.http_status == 404


def test_get_user_without_name_is_the_calling_user(iam: Call, iam_as: Call) -> None:
    iam("CreateUser", UserName="bob")
    iam("PutUserPolicy", UserName="bob", PolicyName="p", PolicyDocument=allow("iam:GetUser"))
    assert iam_as(user_caller("bob"), "GetUser")["User"]["UserName"] == "bob"


def test_get_user_without_name_as_root(iam: Call) -> None:
    user = iam("GetUser")["User"]
    assert user == {
        "UserId": ACCOUNT,
        "Arn": f"arn:aws:iam::{ACCOUNT}:root",
        "CreateDate": NOW,
    }


def test_get_user_without_name_as_role_session(iam_as: Call) -> None:
    role_session = Caller(
        account_id=ACCOUNT,
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s",
        principal_id="AROAEXAMPLEEXAMPLE01:s",
        type=PrincipalType.ASSUMED_ROLE,
    )
    err = error_of(iam_as, role_session, "GetUser")
    assert (err.code, err.message) == (
        "ValidationError",
        "Must specify userName when calling with non-User credentials",
    )


# ----------------------------------------------------------------------- update


def _seed_user_relations(iam: Call, services: Services) -> None:
    iam("CreateUser", UserName="alice")
    iam("CreateGroup", GroupName="devs")
    iam("AddUserToGroup", GroupName="devs", UserName="alice")
    iam("AttachUserPolicy", UserName="alice", PolicyArn=READ_ONLY)
    iam("PutUserPolicy", UserName="alice", PolicyName="inline", PolicyDocument=allow("s3:*"))
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    add(
        services,
        AccessKey(ACCOUNT, "alice", "AKIAEXAMPLEEXAMPLE01", b"x", "Active", when),
        LoginProfile(ACCOUNT, "alice", "hash", when, when),
        SshPublicKey(ACCOUNT, "alice", "APKAEXAMPLEEXAMPLE01", "body", "fp", "Active", when),
        SigningCertificate(ACCOUNT, "alice", "CERT1", "body", "Active", when),
        MfaDevice(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:mfa/alice", b"s", when, "alice", when),
    )
    iam("CreateServiceSpecificCredential", UserName="alice", ServiceName=CODECOMMIT)


def test_rename_user_carries_every_relation(iam: Call, services: Services) -> None:
    _seed_user_relations(iam, services)
    iam("UpdateUser", UserName="alice", NewUserName="Alicia", NewPath="/new/")
    user = iam("GetUser", UserName="alicia")["User"]
    assert (user["UserName"], user["Path"]) == ("Alicia", "/new/")
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/new/Alicia"
    assert error_of(iam, "GetUser", UserName="alice").code == "NoSuchEntity"
    assert [g["GroupName"] for g in iam("ListGroupsForUser", UserName="Alicia")["Groups"]] == [
        "devs"
    ]
    assert [u["UserName"] for u in iam("GetGroup", GroupName="devs")["Users"]] == ["Alicia"]
    attached = iam("ListAttachedUserPolicies", UserName="Alicia")["AttachedPolicies"]
    assert attached == [{"PolicyName": "ReadOnlyAccess", "PolicyArn": READ_ONLY}]
    assert iam("ListUserPolicies", UserName="Alicia")["PolicyNames"] == ["inline"]
    assert iam("GetUserPolicy", UserName="Alicia", PolicyName="inline")["UserName"] == "Alicia"
    with services.store.unit_of_work() as uow:
        assert uow.repo(AccessKey).get(ACCOUNT, "AKIAEXAMPLEEXAMPLE01").user_name == "Alicia"
        assert uow.repo(LoginProfile).get(ACCOUNT, "alicia").user_name == "Alicia"
        assert uow.repo(LoginProfile).get(ACCOUNT, "alice") is None
        assert uow.repo(SshPublicKey).list(ACCOUNT, ref="alicia")[0].user_name == "Alicia"
        assert uow.repo(SigningCertificate).list(ACCOUNT, ref="alicia")[0].user_name == "Alicia"
        assert uow.repo(MfaDevice).list(ACCOUNT, ref="alicia")[0].user_name == "Alicia"
        credentials = uow.repo(ServiceSpecificCredential)
        assert [c.user_name for c in credentials.list(ACCOUNT, ref="alicia")] == ["Alicia"]
        assert credentials.list(ACCOUNT, ref="alice") == []
        assert uow.repo(Membership).list(ACCOUNT, ref="alice") == []
        assert uow.repo(InlinePolicy).list(ACCOUNT, key_prefix=joined("user", "alice", "")) == []


def test_update_user_path_only(iam: Call) -> None:
    iam("CreateUser", UserName="alice")
    iam("UpdateUser", UserName="alice", NewPath="/ops/")
    assert iam("GetUser", UserName="alice")["User"]["Arn"].endswith(":user/ops/alice")


def test_update_user_errors(iam: Call) -> None:
    iam("CreateUser", UserName="alice")
    iam("CreateUser", UserName="bob")
    err = error_of(iam, "UpdateUser", UserName="alice", NewUserName="BOB")
    assert (err.code, err.message) == ("EntityAlreadyExists", "User with name BOB already exists.")
    err = error_of(iam, "UpdateUser", UserName="carol", NewUserName="dave")
    assert (err.code, err.message) == ("NoSuchEntity", "The user with name carol cannot be found.")
    iam("UpdateUser", UserName="alice", NewUserName="ALICE")  # a change of case only
    assert iam("GetUser", UserName="alice")["User"]["UserName"] == "ALICE"


def test_rename_needs_permission_on_the_new_name_too(iam: Call, iam_as: Call) -> None:
    iam("CreateUser", UserName="admin")
    iam("CreateUser", UserName="alice")
    own = f"arn:aws:iam::{ACCOUNT}:user/alice"
    iam(
        "PutUserPolicy",
        UserName="admin",
        PolicyName="p",
        PolicyDocument=allow("iam:UpdateUser", own),
    )
    err = error_of(iam_as, user_caller("admin"), "UpdateUser", UserName="alice", NewUserName="x")
    assert err.code == "AccessDenied"
    assert f"on resource: arn:aws:iam::{ACCOUNT}:user/x" in err.message
    both = allow("iam:UpdateUser", "*")
    iam("PutUserPolicy", UserName="admin", PolicyName="p", PolicyDocument=both)
    iam_as(user_caller("admin"), "UpdateUser", UserName="alice", NewUserName="x")


# ----------------------------------------------------------------------- delete

DELETE_CONFLICTS: list[tuple[str, str]] = [
    ("login", "Cannot delete entity, must delete login profile first."),
    ("key", "Cannot delete entity, must delete access keys first."),
    ("cert", "Cannot delete entity, must delete signing certificates first."),
    ("ssh", "Cannot delete entity, must delete SSH public keys first."),
    ("ssc", "Cannot delete entity, must remove service specific credentials first."),
    ("mfa", "Cannot delete entity, must delete MFA device first."),
    ("inline", "Cannot delete entity, must delete policies first."),
    ("attached", "Cannot delete entity, must detach all policies first."),
    ("group", "Cannot delete entity, must remove users from group first."),
]


@pytest.mark.parametrize(("what", "message"), DELETE_CONFLICTS)
def test_delete_user_conflicts(iam: Call, services: Services, what: str, message: str) -> None:
    iam("CreateUser", UserName="alice")
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    if what == "login":
        add(services, LoginProfile(ACCOUNT, "alice", "hash", when, when))
    elif what == "key":
        add(services, AccessKey(ACCOUNT, "alice", "AKIAEXAMPLEEXAMPLE01", b"x", "Active", when))
    elif what == "cert":
        add(services, SigningCertificate(ACCOUNT, "alice", "C1", "body", "Active", when))
    elif what == "ssh":
        add(services, SshPublicKey(ACCOUNT, "alice", "APKA1", "b", "fp", "Active", when))
    elif what == "ssc":
        iam("CreateServiceSpecificCredential", UserName="alice", ServiceName=CODECOMMIT)
    elif what == "mfa":
        add(services, MfaDevice(ACCOUNT, "arn:mfa", b"s", when, "alice", when))
    elif what == "inline":
        iam("PutUserPolicy", UserName="alice", PolicyName="p", PolicyDocument=allow("s3:*"))
    elif what == "attached":
        iam("AttachUserPolicy", UserName="alice", PolicyArn=READ_ONLY)
    else:
        iam("CreateGroup", GroupName="g")
        iam("AddUserToGroup", GroupName="g", UserName="alice")
    err = error_of(iam, "DeleteUser", UserName="alice")
    assert (err.code, err.message, err.http_status) == ("DeleteConflict", message, 409)
    assert iam("GetUser", UserName="alice")["User"]["UserName"] == "alice"


def test_service_specific_credentials_are_checked_after_ssh_keys(
    iam: Call, services: Services
) -> None:
    iam("CreateUser", UserName="alice")
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    add(
        services,
        SshPublicKey(ACCOUNT, "alice", "APKA1", "b", "fp", "Active", when),
        MfaDevice(ACCOUNT, "arn:mfa", b"s", when, "alice", when),
    )
    made = iam("CreateServiceSpecificCredential", UserName="alice", ServiceName=CODECOMMIT)
    credential_id = made["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    assert "SSH public keys" in error_of(iam, "DeleteUser", UserName="alice").message
    iam("DeleteSSHPublicKey", UserName="alice", SSHPublicKeyId="APKA1")
    assert "service specific credentials" in error_of(iam, "DeleteUser", UserName="alice").message
    iam(
        "DeleteServiceSpecificCredential",
        UserName="alice",
        ServiceSpecificCredentialId=credential_id,
    )
    assert "MFA device" in error_of(iam, "DeleteUser", UserName="alice").message


def test_delete_user(iam: Call) -> None:
    iam("CreateUser", UserName="alice")
    iam("DeleteUser", UserName="ALICE")
    assert iam("ListUsers")["Users"] == []
    err = error_of(iam, "DeleteUser", UserName="alice")
    assert (err.code, err.message) == ("NoSuchEntity", "The user with name alice cannot be found.")


# ------------------------------------------------------------------------- list


def test_list_users_path_prefix_and_pagination(iam: Call) -> None:
    for name, path in [("c", "/eng/"), ("a", "/"), ("b", "/eng/web/"), ("d", "/ops/")]:
        iam("CreateUser", UserName=name, Path=path, Tags=[{"Key": "k", "Value": "v"}])
    everyone = iam("ListUsers")
    assert [u["UserName"] for u in everyone["Users"]] == ["a", "b", "c", "d"]
    assert everyone["IsTruncated"] is False and "Marker" not in everyone
    assert all("Tags" not in u for u in everyone["Users"])
    eng = iam("ListUsers", PathPrefix="/eng/")
    assert [u["UserName"] for u in eng["Users"]] == ["b", "c"]
    first = iam("ListUsers", MaxItems=3)
    assert [u["UserName"] for u in first["Users"]] == ["a", "b", "c"] and first["IsTruncated"]
    rest = iam("ListUsers", MaxItems=3, Marker=first["Marker"])
    assert [u["UserName"] for u in rest["Users"]] == ["d"] and rest["IsTruncated"] is False


def test_a_filtered_listing_pages_through_many_non_matching_users(iam: Call) -> None:
    """The page is read from the store in key order past the marker, in batches when
    PathPrefix filters (common.paginate_keyset): every match once, in order."""
    for n in range(450):
        iam("CreateUser", UserName=f"u{n:03d}", Path="/eng/" if n % 100 == 7 else "/")
    seen: list[str] = []
    page = iam("ListUsers", PathPrefix="/eng/", MaxItems=2)
    seen += [u["UserName"] for u in page["Users"]]
    while page["IsTruncated"]:
        page = iam("ListUsers", PathPrefix="/eng/", MaxItems=2, Marker=page["Marker"])
        seen += [u["UserName"] for u in page["Users"]]
    assert seen == ["u007", "u107", "u207", "u307", "u407"]
    everyone = iam("ListUsers", MaxItems=1000)
    assert len(everyone["Users"]) == 450 and everyone["IsTruncated"] is False


@pytest.mark.parametrize("marker", ["%%%", "AAAA", "\u00ff", "enp6eg==", "garbage", "", "W10="])
def test_a_marker_this_server_did_not_issue_is_refused(iam: Call, marker: str) -> None:
    for name in ("a", "b"):
        iam("CreateUser", UserName=name)
    with pytest.raises(ServiceError) as caught:
        iam("ListUsers", Marker=marker)
    assert (caught.value.code, caught.value.message) == ("InvalidInput", "Invalid Marker.")


def test_a_marker_from_another_listing_is_refused(iam: Call) -> None:
    for name in ("a", "b"):
        iam("CreateUser", UserName=name)
        iam("CreateRole", RoleName=name, AssumeRolePolicyDocument=TRUST)
    marker = iam("ListUsers", MaxItems=1)["Marker"]
    assert iam("ListUsers", Marker=marker)["Users"][0]["UserName"] == "b"
    with pytest.raises(ServiceError) as caught:
        iam("ListRoles", Marker=marker)
    assert caught.value.code == "InvalidInput"


# ------------------------------------------------------------------------- tags


def test_tag_untag_list_user_tags(iam: Call) -> None:
    iam("CreateUser", UserName="alice", Tags=[{"Key": "a", "Value": "1"}])
    iam("TagUser", UserName="alice", Tags=[{"Key": "b", "Value": "2"}, {"Key": "A", "Value": "3"}])
    assert iam("ListUserTags", UserName="alice")["Tags"] == [
        {"Key": "a", "Value": "3"},
        {"Key": "b", "Value": "2"},
    ]
    page = iam("ListUserTags", UserName="alice", MaxItems=1)
    assert page["Tags"] == [{"Key": "a", "Value": "3"}] and page["IsTruncated"]
    rest = iam("ListUserTags", UserName="alice", MaxItems=1, Marker=page["Marker"])
    assert rest["Tags"] == [{"Key": "b", "Value": "2"}] and not rest["IsTruncated"]
    iam("UntagUser", UserName="alice", TagKeys=["A", "missing"])
    assert iam("ListUserTags", UserName="alice")["Tags"] == [{"Key": "b", "Value": "2"}]


def test_tag_limit(iam: Call) -> None:
    iam("CreateUser", UserName="alice", Tags=[{"Key": f"k{i}", "Value": ""} for i in range(49)])
    err = error_of(
        iam,
        "TagUser",
        UserName="alice",
        Tags=[{"Key": "x", "Value": ""}, {"Key": "y", "Value": ""}],
    )
    assert (err.code, err.message) == (
        "LimitExceeded",
        "The number of tags has reached the maximum limit.",
    )


@pytest.mark.parametrize("op", ["TagUser", "UntagUser", "ListUserTags"])
def test_tag_operations_on_missing_user(iam: Call, op: str) -> None:
    params: dict[str, Any] = {"TagUser": {"Tags": []}, "UntagUser": {"TagKeys": ["k"]}}.get(op, {})
    err = error_of(iam, op, UserName="ghost", **params)
    assert (err.code, err.message) == ("NoSuchEntity", "The user with name ghost cannot be found.")


# ------------------------------------------------------------ permissions boundary


def test_put_and_delete_user_boundary_moves_counts(iam: Call) -> None:
    iam("CreateUser", UserName="alice")
    one = iam("CreatePolicy", PolicyName="one", PolicyDocument=allow("s3:*"))["Policy"]["Arn"]
    two = iam("CreatePolicy", PolicyName="two", PolicyDocument=allow("s3:*"))["Policy"]["Arn"]

    def uses(arn: str) -> int:
        return iam("GetPolicy", PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"]

    iam("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=one)
    iam("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=one)
    assert (uses(one), uses(two)) == (1, 0)
    iam("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=two)
    assert (uses(one), uses(two)) == (0, 1)
    arn = iam("GetUser", UserName="alice")["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"]
    assert arn == two
    iam("DeleteUserPermissionsBoundary", UserName="alice")
    assert uses(two) == 0 and "PermissionsBoundary" not in iam("GetUser", UserName="alice")["User"]
    iam("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=ADMIN)
    assert iam("GetPolicy", PolicyArn=ADMIN)["Policy"]["PermissionsBoundaryUsageCount"] == 1


def test_put_user_boundary_errors(iam: Call) -> None:
    missing = f"arn:aws:iam::{ACCOUNT}:policy/none"
    err = error_of(iam, "PutUserPermissionsBoundary", UserName="ghost", PermissionsBoundary=ADMIN)
    assert (err.code, err.message) == ("NoSuchEntity", "The user with name ghost cannot be found.")
    iam("CreateUser", UserName="alice")
    err = error_of(iam, "PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=missing)
    assert (err.code, err.message) == (
        "NoSuchEntity",
        f"Policy {missing} does not exist or is not attachable.",
    )


# ---------------------------------------------------------------- authorization


def test_user_without_policies_is_denied(iam: Call, iam_as: Call) -> None:
    iam("CreateUser", UserName="bob")
    err = error_of(iam_as, user_caller("bob"), "ListUsers")
    assert err.code == "AccessDenied"
    assert err.message.startswith(
        f"User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: iam:ListUsers "
        f"on resource: arn:aws:iam::{ACCOUNT}:user/ "
    )
    err = error_of(iam_as, user_caller("bob"), "ListUsers", PathPrefix="/eng/")
    assert f"on resource: arn:aws:iam::{ACCOUNT}:user/eng/ " in err.message
    err = error_of(iam_as, user_caller("bob"), "CreateUser", UserName="x")
    assert err.code == "AccessDenied"
    assert f"on resource: arn:aws:iam::{ACCOUNT}:user/x" in err.message


def test_user_with_inline_allow_succeeds(iam: Call, iam_as: Call) -> None:
    iam("CreateUser", UserName="bob")
    doc = allow(["iam:ListUsers", "iam:CreateUser", "iam:GetUser"])
    iam("PutUserPolicy", UserName="bob", PolicyName="p", PolicyDocument=doc)
    bob = user_caller("bob")
    iam_as(bob, "CreateUser", UserName="x", Path="/p/")
    assert [u["UserName"] for u in iam_as(bob, "ListUsers")["Users"]] == ["bob", "x"]


def test_list_users_is_authorized_on_the_path_prefix(iam: Call, iam_as: Call) -> None:
    iam("CreateUser", UserName="bob")
    eng = f"arn:aws:iam::{ACCOUNT}:user/eng/*"
    iam("PutUserPolicy", UserName="bob", PolicyName="p", PolicyDocument=allow("iam:ListUsers", eng))
    assert iam_as(user_caller("bob"), "ListUsers", PathPrefix="/eng/")["Users"] == []
    assert error_of(iam_as, user_caller("bob"), "ListUsers").code == "AccessDenied"


def test_create_with_tags_needs_tag_permission(iam: Call, iam_as: Call) -> None:
    iam("CreateUser", UserName="bob")
    iam("PutUserPolicy", UserName="bob", PolicyName="p", PolicyDocument=allow("iam:CreateUser"))
    bob = user_caller("bob")
    tags = [{"Key": "team", "Value": "blue"}]
    err = error_of(iam_as, bob, "CreateUser", UserName="x", Tags=tags)
    assert err.code == "AccessDenied" and "iam:TagUser" in err.message
    iam_as(bob, "CreateUser", UserName="y")
    cond = {"StringEquals": {"aws:RequestTag/team": "blue"}}
    doc = allow(["iam:CreateUser", "iam:TagUser"], condition=cond)
    iam("PutUserPolicy", UserName="bob", PolicyName="p", PolicyDocument=doc)
    iam_as(bob, "CreateUser", UserName="x", Tags=tags)
    err = error_of(iam_as, bob, "CreateUser", UserName="z", Tags=[{"Key": "team", "Value": "red"}])
    assert err.code == "AccessDenied"


def test_resource_tags_reach_conditions(iam: Call, iam_as: Call) -> None:
    iam("CreateUser", UserName="bob")
    iam("CreateUser", UserName="blue", Tags=[{"Key": "team", "Value": "blue"}])
    iam("CreateUser", UserName="red", Tags=[{"Key": "team", "Value": "red"}])
    cond = {"StringEquals": {"aws:ResourceTag/team": "blue"}}
    iam(
        "PutUserPolicy",
        UserName="bob",
        PolicyName="p",
        PolicyDocument=allow("iam:GetUser", condition=cond),
    )
    assert iam_as(user_caller("bob"), "GetUser", UserName="blue")["User"]["UserName"] == "blue"
    assert error_of(iam_as, user_caller("bob"), "GetUser", UserName="red").code == "AccessDenied"


def test_boundary_condition_key(iam: Call, iam_as: Call) -> None:
    """iam:PermissionsBoundary lets an admin create users only with a given boundary."""
    iam("CreateUser", UserName="bob")
    cond = {"StringEquals": {"iam:PermissionsBoundary": READ_ONLY}}
    iam(
        "PutUserPolicy",
        UserName="bob",
        PolicyName="p",
        PolicyDocument=allow("iam:CreateUser", condition=cond),
    )
    bob = user_caller("bob")
    assert error_of(iam_as, bob, "CreateUser", UserName="x").code == "AccessDenied"
    err = error_of(iam_as, bob, "CreateUser", UserName="x", PermissionsBoundary=ADMIN)
    assert err.code == "AccessDenied"
    iam_as(bob, "CreateUser", UserName="x", PermissionsBoundary=READ_ONLY)


def test_root_caller_is_never_denied(iam_as: Call) -> None:
    assert iam_as(root_caller(), "ListUsers")["Users"] == []
