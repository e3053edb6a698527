"""The reference evaluator on the tricky rules of docs/policy-semantics.md.

Each test names the section of the semantics doc (and, where it has one, of AWS's IAM
User Guide) whose rule it checks.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from tests.policy.reference import reference_evaluate

from chamberlain.policy.decision import Decision, MatchedStatement, Outcome, PolicySource
from chamberlain.policy.inputs import Applicable, PolicyDocuments
from chamberlain.policy.request import ContextValue, Principal, PrincipalType, Request

A, B = "111111111111", "222222222222"
ALICE = Principal(f"arn:aws:iam::{A}:user/alice", A, canonical_user="c0ffee")
ROOT_A = Principal(f"arn:aws:iam::{A}:root", A, PrincipalType.ROOT)
ROOT_B = Principal(f"arn:aws:iam::{B}:root", B, PrincipalType.ROOT)
SESSION_A = Principal(
    f"arn:aws:sts::{A}:assumed-role/admin/s1",
    A,
    PrincipalType.ASSUMED_ROLE,
    issuer_arn=f"arn:aws:iam::{A}:role/admin",
)
BOB_B = Principal(f"arn:aws:iam::{B}:user/bob", B)
EC2 = Principal("ec2.amazonaws.com", A, PrincipalType.SERVICE, service="ec2.amazonaws.com")
BUCKET_OBJECT = "arn:aws:s3:::bucket/home/alice/file.txt"
ROLE_ADMIN = f"arn:aws:iam::{A}:role/admin"


def policy(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        document["Version"] = version
    return json.dumps(document)


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    statement.update(extra)
    return statement


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {**allow(action, resource, **extra), "Effect": "Deny"}


def decide(
    documents: PolicyDocuments,
    *,
    principal: Principal = ALICE,
    action: str = "s3:GetObject",
    resource: str = BUCKET_OBJECT,
    context: dict[str, ContextValue] | None = None,
) -> Decision:
    return reference_evaluate(Request(principal, action, resource, context or {}), documents)


def identity(*texts: str) -> PolicyDocuments:
    return Applicable(identity=tuple((f"id{i}", t) for i, t in enumerate(texts)))


def allowed_by_condition(
    operator: str, key: str, values: Any, context: dict[str, ContextValue]
) -> bool:
    """Whether an identity Allow guarded by one condition clause allows the request."""
    text = policy(allow(Condition={operator: {key: values}}))
    return decide(identity(text), context=context).allowed


# ---------------------------------------------------------------- Matching: Action


def test_action_is_case_insensitive_glob_over_the_whole_string() -> None:
    """Matching, Action (AWS: IAM JSON policy elements: Action)."""
    assert decide(identity(policy(allow("S3:get*"))), action="s3:GetObject").allowed
    assert decide(identity(policy(allow("s3:?etObject"))), action="s3:GetObject").allowed
    assert not decide(identity(policy(allow("s3:Get"))), action="s3:GetObject").allowed
    assert not decide(identity(policy(allow("s3:?Object"))), action="s3:GetObject").allowed


def test_not_action_matches_every_other_action_and_neither_matches_nothing() -> None:
    """Matching, Action: NotAction; a statement without Action or NotAction."""
    not_iam = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    assert decide(identity(policy(not_iam)), action="s3:GetObject").allowed
    assert not decide(identity(policy(not_iam)), action="iam:ListUsers").allowed
    neither = {"Effect": "Allow", "Resource": "*"}
    assert not decide(identity(policy(neither))).allowed


# ---------------------------------------------------------------- Matching: Resource


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        ("*", "anything at all", True),
        ("arn:aws:s3:::*", "arn:aws:s3:::b/k", True),
        ("arn:aws:*", "arn:aws:s3:::b/k", True),  # the last segment absorbs the rest
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a:b", True),  # colons in last segment
        ("arn:aws:s*", f"arn:aws:s3:us-east-1:{A}:x", True),
        ("arn:aws:s3:*:*:b", "arn:aws:s3:::b", True),  # `*` matches an empty segment
        # a `*` ending a segment may cross colons (AWS's Resource page) ...
        ("arn:aws:*:111111111111:x", "arn:aws:s3::111111111111:x", True),
        ("arn:aws:logs:us-east-1:*:app", f"arn:aws:logs:us-east-1:{A}:log-group:app", True),
        # ... a `*` inside a segment does not
        ("arn:aws:s*3:111111111111:x", "arn:aws:s:3:111111111111:x", False),
        ("arn:aws:iam::*:user/*", f"arn:aws:iam::{A}:user/alice", True),
        ("arn:aws:iam::?:user/*", f"arn:aws:iam::{A}:user/alice", False),
        ("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/k", False),  # case-sensitive
        ("arn:aws:s3:::bucket", "arn:aws:s3", False),
    ],
)
def test_resource_matching_is_arn_aware(pattern: str, resource: str, expected: bool) -> None:
    """Matching, Resource (AWS: IAM JSON policy elements: Resource, wildcards in ARNs)."""
    assert decide(identity(policy(allow(resource=pattern))), resource=resource).allowed is expected


def test_not_resource_and_statement_without_resource_element() -> None:
    """Matching, Resource: NotResource; neither element matches every resource."""
    text = policy({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::bucket/*"})
    assert not decide(identity(text)).allowed
    assert decide(identity(text), resource="arn:aws:s3:::other/x").allowed
    assert decide(identity(policy({"Effect": "Allow", "Action": "*"}))).allowed


# ---------------------------------------------------------------- Matching: Principal


def resource_only(statement: dict[str, Any], **extra: Any) -> PolicyDocuments:
    return Applicable(resource=("res", policy(statement)), **extra)


@pytest.mark.parametrize(
    ("principal_element", "caller", "expected"),
    [
        ("*", BOB_B, True),
        ({"AWS": "*"}, BOB_B, True),
        ({"AWS": BOB_B.arn}, BOB_B, True),
        ({"AWS": B}, BOB_B, True),  # account match
        ({"AWS": f"arn:aws:iam::{B}:root"}, BOB_B, True),
        ({"AWS": A}, BOB_B, False),
        ({"Service": "EC2.AmazonAWS.com"}, EC2, True),  # services compare case-insensitively
        ({"CanonicalUser": "c0ffee"}, ALICE, True),
        ({"AWS": ROLE_ADMIN}, SESSION_A, True),  # issuer match
        ({"AWS": f"arn:aws:iam::{A}:user/ALICE"}, ALICE, False),
    ],
)
def test_principal_entries_match_in_any_of_three_ways(
    principal_element: Any, caller: Principal, expected: bool
) -> None:
    """Matching, Principal: direct, issuer and account matches all make the statement apply
    (checked through an explicit Deny, which any kind of match triggers)."""
    documents = Applicable(
        identity=(("id", policy(allow())),),
        resource=("res", policy(deny(Principal=principal_element))),
    )
    outcome = decide(documents, principal=caller).outcome
    assert (outcome is Outcome.EXPLICIT_DENY) is expected


def test_a_deny_not_principal_exempts_only_callers_listed_at_every_layer() -> None:
    """Matching, NotPrincipal with Deny: AWS checks the account, then the caller (a
    session by its role); a caller is exempt only when both are listed."""
    account_root = ROLE_ADMIN.split(":role/")[0] + ":root"

    def outcome(listed: list[str], caller: Principal) -> Outcome:
        statement = deny(NotPrincipal={"AWS": listed})
        documents = Applicable(
            identity=(("id", policy(allow())),), resource=("res", policy(statement))
        )
        return decide(documents, principal=caller).outcome

    assert outcome([ROLE_ADMIN, account_root], SESSION_A) is Outcome.ALLOWED
    assert outcome([ROLE_ADMIN], SESSION_A) is Outcome.EXPLICIT_DENY  # account not listed
    assert outcome([account_root], SESSION_A) is Outcome.EXPLICIT_DENY  # role not listed
    assert outcome([ROLE_ADMIN, account_root], ALICE) is Outcome.EXPLICIT_DENY


def test_an_allow_not_principal_leaves_out_callers_named_in_any_way() -> None:
    """Matching, NotPrincipal with Allow (AWS advises against it): a caller named
    directly, through its issuer or through its account gets nothing from it."""
    statement = allow(NotPrincipal={"AWS": ROLE_ADMIN})
    documents = Applicable(resource=("res", policy(statement)))
    assert decide(documents, principal=SESSION_A).outcome is Outcome.IMPLICIT_DENY


def test_principal_is_ignored_in_identity_policies() -> None:
    """Matching, Principal: ignored in identity, boundary and session policies."""
    text = policy(allow(Principal={"AWS": BOB_B.arn}))
    assert decide(identity(text), principal=ALICE).allowed


# ---------------------------------------------------------------- Conditions


def test_negated_operators_are_true_when_the_key_is_missing() -> None:
    """Conditions: negated operators; AWS: Condition operators (negated matching)."""
    assert allowed_by_condition("StringNotEquals", "aws:PrincipalTag/team", "dev", {})
    assert allowed_by_condition("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", {})
    assert not allowed_by_condition("StringEquals", "aws:PrincipalTag/team", "dev", {})


def test_negated_operator_with_multivalued_key_means_no_value_matches() -> None:
    """Conditions: a negated operator is exactly NOT of the positive one."""
    tags = {"aws:TagKeys": ["env", "team"]}
    assert not allowed_by_condition("StringNotEquals", "aws:TagKeys", ["team"], tags)
    assert allowed_by_condition("StringNotEquals", "aws:TagKeys", ["cost"], tags)
    assert allowed_by_condition("StringEquals", "aws:TagKeys", ["team"], tags)


def test_if_exists_makes_a_missing_key_true_for_any_operator() -> None:
    """Conditions: ...IfExists (AWS: Condition operators, ...IfExists)."""
    assert allowed_by_condition("StringEqualsIfExists", "aws:PrincipalTag/team", "dev", {})
    assert allowed_by_condition("ForAnyValue:StringLikeIfExists", "aws:TagKeys", "x*", {})
    context: dict[str, ContextValue] = {"aws:PrincipalTag/team": "ops"}
    assert not allowed_by_condition("StringEqualsIfExists", "aws:PrincipalTag/team", "dev", context)


def test_set_qualifiers_on_missing_and_empty_keys() -> None:
    """Conditions: ForAllValues is true and ForAnyValue false for a missing (or empty) key
    (AWS: Multivalued context keys)."""
    for context in ({}, {"aws:TagKeys": []}):
        assert allowed_by_condition("ForAllValues:StringEquals", "aws:TagKeys", "env", context)
        assert not allowed_by_condition("ForAnyValue:StringEquals", "aws:TagKeys", "env", context)
        assert not allowed_by_condition(
            "ForAnyValue:StringNotEquals", "aws:TagKeys", "env", context
        )


def test_set_qualifiers_with_negated_operators() -> None:
    """Conditions: for a negated OP a context value matches when it matches no policy value."""
    tags: dict[str, ContextValue] = {"aws:TagKeys": ["env", "team"]}
    assert allowed_by_condition("ForAnyValue:StringNotEquals", "aws:TagKeys", "env", tags)
    assert not allowed_by_condition("ForAllValues:StringNotEquals", "aws:TagKeys", "env", tags)
    assert allowed_by_condition("ForAllValues:StringEquals", "aws:TagKeys", ["env", "team"], tags)
    assert not allowed_by_condition("ForAllValues:StringEquals", "aws:TagKeys", "env", tags)


def test_condition_keys_are_case_insensitive_and_operators_case_sensitive() -> None:
    """Conditions: key names case-insensitive, operator names case-sensitive."""
    context: dict[str, ContextValue] = {"AWS:PRINCIPALTAG/TEAM": "dev"}
    assert allowed_by_condition("StringEquals", "aws:PrincipalTag/team", "dev", context)
    assert not allowed_by_condition("stringequals", "aws:PrincipalTag/team", "dev", context)


def test_string_operators_compare_json_text_and_like_matches_colons() -> None:
    """Conditions: String operators (bools and numbers as JSON text, StringLike globs)."""
    assert allowed_by_condition(
        "StringEquals", "aws:MultiFactorAuthPresent", "true", {"aws:MultiFactorAuthPresent": True}
    )
    assert allowed_by_condition("StringEquals", "s3:max-keys", 10, {"s3:max-keys": "10"})
    assert allowed_by_condition(
        "StringLike", "aws:SourceArn", "arn:*:b", {"aws:SourceArn": "arn:aws:s3:::b"}
    )
    assert not allowed_by_condition("StringLike", "s3:prefix", "Home/*", {"s3:prefix": "home/a"})
    assert allowed_by_condition(
        "StringEqualsIgnoreCase", "s3:prefix", "HOME/", {"s3:prefix": "home/"}
    )


def test_numeric_operators_parse_numbers_and_numeric_strings() -> None:
    """Conditions: Numeric (AWS: Numeric condition operators)."""
    assert allowed_by_condition("NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": 9})
    assert allowed_by_condition("NumericEquals", "s3:max-keys", 2.5, {"s3:max-keys": "2.5"})
    assert not allowed_by_condition("NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": "x"})
    # a value that does not parse matches nothing, so its negation holds
    assert allowed_by_condition("NumericNotEquals", "s3:max-keys", "10", {"s3:max-keys": "x"})


def test_date_operators_accept_iso_8601_and_epoch_seconds() -> None:
    """Conditions: Date (AWS: Date condition operators)."""
    now = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
    context: dict[str, ContextValue] = {"aws:CurrentTime": now}
    assert allowed_by_condition("DateLessThan", "aws:CurrentTime", "2024-06-02", context)
    assert allowed_by_condition(
        "DateEquals", "aws:CurrentTime", "2024-06-01T14:00:00+02:00", context
    )
    epoch = int(now.timestamp())
    assert allowed_by_condition("DateEquals", "aws:CurrentTime", epoch, context)
    assert allowed_by_condition("DateEquals", "aws:CurrentTime", str(epoch), context)
    naive = {"aws:CurrentTime": dt.datetime(2024, 6, 1, 12, 0)}
    assert allowed_by_condition("DateEquals", "aws:CurrentTime", "2024-06-01T12:00:00Z", naive)
    assert not allowed_by_condition(
        "DateLessThan", "aws:CurrentTime", "2030-01-01", {"aws:CurrentTime": "not a date"}
    )


def test_bool_binary_and_null() -> None:
    """Conditions: Bool, BinaryEquals, Null (AWS: Condition operators)."""
    mfa = "aws:MultiFactorAuthPresent"
    assert allowed_by_condition("Bool", mfa, "TRUE", {mfa: "true"})
    assert allowed_by_condition("Bool", mfa, True, {mfa: True})
    assert not allowed_by_condition("Bool", mfa, "true", {mfa: "yes"})
    assert allowed_by_condition("BinaryEquals", "test:blob", "aGVsbG8=", {"test:blob": b"hello"})
    assert allowed_by_condition("BinaryEquals", "test:blob", "aGVsbG8=", {"test:blob": "aGVsbG8="})
    assert allowed_by_condition("Null", mfa, "true", {})
    assert not allowed_by_condition("Null", mfa, "true", {mfa: False})
    assert allowed_by_condition("Null", mfa, "false", {mfa: False})


def test_ip_address_v4_and_v6() -> None:
    """Conditions: IpAddress (AWS: IP address condition operators)."""
    ip = "aws:SourceIp"
    assert allowed_by_condition("IpAddress", ip, "10.0.0.0/8", {ip: "10.1.2.3"})
    assert allowed_by_condition("IpAddress", ip, "10.1.2.3", {ip: "10.1.2.3"})  # a /32
    assert allowed_by_condition("IpAddress", ip, "2001:db8::/32", {ip: "2001:db8::1"})
    assert not allowed_by_condition("IpAddress", ip, "0.0.0.0/0", {ip: "2001:db8::1"})
    assert not allowed_by_condition("IpAddress", ip, "0.0.0.0/0", {ip: "not an ip"})


def test_arn_operators_follow_the_resource_rule() -> None:
    """Conditions: ArnEquals/ArnLike (AWS: Amazon Resource Name (ARN) condition operators)."""
    arn = "aws:SourceArn"
    context: dict[str, ContextValue] = {arn: f"arn:aws:iam::{A}:role/admin"}
    assert allowed_by_condition("ArnEquals", arn, "arn:aws:iam::*:role/*", context)
    assert allowed_by_condition("ArnLike", arn, "arn:aws:*", context)
    assert not allowed_by_condition("ArnLike", arn, "arn:aws:iam:*:role/admin", context)
    assert not allowed_by_condition("ArnLike", arn, "*", {arn: "not:an:arn"})  # < 6 segments
    assert allowed_by_condition("ArnNotLike", arn, "*", {arn: "not:an:arn"})


# ---------------------------------------------------------------- Policy variables


def test_variables_in_resource_with_default_and_literal_specials() -> None:
    """Policy variables (AWS: IAM policy elements: Variables and tags)."""
    text = policy(allow(resource="arn:aws:s3:::bucket/home/${aws:username}/*"))
    assert decide(identity(text), context={"AWS:UserName": "alice"}).allowed
    assert not decide(identity(text), context={"aws:username": "bob"}).allowed
    with_default = policy(allow(resource="arn:aws:s3:::bucket/home/${aws:username, 'alice'}/*"))
    assert decide(identity(with_default)).allowed
    star = policy(allow(resource="arn:aws:s3:::bucket/${*}"))
    assert decide(identity(star), resource="arn:aws:s3:::bucket/*").allowed
    assert not decide(identity(star), resource="arn:aws:s3:::bucket/x").allowed


def test_variables_only_under_version_2012_10_17() -> None:
    """Policy variables: none under 2008-10-17 or without Version."""
    pattern = "arn:aws:s3:::bucket/home/${aws:username}/*"
    for version in ("2008-10-17", None):
        text = policy(allow(resource=pattern), version=version)
        assert not decide(identity(text), context={"aws:username": "alice"}).allowed
        literal = "arn:aws:s3:::bucket/home/${aws:username}/x"
        assert decide(identity(text), resource=literal).allowed


def test_unresolved_variables_are_equal_to_and_like_nothing() -> None:
    """Policy variables with no value (AWS: IAM policy elements: Variables and tags,
    "Policy variables with no value"): the value is effectively null. A Resource pattern
    holding one matches no resource (so a NotResource of it excludes nothing); positive
    operators do not match it, negated operators (StringNotEquals, ...) do."""
    partly = policy(allow(resource=["arn:aws:s3:::x/${aws:username}", BUCKET_OBJECT]))
    assert decide(identity(partly)).allowed
    only = policy(allow(resource="arn:aws:s3:::bucket/home/${aws:username}/*"))
    assert not decide(identity(only)).allowed
    not_resource = {"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::${aws:username}"}
    assert decide(identity(policy(not_resource))).allowed
    negated = allow(Condition={"StringNotEquals": {"s3:prefix": "${aws:username}"}})
    assert decide(identity(policy(negated)), context={"s3:prefix": "home/"}).allowed
    assert decide(identity(policy(negated)), context={"s3:prefix": ""}).allowed
    positive = allow(Condition={"StringEquals": {"s3:prefix": "${aws:username}"}})
    assert not decide(identity(policy(positive)), context={"s3:prefix": ""}).allowed
    deny_other_team = deny(
        Condition={"StringNotEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}}
    )
    untagged = decide(
        identity(policy(allow(), deny_other_team)),
        context={"s3:ExistingObjectTag/Team": "blue"},
    )
    assert untagged.outcome is Outcome.EXPLICIT_DENY


def test_multivalued_keys_are_not_variables() -> None:
    """Policy variables: multi-valued keys cannot be used as variables (default applies)."""
    text = policy(allow(resource="arn:aws:s3:::bucket/home/${aws:TagKeys, 'alice'}/*"))
    assert decide(identity(text), context={"aws:TagKeys": ["bob"]}).allowed
    bare = policy(allow(resource="arn:aws:s3:::bucket/home/${aws:TagKeys}/*"))
    assert not decide(identity(bare), context={"aws:TagKeys": ["alice"]}).allowed


def test_variables_in_condition_values() -> None:
    """Policy variables in condition values, with ${*} literal in StringLike."""
    text = policy(allow(Condition={"StringLike": {"s3:prefix": "home/${aws:username}/${*}"}}))
    context: dict[str, ContextValue] = {"aws:username": "alice", "s3:prefix": "home/alice/*"}
    assert decide(identity(text), context=context).allowed
    context["s3:prefix"] = "home/alice/x"
    assert not decide(identity(text), context=context).allowed


# ---------------------------------------------------------------- Evaluation


def test_explicit_deny_names_the_first_source_and_lists_every_deny() -> None:
    """Evaluation step 1 and Explanations (AWS: Policy evaluation logic, explicit deny)."""
    documents = Applicable(
        identity=(("id", policy(allow())),),
        resource=("res", policy(deny(Principal="*"))),
        boundary=("bnd", policy(deny(), allow())),
        session=(("ses", policy(allow())),),
    )
    decision = decide(documents)
    assert decision.outcome is Outcome.EXPLICIT_DENY
    assert decision.denied_by is PolicySource.RESOURCE
    assert {(m.policy_id, m.index) for m in decision.matched} == {("res", 0), ("bnd", 0)}


def test_root_user_is_allowed_in_its_own_account_without_policies() -> None:
    """Evaluation step 2 (AWS: the account root user)."""
    assert decide(Applicable(), principal=ROOT_A, resource=ROLE_ADMIN).allowed
    # cross-account the resource policy still has to allow
    cross = decide(Applicable(), principal=ROOT_B, resource=ROLE_ADMIN)
    assert cross.denied_by is PolicySource.RESOURCE


def test_root_user_still_needs_the_trust_policy() -> None:
    """Evaluation steps 2-3: root's identity side is allowed, but a trust policy must allow."""
    trust = policy({"Effect": "Allow", "Principal": {"AWS": ALICE.arn}, "Action": "sts:AssumeRole"})
    documents = Applicable(resource=("trust", trust), require_resource_allow=True)
    decision = decide(documents, principal=ROOT_A, action="sts:AssumeRole", resource=ROLE_ADMIN)
    assert decision.outcome is Outcome.IMPLICIT_DENY
    assert decision.denied_by is PolicySource.RESOURCE
    assert decide(documents, action="sts:AssumeRole", resource=ROLE_ADMIN).allowed


