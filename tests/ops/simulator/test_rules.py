"""The policy simulator's service-specific rules (ops/simulate_rules.py) and how it
takes a ResourcePolicy."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from ..conftest import ACCOUNT

Call = Callable[..., Any]
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/deploy"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
NOTHING = json.dumps(  # grants nothing that these tests ask about
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:X", "Resource": "*"}],
    }
)
ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def custom(iam: Call, action: str, resource: str, **params: Any) -> dict[str, Any]:
    out = iam(
        "SimulateCustomPolicy",
        PolicyInputList=params.pop("policies", [ALLOW_ALL]),
        ActionNames=[action],
        ResourceArns=[resource],
        **params,
    )
    result: dict[str, Any] = out["EvaluationResults"][0]
    return result


# ------------------------------------------------------------ b. GetCallerIdentity


def test_get_caller_identity_is_allowed_even_when_denied(iam: Call) -> None:
    """STS API Reference, GetCallerIdentity: "No permissions are required to perform this
    operation. If an administrator attaches a policy to your identity that explicitly
    denies access to the sts:GetCallerIdentity action, you can still perform this
    operation." (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html)"""
    denying = doc({"Effect": "Deny", "Action": "sts:GetCallerIdentity", "Resource": "*"})
    out = iam(
        "SimulateCustomPolicy", PolicyInputList=[denying], ActionNames=["sts:GetCallerIdentity"]
    )
    [result] = out["EvaluationResults"]
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"] == []
    nothing = iam(
        "SimulateCustomPolicy", PolicyInputList=[NOTHING], ActionNames=["sts:GetCallerIdentity"]
    )
    assert nothing["EvaluationResults"][0]["EvalDecision"] == "allowed"


# ------------------------------------------------------------- c. trust policies


def trust(principal: str, effect: str = "Allow") -> str:
    return doc({"Effect": effect, "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"})


@pytest.mark.parametrize(
    ("principal", "decision"),
    [
        (ALICE, "allowed"),
        (f"arn:aws:iam::{ACCOUNT}:user/bob", "implicitDeny"),
        # The account as principal delegates to the caller's identity policies.
        (f"arn:aws:iam::{ACCOUNT}:root", "allowed"),
    ],
)
def test_trust_policy_must_allow_assume_role_in_the_same_account(
    iam: Call, principal: str, decision: str
) -> None:
    """IAM User Guide, "Cross account resource access in IAM" / "Roles terms and
    concepts": a role's trust policy is the resource-based policy that says who may
    assume it; an identity policy alone does not let anyone assume a role
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html).
    The server already requires this for real AssumeRole calls (tests/ops/test_sts.py)."""
    result = custom(iam, "sts:AssumeRole", ROLE, ResourcePolicy=trust(principal), CallerArn=ALICE)
    assert result["EvalDecision"] == decision


def test_trust_policy_with_account_principal_still_needs_identity_allow(iam: Call) -> None:
    result = custom(
        iam,
        "sts:AssumeRole",
        ROLE,
        policies=[NOTHING],
        ResourcePolicy=trust(f"arn:aws:iam::{ACCOUNT}:root"),
        CallerArn=ALICE,
    )
    assert result["EvalDecision"] == "implicitDeny"


def test_trust_policy_deny_is_explicit(iam: Call) -> None:
    result = custom(
        iam, "sts:AssumeRole", ROLE, ResourcePolicy=trust(ALICE, "Deny"), CallerArn=ALICE
    )
    assert result["EvalDecision"] == "explicitDeny"


def test_other_actions_on_the_role_keep_the_same_account_rule(iam: Call) -> None:
    """Only the trust-policy actions need the role's policy; iam:GetRole in the same
    account is decided by identity policies as before."""
    result = custom(
        iam,
        "iam:GetRole",
        ROLE,
        ResourcePolicy=trust(f"arn:aws:iam::{ACCOUNT}:user/bob"),
        CallerArn=ALICE,
    )
    assert result["EvalDecision"] == "allowed"


