"""The audit trail over the wire: `aws cloudtrail lookup-events`, denied calls and failed
sign-ins recorded, secrets redacted, and `chamberlain audit verify`."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, Server, run_cli


def events(server: Server, **kwargs) -> list[dict]:
    trail = server.client("cloudtrail")
    return trail.lookup_events(**kwargs)["Events"]


def test_calls_are_recorded_and_looked_up(server: Server) -> None:
    iam = server.client("iam")
    name = f"aud-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    found = events(
        server,
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateAccessKey"}],
    )
    record = next(
        json.loads(e["CloudTrailEvent"])
        for e in found
        if json.loads(e["CloudTrailEvent"])["requestParameters"].get("userName") == name
    )
    assert record["eventSource"] == "iam.amazonaws.com"
    assert record["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/admin"
    assert record["recipientAccountId"] == ACCOUNT
    assert key["SecretAccessKey"] not in json.dumps(record)
    # A denied call is recorded too, with AWS's error code.
    denied = server.client_with_keys("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError):
        denied.list_users()
    mine = events(server, LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": name}])
    codes = {json.loads(e["CloudTrailEvent"]).get("errorCode") for e in mine}
    assert "AccessDenied" in codes


def test_failed_signature_by_known_key_is_recorded(server: Server) -> None:
    iam = server.client("iam")
    name = f"sig-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    with pytest.raises(ClientError):
        server.client_with_keys("sts", key["AccessKeyId"], "x" * 40).get_caller_identity()
    found = events(
        server,
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key["AccessKeyId"]}],
    )
    assert any(
        json.loads(e["CloudTrailEvent"]).get("errorCode") == "SignatureDoesNotMatch" for e in found
    )


def test_wrong_signatures_are_counted_not_each_recorded_and_throttled(server: Server) -> None:
    """A key id is no secret: wrong signatures with it cost one counter update each, one
    event per window (plus a summary once the window ended), and past the limit (100 in 5
    minutes per key) an AWS Throttling answer with no write at all. The key's owner,
    signing rightly, is never throttled."""
    iam = server.client("iam")
    name = f"flood-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    forged = server.client_with_keys("sts", key["AccessKeyId"], "x" * 40)
    codes = []
    for _ in range(102):
        with pytest.raises(ClientError) as exc:
            forged.get_caller_identity()
        codes.append(exc.value.response["Error"]["Code"])
    assert codes[:100] == ["SignatureDoesNotMatch"] * 100
    assert codes[100:] == ["Throttling", "Throttling"]
    assert exc.value.response["Error"]["Message"] == "Rate exceeded"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    owner = server.client_with_keys("sts", key["AccessKeyId"], key["SecretAccessKey"])
    assert owner.get_caller_identity()["Arn"].endswith(f":user/{name}")
    by_key = [{"AttributeKey": "AccessKeyId", "AttributeValue": key["AccessKeyId"]}]
    failed = [
        e
        for e in events(server, LookupAttributes=by_key)
        if json.loads(e["CloudTrailEvent"]).get("errorCode") == "SignatureDoesNotMatch"
    ]
    assert len(failed) == 1


def test_lookup_errors_and_cli(server: Server) -> None:
    trail = server.client("cloudtrail")
    with pytest.raises(ClientError) as exc:
        trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateUser"}],
            StartTime="2026-01-02",
            EndTime="2026-01-01",
        )
    assert exc.value.response["Error"]["Code"] == "InvalidTimeRangeException"
    with pytest.raises(ClientError) as exc:
        trail.lookup_events(NextToken="forged")
    assert exc.value.response["Error"]["Code"] == "InvalidNextTokenException"
    # What boto3 lets through (it checks minimums, not maximums or enums) gets
    # CloudTrail's own codes, not a generic ValidationException.
    for kwargs, code in (
        ({"MaxResults": 51}, "InvalidMaxResultsException"),
        (
            {"LookupAttributes": [{"AttributeKey": "Colour", "AttributeValue": "x"}]},
            "InvalidLookupAttributesException",
        ),
        ({"EventCategory": "everything"}, "InvalidEventCategoryException"),
    ):
        with pytest.raises(ClientError) as exc:
            trail.lookup_events(**kwargs)
        error = exc.value.response
        assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (code, 400)
    out = server.aws(
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        "AttributeKey=EventSource,AttributeValue=iam.amazonaws.com",
        "--max-results",
        "5",
    )
    assert out["Events"] and all(e["EventSource"] == "iam.amazonaws.com" for e in out["Events"])


def test_audit_verify_command(server: Server) -> None:
    done = run_cli("audit", "verify", "--data-dir", str(server.data_dir))
    assert done.returncode == 0, done.stdout + done.stderr


def test_audit_commands_on_a_damaged_data_dir_fail_in_one_line(server: Server, tmp_path) -> None:
    """A corrupt database or settings file: exit 1 with one line, no traceback."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(server.data_dir, copy, ignore=shutil.ignore_patterns("*.db-*"))
    (copy / "chamberlain.db").write_bytes(b"not a database" * 100)
    for command in ("verify", "checkpoint"):
        done = run_cli("audit", command, "--data-dir", str(copy))
        assert done.returncode == 1, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert done.stderr.startswith("chamberlain: ") and done.stderr.count("\n") == 1
    (copy / "chamberlain.toml").write_text("audit_retention_days = [")
    done = run_cli("audit", "verify", "--data-dir", str(copy))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    done = run_cli("audit", "prune", "--data-dir", str(server.data_dir), "--before", "garbage")
    assert done.returncode == 1 and "not a usable time" in done.stderr


