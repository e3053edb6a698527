"""Operating the audit trail: verify it, seal checkpoints, export it, prune it.

verify walks each account's chain (ops/audit/records.py) from its start, or from its prune
anchor, and names the first event that does not hold, and why:

- removed: a sequence number is missing (a row deleted; or deleted and the rest
  renumbered), or a signed digest covers events that are no longer there (the newest
  events cut off);
- inserted: the row at n is foreign, and the row after it is the genuine event n
  (a row slipped in and the rest renumbered);
- reordered: the rows at n and n + 1 are each other's genuine events;
- changed: the record or resources no longer match the hash, the seal does not match
  the hash (a hash recomputed by someone without the key, or a forged row at the end),
  or the columns LookupEvents filters on disagree with the record;
- unverifiable: sealed under a key the key file no longer holds;
- index: the lookup index (what a filtered LookupEvents and service-last-accessed read)
  does not hold exactly the rows the event's record gives: a row edited or deleted (the
  event would be hidden from a lookup) or added (it would show up where it should not);
- corrupt: the event's row cannot be read at all.

The index is recomputed from each verified event and checked in batches of INDEX_BATCH
events as the events stream by (memory stays bounded); then the index's row count must
equal the rows the events give, and when it does not the index is scanned for the rows no
event gives.

Digests ("checkpoint", "prune") are sealed statements (account, seq, hash, time, kind);
prune keeps the hash of the last event it deletes as a "prune" digest, from which
verification of what remains starts. Digests exported to a file outside the database
(`write_digest_file`, `chamberlain audit checkpoint --out FILE`) are checked like the
stored ones when verify is given them, so events deleted together with their stored
digests are still found missing.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chamberlain.crypto.secrets import SecretBox
from chamberlain.domain import Event
from chamberlain.ops.audit.records import (
    GENESIS,
    check_seal,
    digest_aad,
    event_fields,
    event_hash,
    event_seal_problem,
    make_digest,
    prune_anchor,
    resources_text,
)
from chamberlain.store.api import EventLog, Store
from chamberlain.store.events import CorruptEvent, Digest, IndexRow, index_rows

FORMATS = ("cloudtrail", "jsonl")
RECORDS_PER_FILE = 10_000
#: Events whose index rows are checked in one round trip by verify.
INDEX_BATCH = 500
DIGEST_FILE_FORMAT = "chamberlain-audit-digests/1"
_FIELD_NAMES = {
    "event_id": "EventId",
    "event_time": "EventTime",
    "event_name": "EventName",
    "event_source": "EventSource",
    "read_only": "ReadOnly",
    "username": "Username",
    "access_key_id": "AccessKeyId",
    "principal": "principal",
}


class AuditTrailError(Exception):
    """The trail cannot be pruned or exported as asked (its message says why)."""


@dataclass(frozen=True)
class Problem:
    account_id: str
    seq: int
    event_id: str | None
    kind: str  # removed | inserted | reordered | changed | unverifiable | digest | index
    # | corrupt
    reason: str

    def __str__(self) -> str:
        which = f"event {self.seq}" + (f" (eventID {self.event_id})" if self.event_id else "")
        return f"account {self.account_id}: {which} {self.kind}: {self.reason}"


@dataclass(frozen=True)
class VerifyResult:
    accounts: tuple[str, ...]
    events: int  # events that verified
    problems: tuple[Problem, ...] = ()  # the first problem of each account

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None


@dataclass(frozen=True)
class ExportResult:
    account_id: str
    events: int
    files: tuple[Path, ...]
    digest_file: Path | None


@dataclass(frozen=True)
class PruneResult:
    deleted: dict[str, int] = field(default_factory=dict)  # account -> events deleted


# -------------------------------------------------------------------------- verify


def _field_problem(event: Event) -> str | None:
    try:
        expected = event_fields(json.loads(event.record))
    except (ValueError, KeyError, TypeError):
        return "its record is not a CloudTrail record any more"
    resources_ok = all(isinstance(r, tuple) and len(r) == 2 for r in event.resources)
    wrong = [name for name, value in expected.items() if getattr(event, name) != value]
    if wrong or not resources_ok:
        names = ", ".join(_FIELD_NAMES[n] for n in wrong) or "Resources"
        return f"its indexed fields ({names}) do not match its record"
    return None


def _genuine_at(secrets: SecretBox, event: Event, seq: int, previous: str) -> bool:
    """Whether `event` is the genuine event `seq` following hash `previous`."""
    return (
        event_seal_problem(secrets, event, seq) is None
        and event_hash(event, previous, seq) == event.hash
    )


def _diagnose(
    secrets: SecretBox, event: Event, previous: str, following: Event | None
) -> tuple[str, str] | None:
    """(kind, reason) when `event` does not continue the chain at `previous`."""
    sealed = event_seal_problem(secrets, event)
    if sealed is not None and sealed.startswith("sealed with key id"):
        return "unverifiable", sealed
    if sealed is None:
        if event_hash(event, previous) != event.hash:
            return "changed", "its record or resources no longer match its hash"
        problem = _field_problem(event)
        return None if problem is None else ("changed", problem)
    seq = event.seq
    shifted = (
        following is not None
        and following.seq == seq + 1
        and _genuine_at(secrets, following, seq, previous)
    )
    if shifted:
        assert following is not None
        if _genuine_at(secrets, event, seq + 1, following.hash):
            return "reordered", f"it and event {seq + 1} were swapped"
        return "inserted", f"it is not part of the trail; event {seq + 1} is the genuine {seq}"
    if event_seal_problem(secrets, event, seq + 1) is None:
        return "removed", f"it is the genuine event {seq + 1}: event {seq} was removed"
    return "changed", f"{sealed}: changed (hash recomputed) or inserted"


def _peek(events: Iterator[Event]) -> Iterator[tuple[Event, Event | None]]:
    current = next(events, None)
    while current is not None:
        following = next(events, None)
        yield current, following
        current = following


def _row_text(row: IndexRow) -> str:
    name, value, _, _ = row
    return f"{name}={value!r}"


class _IndexCheck:
    """The lookup index of one account's verified events, checked INDEX_BATCH at a time."""

    def __init__(self, log: EventLog, account_id: str) -> None:
        self.log = log
        self.account_id = account_id
        self.pending: list[Event] = []
        self.expected = 0  # index rows the checked events give

    def add(self, event: Event) -> Problem | None:
        self.pending.append(event)
        return self.flush() if len(self.pending) >= INDEX_BATCH else None

    def flush(self) -> Problem | None:
        """The first pending event (by seq) whose index rows are not all there."""
        wanted = {e.seq: index_rows(e) for e in self.pending}
        rows = [row for event_rows in wanted.values() for row in event_rows]
        found = self.log.indexed(self.account_id, rows) if rows else set()
        for event in self.pending:
            missing = [row for row in wanted[event.seq] if row not in found]
            if missing:
                reason = (
                    f"its lookup index row {_row_text(missing[0])} is missing or was changed "
                    "(a filtered LookupEvents or service-last-accessed would not find it)"
                )
                return Problem(self.account_id, event.seq, event.event_id, "index", reason)
        self.expected += len(rows)
        self.pending = []
        return None

    def extra_rows(self, first_seq: int) -> Problem | None:
        """After every event checked: the index must hold no row beyond theirs. When its
        size says it does, scan it (in bounded batches) for the lowest such row's event."""
        if self.log.index_size(self.account_id) == self.expected:
            return None
        worst: tuple[int, IndexRow, Event | None] | None = None
        after: IndexRow | None = None
        while True:
            batch = self.log.index_scan(self.account_id, after)
            if not batch:
                break
            for row in batch:
                seq = row[3]
                if worst is not None and seq >= worst[0]:
                    continue
                event = self.log.get(self.account_id, seq) if seq >= first_seq else None
                if event is None or row not in index_rows(event):
                    worst = (seq, row, event)
            after = batch[-1]
        if worst is None:  # fewer rows than expected cannot be (each was found): a race
            return None
        seq, row, event = worst
        if event is None:
            reason = f"the lookup index has a row {_row_text(row)} for an event it does not hold"
            return Problem(self.account_id, seq, None, "index", reason)
        reason = (
            f"its lookup index has a row {_row_text(row)} its record does not give "
            "(a filtered LookupEvents would show it where it does not belong)"
        )
        return Problem(self.account_id, seq, event.event_id, "index", reason)


