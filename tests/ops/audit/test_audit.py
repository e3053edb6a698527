"""The audit trail: CloudTrail records, secrets hidden, one transaction, the chain and
its verification (with the database tampered with directly), export and prune."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.domain import Account
from chamberlain.ops.audit import records as audit
from chamberlain.ops.audit import trail as audit_trail
from chamberlain.ops.core.context import Caller, OpContext, RequestMeta, Services, Session
from chamberlain.ops.core.dispatch import authorize_operation
from chamberlain.ops.core.errors import NoSuchEntity, ServiceError, SignatureDoesNotMatch
from chamberlain.ops.core.registry import lookup
from chamberlain.policy import PrincipalType
from chamberlain.store.api import Store
from chamberlain.store.sql import SqlStore

from ..conftest import ACCOUNT, NOW, root_caller, user_caller

OTHER = "222222222222"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/deployer"
_requests = iter(range(10**9))


def meta(now: dt.datetime = NOW, **kw: Any) -> RequestMeta:
    values: dict[str, Any] = {
        "request_id": f"req-{next(_requests)}",
        "now": now,
        "source_ip": "203.0.113.7",
        "user_agent": "aws-cli/2.0 test",
        "region": "eu-west-1",
    }
    values.update(kw)
    return RequestMeta(**values)


def run(
    services: Services,
    caller: Caller,
    service: str,
    name: str,
    *,
    now: dt.datetime = NOW,
    **params: Any,
) -> Any:
    """One call as ops/dispatch.execute runs it with the audit trail wired in (the
    wiring the report gives the lead): writes record in the operation's own unit of
    work; reads, and failures (whose unit of work rolled back), in one of their own."""
    from chamberlain.ops.core import catalog

    catalog.load()  # registers every operation

    op = lookup(service, name)
    assert op is not None
    m = meta(now)
    try:
        with services.store.unit_of_work(read_only=op.read_only) as uow:
            ctx = OpContext(caller=caller, meta=m, uow=uow, services=services)
            if not op.read_only:
                uow.lock_account(caller.account_id)
            authorize_operation(ctx, op, params)
            output = op.handler(ctx, params)
            if not op.read_only:
                audit.record(ctx, service, name, params, read_only=False, output=output)
    except ServiceError as error:
        audit.record_detached(
            services, caller, m, service, name, params, read_only=op.read_only, error=error
        )
        raise
    if op.read_only:
        audit.record_detached(services, caller, m, service, name, params, read_only=True)
    return output


def events(services: Services, account: str = ACCOUNT) -> list[Any]:
    with services.store.unit_of_work(read_only=True) as uow:
        return list(uow.events.iterate(account))


def records(services: Services, account: str = ACCOUNT) -> list[dict[str, Any]]:
    return [json.loads(e.record) for e in events(services, account)]


def role_session_caller(session_name: str = "build-42", mfa: bool = False) -> Caller:
    session = Session(
        issuer_arn=ROLE_ARN,
        issuer_id="AROAEXAMPLEROLEID001",
        issued=NOW - dt.timedelta(minutes=5),
        expires=NOW + dt.timedelta(hours=1),
        mfa_authenticated=mfa,
        session_name=session_name,
        source_identity="alice@example.com",
    )
    return Caller(
        account_id=ACCOUNT,
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/{session_name}",
        principal_id=f"AROAEXAMPLEROLEID001:{session_name}",
        type=PrincipalType.ASSUMED_ROLE,
        access_key_id="ASIAEXAMPLESESSION01",
        session=session,
    )


# ----------------------------------------------------------------------- records


def test_a_write_becomes_a_cloudtrail_record(services: Services) -> None:
    out = run(services, root_caller(), "iam", "CreateUser", UserName="bob", Path="/eng/")
    (rec,) = records(services)
    assert rec == {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "Root",
            "principalId": ACCOUNT,
            "arn": f"arn:aws:iam::{ACCOUNT}:root",
            "accountId": ACCOUNT,
        },
        "eventTime": "2026-11-28T12:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateUser",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.0 test",
        "requestParameters": {"userName": "bob", "path": "/eng/"},
        "responseElements": {
            "user": {
                "path": "/eng/",
                "userName": "bob",
                "userId": out["User"]["UserId"],
                "arn": f"arn:aws:iam::{ACCOUNT}:user/eng/bob",
                "createDate": "Nov 28, 2026 12:00:00 PM",
            }
        },
        "requestID": rec["requestID"],
        "eventID": rec["eventID"],
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }
    assert uuid.UUID(rec["eventID"]).version == 4
    (event,) = events(services)
    assert (event.seq, event.username, event.principal) == (1, "root", rec["userIdentity"]["arn"])
    assert event.resources == (("AWS::IAM::User", "bob"),)
    assert event.record == audit.canonical(rec)


@pytest.mark.parametrize(
    "text", ["2026-11-28T12:00:00+00:00", "2026-11-28 12:00:00Z", "2026-02-30T12:00:00Z", ""]
)
def test_event_time_is_read_back_in_its_own_format_only(services: Services, text: str) -> None:
    run(services, root_caller(), "iam", "CreateUser", UserName="bob")
    (rec,) = records(services)
    assert audit.event_fields(rec)["event_time"] == NOW
    with pytest.raises(ValueError):
        audit.event_fields({**rec, "eventTime": text})


def test_reads_are_recorded_without_response_elements(services: Services) -> None:
    run(services, root_caller(), "iam", "CreateUser", UserName="bob")
    run(services, root_caller(), "iam", "GetUser", UserName="bob")
    last = events(services)[-1]
    rec = json.loads(last.record)
    assert (rec["eventName"], rec["readOnly"], rec["responseElements"]) == ("GetUser", True, None)
    assert rec["requestParameters"] == {"userName": "bob"}
    assert last.read_only and last.resources == (("AWS::IAM::User", "bob"),)


def test_identity_of_an_iam_user_with_an_access_key(services: Services) -> None:
    caller = dataclasses.replace(user_caller("alice"), access_key_id="AKIAEXAMPLEEXAMPLE01")
    with pytest.raises(ServiceError):
        run(services, caller, "iam", "ListUsers")
    (event,) = events(services)
    identity = json.loads(event.record)["userIdentity"]
    assert identity == {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEEXAMPLE01",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAEXAMPLEEXAMPLE01",
        "userName": "alice",
    }
    assert (event.username, event.access_key_id) == ("alice", "AKIAEXAMPLEEXAMPLE01")
    assert event.principal == f"arn:aws:iam::{ACCOUNT}:user/alice"


def test_identity_of_a_role_session(services: Services) -> None:
    with services.store.unit_of_work() as uow:
        ctx = OpContext(role_session_caller(mfa=True), meta(), uow, services)
        event = audit.record(ctx, "sts", "GetCallerIdentity", {}, read_only=True)
    identity = json.loads(event.record)["userIdentity"]
    assert identity == {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEROLEID001:build-42",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/build-42",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAEXAMPLESESSION01",
        "sessionContext": {
            "attributes": {"creationDate": "2026-11-28T11:55:00Z", "mfaAuthenticated": "true"},
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEROLEID001",
                "arn": ROLE_ARN,
                "accountId": ACCOUNT,
                "userName": "deployer",
            },
            "sourceIdentity": "alice@example.com",
        },
    }
    assert event.username == "build-42"
    assert event.principal == ROLE_ARN  # service last accessed credits the role
    assert event.event_source == "sts.amazonaws.com"


def test_identity_of_a_federated_user(services: Services) -> None:
    session = Session(
        issuer_arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        issuer_id="AIDAEXAMPLEEXAMPLE01",
        issued=NOW,
        expires=NOW + dt.timedelta(hours=1),
        session_name="partner",
    )
    caller = Caller(
        account_id=ACCOUNT,
        arn=f"arn:aws:sts::{ACCOUNT}:federated-user/partner",
        principal_id=f"{ACCOUNT}:partner",
        type=PrincipalType.FEDERATED_USER,
        access_key_id="ASIAFEDERATED0000001",
        session=session,
    )
    with services.store.unit_of_work() as uow:
        event = audit.record(OpContext(caller, meta(), uow, services), "iam", "ListUsers", {},
                             read_only=True)  # fmt: skip
    identity = json.loads(event.record)["userIdentity"]
    assert identity["type"] == "FederatedUser"
    assert identity["sessionContext"]["sessionIssuer"]["type"] == "IAMUser"
    assert identity["sessionContext"]["sessionIssuer"]["userName"] == "alice"
    assert (event.username, event.principal) == ("partner", session.issuer_arn)


SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("params", "output", "hidden"),
    [
        ({"UserName": "bob", "Password": SECRET}, None, {"requestParameters": ["password"]}),
        (
            {"OldPassword": SECRET, "NewPassword": SECRET + "2"},
            None,
            {"requestParameters": ["oldPassword", "newPassword"]},
        ),
        (
            {"UserName": "bob"},
            {"AccessKey": {"AccessKeyId": "AKIAX", "SecretAccessKey": SECRET, "Status": "Active"}},
            {"responseElements": ["accessKey.secretAccessKey"]},
        ),
        (
            {"VirtualMFADeviceName": "d"},
            {"VirtualMFADevice": {"SerialNumber": "s", "Base32StringSeed": SECRET.encode(),
                                  "QRCodePNG": SECRET.encode()}},
            {"responseElements": ["virtualMFADevice.base32StringSeed",
                                  "virtualMFADevice.qRCodePNG"]},
        ),
        (
            {"UserName": "bob", "SerialNumber": "s", "AuthenticationCode1": "123456",
             "AuthenticationCode2": "654321"},
            None,
            {"requestParameters": ["authenticationCode1", "authenticationCode2"]},
        ),
        (
            {"RoleArn": ROLE_ARN, "TokenCode": "123456", "SAMLAssertion": SECRET,
             "WebIdentityToken": SECRET},
            {"Credentials": {"AccessKeyId": "ASIAX", "SecretAccessKey": SECRET,
                             "SessionToken": SECRET, "Expiration": NOW}},
            {"requestParameters": ["tokenCode", "sAMLAssertion", "webIdentityToken"],
             "responseElements": ["credentials.secretAccessKey", "credentials.sessionToken"]},
        ),
        (
            {"ServerCertificateName": "c", "PrivateKey": SECRET, "CertificateBody": "PEM"},
            None,
            {"requestParameters": ["privateKey"]},
        ),
    ],
)  # fmt: skip
def test_secrets_are_hidden_as_cloudtrail_hides_them(
    services: Services, params: dict[str, Any], output: Any, hidden: dict[str, list[str]]
) -> None:
    with services.store.unit_of_work() as uow:
        ctx = OpContext(root_caller(), meta(), uow, services)
        event = audit.record(ctx, "iam", "Op", params, read_only=False, output=output)
    assert SECRET not in event.record and "123456" not in event.record
    rec = json.loads(event.record)
    for section, paths in hidden.items():
        for path in paths:
            value = rec[section]
            for part in path.split("."):
                value = value[part]
            assert value == "HIDDEN_DUE_TO_SECURITY_REASONS", path


def test_response_dates_and_nested_members(services: Services) -> None:
    output = {"Credentials": {"Expiration": dt.datetime(2026, 1, 2, 0, 5, 9, tzinfo=dt.UTC)},
              "Tags": [{"Key": "k", "Value": "v"}]}  # fmt: skip
    with services.store.unit_of_work() as uow:
        ctx = OpContext(root_caller(), meta(), uow, services)
        event = audit.record(ctx, "sts", "AssumeRole", {"RoleArn": ROLE_ARN}, read_only=False,
                             output=output)  # fmt: skip
    response = json.loads(event.record)["responseElements"]
    assert response["credentials"]["expiration"] == "Jan 2, 2026 12:05:09 AM"
    assert response["tags"] == [{"key": "k", "value": "v"}]
    assert event.resources == (("AWS::IAM::Role", ROLE_ARN),)


def test_resources_come_from_the_input_and_what_a_write_created(services: Services) -> None:
    run(services, root_caller(), "iam", "CreateUser", UserName="bob")
    key = run(services, root_caller(), "iam", "CreateAccessKey", UserName="bob")
    policy = run(
        services,
        root_caller(),
        "iam",
        "CreatePolicy",
        PolicyName="p",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*",'
        '"Resource":"*"}]}',
    )
    arn = policy["Policy"]["Arn"]
    run(services, root_caller(), "iam", "AttachUserPolicy", UserName="bob", PolicyArn=arn)
    _, create_key, create_policy, attach = events(services)
    assert set(create_key.resources) == {
        ("AWS::IAM::User", "bob"),
        ("AWS::IAM::AccessKey", key["AccessKey"]["AccessKeyId"]),
    }
    assert create_policy.resources == (("AWS::IAM::Policy", arn),)
    assert attach.resources == (("AWS::IAM::User", "bob"), ("AWS::IAM::Policy", arn))
    secret = key["AccessKey"]["SecretAccessKey"]
    assert all(secret not in e.record for e in events(services))


def test_errors_are_recorded_with_cloudtrails_codes(services: Services) -> None:
    with pytest.raises(NoSuchEntity):
        run(services, root_caller(), "iam", "DeleteUser", UserName="ghost")
    with pytest.raises(ServiceError) as denied:
        run(services, user_caller("alice"), "iam", "CreateUser", UserName="x")
    missing, refused = records(services)
    assert missing["errorCode"] == "NoSuchEntityException"
    assert missing["errorMessage"] == "The user with name ghost cannot be found."
    assert missing["responseElements"] is None
    assert refused["errorCode"] == "AccessDenied"
    assert refused["errorMessage"] == denied.value.message
    assert refused["readOnly"] is False


@pytest.mark.parametrize(
    ("service", "code", "recorded"),
    [
        ("iam", "NoSuchEntity", "NoSuchEntityException"),
        ("iam", "ReportInProgress", "CredentialReportNotReadyException"),
        ("iam", "NotSupportedService", "ServiceNotSupportedException"),
        ("sts", "IDPRejectedClaim", "IDPRejectedClaimException"),
        ("sts", "ExpiredTokenException", "ExpiredTokenException"),
        ("iam", "AccessDenied", "AccessDenied"),  # not modeled: kept
        ("cloudtrail", "InvalidTimeRangeException", "InvalidTimeRangeException"),
    ],
)
def test_events_name_modeled_errors_by_their_shape(service: str, code: str, recorded: str) -> None:
    """CloudTrail records the SDK's exception name for a modeled error, read from the model."""
    assert audit.error_code(service, code) == recorded