def test_audit_prune_uses_the_retention_setting(server: Server, tmp_path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(server.data_dir, copy)
    done = run_cli("audit", "prune", "--data-dir", str(copy))
    assert done.returncode == 1 and "audit_retention_days" in done.stderr
    (copy / "chamberlain.toml").write_text("audit_retention_days = 3650\n")
    done = run_cli("audit", "prune", "--data-dir", str(copy))
    assert done.returncode == 0, done.stdout + done.stderr
    assert run_cli("audit", "verify", "--data-dir", str(copy)).returncode == 0


def _copy_data_dir(server: Server, tmp_path) -> Any:
    """A consistent copy of the server's data directory (SQLite's backup API)."""
    import shutil
    import sqlite3

    copy = tmp_path / "copy"
    shutil.copytree(server.data_dir, copy, ignore=shutil.ignore_patterns("chamberlain.db*"))
    source = sqlite3.connect(server.data_dir / "chamberlain.db")
    with source, sqlite3.connect(copy / "chamberlain.db") as target:
        source.backup(target)
    source.close()
    return copy


def test_audit_verify_names_an_edited_index_row(server: Server, tmp_path) -> None:
    """One index row edited with sqlite3 hides a call from a filtered LookupEvents (and from
    service-last-accessed); verify names the event (issue #15)."""
    import sqlite3

    name = f"idx-{uuid.uuid4().hex[:8]}"
    server.client("iam").create_user(UserName=name)
    copy = _copy_data_dir(server, tmp_path)
    with sqlite3.connect(copy / "chamberlain.db") as db:
        seq, event_id = db.execute(
            "SELECT seq, event_id FROM events WHERE event_name = 'CreateUser' AND resources LIKE ?",
            (f"%{name}%",),
        ).fetchone()
        changed = db.execute(
            "UPDATE event_attributes SET value = 'nobody' WHERE name = 'ResourceName' "
            "AND value = ? AND seq = ?",
            (name, seq),
        ).rowcount
    assert changed == 1
    done = run_cli("audit", "verify", "--data-dir", str(copy))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"event {seq} (eventID {event_id}) index" in done.stdout
    assert "NOT intact" in done.stdout


def test_audit_verify_names_a_corrupt_event_row(server: Server, tmp_path) -> None:
    import sqlite3

    copy = _copy_data_dir(server, tmp_path)
    with sqlite3.connect(copy / "chamberlain.db") as db:
        db.execute("UPDATE events SET resources = '[' WHERE seq = 2")
    done = run_cli("audit", "verify", "--data-dir", str(copy))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "event 2 corrupt: its row cannot be read" in done.stdout
    assert "Traceback" not in done.stderr


def test_audit_verify_against_exported_digests(server: Server, tmp_path) -> None:
    """`audit checkpoint --out FILE` keeps digests outside the database; deleting the
    newest events together with the stored digests passes a plain verify but not
    `verify --digests FILE`."""
    import sqlite3

    server.client("iam").list_users()
    copy = _copy_data_dir(server, tmp_path)
    exported = tmp_path / "outside" / "digests.json"
    exported.parent.mkdir()
    done = run_cli("audit", "checkpoint", "--data-dir", str(copy), "--out", str(exported))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"in {exported}" in done.stdout
    done = run_cli("audit", "verify", "--data-dir", str(copy), "--digests", str(exported))
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(copy / "chamberlain.db") as db:
        (last,) = db.execute(
            "SELECT max(seq) FROM events WHERE account_id = ?", (ACCOUNT,)
        ).fetchone()
        db.execute("DELETE FROM events WHERE account_id = ? AND seq >= ?", (ACCOUNT, last - 1))
        db.execute(
            "DELETE FROM event_attributes WHERE account_id = ? AND seq >= ?", (ACCOUNT, last - 1)
        )
        db.execute("DELETE FROM event_digests")
    assert run_cli("audit", "verify", "--data-dir", str(copy)).returncode == 0
    done = run_cli("audit", "verify", "--data-dir", str(copy), "--digests", str(exported))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"event {last - 1} removed" in done.stdout
    done = run_cli("audit", "verify", "--data-dir", str(copy), "--digests", str(tmp_path / "no"))
    assert done.returncode == 1 and "cannot read the digest file" in done.stderr
