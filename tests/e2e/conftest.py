"""A real Chamberlain server on 127.0.0.1 for end-to-end tests, driven by boto3 and the
aws CLI exactly as users drive AWS (`--endpoint-url`)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chamberlain.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


@dataclass
class Server:
    endpoint: str
    data_dir: Path
    credentials: Path
    process: subprocess.Popen[bytes]
    log: Path

    def session(self, profile: str = "admin") -> boto3.Session:
        core = botocore.session.Session()
        core.set_config_variable("credentials_file", str(self.credentials))
        core.set_config_variable("config_file", os.devnull)
        return boto3.Session(botocore_session=core, profile_name=profile, region_name="us-east-1")

    def client(self, service: str, profile: str = "admin", **kwargs: Any) -> Any:
        config = Config(retries={"max_attempts": 1, "mode": "standard"})
        return self.session(profile).client(
            service, endpoint_url=self.endpoint, config=config, **kwargs
        )

    def client_with_keys(
        self, service: str, key_id: str, secret: str, token: str | None = None
    ) -> Any:
        config = Config(retries={"max_attempts": 1, "mode": "standard"})
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            aws_session_token=token,
            config=config,
        )

    def aws_env(self, profile: str, config_file: Path | None = None) -> dict[str, str]:
        env = {
            **os.environ,
            "AWS_SHARED_CREDENTIALS_FILE": str(self.credentials),
            "AWS_CONFIG_FILE": str(config_file or os.devnull),
            "AWS_PROFILE": profile,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_PAGER": "",
        }
        env.pop("AWS_ACCESS_KEY_ID", None)
        env.pop("AWS_SECRET_ACCESS_KEY", None)
        return env

    def aws(
        self,
        *args: str,
        profile: str = "admin",
        check: bool = True,
        config_file: Path | None = None,
    ) -> Any:
        """Run the aws CLI; return parsed JSON output (or the CompletedProcess if check=False)."""
        env = self.aws_env(profile, config_file)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "awscli",
                "--endpoint-url",
                self.endpoint,
                "--output",
                "json",
                *args,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        if not check:
            return done
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None


def start_server(
    data_dir: Path,
    port: int,
    log: Path,
    *,
    extra: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chamberlain.cli",
            "serve",
            "--data-dir",
            str(data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *extra,
        ],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not start: {log.read_text()}")


def init_and_serve(
    base: Path,
    *,
    root_access_key: bool = True,
    toml: str = "",
    init_args: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Server:
    """`chamberlain init` of account ACCOUNT in base/data (admin's key as profile `admin`,
    root's as `admin-root` unless told not to; `init_args` added), an optional
    chamberlain.toml, then a server on a free port with `extra` arguments (https when they
    pass --tls-cert); `env` for both."""
    data_dir, credentials = base / "data", base / "credentials"
    done = run_cli(
        "init",
        "--data-dir",
        str(data_dir),
        "--account-id",
        ACCOUNT,
        "--admin-user",
        "admin",
        "--credentials-file",
        str(credentials),
        "--profile",
        "admin",
        *(("--root-access-key",) if root_access_key else ()),
        *init_args,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    if toml:
        (data_dir / "chamberlain.toml").write_text(toml)
    port = free_port()
    log = base / "server.log"
    process = start_server(data_dir, port, log, extra=extra, env=env)
    scheme = "https" if "--tls-cert" in extra else "http"
    return Server(f"{scheme}://127.0.0.1:{port}", data_dir, credentials, process, log)


def stop(server: Server) -> None:
    server.process.terminate()
    server.process.wait(timeout=10)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Web identity tests run a local OpenID Connect issuer on plain http (loopback).
    running = init_and_serve(
        tmp_path_factory.mktemp("chamberlain"), env={"CHAMBERLAIN_OIDC_ALLOW_HTTP": "1"}
    )
    yield running
    stop(running)
