"""Attribute-based role assumption: the role's tags are in the request context of the
actions that assume it (sts:AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity, and
sts:TagSession / sts:SetSourceIdentity beside them) as aws:ResourceTag/KEY and
iam:ResourceTag/KEY.

AWS: "IAM: Assume roles that have a specific tag"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_iam-assume-tagged-role.html)
allows sts:AssumeRole on "*" when iam:ResourceTag/Project matches; the ABAC tutorial
(https://docs.aws.amazon.com/IAM/latest/UserGuide/tutorial_attribute-based-access-control.html)
matches iam:ResourceTag/access-project against ${aws:PrincipalTag/access-project}; the
Service Authorization Reference lists aws:ResourceTag/${TagKey} for STS's role resource
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecuritytokenservice.html).
"""

from __future__ import annotations

import pytest

from chamberlain.ops.core.context import Services
from chamberlain.ops.core.errors import ServiceError

from ..conftest import ACCOUNT
from ..sts_helpers import World, allow, trust

ACCOUNT_ROOT = f"arn:aws:iam::{ACCOUNT}:root"
TAGGED = allow(
    "sts:AssumeRole",
    condition={"StringEquals": {"iam:ResourceTag/Project": "ExampleCorpABC"}},
)


@pytest.fixture
def w(services: Services) -> World:
    return World(services)


def test_a_role_with_the_tag_may_be_assumed_one_without_may_not(w: World) -> None:
    alice = w.user("alice", TAGGED)
    w.role("tagged", trust(ACCOUNT_ROOT), tags=[{"Key": "Project", "Value": "ExampleCorpABC"}])
    w.role("other", trust(ACCOUNT_ROOT), tags=[{"Key": "Project", "Value": "Elsewhere"}])
    w.role("untagged", trust(ACCOUNT_ROOT))
    out = w.sts(alice, "AssumeRole", RoleArn=f"arn:aws:iam::{ACCOUNT}:role/tagged",
                RoleSessionName="s1")  # fmt: skip
    assert out["AssumedRoleUser"]["Arn"].endswith(":assumed-role/tagged/s1")
    for name in ("other", "untagged"):
        with pytest.raises(ServiceError) as denied:
            w.sts(alice, "AssumeRole", RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}",
                  RoleSessionName="s1")  # fmt: skip
        assert denied.value.code == "AccessDenied"


@pytest.mark.parametrize("key", ["aws:ResourceTag/team", "iam:ResourceTag/team"])
def test_principal_tag_matching_the_role_tag(w: World, key: str) -> None:
    """The ABAC pattern: the caller's tag must equal the role's tag."""
    policy = allow("sts:AssumeRole", condition={"StringEquals": {key: "${aws:PrincipalTag/team}"}})
    blue = w.user("blue", policy, tags=[{"Key": "team", "Value": "blue"}])
    red = w.user("red", policy, tags=[{"Key": "team", "Value": "red"}])
    w.role("blue-team", trust(ACCOUNT_ROOT), tags=[{"Key": "team", "Value": "blue"}])
    arn = f"arn:aws:iam::{ACCOUNT}:role/blue-team"
    assert w.sts(blue, "AssumeRole", RoleArn=arn, RoleSessionName="s1")["Credentials"]
    with pytest.raises(ServiceError) as denied:
        w.sts(red, "AssumeRole", RoleArn=arn, RoleSessionName="s1")
    assert denied.value.code == "AccessDenied"


def test_tag_session_sees_the_role_tags_too(w: World) -> None:
    """sts:TagSession is asked on the same role, with its tags."""
    policy = allow(
        ["sts:AssumeRole", "sts:TagSession"],
        condition={"StringEquals": {"aws:ResourceTag/Project": "ExampleCorpABC"}},
    )
    alice = w.user("alice", policy)
    w.role(
        "tagged",
        trust(ACCOUNT_ROOT, ["sts:AssumeRole", "sts:TagSession"]),
        tags=[{"Key": "Project", "Value": "ExampleCorpABC"}],
    )
    out = w.sts(alice, "AssumeRole", RoleArn=f"arn:aws:iam::{ACCOUNT}:role/tagged",
                RoleSessionName="s1", Tags=[{"Key": "k", "Value": "v"}])  # fmt: skip
    assert out["Credentials"]


def test_a_trust_policy_can_condition_on_the_role_tags(w: World) -> None:
    """The role's own tags are in the context the trust policy is evaluated with."""
    condition = {"StringEquals": {"aws:ResourceTag/Open": "yes"}}
    alice = w.user("alice", allow("sts:AssumeRole"))
    w.role("open", trust(ACCOUNT_ROOT, condition=condition), tags=[{"Key": "Open", "Value": "yes"}])
    w.role("closed", trust(ACCOUNT_ROOT, condition=condition))
    assert w.sts(alice, "AssumeRole", RoleArn=f"arn:aws:iam::{ACCOUNT}:role/open",
                 RoleSessionName="s1")  # fmt: skip
    with pytest.raises(ServiceError):
        w.sts(alice, "AssumeRole", RoleArn=f"arn:aws:iam::{ACCOUNT}:role/closed",
              RoleSessionName="s1")  # fmt: skip


def test_the_simulator_agrees_with_assume_role(w: World) -> None:
    """The simulator fills in no context of its own (as AWS's): given the role's tag as a
    context entry it answers what AssumeRole does."""
    alice = w.user("alice", TAGGED)
    w.role("tagged", trust(ACCOUNT_ROOT), tags=[{"Key": "Project", "Value": "ExampleCorpABC"}])
    arn = f"arn:aws:iam::{ACCOUNT}:role/tagged"
    assert w.sts(alice, "AssumeRole", RoleArn=arn, RoleSessionName="s1")["Credentials"]

    def simulate(value: str | None) -> str:
        params = {
            "PolicySourceArn": alice.arn,
            "ActionNames": ["sts:AssumeRole"],
            "ResourceArns": [arn],
        }
        if value is not None:
            params["ContextEntries"] = [
                {
                    "ContextKeyName": "iam:ResourceTag/Project",
                    "ContextKeyValues": [value],
                    "ContextKeyType": "string",
                }
            ]
        out = w.root_iam("SimulatePrincipalPolicy", **params)
        return str(out["EvaluationResults"][0]["EvalDecision"])

    assert simulate("ExampleCorpABC") == "allowed"
    assert simulate("Elsewhere") == "implicitDeny"
    assert simulate(None) == "implicitDeny"
