"""The audit trail over the wire: `aws cloudtrail lookup-events`, denied calls and failed
sign-ins recorded, secrets redacted, and `chamberlain audit verify`."""

from __future__ import annotations

import json
import uuid

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
