"""The policy simulator: SimulatePrincipalPolicy, SimulateCustomPolicy and
GetContextKeysFor{Principal,Custom}Policy, against AWS's documented behaviour (API
reference, the AWS CLI's examples) and the engine's semantics."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.parsers import create_parser

from chamberlain.ops.core.aws_managed import AWS_MANAGED as AWS_MANAGED_POLICIES
from chamberlain.ops.core.context import Services
from chamberlain.ops.core.errors import AccessDenied, InvalidInput, NoSuchEntity, ServiceError
from chamberlain.ops.simulator.positions import statement_spans
from chamberlain.protocol.models import service_model
from chamberlain.protocol.xml_out import serialize_response

from ..conftest import ACCOUNT, user_caller
from ..entity_seed import Seed, allow, deny, policy

Call = Callable[..., Any]
OTHER = "222222222222"
BUCKET = "arn:aws:s3:::bucket/key"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/eng/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
DEVS = f"arn:aws:iam::{ACCOUNT}:group/devs"
APP = f"arn:aws:iam::{ACCOUNT}:role/app"
SECURITY_AUDIT = "arn:aws:iam::aws:policy/SecurityAudit"
# The policy of AWS's CLI example for simulate-custom-policy (Line 1, Column 38 to 167).
CLI_EXAMPLE = (
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*",'
    '"Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}'
)


@pytest.fixture
def world(services: Services) -> Seed:
    """alice (in group devs), bob (with a permissions boundary), role app."""
    seed = Seed(services)
    seed.user("alice", path="/eng/")
    seed.group("devs")
    seed.member("devs", "alice")
    seed.inline("user", "alice", "S3Read", policy(allow("s3:GetObject", "arn:aws:s3:::bucket/*")))
    ops = seed.managed("Ops", policy(allow(["ec2:*", "s3:*"])), attachments=1)
    seed.attach("user", "alice", ops)
    seed.inline("group", "devs", "NoDelete", policy(deny("s3:DeleteObject")))
    seed.attach("group", "devs", SECURITY_AUDIT)
    boundary = seed.managed("S3Only", policy(allow("s3:*")), boundaries=1)
    seed.user("bob", boundary=boundary)
    seed.inline("user", "bob", "Broad", policy(allow(["s3:*", "ec2:*"])))
    seed.role("app")
    seed.inline("role", "app", "Queue", policy(allow("sqs:SendMessage")))
    return seed


def results(out: dict[str, Any]) -> list[dict[str, Any]]:
    return out["EvaluationResults"]


def sources(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in result["MatchedStatements"]]


def entry(key: str, kind: str, *values: str) -> dict[str, Any]:
    """A ContextEntry."""
    return {"ContextKeyName": key, "ContextKeyValues": list(values), "ContextKeyType": kind}


def error_of(call: Call, *args: Any, **params: Any) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        call(*args, **params)
    return info.value


# ------------------------------------------------------------- SimulatePrincipalPolicy


@dataclass(frozen=True)
class PrincipalCase:
    name: str
    source: str
    action: str
    decision: str
    matched: list[tuple[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    boundary: bool | None = None  # AllowedByPermissionsBoundary, None: no boundary


PRINCIPAL_CASES = [
    # The resource "*" is matched literally: S3Read, for bucket/* only, does not apply.
    PrincipalCase("resource * is literal", ALICE, "s3:GetObject", "allowed",
                  [("Ops", "user-managed")]),
    PrincipalCase("customer managed allows", ALICE, "ec2:RunInstances", "allowed",
                  [("Ops", "user-managed")]),
    PrincipalCase("group's AWS managed policy allows", ALICE, "iam:GetUser", "allowed",
                  [("SecurityAudit", "aws-managed")]),
    PrincipalCase("explicit deny from a group policy", ALICE, "s3:DeleteObject",
                  "explicitDeny", [("group_devs_NoDelete", "group")]),
    PrincipalCase("nothing allows", ALICE, "sqs:SendMessage", "implicitDeny"),
    PrincipalCase("group as the source", DEVS, "s3:DeleteObject", "explicitDeny",
                  [("group_devs_NoDelete", "group")]),
    PrincipalCase("role inline allows", APP, "sqs:SendMessage", "allowed",
                  [("role_app_Queue", "role")]),
    PrincipalCase("policy input list adds an allow", ALICE, "sqs:SendMessage", "allowed",
                  [("PolicyInputList.1", "none")],
                  {"PolicyInputList": [policy(allow("sqs:*"))]}),
    PrincipalCase("boundary allows what identity allows", BOB, "s3:PutObject", "allowed",
                  [("user_bob_Broad", "user")], boundary=True),
    PrincipalCase("boundary implicitly denies", BOB, "ec2:RunInstances", "implicitDeny",
                  boundary=False),
    PrincipalCase("boundary input overrides the entity's", BOB, "ec2:RunInstances", "allowed",
                  [("user_bob_Broad", "user")],
                  {"PermissionsBoundaryPolicyInputList": [policy(allow("ec2:*"))]},
                  boundary=True),
    PrincipalCase("explicit deny in a boundary", BOB, "s3:PutObject", "explicitDeny",
                  [("PermissionsBoundaryPolicyInputList.1", "none")],
                  {"PermissionsBoundaryPolicyInputList": [
                      policy(allow("*"), deny("s3:PutObject"))]},
                  boundary=False),
    PrincipalCase("exclude a group inline policy", ALICE, "s3:DeleteObject", "allowed",
                  [("Ops", "user-managed")],
                  {"PolicyExclusionList": [{"InlinePolicyIdentifier": {
                      "PolicyName": "NoDelete", "AttachmentType": "group",
                      "AttachmentName": "dev*"}}]}),
    PrincipalCase("exclude AWS managed policies", ALICE, "iam:GetUser", "implicitDeny",
                  extra={"PolicyExclusionList": [{"PolicyType": "aws-managed"}]}),
    PrincipalCase("exclude a managed policy by ARN pattern", ALICE, "ec2:RunInstances",
                  "implicitDeny",
                  extra={"PolicyExclusionList": [
                      {"PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/O?s"}]}),
    PrincipalCase("exclude the permissions boundary", BOB, "ec2:RunInstances", "allowed",
                  [("user_bob_Broad", "user")],
                  {"PolicyExclusionList": [{"PolicyType": "permission-boundary"}]}),
]  # fmt: skip


@pytest.mark.parametrize("case", PRINCIPAL_CASES, ids=lambda c: c.name)
def test_simulate_principal_policy(iam: Call, world: Seed, case: PrincipalCase) -> None:
    out = iam(
        "SimulatePrincipalPolicy",
        PolicySourceArn=case.source,
        ActionNames=[case.action],
        **case.extra,
    )
    assert out["IsTruncated"] is False
    [result] = results(out)
    assert result["EvalActionName"] == case.action
    assert result["EvalResourceName"] == "*"
    assert result["EvalDecision"] == case.decision
    assert sources(result) == case.matched
    assert result["MissingContextValues"] == []
    assert "ResourceSpecificResults" not in result
    assert "EvalDecisionDetails" not in result  # same account, resource "*"
    assert "OrganizationsDecisionDetail" not in result  # no organization
    if case.boundary is None:
        assert "PermissionsBoundaryDecisionDetail" not in result
    else:
        detail = result["PermissionsBoundaryDecisionDetail"]
        assert detail == {"AllowedByPermissionsBoundary": case.boundary}


def test_matched_statement_positions_of_stored_policies(iam: Call, world: Seed) -> None:
    out = iam("SimulatePrincipalPolicy", PolicySourceArn=ALICE, ActionNames=["iam:GetUser"])
    [match] = results(out)[0]["MatchedStatements"]
    # aws_managed.py writes its documents with json.dumps(indent=4): the first statement
    # runs from after "[" on line 3 to after its "}" (the first line that is "        },").
    lines = AWS_MANAGED_POLICIES[SECURITY_AUDIT].document.splitlines()
    assert match["SourcePolicyId"] == "SecurityAudit"
    assert match["StartPosition"] == {"Line": 3, "Column": 19}
    assert match["EndPosition"] == {"Line": lines.index("        },") + 1, "Column": 10}


def test_named_resources_get_resource_specific_results(iam: Call, world: Seed) -> None:
    out = iam(
        "SimulatePrincipalPolicy",
        PolicySourceArn=ALICE,
        ActionNames=["s3:GetObject", "s3:DeleteObject"],
        ResourceArns=[BUCKET, "arn:aws:s3:::other/key"],
    )
    got = [(r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"]) for r in results(out)]
    assert got == [
        ("s3:GetObject", BUCKET, "allowed"),
        ("s3:GetObject", "arn:aws:s3:::other/key", "allowed"),
        ("s3:DeleteObject", BUCKET, "explicitDeny"),
        ("s3:DeleteObject", "arn:aws:s3:::other/key", "explicitDeny"),
    ]
    first, second = results(out)[:2]
    assert sources(first) == [("user_alice_S3Read", "user"), ("Ops", "user-managed")]
    assert sources(second) == [("Ops", "user-managed")]  # S3Read names bucket/* only
    assert first["EvalDecisionDetails"] == {}  # same account, named resource: empty
    assert first["ResourceSpecificResults"] == [
        {
            "EvalResourceName": BUCKET,
            "EvalResourceDecision": "allowed",
            "MatchedStatements": first["MatchedStatements"],
        }
    ]


def test_simulate_principal_policy_errors(iam: Call, world: Seed) -> None:
    cases = [
        (f"arn:aws:iam::{ACCOUNT}:user/ghost", NoSuchEntity,
         "The user with name ghost cannot be found."),
        (f"arn:aws:iam::{ACCOUNT}:role/ghost", NoSuchEntity,
         "The role with name ghost cannot be found."),
        (f"arn:aws:iam::{ACCOUNT}:group/ghost", NoSuchEntity,
         "The group with name ghost cannot be found."),
        (f"arn:aws:iam::{OTHER}:user/alice", NoSuchEntity,
         "The user with name alice cannot be found."),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/app/session", InvalidInput,
         f"Invalid Entity Arn: arn:aws:sts::{ACCOUNT}:assumed-role/app/session"),
        (f"arn:aws:iam::{ACCOUNT}:root", InvalidInput,
         f"Invalid Entity Arn: arn:aws:iam::{ACCOUNT}:root"),
    ]  # fmt: skip
    for arn, error, message in cases:
        err = error_of(iam, "SimulatePrincipalPolicy", PolicySourceArn=arn, ActionNames=["s3:*"])
        assert (type(err), err.message) == (error, message), arn


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"PolicyInputList": ['{"Version": "2012-10-17", "Statement": ']}, "Syntax errors"),
        ({"PolicyInputList": [policy({"Effect": "Allow", "Action": "s3:*"})]}, "resources"),
        ({"PermissionsBoundaryPolicyInputList": ["[]"]}, "Syntax errors"),
        ({"PermissionsBoundaryPolicyInputList": [policy(allow("*"))] * 2}, "only one"),
        ({"ResourcePolicy": policy(allow("s3:*"))}, "Principal"),
        ({"ActionNames": ["GetObject"]}, "Invalid action name"),
        ({"ContextEntries": [{"ContextKeyValues": ["x"], "ContextKeyType": "string"}]},
         "ContextKeyName"),
        ({"PolicyExclusionList": [{"PolicyType": "inline", "PolicyArn": SECURITY_AUDIT}]},
         "exactly one"),
        ({"PolicyExclusionList": [{"PolicyArn": "arn:aws:iam::*:policy/x"}]}, "Invalid policy"),
        ({"PolicyExclusionList": [{"PolicyArn": "arn:aws:iam::aws:policy/*a*"}]}, "at most"),
        ({"ResourceHandlingOption": "EC2-Classic"}, "Invalid ResourceHandlingOption"),
    ],
)  # fmt: skip
def test_invalid_input(iam: Call, world: Seed, params: dict[str, Any], message: str) -> None:
    call = {"PolicySourceArn": ALICE, "ActionNames": ["s3:GetObject"], **params}
    err = error_of(iam, "SimulatePrincipalPolicy", **call)
    assert isinstance(err, InvalidInput)
    assert message in err.message


def test_caller_arn_required_for_a_resource_policy_of_a_role(iam: Call, world: Seed) -> None:
    rp = policy(allow("sqs:*", "*", Principal={"AWS": APP}))
    err = error_of(
        iam, "SimulatePrincipalPolicy", PolicySourceArn=APP, ActionNames=["sqs:SendMessage"],
        ResourcePolicy=rp,
    )  # fmt: skip
    assert isinstance(err, InvalidInput)
    out = iam(
        "SimulatePrincipalPolicy", PolicySourceArn=APP, ActionNames=["sqs:SendMessage"],
        ResourcePolicy=rp, CallerArn=APP,
    )  # fmt: skip
    assert results(out)[0]["EvalDecision"] == "allowed"


def test_pagination(iam: Call, world: Seed) -> None:
    params = {
        "PolicySourceArn": ALICE,
        "ActionNames": ["s3:GetObject", "s3:DeleteObject", "sqs:SendMessage"],
        "ResourceArns": [BUCKET, "arn:aws:s3:::other/key"],
    }
    seen: list[tuple[str, str]] = []
    page = iam("SimulatePrincipalPolicy", MaxItems=4, **params)
    assert page["IsTruncated"] is True
    assert len(results(page)) == 4
    seen += [(r["EvalActionName"], r["EvalResourceName"]) for r in results(page)]
    page = iam("SimulatePrincipalPolicy", MaxItems=4, Marker=page["Marker"], **params)
    assert page["IsTruncated"] is False
    assert "Marker" not in page
    seen += [(r["EvalActionName"], r["EvalResourceName"]) for r in results(page)]
    everything = iam("SimulatePrincipalPolicy", **params)
    assert seen == [(r["EvalActionName"], r["EvalResourceName"]) for r in results(everything)]
    assert len(seen) == 6


# ---------------------------------------------------------------- SimulateCustomPolicy


def custom(iam: Call, *policies: str, actions: tuple[str, ...] = ("s3:GetObject",), **params: Any):
    return iam(
        "SimulateCustomPolicy", PolicyInputList=list(policies), ActionNames=list(actions), **params
    )


def test_aws_cli_example(iam: Call) -> None:
    """simulate-custom-policy's example in the AWS CLI reference, output and all."""
    now = entry("aws:CurrentTime", "date", "2019-04-25T11:00:00Z")
    out = custom(iam, CLI_EXAMPLE, actions=("dynamodb:CreateBackup",), ContextEntries=[now])
    assert out == {
        "EvaluationResults": [
            {
                "EvalActionName": "dynamodb:CreateBackup",
                "EvalResourceName": "*",
                "EvalDecision": "allowed",
                "MatchedStatements": [
                    {
                        "SourcePolicyId": "PolicyInputList.1",
                        "SourcePolicyType": "none",
                        "StartPosition": {"Line": 1, "Column": 38},
                        "EndPosition": {"Line": 1, "Column": 167},
                    }
                ],
                "MissingContextValues": [],
            }
        ],
        "IsTruncated": False,
    }
    before = entry("aws:CurrentTime", "date", "2014-04-25T11:00:00Z")
    out = custom(iam, CLI_EXAMPLE, actions=("dynamodb:CreateBackup",), ContextEntries=[before])
    [result] = results(out)
    assert (result["EvalDecision"], result["MatchedStatements"]) == ("implicitDeny", [])