def test_same_account_direct_resource_allow_bypasses_boundary_and_session() -> None:
    """Evaluation step 3 (AWS: Policy evaluation logic, resource-based policies)."""
    documents = Applicable(
        resource=("res", policy(allow(Principal={"AWS": SESSION_A.arn}))),
        resource_account=A,
        boundary=("bnd", policy(allow("iam:*"))),
        session=(("ses", policy(allow("iam:*"))),),
    )
    assert decide(documents, principal=SESSION_A).allowed


def test_same_account_issuer_allow_is_still_limited_by_boundary_and_session() -> None:
    """Evaluation step 3: an issuer match grants the identity side only."""
    base = Applicable(resource=("res", policy(allow(Principal={"AWS": ROLE_ADMIN}))))
    assert decide(base, principal=SESSION_A, resource="*").allowed
    with_session = Applicable(resource=base.resource, session=(("ses", policy(allow("iam:*"))),))
    decision = decide(with_session, principal=SESSION_A, resource="*")
    assert decision.denied_by is PolicySource.SESSION


def test_same_account_account_match_grants_nothing_by_itself() -> None:
    """Evaluation step 3: an account match needs an identity-policy Allow too."""
    documents = Applicable(resource=("res", policy(allow(Principal={"AWS": A}))))
    decision = decide(documents, resource=ROLE_ADMIN)
    assert decision.outcome is Outcome.IMPLICIT_DENY
    assert decision.denied_by is PolicySource.IDENTITY
    with_identity = Applicable(identity=(("id", policy(allow())),), resource=documents.resource)
    assert decide(with_identity, resource=ROLE_ADMIN).allowed


