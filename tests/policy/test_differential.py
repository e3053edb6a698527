"""The compiled engine against the reference evaluator, on random policies and requests.

Policies and requests are drawn from small pools of actions, resources, principals,
condition keys and values, so that statements match often and every branch of the
evaluation logic (docs/policy-semantics.md) is reached: allowed, explicit and implicit
deny from each kind of policy. A sanity test checks that the mix stays meaningful.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from random import Random
from typing import Any

from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from tests.policy.reference import reference_evaluate

from chamberlain.policy import compile_documents, evaluate
from chamberlain.policy.decision import Decision, Outcome
from chamberlain.policy.inputs import Applicable, PolicyDocuments
from chamberlain.policy.request import ContextValue, Principal, PrincipalType, Request

A, B = "111111111111", "222222222222"
ACCOUNTS = (A, B)

# ------------------------------------------------------------------ actions

SERVICES: dict[str, list[str]] = {
    "s3": [
        "GetObject",
        "PutObject",
        "ListBucket",
        "DeleteObject",
        "GetBucketPolicy",
        "ListAllMyBuckets",
    ],
    "iam": ["GetUser", "CreateUser", "ListUsers", "PassRole", "GetRole", "DeleteRole"],
    "ec2": ["RunInstances", "DescribeInstances", "StopInstances", "StartInstances", "CreateTags"],
    "dynamodb": ["GetItem", "PutItem", "Query", "Scan", "DeleteItem", "DescribeTable"],
    "kms": ["Decrypt", "Encrypt", "GenerateDataKey", "DescribeKey", "CreateGrant", "ListKeys"],
    "sts": ["AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "TagSession"],
}
ACTIONS = tuple(f"{service}:{name}" for service, names in SERVICES.items() for name in names)
TRUST_ACTIONS = (
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:TagSession",
)


def mangle_case(text: str, how: int) -> str:
    return (text, text.lower(), text.upper(), text.swapcase())[how % 4]


def action_pattern(rnd: Random, request_action: str) -> str:
    """An Action/NotAction entry, often derived from the request's action."""
    base = rnd.choice((request_action, request_action, *ACTIONS))
    service, name = base.split(":")
    return rnd.choice(
        (
            "*",
            f"{service}:*",
            f"{service}:{name[:3]}*",
            f"{service}:?{name[1:]}",
            f"{service}:*{name[-4:]}",
            mangle_case(base, rnd.randrange(4)),
            base,
        )
    )


# ------------------------------------------------------------------ resources

RESOURCES = (
    "arn:aws:s3:::bucket-a",
    "arn:aws:s3:::bucket-a/home/alice/notes.txt",
    "arn:aws:s3:::bucket-b/dev/x:y",
    "arn:aws:s3:::bucket-a/*",  # an object key that is a literal `*`
    f"arn:aws:iam::{A}:user/alice",
    f"arn:aws:iam::{A}:role/admin",
    f"arn:aws:iam::{B}:role/admin",
    f"arn:aws:dynamodb:us-east-1:{B}:table/orders",
    f"arn:aws:kms:us-east-1:{A}:key/k1",
    "*",
)
RESOURCE_PATTERNS = (
    "*",
    "arn:aws:s3:::bucket-a/*",
    "arn:aws:s3:::*",
    "arn:aws:*",
    "arn:aws:kms:*",  # IAM refuses "arn:aws:s3:*" (region information)
    "arn:aws:iam::*:role/*",
    f"arn:aws:iam::{A}:*",
    "arn:aws:s3:::bucket-?",
    "arn:aws:s3:::bucket-b/dev/x:*",
    f"arn:aws:dynamodb:*:{B}:*",
    "arn:aws:dynamodb:*:*:table/orders",
    "arn:aws:dynamodb:*:table/*",  # doc: a `*` before the last segment stops at colons
    "arn:aws:kms:*:key/*",
    "arn:aws:s3:::Bucket-a*",
    "arn:aws:iam::?:*",
    "arn:aws:s3:::bucket-a/home/${aws:username}/*",
    f"arn:aws:iam::{A}:user/${{aws:username, 'alice'}}",
    "arn:aws:s3:::bucket-b/${aws:PrincipalTag/team}/*",
    "arn:aws:s3:::bucket-a/home/${aws:TagKeys, 'alice'}/*",
    "arn:aws:s3:::bucket-a/${*}",
    f"arn:aws:iam::${{aws:PrincipalAccount, '{A}'}}:role/admin",
)


