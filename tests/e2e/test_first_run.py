"""`chamberlain serve` on a fresh data directory: the README's first run.

Only a true first run (no key file, no accounts) makes an account; a restart, or a data
directory whose store is empty but whose key file exists, must not grow another one.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .conftest import Server, free_port, start_server


def _serve(data_dir: Path, log: Path, env: dict[str, str] | None = None) -> Server:
    port = free_port()
    process = start_server(data_dir, port, log, extra=("--init-if-missing",), env=env)
    return Server(f"http://127.0.0.1:{port}", data_dir, data_dir / "credentials", process, log)


def _stop(server: Server) -> str:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    return server.log.read_text()


def test_first_serve_makes_an_account_and_a_restart_does_not(tmp_path: Path):
    data_dir = tmp_path / "data"
    server = _serve(data_dir, tmp_path / "first.log")
    try:
        me = server.client("iam", profile="chamberlain").get_user()["User"]
        assert me["UserName"] == "admin"
        groups = server.client("iam", profile="chamberlain").list_groups_for_user(UserName="admin")[
            "Groups"
        ]
        assert [g["GroupName"] for g in groups] == ["Administrators"]
    finally:
        first = _stop(server)
    account = me["Arn"].split(":")[4]
    assert f"new account {account}" in first
    ready = f"ready on {server.endpoint} (data directory {data_dir.resolve()}, SQLite)"
    assert ready in first
    assert re.search(r"root user password \(shown once, store it safely\): \S{20,}", first)
    credentials = (data_dir / "credentials").read_text()

    server = _serve(data_dir, tmp_path / "second.log")
    try:
        again = server.client("iam", profile="chamberlain").get_user()["User"]
    finally:
        second = _stop(server)
    assert again["Arn"] == me["Arn"]
    assert "new account" not in second and "password" not in second
    assert (data_dir / "credentials").read_text() == credentials


def test_a_given_root_password_is_not_printed(tmp_path: Path):
    password = "a Long enough passw0rd! for root"
    server = _serve(tmp_path / "data", tmp_path / "log", {"CHAMBERLAIN_ROOT_PASSWORD": password})
    try:
        assert server.client("sts", profile="chamberlain").get_caller_identity()["Arn"]
    finally:
        log = _stop(server)
    assert "new account" in log
    assert password not in log and "root user password" not in log


def test_an_initialized_data_dir_with_an_empty_store_gets_no_account(tmp_path: Path):
    """The key file is there (a node joining, or a store that was emptied): no account,
    no administrator keys appear."""
    data_dir = tmp_path / "data"
    _stop(_serve(data_dir, tmp_path / "first.log"))
    (data_dir / "credentials").unlink()
    databases = list(data_dir.glob("chamberlain.db*"))
    assert databases
    for database in databases:
        database.unlink()
    log = _stop(_serve(data_dir, tmp_path / "second.log"))
    assert "new account" not in log
    assert not (data_dir / "credentials").exists()


def test_serve_without_a_data_directory_fails_in_one_line_and_creates_nothing(tmp_path: Path):
    """A mistyped --data-dir must not quietly become a second deployment."""
    missing = tmp_path / "typo"
    done = subprocess.run(
        [sys.executable, "-m", "chamberlain.cli", "serve", "--data-dir", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "is not an initialized data directory" in done.stderr
    assert "--init-if-missing" in done.stderr
    assert not missing.exists()