def test_cross_account_needs_both_sides() -> None:
    """Evaluation step 4 (AWS: Cross-account policy evaluation logic)."""
    resource = ("res", policy(allow(Principal={"AWS": B})))
    only_resource = Applicable(resource=resource)
    assert decide(only_resource, principal=BOB_B, resource=ROLE_ADMIN).denied_by is (
        PolicySource.IDENTITY
    )
    only_identity = Applicable(identity=(("id", policy(allow())),))
    assert decide(only_identity, principal=BOB_B, resource=ROLE_ADMIN).denied_by is (
        PolicySource.RESOURCE
    )
    both = Applicable(identity=only_identity.identity, resource=resource)
    assert decide(both, principal=BOB_B, resource=ROLE_ADMIN).allowed


def test_cross_account_issuer_match_does_not_grant_the_identity_side() -> None:
    """Evaluation step 4: identity policies only."""
    role_b = f"arn:aws:iam::{B}:role/ops"
    caller = Principal(
        f"arn:aws:sts::{B}:assumed-role/ops/s", B, PrincipalType.ASSUMED_ROLE, issuer_arn=role_b
    )
    documents = Applicable(resource=("res", policy(allow(Principal={"AWS": role_b}))))
    assert decide(documents, principal=caller, resource=ROLE_ADMIN).denied_by is (
        PolicySource.IDENTITY
    )


