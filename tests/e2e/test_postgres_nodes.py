"""Two stateless Chamberlain nodes sharing one PostgreSQL database: what one writes the
other serves, and a session issued by one is accepted by the other (no shared memory:
the session token carries the session, sealed under the operators' shared key). The
bounds on guessing passwords and MFA codes are shared by both nodes and survive a
restart (the counters are in the database)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from botocore.exceptions import ClientError

from chamberlain.crypto.totp import code_at, step_at

from .conftest import Server, free_port, run_cli, start_server

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
#: The nodes' environment (their schema), for restarting one.
NODE_ENV: dict[str, str] = {}
LOCKED = ("LimitExceeded", "Attempt limit exceeded, please try after some time.")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    schema = f"chamberlain_e2e_{uuid.uuid4().hex[:10]}"
    env = {"CHAMBERLAIN_DATABASE_SCHEMA": schema}
    NODE_ENV.update(env)
    base = tmp_path_factory.mktemp("pg")
    first_dir, second_dir, creds = base / "a", base / "b", base / "credentials"
    done = run_cli(
        "init",
        "--data-dir",
        str(first_dir),
        "--account-id",
        "333333333333",
        "--admin-user",
        "admin",
        "--credentials-file",
        str(creds),
        "--profile",
        "admin",
        "--database-url",
        PG_URL,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    second_dir.mkdir(mode=0o700)
    shutil.copy(first_dir / "secrets.key", second_dir / "secrets.key")  # the operator's key
    servers = []
    try:
        for data_dir in (first_dir, second_dir):
            port = free_port()
            log = data_dir / "server.log"
            process = start_server(data_dir, port, log, extra=("--database-url", PG_URL), env=env)
            servers.append(Server(f"http://127.0.0.1:{port}", data_dir, creds, process, log))
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.process.terminate()
            server.process.wait(timeout=10)
        engine = sqlalchemy.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


def test_writes_on_one_node_are_served_by_the_other(nodes: tuple[Server, Server]) -> None:
    first, second = nodes
    first.client("iam").create_user(UserName="shared")
    assert second.client("iam").get_user(UserName="shared")["User"]["UserName"] == "shared"
    key = second.client("iam").create_access_key(UserName="shared")["AccessKey"]
    me = first.client_with_keys("sts", key["AccessKeyId"], key["SecretAccessKey"])
    assert me.get_caller_identity()["Arn"].endswith(":user/shared")


def test_session_from_one_node_works_on_the_other(nodes: tuple[Server, Server]) -> None:
    first, second = nodes
    iam = first.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::333333333333:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps(trust))
    creds = first.client("sts").assume_role(
        RoleArn="arn:aws:iam::333333333333:role/reader", RoleSessionName="n1"
    )["Credentials"]
    sts = second.client_with_keys(
        "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    )
    assert sts.get_caller_identity()["Arn"].endswith(":assumed-role/reader/n1")


def test_nodes_do_not_share_a_data_directory(nodes: tuple[Server, Server]) -> None:
    first, second = nodes
    assert not (Path(second.data_dir) / "chamberlain.db").exists()
    assert not (Path(first.data_dir) / "chamberlain.db").exists()


def restart(server: Server) -> None:
    server.process.terminate()
    server.process.wait(timeout=30)
    port = int(server.endpoint.rsplit(":", 1)[1])
    server.process = start_server(
        server.data_dir, port, server.log, extra=("--database-url", PG_URL), env=NODE_ENV
    )


def user_keys(server: Server, name: str, actions: list[str]) -> tuple[str, str]:
    iam = server.client("iam")
    iam.create_user(UserName=name)
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="self", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def refused(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as excinfo:
        call(**params)
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def test_password_guesses_are_bounded_across_nodes_and_restarts(
    nodes: tuple[Server, Server],
) -> None:
    """Five wrong old passwords, spread over both nodes, lock the user for 30 s on both;
    the lock holds when a node restarts. Even the right password is refused meanwhile."""
    first, second = nodes
    good, new = "Vq7#Lm2pXz9!", "Hs4$Kd8wPn3@"
    key = user_keys(first, "guesser", ["iam:ChangePassword"])
    first.client("iam").create_login_profile(UserName="guesser", Password=good)
    clients = [node.client_with_keys("iam", *key) for node in (first, second)]
    for n in range(5):
        code, message = refused(
            clients[n % 2].change_password, OldPassword=f"Wrong-{n}-guess!", NewPassword=new
        )
        assert (code, message) == ("InvalidUserType", "The old password is incorrect.")
    for client in clients:
        assert refused(client.change_password, OldPassword=good, NewPassword=new) == LOCKED
    restart(first)
    again = first.client_with_keys("iam", *key)
    assert refused(again.change_password, OldPassword=good, NewPassword=new) == LOCKED


def test_mfa_guesses_are_bounded_across_nodes_and_paths(nodes: tuple[Server, Server]) -> None:
    """Wrong codes to GetSessionToken on one node and wrong pairs to ResyncMFADevice on the
    other share one counter: the device is then locked on both, for a right pair and a
    right code alike, and stays locked across a restart."""
    first, second = nodes
    key = user_keys(first, "mfa-guesser", ["iam:ResyncMFADevice"])
    admin = first.client("iam")
    device = admin.create_virtual_mfa_device(VirtualMFADeviceName="guessed")["VirtualMFADevice"]
    serial, seed = device["SerialNumber"], device["Base32StringSeed"].decode("ascii")
    step = step_at(dt.datetime.now(dt.UTC))
    admin.enable_mfa_device(
        UserName="mfa-guesser",
        SerialNumber=serial,
        AuthenticationCode1=code_at(seed, step - 1),
        AuthenticationCode2=code_at(seed, step),
    )
    near = {code_at(seed, step + k) for k in range(-3, 6)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in near)
    sts = second.client_with_keys("sts", *key)
    for _ in range(2):
        code, message = refused(sts.get_session_token, SerialNumber=serial, TokenCode=wrong)
        assert (code, message) == (
            "AccessDenied",
            "MultiFactorAuthentication failed with invalid MFA one time pass code.",
        )
    iam = first.client_with_keys("iam", *key)
    pair = {"AuthenticationCode1": wrong, "AuthenticationCode2": wrong}
    for _ in range(3):
        code, _ = refused(
            iam.resync_mfa_device, UserName="mfa-guesser", SerialNumber=serial, **pair
        )
        assert code == "InvalidAuthenticationCode"
    now = step_at(dt.datetime.now(dt.UTC))
    right = {
        "AuthenticationCode1": code_at(seed, now),
        "AuthenticationCode2": code_at(seed, now + 1),
    }
    locked = refused(second.client_with_keys("iam", *key).resync_mfa_device,
                     UserName="mfa-guesser", SerialNumber=serial, **right)  # fmt: skip
    assert locked == LOCKED
    assert (
        refused(sts.get_session_token, SerialNumber=serial, TokenCode=code_at(seed, now + 1))[0]
        == "AccessDenied"
    )
    restart(second)
    sts = second.client_with_keys("sts", *key)
    assert (
        refused(sts.get_session_token, SerialNumber=serial, TokenCode=code_at(seed, now + 1))[0]
        == "AccessDenied"
    )
