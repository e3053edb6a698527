"""Read latency under write load: 16 clients on one server, 8 reading beside 8 writing.

Run: `python -m benchmarks.read_latency [--runs N] [--seconds S] [--readers R]
[--writers W] [--database-url URL] [--one-process]`. Starts a server (SQLite in a
temporary data directory unless a database URL is given; PostgreSQL gets a schema of its
own), then per run measures signed GetUser calls from R reader threads for S seconds,
first alone and then beside W writer threads that create, tag and delete users. Prints
reads' p50/p99 and reads/s alone and under writes, and writes/s, as medians of the runs
(issue goal: read p99 under 50 ms with 8 writers beside 8 readers, on 2 cores), and the
load average when the runs ended (other processes on the machine skew every figure).

Readers and writers are clients in processes of their own, so the writers' client work
(botocore signing and parsing, under one GIL) is not measured as read latency;
`--one-process` runs every client thread in this process, as the first version did.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor

import sqlalchemy

from benchmarks.harness import Server, running_server


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _phase(
    server: Server,
    key: tuple[str, str],
    readers: int,
    writers: int,
    seconds: float,
    one_process: bool = False,
) -> dict[str, float]:
    """One phase's figures: reads (and writes) for `seconds`, clients in threads of this
    process when `one_process`, else readers and writers each in a process of their own."""
    if one_process or not writers:
        return _clients(server, key, readers, writers, seconds)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        start = time.time() + 3.0  # both processes started and their clients built
        reading = pool.submit(_clients, server, key, readers, 0, seconds, start)
        writing = pool.submit(_clients, server, key, 0, writers, seconds, start)
        read, written = reading.result(), writing.result()
    return {**read, "writes/s": written["writes/s"],
            "errors": read["errors"] + written["errors"]}  # fmt: skip


def _clients(
    server: Server,
    key: tuple[str, str],
    readers: int,
    writers: int,
    seconds: float,
    start: float | None = None,
) -> dict[str, float]:
    if start is not None:
        time.sleep(max(0.0, start - time.time()))
    stop = time.monotonic() + seconds
    reads: list[float] = []
    writes = 0
    errors = 0
    lock = threading.Lock()

    def read() -> None:
        nonlocal errors
        iam = server.keyed("iam", *key)
        mine: list[float] = []
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                iam.get_user(UserName="admin")
            except Exception:  # counted: any failure is reported, not hidden
                with lock:
                    errors += 1
                continue
            mine.append(time.perf_counter() - started)
        with lock:
            reads.extend(mine)

    def write() -> None:
        nonlocal writes, errors
        iam = server.client("iam")
        done = 0
        while time.monotonic() < stop:
            name = f"w-{uuid.uuid4().hex[:12]}"
            try:
                iam.create_user(UserName=name)
                iam.tag_user(UserName=name, Tags=[{"Key": "team", "Value": "bench"}])
                iam.delete_user(UserName=name)
                done += 3
            except Exception:
                with lock:
                    errors += 1
        with lock:
            writes += done

    threads = [threading.Thread(target=read) for _ in range(readers)]
    threads += [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "p50": statistics.median(reads) * 1000 if reads else float("nan"),
        "p99": _percentile(reads, 0.99) * 1000 if reads else float("nan"),
        "reads/s": len(reads) / seconds,
        "writes/s": writes / seconds,
        "errors": float(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--database-url")
    parser.add_argument("--one-process", action="store_true",
                        help="every client thread in this process (the first version)")  # fmt: skip
    args = parser.parse_args()
    if args.database_url:
        os.environ["CHAMBERLAIN_DATABASE_SCHEMA"] = f"bench_{uuid.uuid4().hex[:10]}"
    alone: list[dict[str, float]] = []
    loaded: list[dict[str, float]] = []
    try:
        with running_server(args.database_url) as server:
            key = server.user("reader", ["iam:GetUser"])
            for _ in range(args.runs):
                alone.append(_phase(server, key, args.readers, 0, args.seconds))
                loaded.append(
                    _phase(server, key, args.readers, args.writers, args.seconds, args.one_process)
                )
    finally:
        if args.database_url:  # leave the shared database as it was
            from chamberlain.store.sql import normalize_url

            engine = sqlalchemy.create_engine(normalize_url(args.database_url))
            with engine.begin() as conn:
                schema = os.environ["CHAMBERLAIN_DATABASE_SCHEMA"]
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            engine.dispose()
    store = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"read latency: {args.readers} readers (signed GetUser), {args.writers} writers "
        f"(CreateUser/TagUser/DeleteUser), {args.seconds:g} s per phase, {args.runs} runs, "
        f"{store}, clients {'in one process' if args.one_process else 'in two processes'}; "
        f"medians of the runs; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    header = ("read p50 ms", "read p99 ms", "reads/s", "writes/s", "errors")
    print(f"{'':<16} " + " ".join(f"{h:>12}" for h in header))
    for label, rows in (("readers alone", alone), ("beside writers", loaded)):
        cells = [
            statistics.median(r[k] for r in rows)
            for k in ("p50", "p99", "reads/s", "writes/s", "errors")
        ]
        print(
            f"{label:<16} {cells[0]:>12.1f} {cells[1]:>12.1f} {cells[2]:>12.1f} "
            f"{cells[3]:>12.1f} {cells[4]:>12.0f}"
        )
    verdict = statistics.median(r["p99"] for r in loaded)
    met = "met" if verdict < 50 else "not met"
    print(f"goal: read p99 under 50 ms beside writers: {met} ({verdict:.1f} ms)")


if __name__ == "__main__":
    main()
