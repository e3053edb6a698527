"""Privilege escalation, one test per technique, each with a variant that a permissions
boundary, a Deny, a condition or a resource scope blocks (no path reported).

Techniques: Rhino Security Labs, "AWS IAM Privilege Escalation - Methods and Mitigation"
(CreateAccessKey, CreateLoginProfile, UpdateLoginProfile, Attach/Put User/Group/Role
Policy, CreatePolicyVersion, SetDefaultPolicyVersion, AddUserToGroup,
UpdateAssumeRolePolicy + AssumeRole, PassRole + ec2:RunInstances) and PMapper's edges
(AssumeRole through trust and identity policies, TagRole/TagUser for ABAC conditions,
permissions boundaries removed or replaced). The engine decides each call as AWS's
policy evaluation logic does (https://docs.aws.amazon.com/IAM/latest/UserGuide/
reference_policies_evaluation-logic.html).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from .conftest import ACCOUNT, ADMIN, MODES, World, allow, arn, deny, doc

MALLORY = arn("user", "mallory")
TRUST_ACCOUNT = doc(
    {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "sts:AssumeRole",
    }
)
TRUST_EC2 = doc(
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
)
S3_ONLY = doc(allow("s3:*"))


def base(w: World) -> None:
    """An administrator user (boss, through a group) and an administrator role."""
    w.group("admins", policies=(ADMIN,))
    w.user("boss", groups=("admins",))
    w.role("adminrole", TRUST_ACCOUNT, policies=(ADMIN,))


def mallory(w: World, *statements: dict[str, Any], **kwargs: Any) -> None:
    w.user("mallory", inline={"p": doc(*statements)} if statements else None, **kwargs)


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[World], None]
    blocked: Callable[[World], None]
    calls: list[str]
    administrator: str


def _boundary(w: World, name: str, text: str) -> str:
    return w.policy(name, text)


CASES = [
    Case(
        "create-access-key",
        lambda w: mallory(w, allow("iam:CreateAccessKey", arn("user", "boss"))),
        lambda w: mallory(w, allow("iam:CreateAccessKey", arn("user", "someone-else"))),  # scope
        ["iam:CreateAccessKey"],
        arn("user", "boss"),
    ),
    Case(
        "create-login-profile",
        lambda w: mallory(w, allow("iam:CreateLoginProfile", arn("user", "boss"))),
        lambda w: mallory(
            w, allow("iam:CreateLoginProfile", arn("user", "boss")), deny("iam:CreateLoginProfile")
        ),
        ["iam:CreateLoginProfile"],
        arn("user", "boss"),
    ),
    Case(
        "update-login-profile",
        lambda w: (
            w.login_profile("boss"),
            mallory(w, allow("iam:UpdateLoginProfile", arn("user", "boss"))),
        ),
        lambda w: (
            w.login_profile("boss"),
            mallory(
                w,
                allow(
                    "iam:UpdateLoginProfile",
                    arn("user", "boss"),
                    Condition={"StringEquals": {"aws:username": "boss"}},
                ),
            ),  # condition
        ),
        ["iam:UpdateLoginProfile"],
        arn("user", "boss"),
    ),
    Case(
        "assume-role",
        lambda w: mallory(w, allow("sts:AssumeRole", arn("role", "adminrole"))),
        lambda w: mallory(
            w,
            allow("sts:AssumeRole", arn("role", "adminrole")),
            boundary=_boundary(w, "s3only", S3_ONLY),
        ),  # boundary
        ["sts:AssumeRole"],
        arn("role", "adminrole"),
    ),
    Case(
        "assume-role-trust-names-the-user",
        lambda w: (
            mallory(w),
            w.role(
                "direct",
                doc({"Effect": "Allow", "Principal": {"AWS": MALLORY}, "Action": "sts:AssumeRole"}),
                policies=(ADMIN,),
            ),
        ),
        lambda w: (
            mallory(w),
            w.role(
                "direct",
                doc(
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": MALLORY},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:PrincipalTag/team": "ops"}},
                    }
                ),
                policies=(ADMIN,),
            ),
        ),  # condition: mallory has no such tag
        ["sts:AssumeRole"],
        arn("role", "direct"),
    ),
    Case(
        "attach-user-policy-self",
        lambda w: mallory(w, allow("iam:AttachUserPolicy", MALLORY)),
        lambda w: mallory(
            w,
            allow(
                "iam:AttachUserPolicy",
                MALLORY,
                Condition={
                    "ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
                },
            ),
        ),  # condition
        ["iam:AttachUserPolicy"],
        MALLORY,
    ),
    Case(
        "put-user-policy-self",
        lambda w: mallory(w, allow("iam:PutUserPolicy", MALLORY)),
        lambda w: mallory(
            w,
            allow("iam:PutUserPolicy", MALLORY),
            boundary=_boundary(w, "capped", doc(allow(["s3:*", "iam:PutUserPolicy"]))),
        ),  # boundary caps the result
        ["iam:PutUserPolicy"],
        MALLORY,
    ),
    Case(
        "attach-group-policy",
        lambda w: (
            w.group("devs"),
            mallory(w, allow("iam:AttachGroupPolicy", arn("group", "devs")), groups=("devs",)),
        ),
        lambda w: (
            w.group("devs"),
            mallory(w, allow("iam:AttachGroupPolicy", arn("group", "others")), groups=("devs",)),
        ),
        ["iam:AttachGroupPolicy"],
        MALLORY,
    ),
    Case(
        "put-group-policy",
        lambda w: (
            w.group("devs"),
            mallory(w, allow("iam:PutGroupPolicy", arn("group", "devs")), groups=("devs",)),
        ),
        lambda w: (
            w.group("devs"),
            mallory(
                w,
                allow("iam:PutGroupPolicy", arn("group", "devs")),
                deny("iam:PutGroupPolicy", arn("group", "*")),
                groups=("devs",),
            ),
        ),
        ["iam:PutGroupPolicy"],
        MALLORY,
    ),
    Case(
        "attach-role-policy-then-assume",
        lambda w: (
            w.role("worker", TRUST_ACCOUNT, inline={"p": S3_ONLY}),
            mallory(w, allow(["iam:AttachRolePolicy", "sts:AssumeRole"], arn("role", "worker"))),
        ),
        lambda w: (
            w.role(
                "worker",
                TRUST_ACCOUNT,
                inline={"p": S3_ONLY},
                boundary=_boundary(w, "s3only", S3_ONLY),
            ),
            mallory(w, allow(["iam:AttachRolePolicy", "sts:AssumeRole"], arn("role", "worker"))),
        ),
        ["iam:AttachRolePolicy", "sts:AssumeRole"],
        arn("role", "worker"),
    ),
    Case(
        "put-role-policy-then-assume",
        lambda w: (
            w.role("worker", TRUST_ACCOUNT),
            mallory(w, allow(["iam:PutRolePolicy", "sts:AssumeRole"], arn("role", "worker"))),
        ),
        lambda w: (
            w.role("worker", TRUST_ACCOUNT),
            mallory(
                w,
                allow(["iam:PutRolePolicy", "sts:AssumeRole"], arn("role", "worker")),
                deny("sts:AssumeRole"),
            ),
        ),
        ["iam:PutRolePolicy", "sts:AssumeRole"],
        arn("role", "worker"),
    ),
    Case(
        "create-policy-version",
        lambda w: mallory(
            w,
            policies=(
                w.policy(
                    "mine",
                    doc(allow("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/mine")),
                ),
            ),
        ),
        lambda w: mallory(
            w,
            policies=(
                w.policy(
                    "mine",
                    doc(allow("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/theirs")),
                ),
            ),
        ),
        ["iam:CreatePolicyVersion"],
        MALLORY,
    ),
    Case(
        "set-default-policy-version",
        lambda w: _versions(w, boundary=None),
        lambda w: _versions(
            w, boundary=_boundary(w, "cap", doc(allow(["iam:SetDefaultPolicyVersion", "s3:*"])))
        ),
        ["iam:SetDefaultPolicyVersion"],
        MALLORY,
    ),
    Case(
        "add-user-to-group",
        lambda w: mallory(w, allow("iam:AddUserToGroup", arn("group", "admins"))),
        lambda w: mallory(
            w,
            allow(
                "iam:AddUserToGroup",
                arn("group", "admins"),
                Condition={"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
            ),
        ),
        ["iam:AddUserToGroup"],
        MALLORY,
    ),
    Case(
        "update-assume-role-policy",
        lambda w: (
            w.role("ec2admin", TRUST_EC2, policies=(ADMIN,)),
            mallory(w, allow("iam:UpdateAssumeRolePolicy", arn("role", "ec2admin"))),
        ),
        lambda w: (
            w.role("ec2admin", TRUST_EC2, policies=(ADMIN,)),
            mallory(
                w,
                allow("iam:UpdateAssumeRolePolicy", arn("role", "ec2admin")),
                deny("iam:UpdateAssumeRolePolicy", arn("role", "ec2*")),
            ),
        ),
        ["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"],
        arn("role", "ec2admin"),
    ),
    Case(
        "delete-own-permissions-boundary",
        lambda w: mallory(
            w,
            allow("*"),
            boundary=_boundary(w, "b", doc(allow(["s3:*", "iam:DeleteUserPermissionsBoundary"]))),
        ),
        lambda w: mallory(
            w, allow("*"), boundary=_boundary(w, "b", doc(allow(["s3:*", "iam:DeleteUserPolicy"])))
        ),
        ["iam:DeleteUserPermissionsBoundary"],
        MALLORY,
    ),
    Case(
        "replace-own-permissions-boundary",
        lambda w: mallory(
            w,
            allow("*"),
            boundary=_boundary(w, "b", doc(allow(["s3:*", "iam:PutUserPermissionsBoundary"]))),
        ),
        lambda w: mallory(
            w,
            allow("*"),
            boundary=_boundary(
                w,
                "b",
                doc(
                    allow(
                        ["s3:*", "iam:PutUserPermissionsBoundary"],
                        Condition={
                            "ArnEquals": {
                                "iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/b"
                            }
                        },
                    )
                ),
            ),
        ),
        ["iam:PutUserPermissionsBoundary"],
        MALLORY,
    ),
    Case(
        "tag-user-for-abac",
        lambda w: mallory(
            w,
            allow("*", Condition={"StringEquals": {"aws:PrincipalTag/level": "admin"}}),
            allow("iam:TagUser", MALLORY),
        ),
        lambda w: mallory(
            w,
            allow("*", Condition={"StringEquals": {"aws:PrincipalTag/level": "admin"}}),
            allow("iam:TagUser", arn("user", "someone-else")),
        ),
        ["iam:TagUser"],
        MALLORY,
    ),
    Case(
        "tag-role-for-abac",
        lambda w: mallory(
            w,
            allow(
                "sts:AssumeRole", Condition={"StringEquals": {"aws:ResourceTag/access": "mallory"}}
            ),
            allow("iam:TagRole", arn("role", "adminrole")),
        ),
        lambda w: mallory(
            w,
            allow(
                "sts:AssumeRole", Condition={"StringEquals": {"aws:ResourceTag/access": "mallory"}}
            ),
            allow("iam:TagRole", arn("role", "adminrole")),
            deny("iam:TagRole"),
        ),
        ["iam:TagRole", "sts:AssumeRole"],
        arn("role", "adminrole"),
    ),
    Case(
        "pass-role-to-ec2",
        lambda w: (
            w.role("ec2admin", TRUST_EC2, policies=(ADMIN,)),
            mallory(w, allow("iam:PassRole", arn("role", "ec2admin")), allow("ec2:RunInstances")),
        ),
        lambda w: (
            w.role("ec2admin", TRUST_EC2, policies=(ADMIN,)),
            mallory(
                w,
                allow(
                    "iam:PassRole",
                    arn("role", "ec2admin"),
                    Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
                ),
                allow("ec2:RunInstances"),
            ),
        ),
        ["iam:PassRole", "ec2:RunInstances"],
        arn("role", "ec2admin"),
    ),
    Case(
        "put-user-policy-on-another-then-key",
        lambda w: (
            w.user("helper"),
            mallory(w, allow(["iam:PutUserPolicy", "iam:CreateAccessKey"], arn("user", "helper"))),
        ),
        lambda w: (
            w.user("helper", boundary=_boundary(w, "s3only", S3_ONLY)),
            mallory(w, allow(["iam:PutUserPolicy", "iam:CreateAccessKey"], arn("user", "helper"))),
        ),
        ["iam:PutUserPolicy", "iam:CreateAccessKey"],
        arn("user", "helper"),
    ),
    Case(
        "chain-key-then-role",
        lambda w: (
            w.user("mid", inline={"p": doc(allow("sts:AssumeRole", arn("role", "adminrole")))}),
            mallory(w, allow("iam:CreateAccessKey", arn("user", "mid"))),
        ),
        lambda w: (
            w.user(
                "mid",
                inline={"p": doc(allow("sts:AssumeRole", arn("role", "adminrole")))},
                boundary=_boundary(w, "s3only", S3_ONLY),
            ),
            mallory(w, allow("iam:CreateAccessKey", arn("user", "mid"))),
        ),
        ["iam:CreateAccessKey", "sts:AssumeRole"],
        arn("role", "adminrole"),
    ),
    Case(
        "role-that-widens-itself",
        lambda w: (
            w.role(
                "selfish",
                TRUST_ACCOUNT,
                inline={"p": doc(allow("iam:PutRolePolicy", arn("role", "selfish")))},
            ),
            mallory(w, allow("sts:AssumeRole", arn("role", "selfish"))),
        ),
        lambda w: (
            w.role(
                "selfish",
                TRUST_ACCOUNT,
                inline={"p": doc(allow("iam:PutRolePolicy", arn("role", "other")))},
            ),
            mallory(w, allow("sts:AssumeRole", arn("role", "selfish"))),
        ),
        ["sts:AssumeRole", "iam:PutRolePolicy"],
        arn("role", "selfish"),
    ),
]


def _versions(w: World, boundary: str | None) -> None:
    mine = f"arn:aws:iam::{ACCOUNT}:policy/mine"
    w.policy("mine", doc(allow("*")))
    w.iam(
        "CreatePolicyVersion",
        PolicyArn=mine,
        SetAsDefault=True,
        PolicyDocument=doc(allow("iam:SetDefaultPolicyVersion", mine)),
    )
    mallory(w, policies=(mine,), boundary=boundary)


def _path(world: World, mode: str) -> dict[str, Any] | None:
    found = {f.resource: f for f in world.findings(mode, "privilege-escalation")}
    assert arn("user", "boss") not in found and arn("role", "adminrole") not in found
    finding = found.get(MALLORY)
    return None if finding is None else finding.evidence


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_technique(world: World, case: Case, mode: str) -> None:
    base(world)
    case.build(world)
    evidence = _path(world, mode)
    assert evidence is not None, f"{case.name}: no path found"
    assert [s["call"] for s in evidence["path"]] == case.calls
    assert evidence["administrator"] == case.administrator
    assert evidence["conditional"] is False
    assert evidence["via_service"] is (case.name == "pass-role-to-ec2")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_technique_blocked(world: World, case: Case, mode: str) -> None:
    base(world)
    case.blocked(world)
    assert _path(world, mode) is None


@pytest.mark.parametrize("mode", MODES)
def test_undecidable_condition_keeps_the_edge_marked(world: World, mode: str) -> None:
    base(world)
    mallory(
        world,
        allow(
            "iam:CreateAccessKey",
            arn("user", "boss"),
            Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        ),
    )
    evidence = _path(world, mode)
    assert evidence is not None and evidence["conditional"] is True
    [step] = evidence["path"]
    assert step["undecided_condition_keys"] == ["aws:SourceIp"]


def test_shortest_path_is_reported(world: World) -> None:
    base(world)
    world.user("mid", inline={"p": doc(allow("sts:AssumeRole", arn("role", "adminrole")))})
    mallory(world, allow("iam:CreateAccessKey", [arn("user", "mid"), arn("user", "boss")]))
    evidence = _path(world, "live")
    assert evidence is not None and [s["call"] for s in evidence["path"]] == ["iam:CreateAccessKey"]
    assert evidence["path"][0]["target"] == arn("user", "boss")
    mid = {f.resource: f for f in world.findings("live", "privilege-escalation")}[
        arn("user", "mid")
    ]
    assert mid.evidence["administrator"] == arn("role", "adminrole")


@pytest.mark.parametrize("mode", MODES)
def test_remediation_names_the_granting_policy(world: World, mode: str) -> None:
    base(world)
    world.group("devs", policies=(world.policy("keys", doc(allow("iam:CreateAccessKey"))),))
    mallory(world, allow("iam:AttachUserPolicy", MALLORY), groups=("devs",))
    findings = {f.resource: f for f in world.findings(mode, "privilege-escalation")}
    assert findings[MALLORY].remediation == (
        "aws iam delete-user-policy --user-name mallory --policy-name p"
    )
    assert findings[MALLORY].evidence["path"][0]["call"] == "iam:AttachUserPolicy"