def test_the_event_commits_or_rolls_back_with_the_operation(services: Services) -> None:
    with pytest.raises(ZeroDivisionError), services.store.unit_of_work() as uow:
        audit.record(OpContext(root_caller(), meta(), uow, services), "iam", "X", {},
                     read_only=False)  # fmt: skip
        raise ZeroDivisionError
    assert events(services) == []
    run(services, root_caller(), "iam", "CreateUser", UserName="bob")
    assert [e.seq for e in events(services)] == [1]


def test_each_account_has_its_own_chain(services: Services) -> None:
    run(services, root_caller(), "iam", "CreateUser", UserName="a")
    with services.store.unit_of_work() as uow:
        ctx = OpContext(root_caller(), meta(), uow, services)
        audit.record(ctx, "iam", "CreateUser", {"UserName": "b"}, read_only=False)
        theirs = audit.record(ctx, "sts", "AssumeRole", {"RoleArn": ROLE_ARN}, read_only=False,
                              account_id=OTHER)  # fmt: skip
    first, second = events(services)
    assert (first.seq, second.seq, theirs.seq) == (1, 2, 1)
    assert first.hash == audit.event_hash(first, audit.GENESIS)
    assert second.hash == audit.event_hash(second, first.hash)
    assert theirs.hash == audit.event_hash(theirs, audit.GENESIS)
    assert json.loads(theirs.record)["recipientAccountId"] == OTHER
    for event in (first, second, theirs):
        assert audit.event_seal_problem(services.secrets, event) is None
    other_box = SecretBox(generate_key())
    assert audit.event_seal_problem(other_box, first) is not None


