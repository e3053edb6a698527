"""Crash safety under write load: SIGKILL a real server at random moments, then check that
every write a client saw acknowledged (HTTP 200) survived, that nothing is half-done, and
that `chamberlain audit verify` passes.

Run: `make soak` (or `python -m benchmarks.soak_kill [--rounds 15] [--threads 4]
[--database-url URL]`). Prints, per round and in total, the acknowledged writes and the
losses; exits 1 on any loss, broken invariant or failed verification. The shortened
version runs in the suite (tests/e2e/test_crash_safety.py, 3 rounds).

Each writer thread repeats one sequence of single-call writes on fresh names: CreateUser
(with a tag), CreateAccessKey, PutUserPolicy, CreateGroup, AddUserToGroup, CreatePolicy,
AttachUserPolicy, CreatePolicyVersion (as default). A kill may land between two calls of
a sequence (a user without its access key is fine); a single call is all or nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

ACCOUNT = "123456789012"
POLICY_V1 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}],
    }
)
POLICY_V2 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}],
    }
)
CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=20)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Target:
    """One initialised deployment: a data directory, optionally on PostgreSQL."""

    data_dir: Path
    credentials: Path
    database_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def _db_args(self) -> list[str]:
        return ["--database-url", self.database_url] if self.database_url else []

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "chamberlain.cli", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env},
            timeout=300,
            check=False,
        )

    def init(self) -> None:
        done = self.cli(
            "init",
            "--data-dir",
            str(self.data_dir),
            "--account-id",
            ACCOUNT,
            "--admin-user",
            "admin",
            "--credentials-file",
            str(self.credentials),
            "--profile",
            "admin",
            *self._db_args(),
        )
        if done.returncode != 0:
            raise RuntimeError(f"init failed: {done.stderr}")

    def audit_verify(self) -> subprocess.CompletedProcess[str]:
        return self.cli("audit", "verify", "--data-dir", str(self.data_dir), *self._db_args())

    @contextmanager
    def serving(self, log: Path) -> Iterator[Server]:
        """A server on a free port; killed (not stopped) on exit if still running."""
        server = self.start(log)
        try:
            yield server
        finally:
            if server.process.poll() is None:
                server.process.kill()
            server.process.wait(timeout=30)

    def start(self, log: Path) -> Server:
        port = free_port()
        handle = log.open("ab")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chamberlain.cli",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *self._db_args(),
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
        )
        handle.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited on start: {log.read_text()[-4000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return Server(f"http://127.0.0.1:{port}", self.credentials, process)
            except OSError:
                time.sleep(0.05)
        process.kill()
        raise RuntimeError(f"server did not start: {log.read_text()[-4000:]}")


@dataclass
class Server:
    endpoint: str
    credentials: Path
    process: subprocess.Popen[bytes]

    def iam(self) -> Any:
        return self.client("iam")

    def client(self, service: str) -> Any:
        core = botocore.session.Session()
        core.set_config_variable("credentials_file", str(self.credentials))
        core.set_config_variable("config_file", os.devnull)
        session = boto3.Session(
            botocore_session=core, profile_name="admin", region_name="us-east-1"
        )
        return session.client(service, endpoint_url=self.endpoint, config=CONFIG)


@dataclass(frozen=True)
class Ack:
    """One write the client saw acknowledged: what it did and on what."""

    action: str
    name: str
    detail: str = ""


class WriteLoad:
    """Writer threads that record every acknowledged write; they stop on the first
    connection failure (the server was killed) or when told to."""

    def __init__(self, server: Server, threads: int, tag: str) -> None:
        self.server = server
        self.acks: list[Ack] = []
        self.unexpected: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = threading.Event()
        self.killed = threading.Event()  # set just before the SIGKILL
        self._threads = [
            threading.Thread(target=self._run, args=(f"{tag}t{i}",), daemon=True)
            for i in range(threads)
        ]

    def __enter__(self) -> WriteLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _ack(self, action: str, name: str, detail: str = "") -> None:
        with self._lock:
            self.acks.append(Ack(action, name, detail))
        self._started.set()

    def wait_for_first_ack(self, timeout: float) -> None:
        """The server is warm and writing (the kill then lands under load)."""
        if not self._started.wait(timeout):
            raise RuntimeError(f"no write acknowledged within {timeout} s: {self.unexpected}")

    def _run(self, prefix: str) -> None:
        iam = self.server.iam()
        i = 0
        while not self._stop.is_set():
            name = f"{prefix}-{i}"
            i += 1
            try:
                self._sequence(iam, name)
            except ClientError as error:
                # A 4xx/5xx answer from a live server is a defect of its own.
                with self._lock:
                    self.unexpected.append(f"{name}: {error}")
                return
            except (BotoCoreError, ResponseParserError, OSError) as error:
                # The server is gone (a kill may cut a response after its headers).
                if not self.killed.is_set():
                    with self._lock:
                        self.unexpected.append(f"{name}: {error!r} from a live server")
                return

    def _sequence(self, iam: Any, name: str) -> None:
        iam.create_user(UserName=name, Tags=[{"Key": "writer", "Value": name}])
        self._ack("CreateUser", name)
        key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
        self._ack("CreateAccessKey", name, key)
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=POLICY_V1)
        self._ack("PutUserPolicy", name)
        iam.create_group(GroupName=name)
        self._ack("CreateGroup", name)
        iam.add_user_to_group(GroupName=name, UserName=name)
        self._ack("AddUserToGroup", name)
        arn = iam.create_policy(PolicyName=name, PolicyDocument=POLICY_V1)["Policy"]["Arn"]
        self._ack("CreatePolicy", name, arn)
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
        self._ack("AttachUserPolicy", name, arn)
        version = iam.create_policy_version(
            PolicyArn=arn, PolicyDocument=POLICY_V2, SetAsDefault=True
        )["PolicyVersion"]["VersionId"]
        self._ack("CreatePolicyVersion", name, f"{arn} {version}")


def _pages(iam: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    return [item for page in iam.get_paginator(operation).paginate(**kwargs) for item in page[key]]


def lost_writes(iam: Any, acks: list[Ack], workers: int = 4) -> list[str]:
    """Every acknowledged write that is not there (a human-readable line each), in the
    order of `acks`."""
    with ThreadPoolExecutor(workers) as pool:
        found = list(pool.map(lambda ack: _missing(iam, ack), acks))
    pairs = zip(acks, found, strict=True)
    return [f"{ack.action} {ack.name}: {problem}" for ack, problem in pairs if problem]


def _error_code(call: Any, **kwargs: Any) -> str | None:
    try:
        call(**kwargs)
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return None


def _missing(iam: Any, ack: Ack) -> str | None:
    """What is wrong with one acknowledged write, or None if it is there."""
    n = ack.name
    if ack.action == "CreateUser":
        try:
            tags = iam.get_user(UserName=n)["User"].get("Tags", [])
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return None if tags == [{"Key": "writer", "Value": n}] else f"tags {tags}"
    if ack.action == "CreateAccessKey":
        keys = _pages(iam, "list_access_keys", "AccessKeyMetadata", UserName=n)
        return None if ack.detail in {k["AccessKeyId"] for k in keys} else "key missing"
    if ack.action == "PutUserPolicy":
        return _error_code(iam.get_user_policy, UserName=n, PolicyName="inline")
    if ack.action == "CreateGroup":
        return _error_code(iam.get_group, GroupName=n)
    if ack.action == "AddUserToGroup":
        groups = _pages(iam, "list_groups_for_user", "Groups", UserName=n)
        return None if n in {g["GroupName"] for g in groups} else "not a member"
    if ack.action == "CreatePolicy":
        return _error_code(iam.get_policy, PolicyArn=ack.detail)
    if ack.action == "AttachUserPolicy":
        attached = _pages(iam, "list_attached_user_policies", "AttachedPolicies", UserName=n)
        return None if ack.detail in {p["PolicyArn"] for p in attached} else "not attached"
    if ack.action == "CreatePolicyVersion":
        arn, version = ack.detail.split(" ")
        default = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        return None if default == version else f"default is {default}, not {version}"
    raise ValueError(f"unknown write {ack.action}")


def unaudited_writes(trail: Any, acks: list[Ack], since: dt.datetime) -> list[str]:
    """Acknowledged writes without their audit event (a write and its event commit
    together), found with LookupEvents by event name."""
    named: dict[str, set[str]] = {}
    for action in sorted({ack.action for ack in acks}):
        seen = named.setdefault(action, set())
        pages = trail.get_paginator("lookup_events").paginate(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": action}],
            StartTime=since,
        )
        for page in pages:
            for event in page["Events"]:
                params = json.loads(event["CloudTrailEvent"]).get("requestParameters") or {}
                for value in params.values():
                    if isinstance(value, str):
                        seen.update({value, value.rsplit("/", 1)[-1]})
    return [f"{a.action} {a.name}: no audit event" for a in acks if a.name not in named[a.action]]


def broken_invariants(iam: Any, prefix: str = "") -> list[str]:
    """Whatever exists (of the names starting with `prefix`) is whole: memberships,
    attachments and default versions point at things that exist."""
    broken: list[str] = []
    users = {u["UserName"] for u in _pages(iam, "list_users", "Users")}
    groups = {g["GroupName"] for g in _pages(iam, "list_groups", "Groups")}
    for user in sorted(u for u in users if u.startswith(prefix)):
        for g in _pages(iam, "list_groups_for_user", "Groups", UserName=user):
            if g["GroupName"] not in groups:
                broken.append(f"user {user} is in missing group {g['GroupName']}")
    for group in sorted(g for g in groups if g.startswith(prefix)):
        for member in _pages(iam, "get_group", "Users", GroupName=group):
            if member["UserName"] not in users:
                broken.append(f"group {group} lists missing user {member['UserName']}")
    for policy in _pages(iam, "list_policies", "Policies", Scope="Local"):
        if not policy["PolicyName"].startswith(prefix):
            continue
        arn = policy["Arn"]
        versions = _pages(iam, "list_policy_versions", "Versions", PolicyArn=arn)
        defaults = [v["VersionId"] for v in versions if v["IsDefaultVersion"]]
        if defaults != [policy["DefaultVersionId"]]:
            broken.append(f"policy {arn}: default {policy['DefaultVersionId']}, flags {defaults}")
        attached = _pages(iam, "list_entities_for_policy", "PolicyUsers", PolicyArn=arn)
        for user in attached:
            if user["UserName"] not in users:
                broken.append(f"policy {arn} attached to missing user {user['UserName']}")
        if policy["AttachmentCount"] != len(attached):
            broken.append(
                f"policy {arn}: AttachmentCount {policy['AttachmentCount']}, "
                f"{len(attached)} attached"
            )
    return broken


def remove_groups_and_policies(iam: Any, prefix: str, workers: int = 4) -> None:
    """Delete a round's groups and managed policies (the account's quotas for them, 300
    and 1,500, would otherwise end a long soak); users stay."""

    def remove_group(name: str) -> None:
        for user in _pages(iam, "get_group", "Users", GroupName=name):
            iam.remove_user_from_group(GroupName=name, UserName=user["UserName"])
        iam.delete_group(GroupName=name)

    def remove_policy(arn: str) -> None:
        for user in _pages(iam, "list_entities_for_policy", "PolicyUsers", PolicyArn=arn):
            iam.detach_user_policy(UserName=user["UserName"], PolicyArn=arn)
        for version in _pages(iam, "list_policy_versions", "Versions", PolicyArn=arn):
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
        iam.delete_policy(PolicyArn=arn)

    groups = [g["GroupName"] for g in _pages(iam, "list_groups", "Groups")]
    policies = [
        p["Arn"]
        for p in _pages(iam, "list_policies", "Policies", Scope="Local")
        if p["PolicyName"].startswith(prefix)
    ]
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(remove_group, [g for g in groups if g.startswith(prefix)]))
        list(pool.map(remove_policy, policies))


@dataclass
class RoundResult:
    acknowledged: int
    lost: list[str]
    unaudited: list[str]
    broken: list[str]
    unexpected: list[str]
    verify: str
    verified: bool

    @property
    def ok(self) -> bool:
        problems = self.lost or self.unaudited or self.broken or self.unexpected
        return self.verified and not problems


class Soak:
    """Rounds against one deployment. Each round writes on the running server, SIGKILLs it
    at a random moment, runs `audit verify` on the dead server's data, restarts it and
    checks; the restarted server carries the next round's load."""

    def __init__(self, target: Target, log: Path, rng: random.Random) -> None:
        self.target, self.log, self.rng = target, log, rng
        self.server: Server | None = None

    def __enter__(self) -> Soak:
        self.server = self.target.start(self.log)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None and self.server.process.poll() is None:
            self.server.process.kill()
            self.server.process.wait(timeout=30)

    def round(self, threads: int, max_load_s: float) -> RoundResult:
        server = self.server
        assert server is not None, "use Soak as a context manager"
        tag = f"r{uuid.uuid4().hex[:6]}"
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        try:
            with WriteLoad(server, threads, tag) as load:
                load.wait_for_first_ack(timeout=60)
                time.sleep(self.rng.uniform(0.0, max_load_s))
                load.killed.set()
                os.kill(server.process.pid, signal.SIGKILL)
                server.process.wait(timeout=30)
        finally:
            if server.process.poll() is None:
                server.process.kill()
                server.process.wait(timeout=30)
        verify = self.target.audit_verify()
        self.server = self.target.start(self.log)
        iam = self.server.iam()
        result = RoundResult(
            len(load.acks),
            lost_writes(iam, load.acks),
            unaudited_writes(self.server.client("cloudtrail"), load.acks, since),
            broken_invariants(iam, tag),
            load.unexpected,
            (verify.stdout + verify.stderr).strip(),
            verify.returncode == 0,
        )
        remove_groups_and_policies(iam, tag)
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--max-load-seconds", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    schema = f"chamberlain_soak_{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        env = {"CHAMBERLAIN_DATABASE_SCHEMA": schema} if args.database_url else {}
        target = Target(base / "data", base / "credentials", args.database_url, env)
        target.init()
        total_acks = total_lost = failures = 0
        print(f"seed {seed}, {args.rounds} rounds, {args.threads} writer threads")
        try:
            with Soak(target, base / "server.log", rng) as soak:
                for n in range(1, args.rounds + 1):
                    result = soak.round(args.threads, args.max_load_seconds)
                    total_acks += result.acknowledged
                    total_lost += len(result.lost)
                    failures += not result.ok
                    print(
                        f"round {n}: {result.acknowledged} acknowledged, {len(result.lost)} lost, "
                        f"{len(result.unaudited)} without their audit event, "
                        f"{len(result.broken)} broken, {len(result.unexpected)} unexpected errors, "
                        f"audit verify: {result.verify.splitlines()[-1] if result.verify else '?'}"
                    )
                    for line in [
                        *result.lost,
                        *result.unaudited,
                        *result.broken,
                        *result.unexpected,
                    ]:
                        print(f"  {line}")
        finally:
            if args.database_url:
                drop_schema(args.database_url, schema)
        print(
            f"total: {total_acks} acknowledged writes, {total_lost} lost, {failures} failed rounds"
        )
    return 1 if failures else 0


def drop_schema(database_url: str, schema: str) -> None:
    import sqlalchemy

    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