# ------------------------------------------------------------------ d. KMS, reserved


def key_policy(principal: str) -> str:
    return doc(
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "kms:*", "Resource": "*"}
    )


@pytest.mark.parametrize(
    ("principal", "identity", "decision"),
    [
        # The key policy names someone else: the identity policy's Allow has no effect.
        (f"arn:aws:iam::{ACCOUNT}:user/bob", ALLOW_ALL, "implicitDeny"),
        # The default key policy delegates to the account: IAM policies count.
        (f"arn:aws:iam::{ACCOUNT}:root", ALLOW_ALL, "allowed"),
        (f"arn:aws:iam::{ACCOUNT}:root", NOTHING, "implicitDeny"),
        # The key policy allows the caller itself: enough on its own.
        (ALICE, NOTHING, "allowed"),
    ],
)
def test_kms_key_policy_must_allow(iam: Call, principal: str, identity: str, decision: str) -> None:
    """AWS KMS Developer Guide, "Key policies in AWS KMS": "Unless the key policy
    explicitly allows it, you cannot use IAM policies to allow access to a KMS key."
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html)"""
    result = custom(
        iam,
        "kms:Decrypt",
        KEY,
        policies=[identity],
        ResourcePolicy=key_policy(principal),
        CallerArn=ALICE,
    )
    assert result["EvalDecision"] == decision


@pytest.mark.parametrize(
    ("action", "resource", "decision"),
    [
        (
            "iam:DeleteRole",
            f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/R",
            "implicitDeny",
        ),
        (
            "iam:PutRolePolicy",
            f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/R",
            "implicitDeny",
        ),
        ("iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/R", "allowed"),
        (
            "iam:AttachRolePolicy",
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
            "implicitDeny",
        ),
        (
            "iam:UpdateAssumeRolePolicy",
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
            "implicitDeny",
        ),
        (
            "iam:DeleteServiceLinkedRole",
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
            "allowed",
        ),
        ("kms:DeleteAlias", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/aws/s3", "implicitDeny"),
        ("kms:DeleteAlias", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/mine", "allowed"),
        ("iam:CreatePolicyVersion", "arn:aws:iam::aws:policy/ReadOnlyAccess", "implicitDeny"),
        ("iam:DeletePolicy", "arn:aws:iam::aws:policy/ReadOnlyAccess", "implicitDeny"),
        ("iam:GetPolicyVersion", "arn:aws:iam::aws:policy/ReadOnlyAccess", "allowed"),
    ],
)
def test_aws_reserved_resources_cannot_be_changed(
    iam: Call, action: str, resource: str, decision: str
) -> None:
    """IAM User Guide, "Create a service-linked role": only the linked service can change
    a service-linked role (IAM answers UnmodifiableEntity); IAM Identity Center's roles
    under /aws-reserved/ cannot be edited in IAM; the AWS managed KMS aliases
    (alias/aws/...) are reserved (KMS Developer Guide, "Aliases in AWS KMS")."""
    assert custom(iam, action, resource)["EvalDecision"] == decision


# ------------------------------------------------------ e. ResourcePolicy as given


@pytest.mark.parametrize(
    "principal",
    [
        f"arn:aws:iam::{ACCOUNT}:user/nobody-here",
        f"arn:aws:iam::{ACCOUNT}:role/no-such-role",
        "arn:aws:iam::222222222222:user/elsewhere",
    ],
)
def test_resource_policy_principals_are_not_looked_up(iam: Call, principal: str) -> None:
    """SimulateCustomPolicy's ResourcePolicy is simulated as written (IAM API Reference,
    SimulateCustomPolicy): principals that exist on no server are valid input; only a
    trust policy stored on a role binds its principals to unique ids."""
    s3 = "arn:aws:s3:::bucket/key"
    policy = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": "s3:GetObject",
            "Resource": s3,
        }
    )
    result = custom(iam, "s3:GetObject", s3, ResourcePolicy=policy, CallerArn=principal)
    assert result["EvalDecision"] == "allowed"