def resource_pattern(rnd: Random, request_resource: str) -> str:
    if request_resource != "*" and rnd.randrange(4) == 0:
        return request_resource
    return rnd.choice(RESOURCE_PATTERNS + RESOURCES)


# ------------------------------------------------------------------ principals

CANONICAL = {A: "a" * 63 + "1", B: "b" * 63 + "2"}
OIDC = "cognito-identity.amazonaws.com"


def saml_provider(account: str) -> str:
    return f"arn:aws:iam::{account}:saml-provider/corp"


def principals(account: str) -> list[Principal]:
    iam, sts = f"arn:aws:iam::{account}", f"arn:aws:sts::{account}"
    return [
        Principal(f"{iam}:root", account, PrincipalType.ROOT, canonical_user=CANONICAL[account]),
        Principal(f"{iam}:user/alice", account),
        Principal(f"{iam}:user/bob", account),
        Principal(
            f"{sts}:assumed-role/admin/s1", account, PrincipalType.ASSUMED_ROLE, f"{iam}:role/admin"
        ),
        Principal(
            f"{sts}:federated-user/fed", account, PrincipalType.FEDERATED_USER, f"{iam}:user/alice"
        ),
        Principal("ec2.amazonaws.com", account, PrincipalType.SERVICE, service="ec2.amazonaws.com"),
        Principal(
            f"{sts}:assumed-role/web/u1",
            account,
            PrincipalType.WEB_IDENTITY,
            federated_provider=OIDC,
        ),
        Principal(
            f"{sts}:assumed-role/saml/u2",
            account,
            PrincipalType.SAML,
            federated_provider=saml_provider(account),
        ),
    ]


CALLERS_A = principals(A)
CALLERS = [*CALLERS_A, *principals(B), Principal("anonymous", "", PrincipalType.ANONYMOUS)]
AWS_ENTRIES = [
    entry
    for account in ACCOUNTS
    for entry in (
        account,
        f"arn:aws:iam::{account}:root",
        f"arn:aws:iam::{account}:user/alice",
        f"arn:aws:iam::{account}:user/bob",
        f"arn:aws:iam::{account}:role/admin",
        f"arn:aws:sts::{account}:assumed-role/admin/s1",
        f"arn:aws:sts::{account}:federated-user/fed",
    )
]


def principal_element(rnd: Random, caller: Principal, trust: bool) -> Any:
    """A Principal value; its AWS entries often name the caller (directly, through its
    issuer or its account) so that resource-policy statements apply often."""
    kind = rnd.randrange(10)
    if kind == 0:
        return "*"
    if kind == 1:
        return {"AWS": "*"}
    spec: dict[str, Any] = {}
    if kind <= 6 or rnd.randrange(2):
        near = [
            caller.arn,
            caller.issuer_arn,
            caller.account,
            f"arn:aws:iam::{caller.account}:root",
        ]
        pool = [e for e in near if e in AWS_ENTRIES] + AWS_ENTRIES[::3]
        entries = sorted(set(rnd.choices(pool, k=rnd.randint(1, 3))))
        spec["AWS"] = one_or_list(entries)
    if kind == 7:
        spec["Service"] = rnd.choice(
            ("ec2.amazonaws.com", "EC2.amazonaws.com", "lambda.amazonaws.com")
        )
    if kind == 8:
        spec["Federated"] = rnd.choice((OIDC, saml_provider(A), saml_provider(B)))
    if kind == 9 and not trust:
        spec["CanonicalUser"] = rnd.choice(list(CANONICAL.values()))
    return spec or {"AWS": rnd.choice(AWS_ENTRIES)}


