"""IAM service last accessed (Access Advisor) reports, computed from the audit trail."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from chamberlain.ops.audit import records as audit
from chamberlain.ops.core.context import Caller, OpContext, Services
from chamberlain.ops.core.errors import (
    AccessDenied,
    InvalidInput,
    NoSuchEntity,
    SignatureDoesNotMatch,
)
from chamberlain.policy import PrincipalType
from chamberlain.protocol.xml_out import serialize_response

from ..audit.test_audit import ROLE_ARN, meta, role_session_caller
from ..conftest import ACCOUNT, NOW

Call = Callable[..., Any]
HOUR = dt.timedelta(hours=1)
T = {i: NOW - (10 - i) * HOUR for i in range(1, 10)}  # T[1] < ... < T[9] < NOW
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/team/bob"


def allow(*actions: str) -> str:
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture
def aws(iam: Call) -> Call:
    """IAM as root, checking that the output fits the model's XML."""

    def call(name: str, **params: Any) -> Any:
        out = iam(name, **params)
        serialize_response("iam", name, out, "req")
        return out

    return call


def caller_for(user: dict[str, Any]) -> Caller:
    return Caller(
        account_id=ACCOUNT,
        arn=user["Arn"],
        principal_id=user["UserId"],
        type=PrincipalType.USER,
        user_name=user["UserName"],
        access_key_id="AKIA" + user["UserName"].upper().ljust(16, "0"),
    )


def called(services: Services, caller: Caller, when: dt.datetime, service: str, name: str,
           region: str = "eu-west-1", **kw: Any) -> None:  # fmt: skip
    with services.store.unit_of_work() as uow:
        ctx = OpContext(caller, meta(when, region=region), uow, services)
        audit.record(ctx, service, name, {}, read_only=name.startswith(("Get", "List")), **kw)


@pytest.fixture
def world(aws: Call, services: Services) -> dict[str, Any]:
    alice = aws("CreateUser", UserName="alice")["User"]
    bob = aws("CreateUser", UserName="bob", Path="/team/")["User"]
    aws("CreateGroup", GroupName="devs")
    for name in ("alice", "bob"):
        aws("AddUserToGroup", GroupName="devs", UserName=name)
    aws("PutUserPolicy", UserName="alice", PolicyName="p",
        PolicyDocument=allow("iam:Get*", "iam:ListUsers", "sts:*"))  # fmt: skip
    aws("PutGroupPolicy", GroupName="devs", PolicyName="g",
        PolicyDocument=allow("cloudtrail:LookupEvents"))  # fmt: skip
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]})  # fmt: skip
    aws("CreateRole", RoleName="deployer", AssumeRolePolicyDocument=trust)
    policy = aws("CreatePolicy", PolicyName="deploy", PolicyDocument=allow("iam:*"))["Policy"]
    aws("AttachRolePolicy", RoleName="deployer", PolicyArn=policy["Arn"])
    aws("AttachGroupPolicy", GroupName="devs", PolicyArn=policy["Arn"])

    a, b = caller_for(alice), caller_for(bob)
    called(services, a, T[1], "iam", "GetUser", region="us-west-2")
    called(services, a, T[2], "iam", "ListUsers")
    called(services, a, T[3], "sts", "GetCallerIdentity")
    # denied calls count (the caller was authenticated); failed authentication does not
    called(services, a, T[4], "iam", "DeleteUser", error=AccessDenied("no"))
    audit.record_auth_failure(
        services, meta(T[5]), service="sts", operation="GetSessionToken",
        access_key_id=a.access_key_id or "", account_id=ACCOUNT, identity=a,
        error=SignatureDoesNotMatch("bad signature"),
    )  # fmt: skip
    called(services, role_session_caller(), T[6], "iam", "CreateUser")
    called(services, b, T[7], "cloudtrail", "LookupEvents")
    called(services, b, T[8], "iam", "GetUser")
    called(services, a, NOW + HOUR, "iam", "GetRole")  # after the report: not in it
    return {"alice": alice, "bob": bob, "policy": policy["Arn"]}


def report(aws: Call, arn: str, granularity: str = "SERVICE_LEVEL", **params: Any) -> Any:
    job = aws("GenerateServiceLastAccessedDetails", Arn=arn, Granularity=granularity)["JobId"]
    assert len(job) == 36
    return job, aws("GetServiceLastAccessedDetails", JobId=job, **params)


