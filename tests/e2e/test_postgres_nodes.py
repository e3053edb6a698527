"""Two stateless Chamberlain nodes sharing one PostgreSQL database: what one writes the
other serves, and a session issued by one is accepted by the other (no shared memory:
the session token carries the session, sealed under the operators' shared key)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from .conftest import Server, free_port, run_cli, start_server

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    schema = f"chamberlain_e2e_{uuid.uuid4().hex[:10]}"
    env = {"CHAMBERLAIN_DATABASE_SCHEMA": schema}
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