# ------------------------------------------------------------------ conditions

MOMENTS = (
    dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC),
    dt.datetime(2025, 3, 1, 8, 30),  # naive: UTC
)
# key -> the context values a request may carry for it
CONTEXT_POOLS: dict[str, tuple[Any, ...]] = {
    "aws:PrincipalTag/team": ("dev", "ops", "Dev"),
    "aws:username": ("alice", "bob"),
    "s3:prefix": ("home/alice/", "home/bob/", "dev/", "home/*"),
    "aws:TagKeys": (["env"], ["env", "team"], ["team", "cost"], []),
    "aws:SourceIp": ("10.0.0.5", "192.168.1.20", "2001:db8::7", "bogus"),
    "aws:CurrentTime": (*MOMENTS, "2024-06-01T12:00:00Z", 1717243200, "1717243200", "soon"),
    "aws:MultiFactorAuthPresent": (True, False, "true", "FALSE", "maybe"),
    "s3:max-keys": (5, 10, "10", 2.5, "many"),
    "aws:SourceArn": (*RESOURCES[:8], "not:an:arn"),
    "test:blob": (b"hello", "aGVsbG8=", "d29ybGQ=", "!!"),
    "aws:PrincipalAccount": ACCOUNTS,
}
STRING_VALUES = (
    "dev",
    "ops",
    "DEV",
    "alice",
    "env",
    "team",
    "home/alice/",
    "true",
    "10",
    10,
    True,
    "d*",
    "home/*",
    "*",
    "?ev",
    "home/${aws:username}/",
    "home/${aws:username}/*",
    "${aws:PrincipalTag/team}",
    "${aws:username, 'alice'}",
    "home/${*}",
    "${aws:TagKeys, 'env'}",
    "owner-${aws:userid}",  # never in the context: a value that is effectively null
)
# family -> (operators, keys, policy values)
FAMILIES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[Any, ...]]] = {
    "String": (
        (
            "StringEquals",
            "StringNotEquals",
            "StringEqualsIgnoreCase",
            "StringNotEqualsIgnoreCase",
            "StringLike",
            "StringNotLike",
        ),
        (
            "aws:PrincipalTag/team",
            "aws:username",
            "s3:prefix",
            "aws:TagKeys",
            "aws:MultiFactorAuthPresent",
            "s3:max-keys",
        ),
        STRING_VALUES,
    ),
    "Numeric": (
        (
            "NumericEquals",
            "NumericNotEquals",
            "NumericLessThan",
            "NumericLessThanEquals",
            "NumericGreaterThan",
            "NumericGreaterThanEquals",
        ),
        ("s3:max-keys", "aws:username"),
        (5, "10", 2.5, "7", "-1"),
    ),
    "Date": (
        (
            "DateEquals",
            "DateNotEquals",
            "DateLessThan",
            "DateLessThanEquals",
            "DateGreaterThan",
            "DateGreaterThanEquals",
        ),
        ("aws:CurrentTime",),
        (
            "2024-03-01T00:00:00Z",
            "2024-06-01",
            1717243200,
            "1717243200",
            "2024-06-01T14:00:00+02:00",
            "2025-03-01T08:30:00.000Z",
        ),
    ),
    "Bool": (("Bool",), ("aws:MultiFactorAuthPresent",), ("true", "false", True, "TRUE")),
    "Ip": (
        ("IpAddress", "NotIpAddress"),
        ("aws:SourceIp",),
        ("10.0.0.0/8", "192.168.1.20", "2001:db8::/32", "0.0.0.0/0"),
    ),
    "Arn": (
        ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"),
        ("aws:SourceArn",),
        (*RESOURCE_PATTERNS[1:11], *RESOURCES[:8], "arn:aws:s3:::bucket-a/${aws:userid}"),
    ),
    "Binary": (("BinaryEquals",), ("test:blob",), ("aGVsbG8=", "d29ybGQ=")),
}