def _digest_problem(secrets: SecretBox, digests: Iterable[Digest], source: str) -> Problem | None:
    for d in digests:
        why = check_seal(
            secrets, d.seal, digest_aad(d.account_id, d.seq, d.hash, d.created, d.kind)
        )
        if why is not None:
            reason = f"the {source}{d.kind} digest: {why}"
            return Problem(d.account_id, d.seq, None, "digest", reason)
    return None


def verify_account(
    log: EventLog, secrets: SecretBox, account_id: str, exported: Sequence[Digest] = ()
) -> tuple[int, Problem | None]:
    """(events verified, the first problem) for one account's trail; `exported` are
    digests of the account read from a digest file (they count as the stored ones do)."""
    digests = log.digests(account_id)
    problem = _digest_problem(secrets, digests, "") or _digest_problem(
        secrets, exported, "exported "
    )
    if problem is not None:
        return 0, problem
    anchor = prune_anchor([*digests, *exported])
    seq, previous = (anchor.seq, anchor.hash) if anchor else (0, GENESIS)
    checkpoints = {d.seq: d for d in [*digests, *exported] if d.kind != "prune" and d.seq > seq}
    index = _IndexCheck(log, account_id)
    first_seq = seq + 1
    last_id: str | None = None
    count = 0

    def stop(problem: Problem) -> tuple[int, Problem]:
        """The chain broke at `problem`: an index problem of an earlier event comes first."""
        return count, index.flush() or problem

    try:
        for event, following in _peek(log.iterate(account_id, after_seq=seq)):
            if event.seq != seq + 1:
                after = f" after eventID {last_id}" if last_id else ""
                reason = f"events {seq + 1}..{event.seq - 1} are missing{after}"
                return stop(Problem(account_id, seq + 1, None, "removed", reason))
            diagnosis = _diagnose(secrets, event, previous, following)
            if diagnosis is not None:
                return stop(Problem(account_id, event.seq, event.event_id, *diagnosis))
            digest = checkpoints.get(event.seq)
            if digest is not None and digest.hash != event.hash:
                reason = f"it differs from the digest of {digest.created.isoformat()}"
                return stop(Problem(account_id, event.seq, event.event_id, "changed", reason))
            problem = index.add(event)
            if problem is not None:
                return count, problem
            seq, previous, last_id = event.seq, event.hash, event.event_id
            count += 1
    except CorruptEvent as corrupt:
        return stop(Problem(account_id, corrupt.seq, None, "corrupt", corrupt.reason))
    problem = index.flush()
    if problem is not None:
        return count, problem
    beyond = [d for d in checkpoints.values() if d.seq > seq]
    if beyond:
        digest = max(beyond, key=lambda d: d.seq)
        reason = (
            f"events {seq + 1}..{digest.seq} are missing: the digest of "
            f"{digest.created.isoformat()} covers them"
        )
        return count, Problem(account_id, seq + 1, None, "removed", reason)
    try:
        return count, index.extra_rows(first_seq)
    except CorruptEvent as corrupt:
        return count, Problem(account_id, corrupt.seq, None, "corrupt", corrupt.reason)