def test_a_user_report_lists_the_services_its_policies_allow(
    aws: Call, world: dict[str, Any]
) -> None:
    _, out = report(aws, ALICE)
    assert (out["JobStatus"], out["JobType"]) == ("COMPLETED", "SERVICE_LEVEL")
    assert out["JobCreationDate"] == out["JobCompletionDate"] == NOW
    assert out["IsTruncated"] is False
    assert out["ServicesLastAccessed"] == [
        {
            "ServiceName": "AWS CloudTrail",  # allowed through the group, never used
            "ServiceNamespace": "cloudtrail",
            "TotalAuthenticatedEntities": 0,
        },
        {
            "ServiceName": "AWS Identity and Access Management",
            "ServiceNamespace": "iam",
            "TotalAuthenticatedEntities": 1,
            "LastAuthenticated": T[4],  # the denied DeleteUser
            "LastAuthenticatedEntity": ALICE,
            "LastAuthenticatedRegion": "eu-west-1",
        },
        {
            "ServiceName": "AWS Security Token Service",
            "ServiceNamespace": "sts",
            "TotalAuthenticatedEntities": 1,
            "LastAuthenticated": T[3],  # not T[5]: that call failed authentication
            "LastAuthenticatedEntity": ALICE,
            "LastAuthenticatedRegion": "eu-west-1",
        },
    ]


def test_action_level_tracks_iam_actions(aws: Call, world: dict[str, Any]) -> None:
    _, out = report(aws, ALICE, "ACTION_LEVEL")
    assert out["JobType"] == "ACTION_LEVEL"
    by_service = {s["ServiceNamespace"]: s for s in out["ServicesLastAccessed"]}
    assert "TrackedActionsLastAccessed" not in by_service["sts"]
    actions = {a["ActionName"]: a for a in by_service["iam"]["TrackedActionsLastAccessed"]}
    # the actions alice's policies allow: iam:Get* and iam:ListUsers (the group adds iam:*)
    assert {"GetUser", "ListUsers", "CreateUser", "GetRole"} <= set(actions)
    assert actions["GetUser"] == {
        "ActionName": "GetUser",
        "LastAccessedEntity": ALICE,
        "LastAccessedTime": T[1],
        "LastAccessedRegion": "us-west-2",
    }
    assert actions["ListUsers"]["LastAccessedTime"] == T[2]
    assert actions["GetRole"] == {"ActionName": "GetRole"}  # used after the report only
    assert list(actions) == sorted(actions)


def test_a_group_report_tracks_its_members(aws: Call, world: dict[str, Any]) -> None:
    job, out = report(aws, f"arn:aws:iam::{ACCOUNT}:group/devs")
    services = {s["ServiceNamespace"]: s for s in out["ServicesLastAccessed"]}
    assert set(services) == {"cloudtrail", "iam"}  # its own policies: no sts
    assert services["cloudtrail"]["LastAuthenticatedEntity"] == BOB
    assert services["iam"]["TotalAuthenticatedEntities"] == 2
    assert services["iam"]["LastAuthenticated"] == T[8]
    with_entities = aws(
        "GetServiceLastAccessedDetailsWithEntities", JobId=job, ServiceNamespace="cloudtrail"
    )
    assert with_entities["JobStatus"] == "COMPLETED"
    assert with_entities["EntityDetailsList"] == [
        {"EntityInfo": {"Arn": ALICE, "Name": "alice", "Type": "USER",
                        "Id": world["alice"]["UserId"], "Path": "/"}},
        {"EntityInfo": {"Arn": BOB, "Name": "bob", "Type": "USER",
                        "Id": world["bob"]["UserId"], "Path": "/team/"},
         "LastAuthenticated": T[7]},
    ]  # fmt: skip
    page = aws("GetServiceLastAccessedDetailsWithEntities", JobId=job,
               ServiceNamespace="cloudtrail", MaxItems=1)  # fmt: skip
    assert page["IsTruncated"] is True and len(page["EntityDetailsList"]) == 1
    rest = aws("GetServiceLastAccessedDetailsWithEntities", JobId=job,
               ServiceNamespace="cloudtrail", Marker=page["Marker"])  # fmt: skip
    assert [e["EntityInfo"]["Name"] for e in rest["EntityDetailsList"]] == ["bob"]
    none = aws("GetServiceLastAccessedDetailsWithEntities", JobId=job, ServiceNamespace="sts")
    assert none["EntityDetailsList"] == []


def test_a_role_report_credits_its_sessions(aws: Call, world: dict[str, Any]) -> None:
    _, out = report(aws, ROLE_ARN)
    (iam,) = out["ServicesLastAccessed"]
    assert (iam["ServiceNamespace"], iam["LastAuthenticated"]) == ("iam", T[6])
    assert iam["LastAuthenticatedEntity"] == ROLE_ARN


