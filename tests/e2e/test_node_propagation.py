"""Three nodes on one PostgreSQL database, each caching keys and compiled policies: a key
deactivated, a policy detached or a session revoked on node A is refused on nodes B and
C within 1 s (measured: every node checks its account's generation, bumped in the same
transaction as the change, on every request)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy
from botocore.exceptions import ClientError

from .conftest import Server, free_port, run_cli, start_server

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
ACCOUNT = "444444444444"
BOUND_S = 1.0
READ_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}],
    }
)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    schema = f"chamberlain_e2e_{uuid.uuid4().hex[:10]}"
    env = {"CHAMBERLAIN_DATABASE_SCHEMA": schema}
    base = tmp_path_factory.mktemp("pg3")
    dirs, creds = [base / n for n in "abc"], base / "credentials"
    done = run_cli(
        "init", "--data-dir", str(dirs[0]), "--account-id", ACCOUNT, "--admin-user", "admin",
        "--credentials-file", str(creds), "--profile", "admin", "--database-url", PG_URL,
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for other in dirs[1:]:
        other.mkdir(mode=0o700)
        shutil.copy(dirs[0] / "secrets.key", other / "secrets.key")
    servers: list[Server] = []
    try:
        for data_dir in dirs:
            port = free_port()
            log = data_dir / "server.log"
            process = start_server(data_dir, port, log, extra=("--database-url", PG_URL), env=env)
            servers.append(Server(f"http://127.0.0.1:{port}", data_dir, creds, process, log))
        yield servers
    finally:
        for server in servers:
            server.process.terminate()
            server.process.wait(timeout=10)
        engine = sqlalchemy.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


def _refused_within(call: Callable[[], object], codes: set[str]) -> float:
    """Seconds until `call` fails with one of `codes` (polling every 10 ms, up to 3 s)."""
    start = time.monotonic()
    while time.monotonic() - start < 3 * BOUND_S:
        try:
            call()
        except ClientError as exc:
            assert exc.response["Error"]["Code"] in codes, exc.response
            return time.monotonic() - start
        time.sleep(0.01)
    raise AssertionError(f"still allowed after {3 * BOUND_S} s")


def _user_with_key(admin: Server, name: str) -> dict[str, str]:
    iam = admin.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=READ_POLICY)
    key: dict[str, str] = iam.create_access_key(UserName=name)["AccessKey"]
    return key


def test_deactivated_key_is_refused_on_the_other_nodes(nodes: list[Server]) -> None:
    a, b, c = nodes
    key = _user_with_key(a, "deactivated")
    others = [n.client_with_keys("iam", key["AccessKeyId"], key["SecretAccessKey"]) for n in (b, c)]
    for iam in others:  # warm every node's caches
        iam.get_user(UserName="deactivated")
    a.client("iam").update_access_key(
        UserName="deactivated", AccessKeyId=key["AccessKeyId"], Status="Inactive"
    )
    for iam in others:
        took = _refused_within(lambda i=iam: i.get_user(UserName="deactivated"),
                               {"InvalidClientTokenId"})  # fmt: skip
        print(f"key deactivation propagated in {took * 1000:.0f} ms")
        assert took < BOUND_S


def test_detached_policy_is_refused_on_the_other_nodes(nodes: list[Server]) -> None:
    a, b, c = nodes
    iam = a.client("iam")
    arn = iam.create_policy(PolicyName="reader", PolicyDocument=READ_POLICY)["Policy"]["Arn"]
    key = _user_with_key(a, "detached")
    iam.delete_user_policy(UserName="detached", PolicyName="read")
    iam.attach_user_policy(UserName="detached", PolicyArn=arn)
    others = [n.client_with_keys("iam", key["AccessKeyId"], key["SecretAccessKey"]) for n in (b, c)]
    for client in others:
        client.get_user(UserName="detached")
    iam.detach_user_policy(UserName="detached", PolicyArn=arn)
    for client in others:
        took = _refused_within(lambda i=client: i.get_user(UserName="detached"), {"AccessDenied"})
        print(f"policy detachment propagated in {took * 1000:.0f} ms")
        assert took < BOUND_S


def test_revoked_session_is_refused_on_the_other_nodes(nodes: list[Server]) -> None:
    """Revoking a role's sessions as the IAM console does: an inline policy denying
    everything to sessions issued before now (AWSRevokeOldSessions,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html)."""
    a, b, c = nodes
    iam = a.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                       "Action": "sts:AssumeRole"}],
    }  # fmt: skip
    iam.create_role(RoleName="revoked", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="revoked", PolicyName="read", PolicyDocument=READ_POLICY)
    creds = a.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/revoked", RoleSessionName="s1"
    )["Credentials"]
    others = [
        n.client_with_keys(
            "iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
        )
        for n in (b, c)
    ]
    for client in others:
        client.get_user(UserName="admin")
    cutoff = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    revoke = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
                       "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}}],
    }  # fmt: skip
    iam.put_role_policy(
        RoleName="revoked", PolicyName="AWSRevokeOldSessions", PolicyDocument=json.dumps(revoke)
    )
    for client in others:
        took = _refused_within(lambda i=client: i.get_user(UserName="admin"), {"AccessDenied"})
        print(f"session revocation propagated in {took * 1000:.0f} ms")
        assert took < BOUND_S
