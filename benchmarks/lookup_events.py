"""LookupEvents benchmark: a large audit trail, filtered lookups, and the cost of appending.

Run: `python -m benchmarks.lookup_events [--events N] [--runs N] [--database-url URL]`.
Fills a store (SQLite in a temporary directory, or a fresh schema of the PostgreSQL
database at --database-url, dropped afterwards unless --keep) with N events (default
1,000,000) of one account over 90 days, plus 1% in a second account: real records,
hashes and seals (the trail verifies), bulk-inserted beneath the API. Then times
LookupEvents through the operations layer (authorization, handler, output) for several
query shapes, each the median (and max) of --runs runs after a warm-up, and the
cost of recording one event (in a caller's unit of work, and in a unit of work of its
own, with its commit).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import io
import json
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.domain import Event
from chamberlain.ops.audit import records as audit
from chamberlain.ops.audit import trail as audit_trail
from chamberlain.ops.core.context import Caller, OpContext, RequestMeta, Services, Session
from chamberlain.ops.core.dispatch import execute
from chamberlain.policy import PrincipalType
from chamberlain.store.events import attribute_rows, to_micros
from chamberlain.store.sql import SqlStore, normalize_url

ACCOUNT, OTHER = "111111111111", "222222222222"
END = dt.datetime(2026, 11, 28, 12, 0, 0, tzinfo=dt.UTC)
SPAN = dt.timedelta(days=90)
USERS = 200
ROLES = 10
WRITES = [
    "CreateUser",
    "DeleteUser",
    "AttachUserPolicy",
    "PutUserPolicy",
    "CreateAccessKey",
    "UpdateAccessKey",
    "AddUserToGroup",
    "CreateRole",
    "TagUser",
    "UpdateLoginProfile",
]
READS = [
    "GetUser",
    "ListUsers",
    "ListAttachedUserPolicies",
    "GetPolicy",
    "GetPolicyVersion",
    "ListAccessKeys",
    "GetAccountSummary",
    "ListGroupsForUser",
    "GetRole",
    "ListRoles",
    "GetLoginProfile",
    "ListPolicies",
    "GetGroup",
    "ListGroups",
    "SimulatePrincipalPolicy",
]
STS = ["GetCallerIdentity", "AssumeRole", "GetSessionToken"]  # fmt: skip
BATCH = 20_000


def _callers(rng: random.Random) -> list[Caller]:
    users = [
        Caller(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/user{i}", f"AIDA{i:016d}",
               PrincipalType.USER, f"user{i}", f"AKIA{i:016d}")
        for i in range(USERS)
    ]  # fmt: skip
    roles = []
    for i in range(ROLES):
        session = Session(
            issuer_arn=f"arn:aws:iam::{ACCOUNT}:role/role{i}",
            issuer_id=f"AROA{i:016d}",
            issued=END - SPAN,
            expires=END,
            session_name=f"session{i}",
        )
        roles.append(
            Caller(ACCOUNT, f"arn:aws:sts::{ACCOUNT}:assumed-role/role{i}/session{i}",
                   f"AROA{i:016d}:session{i}", PrincipalType.ASSUMED_ROLE,
                   access_key_id=f"ASIA{i:016d}", session=session)
        )  # fmt: skip
    root = Caller(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, PrincipalType.ROOT)
    return [*users, *roles, root]


def generate(count: int, account: str, box: SecretBox, seed: int) -> Iterator[Event]:
    """`count` chained, sealed events of `account`, oldest first, over the last 90 days."""
    rng = random.Random(seed)
    callers = _callers(rng)
    step = SPAN / count
    previous, when = audit.GENESIS, END - SPAN
    for seq in range(1, count + 1):
        when += step
        caller = rng.choice(callers)
        if account != ACCOUNT:
            caller = dataclasses.replace(caller, account_id=account)
        roll = rng.random()
        service, read_only = "iam", roll < 0.7
        name = rng.choice(READS if read_only else WRITES)
        if roll > 0.95:
            service, name, read_only = "sts", rng.choice(STS), name.startswith("Get")
        params = {"UserName": f"user{rng.randrange(USERS)}"} if rng.random() < 0.6 else {}
        if rng.random() < 0.2:
            params["PolicyArn"] = f"arn:aws:iam::{account}:policy/policy{rng.randrange(50)}"
        meta = RequestMeta(
            request_id=f"{seq:08x}-0000-4000-8000-{rng.getrandbits(48):012x}",
            now=when.replace(microsecond=0),
            source_ip=f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
            user_agent="aws-cli/2.15.0 Python/3.11 Linux botocore/2.0",
        )
        record = audit.build_record(
            caller=caller, meta=meta, service=service, operation=name, params=params,
            read_only=read_only, account_id=account,
        )  # fmt: skip
        resources = tuple(tuple(r) for r in audit.resources_of(params, None))
        text = audit.canonical(record)
        digest = audit.chain_hash(account, seq, previous, audit.resources_text(resources), text)
        yield Event(
            account_id=account, seq=seq, record=text, hash=digest,
            seal=audit.seal(box, account, seq, digest), resources=resources,  # type: ignore[arg-type]
            **audit.event_fields(record),
        )  # fmt: skip
        previous = digest


def _event_row(e: Event) -> tuple[Any, ...]:
    resources = json.dumps([list(r) for r in e.resources], ensure_ascii=False)
    return (e.account_id, e.seq, to_micros(e.event_time), e.event_id, e.event_name,
            e.event_source, e.read_only, e.username, e.access_key_id, e.principal, resources,
            e.record, e.hash, e.seal)  # fmt: skip


def _attribute_row_list(e: Event) -> list[tuple[Any, ...]]:
    when = to_micros(e.event_time)
    return [(e.account_id, n, v, when, e.seq) for n, v in attribute_rows(e)]


def _batches(events: Iterator[Event]) -> Iterator[list[Event]]:
    batch: list[Event] = []
    for event in events:
        batch.append(event)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


EVENT_COLUMNS = ("account_id, seq, event_time, event_id, event_name, event_source, read_only, "
                 "username, access_key_id, principal, resources, record, hash, seal")  # fmt: skip


def fill_sqlite(store: SqlStore, batches: Iterator[list[Event]], progress: Callable) -> None:
    raw = store.engine.raw_connection()
    try:
        conn = raw.driver_connection
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -2000000")  # 2 GB: the attribute index is random
        conn.execute("BEGIN")
        marks = ",".join("?" * 14)
        for batch in batches:
            conn.executemany(f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({marks})",
                             [_event_row(e) for e in batch])  # fmt: skip
            rows = [r for e in batch for r in _attribute_row_list(e)]
            rows.sort()
            conn.executemany("INSERT INTO event_attributes VALUES (?, ?, ?, ?, ?)", rows)
            progress(len(batch))
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        raw.close()


def _copy_text(rows: list[tuple[Any, ...]]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "\\N"
        if isinstance(value, bool):
            return "t" if value else "f"
        if isinstance(value, bytes):
            return "\\\\x" + value.hex()
        text = str(value)
        return (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )

    out = io.StringIO()
    for row in rows:
        out.write("\t".join(cell(v) for v in row))
        out.write("\n")
    return out.getvalue()


def fill_postgres(store: SqlStore, batches: Iterator[list[Event]], progress: Callable) -> None:
    """COPY without the lookup indexes, then build them (much faster than row by row)."""
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE event_attributes DROP CONSTRAINT pk_event_attributes")
        conn.exec_driver_sql("DROP INDEX ix_events_account_time")
    raw = store.engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            for batch in batches:
                with cur.copy(f"COPY events ({EVENT_COLUMNS}) FROM STDIN") as copy:
                    copy.write(_copy_text([_event_row(e) for e in batch]))
                with cur.copy("COPY event_attributes FROM STDIN") as copy:
                    copy.write(_copy_text([r for e in batch for r in _attribute_row_list(e)]))
                progress(len(batch))
            cur.execute("SET maintenance_work_mem = '1GB'")
            cur.execute(
                "ALTER TABLE event_attributes ADD CONSTRAINT pk_event_attributes PRIMARY KEY "
                "(account_id, name, value, event_time, seq)"
            )
            cur.execute("CREATE INDEX ix_events_account_time ON events "
                        "(account_id, event_time, seq)")  # fmt: skip
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE events")
        conn.execute("VACUUM ANALYZE event_attributes")
    finally:
        raw.close()


def _attr(key: str, value: str) -> dict[str, Any]:
    return {"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}]}


def queries(sample: Event) -> dict[str, dict[str, Any]]:
    week, month = END - dt.timedelta(days=7), END - dt.timedelta(days=30)
    mid = END - dt.timedelta(days=45)
    return {
        "EventName=CreateUser, last 7 days": {**_attr("EventName", "CreateUser"),
                                              "StartTime": week, "EndTime": END},
        "Username=user17, last 30 days": {**_attr("Username", "user17"), "StartTime": month},
        "ResourceName=policy7 ARN, days 45..30": {
            **_attr("ResourceName", f"arn:aws:iam::{ACCOUNT}:policy/policy7"),
            "StartTime": mid, "EndTime": month},
        "ReadOnly=false, one day, 45 days ago": {
            **_attr("ReadOnly", "false"), "StartTime": mid, "EndTime": mid + dt.timedelta(days=1)},
        "AccessKeyId=ASIA role key, all time": _attr("AccessKeyId", f"ASIA{3:016d}"),
        "EventSource=sts, last 30 days": {**_attr("EventSource", "sts.amazonaws.com"),
                                          "StartTime": month},
        "EventId (one event)": _attr("EventId", sample.event_id),
        "Username=no-such-user, all time (empty)": _attr("Username", "no-such-user"),
        "no attribute, last 7 days": {"StartTime": week},
    }  # fmt: skip


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    fn()  # warm-up (statement cache, pages)
    samples, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples), result


def bench(store: SqlStore, box: SecretBox, count: int, runs: int) -> None:
    services = Services(store=store, secrets=box)
    root = Caller(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, PrincipalType.ROOT)
    meta = RequestMeta(request_id="bench", now=END)
    with store.unit_of_work(read_only=True) as uow:
        sample = uow.events.get(ACCOUNT, count // 3)
    assert sample is not None

    def lookup(params: dict[str, Any]) -> dict[str, Any]:
        return execute(services, root, meta, "cloudtrail", "LookupEvents", params) or {}

    print(f"\nLookupEvents ({store.dialect}, {count:,} events in the account), ms:")
    print(f"  {'query':44} {'median':>8} {'max':>8} {'events':>7}")
    for name, params in queries(sample).items():
        median, worst, out = timed(lambda p=params: lookup(p), runs)
        print(f"  {name:44} {median:8.2f} {worst:8.2f} {len(out['Events']):7d}")

    attribute = _attr("Username", "user17")
    pages: list[float] = []
    params: dict[str, Any] = dict(attribute)
    for _ in range(20):
        start = time.perf_counter()
        out = lookup(params)
        pages.append((time.perf_counter() - start) * 1000)
        if "NextToken" not in out:
            break
        params = {**attribute, "NextToken": out["NextToken"]}
    title = f"Username=user17: {len(pages)} pages, NextToken"
    print(f"  {title:44} {statistics.median(pages):8.2f} {max(pages):8.2f} {'50/page':>7}")

    user = Caller(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/user1", f"AIDA{1:016d}",
                  PrincipalType.USER, "user1", f"AKIA{1:016d}")  # fmt: skip
    later = RequestMeta(request_id="append", now=END + dt.timedelta(seconds=1))
    params = {"UserName": "user1", "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/policy1"}

    def in_uow() -> float:
        with store.unit_of_work() as uow:
            uow.lock_account(ACCOUNT)
            ctx = OpContext(user, later, uow, services)
            start = time.perf_counter()
            audit.record(ctx, "iam", "AttachUserPolicy", params, read_only=False)
            return (time.perf_counter() - start) * 1000

    appended = [in_uow() for _ in range(max(runs * 10, 50))]

    def detached() -> None:
        audit.record_detached(services, user, later, "iam", "GetUser", {"UserName": "u"},
                              read_only=True)  # fmt: skip

    own_median, own_worst, _ = timed(detached, max(runs * 10, 50))
    print("\nRecording one event, ms:")
    print(
        f"  {'in the caller unit of work (lock, head, 2 inserts)':52} "
        f"median {statistics.median(appended):6.3f}  max {max(appended):6.3f}"
    )
    print(f"  {'in a unit of work of its own (with commit)':52} "
          f"median {own_median:6.3f}  max {own_worst:6.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--database-url")
    parser.add_argument("--keep", action="store_true", help="keep the data (and say where)")
    parser.add_argument("--verify", action="store_true", help="also time audit verify")
    args = parser.parse_args()

    box = SecretBox(generate_key())
    workdir = Path(tempfile.mkdtemp(prefix="chamberlain-bench-"))
    schema = None
    if args.database_url:
        schema = f"chamberlain_bench_{secrets.token_hex(4)}"
        store = SqlStore(args.database_url, schema=schema)
    else:
        store = SqlStore.from_data_dir(workdir)
    store.migrate()
    done = [0]
    started = time.perf_counter()

    def progress(n: int) -> None:
        done[0] += n
        if done[0] % 100_000 < n:
            rate = done[0] / (time.perf_counter() - started)
            print(f"  filled {done[0]:,} events ({rate:,.0f}/s)", flush=True)

    def everything() -> Iterator[list[Event]]:
        yield from _batches(generate(args.events, ACCOUNT, box, seed=1))
        yield from _batches(generate(max(args.events // 100, 1), OTHER, box, seed=2))

    fill = fill_postgres if store.dialect == "postgresql" else fill_sqlite
    print(f"Filling {store.describe()} ...", flush=True)
    fill(store, everything(), progress)
    print(f"  filled in {time.perf_counter() - started:,.0f} s")
    try:
        bench(store, box, args.events, args.runs)
        if args.verify:
            start = time.perf_counter()
            result = audit_trail.verify(store, box)
            took = time.perf_counter() - start
            print(f"\nverify: ok={result.ok}, {result.events:,} events in {took:,.1f} s")
    finally:
        store.close()
        if args.keep:
            print(f"\nkept: {schema or workdir}")
        elif schema is not None:
            import psycopg

            dsn = normalize_url(args.database_url).set(drivername="postgresql")
            with psycopg.connect(dsn.render_as_string(hide_password=False),
                                 autocommit=True) as conn:  # fmt: skip
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        else:
            for path in workdir.iterdir():
                path.unlink()
            workdir.rmdir()


if __name__ == "__main__":
    main()
