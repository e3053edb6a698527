"""A trust policy's user and role principals are bound to the entities they name, as
IAM binds them to unique IDs: an ARN naming no one is refused, a deleted and recreated
principal is no longer trusted (and shows as its old unique ID), a renamed one is."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chamberlain.ops.core.context import Services
from chamberlain.ops.core.errors import ServiceError

from ..conftest import ACCOUNT
from ..sts_helpers import OTHER, World, allow, trust

ROLE = f"arn:aws:iam::{ACCOUNT}:role/r"


@pytest.fixture
def w(services: Services) -> World:
    return World(services)


def _principal(w: World, role: str = "r") -> Any:
    document = w.root_iam("GetRole", RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    return json.loads(document)["Statement"][0]["Principal"]["AWS"]


def _assume(w: World, caller: Any) -> str:
    try:
        w.sts(caller, "AssumeRole", RoleArn=ROLE, RoleSessionName="ss")
    except ServiceError as exc:
        return exc.code
    return "ok"


@pytest.mark.parametrize(
    "principal",
    [
        f"arn:aws:iam::{ACCOUNT}:user/nobody",
        f"arn:aws:iam::{ACCOUNT}:role/nothing",
        f"arn:aws:iam::{ACCOUNT}:user/wrong/path/alice",  # alice exists, under "/"
        f"arn:aws:iam::{OTHER}:user/alice",  # no such account here
    ],
)
def test_an_arn_naming_no_user_or_role_is_refused(w: World, principal: str) -> None:
    w.user("alice")
    with pytest.raises(ServiceError) as caught:
        w.root_iam("CreateRole", RoleName="r", AssumeRolePolicyDocument=trust(principal))
    assert caught.value.code == "MalformedPolicyDocument"
    assert caught.value.message == f'Invalid principal in policy: "AWS":"{principal}"'
    assert w.root_iam("ListRoles")["Roles"] == []  # nothing created
    w.root_iam(
        "CreateRole", RoleName="r", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT}:root")
    )
    with pytest.raises(ServiceError) as caught:
        w.root_iam("UpdateAssumeRolePolicy", RoleName="r", PolicyDocument=trust(principal))
    assert caught.value.code == "MalformedPolicyDocument"
    assert _principal(w) == f"arn:aws:iam::{ACCOUNT}:root"  # unchanged


def test_a_recreated_user_is_a_different_principal(w: World) -> None:
    alice = w.user("alice", allow("sts:AssumeRole"))
    w.role("r", trust(alice.arn))
    assert _assume(w, alice) == "ok"
    w.root_iam("DeleteUserPolicy", UserName="alice", PolicyName="p")
    w.root_iam("DeleteUser", UserName="alice")
    assert _principal(w) == alice.principal_id  # the old unique ID, as IAM shows it
    again = w.user("alice", allow("sts:AssumeRole"))
    assert again.arn == alice.arn and again.principal_id != alice.principal_id
    assert _assume(w, again) == "AccessDenied"
    assert _principal(w) == alice.principal_id
    # Saving the policy again (naming the ARN) trusts the new alice.
    w.root_iam("UpdateAssumeRolePolicy", RoleName="r", PolicyDocument=trust(again.arn))
    assert _assume(w, again) == "ok"
    assert _principal(w) == again.arn


def test_a_renamed_user_is_still_trusted_under_its_new_arn(w: World) -> None:
    alice = w.user("alice", allow("sts:AssumeRole"))
    w.role("r", trust([alice.arn, f"arn:aws:iam::{ACCOUNT}:root"]))
    w.root_iam("UpdateUser", UserName="alice", NewUserName="alicia", NewPath="/eng/")
    renamed = f"arn:aws:iam::{ACCOUNT}:user/eng/alicia"
    assert _principal(w) == [renamed, f"arn:aws:iam::{ACCOUNT}:root"]
    listed = w.root_iam("ListRoles")["Roles"][0]["AssumeRolePolicyDocument"]
    assert json.loads(listed)["Statement"][0]["Principal"]["AWS"][0] == renamed
    session = w.sts(
        alice.__class__(**{**alice.__dict__, "arn": renamed, "user_name": "alicia"}),
        "AssumeRole",
        RoleArn=ROLE,
        RoleSessionName="ss",
    )
    assert session["AssumedRoleUser"]["Arn"].endswith(":assumed-role/r/ss")


def test_a_deleted_role_principal_shows_its_unique_id_and_the_policy_can_be_saved_again(
    w: World,
) -> None:
    other = w.role("other", trust(f"arn:aws:iam::{ACCOUNT}:root"))
    w.role("r", trust(other["Arn"]))
    w.root_iam("DeleteRole", RoleName="other")
    shown = w.root_iam("GetRole", RoleName="r")["Role"]["AssumeRolePolicyDocument"]
    assert json.loads(shown)["Statement"][0]["Principal"]["AWS"] == other["RoleId"]
    # What GetRole shows is a policy IAM accepts back.
    w.root_iam("UpdateAssumeRolePolicy", RoleName="r", PolicyDocument=shown)
    assert _principal(w) == other["RoleId"]
    details = w.root_iam("GetAccountAuthorizationDetails", Filter=["Role"])
    (role,) = [r for r in details["RoleDetailList"] if r["RoleName"] == "r"]
    assert (
        json.loads(role["AssumeRolePolicyDocument"])["Statement"][0]["Principal"]["AWS"]
        == (other["RoleId"])
    )


def test_a_user_in_another_account_on_this_server_is_bound_too(w: World) -> None:
    w.add_account(OTHER)
    bob = w.user("bob", allow("sts:AssumeRole", ROLE), account=OTHER)
    w.role("r", trust(bob.arn))
    assert _assume(w, bob) == "ok"


# ----------------------------------------------------------- f. unique IDs as principals


def test_a_unique_user_id_trusts_the_user_holding_it(w: World) -> None:
    """IAM User Guide, "IAM JSON policy elements: Principal": IAM binds a user or role
    principal to its unique ID, and shows that ID when the entity is gone; a policy that
    names the ID trusts the entity holding it
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html)."""
    alice = w.user("alice", allow("sts:AssumeRole"))
    bob = w.user("bob", allow("sts:AssumeRole"))
    w.role("r", trust(alice.principal_id))
    assert _principal(w) == alice.principal_id  # shown as written
    assert _assume(w, alice) == "ok"
    assert _assume(w, bob) == "AccessDenied"
    # Deleted: the ID is held by no one, and the new alice is another principal.
    w.root_iam("DeleteUserPolicy", UserName="alice", PolicyName="p")
    w.root_iam("DeleteUser", UserName="alice")
    again = w.user("alice", allow("sts:AssumeRole"))
    assert _assume(w, again) == "AccessDenied"


def test_a_unique_role_id_trusts_the_role_sessions(w: World) -> None:
    runner = w.role("runner", trust(f"arn:aws:iam::{ACCOUNT}:root"), allow("sts:AssumeRole"))
    w.role("r", trust(runner["RoleId"]))
    admin = w.user("admin", allow("sts:AssumeRole"))
    creds = w.sts(admin, "AssumeRole", RoleArn=runner["Arn"], RoleSessionName="ci")["Credentials"]
    session = w.session(creds)
    assert _assume(w, session) == "ok"
    assert _assume(w, admin) == "AccessDenied"