def test_failed_authentication_with_a_known_key(services: Services) -> None:
    identity = user_caller("alice")
    event = audit.record_auth_failure(
        services,
        meta(),
        service="iam",
        operation="ListUsers",
        access_key_id="AKIAEXAMPLEEXAMPLE01",
        account_id=ACCOUNT,
        identity=identity,
        error=SignatureDoesNotMatch("The request signature we calculated does not match."),
    )
    rec = json.loads(event.record)
    assert rec["errorCode"] == "SignatureDoesNotMatch"
    assert rec["userIdentity"]["accessKeyId"] == "AKIAEXAMPLEEXAMPLE01"
    assert rec["requestParameters"] is None
    assert event.principal is None  # not authenticated: credited to no one
    assert (event.username, event.access_key_id) == ("alice", "AKIAEXAMPLEEXAMPLE01")
    anonymous = audit.record_auth_failure(
        services,
        meta(),
        service="sts",
        operation="GetCallerIdentity",
        access_key_id="AKIAROOTKEY000000001",
        account_id=ACCOUNT,
        identity=None,
        error=SignatureDoesNotMatch("x"),
    )
    assert json.loads(anonymous.record)["userIdentity"] == {
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAROOTKEY000000001",
    }
    assert anonymous.seq == 2


@pytest.mark.parametrize("success", [True, False])
def test_console_sign_in(services: Services, success: bool) -> None:
    event = audit.record_sign_in(
        services, meta(), identity=user_caller("alice"), success=success, mfa_used=True,
        login_to="https://console.example/",
    )  # fmt: skip
    rec = json.loads(event.record)
    assert (rec["eventType"], rec["eventSource"], rec["eventName"]) == (
        "AwsConsoleSignIn",
        "signin.amazonaws.com",
        "ConsoleLogin",
    )
    assert rec["responseElements"] == {"ConsoleLogin": "Success" if success else "Failure"}
    assert rec["additionalEventData"]["MFAUsed"] == "Yes"
    assert ("errorMessage" in rec) is not success
    assert (event.principal is None) is not success


