"""Failed authentications with a known key: counted, recorded once per window plus a
summary event, throttled past the limit (chamberlain.ops.core.auth_failures)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from chamberlain.domain import Event
from chamberlain.ops.core import auth_failures, throttle
from chamberlain.ops.core.authn import KeyAuthenticationFailed, KnownKey
from chamberlain.ops.core.context import Caller, RequestMeta, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import ServiceError, SignatureDoesNotMatch

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
