"""Account settings: STS token version, account properties, outbound web identity
federation; and ListPoliciesGrantingServiceAccess."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from chamberlain.ops.core.context import Caller, OpContext, Services
from chamberlain.ops.core.errors import FeatureDisabled, FeatureEnabled, ServiceError
from chamberlain.ops.iam.account_settings import global_endpoint_token_version
from chamberlain.protocol.models import find_operation, validate_input
from chamberlain.protocol.xml_out import serialize_response

from ..conftest import ACCOUNT, meta, root_caller, user_caller
from ..entity_seed import Seed, allow, deny, policy

Call = Callable[..., Any]
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
POWER_USER = "arn:aws:iam::aws:policy/PowerUserAccess"


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


def error(call: Call, *args: Any, **params: Any) -> tuple[str, int, str]:
    with pytest.raises(ServiceError) as info:
        call(*args, **params)
    return info.value.code, info.value.http_status, info.value.message


def token_version(services: Services) -> int:
    with services.store.unit_of_work(read_only=True) as uow:
        return global_endpoint_token_version(OpContext(root_caller(), meta(), uow, services))


# ------------------------------------------------------------------ STS preferences


def test_security_token_service_preferences(aws: Call, services: Services) -> None:
    assert token_version(services) == 1
    aws("SetSecurityTokenServicePreferences", GlobalEndpointTokenVersion="v2Token")
    assert token_version(services) == 2
    aws("SetSecurityTokenServicePreferences", GlobalEndpointTokenVersion="v1Token")
    assert token_version(services) == 1


# --------------------------------------------------------------- account properties


def test_account_properties(aws: Call) -> None:
    assert aws("GetAccountProperties") == {"Properties": {}}
    aws("PutAccountProperties", Properties={"RoleManager/Enabled": "true"})
    aws("PutAccountProperties", Properties={"RoleManager/Mode": "strict", "RoleManager/X": "1"})
    aws("PutAccountProperties", Properties={"RoleManager/Enabled": "false"})
    assert aws("GetAccountProperties") == {
        "Properties": {
            "RoleManager/Enabled": "false",
            "RoleManager/Mode": "strict",
            "RoleManager/X": "1",
        }
    }


@pytest.mark.parametrize("key", ["NoSlash", "Trailing/", "Too/many/slashes", "Double//x"])
def test_property_keys_need_one_slash(aws: Call, key: str) -> None:
    assert error(aws, "PutAccountProperties", Properties={key: "v"}) == (
        "InvalidInput",
        400,
        f"Invalid property key {key}. A key must be Namespace/PropertyName, with exactly one / "
        "that neither starts nor ends it.",
    )


def test_properties_of_one_request_share_a_namespace(aws: Call) -> None:
    assert error(aws, "PutAccountProperties", Properties={"A/x": "1", "B/y": "2"}) == (
        "InvalidInput",
        400,
        "All properties in a single request must belong to the same namespace.",
    )
    assert aws("GetAccountProperties") == {"Properties": {}}


# ------------------------------------------------- outbound web identity federation


def test_outbound_web_identity_federation(aws: Call) -> None:
    code, status, _ = error(aws, "GetOutboundWebIdentityFederationInfo")
    assert (code, status) == ("FeatureDisabled", 404)
    assert error(aws, "DisableOutboundWebIdentityFederation")[:2] == ("FeatureDisabled", 404)

    issuer = aws("EnableOutboundWebIdentityFederation")["IssuerIdentifier"]
    assert re.fullmatch(r"https://[0-9a-f-]{36}\.tokens\.sts\.global\.api\.aws", issuer)
    assert error(aws, "EnableOutboundWebIdentityFederation")[:2] == ("FeatureEnabled", 409)
    assert aws("GetOutboundWebIdentityFederationInfo") == {
        "IssuerIdentifier": issuer,
        "JwtVendingEnabled": True,
    }
    aws("DisableOutboundWebIdentityFederation")
    assert aws("GetOutboundWebIdentityFederationInfo") == {
        "IssuerIdentifier": issuer,
        "JwtVendingEnabled": False,
    }
    # The account keeps its issuer.
    assert aws("EnableOutboundWebIdentityFederation") == {"IssuerIdentifier": issuer}


def test_outbound_federation_errors_are_the_shared_classes(aws: Call) -> None:
    with pytest.raises(FeatureDisabled) as disabled:
        aws("DisableOutboundWebIdentityFederation")
    assert disabled.value.sender_fault
    aws("EnableOutboundWebIdentityFederation")
    with pytest.raises(FeatureEnabled) as enabled:
        aws("EnableOutboundWebIdentityFederation")
    assert enabled.value.sender_fault


# ------------------------------------------------ ListPoliciesGrantingServiceAccess


@pytest.fixture
def people(services: Services) -> Seed:
    seed = Seed(services)
    seed.user("alice")
    seed.group("devs")
    seed.member("devs", "alice")
    seed.role("worker")
    seed.inline("user", "alice", "read-s3", policy(allow("s3:Get*")))
    seed.inline("user", "alice", "deny-only", policy(deny("*")))
    managed = seed.managed("IamEditor", policy(allow(["iam:CreateUser", "iam:TagUser"])))
    seed.attach("user", "alice", managed)
    seed.attach("group", "devs", managed)  # listed once for alice
    seed.inline(
        "group",
        "devs",
        "all-but-iam",
        policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
    )
    seed.inline("group", "devs", "ec2", policy(allow("EC2:Describe?nstances")))
    seed.inline("role", "worker", "dynamo", policy(allow("dynamodb:Query")))
    seed.attach("role", "worker", ADMIN)
    seed.attach("role", "worker", POWER_USER)  # NotAction iam:*, and a few iam actions
    return seed


def granting(aws: Call, arn: str, *namespaces: str, caller: Caller | None = None) -> dict:
    out = aws(
        "ListPoliciesGrantingServiceAccess", caller, Arn=arn, ServiceNamespaces=list(namespaces)
    )
    assert out["IsTruncated"] is False
    return {e["ServiceNamespace"]: e["Policies"] for e in out["PoliciesGrantingServiceAccess"]}


def inline(name: str, kind: str, owner: str) -> dict[str, str]:
    return {"PolicyName": name, "PolicyType": "INLINE", "EntityType": kind, "EntityName": owner}


def managed(arn: str) -> dict[str, str]:
    return {"PolicyName": arn.rsplit("/", 1)[1], "PolicyType": "MANAGED", "PolicyArn": arn}


def test_a_users_policies_include_its_groups(aws: Call, people: Seed) -> None:
    editor = managed(f"arn:aws:iam::{ACCOUNT}:policy/IamEditor")
    found = granting(aws, f"arn:aws:iam::{ACCOUNT}:user/alice", "s3", "iam", "ec2", "sqs")
    not_iam = inline("all-but-iam", "GROUP", "devs")
    assert found == {
        "s3": [inline("read-s3", "USER", "alice"), not_iam],
        "iam": [editor],
        "ec2": [not_iam, inline("ec2", "GROUP", "devs")],
        "sqs": [not_iam],
    }


def test_a_groups_and_a_roles_own_policies(aws: Call, people: Seed) -> None:
    group = granting(aws, f"arn:aws:iam::{ACCOUNT}:group/devs", "s3", "iam")
    assert [p["PolicyName"] for p in group["s3"]] == ["all-but-iam"]
    assert [p["PolicyName"] for p in group["iam"]] == ["IamEditor"]
    role = granting(aws, f"arn:aws:iam::{ACCOUNT}:role/worker", "dynamodb", "iam", "kms")
    assert role == {
        "dynamodb": [inline("dynamo", "ROLE", "worker"), managed(ADMIN), managed(POWER_USER)],
        "iam": [managed(ADMIN), managed(POWER_USER)],
        "kms": [managed(ADMIN), managed(POWER_USER)],
    }
    assert granting(aws, f"arn:aws:iam::{ACCOUNT}:group/devs", "iam", "IAM") == {
        "iam": [managed(f"arn:aws:iam::{ACCOUNT}:policy/IamEditor")],
        "IAM": [managed(f"arn:aws:iam::{ACCOUNT}:policy/IamEditor")],
    }


def test_granting_errors(aws: Call, people: Seed) -> None:
    assert error(
        aws,
        "ListPoliciesGrantingServiceAccess",
        Arn="not-an-arn-at-all-xx",
        ServiceNamespaces=["s3"],
    ) == (
        "InvalidInput",
        400,
        "ARN not-an-arn-at-all-xx is not valid.",
    )
    for arn, message in (
        (f"arn:aws:iam::{ACCOUNT}:user/nobody", "The user with name nobody cannot be found."),
        ("arn:aws:iam::222222222222:user/alice", "The user with name alice cannot be found."),
        (f"arn:aws:iam::{ACCOUNT}:role/x/worker", "The role with name worker cannot be found."),
    ):
        assert error(
            aws, "ListPoliciesGrantingServiceAccess", Arn=arn, ServiceNamespaces=["s3"]
        ) == (
            "NoSuchEntity",
            404,
            message,
        )
    assert error(
        aws,
        "ListPoliciesGrantingServiceAccess",
        Arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        ServiceNamespaces=["s3"],
        Marker="abc",
    ) == ("InvalidInput", 400, "Invalid Marker.")


# -------------------------------------------------------------------- authorization


def test_authorization_for_a_user(aws: Call, people: Seed) -> None:
    people.user("auditor")
    people.user("nobody")
    alice_arn = f"arn:aws:iam::{ACCOUNT}:user/alice"
    people.inline(
        "user",
        "auditor",
        "audit",
        policy(
            allow("iam:ListPoliciesGrantingServiceAccess", alice_arn),
            allow(["iam:SetSecurityTokenServicePreferences", "iam:GetAccountProperties"]),
        ),
    )
    auditor, nobody = user_caller("auditor"), user_caller("nobody")
    assert granting(aws, alice_arn, "s3", caller=auditor)["s3"]
    code, status, message = error(
        aws, "ListPoliciesGrantingServiceAccess", nobody, Arn=alice_arn, ServiceNamespaces=["s3"]
    )
    assert (code, status) == ("AccessDenied", 403)
    assert f"iam:ListPoliciesGrantingServiceAccess on resource: {alice_arn}" in message
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/worker"
    assert (
        error(
            aws,
            "ListPoliciesGrantingServiceAccess",
            auditor,
            Arn=role_arn,
            ServiceNamespaces=["s3"],
        )[0]
        == "AccessDenied"
    )
    aws("SetSecurityTokenServicePreferences", auditor, GlobalEndpointTokenVersion="v2Token")
    assert (
        error(
            aws, "SetSecurityTokenServicePreferences", nobody, GlobalEndpointTokenVersion="v1Token"
        )[0]
        == "AccessDenied"
    )
    assert aws("GetAccountProperties", auditor) == {"Properties": {}}
    for name, params in (
        ("PutAccountProperties", {"Properties": {"A/b": "c"}}),
        ("EnableOutboundWebIdentityFederation", {}),
        ("GetOutboundWebIdentityFederationInfo", {}),
    ):
        assert error(aws, name, auditor, **params)[0] == "AccessDenied"
