"""Failed authentications with a known key: counted, recorded once per window plus a
summary event, throttled past the limit (chamberlain.ops.core.auth_failures)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from chamberlain.crypto import totp
from chamberlain.crypto.passwords import hash_password
from chamberlain.domain import Account, Event
from chamberlain.ops.core import auth_failures, throttle
from chamberlain.ops.core.authn import KeyAuthenticationFailed, KnownKey
from chamberlain.ops.core.context import Caller, RequestMeta, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import ServiceError, SignatureDoesNotMatch
from chamberlain.ops.iam.login import change_root_password

from ..conftest import ACCOUNT, NOW, meta, root_caller, user_caller

MISMATCH = "The request signature we calculated does not match the signature you provided."


@pytest.fixture
def key_id(iam: Callable[..., Any]) -> str:
    iam("CreateUser", UserName="alice")
    return str(iam("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"])


def fail(services: Services, key_id: str, at: dt.datetime, ip: str = "10.1.1.1") -> Any:
    failed = KeyAuthenticationFailed(
        SignatureDoesNotMatch(MISMATCH),
        KnownKey(ACCOUNT, key_id, user_caller("alice")),
    )
    meta = RequestMeta(request_id="r", now=at, source_ip=ip)
    return auth_failures.authentication_failed(
        services, meta, failed, service="iam", operation="GetUser"
    )


def trail(services: Services) -> list[Event]:
    with services.store.unit_of_work(read_only=True) as uow:
        return [
            e
            for e in uow.events.iterate(ACCOUNT)
            if e.event_name in ("GetUser", "AuthenticationFailureSummary")
        ]


def test_one_event_per_window_and_a_summary_after_it(services: Services, key_id: str) -> None:
    for n in range(3):
        assert fail(services, key_id, NOW + dt.timedelta(seconds=n)).code == "SignatureDoesNotMatch"
    [first] = trail(services)
    assert json.loads(first.record)["errorCode"] == "SignatureDoesNotMatch"
    assert auth_failures.sweep(services, NOW + dt.timedelta(minutes=4)) == 0  # not ended
    assert auth_failures.sweep(services, NOW + dt.timedelta(minutes=5)) == 1
    assert auth_failures.sweep(services, NOW + dt.timedelta(minutes=6)) == 0  # once only
    summary = trail(services)[-1]
    record = json.loads(summary.record)
    assert record["eventType"] == "AwsServiceEvent"
    assert record["eventName"] == "AuthenticationFailureSummary"
    assert record["userIdentity"]["accessKeyId"] == key_id
    assert record["userIdentity"]["arn"].endswith(":user/alice")
    assert record["serviceEventDetails"] == {
        "accessKeyId": key_id,
        "failedAuthentications": 3,
        "firstFailureTime": "2026-11-28T12:00:00Z",
        "lastFailureTime": "2026-11-28T12:00:02Z",
        "windowSeconds": 300,
        "throttled": False,
    }
    assert summary.resources == (("AWS::IAM::AccessKey", key_id),)
    assert summary.principal is None  # credited to no one (service-last-accessed)


def test_the_next_failure_writes_the_ended_windows_summary(services: Services, key_id: str) -> None:
    fail(services, key_id, NOW)
    fail(services, key_id, NOW + dt.timedelta(seconds=1))
    fail(services, key_id, NOW + dt.timedelta(minutes=7))  # a new window, in full
    names = [e.event_name for e in trail(services)]
    assert names == ["GetUser", "AuthenticationFailureSummary", "GetUser"]


def test_a_lone_failure_needs_no_summary(services: Services, key_id: str) -> None:
    fail(services, key_id, NOW)
    assert auth_failures.sweep(services, NOW + dt.timedelta(minutes=10)) == 0
    assert len(trail(services)) == 1
    with services.store.unit_of_work(read_only=True) as uow:  # and its counter is gone
        key = throttle.authn_key(ACCOUNT, key_id)
        assert uow.counters.get(throttle.AUTHN_KEY.scope, key) is None


def test_past_the_limit_failures_are_throttled_and_write_nothing(
    services: Services, key_id: str
) -> None:
    limit = throttle.AUTHN_KEY.free
    for n in range(limit):
        assert fail(services, key_id, NOW + dt.timedelta(milliseconds=n)).code == (
            "SignatureDoesNotMatch"
        )
    throttled = fail(services, key_id, NOW + dt.timedelta(seconds=10))
    assert (throttled.code, throttled.message, throttled.http_status) == (
        "Throttling",
        "Rate exceeded",
        400,
    )
    with services.store.unit_of_work(read_only=True) as uow:
        counter = uow.counters.get(throttle.AUTHN_KEY.scope, throttle.authn_key(ACCOUNT, key_id))
    assert counter is not None and counter.count == limit  # the throttled one not counted
    assert len(trail(services)) == 1
    assert auth_failures.sweep(services, NOW + dt.timedelta(minutes=5)) == 1
    details = json.loads(trail(services)[-1].record)["serviceEventDetails"]
    assert (details["failedAuthentications"], details["throttled"]) == (limit, True)
    # the window over, the key is not throttled any more
    assert fail(services, key_id, NOW + dt.timedelta(minutes=5)).code == "SignatureDoesNotMatch"


def test_a_source_is_throttled_across_keys(services: Services, iam: Callable[..., Any]) -> None:
    keys = []
    for n in range(4):
        iam("CreateUser", UserName=f"u{n}")
        keys.append(iam("CreateAccessKey", UserName=f"u{n}")["AccessKey"]["AccessKeyId"])
    limit = throttle.AUTHN_SOURCE.free
    for n in range(limit):
        assert fail(services, keys[n % 4], NOW, ip="10.7.7.7").code == "SignatureDoesNotMatch"
    assert fail(services, keys[0], NOW, ip="10.7.7.7").code == "Throttling"
    assert fail(services, keys[0], NOW, ip="10.7.7.8").code == "SignatureDoesNotMatch"


# ----------------------------------------------------------------- refused passwords

GOOD = "Vq7#Lm2pXz9!"


def _root(services: Services, name: str, **params: Any) -> Any:
    return execute(services, root_caller(), meta(), "iam", name, params)


@pytest.fixture
def changer(sql_services: Services) -> Caller:
    """alice, with a console password and leave to change it."""
    _root(sql_services, "CreateUser", UserName="alice")
    _root(sql_services, "CreateLoginProfile", UserName="alice", Password=GOOD)
    _root(sql_services, "UpdateAccountPasswordPolicy", AllowUsersToChangePassword=True)
    user = _root(sql_services, "GetUser", UserName="alice")["User"]
    return user_caller("alice", user["UserId"])


def _change(services: Services, caller: Caller, at: dt.datetime, ip: str = "10.2.2.2") -> str:
    params = {"OldPassword": f"Wrong-{at.timestamp()}!", "NewPassword": "Hs4$Kd8wPn3@"}
    request = RequestMeta(request_id="r", now=at, source_ip=ip)
    try:
        execute(services, caller, request, "iam", "ChangePassword", params)
    except ServiceError as error:
        return error.code
    return "OK"


def _named(services: Services, *names: str) -> list[dict[str, Any]]:
    with services.store.unit_of_work(read_only=True) as uow:
        records = [json.loads(e.record) for e in uow.events.iterate(ACCOUNT)]
    return [r for r in records if r["eventName"] in names]


def test_refused_change_passwords_are_one_event_and_a_summary(
    sql_services: Services, changer: Caller
) -> None:
    """Wrong old passwords, then refusals while locked: all counted, the first recorded
    in full, the window's count in one summary (on SQLite and PostgreSQL)."""
    answers = [_change(sql_services, changer, NOW + dt.timedelta(seconds=n)) for n in range(7)]
    free = throttle.PASSWORD_USER.free
    assert answers == ["InvalidUserType"] * free + ["LimitExceeded"] * (7 - free)
    [first] = _named(sql_services, "ChangePassword", "AuthenticationFailureSummary")
    assert (first["errorCode"], first["userIdentity"]["userName"]) == (
        "InvalidUserTypeException",
        "alice",
    )
    assert first["requestParameters"]["oldPassword"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert auth_failures.sweep(sql_services, NOW + dt.timedelta(minutes=4)) == 0  # not ended
    assert auth_failures.sweep(sql_services, NOW + dt.timedelta(minutes=5)) == 1
    assert auth_failures.sweep(sql_services, NOW + dt.timedelta(minutes=6)) == 0  # once only
    summary = _named(sql_services, "AuthenticationFailureSummary")[-1]
    assert summary["eventSource"] == "iam.amazonaws.com"
    assert summary["userIdentity"]["arn"] == changer.arn
    assert summary["serviceEventDetails"] == {
        "refusedOperation": "ChangePassword",
        "sourceIPAddress": "10.2.2.2",
        "failedAuthentications": 7,
        "firstFailureTime": "2026-11-28T12:00:00Z",
        "lastFailureTime": "2026-11-28T12:00:06Z",
        "windowSeconds": 300,
    }


def test_refusals_from_another_source_are_recorded_apart(
    sql_services: Services, changer: Caller
) -> None:
    _change(sql_services, changer, NOW)
    _change(sql_services, changer, NOW + dt.timedelta(seconds=1))
    _change(sql_services, changer, NOW + dt.timedelta(seconds=2), ip="10.3.3.3")
    sources = [r["sourceIPAddress"] for r in _named(sql_services, "ChangePassword")]
    assert sources == ["10.2.2.2", "10.3.3.3"]
    # the next window: the first failure in full again, after the summary of the last
    _change(sql_services, changer, NOW + dt.timedelta(minutes=6))
    names = [r["eventName"] for r in _named(sql_services, "ChangePassword", SUMMARY)]
    assert names == ["ChangePassword", "ChangePassword", SUMMARY, "ChangePassword"]


SUMMARY = "AuthenticationFailureSummary"


def test_a_refused_change_password_does_not_wait_for_the_account_lock(
    sql_services: Services, changer: Caller
) -> None:
    """After the window's first, a refusal takes no account lock: it is answered while
    another transaction holds the account (PostgreSQL: SQLite's lock is the database's)."""
    if sql_services.store.describe()["dialect"] != "postgresql":
        pytest.skip("SQLite has one writer lock for the whole database")
    assert _change(sql_services, changer, NOW) == "InvalidUserType"
    answers: list[str] = []
    with sql_services.store.unit_of_work() as holder:
        holder.lock_account(ACCOUNT)
        worker = threading.Thread(
            target=lambda: answers.append(
                _change(sql_services, changer, NOW + dt.timedelta(seconds=1))
            )
        )
        worker.start()
        worker.join(timeout=20)
        assert answers == ["InvalidUserType"]  # while the lock was held
    assert len(_named(sql_services, "ChangePassword")) == 1


def test_sign_in_failures_are_a_console_login_event_per_window_and_a_summary(
    sql_services: Services, changer: Caller
) -> None:
    for n in range(4):
        at = NOW + dt.timedelta(seconds=n)
        request = RequestMeta(request_id="r", now=at, source_ip="10.4.4.4")
        auth_failures.sign_in_failed(
            sql_services, request, changer, mfa_used=False, login_to="https://x/console/"
        )
    [event] = _named(sql_services, "ConsoleLogin")
    assert event["responseElements"] == {"ConsoleLogin": "Failure"}
    assert event["errorMessage"] == "Failed authentication"
    assert auth_failures.sweep(sql_services, NOW + dt.timedelta(minutes=5)) == 1
    summary = _named(sql_services, SUMMARY)[-1]
    assert summary["eventSource"] == "signin.amazonaws.com"
    details = summary["serviceEventDetails"]
    assert (details["refusedOperation"], details["failedAuthentications"]) == ("ConsoleLogin", 4)
    assert summary["userIdentity"]["userName"] == "alice"


# --------------------------------------------------------------- refused MFA codes


def _device(services: Services, name: str, user: str | None) -> tuple[str, str]:
    """A virtual device, enabled for `user` (None: left unassigned); its serial and seed."""
    made = _root(services, "CreateVirtualMFADevice", VirtualMFADeviceName=name)
    serial = made["VirtualMFADevice"]["SerialNumber"]
    seed = made["VirtualMFADevice"]["Base32StringSeed"].decode("ascii")
    if user is not None:
        step = totp.step_at(NOW)
        _root(services, "EnableMFADevice", UserName=user, SerialNumber=serial,
              AuthenticationCode1=totp.code_at(seed, step - 3),
              AuthenticationCode2=totp.code_at(seed, step - 2))  # fmt: skip
    return serial, seed


def _wrong(seed: str) -> str:
    near = {totp.code_at(seed, totp.step_at(NOW) + k) for k in range(-5, 5)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def _as(services: Services, caller: Caller, service: str, name: str, at: dt.datetime,
        ip: str = "10.5.5.5", **params: Any) -> str:  # fmt: skip
    request = RequestMeta(request_id="r", now=at, source_ip=ip)
    try:
        execute(services, caller, request, service, name, params)
    except ServiceError as error:
        return error.code
    return "OK"


def _first_and_summary(services: Services, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The one event of `name` recorded in full, and the summary the sweep then writes."""
    [first] = _named(services, name)
    assert auth_failures.sweep(services, NOW + dt.timedelta(minutes=5)) == 1
    return first, _named(services, SUMMARY)[-1]


@pytest.mark.parametrize("operation", ["ResyncMFADevice", "EnableMFADevice"])
def test_refused_mfa_codes_are_one_event_and_a_summary(
    sql_services: Services, changer: Caller, operation: str
) -> None:
    """Wrong code pairs, then refusals while the device is locked: each counted, the
    first recorded in full, the window's count in one summary naming the device (on
    SQLite and PostgreSQL)."""
    serial, seed = _device(
        sql_services, "guessed", "alice" if operation == "ResyncMFADevice" else None
    )
    bad = _wrong(seed)
    params = {"UserName": "alice", "SerialNumber": serial,
              "AuthenticationCode1": bad, "AuthenticationCode2": bad}  # fmt: skip
    answers = [
        _as(sql_services, root_caller(), "iam", operation, NOW + dt.timedelta(seconds=n), **params)
        for n in range(7)
    ]
    free = throttle.MFA_DEVICE.free
    assert answers == ["InvalidAuthenticationCode"] * free + ["LimitExceeded"] * (7 - free)
    first, summary = _first_and_summary(sql_services, operation)
    assert first["errorCode"] == "InvalidAuthenticationCodeException"
    assert first["requestParameters"]["authenticationCode1"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert summary["eventSource"] == "iam.amazonaws.com"
    assert summary["userIdentity"]["type"] == "Root"
    assert summary["serviceEventDetails"] == {
        "refusedOperation": operation,
        "sourceIPAddress": "10.5.5.5",
        "serialNumber": serial,
        "failedAuthentications": 7,
        "firstFailureTime": "2026-11-28T12:00:00Z",
        "lastFailureTime": "2026-11-28T12:00:06Z",
        "windowSeconds": 300,
    }
    with sql_services.store.unit_of_work(read_only=True) as uow:
        [event] = [e for e in uow.events.iterate(ACCOUNT) if e.event_name == SUMMARY]
    assert ("AWS::IAM::MFADevice", serial) in event.resources


@pytest.mark.parametrize("operation", ["GetSessionToken", "AssumeRole"])
def test_refused_token_codes_are_one_event_and_a_summary(
    sql_services: Services, changer: Caller, operation: str
) -> None:
    serial, seed = _device(sql_services, "alice", "alice")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}]}  # fmt: skip
    _root(sql_services, "CreateRole", RoleName="target", AssumeRolePolicyDocument=json.dumps(trust))
    allow = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}
    policy = {"Version": "2012-10-17", "Statement": [allow]}
    _root(sql_services, "PutUserPolicy", UserName="alice", PolicyName="assume",
          PolicyDocument=json.dumps(policy))  # fmt: skip
    params: dict[str, Any] = {"SerialNumber": serial, "TokenCode": _wrong(seed)}
    if operation == "AssumeRole":
        params.update(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/target", RoleSessionName="guess")
    answers = {
        _as(sql_services, changer, "sts", operation, NOW + dt.timedelta(seconds=n), **params)
        for n in range(4)
    }
    assert answers == {"AccessDenied"}
    first, summary = _first_and_summary(sql_services, operation)
    assert first["errorCode"] == "AccessDenied"
    assert first["userIdentity"]["userName"] == "alice"
    assert summary["eventSource"] == "sts.amazonaws.com"
    assert summary["userIdentity"]["arn"] == changer.arn
    details = summary["serviceEventDetails"]
    assert (details["refusedOperation"], details["serialNumber"]) == (operation, serial)
    assert details["failedAuthentications"] == 4
    # the right code is still accepted (and recorded as the call it is)
    later = NOW + dt.timedelta(minutes=5)
    right = {**params, "TokenCode": totp.code_at(seed, totp.step_at(later))}
    assert _as(sql_services, changer, "sts", operation, later, **right) == "OK"


def test_a_token_code_for_no_device_is_counted_without_one(
    sql_services: Services, changer: Caller
) -> None:
    """A serial number naming no device of the caller's is refused as a wrong code and
    counted under the caller alone (made-up serials make no windows of their own)."""
    for n in range(3):
        serial = f"arn:aws:iam::{ACCOUNT}:mfa/made-up-{n}"
        at = NOW + dt.timedelta(seconds=n)
        code = _as(sql_services, changer, "sts", "GetSessionToken", at, SerialNumber=serial,
                   TokenCode="123456")  # fmt: skip
        assert code == "AccessDenied"
    assert len(_named(sql_services, "GetSessionToken")) == 1
    assert auth_failures.sweep(sql_services, NOW + dt.timedelta(minutes=5)) == 1
    details = _named(sql_services, SUMMARY)[-1]["serviceEventDetails"]
    assert "serialNumber" not in details and details["failedAuthentications"] == 3


@pytest.mark.parametrize("operation", ["ResyncMFADevice", "GetSessionToken"])
def test_a_refused_code_does_not_wait_for_the_account_lock(
    sql_services: Services, changer: Caller, operation: str
) -> None:
    """A wrong code is refused before the operation's unit of work: answered while another
    transaction holds the account (PostgreSQL: SQLite's lock is the database's)."""
    if sql_services.store.describe()["dialect"] != "postgresql":
        pytest.skip("SQLite has one writer lock for the whole database")
    serial, seed = _device(sql_services, "alice", "alice")
    bad = _wrong(seed)
    if operation == "ResyncMFADevice":
        caller, service = root_caller(), "iam"
        params = {"UserName": "alice", "SerialNumber": serial,
                  "AuthenticationCode1": bad, "AuthenticationCode2": bad}  # fmt: skip
        expected = "InvalidAuthenticationCode"
    else:
        caller, service, expected = changer, "sts", "AccessDenied"
        params = {"SerialNumber": serial, "TokenCode": bad}
    assert _as(sql_services, caller, service, operation, NOW, **params) == expected  # in full
    answers: list[str] = []
    with sql_services.store.unit_of_work() as holder:
        holder.lock_account(ACCOUNT)
        later = NOW + dt.timedelta(seconds=1)
        worker = threading.Thread(
            target=lambda: answers.append(
                _as(sql_services, caller, service, operation, later, **params)
            )
        )
        worker.start()
        worker.join(timeout=20)
        assert answers == [expected]  # while the lock was held
    assert len(_named(sql_services, operation)) == 1


# ------------------------------------------------------ the root password's change


def test_refused_root_password_changes_are_one_event_and_a_summary(
    sql_services: Services,
) -> None:
    with sql_services.store.unit_of_work() as uow:
        account = uow.repo(Account).get(ACCOUNT, "account")
        assert account is not None
        hashed = hash_password(GOOD, sql_services.password_params)
        uow.repo(Account).put(replace(account, root_password_hash=hashed))
    answers = []
    for n in range(7):
        request = RequestMeta(
            request_id="r", now=NOW + dt.timedelta(seconds=n), source_ip="10.6.6.6"
        )
        try:
            change_root_password(
                sql_services, root_caller(), request, f"Wrong-{n}!", "Hs4$Kd8wPn3@"
            )
        except ServiceError as error:
            answers.append(error.code)
    free = throttle.PASSWORD_USER.free
    assert answers == ["InvalidUserType"] * free + ["LimitExceeded"] * (7 - free)
    first, summary = _first_and_summary(sql_services, "PasswordUpdated")
    assert first["responseElements"] == {"PasswordUpdated": "Failure"}
    assert summary["eventSource"] == "signin.amazonaws.com"
    assert summary["userIdentity"]["type"] == "Root"
    details = summary["serviceEventDetails"]
    assert (details["refusedOperation"], details["failedAuthentications"]) == ("PasswordUpdated", 7)
    assert details["sourceIPAddress"] == "10.6.6.6"
