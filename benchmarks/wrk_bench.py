"""wrk benchmark: verified requests/s on a presigned GetCallerIdentity URL.

Run: `python -m benchmarks.wrk_bench [--runs N] [--duration S] [--connections N]
[--database-url URL]` (needs Debian's `wrk`: `apt-get install -y wrk`). Starts a server
on a free 127.0.0.1 port (SQLite in a temporary data directory unless --database-url),
presigns one STS GetCallerIdentity URL with the admin user's key, and drives it with
wrk: every request is SigV4-verified, authorized and audited. Prints requests/s and p99
per run and their medians (goal: >= 3,000 requests/s with p99 < 20 ms at 2 cores).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import botocore.session

from benchmarks.api import start_server

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def presigned_url(base: Path, endpoint: str) -> str:
    core = botocore.session.Session()
    core.set_config_variable("credentials_file", str(base / "credentials"))
    core.set_config_variable("config_file", "/dev/null")
    session = boto3.Session(
        botocore_session=core, profile_name="chamberlain", region_name="us-east-1"
    )
    sts = session.client("sts", endpoint_url=endpoint)
    return str(sts.generate_presigned_url("get_caller_identity", ExpiresIn=3600, HttpMethod="GET"))


def parse_wrk(output: str) -> tuple[float, float, int]:
    """(requests/s, p99 in ms, non-2xx responses) from `wrk --latency` output."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    assert p99 is not None, output
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rate, float(p99.group(1)) * _UNITS[p99.group(2)], int(bad.group(1)) if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    results: list[tuple[float, float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        proc, endpoint = start_server(base, args.database_url, audit=True)
        try:
            url = presigned_url(base, endpoint)
            with urllib.request.urlopen(url) as answer:
                assert answer.status == 200, answer.read()
            for run in range(args.runs):
                out = subprocess.run(
                    ["wrk", "--latency", f"-t{args.threads}", f"-c{args.connections}",
                     f"-d{args.duration}s", url],
                    check=True, capture_output=True, text=True,
                ).stdout  # fmt: skip
                rate, p99, bad = parse_wrk(out)
                results.append((rate, p99, bad))
                print(f"run {run + 1}: {rate:,.0f} requests/s, p99 {p99:.1f} ms, {bad} non-2xx")
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    rate = statistics.median(r for r, _, _ in results)
    p99 = statistics.median(p for _, p, _ in results)
    summary: dict[str, Any] = {"requests/s": round(rate), "p99 ms": round(p99, 1)}
    print(f"median of {args.runs}: {summary['requests/s']:,} requests/s, p99 {p99:.1f} ms "
          "(goal: >= 3,000 requests/s, p99 < 20 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