TAB_POLICY = (
    '{\n\t"Version": "2012-10-17",\n\t"Statement": [\n\t\t{\n\t\t\t"Effect": "Allow",\n'
    '\t\t\t"Action": [\n\t\t\t\t"s3:Get*",\n\t\t\t\t"s3:List*",\n\t\t\t\t"s3:Describe*",\n'
    '\t\t\t\t"s3-object-lambda:Get*",\n\t\t\t\t"s3-object-lambda:List*"\n\t\t\t],\n'
    '\t\t\t"Resource": "*"\n\t\t}\n\t]\n}'
)
TWO_STATEMENTS = (
    '{"Version": "2012-10-17",\r\n "Statement": [\r\n'
    '  {"Effect": "Allow", "Action": "s3:List*", "Resource": "*"},\r\n'
    '  {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}\r\n]}'
)


@pytest.mark.parametrize(
    ("text", "action", "start", "end"),
    [
        # AWS's published results: the CLI example, and AmazonS3ReadOnlyAccess (tabs).
        (CLI_EXAMPLE, "dynamodb:GetItem", (1, 38), (1, 167)),
        (TAB_POLICY, "s3:GetObject", (3, 16), (14, 4)),
        # The first statement of an array starts after "[", the next after the "}"
        # before it; CR LF is one line break.
        (TWO_STATEMENTS, "s3:ListBucket", (2, 16), (3, 61)),
        (TWO_STATEMENTS, "s3:GetObject", (3, 61), (4, 60)),
    ],
)
def test_matched_statement_positions(
    iam: Call, text: str, action: str, start: tuple[int, int], end: tuple[int, int]
) -> None:
    now = entry("aws:CurrentTime", "date", "2020-01-01T00:00:00Z")
    [result] = results(custom(iam, text, actions=(action,), ContextEntries=[now]))
    [match] = result["MatchedStatements"]
    assert match["StartPosition"] == {"Line": start[0], "Column": start[1]}
    assert match["EndPosition"] == {"Line": end[0], "Column": end[1]}