def verify(
    store: Store,
    secrets: SecretBox,
    account_id: str | None = None,
    *,
    digests: Sequence[Digest] = (),
) -> VerifyResult:
    """Verify every account's trail (or one account's), against the stored digests and
    `digests` (read from an exported digest file: their accounts are verified too, even
    if the database no longer has a trail for them)."""
    problems: list[Problem] = []
    total = 0
    with store.unit_of_work(read_only=True) as uow:
        if account_id:
            accounts = [account_id]
        else:
            accounts = sorted({*uow.events.accounts(), *(d.account_id for d in digests)})
        for account in accounts:
            exported = [d for d in digests if d.account_id == account]
            count, problem = verify_account(uow.events, secrets, account, exported)
            total += count
            if problem is not None:
                problems.append(problem)
    return VerifyResult(tuple(accounts), total, tuple(problems))


# --------------------------------------------------------------------- digest files


def stored_digests(store: Store, account_id: str | None = None) -> list[Digest]:
    """Every stored digest (of one account, or of all)."""
    with store.unit_of_work(read_only=True) as uow:
        accounts = [account_id] if account_id else uow.events.accounts()
        return [d for account in accounts for d in uow.events.digests(account)]


def _digest_json(d: Digest) -> dict[str, Any]:
    return {
        "accountId": d.account_id,
        "seq": d.seq,
        "hash": d.hash,
        "created": d.created.astimezone(dt.UTC).isoformat(),
        "kind": d.kind,
        "seal": d.seal.hex(),
    }


