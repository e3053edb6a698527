"""Service-specific credentials: passwords and API keys, quotas, listing, lifecycle."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from chamberlain.crypto.ids import Prefix, is_unique_id
from chamberlain.ops.core.context import Caller, OpContext, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.iam.service_credentials import (
    ServiceSpecificCredential,
    has_service_specific_credentials,
    verify_service_secret,
)
from chamberlain.protocol.models import find_operation, validate_input
from chamberlain.protocol.xml_out import serialize_response

from ..conftest import ACCOUNT, NOW, meta, root_caller, user_caller
from ..entity_seed import Seed, allow, policy

Call = Callable[..., Any]
CODECOMMIT = "codecommit.amazonaws.com"
KEYSPACES = "cassandra.amazonaws.com"
BEDROCK = "bedrock.amazonaws.com"


@pytest.fixture
def aws(iam_as: Call) -> Call:
    """Run an operation with model-valid input and check that the output serializes."""

    def call(name: str, caller: Caller | None = None, **params: Any) -> Any:
        op = find_operation("iam", name)
        assert op is not None
        assert validate_input(op.input_shape, params) == []
        out = iam_as(caller or root_caller(), name, **params)
        serialize_response("iam", name, out, "req")
        return out

    return call


@pytest.fixture
def seed(services: Services) -> Seed:
    seed = Seed(services)
    seed.user("alice")
    seed.user("bob")
    return seed


def error(call: Call, *args: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ServiceError) as info:
        call(*args, **params)
    return info.value.code, info.value.message


def stored(services: Services, credential_id: str) -> ServiceSpecificCredential:
    with services.store.unit_of_work(read_only=True) as uow:
        found = uow.repo(ServiceSpecificCredential).get(ACCOUNT, credential_id)
    assert found is not None
    return found


def create(aws: Call, user: str = "alice", service: str = CODECOMMIT, **more: Any) -> dict:
    return aws("CreateServiceSpecificCredential", UserName=user, ServiceName=service, **more)[
        "ServiceSpecificCredential"
    ]


# -------------------------------------------------------------------------- create


def test_create_a_password_credential(aws: Call, seed: Seed, services: Services) -> None:
    credential = create(aws)
    credential_id = credential["ServiceSpecificCredentialId"]
    assert is_unique_id(credential_id, Prefix.CONTEXT_SPECIFIC_CREDENTIAL)
    password = credential.pop("ServicePassword")
    assert len(password) == 60 and base64.b64decode(password)
    assert credential == {
        "UserName": "alice",
        "Status": "Active",
        "ServiceUserName": f"alice-at-{ACCOUNT}",
        "CreateDate": NOW,
        "ServiceSpecificCredentialId": credential_id,
        "ServiceName": CODECOMMIT,
    }
    kept = stored(services, credential_id)
    assert password.encode() not in kept.secret_encrypted
    assert verify_service_secret(services, kept, password)
    assert not verify_service_secret(services, kept, password[:-2] + "AA")


def test_create_an_api_key(aws: Call, seed: Seed, services: Services) -> None:
    credential = create(aws, service=BEDROCK, CredentialAgeDays=30)
    alias = f"alice-at-{ACCOUNT}"
    assert credential["ServiceCredentialAlias"] == alias
    assert credential["ExpirationDate"] == NOW + dt.timedelta(days=30)
    assert "ServiceUserName" not in credential and "ServicePassword" not in credential
    secret = credential["ServiceCredentialSecret"]
    assert secret.startswith("ABSK")
    assert base64.b64decode(secret[4:]).decode().startswith(f"{alias}:")
    kept = stored(services, credential["ServiceSpecificCredentialId"])
    assert verify_service_secret(services, kept, secret)
    # CredentialAgeDays is for API keys only.
    assert error(create, aws, service=KEYSPACES, CredentialAgeDays=1) == (
        "InvalidInput",
        "CredentialAgeDays is only valid for Bedrock and CloudWatch Logs API keys.",
    )


def test_two_per_user_and_service(aws: Call, seed: Seed) -> None:
    create(aws)
    create(aws)
    assert error(create, aws) == (
        "LimitExceeded",
        "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: 2",
    )
    create(aws, service=KEYSPACES)  # another service
    create(aws, user="bob")  # another user


def test_create_errors(aws: Call, seed: Seed) -> None:
    with pytest.raises(ServiceError) as info:
        create(aws, service="s3.amazonaws.com")
    assert (info.value.code, info.value.http_status, info.value.message) == (
        "NotSupportedService",
        404,
        "No such service s3.amazonaws.com is supported for Service Specific Credentials",
    )
    assert error(create, aws, user="nobody") == (
        "NoSuchEntity",
        "The user with name nobody cannot be found.",
    )


# ---------------------------------------------------------------------------- list


def test_list(aws: Call, seed: Seed) -> None:
    first = create(aws)["ServiceSpecificCredentialId"]
    second = create(aws, service=KEYSPACES)["ServiceSpecificCredentialId"]
    create(aws, user="bob")
    listed = aws("ListServiceSpecificCredentials", UserName="alice")
    assert listed["IsTruncated"] is False
    assert sorted(
        c["ServiceSpecificCredentialId"] for c in listed["ServiceSpecificCredentials"]
    ) == (sorted([first, second]))
    assert all("ServicePassword" not in c for c in listed["ServiceSpecificCredentials"])
    only = aws("ListServiceSpecificCredentials", UserName="alice", ServiceName=KEYSPACES)
    assert [c["ServiceSpecificCredentialId"] for c in only["ServiceSpecificCredentials"]] == [
        second
    ]
    everyone = aws("ListServiceSpecificCredentials", AllUsers=True, ServiceName=CODECOMMIT)
    assert sorted(c["UserName"] for c in everyone["ServiceSpecificCredentials"]) == [
        "alice",
        "bob",
    ]
    page = aws("ListServiceSpecificCredentials", UserName="alice", MaxItems=1)
    assert page["IsTruncated"] is True
    rest = aws(
        "ListServiceSpecificCredentials", UserName="alice", MaxItems=1, Marker=page["Marker"]
    )
    ids = page["ServiceSpecificCredentials"] + rest["ServiceSpecificCredentials"]
    assert sorted(c["ServiceSpecificCredentialId"] for c in ids) == sorted([first, second])


def test_list_errors(aws: Call, seed: Seed) -> None:
    code, _ = error(aws, "ListServiceSpecificCredentials", UserName="alice", ServiceName="x")
    assert code == "NotSupportedService"
    assert error(aws, "ListServiceSpecificCredentials", UserName="alice", AllUsers=True) == (
        "InvalidInput",
        "AllUsers cannot be specified together with UserName.",
    )
    assert error(aws, "ListServiceSpecificCredentials") == (
        "ValidationError",
        "Must specify userName when calling with non-User credentials",
    )


def test_api_keys_expire(aws: Call, seed: Seed, services: Services) -> None:
    created = create(aws, service=BEDROCK, CredentialAgeDays=1)
    later = meta(NOW + dt.timedelta(days=1))
    listed = execute(
        services,
        root_caller(),
        later,
        "iam",
        "ListServiceSpecificCredentials",
        {"UserName": "alice"},
    )
    (credential,) = listed["ServiceSpecificCredentials"]
    assert credential["ServiceSpecificCredentialId"] == created["ServiceSpecificCredentialId"]
    assert credential["Status"] == "Expired"


# ------------------------------------------------------- reset / update / delete


def test_reset_update_delete(aws: Call, seed: Seed, services: Services) -> None:
    created = create(aws)
    credential_id = created["ServiceSpecificCredentialId"]
    reset = aws(
        "ResetServiceSpecificCredential",
        UserName="alice",
        ServiceSpecificCredentialId=credential_id,
    )["ServiceSpecificCredential"]
    assert reset["ServicePassword"] != created["ServicePassword"]
    assert reset["ServiceUserName"] == created["ServiceUserName"]
    kept = stored(services, credential_id)
    assert verify_service_secret(services, kept, reset["ServicePassword"])
    assert not verify_service_secret(services, kept, created["ServicePassword"])

    aws(
        "UpdateServiceSpecificCredential",
        UserName="alice",
        ServiceSpecificCredentialId=credential_id,
        Status="Inactive",
    )
    (listed,) = aws("ListServiceSpecificCredentials", UserName="alice")[
        "ServiceSpecificCredentials"
    ]
    assert listed["Status"] == "Inactive"
    assert error(
        aws,
        "UpdateServiceSpecificCredential",
        UserName="alice",
        ServiceSpecificCredentialId=credential_id,
        Status="Expired",
    ) == ("InvalidInput", "Invalid status Expired. The status must be Active or Inactive.")

    with services.store.unit_of_work(read_only=True) as uow:
        ctx = OpContext(root_caller(), meta(), uow, services)
        assert has_service_specific_credentials(ctx, "ALICE")
    aws(
        "DeleteServiceSpecificCredential",
        UserName="alice",
        ServiceSpecificCredentialId=credential_id,
    )
    with services.store.unit_of_work(read_only=True) as uow:
        ctx = OpContext(root_caller(), meta(), uow, services)
        assert not has_service_specific_credentials(ctx, "alice")


def test_unknown_or_foreign_credential(aws: Call, seed: Seed) -> None:
    bobs = create(aws, user="bob")["ServiceSpecificCredentialId"]
    for name, extra in (
        ("ResetServiceSpecificCredential", {}),
        ("UpdateServiceSpecificCredential", {"Status": "Active"}),
        ("DeleteServiceSpecificCredential", {}),
    ):
        assert error(aws, name, UserName="alice", ServiceSpecificCredentialId=bobs, **extra) == (
            "NoSuchEntity",
            f"No such credential {bobs} exists",
        )
    missing = "ACCA" + "A" * 17
    assert error(
        aws, "DeleteServiceSpecificCredential", UserName="bob", ServiceSpecificCredentialId=missing
    ) == ("NoSuchEntity", f"No such credential {missing} exists")


# -------------------------------------------------------------------- authorization


def test_a_user_manages_their_own(aws: Call, seed: Seed) -> None:
    own = "arn:aws:iam::*:user/${aws:username}"
    seed.inline("user", "alice", "own", policy(allow("iam:*ServiceSpecificCredential*", own)))
    alice, bob = user_caller("alice"), user_caller("bob")
    created = aws(
        "CreateServiceSpecificCredential", alice, UserName="alice", ServiceName=CODECOMMIT
    )["ServiceSpecificCredential"]
    # Without UserName, the calling user's own.
    (listed,) = aws("ListServiceSpecificCredentials", alice)["ServiceSpecificCredentials"]
    assert listed["ServiceSpecificCredentialId"] == created["ServiceSpecificCredentialId"]
    credential_id = created["ServiceSpecificCredentialId"]
    aws("ResetServiceSpecificCredential", alice, ServiceSpecificCredentialId=credential_id)
    code, message = error(
        aws, "CreateServiceSpecificCredential", alice, UserName="bob", ServiceName=CODECOMMIT
    )
    assert code == "AccessDenied"
    assert "iam:CreateServiceSpecificCredential on resource: " in message
    assert message.split("on resource: ")[1].startswith(f"arn:aws:iam::{ACCOUNT}:user/bob")
    assert error(aws, "ListServiceSpecificCredentials", bob)[0] == "AccessDenied"
    assert error(aws, "ListServiceSpecificCredentials", alice, AllUsers=True)[0] == "AccessDenied"
    aws("DeleteServiceSpecificCredential", alice, ServiceSpecificCredentialId=credential_id)