def test_statement_spans_of_unusual_documents() -> None:
    assert statement_spans('{"Id": "x", "Statement": [], "Version": "2012-10-17"}') == ()
    text = '{"Id": {"a": [1, "}"]}, "Statement": {"Effect": "Deny"}}'
    assert statement_spans(text) == (((1, 39), (1, 56)),)
    assert statement_spans("not json") == ()


@dataclass(frozen=True)
class ContextCase:
    type: str
    operator: str
    key: str
    policy_value: Any
    good: list[str]
    bad: list[str]


CONTEXT_CASES = [
    ContextCase("string", "StringEquals", "s3:prefix", "home/", ["home/"], ["other/"]),
    ContextCase("stringList", "ForAnyValue:StringEquals", "aws:TagKeys", "b", ["a", "b"],
                ["a", "c"]),
    ContextCase("numeric", "NumericLessThan", "s3:max-keys", 10, ["5"], ["50"]),
    ContextCase("numericList", "ForAllValues:NumericLessThan", "s3:sizes", 10, ["1", "2.5"],
                ["1", "20"]),
    ContextCase("boolean", "Bool", "aws:SecureTransport", "true", ["TRUE"], ["false"]),
    ContextCase("booleanList", "ForAnyValue:Bool", "x:flags", "true", ["false", "true"],
                ["false"]),
    ContextCase("ip", "IpAddress", "aws:SourceIp", "10.0.0.0/8", ["10.1.2.3"], ["192.168.0.1"]),
    ContextCase("ipList", "ForAnyValue:IpAddress", "x:ips", "10.0.0.0/8",
                ["192.168.0.1", "10.0.0.1"], ["192.168.0.1"]),
    ContextCase("binary", "BinaryEquals", "x:blob", "aGVsbG8=", ["aGVsbG8="], ["d29ybGQ="]),
    ContextCase("binaryList", "ForAnyValue:BinaryEquals", "x:blobs", "aGVsbG8=",
                ["d29ybGQ=", "aGVsbG8="], ["d29ybGQ="]),
    ContextCase("date", "DateGreaterThan", "aws:CurrentTime", "2018-08-16T12:00:00Z",
                ["2019-04-25T11:00:00Z"], ["1400000000"]),
    ContextCase("dateList", "ForAllValues:DateLessThan", "x:dates", "2020-01-01T00:00:00Z",
                ["2010-01-01", "2019-12-31T23:59:59Z"], ["2010-01-01", "2021-01-01"]),
]  # fmt: skip


