"""parse_policy: normalisation into the model, and robustness against any input at all.

The property tests feed arbitrary text, bytes, JSON values and mutated valid policies:
whatever comes in, the only exception allowed out is MalformedPolicyDocument (of which
PolicyTooLarge is a kind). Generated valid policies must parse, with their content intact.
"""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chamberlain.policy.errors import MalformedPolicyDocument
from chamberlain.policy.model import (
    ConditionClause,
    Effect,
    Policy,
    PolicyType,
    PrincipalSpec,
    Statement,
)
from chamberlain.policy.parse import MAX_NESTING, parse_policy

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Generating whole valid policies costs more than parsing them: fewer examples there.
GENERATED = settings(PROPERTY, max_examples=150)


def _one(statement: dict[str, Any], **top: Any) -> Statement:
    policy = parse_policy(json.dumps({**top, "Statement": statement}))
    assert len(policy.statements) == 1
    return policy.statements[0]


# -- normalisation --------------------------------------------------------------------


def test_strings_and_lists_become_tuples() -> None:
    st_ = _one({"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["*"]})
    assert st_.action == ("s3:GetObject",)
    assert st_.not_action is None
    assert st_.resource == ("*",)
    assert st_.not_resource is None
    st_ = _one({"Effect": "Deny", "NotAction": ["s3:A", "s3:B"], "NotResource": "arn:aws:s3:::b"})
    assert st_.not_action == ("s3:A", "s3:B")
    assert st_.action is None
    assert st_.not_resource == ("arn:aws:s3:::b",)
    assert st_.effect is Effect.DENY


def test_statement_object_and_list_give_the_same_statements() -> None:
    body = {"Sid": "One", "Effect": "Allow", "Action": "*", "Resource": "*"}
    as_object = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": body}))
    as_list = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [body]}))
    assert as_object == as_list
    assert as_object.version == "2012-10-17"
    assert as_object.id is None
    assert as_object.statements[0].sid == "One"
    assert as_object.substitutes_variables


def test_statements_are_indexed_from_zero_in_order() -> None:
    doc = {
        "Id": "P1",
        "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": "s3:A", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:B", "Resource": "*"},
            {"Sid": "C", "Effect": "Allow", "Action": "s3:C", "Resource": "*"},
        ],
    }
    policy = parse_policy(json.dumps(doc))
    assert policy.version is None
    assert not policy.substitutes_variables
    assert policy.id == "P1"
    assert [(s.index, s.sid, s.action) for s in policy.statements] == [
        (0, "A", ("s3:A",)),
        (1, None, ("s3:B",)),
        (2, "C", ("s3:C",)),
    ]


def test_principals_are_normalised() -> None:
    def principal(value: Any, kind: PolicyType = PolicyType.RESOURCE) -> PrincipalSpec:
        doc = {
            "Statement": {
                "Effect": "Allow",
                "Principal": value,
                "Action": "s3:GetObject",
                "Resource": "*",
            }
        }
        spec = parse_policy(json.dumps(doc), kind).statements[0].principal
        assert spec is not None
        return spec

    assert principal("*") == PrincipalSpec(wildcard=True)
    assert principal({"AWS": "*"}) == PrincipalSpec(aws=("*",))
    canonical = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
    assert principal(
        {
            "AWS": ["123456789012", "arn:aws:iam::123456789012:role/r"],
            "Service": "ec2.amazonaws.com",
            "Federated": ["accounts.google.com"],
            "CanonicalUser": canonical,
        }
    ) == PrincipalSpec(
        aws=("123456789012", "arn:aws:iam::123456789012:role/r"),
        service=("ec2.amazonaws.com",),
        federated=("accounts.google.com",),
        canonical_user=(canonical,),
    )
    doc = {
        "Statement": {
            "Effect": "Deny",
            "NotPrincipal": {"AWS": "123456789012"},
            "Action": "s3:*",
            "Resource": "*",
        }
    }
    statement = parse_policy(json.dumps(doc), PolicyType.RESOURCE).statements[0]
    assert statement.principal is None
    assert statement.not_principal == PrincipalSpec(aws=("123456789012",))


