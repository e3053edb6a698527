"""The entity descriptors (ops/core/entities.py): AWS's not-found messages for every kind,
and one store read per call for the entity a call names (the resolver reads it to
authorize the call, the handler takes it from there), counted on a real SQLite store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.domain import Account
from chamberlain.ops.core.context import RequestMeta, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import InvalidInput, NoSuchEntity
from chamberlain.store.sql import SqlStore

from ..conftest import ACCOUNT, NOW, root_caller
from ..iam.test_certs import certificate, pem, pem_private, rsa_key
from ..iam.test_providers import OIDC_ARN, SAML_ARN, THUMB, metadata

POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/readers"
MFA_ARN = f"arn:aws:iam::{ACCOUNT}:mfa/phone"
DOCUMENT = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}'  # noqa: E501


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    store = SqlStore.from_data_dir(tmp_path)
    store.migrate()
    with store.unit_of_work() as uow:
        uow.repo(Account).add(
            Account(account_id=ACCOUNT, email="root@example.com", root_password_hash="x",
                    created=NOW)
        )  # fmt: skip
    yield store
    store.close()


@pytest.fixture
def iam(store: SqlStore) -> Callable[..., Any]:
    services = Services(store=store, secrets=SecretBox(generate_key()))

    def call(name: str, **params: Any) -> Any:
        return execute(services, root_caller(), RequestMeta(f"r-{name}", NOW), "iam", name, params)

    return call


def _create_one_of_each(iam: Callable[..., Any]) -> None:
    iam("CreateUser", UserName="alice")
    iam("CreateGroup", GroupName="staff")
    iam("CreateRole", RoleName="app", AssumeRolePolicyDocument=_trust())
    iam("CreatePolicy", PolicyName="readers", PolicyDocument=DOCUMENT)
    iam("CreateInstanceProfile", InstanceProfileName="web")
    key = rsa_key()
    iam(
        "UploadServerCertificate",
        ServerCertificateName="site",
        CertificateBody=pem(certificate("site.example.com", key)),
        PrivateKey=pem_private(key),
    )
    iam("CreateOpenIDConnectProvider", Url="https://token.example.com/realms/main",
        ThumbprintList=[THUMB], ClientIDList=["app"])  # fmt: skip
    iam("CreateSAMLProvider", Name="Corp_IdP", SAMLMetadataDocument=metadata())
    iam("CreateVirtualMFADevice", VirtualMFADeviceName="phone")


def _trust() -> str:
    return (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'
    )


def _reads_of(store: SqlStore, kind: str) -> list[str]:
    """Every SELECT on the entities table for entities of `kind` from now on."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        values = parameters.values() if isinstance(parameters, dict) else parameters
        selecting = statement.lstrip().upper().startswith("SELECT") and "entities" in statement
        if selecting and kind in tuple(values or ()):
            seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", before)
    return seen


CALLS = [
    ("user", "GetUser", {"UserName": "alice"}),
    ("user", "TagUser", {"UserName": "alice", "Tags": [{"Key": "k", "Value": "v"}]}),
    ("group", "GetGroup", {"GroupName": "staff"}),
    ("role", "GetRole", {"RoleName": "app"}),
    ("role", "UntagRole", {"RoleName": "app", "TagKeys": ["k"]}),
    ("policy", "GetPolicy", {"PolicyArn": POLICY_ARN}),
    ("policy", "TagPolicy", {"PolicyArn": POLICY_ARN, "Tags": [{"Key": "k", "Value": "v"}]}),
    ("policy", "ListPolicyTags", {"PolicyArn": POLICY_ARN}),
    ("instance_profile", "GetInstanceProfile", {"InstanceProfileName": "web"}),
    ("instance_profile", "ListInstanceProfileTags", {"InstanceProfileName": "web"}),
    ("server_certificate", "GetServerCertificate", {"ServerCertificateName": "site"}),
    ("server_certificate", "UpdateServerCertificate",
     {"ServerCertificateName": "site", "NewPath": "/web/"}),
    ("oidc_provider", "GetOpenIDConnectProvider", {"OpenIDConnectProviderArn": OIDC_ARN}),
    ("oidc_provider", "AddClientIDToOpenIDConnectProvider",
     {"OpenIDConnectProviderArn": OIDC_ARN, "ClientID": "other"}),
    ("saml_provider", "GetSAMLProvider", {"SAMLProviderArn": SAML_ARN}),
    ("saml_provider", "DeleteSAMLProvider", {"SAMLProviderArn": SAML_ARN}),
    ("mfa_device", "TagMFADevice", {"SerialNumber": MFA_ARN, "Tags": [{"Key": "k", "Value": "v"}]}),
    ("mfa_device", "DeleteVirtualMFADevice", {"SerialNumber": MFA_ARN}),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "name", "params"), CALLS, ids=[c[1] for c in CALLS])
def test_a_call_reads_the_entity_it_names_once(
    store: SqlStore, iam: Callable[..., Any], kind: str, name: str, params: dict[str, Any]
) -> None:
    _create_one_of_each(iam)
    reads = _reads_of(store, kind)
    iam(name, **params)
    assert len(reads) == 1, reads


MISSING = [
    ("GetUser", {"UserName": "bob"}, "The user with name bob cannot be found."),
    ("GetGroup", {"GroupName": "Devs"}, "The group with name Devs cannot be found."),
    ("GetRole", {"RoleName": "Nope"}, "The role with name Nope cannot be found."),
    ("GetPolicy", {"PolicyArn": POLICY_ARN + "x"}, f"Policy {POLICY_ARN}x was not found."),
    ("GetInstanceProfile", {"InstanceProfileName": "Db"}, "Instance Profile Db cannot be found."),
    ("GetServerCertificate", {"ServerCertificateName": "Old"},
     "The Server Certificate with name Old cannot be found."),
    ("GetOpenIDConnectProvider", {"OpenIDConnectProviderArn": OIDC_ARN + "x"},
     f"OpenIDConnect Provider not found for arn {OIDC_ARN}x"),
    ("GetSAMLProvider", {"SAMLProviderArn": SAML_ARN + "x"},
     f"Manifest not found for arn {SAML_ARN}x"),
    ("DeleteVirtualMFADevice", {"SerialNumber": MFA_ARN + "x"},
     f"VirtualMFADevice with serial number {MFA_ARN}x doesn't exist."),
]  # fmt: skip


@pytest.mark.parametrize(("name", "params", "message"), MISSING, ids=[m[0] for m in MISSING])
def test_a_missing_entity_is_aws_no_such_entity(
    iam: Callable[..., Any], name: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(NoSuchEntity) as raised:
        iam(name, **params)
    assert raised.value.message == message


@pytest.mark.parametrize(
    ("name", "member"),
    [
        ("GetPolicy", "PolicyArn"),
        ("GetOpenIDConnectProvider", "OpenIDConnectProviderArn"),
        ("GetSAMLProvider", "SAMLProviderArn"),
    ],
)
def test_an_arn_of_another_kind_is_invalid_input(
    iam: Callable[..., Any], name: str, member: str
) -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:user/alice"
    with pytest.raises(InvalidInput) as raised:
        iam(name, **{member: arn})
    assert raised.value.message == f"ARN {arn} is not valid."