def test_concurrent_appends_form_one_gapless_chain(tmp_path: Path) -> None:
    store = SqlStore.from_data_dir(tmp_path)
    store.migrate()
    services = Services(store=store, secrets=SecretBox(generate_key()))
    failures: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(10):
                audit.record_detached(services, root_caller(), meta(), "iam", "GetUser",
                                      {"UserName": f"u{i}-{j}"}, read_only=True)  # fmt: skip
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    assert [e.seq for e in events(services)] == list(range(1, 41))
    assert audit_trail.verify(store, services.secrets).ok
    store.close()


# ------------------------------------------------------------------------ verify


@pytest.fixture
def key() -> bytes:
    return generate_key()


@pytest.fixture
def sql_services(tmp_path: Path, key: bytes) -> Any:
    store = SqlStore.from_data_dir(tmp_path / "db")
    store.migrate()
    with store.unit_of_work() as uow:
        uow.repo(Account).add(Account(ACCOUNT, "root@example.com", "x", NOW))
    services = Services(store=store, secrets=SecretBox(key))
    yield services
    store.close()


def fill(services: Services, count: int = 6, account: str = ACCOUNT) -> list[Any]:
    for i in range(count):
        with services.store.unit_of_work() as uow:
            ctx = OpContext(root_caller(account), meta(NOW + dt.timedelta(hours=i)), uow,
                            services)  # fmt: skip
            audit.record(ctx, "iam", "CreateUser", {"UserName": f"user{i + 1}"}, read_only=False)
    return events(services, account)


