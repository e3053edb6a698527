"""GenerateCredentialReport / GetCredentialReport: AWS's CSV, state machine, errors.

Accounts are built straight in the store (domain entities), so these tests do not
depend on the operations that create users, keys and MFA devices.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.parsers import QueryParser

from chamberlain.domain import (
    ROOT,
    AccessKey,
    Account,
    CredentialReport,
    InlinePolicy,
    LoginProfile,
    MfaDevice,
    PasswordPolicy,
    SigningCertificate,
    User,
)
from chamberlain.ops.core.context import Caller, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.iam.credential_report import COLUMNS
from chamberlain.protocol.models import find_operation
from chamberlain.protocol.xml_out import serialize_response
from chamberlain.store.sql import SqlStore

from ..conftest import ACCOUNT, NOW, meta, root_caller, user_caller

HEADER = ",".join(COLUMNS)
T0 = dt.datetime(2026, 11, 1, 8, 30, 15, tzinfo=dt.UTC)  # entity times before NOW
ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"


def t(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def put(services: Services, *entities: Any) -> None:
    with services.store.unit_of_work() as uow:
        for entity in entities:
            uow.repo(type(entity)).put(entity)


def user(name: str = "alice", **fields: Any) -> User:
    return User(
        ACCOUNT,
        f"AIDA{name.upper():0<17}"[:21],
        name,
        "/",
        f"arn:aws:iam::{ACCOUNT}:user/{name}",
        fields.pop("created", T0),
        **fields,
    )


def login(name: str = "alice", password_set: dt.datetime = T0) -> LoginProfile:
    return LoginProfile(ACCOUNT, name, "hash", T0, password_set)


def key(key_id: str, created: dt.datetime, owner: str = "alice", **fields: Any) -> AccessKey:
    fields.setdefault("status", "Active")
    return AccessKey(ACCOUNT, owner, key_id, b"sealed", created=created, **fields)


def mfa(serial: str, owner: str | None) -> MfaDevice:
    enabled = T0 if owner else None
    return MfaDevice(ACCOUNT, serial, b"seed", T0, user_name=owner, enabled=enabled)


def cert(cert_id: str, uploaded: dt.datetime, status: str = "Active", owner: str = "alice"):
    return SigningCertificate(ACCOUNT, owner, cert_id, "body", status, uploaded)


@pytest.fixture
def call(services: Services) -> Callable[..., Any]:
    """Run an operation at a given time, as root unless told, and check its output
    serializes to what botocore reads back (Content as bytes, GeneratedTime as time)."""

    def run(name: str, now: dt.datetime = NOW, caller: Caller | None = None) -> Any:
        out = execute(services, caller or root_caller(), meta(now), "iam", name, {})
        op = find_operation("iam", name)
        assert op is not None
        body = serialize_response("iam", name, out, "req")
        parsed = QueryParser().parse(
            {"body": body, "headers": {}, "status_code": 200}, op.output_shape
        )
        parsed.pop("ResponseMetadata", None)
        assert parsed == out
        return out

    return run


def report_lines(call: Callable[..., Any], now: dt.datetime = NOW) -> list[str]:
    assert call("GenerateCredentialReport", now)["State"] == "STARTED"
    content = call("GetCredentialReport", now)["Content"]
    return content.decode("utf-8").split("\n")


def error_of(excinfo: pytest.ExceptionInfo[ServiceError]) -> tuple[str, int]:
    return excinfo.value.code, excinfo.value.http_status


# ------------------------------------------------------------------- the value rules

USED = t(30)
ROTATION_BASE = t(1)

# (rule, entities besides user alice, alice's row after `user,arn,user_creation_time,`)
ROW_CASES: list[tuple[str, tuple[Any, ...], str]] = [
    (
        "no credentials at all: false and N/A everywhere",
        (),
        "false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ),
    (
        "password never used: no_information; last changed is when it was set",
        (login(password_set=ROTATION_BASE),),
        f"true,no_information,{iso(ROTATION_BASE)},N/A,false,"
        "false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ),
    (
        "password used: its last use",
        (login(), user(password_last_used=USED)),
        f"true,{iso(USED)},{iso(T0)},N/A,false,"
        "false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ),
    (
        "password policy with MaxPasswordAge: next rotation is last change + age days",
        (login(password_set=ROTATION_BASE), PasswordPolicy(ACCOUNT, max_password_age=90)),
        f"true,no_information,{iso(ROTATION_BASE)},"
        f"{iso(ROTATION_BASE + dt.timedelta(days=90))},false,"
        "false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ),
    (
        "password policy without expiry: next rotation N/A",
        (login(), PasswordPolicy(ACCOUNT, minimum_password_length=12)),
        f"true,no_information,{iso(T0)},N/A,false,"
        "false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ),
    (
        "expiring passwords but no password: every password column N/A",
        (PasswordPolicy(ACCOUNT, max_password_age=30),),
        "false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ),
    (
        "password deleted after use: the last use stays, the rest is N/A",
        (user(password_last_used=USED),),
        f"false,{iso(USED)},N/A,N/A,false,"
        "false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ),
    (
        "an enabled MFA device: mfa_active true",
        (mfa("arn:aws:iam::111111111111:mfa/alice", "alice"),),
        "false,N/A,N/A,N/A,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ),
    (
        "an unassigned MFA device or another user's: mfa_active false",
        (mfa("arn:aws:iam::111111111111:mfa/spare", None), mfa("arn:m/bob", "bob")),
        "false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ),
    (
        "an active key never used: last rotated is its creation, last used N/A",
        (key("AKIAONE", t(2)),),
        "false,N/A,N/A,N/A,false,"
        f"true,{iso(t(2))},N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ),
    (
        "a used key: date, region and service of the last use",
        (
            key(
                "AKIAONE",
                t(2),
                last_used=USED,
                last_used_service="ec2",
                last_used_region="eu-west-1",
            ),
        ),
        "false,N/A,N/A,N/A,false,"
        f"true,{iso(t(2))},{iso(USED)},eu-west-1,ec2,"
        "false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ),
    (
        "last used with a service that is not regional: region N/A",
        (key("AKIAONE", t(2), last_used=USED, last_used_service="s3"),),
        "false,N/A,N/A,N/A,false,"
        f"true,{iso(t(2))},{iso(USED)},N/A,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ),
    (
        "an inactive key: active false, its rotation date stays",
        (key("AKIAONE", t(2), status="Inactive"),),
        "false,N/A,N/A,N/A,false,"
        f"false,{iso(t(2))},N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ),
    (
        "two keys: key 1 is the older, whatever the ids' order",
        (
            key("AKIAAAAA", t(5), status="Inactive"),
            key(
                "AKIAZZZZ",
                t(3),
                last_used=USED,
                last_used_service="sts",
                last_used_region="us-east-1",
            ),
        ),
        "false,N/A,N/A,N/A,false,"
        f"true,{iso(t(3))},{iso(USED)},us-east-1,sts,"
        f"false,{iso(t(5))},N/A,N/A,N/A,false,N/A,false,N/A",
    ),
    (
        "another user's keys and the root's keys are not alice's",
        (key("AKIABOB", t(2), owner="bob"), key("AKIAROOT", t(2), owner=ROOT)),
        "false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ),
    (
        "signing certificates: oldest first, inactive keeps its date",
        (cert("CERTB", t(4)), cert("CERTA", t(6), status="Inactive")),
        "false,N/A,N/A,N/A,false,"
        "false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,"
        f"true,{iso(t(4))},false,{iso(t(6))}",
    ),
    (
        "times are UTC, whole seconds, +00:00 whatever the stored zone and precision",
        (
            key(
                "AKIAONE",
                dt.datetime(
                    2026, 11, 2, 1, 2, 3, 987654, tzinfo=dt.timezone(dt.timedelta(hours=2))
                ),
            ),
        ),
        "false,N/A,N/A,N/A,false,"
        "true,2026-11-01T23:02:03+00:00,N/A,N/A,N/A,"
        "false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ),
]


@pytest.mark.parametrize(
    ("entities", "expected"),
    [(entities, expected) for _, entities, expected in ROW_CASES],
    ids=[rule for rule, _, _ in ROW_CASES],
)
def test_user_row_values(call, services: Services, entities: tuple[Any, ...], expected: str):
    put(services, user(), *entities)
    lines = report_lines(call)
    rows = [line for line in lines if line.startswith("alice,")]
    assert rows == [f"alice,{ARN},{iso(T0)},{expected}"]
    assert len(expected.split(",")) == len(COLUMNS) - 3


ROOT_CASES: list[tuple[str, tuple[Any, ...], dict[str, Any], str]] = [
    (
        "root without credentials: password columns not_supported, never signed in",
        (),
        {},
        "not_supported,no_information,not_supported,not_supported,false,"
        "false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ),
    (
        "root password used, MFA, a key, a certificate; password policy does not apply",
        (
            mfa("arn:aws:iam::111111111111:mfa/root-account-mfa-device", ROOT),
            key("AKIAROOT", t(2), owner=ROOT, last_used=USED, last_used_service="iam"),
            cert("CERTROOT", t(3), owner=ROOT),
            PasswordPolicy(ACCOUNT, max_password_age=90),
        ),
        {"root_password_last_used": USED},
        f"not_supported,{iso(USED)},not_supported,not_supported,true,"
        f"true,{iso(t(2))},{iso(USED)},N/A,iam,false,N/A,N/A,N/A,N/A,"
        f"true,{iso(t(3))},false,N/A",
    ),
]


@pytest.mark.parametrize(
    ("entities", "account_fields", "expected"),
    [(entities, fields, expected) for _, entities, fields, expected in ROOT_CASES],
    ids=[rule for rule, *_ in ROOT_CASES],
)
def test_root_row_values(
    call, services: Services, entities: tuple[Any, ...], account_fields: dict, expected: str
):
    account = Account(ACCOUNT, "root@example.com", "x", T0, **account_fields)
    put(services, account, *entities)
    lines = report_lines(call)
    assert lines[0] == HEADER
    assert lines[1] == f"<root_account>,arn:aws:iam::{ACCOUNT}:root,{iso(T0)},{expected}"
    assert len(lines) == 2  # no users: the root row only


# --------------------------------------------------------------------- whole report


def test_whole_report_text(call, services: Services):
    put(
        services,
        Account(ACCOUNT, "root@example.com", "x", T0, root_password_last_used=t(40)),
        mfa("arn:aws:iam::111111111111:mfa/root-account-mfa-device", ROOT),
        user("carol", created=t(2), password_last_used=t(20)),
        login("carol", password_set=t(3)),
        key("AKIACAROL1", t(4), owner="carol", last_used=t(21), last_used_service="s3"),
        user("Bob", created=t(1)),
        key("AKIABOB1", t(5), owner="Bob", status="Inactive"),
        key("AKIABOB2", t(6), owner="Bob"),
        mfa("arn:aws:iam::111111111111:mfa/bob", "Bob"),
        PasswordPolicy(ACCOUNT, max_password_age=30),
    )
    assert call("GenerateCredentialReport") == {
        "State": "STARTED",
        "Description": "No report exists. Starting a new report generation task",
    }
    out = call("GetCredentialReport")
    assert out["ReportFormat"] == "text/csv"
    assert out["GeneratedTime"] == NOW
    # Root first, then users by name (case-insensitively); "\n" between rows, none at the end.
    assert out["Content"].decode() == (
        f"{HEADER}\n"
        "<root_account>,arn:aws:iam::111111111111:root,2026-11-01T08:30:15+00:00,"
        "not_supported,2026-11-03T00:30:15+00:00,not_supported,not_supported,true,"
        "false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
        "Bob,arn:aws:iam::111111111111:user/Bob,2026-11-01T09:30:15+00:00,"
        "false,N/A,N/A,N/A,true,"
        "false,2026-11-01T13:30:15+00:00,N/A,N/A,N/A,"
        "true,2026-11-01T14:30:15+00:00,N/A,N/A,N/A,false,N/A,false,N/A\n"
        "carol,arn:aws:iam::111111111111:user/carol,2026-11-01T10:30:15+00:00,"
        "true,2026-11-02T04:30:15+00:00,2026-11-01T11:30:15+00:00,2026-12-01T11:30:15+00:00,"
        "false,true,2026-11-01T12:30:15+00:00,2026-11-02T05:30:15+00:00,N/A,s3,"
        "false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
    )


def test_names_with_commas_are_quoted(call, services: Services):
    put(services, user("ops,admin"))
    row = report_lines(call)[2]
    assert row.startswith(
        '"ops,admin","arn:aws:iam::111111111111:user/ops,admin",2026-11-01T08:30:15+00:00,false,'
    )


def test_user_paths_appear_in_the_arn(call, services: Services):
    put(
        services,
        User(
            ACCOUNT,
            "AIDAPATHEXAMPLE000001",
            "dev",
            "/eng/",
            ARN.replace("user/alice", "user/eng/dev"),
            T0,
        ),
    )
    assert report_lines(call)[2].startswith(f"dev,arn:aws:iam::{ACCOUNT}:user/eng/dev,")


# -------------------------------------------------------------------- state machine


def test_get_before_any_report_is_report_not_present(call):
    with pytest.raises(ServiceError) as excinfo:
        call("GetCredentialReport")
    assert error_of(excinfo) == ("ReportNotPresent", 410)
    assert excinfo.value.message == (
        "The request was rejected because the credential report does not exist. "
        "To generate a credential report, use GenerateCredentialReport."
    )


def test_report_is_reused_for_four_hours_then_expires(call, services: Services):
    put(services, user("alice"))
    assert call("GenerateCredentialReport", t(0))["State"] == "STARTED"
    first = call("GetCredentialReport", t(0))
    assert first["GeneratedTime"] == t(0)

    # A snapshot: later changes are not in it, and a new request within four hours
    # reuses it (COMPLETE, no description, as AWS answers).
    put(services, user("bob"))
    assert call("GenerateCredentialReport", t(3.99)) == {"State": "COMPLETE"}
    just_before = t(4) - dt.timedelta(seconds=1)
    assert call("GetCredentialReport", just_before) == first

    with pytest.raises(ServiceError) as excinfo:
        call("GetCredentialReport", t(4))
    assert error_of(excinfo) == ("ReportExpired", 410)
    assert excinfo.value.message.startswith(
        "The request was rejected because the most recent credential report has expired."
    )

    assert call("GenerateCredentialReport", t(4)) == {
        "State": "STARTED",
        "Description": "No report exists. Starting a new report generation task",
    }
    second = call("GetCredentialReport", t(4))
    assert second["GeneratedTime"] == t(4)
    assert [r.split(",")[0] for r in second["Content"].decode().split("\n")[2:]] == [
        "alice",
        "bob",
    ]
    assert b"\nbob," not in first["Content"]


def test_generated_time_is_whole_seconds(call):
    now = NOW + dt.timedelta(microseconds=654321)
    call("GenerateCredentialReport", now)
    assert call("GetCredentialReport", now)["GeneratedTime"] == NOW


def test_reports_are_per_account(call, services: Services):
    other = "222222222222"
    put(services, Account(other, "other@example.com", "x", T0))
    call("GenerateCredentialReport")
    with pytest.raises(ServiceError) as excinfo:
        call("GetCredentialReport", caller=root_caller(other))
    assert error_of(excinfo) == ("ReportNotPresent", 410)
    call("GenerateCredentialReport", caller=root_caller(other))
    content = call("GetCredentialReport", caller=root_caller(other))["Content"].decode()
    assert content.split("\n")[1].startswith(f"<root_account>,arn:aws:iam::{other}:root,")


def test_error_codes_match_the_model():
    from chamberlain.ops.core.errors import ReportExpired, ReportInProgress, ReportNotPresent

    op = find_operation("iam", "GetCredentialReport")
    assert op is not None
    model = {
        e.metadata["error"]["code"]: e.metadata["error"]["httpStatusCode"] for e in op.error_shapes
    }
    for cls in (ReportNotPresent, ReportExpired, ReportInProgress):
        assert model[cls.code] == cls.http_status


# -------------------------------------------------------------------- authorization


@pytest.mark.parametrize("action", ["GenerateCredentialReport", "GetCredentialReport"])
def test_users_need_permission(call, services: Services, action: str):
    put(services, user("alice"))
    call("GenerateCredentialReport")  # so GetCredentialReport has something to deny
    with pytest.raises(ServiceError) as excinfo:
        call(action, caller=user_caller("alice"))
    assert excinfo.value.code == "AccessDenied"
    assert f"iam:{action} on resource: *" in excinfo.value.message

    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": f"iam:{action}", "Resource": "*"}],
        }
    )
    put(services, InlinePolicy(ACCOUNT, "user", "alice", "report", document))
    assert call(action, caller=user_caller("alice"))


def test_generate_permission_does_not_grant_get(call, services: Services):
    put(services, user("alice"))
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "iam:GenerateCredentialReport", "Resource": "*"}
            ],
        }
    )
    put(services, InlinePolicy(ACCOUNT, "user", "alice", "report", document))
    assert call("GenerateCredentialReport", caller=user_caller("alice"))["State"] == "STARTED"
    with pytest.raises(ServiceError) as excinfo:
        call("GetCredentialReport", caller=user_caller("alice"))
    assert excinfo.value.code == "AccessDenied"


# ------------------------------------------------------------------------ the store


def test_report_entity_round_trips_through_the_sql_store(tmp_path: Path):
    """CredentialReport lives in this module, not domain.py: the SQL store keeps it
    under its KIND like any entity."""
    store = SqlStore.from_data_dir(tmp_path)
    try:
        store.migrate()
        report = CredentialReport(ACCOUNT, NOW, b"user,arn\n<root_account>,x")
        with store.unit_of_work() as uow:
            uow.repo(CredentialReport).put(report)
        with store.unit_of_work(read_only=True) as uow:
            assert uow.repo(CredentialReport).get(ACCOUNT, "credential_report") == report
            assert uow.repo(CredentialReport).list(ACCOUNT) == [report]
    finally:
        store.close()