def test_conditions_are_flattened_in_document_order() -> None:
    condition = {
        "StringEquals": {"aws:username": "alice", "aws:PrincipalTag/team": ["a", "b"]},
        "NumericLessThan": {"s3:max-keys": [10, 2.5, "7"]},
        "Bool": {"aws:SecureTransport": True},
        "ForAnyValue:StringLike": {"aws:TagKeys": ["x*"]},
        "Null": {"aws:TokenIssueTime": "false"},
    }
    statement = _one({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": condition})
    assert statement.conditions == (
        ConditionClause("StringEquals", "aws:username", ("alice",)),
        ConditionClause("StringEquals", "aws:PrincipalTag/team", ("a", "b")),
        ConditionClause("NumericLessThan", "s3:max-keys", (10, 2.5, "7")),
        ConditionClause("Bool", "aws:SecureTransport", (True,)),
        ConditionClause("ForAnyValue:StringLike", "aws:TagKeys", ("x*",)),
        ConditionClause("Null", "aws:TokenIssueTime", ("false",)),
    )
    numbers = statement.conditions[2].values
    assert [type(v) for v in numbers] == [int, float, str]
    assert type(statement.conditions[3].values[0]) is bool


def test_no_condition_and_empty_condition_give_no_clauses() -> None:
    assert _one({"Effect": "Allow", "Action": "*", "Resource": "*"}).conditions == ()
    empty = _one({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {}})
    assert empty.conditions == ()
    empty_op = {"StringEquals": {}}
    assert (
        _one({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": empty_op}).conditions
        == ()
    )


def test_bytes_are_read_as_utf8() -> None:
    text = (
        '{"Statement":{"Effect":"Allow","Action":"*","Resource":"*",'
        '"Condition":{"StringEquals":{"aws:PrincipalTag/city":"Zürich"}}}}'
    )
    from_bytes = parse_policy(text.encode("utf-8"))
    assert from_bytes == parse_policy(text)
    assert from_bytes.statements[0].conditions[0].values == ("Zürich",)
    with pytest.raises(MalformedPolicyDocument) as raised:
        parse_policy(text.encode("latin-1"))
    assert raised.value.message == "Syntax errors in policy."
    assert "not valid UTF-8" in raised.value.detail
    with pytest.raises(MalformedPolicyDocument, match="Syntax errors in policy"):
        parse_policy(b"\xef\xbb\xbf" + text.encode("utf-8"))  # a byte order mark


@pytest.mark.parametrize("document", [None, 42, 1.5, ["{}"], {"Statement": []}, object()])
def test_documents_that_are_not_text_are_malformed(document: Any) -> None:
    with pytest.raises(MalformedPolicyDocument) as raised:
        parse_policy(document)
    assert raised.value.message == "Syntax errors in policy."
    assert "must be JSON text" in raised.value.detail


def test_kind_may_be_given_by_value() -> None:
    doc = {
        "Statement": {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    }
    assert parse_policy(json.dumps(doc), "trust").statements[0].resource is None  # type: ignore[arg-type]
    with pytest.raises(MalformedPolicyDocument, match="should not specify a principal"):
        parse_policy(json.dumps(doc))


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1),
        '{"Statement": [' + "1," * 60_000 + "1]}",
        '{"Statement": "' + "x" * 130_000 + '"}',
        '{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": '
        '{"NumericEquals": {"a:b": ' + "9" * 5000 + "}}}}",
        '"\\ud800"',
        '{"Statement": "\ud800"}',
        '{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Sid": "\\udfff"}}',
    ],
)
def test_hostile_documents_are_malformed(text: str) -> None:
    with pytest.raises(MalformedPolicyDocument):
        parse_policy(text)


def test_nesting_up_to_the_limit_is_parsed() -> None:
    deep = "[" * (MAX_NESTING - 5) + "]" * (MAX_NESTING - 5)
    values = json.dumps({"aws:username": "x"})
    doc = (
        '{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",'
        f'"Condition": {{"StringEquals": {values}}}}}, "Id": "{deep}"}}'
    )
    assert parse_policy(doc).id == deep


# -- properties: nothing but MalformedPolicyDocument escapes ---------------------------


def _parses_or_is_malformed(document: str | bytes, kind: PolicyType) -> Policy | None:
    try:
        return parse_policy(document, kind, size_limit=2048)
    except MalformedPolicyDocument as exc:
        assert isinstance(exc.message, str)
        assert exc.message
        return None


kinds = st.sampled_from(list(PolicyType))


@PROPERTY
@given(st.text(), kinds)
def test_any_text_is_parsed_or_malformed(text: str, kind: PolicyType) -> None:
    _parses_or_is_malformed(text, kind)


@PROPERTY
@given(st.binary(), kinds)
def test_any_bytes_are_parsed_or_malformed(data: bytes, kind: PolicyType) -> None:
    _parses_or_is_malformed(data, kind)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["*", "Allow", "Deny", "2012-10-17", "sts:AssumeRole", "arn:aws:s3:::b"])
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=25,
)