def read_digest_file(path: str | Path) -> list[Digest]:
    """The digests of a file `write_digest_file` wrote (AuditTrailError if it is not one).
    Each digest carries its own seal: verify checks them."""
    try:
        body = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(body, dict) or body.get("format") != DIGEST_FILE_FORMAT:
            raise ValueError(f"not a {DIGEST_FILE_FORMAT} file")
        return [
            Digest(
                str(d["accountId"]),
                int(d["seq"]),
                str(d["hash"]),
                dt.datetime.fromisoformat(d["created"]).astimezone(dt.UTC),
                str(d["kind"]),
                bytes.fromhex(d["seal"]),
            )
            for d in body["digests"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AuditTrailError(f"cannot read the digest file {path}: {exc}") from None


def write_digest_file(path: str | Path, digests: Iterable[Digest]) -> int:
    """Add `digests` to the digest file at `path` (created if missing; the digests it
    already has are kept), replacing it atomically. Returns how many it then holds."""
    target = Path(path)
    kept = read_digest_file(target) if target.exists() else []
    merged = {(d.account_id, d.seq, d.kind, d.hash): d for d in [*kept, *digests]}
    ordered = sorted(merged.values(), key=lambda d: (d.account_id, d.seq, d.kind))
    body = {"format": DIGEST_FILE_FORMAT, "digests": [_digest_json(d) for d in ordered]}
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, target)
    return len(ordered)


# ---------------------------------------------------------------------- checkpoints


def checkpoint(
    store: Store, secrets: SecretBox, account_id: str | None = None, now: dt.datetime | None = None
) -> list[Digest]:
    """Seal a digest of each account's chain head (every account with a trail)."""
    now = now or dt.datetime.now(dt.UTC)
    with store.unit_of_work(read_only=True) as uow:
        accounts = [account_id] if account_id else uow.events.accounts()
    made: list[Digest] = []
    for account in accounts:
        with store.unit_of_work() as uow:
            uow.lock_account(account)
            head = uow.events.last(account)
            if head is None:
                continue
            digest = make_digest(secrets, account, head.seq, head.hash, now, "checkpoint")
            uow.events.add_digest(digest)
            made.append(digest)
    return made


# -------------------------------------------------------------------------- export


def _log_file_name(account: str, region: str, hour: dt.datetime, first_seq: int) -> Path:
    """CloudTrail's layout: AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/
    ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE.json.gz"""
    stamp = hour.strftime("%Y%m%dT%H%MZ")
    name = f"{account}_CloudTrail_{region}_{stamp}_{first_seq:016d}.json.gz"
    return Path("AWSLogs", account, "CloudTrail", region, hour.strftime("%Y/%m/%d"), name)


def _write_gzip_records(path: Path, records: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = '{"Records":[' + ",".join(records) + "]}"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(body)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export(
    store: Store,
    secrets: SecretBox,
    account_id: str,
    out_dir: str | Path,
    fmt: str = "cloudtrail",
    *,
    now: dt.datetime | None = None,
) -> ExportResult:
    """Write an account's trail: "cloudtrail" (gzipped {"Records": [...]} files, one per
    region and hour, in CloudTrail's directory layout) or "jsonl" (one record a line).

    Beside them, ACCOUNT_CloudTrail-Digest.json lists each exported event's seq, eventID,
    hash and resources, the hash before the first, and each file's SHA-256, sealed with
    the operator's key; a checkpoint digest of the last exported event is stored too.
    """
    if fmt not in FORMATS:
        raise AuditTrailError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    chain: list[dict[str, Any]] = []
    start_hash = GENESIS
    with store.unit_of_work(read_only=True) as uow:
        # Like prune: a trail that does not verify is not exported, so an export (whose
        # digest is signed) never vouches for a tampered event.
        _, problem = verify_account(uow.events, secrets, account_id)
        if problem is not None:
            raise AuditTrailError(f"not exporting a trail that does not verify: {problem}")
        anchor = prune_anchor(uow.events.digests(account_id))
        if anchor is not None:
            start_hash = anchor.hash
        events = uow.events.iterate(account_id)
        if fmt == "jsonl":
            path = out / f"{account_id}_CloudTrail.jsonl"
            with path.open("w", encoding="utf-8") as handle:
                for event in events:
                    handle.write(event.record + "\n")
                    chain.append(_chain_entry(event))
            files.append(path)
        else:
            files.extend(_export_log_files(out, account_id, events, chain))
    if not chain:
        return ExportResult(account_id, 0, tuple(files), None)
    digest_file = out / f"{account_id}_CloudTrail-Digest.json"
    body = {
        "awsAccountId": account_id,
        "digestStartSeq": chain[0]["seq"],
        "digestEndSeq": chain[-1]["seq"],
        "previousHash": start_hash,
        "lastHash": chain[-1]["hash"],
        "hashAlgorithm": "SHA-256 chain (chamberlain.ops.audit.chain_hash)",
        "logFiles": [{"path": str(p.relative_to(out)), "sha256": _sha256_file(p)} for p in files],
        "events": chain,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    seal = secrets.encrypt(b"", b"chamberlain audit export v1\x00" + text.encode())
    signed = {**body, "signature": seal.hex(), "signatureKeyId": secrets.current_key_id}
    digest_file.write_text(json.dumps(signed, ensure_ascii=False, indent=1), encoding="utf-8")
    last = chain[-1]
    with store.unit_of_work() as uow:
        uow.lock_account(account_id)
        when = now or dt.datetime.now(dt.UTC)
        digest = make_digest(secrets, account_id, last["seq"], last["hash"], when, "checkpoint")
        uow.events.add_digest(digest)
    return ExportResult(account_id, len(chain), tuple(files), digest_file)


def _chain_entry(event: Event) -> dict[str, Any]:
    entry: dict[str, Any] = {"seq": event.seq, "eventID": event.event_id, "hash": event.hash}
    if event.resources:
        entry["resources"] = json.loads(resources_text(event.resources))
    return entry


def _export_log_files(
    out: Path, account: str, events: Iterator[Event], chain: list[dict[str, Any]]
) -> list[Path]:
    """Stream events (seq order) into files; a file closes when region or hour changes."""
    files: list[Path] = []
    batch: list[str] = []
    key: tuple[str, dt.datetime] | None = None
    first_seq = 0

    def flush() -> None:
        if batch and key is not None:
            path = out / _log_file_name(account, key[0], key[1], first_seq)
            _write_gzip_records(path, batch)
            files.append(path)

    for event in events:
        region = str(json.loads(event.record).get("awsRegion") or "us-east-1")
        hour = event.event_time.replace(minute=0, second=0, microsecond=0)
        if (region, hour) != key or len(batch) >= RECORDS_PER_FILE:
            flush()
            batch, key, first_seq = [], (region, hour), event.seq
        batch.append(event.record)
        chain.append(_chain_entry(event))
    flush()
    return files


# --------------------------------------------------------------------------- prune


def prune(
    store: Store,
    secrets: SecretBox,
    before: dt.datetime,
    *,
    account_id: str | None = None,
    now: dt.datetime | None = None,
) -> PruneResult:
    """Delete events older than `before` (per account: those below its first event at or
    after `before`), keeping the last deleted event's hash as a sealed "prune" digest.

    Each account's trail is verified first, under its lock; an account whose trail does
    not verify is not pruned (AuditTrailError names the problem), so pruning never
    launders a tampered event into an anchor.
    """
    now = now or dt.datetime.now(dt.UTC)
    with store.unit_of_work(read_only=True) as uow:
        accounts = [account_id] if account_id else uow.events.accounts()
    result = PruneResult()
    for account in accounts:
        with store.unit_of_work() as uow:
            uow.lock_account(account)
            _, problem = verify_account(uow.events, secrets, account)
            if problem is not None:
                raise AuditTrailError(f"not pruning a trail that does not verify: {problem}")
            pruned = uow.events.prune(account, before)
            if pruned.last is not None:
                last = pruned.last
                uow.events.add_digest(
                    make_digest(secrets, account, last.seq, last.hash, now, "prune")
                )
            result.deleted[account] = pruned.count
    return result