def sql(services: Services, statement: str, **params: Any) -> None:
    store = services.store
    assert isinstance(store, SqlStore)
    with store.engine.begin() as conn:
        conn.exec_driver_sql(statement, tuple(params.values()) if params else ())


def problem(services: Services) -> audit_trail.Problem:
    result = audit_trail.verify(services.store, services.secrets)
    assert not result.ok
    first = result.first
    assert first is not None
    return first


def test_an_untouched_trail_verifies(sql_services: Services) -> None:
    fill(sql_services)
    fill(sql_services, 2, OTHER)
    result = audit_trail.verify(sql_services.store, sql_services.secrets)
    assert result.ok and result.events == 8 and result.accounts == (ACCOUNT, OTHER)
    assert audit_trail.verify(sql_services.store, sql_services.secrets, OTHER).events == 2


def test_a_changed_record_is_named(sql_services: Services) -> None:
    original = fill(sql_services)
    changed = original[2].record.replace("user3", "innocent")
    sql(sql_services, "UPDATE events SET record = ? WHERE seq = 3", r=changed)
    found = problem(sql_services)
    assert (found.seq, found.event_id, found.kind) == (3, original[2].event_id, "changed")
    assert "no longer match its hash" in found.reason


def test_a_recomputed_hash_does_not_pass_for_the_seal(sql_services: Services) -> None:
    original = fill(sql_services)
    forged = dataclasses.replace(original[3], record=original[3].record.replace("user4", "x"))
    new_hash = audit.event_hash(forged, original[2].hash)
    sql(sql_services, "UPDATE events SET record = ?, hash = ? WHERE seq = 4",
        r=forged.record, h=new_hash)  # fmt: skip
    found = problem(sql_services)
    assert (found.seq, found.kind) == (4, "changed")
    assert "seal" in found.reason


