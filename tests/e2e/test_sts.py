"""STS over the wire: AssumeRole from boto3 and from aws CLI profiles (role_arn +
source_profile, external_id, mfa_serial answered at the CLI's prompt), GetSessionToken
with MFA, and refused tokens."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import select
import sys
import uuid
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from chamberlain.crypto.totp import code_at, step_at

from .conftest import ACCOUNT, Server

ALLOW_LIST = {"Effect": "Allow", "Action": ["iam:ListUsers", "iam:ListRoles"], "Resource": "*"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_role(server: Server, condition: dict | None = None) -> str:
    iam = server.client("iam")
    name = unique("role")
    statement: dict = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    trust = {"Version": "2012-10-17", "Statement": [statement]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    policy = {"Version": "2012-10-17", "Statement": [ALLOW_LIST]}
    iam.put_role_policy(RoleName=name, PolicyName="list", PolicyDocument=json.dumps(policy))
    return arn


def session_client(server: Server, service: str, credentials: dict):
    import boto3

    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def test_assume_role_with_boto3(server: Server) -> None:
    role_arn = make_role(server)
    role_name = role_arn.rsplit("/", 1)[1]
    out = server.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="ci")
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/ci"
    me = session_client(server, "sts", creds).get_caller_identity()
    assert me["Arn"] == out["AssumedRoleUser"]["Arn"]
    iam = session_client(server, "iam", creds)
    assert iam.list_users()["Users"]
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName=unique("nope"))
    error = exc.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert error["Message"].startswith(
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/ci is not authorized"
    )
    tampered = dict(creds, SessionToken=creds["SessionToken"][:-4] + "AAAA")
    with pytest.raises(ClientError) as exc:
        session_client(server, "sts", tampered).get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"


def write_config(tmp_path: Path, server: Server, profiles: dict[str, dict[str, str]]) -> Path:
    lines = []
    for name, values in profiles.items():
        lines.append(f"[profile {name}]")
        lines += [f"{k} = {v}" for k, v in {"region": "us-east-1", **values}.items()]
        lines.append("")
    path = tmp_path / "config"
    path.write_text("\n".join(lines))
    return path


def test_cli_profile_with_role_and_external_id(server: Server, tmp_path: Path) -> None:
    role_arn = make_role(server, {"StringEquals": {"sts:ExternalId": "ticket-42"}})
    config = write_config(
        tmp_path,
        server,
        {
            "good": {"role_arn": role_arn, "source_profile": "admin", "external_id": "ticket-42"},
            "bad": {"role_arn": role_arn, "source_profile": "admin", "external_id": "guess"},
        },
    )
    os.environ["AWS_ENDPOINT_URL_STS"] = server.endpoint
    try:
        me = server.aws("sts", "get-caller-identity", profile="good", config_file=config)
        assert ":assumed-role/" in me["Arn"]
        failed = server.aws(
            "sts", "get-caller-identity", profile="bad", config_file=config, check=False
        )
        assert failed.returncode != 0
        assert "AccessDenied" in failed.stderr
    finally:
        del os.environ["AWS_ENDPOINT_URL_STS"]


def enable_mfa(server: Server, user: str) -> tuple[str, str, int]:
    iam = server.client("iam")
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("mfa"))["VirtualMFADevice"]
    seed = device["Base32StringSeed"].decode()
    step = step_at(dt.datetime.now(dt.UTC))
    iam.enable_mfa_device(
        UserName=user,
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=code_at(seed, step - 1),
        AuthenticationCode2=code_at(seed, step),
    )
    return device["SerialNumber"], seed, step


def run_with_tty(args: list[str], env: dict[str, str], answer: str) -> tuple[int, str]:
    """Run a command on a pseudo-terminal, answer its first prompt, return (status, output)."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execvpe(args[0], args, env)
    output, answered = b"", False
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if not answered and b"MFA code" in output:
            os.write(fd, answer.encode() + b"\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_cli_profile_with_mfa_prompt(server: Server, tmp_path: Path) -> None:
    iam = server.client("iam")
    user = unique("mfauser")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    server.credentials.write_text(
        server.credentials.read_text()
        + f"\n[{user}]\naws_access_key_id = {key['AccessKeyId']}\n"
        + f"aws_secret_access_key = {key['SecretAccessKey']}\n"
    )
    serial, seed, step = enable_mfa(server, user)
    role_arn = make_role(server, {"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    iam.put_user_policy(
        UserName=user,
        PolicyName="assume",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}
                ],
            }
        ),
    )
    config = write_config(
        tmp_path,
        server,
        {
            "withmfa": {"role_arn": role_arn, "source_profile": user, "mfa_serial": serial},
        },
    )
    env = server.aws_env("withmfa", config) | {"AWS_ENDPOINT_URL_STS": server.endpoint}
    args = [
        sys.executable,
        "-m",
        "awscli",
        "--endpoint-url",
        server.endpoint,
        "--output",
        "json",
        "sts",
        "get-caller-identity",
    ]
    status, output = run_with_tty(args, env, code_at(seed, step + 1))
    assert status == 0, output
    assert ":assumed-role/" in output
    # Without MFA the trust policy refuses the same user.
    plain = server.client_with_keys("sts", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        plain.assume_role(RoleArn=role_arn, RoleSessionName="xx")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_get_session_token_with_mfa_and_replay(server: Server) -> None:
    serial, seed, step = enable_mfa(server, "admin")
    sts = server.client("sts")
    code = code_at(seed, step + 1)
    creds = sts.get_session_token(SerialNumber=serial, TokenCode=code, DurationSeconds=900)[
        "Credentials"
    ]
    assert session_client(server, "sts", creds).get_caller_identity()["Arn"].endswith(":user/admin")
    with pytest.raises(ClientError) as exc:  # the same code again: replay
        sts.get_session_token(SerialNumber=serial, TokenCode=code)
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    unchecked = server.session("admin").client(
        "sts", endpoint_url=server.endpoint, config=Config(parameter_validation=False)
    )
    with pytest.raises(ClientError) as exc:  # the server checks too, not only botocore
        unchecked.get_session_token(DurationSeconds=100)
    assert exc.value.response["Error"]["Code"] == "ValidationError"
    # Clean up: admin's MFA device would make later tests need MFA for nothing, but keep it
    # deactivated so other tests are not affected.
    server.client("iam").deactivate_mfa_device(UserName="admin", SerialNumber=serial)


def test_attribute_based_role_assumption(server: Server) -> None:
    """AWS's ABAC pattern over the wire: a user may assume the roles whose team tag equals
    their own (iam:ResourceTag/team against ${aws:PrincipalTag/team}; AWS's ABAC tutorial,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/tutorial_attribute-based-access-control.html).
    The simulator, given the role's tag as a context entry, answers the same."""
    iam = server.client("iam")
    user = unique("abac")
    iam.create_user(UserName=user, Tags=[{"Key": "team", "Value": "blue"}])
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::{ACCOUNT}:role/*",
                "Condition": {"StringEquals": {"iam:ResourceTag/team": "${aws:PrincipalTag/team}"}},
            }
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="abac", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    blue, red = make_role(server), make_role(server)
    iam.tag_role(RoleName=blue.rsplit("/", 1)[1], Tags=[{"Key": "team", "Value": "blue"}])
    iam.tag_role(RoleName=red.rsplit("/", 1)[1], Tags=[{"Key": "team", "Value": "red"}])
    sts = server.client_with_keys("sts", key["AccessKeyId"], key["SecretAccessKey"])
    assumed = sts.assume_role(RoleArn=blue, RoleSessionName="abac")
    assert assumed["AssumedRoleUser"]["Arn"].endswith("/abac")
    with pytest.raises(ClientError) as denied:
        sts.assume_role(RoleArn=red, RoleSessionName="abac")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{user}"
    for role, team, decision in ((blue, "blue", "allowed"), (red, "red", "implicitDeny")):
        result = iam.simulate_principal_policy(
            PolicySourceArn=user_arn,
            ActionNames=["sts:AssumeRole"],
            ResourceArns=[role],
            ContextEntries=[
                {
                    "ContextKeyName": "iam:ResourceTag/team",
                    "ContextKeyValues": [team],
                    "ContextKeyType": "string",
                },
                {
                    "ContextKeyName": "aws:PrincipalTag/team",
                    "ContextKeyValues": ["blue"],
                    "ContextKeyType": "string",
                },
            ],
        )["EvaluationResults"][0]
        assert result["EvalDecision"] == decision, result