def one_or_list(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


def condition_clause(rnd: Random) -> tuple[str, str, Any]:
    family = rnd.choice([*FAMILIES, "String", "String", "Null"])
    if family == "Null":
        key = rnd.choice(list(CONTEXT_POOLS))
        return "Null", key, rnd.choice(("true", "false", True, False))
    operators, keys, values = FAMILIES[family]
    operator = rnd.choice(operators)
    if rnd.randrange(5) == 0:
        operator = rnd.choice(("ForAnyValue:", "ForAllValues:")) + operator
    if rnd.randrange(5) == 0:
        operator += "IfExists"
    key = mangle_case(rnd.choice(keys), rnd.randrange(8))
    if rnd.randrange(12) == 0:
        return operator, key, []  # AWS accepts an empty list of values
    chosen = rnd.sample(values, rnd.randint(1, min(3, len(values))))
    return operator, key, one_or_list(chosen)


def condition_block(rnd: Random) -> dict[str, dict[str, Any]]:
    block: dict[str, dict[str, Any]] = {}
    for _ in range(rnd.randint(1, 2)):
        operator, key, values = condition_clause(rnd)
        block.setdefault(operator, {})[key] = values
    if rnd.randrange(20) == 0:
        block["Bogus"] = {}  # AWS accepts any operator name over an empty block
    return block


# ------------------------------------------------------------------ policies


def statement(rnd: Random, request: Request, kind: str) -> dict[str, Any]:
    """One statement; `kind` is identity, resource or trust."""
    out: dict[str, Any] = {}
    if rnd.randrange(4) == 0:
        out["Sid"] = rnd.choice(("S1", "S2", "Read", "Deny1"))
    out["Effect"] = "Deny" if rnd.randrange(7) == 0 else "Allow"
    if kind != "identity":
        element = "NotPrincipal" if kind == "resource" and rnd.randrange(8) == 0 else "Principal"
        out[element] = principal_element(rnd, request.principal, kind == "trust")
    if kind == "trust":
        pool = (*TRUST_ACTIONS, "sts:*", "sts:AssumeRole*", request.action)
        out["Action"] = one_or_list(rnd.sample(pool, rnd.randint(1, 2)))
    else:
        actions = [action_pattern(rnd, request.action) for _ in range(rnd.randint(1, 3))]
        out["NotAction" if rnd.randrange(7) == 0 else "Action"] = one_or_list(actions)
        resources = [resource_pattern(rnd, request.resource) for _ in range(rnd.randint(1, 2))]
        element = "NotResource" if rnd.randrange(7) == 0 else "Resource"
        if not (kind == "resource" and rnd.randrange(10) == 0):  # may be implicit there
            out[element] = one_or_list(resources)
    if rnd.randrange(3) == 0:
        out["Condition"] = condition_block(rnd)
    return out


def document(rnd: Random, request: Request, kind: str) -> str:
    statements = [statement(rnd, request, kind) for _ in range(rnd.randint(1, 3))]
    seen: set[str] = set()
    for s in statements:  # Sids must be unique within a policy
        if s.get("Sid") in seen:
            del s["Sid"]
        seen.add(s.get("Sid", ""))
    body: dict[str, Any] = {}
    version = rnd.choice(("2012-10-17",) * 6 + ("2008-10-17", None))
    if version is not None:
        body["Version"] = version
    one = len(statements) == 1 and rnd.randrange(2) == 0
    body["Statement"] = statements[0] if one else statements
    return json.dumps(body)


def context(rnd: Random) -> dict[str, ContextValue]:
    values: dict[str, ContextValue] = {}
    for key, pool in CONTEXT_POOLS.items():
        if rnd.randrange(10) < 6:
            values[mangle_case(key, rnd.randrange(6))] = rnd.choice(pool)
    return values


def build_case(rnd: Random) -> tuple[Request, PolicyDocuments]:
    """A request and the documents that apply to it."""
    caller = rnd.choice(CALLERS_A if rnd.randrange(3) else CALLERS)
    trust = rnd.randrange(7) == 0
    if trust:
        action = rnd.choice(TRUST_ACTIONS)
        resource = rnd.choice((f"arn:aws:iam::{A}:role/admin", f"arn:aws:iam::{B}:role/admin"))
    else:
        action = mangle_case(rnd.choice(ACTIONS), rnd.randrange(8))
        resource = rnd.choice(RESOURCES)
    request = Request(caller, action, resource, context(rnd))

    identity = [document(rnd, request, "identity") for _ in range(rnd.choice((0, 1, 1, 2, 3)))]
    resource_doc = None
    if trust or rnd.randrange(2):
        resource_doc = ("res", document(rnd, request, "trust" if trust else "resource"))
    boundary = session = None
    if not caller.is_root:  # the root user has neither
        if rnd.randrange(4) == 0:
            boundary = ("bnd", document(rnd, request, "identity"))
        if rnd.randrange(4) == 0:
            count = rnd.randint(1, 2)
            session = tuple((f"ses{i}", document(rnd, request, "identity")) for i in range(count))
    documents = Applicable(
        identity=tuple((f"id{i}", t) for i, t in enumerate(identity)),
        resource=resource_doc,
        resource_account=rnd.choice((None, None, None, None, None, None, A, B)),
        boundary=boundary,
        session=session,
        require_resource_allow=trust,
    )
    return request, documents


cases = st.randoms(use_true_random=False).map(build_case)


# ------------------------------------------------------------------ the tests


def summary(decision: Decision) -> tuple[Any, ...]:
    return (
        decision.outcome,
        decision.denied_by,
        {(m.policy_id, m.index) for m in decision.matched},
        set(decision.matched),
        decision.missing_context_keys,
    )


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases)
def test_engine_agrees_with_reference(case: tuple[Request, PolicyDocuments]) -> None:
    request, documents = case
    note(f"request: {request}\ndocuments: {documents}")
    expected = reference_evaluate(request, documents)
    policy_set = compile_documents(documents)
    explained = evaluate(request, policy_set, explain=True)
    note(f"reference: {expected}\nengine:    {explained}")
    event(f"{expected.outcome.value} {expected.denied_by.name if expected.denied_by else ''}")
    assert summary(explained) == summary(expected)
    # The fast path (no explanation) decides the same, naming a subset of the statements.
    fast = evaluate(request, policy_set)
    assert (fast.outcome, fast.denied_by) == (expected.outcome, expected.denied_by)
    assert set(fast.matched) <= set(expected.matched)


def test_generated_cases_reach_every_outcome() -> None:
    """Guards the generator: enough allowed, explicit-deny and implicit-deny cases, each
    kind of implicit deny, and cases where a context key is missing."""
    counts: Counter[str] = Counter()

    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(case=cases)
    def tally(case: tuple[Request, PolicyDocuments]) -> None:
        decision = reference_evaluate(*case)
        counts[decision.outcome.value] += 1
        if decision.denied_by is not None:
            counts[f"{decision.outcome.value} {decision.denied_by.name}"] += 1
        if decision.missing_context_keys:
            counts["missing keys"] += 1

    tally()
    total = sum(counts[o.value] for o in Outcome)
    assert counts[Outcome.ALLOWED.value] >= total * 0.15, counts
    assert counts[Outcome.EXPLICIT_DENY.value] >= total * 0.10, counts
    assert counts[Outcome.IMPLICIT_DENY.value] >= total * 0.15, counts
    for source in ("IDENTITY", "RESOURCE", "BOUNDARY", "SESSION"):
        assert counts[f"implicitDeny {source}"] >= 3, counts
    assert counts["missing keys"] >= total * 0.10, counts