def test_a_changed_lookup_column_is_named(sql_services: Services) -> None:
    fill(sql_services)
    sql(sql_services, "UPDATE events SET event_name = 'GetUser' WHERE seq = 2")
    found = problem(sql_services)
    assert (found.seq, found.kind) == (2, "changed")
    assert "EventName" in found.reason


def test_a_deleted_row_is_named(sql_services: Services) -> None:
    original = fill(sql_services)
    sql(sql_services, "DELETE FROM events WHERE seq = 3")
    found = problem(sql_services)
    assert (found.seq, found.kind) == (3, "removed")
    assert original[1].event_id in found.reason


def test_a_deleted_row_with_the_rest_renumbered_is_named(sql_services: Services) -> None:
    fill(sql_services)
    sql(sql_services, "DELETE FROM events WHERE seq = 3")
    sql(sql_services, "UPDATE events SET seq = seq - 1 WHERE seq > 3")
    found = problem(sql_services)
    assert (found.seq, found.kind) == (3, "removed")


def test_an_inserted_row_is_named(sql_services: Services) -> None:
    original = fill(sql_services)
    sql(sql_services, "UPDATE events SET seq = seq + 100 WHERE seq >= 4")
    sql(sql_services, "UPDATE events SET seq = seq - 99 WHERE seq >= 100")
    copy = ("account_id, event_time, event_id, event_name, event_source, read_only, username, "
            "access_key_id, principal, resources, record, hash, seal")  # fmt: skip
    sql(sql_services, f"INSERT INTO events (seq, {copy}) SELECT 4, {copy} FROM events "
        "WHERE seq = 2")  # fmt: skip
    found = problem(sql_services)
    assert (found.seq, found.kind) == (4, "inserted")
    assert found.event_id == original[1].event_id


def test_an_appended_forgery_is_named(sql_services: Services) -> None:
    fill(sql_services)
    copy = ("account_id, event_time, event_id, event_name, event_source, read_only, username, "
            "access_key_id, principal, resources, record, hash, seal")  # fmt: skip
    sql(sql_services, f"INSERT INTO events (seq, {copy}) SELECT 7, {copy} FROM events "
        "WHERE seq = 6")  # fmt: skip
    found = problem(sql_services)
    assert (found.seq, found.kind) == (7, "changed")


