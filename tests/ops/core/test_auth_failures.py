"""Failed authentications with a known key: counted, recorded once per window plus a
summary event, throttled past the limit (chamberlain.ops.core.auth_failures)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from chamberlain.domain import Event
from chamberlain.ops.core import auth_failures, throttle
from chamberlain.ops.core.authn import KeyAuthenticationFailed, KnownKey
from chamberlain.ops.core.context import RequestMeta, Services
from chamberlain.ops.core.errors import SignatureDoesNotMatch

from ..conftest import ACCOUNT, NOW, user_caller

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