def test_resource_account_override_and_unknown_account() -> None:
    """Evaluation: resource_account wins; an ARN without account is the caller's."""
    only_identity = Applicable(identity=(("id", policy(allow())),))
    assert decide(only_identity, principal=BOB_B, resource="arn:aws:s3:::bucket").allowed
    override = Applicable(identity=only_identity.identity, resource_account=A)
    assert not decide(override, principal=BOB_B, resource="arn:aws:s3:::bucket").allowed


def test_boundary_and_session_must_each_allow() -> None:
    """Evaluation step 3: permissions boundary, then session policies (any one allows)."""
    ident = (("id", policy(allow())),)
    boundary = Applicable(identity=ident, boundary=("bnd", policy(allow("iam:*"))))
    assert decide(boundary).denied_by is PolicySource.BOUNDARY
    sessions = Applicable(
        identity=ident, session=(("s1", policy(allow("iam:*"))), ("s2", policy(allow("s3:*"))))
    )
    assert decide(sessions).allowed


# ---------------------------------------------------------------- Explanations


def test_allowed_lists_every_matching_allow_from_every_source() -> None:
    """Explanations: every matching Allow, any source, with sid and effect."""
    documents = Applicable(
        identity=(("id", policy(allow(Sid="A1"), allow("iam:*"), allow("s3:*"))),),
        resource=("res", policy(allow(Principal={"AWS": A}))),
        boundary=("bnd", policy(allow())),
    )
    decision = decide(documents)
    assert set(decision.matched) == {
        MatchedStatement(PolicySource.IDENTITY, "id", 0, "A1", "Allow"),
        MatchedStatement(PolicySource.IDENTITY, "id", 2, None, "Allow"),
        MatchedStatement(PolicySource.RESOURCE, "res", 0, None, "Allow"),
        MatchedStatement(PolicySource.BOUNDARY, "bnd", 0, None, "Allow"),
    }


def test_implicit_deny_lists_nothing_but_missing_keys() -> None:
    """Explanations: missing_context_keys as written, from statements that matched
    action, resource and principal (conditions aside), whatever their effect."""
    text = policy(
        allow(Condition={"StringEquals": {"AWS:PrincipalTag/Team": "dev"}}),
        deny(Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}, "Null": {"x:y": "true"}}),
        allow("iam:*", Condition={"StringEquals": {"iam:never": "x"}}),
    )
    decision = decide(identity(text), context={"x:Y": "present"})
    assert decision.outcome is Outcome.IMPLICIT_DENY
    assert decision.matched == ()
    assert decision.missing_context_keys == {"AWS:PrincipalTag/Team", "aws:MultiFactorAuthPresent"}
