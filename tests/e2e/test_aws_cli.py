"""The unmodified aws CLI against the server, and `chamberlain account create` while it runs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from .conftest import OTHER_ACCOUNT, Server, run_cli


def test_cli_user_and_policy_commands(server: Server) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    created = server.aws("iam", "create-user", "--user-name", name)
    assert created["User"]["UserName"] == name
    listed = server.aws("iam", "list-users")
    assert name in [u["UserName"] for u in listed["Users"]]
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
        }
    )
    server.aws(
        "iam",
        "put-user-policy",
        "--user-name",
        name,
        "--policy-name",
        "p",
        "--policy-document",
        document,
    )
    got = server.aws("iam", "get-user-policy", "--user-name", name, "--policy-name", "p")
    assert got["PolicyDocument"] == json.loads(document)
    me = server.aws("sts", "get-caller-identity")
    assert me["Arn"].endswith(":user/admin")


def test_cli_reports_aws_errors(server: Server) -> None:
    done = server.aws("iam", "get-user", "--user-name", "nobody-here", check=False)
    assert done.returncode != 0
    assert "NoSuchEntity" in done.stderr
    assert "nobody-here" in done.stderr


def test_account_create_while_serving(server: Server) -> None:
    done = run_cli(
        "account",
        "create",
        "--data-dir",
        str(server.data_dir),
        "--account-id",
        OTHER_ACCOUNT,
        "--admin-user",
        "boss",
        "--credentials-file",
        str(server.credentials),
        "--profile",
        "other",
    )
    assert done.returncode == 0, done.stderr
    other = server.client("iam", profile="other")
    assert other.get_user()["User"]["Arn"] == f"arn:aws:iam::{OTHER_ACCOUNT}:user/boss"
    # Accounts are separate: the other account's admin sees only its own users.
    names = {u["UserName"] for u in other.list_users()["Users"]}
    assert names == {"boss"}


@pytest.mark.parametrize(
    ("problem", "account"),
    [("parent is a file", "333333333333"), ("malformed file", "444444444444")],
)
def test_account_create_leaves_nothing_when_credentials_cannot_be_written(
    server: Server, tmp_path: Path, problem: str, account: str
) -> None:
    """The credentials file is checked before the account is created: the command fails
    with a clear message and the account id stays free."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    bad = blocker / "credentials"
    if problem == "malformed file":
        bad = tmp_path / "credentials"
        bad.write_text("aws_access_key_id = outside any section\n")
    args = ["account", "create", "--data-dir", str(server.data_dir), "--account-id",
            account, "--admin-user", "boss", "--profile", "third"]  # fmt: skip
    done = run_cli(*args, "--credentials-file", str(bad))
    assert done.returncode == 1
    assert f"cannot write credentials file {bad}" in done.stderr
    assert "password" not in done.stdout  # no account, so no root password to show
    good = tmp_path / "good-credentials"
    done = run_cli(*args, "--credentials-file", str(good))
    assert done.returncode == 0, done.stderr
    assert "[third]" in good.read_text()