@pytest.mark.parametrize("case", CONTEXT_CASES, ids=lambda c: c.type)
def test_context_entries_of_each_type(iam: Call, case: ContextCase) -> None:
    text = policy(allow("s3:GetObject", Condition={case.operator: {case.key: case.policy_value}}))
    for values, decision in ((case.good, "allowed"), (case.bad, "implicitDeny")):
        given = entry(case.key, case.type, *values)
        [result] = results(custom(iam, text, ContextEntries=[given]))
        assert result["EvalDecision"] == decision, values
        assert result["MissingContextValues"] == []


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("numeric", ["ten"]),
        ("numericList", ["1", "x"]),
        ("boolean", ["yes"]),
        ("ip", ["300.1.1.1"]),
        ("binary", ["not base64!"]),
        ("date", ["yesterday"]),
        ("string", ["one", "two"]),  # a single-valued type takes one value
    ],
)
def test_invalid_context_values(iam: Call, kind: str, values: list[str]) -> None:
    given = entry("x:key", kind, *values)
    err = error_of(custom, iam, policy(allow("s3:*")), ContextEntries=[given])
    assert isinstance(err, InvalidInput)
    assert "x:key" in err.message


def test_missing_context_values(iam: Call) -> None:
    text = policy(
        allow(
            "s3:GetObject",
            Condition={
                "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                "StringEquals": {"aws:PrincipalTag/team": "blue"},
            },
        ),
        allow("s3:GetObject", "arn:aws:s3:::bucket/${aws:username}/*"),
        allow("sqs:*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
    )
    [result] = results(custom(iam, text))
    assert result["EvalDecision"] == "implicitDeny"
    # In document order, variables too; keys of statements for other actions are not
    # missing.
    assert result["MissingContextValues"] == [
        "aws:SourceIp",
        "aws:PrincipalTag/team",
        "aws:username",
    ]
    entries = [entry("aws:username", "string", "alice"), entry("AWS:SOURCEIP", "ip", "10.0.0.1")]
    # With named resources the missing keys are reported per resource.
    out = custom(iam, text, ContextEntries=entries, ResourceArns=["arn:aws:s3:::bucket/alice/x"])
    [result] = results(out)
    assert result["MissingContextValues"] == []
    [per_resource] = result["ResourceSpecificResults"]
    assert per_resource["MissingContextValues"] == ["aws:PrincipalTag/team"]
    entries.append(entry("aws:PrincipalTag/team", "string", "blue"))
    out = custom(iam, text, ContextEntries=entries, ResourceArns=["arn:aws:s3:::bucket/alice/x"])
    [per_resource] = results(out)[0]["ResourceSpecificResults"]
    assert per_resource["EvalResourceDecision"] == "allowed"
    assert "MissingContextValues" not in per_resource


def test_resource_policy(iam: Call) -> None:
    alice = f"arn:aws:iam::{ACCOUNT}:user/alice"
    unrelated = policy(allow("iam:GetUser"))
    rp = policy(allow("s3:GetObject", "arn:aws:s3:::bucket/*", Principal={"AWS": alice}))
    own = f"arn:aws:iam::{ACCOUNT}:root"
    # Same account: the resource policy naming the caller allows by itself.
    out = custom(iam, unrelated, ResourcePolicy=rp, CallerArn=alice, ResourceArns=[BUCKET])
    [result] = results(out)
    assert result["EvalDecision"] == "allowed"
    assert sources(result) == [("ResourcePolicy", "resource")]
    assert result["MatchedStatements"][0]["StartPosition"] == {"Line": 1, "Column": 41}
    # It does not apply to another caller.
    bob = f"arn:aws:iam::{ACCOUNT}:user/bob"
    out = custom(iam, unrelated, ResourcePolicy=rp, CallerArn=bob, ResourceOwner=own)
    assert results(out)[0]["EvalDecision"] == "implicitDeny"
    # An explicit deny in it wins over an identity allow.
    denying = policy(deny("s3:*", "*", Principal="*"))
    out = custom(iam, policy(allow("s3:*")), ResourcePolicy=denying, CallerArn=alice)
    [result] = results(out)
    assert (result["EvalDecision"], sources(result)) == (
        "explicitDeny",
        [("ResourcePolicy", "resource")],
    )


def test_cross_account_resource(iam: Call) -> None:
    alice = f"arn:aws:iam::{ACCOUNT}:user/alice"
    identity = policy(allow("s3:GetObject"))
    other = f"arn:aws:iam::{OTHER}:root"
    out = custom(iam, identity, CallerArn=alice, ResourceOwner=other, ResourceArns=[BUCKET])
    [result] = results(out)
    assert result["EvalDecision"] == "implicitDeny"
    assert result["EvalDecisionDetails"] == {
        "IAM Policy": "allowed",
        "Resource Policy": "implicitDeny",
    }
    rp = policy(allow("s3:GetObject", "*", Principal={"AWS": ACCOUNT}))
    out = custom(
        iam, identity, CallerArn=alice, ResourceOwner=other, ResourceArns=[BUCKET],
        ResourcePolicy=rp,
    )  # fmt: skip
    [result] = results(out)
    assert result["EvalDecision"] == "allowed"
    assert sources(result) == [("PolicyInputList.1", "none"), ("ResourcePolicy", "resource")]
    assert result["ResourceSpecificResults"][0]["EvalDecisionDetails"]["IAM Policy"] == "allowed"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ResourcePolicy": policy(allow("s3:*", Principal="*"))}, "CallerArn is required"),
        ({"CallerArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s"}, "Invalid Entity Arn"),
        ({"ResourceOwner": ACCOUNT}, f"'{ACCOUNT}' is not a valid as a Resource Owner."),
        ({"ActionNames": ["s3:Get*"]}, "Invalid action name: s3:Get*"),
        ({"PolicyInputList": [policy(allow("s3:*", Principal="*"))]}, "principal"),
    ],
)
def test_custom_policy_invalid_input(iam: Call, params: dict[str, Any], message: str) -> None:
    call = {"PolicyInputList": [policy(allow("s3:*"))], "ActionNames": ["s3:GetObject"], **params}
    err = error_of(iam, "SimulateCustomPolicy", **call)
    assert isinstance(err, InvalidInput)
    assert message in err.message