TOP_KEYS = ["Version", "Id", "Statement"]
STATEMENT_KEYS = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
]
element_names = st.sampled_from(TOP_KEYS + STATEMENT_KEYS + ["AWS", "Service", "StringEquals"])
policy_shaped = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(element_names | st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=30,
)


def _dump(value: Any, ascii_only: bool) -> str:
    # allow_nan: json.dumps writes NaN/Infinity for such floats, which must be refused.
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True)


@PROPERTY
@given(json_values, st.booleans(), kinds)
def test_any_json_value_is_parsed_or_malformed(
    value: Any, ascii_only: bool, kind: PolicyType
) -> None:
    _parses_or_is_malformed(_dump(value, ascii_only), kind)


@PROPERTY
@given(policy_shaped, st.booleans(), kinds)
def test_policy_shaped_values_are_parsed_or_malformed(
    value: Any, ascii_only: bool, kind: PolicyType
) -> None:
    _parses_or_is_malformed(_dump(value, ascii_only), kind)
    _parses_or_is_malformed(_dump({"Statement": value}, ascii_only), kind)
    _parses_or_is_malformed(
        _dump({"Statement": [{"Effect": "Allow", "Condition": value}]}, ascii_only), kind
    )


# -- generated valid policies ----------------------------------------------------------

LATIN1_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), min_size=1, max_size=12
)
ALNUM = string.ascii_letters + string.digits
# st.text over small alphabets rather than st.from_regex: the same shapes, generated faster.
vendors = st.builds(
    str.__add__,
    st.sampled_from(string.ascii_lowercase + string.digits),
    st.text(string.ascii_lowercase + string.digits + "-", max_size=9),
)
action_names = st.text(ALNUM + "*?_-", min_size=1, max_size=15)
actions = st.just("*") | st.builds(lambda v, n: f"{v}:{n}", vendors, action_names)
arn_parts = st.text(ALNUM + "/_.*${}:-", min_size=1, max_size=20)
# IAM and S3 ARNs have no region; an IAM path starts with a resource type (AWS refuses
# others: tests/cases/validate_resource.yaml).
resources = (
    st.just("*")
    | st.builds(
        lambda service, region, account, rest: f"arn:aws:{service}:{region}:{account}:{rest}",
        st.sampled_from(["ec2", "dynamodb", "sqs"]),
        st.sampled_from(["", "us-east-1", "*", "eu-west-?"]),
        st.sampled_from(["", "123456789012", "*"]),
        arn_parts,
    )
    | st.builds(lambda rest: f"arn:aws:s3:::{rest}", arn_parts)
    | st.builds(
        lambda account, kind, rest: f"arn:aws:iam::{account}:{kind}{rest}",
        st.sampled_from(["", "123456789012", "*"]),
        st.sampled_from(["user/", "role/", "policy/", "group/"]),
        arn_parts,
    )
)
condition_keys = st.builds(
    lambda vendor, name: f"{vendor}:{name}",
    vendors,
    st.text(ALNUM + "/_-", min_size=1, max_size=12),
)