def test_swapped_rows_are_named(sql_services: Services) -> None:
    original = fill(sql_services)
    sql(sql_services, "UPDATE events SET seq = 100 WHERE seq = 2")
    sql(sql_services, "UPDATE events SET seq = 2 WHERE seq = 3")
    sql(sql_services, "UPDATE events SET seq = 3 WHERE seq = 100")
    found = problem(sql_services)
    assert (found.seq, found.kind, found.event_id) == (2, "reordered", original[2].event_id)


def test_cut_off_newest_events_are_found_by_a_checkpoint(sql_services: Services) -> None:
    fill(sql_services)
    (digest,) = audit_trail.checkpoint(sql_services.store, sql_services.secrets, now=NOW)
    assert (digest.seq, digest.kind) == (6, "checkpoint")
    assert audit_trail.verify(sql_services.store, sql_services.secrets).ok
    sql(sql_services, "DELETE FROM events WHERE seq >= 5")
    found = problem(sql_services)
    assert (found.seq, found.kind) == (5, "removed")
    assert "5..6" in found.reason


def test_a_forged_digest_is_named(sql_services: Services) -> None:
    fill(sql_services)
    audit_trail.checkpoint(sql_services.store, sql_services.secrets, now=NOW)
    sql(sql_services, "UPDATE event_digests SET seq = 3")
    assert problem(sql_services).kind == "digest"


def test_a_key_no_longer_held_makes_events_unverifiable(sql_services: Services, key: bytes) -> None:
    fill(sql_services, 2)
    found = audit_trail.verify(sql_services.store, SecretBox(generate_key())).first
    assert found is not None and (found.seq, found.kind) == (1, "unverifiable")
    rotated = SecretBox(generate_key(), [key])  # a new current key, the old one kept
    assert audit_trail.verify(sql_services.store, rotated).ok


# ------------------------------------------------------------------ export, prune


def test_export_in_cloudtrails_log_file_format(sql_services: Services, tmp_path: Path) -> None:
    original = fill(sql_services, 3)
    result = audit_trail.export(sql_services.store, sql_services.secrets, ACCOUNT,
                                tmp_path / "out", "cloudtrail", now=NOW)  # fmt: skip
    assert result.events == 3 and len(result.files) == 3  # one file per hour
    first = result.files[0].relative_to(tmp_path / "out")
    assert first.parts[:6] == ("AWSLogs", ACCOUNT, "CloudTrail", "eu-west-1", "2026", "11")
    assert first.name.startswith(f"{ACCOUNT}_CloudTrail_eu-west-1_20261128T1200Z_")
    assert first.name.endswith(".json.gz")
    exported = []
    for path in result.files:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            exported.extend(json.load(handle)["Records"])
    assert exported == [json.loads(e.record) for e in original]
    assert _digest_chain_holds(result.digest_file, exported)
    with sql_services.store.unit_of_work(read_only=True) as uow:
        assert [(d.seq, d.kind) for d in uow.events.digests(ACCOUNT)] == [(3, "checkpoint")]


def test_export_as_json_lines(sql_services: Services, tmp_path: Path) -> None:
    original = fill(sql_services, 4)
    result = audit_trail.export(sql_services.store, sql_services.secrets, ACCOUNT, tmp_path,
                                "jsonl")  # fmt: skip
    (path,) = result.files
    lines = path.read_text().splitlines()
    assert lines == [e.record for e in original]
    assert _digest_chain_holds(result.digest_file, [json.loads(line) for line in lines])
    with pytest.raises(audit_trail.AuditTrailError):
        audit_trail.export(sql_services.store, sql_services.secrets, ACCOUNT, tmp_path, "xml")