def test_organizations_policies(iam: Call) -> None:
    identity = policy(allow("*"))

    def decide(*levels: list[str]) -> dict[str, Any]:
        orgs = [{"ServiceControlPolicyInputList": level} for level in levels]
        [result] = results(
            custom(iam, identity, actions=("ec2:RunInstances",),
                   OrderedOrganizationPolicyInputList=orgs)
        )  # fmt: skip
        return result

    full = policy(allow("*"))
    result = decide([full], [full])
    assert result["EvalDecision"] == "allowed"
    assert result["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": True}
    result = decide([full], [policy(allow("s3:*"))])  # the account level does not allow
    assert (result["EvalDecision"], result["MatchedStatements"]) == ("implicitDeny", [])
    assert result["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": False}
    result = decide([full, policy(deny("ec2:*"))])
    assert result["EvalDecision"] == "explicitDeny"
    assert result["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": False}


def test_resource_handling_option(iam: Call) -> None:
    region = f"arn:aws:ec2:us-east-1:{ACCOUNT}"
    resources = [
        f"{region}:instance/i-1",
        "arn:aws:ec2:us-east-1::image/ami-1",
        f"{region}:security-group/sg-1",
        f"{region}:network-interface/eni-1",
    ]
    text = policy(allow("ec2:RunInstances", [f"{region}:*", "arn:aws:ec2:us-east-1::image/*"]),
                  deny("ec2:RunInstances", f"{region}:security-group/*"))  # fmt: skip
    out = custom(
        iam, text, actions=("ec2:RunInstances", "ec2:StartInstances"), ResourceArns=resources,
        ResourceHandlingOption="EC2-VPC-InstanceStore",
    )  # fmt: skip
    first, second = results(out)
    assert first["EvalDecision"] == "explicitDeny"
    decisions = [r["EvalResourceDecision"] for r in first["ResourceSpecificResults"]]
    assert decisions == ["allowed", "allowed", "explicitDeny", "allowed"]
    assert second["EvalDecision"] == "implicitDeny"
    err = error_of(
        custom, iam, text, ResourceArns=resources[:3], ResourceHandlingOption="EC2-VPC-EBS"
    )
    assert isinstance(err, InvalidInput)
    assert "network-interface, volume" in err.message


