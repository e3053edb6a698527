"""Authorization endpoint benchmark: decisions/s and latency of POST /v1/authorize.

Run: `python -m benchmarks.authorize [--runs N] [--seconds S] [--concurrency C]
[--database-url URL]`. Starts a server on a free 127.0.0.1 port (SQLite in a temporary
data directory unless --database-url), creates a calling service (chamberlain:Authorize)
and an end user with two identity policies, then sends prebuilt calls: each forwards one
of 64 end-user GET requests signed by botocore (so Chamberlain verifies an end-user
signature and the calling service's on every call), half allowed and half denied. The
load comes from one asyncio loop with C concurrent keep-alive connections (httpx) on the
same machine, for S seconds per run. Prints, per audit mode (on: one audit event per call;
off), the median over the runs of decisions/s, p50 and p99 (ms), and the same for one
client making sequential calls.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from benchmarks.api import admin_client, start_server

ACCOUNT = "123456789012"
RESOURCE = f"arn:aws:widgets:us-east-1:{ACCOUNT}:widget/"


def _user(iam: Any, name: str, statements: list[dict[str, Any]]) -> Credentials:
    iam.create_user(UserName=name)
    for index, statement in enumerate(statements):
        iam.put_user_policy(
            UserName=name,
            PolicyName=f"p{index}",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def prepare(iam: Any, endpoint: str) -> list[tuple[bytes, dict[str, str]]]:
    """64 signed /v1/authorize calls (body, headers), valid for the next 15 minutes."""
    service = _user(
        iam, "svc", [{"Effect": "Allow", "Action": "chamberlain:Authorize", "Resource": "*"}]
    )
    alice = _user(
        iam,
        "alice",
        [
            {"Effect": "Allow", "Action": "widgets:Get*", "Resource": RESOURCE + "*"},
            {"Effect": "Deny", "Action": "widgets:GetSecret*", "Resource": "*"},
        ],
    )
    calls = []
    for i in range(64):
        path = f"/widgets/w{i}"
        end_user = AWSRequest(method="GET", url="https://widgets.example.com" + path)
        SigV4Auth(alice, "widgets", "us-east-1").add_auth(end_user)
        payload = {
            "principal": {
                "request": {
                    "method": "GET",
                    "path": path,
                    "headers": [["Host", "widgets.example.com"], *end_user.headers.items()],
                    "bodySha256": hashlib.sha256(b"").hexdigest(),
                    "service": "widgets",
                }
            },
            "action": "widgets:GetWidget" if i % 2 == 0 else "widgets:GetSecretWidget",
            "resource": RESOURCE + f"w{i}",
        }
        body = json.dumps(payload).encode()
        call = AWSRequest(
            method="POST",
            url=endpoint + "/v1/authorize",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        SigV4Auth(service, "chamberlain", "us-east-1").add_auth(call)
        calls.append((body, dict(call.headers.items())))
    return calls


async def load(
    endpoint: str, calls: list[tuple[bytes, dict[str, str]]], concurrency: int, seconds: float
) -> tuple[float, float, float]:
    """(decisions/s, p50 ms, p99 ms) with `concurrency` callers for `seconds`."""
    samples: list[float] = []
    url = endpoint + "/v1/authorize"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + seconds

        async def worker(offset: int) -> None:
            i = offset
            while time.perf_counter() < deadline:
                body, headers = calls[i % len(calls)]
                t0 = time.perf_counter()
                response = await client.post(url, content=body, headers=headers)
                samples.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text}")
                i += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.perf_counter() - start
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return len(samples) / elapsed, samples[len(samples) // 2] * 1000, p99 * 1000


def measure(args: argparse.Namespace, audit: bool) -> dict[str, list[tuple[float, float, float]]]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        proc, endpoint = start_server(base, args.database_url, audit)
        try:
            calls = prepare(admin_client(base, endpoint), endpoint)
            asyncio.run(load(endpoint, calls, args.concurrency, 1.0))  # warm up
            results: dict[str, list[tuple[float, float, float]]] = {"concurrent": [], "serial": []}
            for _ in range(args.runs):
                results["concurrent"].append(
                    asyncio.run(load(endpoint, calls, args.concurrency, args.seconds))
                )
                results["serial"].append(asyncio.run(load(endpoint, calls, 1, args.seconds)))
            return results
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url")
    parser.add_argument("--audit", choices=["on", "off", "both"], default="both")
    args = parser.parse_args()
    modes = {"on": [True], "off": [False], "both": [True, False]}[args.audit]
    store = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"/v1/authorize: store {store}, {args.runs} runs of {args.seconds:g} s, "
        f"{os.cpu_count()} CPUs (client and server share them); medians of the runs"
    )
    print(f"{'audit':<6} {'load':<16} {'decisions/s':>11} {'p50 ms':>8} {'p99 ms':>8}")
    for audit in modes:
        results = measure(args, audit)
        for name, runs in results.items():
            label = f"{args.concurrency} concurrent" if name == "concurrent" else "1 sequential"
            rate, p50, p99 = (statistics.median(r[i] for r in runs) for i in range(3))
            print(
                f"{'on' if audit else 'off':<6} {label:<16} {rate:>11.0f} {p50:>8.2f} {p99:>8.2f}"
            )


if __name__ == "__main__":
    main()
