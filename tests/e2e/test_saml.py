"""AssumeRoleWithSAML over the wire: a SAML provider created with boto3 from metadata made
at test time, a role trusting it, boto3's unsigned assume_role_with_saml, and the
credentials it returns used; tampered, expired and replayed responses refused with AWS's
codes."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, Server
from .saml_idp import AWS_SIGNIN, IdP, encode, trust_policy


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def idp() -> IdP:
    return IdP(entity_id=f"https://{unique('idp')}.example.com/saml")


@pytest.fixture(scope="module")
def federation(server: Server, idp: IdP) -> tuple[str, str]:
    """(provider ARN, role ARN): a SAML provider and a role its users may assume."""
    iam = server.client("iam")
    provider = iam.create_saml_provider(Name=unique("okta"), SAMLMetadataDocument=idp.metadata())[
        "SAMLProviderArn"
    ]
    name = unique("saml-role")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy(provider))
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName=name, PolicyName="list", PolicyDocument=json.dumps(policy))
    return provider, role["Role"]["Arn"]


def unsigned_sts(server: Server):
    return boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )


def session_client(server: Server, service: str, credentials: dict):
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def refused(server: Server, provider: str, role: str, saml: str) -> dict:
    with pytest.raises(ClientError) as exc:
        unsigned_sts(server).assume_role_with_saml(
            RoleArn=role, PrincipalArn=provider, SAMLAssertion=saml
        )
    return exc.value.response


def test_assume_role_with_saml_and_use_the_session(
    server: Server, idp: IdP, federation: tuple[str, str]
) -> None:
    provider, role = federation
    response = idp.new(role, provider)
    response.session_name = "alice"
    out = unsigned_sts(server).assume_role_with_saml(
        RoleArn=role, PrincipalArn=provider, SAMLAssertion=idp.response(response)
    )
    role_name = role.rsplit("/", 1)[1]
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/alice"
    assert out["AssumedRoleUser"]["Arn"] == session_arn
    assert out["Subject"] == "alice@example.com"
    assert out["SubjectType"] == "persistent"
    assert out["Issuer"] == idp.entity_id
    assert out["Audience"] == AWS_SIGNIN
    assert out["NameQualifier"]
    credentials = out["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    remaining = credentials["Expiration"] - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=55) < remaining <= dt.timedelta(hours=1)

    me = session_client(server, "sts", credentials).get_caller_identity()
    assert me["Arn"] == session_arn
    iam = session_client(server, "iam", credentials)
    assert any(r["Arn"] == role for r in iam.list_roles()["Roles"])
    with pytest.raises(ClientError) as exc:
        iam.list_users()
    assert exc.value.response["Error"]["Code"] == "AccessDenied"

    # The same response again: refused.
    again = refused(server, provider, role, idp.response(response))
    assert again["Error"]["Code"] == "InvalidIdentityToken"


def test_tampered_response_is_refused(
    server: Server, idp: IdP, federation: tuple[str, str]
) -> None:
    provider, role = federation
    xml = idp.response_xml(idp.new(role, provider))
    answer = refused(server, provider, role, encode(xml.replace(b">alice<", b">admin<")))
    assert answer["Error"] == {
        "Type": "Sender",
        "Code": "InvalidIdentityToken",
        "Message": "Response signature invalid",
    }
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_expired_response_is_refused(server: Server, idp: IdP, federation: tuple[str, str]) -> None:
    provider, role = federation
    response = idp.new(role, provider, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3))
    response.lifetime = dt.timedelta(minutes=2)
    answer = refused(server, provider, role, idp.response(response))
    assert answer["Error"]["Code"] == "ExpiredTokenException"
    assert answer["Error"]["Message"] == "Response has expired"
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_role_not_in_the_response_is_refused(
    server: Server, idp: IdP, federation: tuple[str, str]
) -> None:
    provider, role = federation
    response = idp.new(role, provider)
    response.roles = [f"arn:aws:iam::{ACCOUNT}:role/someone-else,{provider}"]
    answer = refused(server, provider, role, idp.response(response))
    assert answer["Error"]["Code"] == "AccessDenied"
    assert answer["Error"]["Message"] == "Not authorized to perform sts:AssumeRoleWithSAML"
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_aws_cli_assume_role_with_saml(
    server: Server, idp: IdP, federation: tuple[str, str]
) -> None:
    provider, role = federation
    saml = idp.response(idp.new(role, provider))
    out = server.aws(
        "sts",
        "assume-role-with-saml",
        "--role-arn",
        role,
        "--principal-arn",
        provider,
        "--saml-assertion",
        saml,
        "--no-sign-request",
    )
    assert out["AssumedRoleUser"]["Arn"].endswith("/alice")