# ---------------------------------------------------------------------- context keys


def test_context_keys_for_custom_policy(iam: Call) -> None:
    """get-context-keys-for-custom-policy's example in the AWS CLI reference."""
    text = (
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*",'
        '"Resource":"arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}",'
        '"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2015-08-16T12:00:00Z"}}}}'
    )
    out = iam("GetContextKeysForCustomPolicy", PolicyInputList=[text])
    assert out == {"ContextKeyNames": ["aws:username", "aws:CurrentTime"]}
    # Version 2008-10-17 has no policy variables; ${*} is a literal character.
    old = policy(allow("s3:*", "arn:aws:s3:::b/${*}/${x:key, 'd'}"))
    assert iam("GetContextKeysForCustomPolicy", PolicyInputList=[old]) == {
        "ContextKeyNames": ["x:key"]
    }
    legacy = json.dumps(
        {"Version": "2008-10-17", "Statement": [allow("s3:*", "arn:aws:s3:::${a:b}")]}
    )
    assert iam("GetContextKeysForCustomPolicy", PolicyInputList=[legacy]) == {"ContextKeyNames": []}
    err = error_of(iam, "GetContextKeysForCustomPolicy", PolicyInputList=["{"])
    assert isinstance(err, InvalidInput)


def test_context_keys_for_principal_policy(iam: Call, world: Seed) -> None:
    world.inline(
        "user",
        "alice",
        "FromOffice",
        policy(allow("s3:*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
    )
    world.inline("group", "devs", "AlsoOffice", policy(
        allow("ec2:*", Condition={"NotIpAddress": {"AWS:SOURCEIP": "10.9.0.0/16"},
                                  "StringLike": {"s3:prefix": "${aws:userid}/*"}})))  # fmt: skip
    extra = policy(allow("sqs:*", Condition={"Bool": {"aws:SecureTransport": "true"}}))
    out = iam("GetContextKeysForPrincipalPolicy", PolicySourceArn=ALICE, PolicyInputList=[extra])
    assert out == {
        "ContextKeyNames": ["aws:SourceIp", "s3:prefix", "aws:userid", "aws:SecureTransport"]
    }
    out = iam("GetContextKeysForPrincipalPolicy", PolicySourceArn=APP)
    assert out == {"ContextKeyNames": []}
    err = error_of(
        iam, "GetContextKeysForPrincipalPolicy", PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/x"
    )
    assert (type(err), err.message) == (NoSuchEntity, "The user with name x cannot be found.")


# --------------------------------------------------------------------- authorization


def test_caller_without_permission_is_denied(iam_as: Call, world: Seed) -> None:
    carol = user_caller("carol", "AIDAEXAMPLEEXAMPLE99")
    world.user("carol")
    calls: list[tuple[str, dict[str, Any], str]] = [
        ("SimulatePrincipalPolicy", {"PolicySourceArn": ALICE, "ActionNames": ["s3:*"]}, ALICE),
        ("SimulateCustomPolicy", {"PolicyInputList": [], "ActionNames": ["s3:x"]}, "*"),
        ("GetContextKeysForPrincipalPolicy", {"PolicySourceArn": ALICE}, ALICE),
        ("GetContextKeysForCustomPolicy", {"PolicyInputList": []}, "*"),
    ]
    for name, params, resource in calls:
        err = error_of(iam_as, carol, name, **params)
        assert isinstance(err, AccessDenied)
        assert err.message == (
            f"User: {carol.arn} is not authorized to perform: iam:{name} on resource: "
            f"{resource} because no identity-based policy allows the iam:{name} action"
        )


def test_caller_with_permission_on_one_user(iam_as: Call, world: Seed) -> None:
    carol = user_caller("carol", "AIDAEXAMPLEEXAMPLE99")
    world.user("carol")
    world.inline("user", "carol", "Sim", policy(allow("iam:SimulatePrincipalPolicy", ALICE)))
    out = iam_as(carol, "SimulatePrincipalPolicy", PolicySourceArn=ALICE, ActionNames=["sqs:x"])
    assert results(out)[0]["EvalDecision"] == "implicitDeny"
    err = error_of(
        iam_as, carol, "SimulatePrincipalPolicy", PolicySourceArn=BOB, ActionNames=["s3:x"]
    )
    assert isinstance(err, AccessDenied)


# ------------------------------------------------------------------------------ wire


def test_output_serializes_to_the_model(iam: Call, world: Seed) -> None:
    """The results are exactly what IAM's output shape carries: the XML serializer
    refuses unknown members and wrong types, botocore parses it back."""
    out = iam(
        "SimulatePrincipalPolicy",
        PolicySourceArn=BOB,
        ActionNames=["s3:GetObject", "ec2:RunInstances"],
        ResourceArns=[BUCKET, "*"],
        ResourcePolicy=policy(allow("s3:*", "*", Principal={"AWS": BOB})),
        ResourceOwner=f"arn:aws:iam::{OTHER}:root",
        ContextEntries=[entry("aws:SourceIp", "ip", "10.0.0.1")],
        MaxItems=3,
    )  # fmt: skip
    shape = service_model("iam").operation_model("SimulatePrincipalPolicy").output_shape
    body = serialize_response("iam", "SimulatePrincipalPolicy", out, "req-1")
    parsed = create_parser("query").parse({"body": body, "headers": {}, "status_code": 200}, shape)
    parsed.pop("ResponseMetadata")
    assert parsed == out
    keys = iam("GetContextKeysForCustomPolicy", PolicyInputList=[CLI_EXAMPLE])
    body = serialize_response("iam", "GetContextKeysForCustomPolicy", keys, "req-1")
    assert unquote(body.decode()).count("aws:CurrentTime") == 1