def _digest_chain_holds(path: Path | None, exported: list[dict[str, Any]]) -> bool:
    """An outside verifier: the exported records, re-serialized canonically, rebuild the
    hashes the digest lists, from its previous hash to its last."""
    assert path is not None
    digest = json.loads(path.read_text())
    previous = digest["previousHash"]
    for rec, entry in zip(exported, digest["events"], strict=True):
        resources = json.dumps(entry.get("resources", []), separators=(",", ":"))
        previous_expected = audit.chain_hash(
            digest["awsAccountId"], entry["seq"], previous, resources, audit.canonical(rec)
        )
        if previous_expected != entry["hash"]:
            return False
        previous = entry["hash"]
    return previous == digest["lastHash"]


def test_prune_keeps_the_rest_verifiable(sql_services: Services) -> None:
    original = fill(sql_services, 6)
    fill(sql_services, 2, OTHER)
    result = audit_trail.prune(sql_services.store, sql_services.secrets,
                               NOW + dt.timedelta(hours=3), now=NOW)  # fmt: skip
    assert result.deleted == {ACCOUNT: 3, OTHER: 2}
    assert [e.seq for e in events(sql_services)] == [4, 5, 6]
    assert audit_trail.verify(sql_services.store, sql_services.secrets).ok
    with sql_services.store.unit_of_work(read_only=True) as uow:
        (anchor,) = uow.events.digests(ACCOUNT)
    assert (anchor.seq, anchor.hash, anchor.kind) == (3, original[2].hash, "prune")
    # the trail goes on from the anchor
    fill(sql_services, 1)
    assert audit_trail.verify(sql_services.store, sql_services.secrets).ok


def test_pruned_events_cannot_be_hidden_by_deleting_the_anchor(sql_services: Services) -> None:
    fill(sql_services, 6)
    audit_trail.prune(sql_services.store, sql_services.secrets, NOW + dt.timedelta(hours=3))
    sql(sql_services, "DELETE FROM event_digests")
    found = problem(sql_services)
    assert (found.seq, found.kind) == (1, "removed")


def test_prune_refuses_a_tampered_trail(sql_services: Services) -> None:
    fill(sql_services, 4)
    sql(sql_services, "UPDATE events SET record = replace(record, 'user2', 'x') WHERE seq = 2")
    with pytest.raises(audit_trail.AuditTrailError, match="event 2"):
        audit_trail.prune(sql_services.store, sql_services.secrets, NOW + dt.timedelta(hours=9))
    assert len(events(sql_services)) == 4


def test_a_trail_pruned_empty_goes_on_from_its_anchor(sql_services: Services) -> None:
    """Retention deleting every event of a quiet account: new events continue the chain
    from the prune anchor, so verify checks them (tampering with one is caught)."""
    fill(sql_services, 3)
    audit_trail.prune(sql_services.store, sql_services.secrets, NOW + dt.timedelta(days=1))
    assert events(sql_services) == []
    fill(sql_services, 3)
    assert [e.seq for e in events(sql_services)] == [4, 5, 6]
    result = audit_trail.verify(sql_services.store, sql_services.secrets)
    assert result.ok and result.events == 3
    sql(sql_services, "UPDATE events SET record = replace(record, 'user', 'x') WHERE seq = 5")
    found = problem(sql_services)
    assert (found.seq, found.kind) == (5, "changed")


def test_export_refuses_a_tampered_trail(sql_services: Services, tmp_path: Path) -> None:
    fill(sql_services, 4)
    sql(sql_services, "UPDATE events SET record = replace(record, 'user2', 'x') WHERE seq = 2")
    with pytest.raises(audit_trail.AuditTrailError, match="event 2"):
        audit_trail.export(sql_services.store, sql_services.secrets, ACCOUNT, tmp_path / "out")
    assert not list((tmp_path / "out").glob("**/*.json*"))


def test_verify_and_prune_on_the_memory_store(services: Services) -> None:
    store: Store = services.store
    fill(services, 5)
    assert audit_trail.verify(store, services.secrets).ok
    audit_trail.prune(store, services.secrets, NOW + dt.timedelta(hours=2))
    assert [e.seq for e in events(services)] == [3, 4, 5]
    assert audit_trail.verify(store, services.secrets).ok
