"""API benchmark: a boto3 workload against a real Chamberlain server, per phase.

Run: `make bench-api` (or `python -m benchmarks.api [--runs N] [--users N]
[--database-url URL]`). Starts a server on a free 127.0.0.1 port (SQLite in a temporary
data directory unless --database-url), then, as the admin user, runs each phase over N
users: create users, groups, policies, attachments, access keys; signed calls made with
the new keys; list with pagination; delete everything. Prints ops/s and p50/p99 per
phase; with several runs, the median of the runs' ops/s and of their p50/p99. It runs
the workload against a server with auditing on, one with it off, and moto_server (the
competitor, unless --no-moto), taking turns in every round.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

from benchmarks.fuzz import drop_schema

POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:GetUser", "iam:ListUsers"], "Resource": "*"}
        ],
    }
)
CONFIG = Config(retries={"max_attempts": 1}, max_pool_connections=4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    base: Path, database_url: str | None, audit: bool, *, workers: int = 1
) -> tuple[subprocess.Popen[bytes], str]:
    """`chamberlain init` and `serve` (with `workers` processes) on a free port; returns
    once the server answers /healthz. PostgreSQL: in a schema of its own, dropped when the
    benchmark exits."""
    data, creds = base / "data", base / "credentials"
    extra = ["--database-url", database_url] if database_url else []
    cli = [sys.executable, "-m", "chamberlain.cli"]
    env = {**os.environ, "CHAMBERLAIN_AUDIT": "on" if audit else "off"}
    if database_url:  # a schema of its own (the caller's, if it chose one)
        schema = env.setdefault("CHAMBERLAIN_DATABASE_SCHEMA", f"bench_{uuid.uuid4().hex[:10]}")
        atexit.register(drop_schema, database_url, schema)
    subprocess.run(
        [
            *cli,
            "init",
            "--data-dir",
            str(data),
            "--account-id",
            "123456789012",
            "--admin-user",
            "admin",
            "--credentials-file",
            str(creds),
            *extra,
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    port = _free_port()
    proc = subprocess.Popen(
        [*cli, "serve", "--data-dir", str(data), "--port", str(port),
         *(["--workers", str(workers)] if workers != 1 else []), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(endpoint + "/healthz", timeout=5):
                break
        except OSError:
            time.sleep(0.1)
    return proc, endpoint


def admin_client(base: Path, endpoint: str) -> Any:
    core = botocore.session.Session()
    core.set_config_variable("credentials_file", str(base / "credentials"))
    core.set_config_variable("config_file", os.devnull)
    session = boto3.Session(
        botocore_session=core, profile_name="chamberlain", region_name="us-east-1"
    )
    return session.client("iam", endpoint_url=endpoint, config=CONFIG)


def timed(calls: list[Callable[[], Any]]) -> tuple[float, float, float]:
    samples = []
    start = time.perf_counter()
    for call in calls:
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return len(calls) / total, samples[len(samples) // 2] * 1000, p99 * 1000


def run_once(
    iam: Any, endpoint: str, users: int, run: int
) -> dict[str, tuple[float, float, float]]:
    names = [f"bench{run}-u{i:04d}" for i in range(users)]
    groups = [f"bench{run}-g{i:04d}" for i in range(users)]
    account = "123456789012"
    policy_arns = [f"arn:aws:iam::{account}:policy/bench{run}-p{i:04d}" for i in range(users)]
    keys: list[dict] = []
    results: dict[str, tuple[float, float, float]] = {}

    def phase(name: str, calls: list[Callable[[], Any]]) -> None:
        results[name] = timed(calls)

    phase("create user", [lambda n=n: iam.create_user(UserName=n) for n in names])
    phase("create group", [lambda g=g: iam.create_group(GroupName=g) for g in groups])
    phase(
        "add to group",
        [
            lambda n=n, g=g: iam.add_user_to_group(GroupName=g, UserName=n)
            for n, g in zip(names, groups, strict=True)
        ],
    )
    phase(
        "create policy",
        [
            lambda a=a: iam.create_policy(PolicyName=a.rsplit("/", 1)[1], PolicyDocument=POLICY)
            for a in policy_arns
        ],
    )
    phase(
        "attach policy",
        [
            lambda n=n, a=a: iam.attach_user_policy(UserName=n, PolicyArn=a)
            for n, a in zip(names, policy_arns, strict=True)
        ],
    )
    phase(
        "create access key",
        [lambda n=n: keys.append(iam.create_access_key(UserName=n)["AccessKey"]) for n in names],
    )
    clients = [
        boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            config=CONFIG,
            aws_access_key_id=k["AccessKeyId"],
            aws_secret_access_key=k["SecretAccessKey"],
        )
        for k in keys
    ]
    phase(
        "signed call (new key)",
        [lambda c=c, n=n: c.get_user(UserName=n) for c, n in zip(clients, names, strict=True)],
    )
    paginator = iam.get_paginator("list_users")
    phase(
        "list users (pages of 20)",
        [
            lambda: sum(
                len(p["Users"])
                for p in paginator.paginate(PathPrefix="/", PaginationConfig={"PageSize": 20})
            )
            for _ in range(max(1, users // 10))
        ],
    )
    phase(
        "delete (5 calls/user)",
        [
            lambda n=n, g=g, a=a, k=k: (
                iam.delete_access_key(UserName=n, AccessKeyId=k["AccessKeyId"]),
                iam.detach_user_policy(UserName=n, PolicyArn=a),
                iam.remove_user_from_group(GroupName=g, UserName=n),
                iam.delete_user(UserName=n),
                iam.delete_group(GroupName=g),
                iam.delete_policy(PolicyArn=a),
            )
            for n, g, a, k in zip(names, groups, policy_arns, keys, strict=True)
        ],
    )
    return results


def start_moto(base: Path) -> tuple[subprocess.Popen[bytes], str]:
    """moto_server, the competitor: no signature check, nothing durable, no audit."""
    port = _free_port()
    log = (base / "moto.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)], stdout=log, stderr=log
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("moto_server did not start")
    return proc, f"http://127.0.0.1:{port}"


def moto_client(endpoint: str) -> Any:
    return boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=CONFIG,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )


Phases = dict[str, tuple[float, float, float]]


def measure(args: argparse.Namespace) -> dict[str, list[tuple[float, Phases]]]:
    """Every target runs the workload once per round, in turn, so that load from elsewhere
    on the machine falls on all of them alike. Returns (total seconds, phases) per run."""
    targets = ["audit on", "audit off"] + ([] if args.no_moto else ["moto"])
    results: dict[str, list[tuple[float, Phases]]] = {t: [] for t in targets}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        processes, clients = [], {}
        try:
            for target in targets:
                home = base / target.replace(" ", "-")
                home.mkdir()
                if target == "moto":
                    proc, endpoint = start_moto(home)
                    clients[target] = (moto_client(endpoint), endpoint)
                else:
                    proc, endpoint = start_server(home, args.database_url, target == "audit on")
                    clients[target] = (admin_client(home, endpoint), endpoint)
                processes.append(proc)
            for run in range(args.runs):
                for target in targets if run % 2 == 0 else reversed(targets):
                    iam, endpoint = clients[target]
                    started = time.perf_counter()
                    phases = run_once(iam, endpoint, args.users, run)
                    results[target].append((time.perf_counter() - started, phases))
        finally:
            for proc in processes:
                proc.terminate()
                proc.wait(timeout=10)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--database-url")
    parser.add_argument("--no-moto", action="store_true", help="skip the moto_server runs")
    args = parser.parse_args()
    results = measure(args)
    targets = list(results)
    store = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"API benchmark: {args.users} users per run, {args.runs} runs, store {store}, "
        "one client thread (medians of the runs)"
    )
    print("ops/s (p50 ms) per phase: " + " | ".join(targets))
    for phase in results[targets[0]][0][1]:
        cells = []
        for target in targets:
            runs = [phases[phase] for _, phases in results[target]]
            ops = statistics.median(r[0] for r in runs)
            p50 = statistics.median(r[1] for r in runs)
            cells.append(f"{ops:>8.1f} ({p50:>6.2f})")
        print(f"{phase:<26} " + " | ".join(cells))
    totals = {t: statistics.median(total for total, _ in results[t]) for t in targets}
    print("total seconds per run (median): " + ", ".join(f"{t} {v:.2f}" for t, v in totals.items()))
    if "moto" in totals:
        ratio = totals["audit on"] / totals["moto"]
        print(f"Chamberlain (audit on) / moto_server total time: {ratio:.2f}x (goal: at most 0.5x)")


if __name__ == "__main__":
    main()
