"""A Chamberlain server for the attack benchmarks (stall.py, guessing.py): started with
the CLI on a free 127.0.0.1 port, SQLite in a temporary data directory unless a
database URL is given, and boto3 clients for it."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
# One attempt, no retries: the server's own rates (SDKs back off on Throttling).
CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=16)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "chamberlain.cli", *args], check=True,
                   capture_output=True)  # fmt: skip


@dataclass
class Server:
    base: Path
    endpoint: str
    database_url: str | None

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    def _extra(self) -> list[str]:
        return ["--database-url", self.database_url] if self.database_url else []

    def client(self, service: str, profile: str = "admin") -> Any:
        core = botocore.session.Session()
        core.set_config_variable("credentials_file", str(self.base / "credentials"))
        core.set_config_variable("config_file", os.devnull)
        session = boto3.Session(botocore_session=core, profile_name=profile,
                                region_name="us-east-1")  # fmt: skip
        return session.client(service, endpoint_url=self.endpoint, config=CONFIG)

    def keyed(self, service: str, key_id: str, secret: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=key_id, aws_secret_access_key=secret,
                            config=CONFIG)  # fmt: skip

    def create_account(self, account_id: str, admin: str, profile: str) -> None:
        _cli("account", "create", "--data-dir", str(self.data_dir), "--account-id", account_id,
             "--admin-user", admin, "--credentials-file", str(self.base / "credentials"),
             "--profile", profile, *self._extra())  # fmt: skip

    def user(self, name: str, actions: list[str], password: str | None = None) -> Any:
        """A user of the first account allowed `actions`, and its access key."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        statement = {"Effect": "Allow", "Action": actions, "Resource": "*"}
        document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        iam.put_user_policy(UserName=name, PolicyName="own", PolicyDocument=document)
        if password is not None:
            iam.create_login_profile(UserName=name, Password=password)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]


@contextlib.contextmanager
def running_server(database_url: str | None = None) -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="chamberlain-bench-") as tmp:
        base = Path(tmp)
        extra = ["--database-url", database_url] if database_url else []
        _cli("init", "--data-dir", str(base / "data"), "--account-id", ACCOUNT,
             "--admin-user", "admin", "--credentials-file", str(base / "credentials"),
             "--profile", "admin", *extra)  # fmt: skip
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "chamberlain.cli", "serve", "--data-dir",
             str(base / "data"), "--port", str(port), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            yield Server(base, f"http://127.0.0.1:{port}", database_url)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def error_code(call: Any, **params: Any) -> str:
    """The AWS error code a call answers ("OK" when it succeeds)."""
    try:
        call(**params)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "OK"


def summary(latencies: list[float]) -> str:
    if not latencies:
        return "no calls"
    return (
        f"{len(latencies):5d} calls, p50 {statistics.median(latencies) * 1000:7.1f} ms, "
        f"max {max(latencies) * 1000:7.1f} ms"
    )
