"""wrk benchmark: verified requests/s on a presigned GetCallerIdentity URL, and decisions/s
of POST /v1/authorize.

Run: `python -m benchmarks.wrk_bench [--target gci|authorize|both] [--workers 1,2]
[--runs N] [--duration S] [--connections N] [--database-url URL]` (needs Debian's `wrk`:
`apt-get install -y wrk`). For each worker count, starts a server on a free 127.0.0.1
port (SQLite in a temporary data directory unless --database-url: PostgreSQL in a schema
of its own) with `serve --workers N`, then drives it with wrk:
- gci: one presigned STS GetCallerIdentity URL of the admin user's key; every request is
  SigV4-verified, authorized and audited (goal: >= 3,000 requests/s, p99 < 20 ms);
- authorize: 64 prebuilt /v1/authorize calls (benchmarks/authorize.py: each verifies the
  calling service's signature and a forwarded end-user signature; half allowed, half
  denied), cycled by a wrk Lua script (goal: >= 5,000 decisions/s, p99 < 10 ms).
Prints requests/s, p99, the server's CPU time per request (user + system, all its
processes: steadier than the rates on a shared machine) and the 1-minute load average per
run, and the medians. wrk
shares the 2 cores with the server: the figures are lower bounds of a dedicated node.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import botocore.session

from benchmarks import authorize
from benchmarks.api import admin_client, start_server

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
GOALS = {
    "gci": "goal: >= 3,000 requests/s, p99 < 20 ms",
    "authorize": "goal: >= 5,000 decisions/s, p99 < 10 ms",
}


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


def _lua_string(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return '"' + "".join(f"\\{b}" for b in raw) + '"'


def authorize_script(base: Path, endpoint: str) -> Path:
    """A wrk Lua script cycling through the authorize benchmark's 64 signed calls."""
    calls = authorize.prepare(admin_client(base, endpoint), endpoint)
    entries = []
    for body, headers in calls:
        fields = ", ".join(
            f"[{_lua_string(k)}] = {_lua_string(v)}"
            for k, v in headers.items()
            if k.lower() not in ("content-length", "host")
        )
        entries.append(f'wrk.format("POST", "/v1/authorize", {{{fields}}}, {_lua_string(body)})')
    script = base / "authorize.lua"
    # wrk.host (the Host header, which was signed) is known once a thread starts: init.
    script.write_text(
        "local calls = {}\nlocal i = 0\n"
        "init = function(args)\n  calls = {\n  " + ",\n  ".join(entries) + "\n}\nend\n"
        "request = function()\n  i = i % #calls + 1\n  return calls[i]\nend\n"
    )
    return script


def process_family(pid: int) -> Iterator[tuple[Path, list[str]]]:
    """(/proc entry, stat fields after the name) of a process and its children (the
    workers)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            yield entry, fields


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (the workers) so far."""
    tick = os.sysconf("SC_CLK_TCK")
    return sum((int(f[11]) + int(f[12])) / tick for _, f in process_family(pid))


def _wrk(args: argparse.Namespace, target: list[str], seconds: int) -> str:
    return subprocess.run(
        ["wrk", "--latency", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s",
         *target],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def run_target(
    args: argparse.Namespace, name: str, workers: int
) -> list[tuple[float, float, int, float, float]]:
    """(rate, p99 ms, non-2xx, load average, server CPU ms per request) per run against a
    fresh server."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        proc, endpoint = start_server(base, args.database_url, audit=True, workers=workers)
        try:
            if name == "gci":
                url = presigned_url(base, endpoint)
                with urllib.request.urlopen(url) as answer:
                    assert answer.status == 200, answer.read()
                target = [url]
            else:
                target = ["-s", str(authorize_script(base, endpoint)), endpoint + "/v1/authorize"]
            _wrk(args, target, 2)  # warm up (every worker's caches)
            for run in range(args.runs):
                cpu = cpu_seconds(proc.pid)
                out = _wrk(args, target, args.duration)
                cpu = cpu_seconds(proc.pid) - cpu
                rate, p99, bad = parse_wrk(out)
                load = os.getloadavg()[0]
                per_request = cpu * 1000 / max(1.0, rate * args.duration)
                results.append((rate, p99, bad, load, per_request))
                print(f"  {name} workers={workers} run {run + 1}: {rate:,.0f}/s, p99 {p99:.1f} ms, "
                      f"{bad} non-2xx, server CPU {per_request:.2f} ms/request, load {load:.2f}",
                      flush=True)  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", choices=["gci", "authorize", "both"], default="both")
    parser.add_argument("--workers", default="1", help="worker counts to compare, e.g. 1,2")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    names = ["gci", "authorize"] if args.target == "both" else [args.target]
    counts = [int(n) for n in args.workers.split(",")]
    store = "PostgreSQL" if args.database_url else "SQLite"
    print(f"wrk -t{args.threads} -c{args.connections}, {args.runs} runs of {args.duration} s, "
          f"{store}, {os.cpu_count()} CPUs shared by wrk and the server")  # fmt: skip
    summary = []
    for name in names:
        for workers in counts:  # alternating would restart servers; a fresh one per count
            results = run_target(args, name, workers)
            rate, p99, _, load, cpu = (statistics.median(r[i] for r in results) for i in range(5))
            bad = sum(r[2] for r in results)
            summary.append(f"{name:<10} workers={workers}: {rate:>7,.0f}/s  p99 {p99:6.1f} ms  "
                           f"CPU {cpu:.2f} ms/req  non-2xx {bad}  load {load:.2f}  "
                           f"({GOALS[name]})")  # fmt: skip
    print("medians:")
    for line in summary:
        print("  " + line)


if __name__ == "__main__":
    main()