def _one_or_many(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return values | st.lists(values, min_size=1, max_size=4)


VALUE_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "StringEquals": LATIN1_TEXT,
    "StringLikeIfExists": LATIN1_TEXT | st.integers() | st.booleans(),
    "ForAnyValue:StringNotEquals": LATIN1_TEXT,
    "NumericLessThan": st.integers(-(10**6), 10**6) | st.floats(-1e6, 1e6),
    "DateGreaterThan": st.datetimes().map(lambda d: d.isoformat() + "Z"),
    "Bool": st.booleans() | st.sampled_from(["true", "false", "True"]),
    "IpAddress": st.ip_addresses().map(str),
    "ArnLike": resources,
    "Null": st.booleans(),
}
operators = st.sampled_from(sorted(VALUE_STRATEGIES))


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for operator in draw(st.lists(operators, max_size=3, unique=True)):
        keys = draw(st.lists(condition_keys, min_size=1, max_size=3, unique=True))
        result[operator] = {key: draw(_one_or_many(VALUE_STRATEGIES[operator])) for key in keys}
    return result


@st.composite
def valid_statements(draw: st.DrawFn, index: int, kind: PolicyType) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    if draw(st.booleans()):
        statement["Sid"] = f"S{index}x{draw(st.text(ALNUM, max_size=6))}"
    if kind is PolicyType.TRUST:
        statement["Principal"] = draw(
            st.just("*")
            | st.fixed_dictionaries(
                {
                    "AWS": _one_or_many(
                        st.sampled_from(["123456789012", "arn:aws:iam::123456789012:root", "*"])
                    )
                }
            )
            | st.fixed_dictionaries(
                {
                    "Service": _one_or_many(
                        st.sampled_from(["ec2.amazonaws.com", "lambda.amazonaws.com"])
                    )
                }
            )
        )
        statement["Action"] = draw(
            _one_or_many(
                st.sampled_from(
                    ["sts:AssumeRole", "sts:TagSession", "sts:*", "*", "sts:AssumeRoleWith*"]
                )
            )
        )
    else:
        if kind is PolicyType.RESOURCE:
            element = draw(st.sampled_from(["Principal", "NotPrincipal"]))
            statement[element] = draw(
                st.just("*")
                | st.fixed_dictionaries(
                    {
                        "AWS": _one_or_many(
                            st.sampled_from(["111122223333", "arn:aws:iam::111122223333:user/bob"])
                        )
                    }
                )
            )
        statement[draw(st.sampled_from(["Action", "NotAction"]))] = draw(_one_or_many(actions))
        statement[draw(st.sampled_from(["Resource", "NotResource"]))] = draw(
            _one_or_many(resources)
        )
    if draw(st.booleans()):
        statement["Condition"] = draw(conditions())
    return statement


@st.composite
def valid_policies(draw: st.DrawFn) -> tuple[PolicyType, dict[str, Any]]:
    kind = draw(kinds)
    count = draw(st.integers(1, 4))
    statements = [draw(valid_statements(i, kind)) for i in range(count)]
    policy: dict[str, Any] = {}
    version = draw(st.sampled_from(["2012-10-17", "2008-10-17", None]))
    if version is not None:
        policy["Version"] = version
    if draw(st.booleans()):
        policy["Id"] = draw(LATIN1_TEXT)
    single = count == 1 and draw(st.booleans())
    policy["Statement"] = statements[0] if single else statements
    return kind, policy