def test_a_policy_report_tracks_everyone_it_is_attached_to(
    aws: Call, world: dict[str, Any]
) -> None:
    job, out = report(aws, world["policy"], MaxItems=1)
    (iam,) = out["ServicesLastAccessed"]
    assert iam["TotalAuthenticatedEntities"] == 3  # the role, alice and bob (via devs)
    assert (iam["LastAuthenticated"], iam["LastAuthenticatedEntity"]) == (T[8], BOB)
    assert out["IsTruncated"] is False
    details = aws("GetServiceLastAccessedDetailsWithEntities", JobId=job, ServiceNamespace="iam")
    assert [(e["EntityInfo"]["Name"], e["EntityInfo"]["Type"]) for e in
            details["EntityDetailsList"]] == [("alice", "USER"), ("bob", "USER"),
                                              ("deployer", "ROLE")]  # fmt: skip


def test_services_page_with_marker(aws: Call, world: dict[str, Any]) -> None:
    job, first = report(aws, ALICE, MaxItems=2)
    assert [s["ServiceNamespace"] for s in first["ServicesLastAccessed"]] == ["cloudtrail", "iam"]
    assert first["IsTruncated"] is True
    rest = aws("GetServiceLastAccessedDetails", JobId=job, Marker=first["Marker"])
    assert [s["ServiceNamespace"] for s in rest["ServicesLastAccessed"]] == ["sts"]


@pytest.mark.parametrize(
    ("arn", "error", "message"),
    [
        (f"arn:aws:iam::{ACCOUNT}:user/nobody", NoSuchEntity,
         "The user with name nobody cannot be found."),
        (f"arn:aws:iam::{ACCOUNT}:group/nobody", NoSuchEntity,
         "The group with name nobody cannot be found."),
        (f"arn:aws:iam::{ACCOUNT}:policy/nothing", NoSuchEntity,
         f"Policy arn:aws:iam::{ACCOUNT}:policy/nothing was not found."),
        ("arn:aws:s3:::bucket-name-long-enough", InvalidInput,
         "ARN arn:aws:s3:::bucket-name-long-enough is not valid."),
        (f"arn:aws:iam::{ACCOUNT}:mfa/device", InvalidInput,
         f"ARN arn:aws:iam::{ACCOUNT}:mfa/device is not valid."),
    ],
)  # fmt: skip
def test_generate_errors(aws: Call, arn: str, error: type, message: str) -> None:
    with pytest.raises(error) as raised:
        aws("GenerateServiceLastAccessedDetails", Arn=arn)
    assert raised.value.message == message


def test_an_unknown_job(aws: Call) -> None:
    with pytest.raises(NoSuchEntity):
        aws("GetServiceLastAccessedDetails", JobId="00000000-0000-4000-8000-000000000000")
    with pytest.raises(NoSuchEntity):
        aws("GetServiceLastAccessedDetailsWithEntities",
            JobId="00000000-0000-4000-8000-000000000000", ServiceNamespace="iam")  # fmt: skip


def test_jobs_are_per_account(aws: Call, world: dict[str, Any], iam_as: Call) -> None:
    job, _ = report(aws, ALICE)
    other = Caller("222222222222", "arn:aws:iam::222222222222:root", "222222222222",
                   PrincipalType.ROOT)  # fmt: skip
    with pytest.raises(NoSuchEntity):
        iam_as(other, "GetServiceLastAccessedDetails", JobId=job)


def test_authorization(aws: Call, world: dict[str, Any], iam_as: Call) -> None:
    bob = caller_for(world["bob"])
    aws("DetachGroupPolicy", GroupName="devs", PolicyArn=world["policy"])
    with pytest.raises(AccessDenied) as denied:
        iam_as(bob, "GenerateServiceLastAccessedDetails", Arn=ALICE)
    assert f"iam:GenerateServiceLastAccessedDetails on resource: {ALICE}" in denied.value.message
    aws("PutUserPolicy", UserName="bob", PolicyName="advisor",
        PolicyDocument=allow("iam:GenerateServiceLastAccessedDetails",
                             "iam:GetServiceLastAccessedDetails"))  # fmt: skip
    job = iam_as(bob, "GenerateServiceLastAccessedDetails", Arn=ALICE)["JobId"]
    assert iam_as(bob, "GetServiceLastAccessedDetails", JobId=job)["JobStatus"] == "COMPLETED"
    with pytest.raises(AccessDenied):
        iam_as(bob, "GetServiceLastAccessedDetailsWithEntities", JobId=job,
               ServiceNamespace="iam")  # fmt: skip
