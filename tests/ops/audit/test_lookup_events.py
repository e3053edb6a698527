"""CloudTrail LookupEvents over the audit trail: filters, time range, pagination with
tamper-proof tokens, AWS's errors, per-account visibility and authorization."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from chamberlain.ops.audit import records as audit
from chamberlain.ops.audit.lookup_events import (
    InvalidLookupAttributesException,
    InvalidMaxResultsException,
    InvalidNextTokenException,
    InvalidTimeRangeException,
)
from chamberlain.ops.core.context import Caller, OpContext, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import ServiceError
from chamberlain.protocol.json11 import serialize_output

from ..conftest import ACCOUNT, NOW, root_caller, user_caller
from .test_audit import OTHER, meta, role_session_caller, run

Call = Callable[..., Any]
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def lookup(services: Services) -> Call:
    """LookupEvents through the dispatcher (not itself recorded: the tests count events)."""

    quiet = dataclasses.replace(services, audit=False)  # lookups are recorded when audited

    def call(caller: Caller | None = None, **params: Any) -> dict[str, Any]:
        out = execute(
            quiet, caller or root_caller(), meta(NOW + 24 * HOUR), "cloudtrail",
            "LookupEvents", params,
        )  # fmt: skip
        serialize_output("cloudtrail", "LookupEvents", out)  # the output fits the model
        return out

    return call


@pytest.fixture
def trail(services: Services) -> dict[str, Any]:
    """Six events an hour apart: writes and reads by root, alice (with a key) and a role
    session, one denied; and one event in another account."""
    alice = Caller(
        account_id=ACCOUNT,
        arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        principal_id="AIDAEXAMPLEEXAMPLE01",
        type=user_caller("alice").type,
        user_name="alice",
        access_key_id="AKIAALICE00000000001",
    )
    run(services, root_caller(), "iam", "CreateUser", UserName="bob", now=NOW)
    run(services, root_caller(), "iam", "GetUser", UserName="bob", now=NOW + HOUR)
    with pytest.raises(ServiceError):
        run(services, alice, "iam", "DeleteUser", UserName="bob", now=NOW + 2 * HOUR)
    run(services, root_caller(), "iam", "CreateGroup", GroupName="devs", now=NOW + 3 * HOUR)
    run(services, root_caller(), "iam", "AddUserToGroup", GroupName="devs", UserName="bob",
        now=NOW + 4 * HOUR)  # fmt: skip
    with services.store.unit_of_work() as uow:
        session = role_session_caller()
        ctx = OpContext(session, meta(NOW + 5 * HOUR), uow, services)
        audit.record(ctx, "sts", "GetCallerIdentity", {}, read_only=True)
        ctx = OpContext(root_caller(OTHER), meta(NOW), uow, services)
        audit.record(ctx, "iam", "CreateUser", {"UserName": "bob"}, read_only=False)
    with services.store.unit_of_work(read_only=True) as uow:
        ids = [e.event_id for e in uow.events.iterate(ACCOUNT)]
    return {"ids": ids, "alice": alice}


def names(out: dict[str, Any]) -> list[str]:
    return [e["EventName"] for e in out["Events"]]


NEWEST_FIRST = ["GetCallerIdentity", "AddUserToGroup", "CreateGroup", "DeleteUser", "GetUser",
                "CreateUser"]  # fmt: skip


def test_events_newest_first_with_every_field(lookup: Call, trail: dict[str, Any]) -> None:
    out = lookup()
    assert names(out) == NEWEST_FIRST
    assert "NextToken" not in out
    session, *_, denied, read, create = out["Events"]
    assert create == {
        "EventId": trail["ids"][0],
        "EventName": "CreateUser",
        "ReadOnly": "false",
        "EventTime": NOW,
        "EventSource": "iam.amazonaws.com",
        "Username": "root",
        "Resources": [{"ResourceType": "AWS::IAM::User", "ResourceName": "bob"}],
        "CloudTrailEvent": create["CloudTrailEvent"],
    }
    record = json.loads(create["CloudTrailEvent"])
    assert (record["eventID"], record["eventName"]) == (trail["ids"][0], "CreateUser")
    assert read["ReadOnly"] == "true"
    assert (denied["Username"], denied["AccessKeyId"]) == ("alice", "AKIAALICE00000000001")
    assert json.loads(denied["CloudTrailEvent"])["errorCode"] == "AccessDenied"
    assert (session["Username"], session["EventSource"]) == ("build-42", "sts.amazonaws.com")
    assert session["AccessKeyId"] == "ASIAEXAMPLESESSION01"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("EventName", "GetUser", ["GetUser"]),
        ("ReadOnly", "true", ["GetCallerIdentity", "GetUser"]),
        ("ReadOnly", "FALSE", ["AddUserToGroup", "CreateGroup", "DeleteUser", "CreateUser"]),
        ("Username", "alice", ["DeleteUser"]),
        ("Username", "root", ["AddUserToGroup", "CreateGroup", "GetUser", "CreateUser"]),
        ("ResourceType", "AWS::IAM::Group", ["AddUserToGroup", "CreateGroup"]),
        ("ResourceName", "bob", ["AddUserToGroup", "DeleteUser", "GetUser", "CreateUser"]),
        ("EventSource", "sts.amazonaws.com", ["GetCallerIdentity"]),
        ("AccessKeyId", "AKIAALICE00000000001", ["DeleteUser"]),
        ("EventName", "NoSuchThing", []),
    ],
)
def test_one_lookup_attribute(
    lookup: Call, trail: dict[str, Any], key: str, value: str, expected: list[str]
) -> None:
    attributes = [{"AttributeKey": key, "AttributeValue": value}]
    assert names(lookup(LookupAttributes=attributes)) == expected


def test_lookup_by_event_id(lookup: Call, trail: dict[str, Any]) -> None:
    attributes = [{"AttributeKey": "EventId", "AttributeValue": trail["ids"][3]}]
    assert [e["EventId"] for e in lookup(LookupAttributes=attributes)["Events"]] == [
        trail["ids"][3]
    ]


def test_time_range_is_inclusive(lookup: Call, trail: dict[str, Any]) -> None:
    out = lookup(StartTime=NOW + HOUR, EndTime=NOW + 3 * HOUR)
    assert names(out) == ["CreateGroup", "DeleteUser", "GetUser"]
    assert names(lookup(StartTime=NOW + 4 * HOUR)) == NEWEST_FIRST[:2]
    assert names(lookup(EndTime=NOW)) == ["CreateUser"]
    attributes = [{"AttributeKey": "Username", "AttributeValue": "root"}]
    assert names(lookup(LookupAttributes=attributes, EndTime=NOW + HOUR)) == [
        "GetUser",
        "CreateUser",
    ]


def test_pagination_visits_every_event_once(lookup: Call, trail: dict[str, Any]) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"MaxResults": 4}
    pages = 0
    while True:
        out = lookup(**params)
        seen += names(out)
        pages += 1
        if "NextToken" not in out:
            break
        params["NextToken"] = out["NextToken"]
        params["MaxResults"] = 1  # the page size may change between pages
    assert seen == NEWEST_FIRST and pages == 3
    attributes = [{"AttributeKey": "ResourceName", "AttributeValue": "bob"}]
    first = lookup(LookupAttributes=attributes, MaxResults=3)
    assert names(first) == ["AddUserToGroup", "DeleteUser", "GetUser"]
    rest = lookup(LookupAttributes=attributes, MaxResults=3, NextToken=first["NextToken"])
    assert names(rest) == ["CreateUser"] and "NextToken" not in rest


def test_a_token_only_serves_its_own_query(lookup: Call, trail: dict[str, Any]) -> None:
    attributes = [{"AttributeKey": "Username", "AttributeValue": "root"}]
    token = lookup(LookupAttributes=attributes, MaxResults=1)["NextToken"]
    other_queries: list[dict[str, Any]] = [
        {},
        {"LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": "alice"}]},
        {"LookupAttributes": attributes, "StartTime": NOW},
        {"LookupAttributes": attributes, "EndTime": NOW + 9 * HOUR},
    ]
    for query in other_queries:
        with pytest.raises(InvalidNextTokenException):
            lookup(NextToken=token, **query)
    assert names(lookup(LookupAttributes=attributes, NextToken=token)) == [
        "CreateGroup",
        "GetUser",
        "CreateUser",
    ]


def test_a_token_is_bound_to_its_account(
    lookup: Call, trail: dict[str, Any], services: Services
) -> None:
    for i in range(2):
        with services.store.unit_of_work() as uow:
            ctx = OpContext(root_caller(OTHER), meta(NOW + i * HOUR), uow, services)
            audit.record(ctx, "iam", "ListUsers", {}, read_only=True)
    theirs = lookup(root_caller(OTHER), MaxResults=1)
    assert len(theirs["Events"]) == 1
    with pytest.raises(InvalidNextTokenException):
        lookup(MaxResults=1, NextToken=theirs["NextToken"])


@pytest.mark.parametrize("mangle", ["flip", "truncate", "garbage", "empty-ish"])
def test_forged_tokens_are_refused(lookup: Call, trail: dict[str, Any], mangle: str) -> None:
    token = lookup(MaxResults=2)["NextToken"]
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    if mangle == "flip":
        raw[-20] ^= 1
        forged = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    elif mangle == "truncate":
        forged = token[:-6]
    elif mangle == "garbage":
        forged = "not a token!"
    else:
        forged = "AA"
    with pytest.raises(InvalidNextTokenException) as error:
        lookup(MaxResults=2, NextToken=forged)
    assert error.value.http_status == 400


def test_each_account_sees_only_its_own_events(lookup: Call, trail: dict[str, Any]) -> None:
    theirs = lookup(root_caller(OTHER))
    assert names(theirs) == ["CreateUser"]
    assert json.loads(theirs["Events"][0]["CloudTrailEvent"])["recipientAccountId"] == OTHER
    attributes = [{"AttributeKey": "EventId", "AttributeValue": trail["ids"][0]}]
    assert lookup(root_caller(OTHER), LookupAttributes=attributes)["Events"] == []


def test_insight_events_are_none(lookup: Call, trail: dict[str, Any]) -> None:
    assert lookup(EventCategory="insight") == {"Events": []}


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (
            {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "A"},
                                  {"AttributeKey": "Username", "AttributeValue": "B"}]},
            InvalidLookupAttributesException,
        ),
        (
            {"LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "yes"}]},
            InvalidLookupAttributesException,
        ),
        (
            {"LookupAttributes": [{"AttributeKey": "Region", "AttributeValue": "x"}]},
            InvalidLookupAttributesException,
        ),
        ({"StartTime": NOW + HOUR, "EndTime": NOW}, InvalidTimeRangeException),
        ({"MaxResults": 0}, InvalidMaxResultsException),
        ({"MaxResults": 51}, InvalidMaxResultsException),
    ],
)  # fmt: skip
def test_invalid_requests(lookup: Call, params: dict[str, Any], error: type[ServiceError]) -> None:
    with pytest.raises(error) as raised:
        lookup(**params)
    assert (raised.value.code, raised.value.http_status) == (error.__name__, 400)


def test_error_codes_are_in_the_model() -> None:
    from botocore.session import get_session

    model = get_session().get_service_model("cloudtrail").operation_model("LookupEvents")
    codes = {shape.name for shape in model.error_shapes}
    for error in (
        InvalidLookupAttributesException,
        InvalidTimeRangeException,
        InvalidMaxResultsException,
        InvalidNextTokenException,
    ):
        assert error.code in codes


def test_a_user_needs_cloudtrail_lookup_events(
    lookup: Call, trail: dict[str, Any], services: Services
) -> None:
    iam = partial(execute, dataclasses.replace(services, audit=False), root_caller(), meta(NOW),
                  "iam")  # fmt: skip
    iam("CreateUser", {"UserName": "auditor"})
    auditor = user_caller("auditor", "AIDAAUDITOR000000001")
    with pytest.raises(ServiceError) as denied:
        lookup(auditor)
    assert denied.value.code == "AccessDenied"
    assert "cloudtrail:LookupEvents on resource: *" in denied.value.message
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"}]})  # fmt: skip
    iam("PutUserPolicy", {"UserName": "auditor", "PolicyName": "audit", "PolicyDocument": policy})
    assert names(lookup(auditor)) == NEWEST_FIRST