def _as_tuple(value: Any) -> tuple[Any, ...] | None:
    if value is None:
        return None
    return tuple(value) if isinstance(value, list) else (value,)


def _principal_spec(value: Any) -> PrincipalSpec | None:
    if value is None:
        return None
    if value == "*":
        return PrincipalSpec(wildcard=True)
    return PrincipalSpec(
        aws=_as_tuple(value.get("AWS")) or (),
        service=_as_tuple(value.get("Service")) or (),
        federated=_as_tuple(value.get("Federated")) or (),
        canonical_user=_as_tuple(value.get("CanonicalUser")) or (),
    )


def _expected(raw: dict[str, Any]) -> Policy:
    body = raw["Statement"]
    items = body if isinstance(body, list) else [body]
    statements = tuple(
        Statement(
            index=i,
            sid=s.get("Sid"),
            effect=Effect(s["Effect"]),
            principal=_principal_spec(s.get("Principal")),
            not_principal=_principal_spec(s.get("NotPrincipal")),
            action=_as_tuple(s.get("Action")),
            not_action=_as_tuple(s.get("NotAction")),
            resource=_as_tuple(s.get("Resource")),
            not_resource=_as_tuple(s.get("NotResource")),
            conditions=tuple(
                ConditionClause(op, key, _as_tuple(values) or ())
                for op, block in s.get("Condition", {}).items()
                for key, values in block.items()
            ),
        )
        for i, s in enumerate(items)
    )
    return Policy(version=raw.get("Version"), id=raw.get("Id"), statements=statements)


@GENERATED
@given(valid_policies(), st.booleans(), st.sampled_from([None, 0, 2]))
def test_valid_policies_parse_and_keep_their_content(
    generated: tuple[PolicyType, dict[str, Any]], ascii_only: bool, indent: int | None
) -> None:
    kind, raw = generated
    text = json.dumps(raw, ensure_ascii=ascii_only, indent=indent)
    policy = parse_policy(text, kind)
    assert policy == _expected(raw)
    assert parse_policy(text.encode("utf-8"), kind) == policy


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, (*prefix, i))
    return found


def _mutate(value: Any, path: tuple[Any, ...], how: str, replacement: Any) -> Any:
    if not path:
        return replacement
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy: Any = dict(value)
    else:
        copy = list(value)
    if not rest and how == "delete":
        del copy[head]
    elif not rest and how == "rename" and isinstance(copy, dict):
        copy[str(head).lower() + "x"] = copy.pop(head)
    else:
        copy[head] = _mutate(value[head], rest, how, replacement)
    return copy


@GENERATED
@given(valid_policies(), st.data())
def test_mutated_valid_policies_are_parsed_or_malformed(
    generated: tuple[PolicyType, dict[str, Any]], data: st.DataObject
) -> None:
    kind, raw = generated
    path = data.draw(st.sampled_from(_paths(raw)))
    how = data.draw(st.sampled_from(["replace", "delete", "rename"]))
    replacement = data.draw(json_values | json_scalars)
    mutated = _mutate(raw, path, how, replacement)
    _parses_or_is_malformed(_dump(mutated, data.draw(st.booleans())), kind)
    # the other kinds must cope with it too
    _parses_or_is_malformed(_dump(mutated, True), data.draw(kinds))


@GENERATED
@given(valid_policies(), st.integers(0, 400), st.text(string.printable, max_size=3))
def test_truncated_or_spliced_valid_policies_are_parsed_or_malformed(
    generated: tuple[PolicyType, dict[str, Any]], cut: int, splice: str
) -> None:
    kind, raw = generated
    text = json.dumps(raw)
    _parses_or_is_malformed(text[:cut], kind)
    _parses_or_is_malformed(text[:cut] + splice + text[cut:], kind)
