"""`chamberlain agent` end to end: a host user's key in a file only the agent reads, an
instance profile's role trusting that user, and applications whose boto3 has no keys at
all getting the role's credentials through IMDSv2 and the container provider, across a
credential rotation (the agent is told to refresh ~10 s after each fetch)."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import ACCOUNT, Server, free_port

SESSION = "web-1"

#: Run in a clean environment: builds boto3 sessions with no keys, calls STS and IAM as
#: the role, waits until a new session sees a new access key, then calls again with the
#: first (long-lived) client and with the new session. Prints one JSON line.
CLIENT = r"""
import json, sys, time
import boto3

endpoint = sys.argv[1]

def clients():
    session = boto3.Session(region_name="us-east-1")
    return session, session.client("sts", endpoint_url=endpoint), session.client(
        "iam", endpoint_url=endpoint)

def key(session):
    return session.get_credentials().get_frozen_credentials().access_key

first, sts, iam = clients()
out = {"arn": sts.get_caller_identity()["Arn"], "users": len(iam.list_users()["Users"]),
       "key1": key(first)}
deadline = time.monotonic() + 25
while time.monotonic() < deadline:
    later, sts2, _ = clients()
    out["key2"] = key(later)
    if out["key2"] != out["key1"]:
        break
    time.sleep(0.5)
out["arn_after"] = sts.get_caller_identity()["Arn"]
out["users_after"] = len(iam.list_users()["Users"])
out["first_key_after"] = key(first)
out["arn_new_session"] = sts2.get_caller_identity()["Arn"]
print(json.dumps(out))
"""


@dataclass
class Agent:
    base: str
    token_file: Path
    role: str
    process: subprocess.Popen[bytes]
    log: Path


def _allow(action: str, resource: str) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _start(args: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "chamberlain.cli", "agent", *args, "--port", str(port)],
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"agent exited: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"agent did not start: {log.read_text()}")


@pytest.fixture(scope="module")
def agent(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    base = tmp_path_factory.mktemp("agent")
    iam = server.client("iam")
    suffix = uuid.uuid4().hex[:8]
    host_user, role, profile = f"web-1-{suffix}", f"app-{suffix}", f"web-{suffix}"
    iam.create_user(UserName=host_user, Path="/hosts/")
    key = iam.create_access_key(UserName=host_user)["AccessKey"]
    trust = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/hosts/{host_user}"},
        "Action": "sts:AssumeRole",
    }
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=_policy(trust))["Role"][
        "Arn"
    ]
    iam.put_role_policy(
        RoleName=role, PolicyName="list", PolicyDocument=_policy(_allow("iam:ListUsers", "*"))
    )
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    profile_arn = f"arn:aws:iam::{ACCOUNT}:instance-profile/{profile}"
    iam.put_user_policy(
        UserName=host_user,
        PolicyName="agent",
        PolicyDocument=_policy(
            _allow("iam:GetInstanceProfile", profile_arn), _allow("sts:AssumeRole", role_arn)
        ),
    )
    credentials = base / "host-credentials"
    # The host user's key: in a file only the agent reads.
    credentials.write_text(
        f"[host]\naws_access_key_id = {key['AccessKeyId']}\n"
        f"aws_secret_access_key = {key['SecretAccessKey']}\n"
    )
    token_file, log, port = base / "token", base / "agent.log", free_port()
    args = [
        "--endpoint-url",
        server.endpoint,
        "--instance-profile",
        profile,
        "--credentials-file",
        str(credentials),
        "--profile",
        "host",
        "--session-name",
        SESSION,
        "--duration-seconds",
        "900",
        "--refresh-before",
        "890",
        "--token-file",
        str(token_file),
    ]
    process = _start(args, port, log)
    yield Agent(f"http://127.0.0.1:{port}", token_file, role, process, log)
    process.terminate()
    process.wait(timeout=10)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return env | {
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1",
        **extra,
    }


def _client(server: Server, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CLIENT, server.endpoint],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(process: subprocess.Popen[str]) -> dict:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return json.loads(out)


def _imds_get(agent: Agent, path: str, token: str | None) -> tuple[int, str]:
    headers = {"X-aws-ec2-metadata-token": token} if token else {}
    request = urllib.request.Request(agent.base + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_sdks_without_keys_get_the_role_and_follow_rotation(server: Server, agent: Agent) -> None:
    assert stat.S_IMODE(agent.token_file.stat().st_mode) == 0o600
    imds = _client(server, _clean_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=agent.base))
    container = _client(
        server,
        _clean_env(
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONTAINER_CREDENTIALS_FULL_URI=f"{agent.base}/v1/credentials",
            AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(agent.token_file),
        ),
    )
    role_session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{agent.role}/{SESSION}"
    results = {"imds": _result(imds), "container": _result(container)}
    for result in results.values():
        assert result["arn"] == role_session
        assert result["users"] >= 1
        assert result["key1"].startswith("ASIA")
        assert result["key2"] != result["key1"], "the agent did not rotate the credentials"
        assert result["arn_after"] == role_session  # the long-lived client still works
        assert result["users_after"] >= 1
        assert result["arn_new_session"] == role_session
    # The container provider re-reads 15-minute credentials on every call, so the
    # long-lived client moved to the new key; botocore's IMDS provider keeps its own.
    container_result = results["container"]
    assert container_result["first_key_after"] != container_result["key1"]


def test_imds_requires_a_token_and_refuses_proxies(agent: Agent) -> None:
    assert _imds_get(agent, "/latest/meta-data/iam/security-credentials/", None)[0] == 401
    put = urllib.request.Request(
        agent.base + "/latest/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
    )
    with urllib.request.urlopen(put, timeout=5) as response:
        token = response.read().decode()
    status, role = _imds_get(agent, "/latest/meta-data/iam/security-credentials/", token)
    assert (status, role) == (200, agent.role)
    status, body = _imds_get(agent, "/latest/meta-data/iam/info", token)
    info = json.loads(body)
    assert info["Code"] == "Success"
    assert info["InstanceProfileArn"].startswith(f"arn:aws:iam::{ACCOUNT}:instance-profile/")
    assert info["InstanceProfileId"].startswith("AIPA")
    forwarded = urllib.request.Request(
        agent.base + "/latest/meta-data/iam/info",
        headers={"X-aws-ec2-metadata-token": token, "X-Forwarded-For": "10.0.0.1"},
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(forwarded, timeout=5)
    assert exc.value.code == 403
    wrong = urllib.request.Request(
        agent.base + "/v1/credentials", headers={"Authorization": "not-the-token"}
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(wrong, timeout=5)
    assert exc.value.code == 401


def test_agent_refuses_to_start_without_the_role(server: Server, agent: Agent) -> None:
    """The first fetch happens before the port opens: an instance profile the host user may
    not read (or a role that does not trust it) stops the agent with the server's error."""
    args = [a for a in agent.process.args if isinstance(a, str)]  # type: ignore[union-attr]
    profile = args.index("--instance-profile") + 1
    args[profile] = "no-such-profile"
    args[args.index("--port") + 1] = str(free_port())
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "(AccessDenied) when calling the GetInstanceProfile operation" in done.stderr
    assert "not authorized to perform: iam:GetInstanceProfile" in done.stderr
