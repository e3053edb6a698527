"""Policy validation: the data-driven cases in tests/cases/validate_*.yaml, plus the
validator's own functions (sizes, operators, message truncation).

Each case is parsed with `parse_policy` as the kind it names; it must either parse
(`valid: true`) or raise MalformedPolicyDocument whose message (what goes on the wire) is
exactly `error`, AWS's text, and whose detail (for editors and logs) contains `detail`.
(tests/cases/*.yaml files without the `validate_` prefix belong to the evaluation runner.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from chamberlain.policy.errors import MalformedPolicyDocument, PolicyTooLarge
from chamberlain.policy.model import (
    ConditionClause,
    Effect,
    Policy,
    PolicyType,
    PrincipalSpec,
    Statement,
)
from chamberlain.policy.parse import MAX_DOCUMENT_CHARS, parse_policy
from chamberlain.policy.validate import (
    INLINE_GROUP_MAX,
    INLINE_ROLE_MAX,
    INLINE_USER_MAX,
    MANAGED_POLICY_MAX,
    SESSION_POLICY_MAX,
    TRUST_POLICY_MAX,
    check_clause,
    glob_match,
    operator_base,
    policy_size,
    require_current_version,
    validate_policy,
)

CASES_DIR = Path(__file__).resolve().parent.parent / "cases"
MIN_CASES = 80
CASE_KEYS = {
    "name",
    "doc",
    "kind",
    "policy",
    "policy_text",
    "size_limit",
    "current_version",
    "error",
    "detail",
    "valid",
}


@dataclass(frozen=True)
class Case:
    file: str
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.file}::{self.data['name']}"


def _load_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(CASES_DIR.glob("validate_*.yaml")):
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(content, dict), f"{path.name}: not a mapping"
        assert str(content.get("doc", "")).startswith("https://"), f"{path.name}: no doc URL"
        for data in content["cases"]:
            cases.append(Case(path.name, data))
    return cases


CASES = _load_cases()


def _document(data: dict[str, Any]) -> str:
    if "policy_text" in data:
        return str(data["policy_text"])
    return json.dumps(data["policy"])


def _options(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "size_limit": data.get("size_limit"),
        "current_version": bool(data.get("current_version", False)),
    }


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    data = case.data
    assert set(data) <= CASE_KEYS, f"unknown keys {set(data) - CASE_KEYS}"
    assert ("policy" in data) != ("policy_text" in data), "give policy or policy_text"
    assert ("error" in data) != ("valid" in data), "give error or valid"
    assert "detail" not in data or "error" in data, "detail goes with error"
    kind = PolicyType(data.get("kind", "identity"))
    document = _document(data)
    if data.get("valid"):
        policy = parse_policy(document, kind, **_options(data))
        assert policy.statements
    else:
        with pytest.raises(MalformedPolicyDocument) as raised:
            parse_policy(document, kind, **_options(data))
        assert raised.value.message == data["error"]
        assert str(raised.value) == raised.value.message
        assert data.get("detail", "") in raised.value.detail


def test_there_are_enough_cases_with_unique_names_and_sources() -> None:
    assert len(CASES) >= MIN_CASES, f"only {len(CASES)} validation cases"
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "case names must be unique within a file"
    for case in CASES:
        assert str(case.data.get("doc", "")).startswith("https://docs.aws.amazon.com/"), case.id
    kinds = {c.data.get("kind", "identity") for c in CASES}
    assert kinds == {k.value for k in PolicyType}
    assert sum(1 for c in CASES if c.data.get("valid")) >= 20
    assert sum(1 for c in CASES if "error" in c.data) >= 60


# -- sizes ----------------------------------------------------------------------------


def test_quotas_are_aws_defaults() -> None:
    assert MANAGED_POLICY_MAX == 6144
    assert INLINE_USER_MAX == 2048
    assert INLINE_GROUP_MAX == 5120
    assert INLINE_ROLE_MAX == 10240
    assert TRUST_POLICY_MAX == 2048
    assert SESSION_POLICY_MAX == 2048


def test_policy_size_ignores_whitespace_only() -> None:
    assert policy_size("") == 0
    assert policy_size(' { "a" :\t[1,\r\n2] } ') == len('{"a":[1,2]}')
    assert policy_size("\u00a0x") == 2  # a no-break space is a character like any other


def _statement_of_size(n_actions: int) -> str:
    actions = [f"s3:Action{i:05d}" for i in range(n_actions)]
    return json.dumps({"Statement": {"Effect": "Allow", "Action": actions, "Resource": "*"}})


def test_managed_quota_refuses_a_large_policy_as_too_large() -> None:
    text = _statement_of_size(500)
    assert policy_size(text) > MANAGED_POLICY_MAX
    parse_policy(text)  # valid without a limit
    with pytest.raises(PolicyTooLarge, match="Cannot exceed quota for PolicySize: 6144"):
        parse_policy(text, size_limit=MANAGED_POLICY_MAX)


def test_documents_over_the_api_length_are_refused_before_parsing() -> None:
    padded = _statement_of_size(1) + " " * MAX_DOCUMENT_CHARS
    with pytest.raises(PolicyTooLarge, match="maximum length"):
        parse_policy(padded)
    with pytest.raises(PolicyTooLarge, match="maximum length"):
        parse_policy(padded.encode())
    with pytest.raises(PolicyTooLarge):
        parse_policy(b"\xff" * (4 * MAX_DOCUMENT_CHARS + 1))


def test_require_current_version() -> None:
    current = parse_policy(
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}'
    )
    require_current_version(current)
    for version in ("2008-10-17", None):
        old = Policy(version=version, id=None, statements=current.statements)
        with pytest.raises(MalformedPolicyDocument, match="must be version 2012-10-17"):
            require_current_version(old)


# -- the validator on models built by hand -------------------------------------------


def _statement(**fields: Any) -> Statement:
    base: dict[str, Any] = {
        "index": 0,
        "sid": None,
        "effect": Effect.ALLOW,
        "action": ("s3:GetObject",),
        "resource": ("*",),
    }
    base.update(fields)
    return Statement(**base)


def test_validate_policy_checks_models_it_did_not_parse() -> None:
    ok = Policy("2012-10-17", None, (_statement(),))
    validate_policy(ok, PolicyType.IDENTITY)
    with pytest.raises(MalformedPolicyDocument, match="Syntax errors in policy"):
        validate_policy(Policy("2010-01-01", None, (_statement(),)), PolicyType.IDENTITY)
    with pytest.raises(MalformedPolicyDocument, match="Syntax errors in policy") as raised:
        validate_policy(Policy(None, None, ()), PolicyType.IDENTITY)
    assert "no statements" in raised.value.detail
    both = _statement(
        principal=PrincipalSpec(wildcard=True), not_principal=PrincipalSpec(aws=("*",))
    )
    with pytest.raises(MalformedPolicyDocument, match="Syntax errors in policy") as raised:
        validate_policy(Policy(None, None, (both,)), PolicyType.RESOURCE)
    assert "both Principal and NotPrincipal" in raised.value.detail


def test_validate_policy_accepts_kind_as_its_value() -> None:
    trust = _statement(
        principal=PrincipalSpec(service=("ec2.amazonaws.com",)),
        action=("sts:AssumeRole",),
        resource=None,
    )
    validate_policy(Policy(None, None, (trust,)), "trust")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("operator", "base"),
    [
        ("StringEquals", "StringEquals"),
        ("StringLikeIfExists", "StringLike"),
        ("ForAnyValue:StringNotEqualsIgnoreCase", "StringNotEqualsIgnoreCase"),
        ("ForAllValues:NumericLessThanEqualsIfExists", "NumericLessThanEquals"),
        ("Null", "Null"),
        ("ForAnyValue:Null", "Null"),
        ("NullIfExists", None),
        ("IfExists", None),
        ("StringEqualsIfExistsIfExists", None),
        ("ForAnyValue:", None),
        ("forAnyValue:StringEquals", None),
        ("", None),
    ],
)
def test_operator_base(operator: str, base: str | None) -> None:
    assert operator_base(operator) == base


def test_check_clause_takes_any_key_and_no_values() -> None:
    """AWS accepts a key without a vendor and an empty list of values (the cases in
    validate_conditions.yaml); the values it is given must still fit the operator."""
    check_clause(ConditionClause("StringEquals", "aws:username", ("a",)))
    check_clause(ConditionClause("StringEquals", "username", ()))
    with pytest.raises(MalformedPolicyDocument, match="Syntax errors in policy") as raised:
        check_clause(ConditionClause("NumericEquals", "n", ("one",)))
    detail = 'Statement: Condition NumericEquals "n": value "one" is not a number.'
    assert raised.value.detail == detail



# -- messages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "x" * 10000},
        {"Effect": "Allow", "Action": "s3 " + "x" * 10000, "Resource": "*"},
        {"Effect": "Allow", "Action": "*", "Resource": "*", "Sid": "-" * 10000},
        {"Effect": "Allow", "Action": "*", "Resource": "*", "X" * 10000: 1},
        {"Effect": "A" * 10000, "Action": "*", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"S" * 10000: {"aws:username": "a"}},
        },
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"NumericEquals": {"k" * 10000: "one"}},
        },
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateEquals": {"aws:CurrentTime": "d" * 10000}},
        },
    ],
)
def test_messages_never_echo_huge_inputs(statement: dict[str, Any]) -> None:
    with pytest.raises(MalformedPolicyDocument) as raised:
        parse_policy(json.dumps({"Statement": statement}))
    assert len(raised.value.message) < 400
    assert len(raised.value.detail) < 400


def test_principal_messages_name_the_entry() -> None:
    doc = {
        "Statement": {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::1:user/x"},
            "Action": "sts:AssumeRole",
        }
    }
    with pytest.raises(MalformedPolicyDocument) as raised:
        parse_policy(json.dumps(doc), PolicyType.TRUST)
    assert raised.value.message == ('Invalid principal in policy: "AWS":"arn:aws:iam::1:user/x"')


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("sts:AssumeRole", "STS:assumerole", True),
        ("sts:*", "sts:AssumeRole", True),
        ("sts:Assume*", "sts:AssumeRoleWithSAML", True),
        ("sts:?ssumeRole", "sts:AssumeRole", True),
        ("*Role", "sts:AssumeRole", True),
        ("sts:AssumeRole", "sts:AssumeRoleWithSAML", False),
        ("sts:Assume?", "sts:AssumeRole", False),
        ("*a*b", "sts:AssumeRole", False),
        ("", "", True),
        ("*", "", True),
        ("?", "", False),
    ],
)
def test_glob_match(pattern: str, text: str, matches: bool) -> None:
    assert glob_match(pattern, text) is matches


def test_trust_actions_with_many_wildcards_are_checked_quickly() -> None:
    # A regex built from this pattern backtracks exponentially; the matcher must not.
    action = "sts:" + "*a" * 5000 + "*b"
    doc = {"Statement": {"Effect": "Allow", "Principal": "*", "Action": action}}
    with pytest.raises(MalformedPolicyDocument, match="Trust Policy statement actions"):
        parse_policy(json.dumps(doc), PolicyType.TRUST)
