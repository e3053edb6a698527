"""Access keys: create/update/delete/list, last used, secrets shown once and kept encrypted."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from chamberlain.crypto.ids import Prefix, is_access_key_id, is_secret_access_key, new_unique_id
from chamberlain.domain import ROOT, AccessKey, InlinePolicy, Role, User
from chamberlain.ops.core.authn import decrypt_secret, record_key_use
from chamberlain.ops.core.context import Caller, Services, Session
from chamberlain.ops.core.errors import ServiceError
from chamberlain.policy import PrincipalType
from chamberlain.protocol.models import find_operation, validate_input
from chamberlain.protocol.xml_out import serialize_response

from ..conftest import ACCOUNT, NOW, error, root_caller, user_caller

Call = Callable[..., Any]


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


def add_user(services: Services, name: str) -> User:
    user = User(
        account_id=ACCOUNT,
        user_id=new_unique_id(Prefix.USER),
        name=name,
        path="/",
        arn=f"arn:aws:iam::{ACCOUNT}:user/{name}",
        created=NOW,
    )
    with services.store.unit_of_work() as uow:
        uow.repo(User).add(user)
    return user


def allow(services: Services, user: str, actions: list[str], resource: str = "*") -> None:
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}],
        }
    )
    with services.store.unit_of_work() as uow:
        uow.repo(InlinePolicy).add(InlinePolicy(ACCOUNT, "user", user, "p", document))




def stored_keys(services: Services) -> list[AccessKey]:
    with services.store.unit_of_work(read_only=True) as uow:
        return uow.repo(AccessKey).list(ACCOUNT)


# ------------------------------------------------------------------------- create


def test_create_returns_the_secret_once_and_stores_it_encrypted(aws: Call, services: Services):
    add_user(services, "alice")
    created = aws("CreateAccessKey", UserName="alice")["AccessKey"]
    assert created["UserName"] == "alice"
    assert created["Status"] == "Active"
    assert created["CreateDate"] == NOW
    assert is_access_key_id(created["AccessKeyId"], temporary=False)
    secret = created["SecretAccessKey"]
    assert is_secret_access_key(secret)

    (key,) = stored_keys(services)
    assert secret.encode() not in key.secret_encrypted
    assert decrypt_secret(services, key) == secret
    # Bound to its key id: the blob does not decrypt as another key's.
    other = replace(key, access_key_id="AKIAOTHEROTHEROTHER0")
    with pytest.raises(ValueError):
        decrypt_secret(services, other)

    listed = aws("ListAccessKeys", UserName="alice")
    assert secret not in json.dumps(listed, default=str)
    assert listed["AccessKeyMetadata"] == [
        {
            "UserName": "alice",
            "AccessKeyId": created["AccessKeyId"],
            "Status": "Active",
            "CreateDate": NOW,
        }
    ]


def test_quota_is_two_keys_per_user(aws: Call, services: Services):
    add_user(services, "alice")
    aws("CreateAccessKey", UserName="alice")
    aws("CreateAccessKey", UserName="ALICE")  # names are case-insensitive
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateAccessKey", UserName="alice")
    assert error(excinfo) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
    assert excinfo.value.http_status == 409
    assert len(stored_keys(services)) == 2


def test_unknown_user(aws: Call):
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateAccessKey", UserName="nobody")
    assert error(excinfo) == ("NoSuchEntity", "The user with name nobody cannot be found.")
    assert excinfo.value.http_status == 404


def test_root_without_user_name_gets_a_root_key(aws: Call, services: Services):
    created = aws("CreateAccessKey")["AccessKey"]
    assert "UserName" not in created
    (key,) = stored_keys(services)
    assert key.user_name == ROOT
    assert aws("ListAccessKeys")["AccessKeyMetadata"][0]["AccessKeyId"] == created["AccessKeyId"]
    last = aws("GetAccessKeyLastUsed", AccessKeyId=created["AccessKeyId"])
    assert "UserName" not in last


def test_user_without_user_name_manages_own_keys(aws: Call, services: Services):
    add_user(services, "alice")
    allow(services, "alice", ["iam:*AccessKey*"], f"arn:aws:iam::{ACCOUNT}:user/alice")
    created = aws("CreateAccessKey", caller=user_caller("alice"))["AccessKey"]
    assert created["UserName"] == "alice"
    listed = aws("ListAccessKeys", caller=user_caller("alice"))["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [created["AccessKeyId"]]


def test_role_session_must_name_a_user(aws: Call, services: Services):
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/r"
    role_id = new_unique_id(Prefix.ROLE)
    with services.store.unit_of_work() as uow:
        uow.repo(Role).add(Role(ACCOUNT, role_id, "r", "/", role_arn, "{}", NOW))
        uow.repo(InlinePolicy).add(
            InlinePolicy(
                ACCOUNT,
                "role",
                "r",
                "p",
                '{"Version":"2012-10-17","Statement":'
                '[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}',
            )
        )
    session = Caller(
        account_id=ACCOUNT,
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s",
        principal_id=f"{role_id}:s",
        type=PrincipalType.ASSUMED_ROLE,
        session=Session(
            issuer_arn=role_arn,
            issuer_id=role_id,
            issued=NOW,
            expires=NOW + dt.timedelta(hours=1),
        ),
    )
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateAccessKey", caller=session)
    assert error(excinfo) == (
        "ValidationError",
        "Must specify userName when calling with non-User credentials",
    )


# ------------------------------------------------------------------ update, delete


def test_update_status(aws: Call, services: Services):
    add_user(services, "alice")
    key_id = aws("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    aws("UpdateAccessKey", UserName="alice", AccessKeyId=key_id, Status="Inactive")
    assert aws("ListAccessKeys", UserName="alice")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    aws("UpdateAccessKey", UserName="alice", AccessKeyId=key_id, Status="Active")
    assert stored_keys(services)[0].status == "Active"
    with pytest.raises(ServiceError) as excinfo:
        aws("UpdateAccessKey", UserName="alice", AccessKeyId=key_id, Status="Expired")
    assert excinfo.value.code == "InvalidInput"


def test_update_and_delete_need_the_owner(aws: Call, services: Services):
    add_user(services, "alice")
    add_user(services, "bob")
    key_id = aws("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    for name, extra in (("UpdateAccessKey", {"Status": "Inactive"}), ("DeleteAccessKey", {})):
        with pytest.raises(ServiceError) as excinfo:
            aws(name, UserName="bob", AccessKeyId=key_id, **extra)
        assert error(excinfo) == (
            "NoSuchEntity",
            f"The Access Key with id {key_id} cannot be found.",
        )
    aws("DeleteAccessKey", UserName="alice", AccessKeyId=key_id)
    assert stored_keys(services) == []
    with pytest.raises(ServiceError) as excinfo:
        aws("DeleteAccessKey", UserName="alice", AccessKeyId=key_id)
    assert excinfo.value.code == "NoSuchEntity"


def test_list_paginates(aws: Call, services: Services):
    add_user(services, "alice")
    ids = sorted(aws("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"] for _ in "ab")
    first = aws("ListAccessKeys", UserName="alice", MaxItems=1)
    assert first["IsTruncated"] is True
    assert [k["AccessKeyId"] for k in first["AccessKeyMetadata"]] == ids[:1]
    second = aws("ListAccessKeys", UserName="alice", MaxItems=1, Marker=first["Marker"])
    assert second["IsTruncated"] is False
    assert [k["AccessKeyId"] for k in second["AccessKeyMetadata"]] == ids[1:]


# ------------------------------------------------------------------------ last used


def test_last_used_never_and_after_use(aws: Call, services: Services):
    add_user(services, "alice")
    key_id = aws("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    assert aws("GetAccessKeyLastUsed", AccessKeyId=key_id) == {
        "UserName": "alice",
        "AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"},
    }
    with services.store.unit_of_work() as uow:
        key = uow.repo(AccessKey).get(ACCOUNT, key_id)
        record_key_use(uow, key, NOW, "iam", "us-east-1")
    assert aws("GetAccessKeyLastUsed", AccessKeyId=key_id)["AccessKeyLastUsed"] == {
        "LastUsedDate": NOW,
        "ServiceName": "iam",
        "Region": "us-east-1",
    }
    with pytest.raises(ServiceError) as excinfo:
        aws("GetAccessKeyLastUsed", AccessKeyId="AKIAUNKNOWNUNKNOWN00")
    assert excinfo.value.code == "NoSuchEntity"


# ---------------------------------------------------------------------- authorization


def test_user_without_policy_is_denied(aws: Call, services: Services):
    add_user(services, "alice")
    add_user(services, "bob")
    for name, params in (
        ("CreateAccessKey", {"UserName": "bob"}),
        ("ListAccessKeys", {"UserName": "bob"}),
        ("CreateAccessKey", {}),
    ):
        with pytest.raises(ServiceError) as excinfo:
            aws(name, caller=user_caller("alice"), **params)
        assert excinfo.value.code == "AccessDenied"
        assert excinfo.value.http_status == 403
    assert stored_keys(services) == []


def test_user_with_policy_is_allowed_on_named_resource_only(aws: Call, services: Services):
    add_user(services, "alice")
    add_user(services, "bob")
    allow(services, "alice", ["iam:CreateAccessKey"], f"arn:aws:iam::{ACCOUNT}:user/bob")
    created = aws("CreateAccessKey", caller=user_caller("alice"), UserName="bob")
    assert created["AccessKey"]["UserName"] == "bob"
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateAccessKey", caller=user_caller("alice"), UserName="alice")
    assert excinfo.value.code == "AccessDenied"
    assert "user/alice" in excinfo.value.message


def test_errors_never_contain_secrets(aws: Call, services: Services):
    add_user(services, "alice")
    secrets = [aws("CreateAccessKey", UserName="alice")["AccessKey"]["SecretAccessKey"]]
    secrets.append(aws("CreateAccessKey", UserName="alice")["AccessKey"]["SecretAccessKey"])
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateAccessKey", UserName="alice")
    assert not any(s in str(excinfo.value) for s in secrets)
