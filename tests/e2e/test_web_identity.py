"""AssumeRoleWithWebIdentity over the wire: a real Chamberlain server, a local OpenID
Connect issuer (discovery + JWKS on 127.0.0.1, an RSA key generated here), the provider
registered and a role created with boto3, tokens exchanged with boto3 (unsigned) and by
the aws CLI's web-identity profile, and AWS's errors for bad tokens.

The issuer is plain http, which the session's `server` allows (conftest.py starts it
with CHAMBERLAIN_OIDC_ALLOW_HTTP=1).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, Server
from .oidc_issuer import Issuer, SigningKey

CLIENT = "sts.amazonaws.com"
SUBJECT = "system:serviceaccount:default:app"
LIST_ROLES = {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with Issuer() as running:
        yield running


@pytest.fixture(scope="module")
def role_arn(server: Server, issuer: Issuer) -> str:
    iam = server.client("iam")
    provider = iam.create_open_id_connect_provider(
        Url=issuer.provider_url, ClientIDList=[CLIENT], ThumbprintList=[]
    )["OpenIDConnectProviderArn"]
    assert provider == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer.host_path}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{issuer.host_path}:sub": SUBJECT,
                        f"{issuer.host_path}:aud": CLIENT,
                    }
                },
            }
        ],
    }
    name = f"web-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    policy = {"Version": "2012-10-17", "Statement": [LIST_ROLES]}
    iam.put_role_policy(RoleName=name, PolicyName="list", PolicyDocument=json.dumps(policy))
    return str(role["Arn"])


def anonymous_sts(server: Server) -> Any:
    """An STS client without any AWS credentials, as an application holding only a token."""
    return boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )


def session_client(server: Server, service: str, credentials: dict) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def exchange(server: Server, role_arn: str, token: str) -> dict:
    return anonymous_sts(server).assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName="e2e", WebIdentityToken=token
    )


def refused(server: Server, role_arn: str, token: str) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as exc:
        exchange(server, role_arn, token)
    response = exc.value.response
    assert "Credentials" not in response
    error = response["Error"]
    return error["Code"], error["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_exchange_a_token_and_use_the_credentials(
    server: Server, issuer: Issuer, role_arn: str
) -> None:
    out = exchange(server, role_arn, issuer.mint(sub=SUBJECT, aud=CLIENT))
    role_name = role_arn.rsplit("/", 1)[1]
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/e2e"
    assert out["AssumedRoleUser"]["Arn"] == session_arn
    assert out["SubjectFromWebIdentityToken"] == SUBJECT
    assert out["Audience"] == CLIENT
    assert out["Provider"] == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer.host_path}"
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["Expiration"] > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=55)

    assert session_client(server, "sts", creds).get_caller_identity()["Arn"] == session_arn
    iam = session_client(server, "iam", creds)
    assert any(r["Arn"] == role_arn for r in iam.list_roles()["Roles"])
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName=f"nope-{uuid.uuid4().hex[:6]}")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    last = server.client("iam").get_role(RoleName=role_name)["Role"]["RoleLastUsed"]
    assert "LastUsedDate" in last


def test_aws_cli_web_identity_profile(
    server: Server, issuer: Issuer, role_arn: str, tmp_path: Path
) -> None:
    """botocore's web-identity credential provider (what EKS pods use) against us."""
    token_file = tmp_path / "token"
    token_file.write_text(issuer.mint(sub=SUBJECT, aud=CLIENT))
    config = tmp_path / "config"
    config.write_text(
        f"[profile web]\nregion = us-east-1\nrole_arn = {role_arn}\n"
        f"web_identity_token_file = {token_file}\nrole_session_name = cli\n"
    )
    env = server.aws_env("web", config) | {"AWS_ENDPOINT_URL_STS": server.endpoint}
    command = ["sts", "get-caller-identity", "--output", "json"]
    done = subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", server.endpoint, *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Arn"].endswith(f"/{role_arn.rsplit('/', 1)[1]}/cli")


def test_wrong_signature(server: Server, issuer: Issuer, role_arn: str) -> None:
    forger = SigningKey.generate(kid=issuer.keys[0].kid)
    token = issuer.mint(sub=SUBJECT, aud=CLIENT, key=forger)
    code, _, status = refused(server, role_arn, token)
    assert (code, status) == ("InvalidIdentityToken", 400)


def test_wrong_audience(server: Server, issuer: Issuer, role_arn: str) -> None:
    token = issuer.mint(sub=SUBJECT, aud="someone-else")
    assert refused(server, role_arn, token) == (
        "InvalidIdentityToken",
        "Incorrect token audience",
        400,
    )


def test_wrong_issuer(server: Server, role_arn: str) -> None:
    with Issuer() as stranger:
        token = stranger.mint(sub=SUBJECT, aud=CLIENT)
        assert refused(server, role_arn, token) == (
            "InvalidIdentityToken",
            f"No OpenIDConnect provider found in your account for {stranger.url}",
            400,
        )
        assert stranger.hits == {}


def test_expired_token(server: Server, issuer: Issuer, role_arn: str) -> None:
    issued = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    token = issuer.mint(sub=SUBJECT, aud=CLIENT, now=issued)
    code, message, status = refused(server, role_arn, token)
    assert (code, status) == ("ExpiredTokenException", 400)
    expires = int((issued + dt.timedelta(hours=1)).timestamp())
    assert message.startswith("Token expired: current date/time ")
    assert message.endswith(f" must be before the expiration date/time {expires}")


def test_trust_policy_condition(server: Server, issuer: Issuer, role_arn: str) -> None:
    token = issuer.mint(sub="system:serviceaccount:default:other", aud=CLIENT)
    assert refused(server, role_arn, token) == (
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        403,
    )
