"""STS operations: GetSessionToken, AssumeRole, GetFederationToken, GetAccessKeyInfo,
DecodeAuthorizationMessage, GetCallerIdentity; and calling IAM with the sessions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from chamberlain.crypto.ids import is_access_key_id, is_secret_access_key
from chamberlain.domain import ROOT, AccessKey, Role
from chamberlain.ops.core.authz import decide
from chamberlain.ops.core.context import Caller, OpContext, Services
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.sts.operations import trust_decision
from chamberlain.ops.sts.sessions import (
    MFA_FAILED,
    caller_from_token,
    encode_authorization_message,
)
from chamberlain.policy import PrincipalType
from chamberlain.store.scopes import principal_scope

from ..conftest import ACCOUNT, NOW, root_caller
from ..sts_helpers import OTHER, World, allow, code, deny, meta, trust, wrong_code

Call = Callable[..., Any]
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def w(services: Services) -> World:
    return World(services)


def error_of(call: Call, *args: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ServiceError) as info:
        call(*args, **params)
    return info.value.code, info.value.message


def role_arn(name: str, account: str = ACCOUNT, path: str = "/") -> str:
    return f"arn:aws:iam::{account}:role{path}{name}"


def not_authorized(caller: Caller, action: str, resource: str) -> tuple[str, str]:
    return (
        "AccessDenied",
        f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource}",
    )


def no_identity_policy(caller: Caller, action: str, resource: str) -> tuple[str, str]:
    """The dispatcher's wording (authz.denial_message) for operations it authorizes."""
    code_, message = not_authorized(caller, action, resource)
    return code_, f"{message} because no identity-based policy allows the {action} action"


def assume(w: World, caller: Caller, name: str = "r", **params: Any) -> dict[str, Any]:
    params.setdefault("RoleArn", role_arn(name))
    params.setdefault("RoleSessionName", "sess")
    return w.sts(caller, "AssumeRole", **params)


# ------------------------------------------------------------------ GetCallerIdentity


def test_get_caller_identity_of_a_user_and_of_root(w: World) -> None:
    alice = w.user("alice")
    assert w.sts(alice, "GetCallerIdentity") == {
        "UserId": alice.principal_id,
        "Account": ACCOUNT,
        "Arn": alice.arn,
    }
    assert w.sts(root_caller(), "GetCallerIdentity")["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"


# -------------------------------------------------------------------- GetSessionToken


def test_get_session_token_needs_no_permission_and_is_the_same_user(w: World) -> None:
    alice = w.user("alice")
    out = w.sts(alice, "GetSessionToken")
    creds = out["Credentials"]
    assert set(out) == {"Credentials"}
    assert is_access_key_id(creds["AccessKeyId"], temporary=True)
    assert is_secret_access_key(creds["SecretAccessKey"])
    assert creds["Expiration"] == NOW + dt.timedelta(seconds=43200)
    session = w.session(creds)
    assert (session.type, session.arn, session.user_name) == (
        PrincipalType.USER,
        alice.arn,
        "alice",
    )
    assert session.session is not None
    assert session.session.issuer_arn == alice.arn
    assert session.session.mfa_authenticated is False
    assert w.sts(session, "GetCallerIdentity") == {
        "UserId": alice.principal_id,
        "Account": ACCOUNT,
        "Arn": alice.arn,
    }


def test_get_session_token_durations(w: World) -> None:
    alice = w.user("alice")
    out = w.sts(alice, "GetSessionToken", DurationSeconds=129600)
    assert out["Credentials"]["Expiration"] == NOW + dt.timedelta(seconds=129600)
    out = w.sts(alice, "GetSessionToken", DurationSeconds=900)
    assert out["Credentials"]["Expiration"] == NOW + dt.timedelta(seconds=900)
    # The root user's sessions last at most an hour; a longer request gets one hour.
    out = w.sts(root_caller(), "GetSessionToken", DurationSeconds=7200)
    assert out["Credentials"]["Expiration"] == NOW + HOUR
    out = w.sts(root_caller(), "GetSessionToken")
    assert out["Credentials"]["Expiration"] == NOW + HOUR
    # The model's bounds, checked again for callers not coming over the wire.
    code_, message = error_of(w.raw_sts, alice, "GetSessionToken", DurationSeconds=899)
    assert code_ == "ValidationError"
    assert "Member must have value greater than or equal to 900" in message
    code_, message = error_of(w.raw_sts, alice, "GetSessionToken", DurationSeconds=129601)
    assert "Member must have value less than or equal to 129600" in message


def test_get_session_token_refuses_session_credentials(w: World) -> None:
    alice = w.user("alice")
    session = w.session(w.sts(alice, "GetSessionToken")["Credentials"])
    assert error_of(w.sts, session, "GetSessionToken") == (
        "AccessDenied",
        "Cannot call GetSessionToken with session credentials",
    )
    w.role("r", trust(alice.arn))
    role_session = w.session(assume(w, alice)["Credentials"])
    assert error_of(w.sts, role_session, "GetSessionToken")[1] == (
        "Cannot call GetSessionToken with session credentials"
    )


def test_get_session_token_with_mfa(w: World) -> None:
    alice = w.user("alice")
    serial, seed = w.mfa("alice")
    out = w.sts(alice, "GetSessionToken", SerialNumber=serial, TokenCode=code(seed))
    session = w.session(out["Credentials"])
    assert session.session is not None
    assert session.session.mfa_authenticated is True
    assert session.session.mfa_authenticated_at == NOW
    # A code is accepted once.
    assert error_of(w.sts, alice, "GetSessionToken", SerialNumber=serial, TokenCode=code(seed)) == (
        "AccessDenied",
        MFA_FAILED,
    )


@pytest.mark.parametrize("case", ["wrong code", "other user's device", "no code", "no device"])
def test_get_session_token_mfa_failures(w: World, case: str) -> None:
    alice = w.user("alice")
    w.user("bob")
    serial, seed = w.mfa("alice")
    bob_serial, bob_seed = w.mfa("bob")
    good = code(seed)
    params = {
        "wrong code": {"SerialNumber": serial, "TokenCode": wrong_code(seed)},
        "other user's device": {"SerialNumber": bob_serial, "TokenCode": code(bob_seed)},
        "no code": {"SerialNumber": serial},
        "no device": {"SerialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/none", "TokenCode": good},
    }[case]
    assert error_of(w.sts, alice, "GetSessionToken", **params) == ("AccessDenied", MFA_FAILED)


def test_root_get_session_token_with_root_mfa(w: World) -> None:
    serial, seed = w.mfa(ROOT, name="root-account-mfa-device")
    out = w.sts(root_caller(), "GetSessionToken", SerialNumber=serial, TokenCode=code(seed))
    session = w.session(out["Credentials"])
    assert session.type is PrincipalType.ROOT
    assert session.session is not None and session.session.mfa_authenticated


def test_mfa_session_satisfies_an_mfa_condition(w: World) -> None:
    alice = w.user(
        "alice", allow("iam:ListUsers", condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    )
    serial, seed = w.mfa("alice")
    assert error_of(w.iam, alice, "ListUsers")[0] == "AccessDenied"
    plain = w.session(w.sts(alice, "GetSessionToken")["Credentials"])
    assert error_of(w.iam, plain, "ListUsers")[0] == "AccessDenied"
    mfa = w.session(
        w.sts(alice, "GetSessionToken", SerialNumber=serial, TokenCode=code(seed))["Credentials"]
    )
    assert [u["UserName"] for u in w.iam(mfa, "ListUsers")["Users"]] == ["alice"]


def test_session_token_without_mfa_cannot_call_iam(w: World) -> None:
    """AWS: GetSessionToken credentials cannot call IAM unless MFA-authenticated."""
    alice = w.user("alice")
    serial, seed = w.mfa("alice")
    plain = w.sts(alice, "GetSessionToken")["Credentials"]
    with pytest.raises(ServiceError) as info:
        caller_from_token(
            w.services, plain["AccessKeyId"], plain["SessionToken"], NOW, service="iam"
        )
    assert info.value.code == "InvalidClientTokenId"
    caller_from_token(w.services, plain["AccessKeyId"], plain["SessionToken"], NOW, service="sts")
    mfa = w.sts(alice, "GetSessionToken", SerialNumber=serial, TokenCode=code(seed))
    creds = mfa["Credentials"]
    caller_from_token(w.services, creds["AccessKeyId"], creds["SessionToken"], NOW, service="iam")


# ------------------------------------------------------------------------- AssumeRole


def test_assume_role_same_account_trust_naming_the_user(w: World) -> None:
    alice = w.user("alice")  # no identity policy: the trust policy names her
    role = w.role("r", trust(alice.arn), allow("iam:ListUsers"))
    out = assume(w, alice, RoleSessionName="alice-session")
    assert set(out) == {"Credentials", "AssumedRoleUser"}
    assert out["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role['RoleId']}:alice-session",
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/r/alice-session",
    }
    assert out["Credentials"]["Expiration"] == NOW + HOUR
    session = w.session(out["Credentials"])
    assert session.type is PrincipalType.ASSUMED_ROLE
    assert session.arn == out["AssumedRoleUser"]["Arn"]
    assert session.principal_id == out["AssumedRoleUser"]["AssumedRoleId"]
    assert session.account_id == ACCOUNT
    assert session.session is not None
    assert session.session.issuer_arn == role["Arn"]
    assert session.session.chained is False
    assert w.sts(session, "GetCallerIdentity") == {
        "UserId": f"{role['RoleId']}:alice-session",
        "Account": ACCOUNT,
        "Arn": out["AssumedRoleUser"]["Arn"],
    }
    # The session has the role's permissions.
    assert [u["UserName"] for u in w.iam(session, "ListUsers")["Users"]] == ["alice"]
    assert error_of(w.iam, session, "ListRoles")[0] == "AccessDenied"
    # The role was used.
    last = w.root_iam("GetRole", RoleName="r")["Role"]["RoleLastUsed"]
    assert last == {"LastUsedDate": NOW, "Region": "us-east-1"}


def test_assume_role_trusting_the_account_needs_an_identity_policy(w: World) -> None:
    w.role("r", trust(f"arn:aws:iam::{ACCOUNT}:root"))
    bob = w.user("bob")
    assert error_of(assume, w, bob) == not_authorized(bob, "sts:AssumeRole", role_arn("r"))
    carol = w.user("carol", allow("sts:AssumeRole", role_arn("r")))
    assert assume(w, carol)["AssumedRoleUser"]["Arn"].endswith(":assumed-role/r/sess")


def test_assume_role_denied_when_the_trust_policy_does_not_name_the_caller(w: World) -> None:
    w.user("alice")
    bob = w.user("bob", allow("sts:AssumeRole"))
    w.role("r", trust(f"arn:aws:iam::{ACCOUNT}:user/alice"))
    assert error_of(assume, w, bob) == not_authorized(bob, "sts:AssumeRole", role_arn("r"))
    # The role is untouched by a refused call.
    assert w.root_iam("GetRole", RoleName="r")["Role"]["RoleLastUsed"] == {}


def test_assume_role_explicit_deny_in_identity_policy_wins(w: World) -> None:
    alice = w.user("alice", deny("sts:AssumeRole"))
    w.role("r", trust(alice.arn))
    assert error_of(assume, w, alice)[0] == "AccessDenied"


def test_assume_role_unknown_or_malformed_role(w: World) -> None:
    alice = w.user("alice", allow("sts:AssumeRole"))
    assert error_of(assume, w, alice, "nope") == not_authorized(
        alice, "sts:AssumeRole", role_arn("nope")
    )
    assert error_of(assume, w, alice, RoleArn="arn:aws:iam::111111111111:user/alice") == (
        "ValidationError",
        "Request ARN is invalid",
    )
    # A role ARN with the wrong path names no role.
    w.role("r", trust(alice.arn), path="/team/")
    assert error_of(assume, w, alice, RoleArn=role_arn("r"))[0] == "AccessDenied"
    assert assume(w, alice, RoleArn=role_arn("r", path="/team/"))["AssumedRoleUser"]


def test_assume_role_input_checked_again_off_the_wire(w: World) -> None:
    alice = w.user("alice")
    w.role("r", trust(alice.arn))
    for name in ("s", "sé", "a b", "x" * 65):
        code_, message = error_of(
            w.raw_sts, alice, "AssumeRole", RoleArn=role_arn("r"), RoleSessionName=name
        )
        assert code_ == "ValidationError" and "'roleSessionName'" in message
    code_, message = error_of(
        w.raw_sts,
        alice,
        "AssumeRole",
        RoleArn=role_arn("r"),
        RoleSessionName="ok",
        DurationSeconds=43201,
    )
    assert "Member must have value less than or equal to 43200" in message


def test_session_token_sessions_may_assume_roles(w: World) -> None:
    alice = w.user("alice", allow("sts:GetAccessKeyInfo"))
    w.role("r", trust(alice.arn), allow("sts:GetAccessKeyInfo"), max_session=7200)
    session = w.session(w.sts(alice, "GetSessionToken")["Credentials"])
    out = assume(w, session, DurationSeconds=7200)  # not role chaining: no one-hour cap
    role_session = w.session(out["Credentials"])
    assert role_session.session is not None and not role_session.session.chained
    # A role session may call the other STS operations its policies allow.
    key = out["Credentials"]["AccessKeyId"]
    assert w.sts(role_session, "GetAccessKeyInfo", AccessKeyId=key) == {"Account": ACCOUNT}


def test_root_cannot_assume_roles(w: World) -> None:
    w.role("r", trust(f"arn:aws:iam::{ACCOUNT}:root"))
    assert error_of(assume, w, root_caller()) == (
        "AccessDenied",
        "Roles may not be assumed by root accounts.",
    )


def test_role_with_a_path(w: World) -> None:
    alice = w.user("alice")
    role = w.role("r", trust(alice.arn), allow("iam:ListUsers"), path="/team/ops/")
    out = assume(w, alice, RoleArn=role["Arn"])
    # The session ARN has no path; the issuer is the role's full ARN.
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/r/sess"
    session = w.session(out["Credentials"])
    assert session.session is not None and session.session.issuer_arn == role["Arn"]
    assert w.iam(session, "ListUsers")["Users"]


def test_cross_account_needs_both_sides(w: World) -> None:
    w.add_account(OTHER)
    w.user("dave", account=OTHER)
    other_role = role_arn("r", OTHER)
    # The role in OTHER trusts the whole of ACCOUNT.
    w.role("r", trust(ACCOUNT), allow("iam:ListUsers"), account=OTHER)
    alice = w.user("alice")
    assert error_of(assume, w, alice, RoleArn=other_role) == not_authorized(
        alice, "sts:AssumeRole", other_role
    )
    bob = w.user("bob", allow("sts:AssumeRole", other_role))
    out = assume(w, bob, RoleArn=other_role)
    session = w.session(out["Credentials"])
    assert session.account_id == OTHER
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{OTHER}:assumed-role/r/sess"
    assert is_access_key_id(out["Credentials"]["AccessKeyId"], temporary=True)
    # The session acts in the role's account.
    assert [u["UserName"] for u in w.iam(session, "ListUsers")["Users"]] == ["dave"]


def test_cross_account_trust_naming_the_user_still_needs_her_identity_policy(w: World) -> None:
    w.add_account(OTHER)
    alice = w.user("alice")
    w.role("r", trust(alice.arn), account=OTHER)
    assert error_of(assume, w, alice, RoleArn=role_arn("r", OTHER))[0] == "AccessDenied"
    # An identity policy allowing it, without the trust policy's say-so, is not enough.
    bob = w.user("bob", allow("sts:AssumeRole"))
    assert error_of(assume, w, bob, RoleArn=role_arn("r", OTHER))[0] == "AccessDenied"
    w.root_iam("PutUserPolicy", UserName="alice", PolicyName="p", PolicyDocument=allow("sts:*"))
    assert assume(w, alice, RoleArn=role_arn("r", OTHER))["AssumedRoleUser"]


def test_external_id(w: World) -> None:
    alice = w.user("alice")
    w.role("r", trust(alice.arn, condition={"StringEquals": {"sts:ExternalId": "x-123"}}))
    denied = not_authorized(alice, "sts:AssumeRole", role_arn("r"))
    assert error_of(assume, w, alice) == denied
    assert error_of(assume, w, alice, ExternalId="x-999") == denied
    assert assume(w, alice, ExternalId="x-123")["AssumedRoleUser"]


def test_mfa_required_by_the_trust_policy(w: World) -> None:
    alice = w.user("alice")
    serial, seed = w.mfa("alice")
    w.role("r", trust(alice.arn, condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}))
    assert error_of(assume, w, alice)[0] == "AccessDenied"
    assert error_of(assume, w, alice, SerialNumber=serial, TokenCode=wrong_code(seed)) == (
        "AccessDenied",
        MFA_FAILED,
    )
    out = assume(w, alice, SerialNumber=serial, TokenCode=code(seed))
    session = w.session(out["Credentials"])
    assert session.session is not None
    assert (session.session.mfa_authenticated, session.session.mfa_authenticated_at) == (True, NOW)
    # An MFA-authenticated GetSessionToken session carries its MFA into AssumeRole.
    later = NOW + dt.timedelta(minutes=5)
    mfa_session = w.session(
        w.sts(
            alice, "GetSessionToken", now=later, SerialNumber=serial, TokenCode=code(seed, later)
        )["Credentials"],
        later,
    )
    out = w.sts(mfa_session, "AssumeRole", now=later, RoleArn=role_arn("r"), RoleSessionName="sess")
    role_session = w.session(out["Credentials"], later)
    assert role_session.session is not None
    assert role_session.session.mfa_authenticated_at == later


def test_mfa_age_condition(w: World) -> None:
    alice = w.user("alice")
    serial, seed = w.mfa("alice")
    w.role(
        "r",
        trust(alice.arn, condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "600"}}),
    )
    mfa_session = w.session(
        w.sts(alice, "GetSessionToken", SerialNumber=serial, TokenCode=code(seed))["Credentials"]
    )
    soon, late = NOW + dt.timedelta(minutes=5), NOW + dt.timedelta(minutes=20)
    assert w.sts(mfa_session, "AssumeRole", now=soon, RoleArn=role_arn("r"), RoleSessionName="ab")
    assert (
        error_of(
            w.sts, mfa_session, "AssumeRole", now=late, RoleArn=role_arn("r"), RoleSessionName="ab"
        )[0]
        == "AccessDenied"
    )


def test_assume_role_durations(w: World) -> None:
    alice = w.user("alice")
    w.role("r", trust(alice.arn))
    w.role("long", trust(alice.arn), max_session=7200)
    assert assume(w, alice, "long", DurationSeconds=7200)["Credentials"]["Expiration"] == (
        NOW + 2 * HOUR
    )
    assert error_of(assume, w, alice, DurationSeconds=7200) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    assert assume(w, alice, DurationSeconds=900)["Credentials"]["Expiration"] == (
        NOW + dt.timedelta(seconds=900)
    )


def test_role_chaining_is_capped_at_one_hour(w: World) -> None:
    alice = w.user("alice")
    first = w.role("first", trust(alice.arn), allow("sts:AssumeRole"), max_session=43200)
    w.role("second", trust(first["Arn"]), max_session=43200)
    session = w.session(assume(w, alice, "first", DurationSeconds=43200)["Credentials"])
    assert error_of(assume, w, session, "second", DurationSeconds=3601) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
        "by role chaining.",
    )
    out = assume(w, session, "second")
    chained = w.session(out["Credentials"])
    assert chained.session is not None and chained.session.chained
    assert out["Credentials"]["Expiration"] == NOW + HOUR
    assert chained.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/second/sess"


def test_session_policy_narrows_the_role(w: World) -> None:
    alice = w.user("alice")
    w.role("r", trust(alice.arn), allow("iam:*"))
    out = assume(w, alice, Policy=allow("iam:ListUsers"))
    assert out["PackedPolicySize"] >= 1
    session = w.session(out["Credentials"])
    assert w.iam(session, "ListUsers")["Users"]
    code_, message = error_of(w.iam, session, "ListRoles")
    assert code_ == "AccessDenied"
    assert "session policy" in message
    # A session policy cannot grant more than the role has.
    w.role("narrow", trust(alice.arn), allow("iam:ListRoles"))
    wide = w.session(assume(w, alice, "narrow", Policy=allow("iam:*"))["Credentials"])
    assert error_of(w.iam, wide, "ListUsers")[0] == "AccessDenied"


def test_managed_session_policies(w: World) -> None:
    alice = w.user("alice")
    w.role("r", trust(alice.arn), allow("iam:*"))
    arn = w.root_iam(
        "CreatePolicy", PolicyName="only-users", PolicyDocument=allow("iam:ListUsers")
    )["Policy"]["Arn"]
    session = w.session(assume(w, alice, PolicyArns=[{"arn": arn}])["Credentials"])
    assert w.iam(session, "ListUsers")["Users"]
    assert error_of(w.iam, session, "ListRoles")[0] == "AccessDenied"
    too_many = [{"arn": f"arn:aws:iam::{ACCOUNT}:policy/p{i}"} for i in range(11)]
    assert error_of(assume, w, alice, PolicyArns=too_many)[0] == "ValidationError"


def test_session_policy_validation(w: World) -> None:
    alice = w.user("alice")
    w.role("r", trust(alice.arn))
    assert error_of(assume, w, alice, Policy="{not json")[0] == "MalformedPolicyDocument"
    with_principal = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "iam:ListUsers", "Resource": "*"}
            ],
        }
    )
    assert error_of(assume, w, alice, Policy=with_principal)[0] == "MalformedPolicyDocument"
    big = allow([f"iam:ListUsers{i:04d}" for i in range(120)])
    code_, message = error_of(assume, w, alice, Policy=big)
    assert code_ == "PackedPolicyTooLarge"
    assert message.startswith("Packed policy consumes ")
    assert message.endswith("% of allotted space, please use smaller policy.")
    # Whitespace does not count (and is not carried in the token).
    spaced = json.dumps(json.loads(allow("iam:ListUsers")), indent=200)
    assert len(spaced) > 2048
    assert assume(w, alice, Policy=spaced)["PackedPolicySize"] <= 5


def test_role_boundary_limits_the_session(w: World) -> None:
    alice = w.user("alice")
    boundary = w.root_iam(
        "CreatePolicy", PolicyName="boundary", PolicyDocument=allow("iam:ListUsers")
    )["Policy"]["Arn"]
    w.role("r", trust(alice.arn), allow("iam:*"), boundary=boundary)
    session = w.session(assume(w, alice)["Credentials"])
    assert w.iam(session, "ListUsers")["Users"]
    code_, message = error_of(w.iam, session, "ListRoles")
    assert code_ == "AccessDenied" and "permissions boundary" in message


def test_deleted_role_leaves_its_sessions_without_permissions(w: World) -> None:
    alice = w.user("alice")
    w.role("r", trust(alice.arn), allow("iam:ListUsers"))
    session = w.session(assume(w, alice)["Credentials"])
    w.root_iam("DeleteRolePolicy", RoleName="r", PolicyName="p")
    w.root_iam("DeleteRole", RoleName="r")
    assert error_of(w.iam, session, "ListUsers")[0] == "AccessDenied"


def test_a_role_created_again_under_the_same_name_is_another_role(w: World) -> None:
    alice = w.user("alice")
    w.role("r", trust(alice.arn))
    session = w.session(assume(w, alice)["Credentials"])
    w.root_iam("DeleteRole", RoleName="r")
    w.role("r", trust(ACCOUNT), allow("iam:ListUsers"))
    assert error_of(w.iam, session, "ListUsers")[0] == "AccessDenied"


def test_session_tags_need_tag_session(w: World) -> None:
    alice = w.user("alice")
    w.role("r", trust(alice.arn))
    tags = [{"Key": "team", "Value": "blue"}]
    assert error_of(assume, w, alice, Tags=tags) == not_authorized(
        alice, "sts:TagSession", role_arn("r")
    )
    w.role(
        "tagged",
        trust(alice.arn, ["sts:AssumeRole", "sts:TagSession"]),
        allow("iam:ListUsers", condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}}),
        tags=[{"Key": "team", "Value": "red"}],
    )
    out = assume(w, alice, "tagged", Tags=tags)
    assert out["PackedPolicySize"] >= 1
    session = w.session(out["Credentials"])
    assert session.session is not None and session.session.tags == (("team", "blue"),)
    # Session tags override the role's tag of the same key.
    assert w.iam(session, "ListUsers")["Users"]
    plain = w.session(assume(w, alice, "tagged")["Credentials"])
    assert error_of(w.iam, plain, "ListUsers")[0] == "AccessDenied"


def test_trust_policy_can_require_request_tags(w: World) -> None:
    alice = w.user("alice")
    w.role(
        "r",
        trust(
            alice.arn,
            ["sts:AssumeRole", "sts:TagSession"],
            condition={"StringEquals": {"aws:RequestTag/project": "x"}},
        ),
    )
    assert error_of(assume, w, alice)[0] == "AccessDenied"
    assert assume(w, alice, Tags=[{"Key": "project", "Value": "x"}])["AssumedRoleUser"]


def test_session_tag_validation(w: World) -> None:
    alice = w.user("alice")
    w.role("r", trust(alice.arn, ["sts:AssumeRole", "sts:TagSession"]))
    duplicate = [{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}]
    assert error_of(assume, w, alice, Tags=duplicate)[0] == "InvalidParameterValue"
    reserved = [{"Key": "aws:team", "Value": "1"}]
    assert error_of(assume, w, alice, Tags=reserved)[0] == "InvalidParameterValue"
    assert (
        error_of(assume, w, alice, Tags=[{"Key": "a", "Value": "1"}], TransitiveTagKeys=["b"])[0]
        == "InvalidParameterValue"
    )


def test_transitive_tags_pass_along_a_role_chain(w: World) -> None:
    alice = w.user("alice")
    both = ["sts:AssumeRole", "sts:TagSession"]
    first = w.role("first", trust(alice.arn, both), allow("sts:AssumeRole"))
    w.role(
        "second",
        trust(first["Arn"], both),
        allow("iam:ListUsers", condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}}),
    )
    tags = [{"Key": "team", "Value": "blue"}, {"Key": "cost", "Value": "42"}]
    one = w.session(assume(w, alice, "first", Tags=tags, TransitiveTagKeys=["team"])["Credentials"])
    two = w.session(assume(w, one, "second", Tags=[{"Key": "x", "Value": "y"}])["Credentials"])
    assert two.session is not None
    assert two.session.tags == (("team", "blue"), ("x", "y"))
    assert two.session.transitive_tag_keys == ("team",)
    assert w.iam(two, "ListUsers")["Users"]
    # An inherited transitive tag cannot be overridden.
    assert (
        error_of(assume, w, one, "second", Tags=[{"Key": "TEAM", "Value": "red"}])[0]
        == "InvalidParameterValue"
    )
    # Tags not marked transitive stay with their session.
    untagged = w.session(assume(w, alice, "first", Tags=tags)["Credentials"])
    chained = w.session(assume(w, untagged, "second")["Credentials"])
    assert chained.session is not None and chained.session.tags == ()
    assert error_of(w.iam, chained, "ListUsers")[0] == "AccessDenied"


def test_source_identity(w: World) -> None:
    alice = w.user("alice")
    w.role("plain", trust(alice.arn))
    assert error_of(assume, w, alice, "plain", SourceIdentity="alice") == not_authorized(
        alice, "sts:SetSourceIdentity", role_arn("plain")
    )
    first = w.role(
        "first",
        trust(
            alice.arn,
            ["sts:AssumeRole", "sts:SetSourceIdentity"],
            condition={"StringEquals": {"sts:SourceIdentity": "alice"}},
        ),
        allow("sts:AssumeRole"),
    )
    assert error_of(assume, w, alice, "first", SourceIdentity="mallory")[0] == "AccessDenied"
    out = assume(w, alice, "first", SourceIdentity="alice")
    assert out["SourceIdentity"] == "alice"
    one = w.session(out["Credentials"])
    w.role("second", trust(first["Arn"], ["sts:AssumeRole", "sts:SetSourceIdentity"]))
    two = assume(w, one, "second")
    assert two["SourceIdentity"] == "alice"
    assert w.session(two["Credentials"]).session.source_identity == "alice"  # type: ignore[union-attr]
    assert error_of(assume, w, one, "second", SourceIdentity="bob")[0] == "InvalidParameterValue"


def test_revoking_older_sessions_with_token_issue_time(w: World) -> None:
    """The console's "Revoke active sessions": deny everything to sessions issued
    before a moment, as an inline policy on the role."""
    alice = w.user("alice")
    w.role("r", trust(alice.arn), allow("iam:ListUsers"))
    old = w.session(assume(w, alice)["Credentials"])
    revoke_at = NOW + dt.timedelta(minutes=10)
    w.root_iam(
        "PutRolePolicy",
        RoleName="r",
        PolicyName="AWSRevokeOlderSessions",
        PolicyDocument=deny(
            "*",
            condition={
                "DateLessThan": {"aws:TokenIssueTime": revoke_at.strftime("%Y-%m-%dT%H:%M:%SZ")}
            },
        ),
    )
    later = NOW + dt.timedelta(minutes=20)
    code_, message = error_of(w.iam, old, "ListUsers", now=later)
    assert code_ == "AccessDenied" and "explicit deny" in message
    new_creds = w.sts(alice, "AssumeRole", now=later, RoleArn=role_arn("r"), RoleSessionName="ss")
    new = w.session(new_creds["Credentials"], later)
    assert w.iam(new, "ListUsers", now=later)["Users"]


def test_expired_and_tampered_tokens(w: World) -> None:
    alice = w.user("alice")
    w.role("r", trust(alice.arn))
    creds = assume(w, alice)["Credentials"]
    key, token = creds["AccessKeyId"], creds["SessionToken"]
    assert caller_from_token(w.services, key, token, NOW + HOUR - dt.timedelta(seconds=1))
    with pytest.raises(ServiceError) as info:
        caller_from_token(w.services, key, token, NOW + HOUR)
    assert (info.value.code, info.value.message) == (
        "ExpiredToken",
        "The security token included in the request is expired",
    )
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    other = assume(w, alice)["Credentials"]
    for bad_key, bad_token in [
        (key, flipped),
        (other["AccessKeyId"], token),  # a token for another key id
        (key, None),
        (key, ""),
    ]:
        with pytest.raises(ServiceError) as info:
            caller_from_token(w.services, bad_key, bad_token, NOW)
        assert (info.value.code, info.value.message) == (
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        )


def test_trust_decision_reports_the_trust_policy(w: World) -> None:
    alice = w.user("alice")
    role = w.role("r", trust(alice.arn))
    with w.services.store.unit_of_work(read_only=True) as uow:
        ctx = OpContext(caller=alice, meta=meta(), uow=uow, services=w.services)
        stored = uow.repo(Role).get(ACCOUNT, "r")
        assert stored is not None
        decision = trust_decision(ctx, stored, "sts:AssumeRole", {})
    assert decision.allowed
    assert decision.matched[0].policy_id == role["Arn"]


# ------------------------------------------------------------------ GetFederationToken


def test_get_federation_token(w: World) -> None:
    alice = w.user("alice")
    assert error_of(w.sts, alice, "GetFederationToken", Name="bob") == no_identity_policy(
        alice, "sts:GetFederationToken", f"arn:aws:sts::{ACCOUNT}:federated-user/bob"
    )
    w.root_iam("PutUserPolicy", UserName="alice", PolicyName="p", PolicyDocument=allow("sts:*"))
    out = w.sts(alice, "GetFederationToken", Name="bob", Policy=allow("iam:ListUsers"))
    assert out["FederatedUser"] == {
        "FederatedUserId": f"{ACCOUNT}:bob",
        "Arn": f"arn:aws:sts::{ACCOUNT}:federated-user/bob",
    }
    assert out["Credentials"]["Expiration"] == NOW + dt.timedelta(seconds=43200)
    assert out["PackedPolicySize"] >= 1
    session = w.session(out["Credentials"])
    assert session.type is PrincipalType.FEDERATED_USER
    assert session.arn == out["FederatedUser"]["Arn"]
    assert session.session is not None
    assert session.session.issuer_arn == alice.arn
    assert session.session.session_policy == allow("iam:ListUsers").replace(" ", "")
    assert w.sts(session, "GetCallerIdentity") == {
        "UserId": f"{ACCOUNT}:bob",
        "Account": ACCOUNT,
        "Arn": f"arn:aws:sts::{ACCOUNT}:federated-user/bob",
    }
    assert error_of(w.sts, session, "GetFederationToken", Name="carol") == (
        "AccessDenied",
        "Cannot call GetFederationToken with session credentials",
    )


def test_get_federation_token_root_duration_and_tags(w: World) -> None:
    out = w.sts(root_caller(), "GetFederationToken", Name="bob", DurationSeconds=36000)
    assert out["Credentials"]["Expiration"] == NOW + HOUR
    assert "PackedPolicySize" not in out
    alice = w.user("alice", allow("sts:GetFederationToken"))
    tags = [{"Key": "team", "Value": "blue"}]
    assert error_of(w.sts, alice, "GetFederationToken", Name="bob", Tags=tags) == (
        no_identity_policy(alice, "sts:TagSession", f"arn:aws:sts::{ACCOUNT}:federated-user/bob")
    )
    w.root_iam(
        "PutUserPolicy",
        UserName="alice",
        PolicyName="p",
        PolicyDocument=allow(["sts:GetFederationToken", "sts:TagSession"]),
    )
    session = w.session(w.sts(alice, "GetFederationToken", Name="bob", Tags=tags)["Credentials"])
    assert session.session is not None and session.session.tags == (("team", "blue"),)


def test_federated_user_has_the_intersection_of_user_and_session_policies(w: World) -> None:
    alice = w.user("alice", allow(["sts:GetFederationToken", "iam:ListUsers", "iam:ListRoles"]))
    out = w.sts(alice, "GetFederationToken", Name="bob", Policy=allow(["iam:ListUsers"]))
    session = w.session(out["Credentials"])
    assert w.iam(session, "ListUsers")["Users"]
    assert error_of(w.iam, session, "ListRoles")[0] == "AccessDenied"


def test_root_federated_user_has_its_session_policies(w: World) -> None:
    out = w.sts(root_caller(), "GetFederationToken", Name="bob", Policy=allow("iam:ListUsers"))
    session = w.session(out["Credentials"])
    assert session.session is not None
    assert session.session.issuer_arn == f"arn:aws:iam::{ACCOUNT}:root"
    assert w.iam(session, "ListUsers")["Users"] == []
    assert error_of(w.iam, session, "ListRoles")[0] == "AccessDenied"


def test_federated_user_without_session_policy_has_no_permissions(w: World) -> None:
    alice = w.user("alice", allow(["sts:GetFederationToken", "iam:ListUsers"]))
    session = w.session(w.sts(alice, "GetFederationToken", Name="bob")["Credentials"])
    assert error_of(w.iam, session, "ListUsers")[0] == "AccessDenied"


def test_federated_user_cannot_assume_roles(w: World) -> None:
    alice = w.user("alice", allow(["sts:GetFederationToken", "sts:AssumeRole"]))
    w.role("r", trust(ACCOUNT))
    session = w.session(
        w.sts(alice, "GetFederationToken", Name="bob", Policy=allow("sts:*"))["Credentials"]
    )
    assert error_of(assume, w, session) == not_authorized(session, "sts:AssumeRole", role_arn("r"))


# -------------------------------------------------------------------- GetAccessKeyInfo


def test_get_access_key_info(w: World) -> None:
    w.add_account(OTHER)
    alice = w.user("alice", allow(["sts:GetAccessKeyInfo", "sts:AssumeRole"]))
    key = w.root_iam("CreateAccessKey", OTHER)["AccessKey"]["AccessKeyId"]
    assert w.sts(alice, "GetAccessKeyInfo", AccessKeyId=key) == {"Account": OTHER}
    w.role("r", trust(ACCOUNT), account=OTHER)
    temporary = assume(w, alice, RoleArn=role_arn("r", OTHER))["Credentials"]["AccessKeyId"]
    assert w.sts(alice, "GetAccessKeyInfo", AccessKeyId=temporary) == {"Account": OTHER}
    for unknown in ("AKIAIOSFODNN7EXAMPLE", "ASIAIOSFODNN7EXAMPLE"):
        assert error_of(w.sts, alice, "GetAccessKeyInfo", AccessKeyId=unknown)[0] == (
            "InvalidParameterValue"
        )
    bob = w.user("bob")
    assert error_of(w.sts, bob, "GetAccessKeyInfo", AccessKeyId=key) == no_identity_policy(
        bob, "sts:GetAccessKeyInfo", "*"
    )
    session = w.session(w.sts(alice, "GetSessionToken")["Credentials"])
    assert error_of(w.sts, session, "GetAccessKeyInfo", AccessKeyId=key) == (
        "AccessDenied",
        "Cannot call GetAccessKeyInfo with session credentials",
    )


def test_get_access_key_info_of_a_root_key(w: World, services: Services) -> None:
    key = w.root_iam("CreateAccessKey")["AccessKey"]["AccessKeyId"]
    with services.store.unit_of_work(read_only=True) as uow:
        stored = uow.repo(AccessKey).find(key)
    assert stored is not None and stored.user_name == ROOT
    assert w.sts(root_caller(), "GetAccessKeyInfo", AccessKeyId=key) == {"Account": ACCOUNT}


# --------------------------------------------------------- DecodeAuthorizationMessage


def _encoded(w: World, caller: Caller) -> str:
    with w.services.store.unit_of_work(read_only=True) as uow:
        ctx = OpContext(caller=caller, meta=meta(), uow=uow, services=w.services)
        resource = f"arn:aws:iam::{ACCOUNT}:user/x"
        decision = decide(ctx, "iam:DeleteUser", resource)
        return encode_authorization_message(
            ctx,
            action="iam:DeleteUser",
            resource=resource,
            decision=decision,
            context={"aws:SourceIp": "10.0.0.1", "aws:SecureTransport": True},
        )


def test_decode_authorization_message(w: World) -> None:
    alice = w.user("alice", deny("iam:DeleteUser"))
    encoded = _encoded(w, alice)
    assert "iam:DeleteUser" not in encoded
    bob = w.user("bob")
    assert error_of(w.sts, bob, "DecodeAuthorizationMessage", EncodedMessage=encoded) == (
        no_identity_policy(bob, "sts:DecodeAuthorizationMessage", "*")
    )
    carol = w.user("carol", allow("sts:DecodeAuthorizationMessage"))
    decoded = json.loads(
        w.sts(carol, "DecodeAuthorizationMessage", EncodedMessage=encoded)["DecodedMessage"]
    )
    assert decoded["allowed"] is False
    assert decoded["explicitDeny"] is True
    assert decoded["matchedStatements"]["items"][0]["effect"] == "DENY"
    assert decoded["context"]["principal"] == {
        "id": alice.principal_id,
        "arn": alice.arn,
        "name": "alice",
    }
    assert decoded["context"]["action"] == "iam:DeleteUser"
    assert decoded["context"]["conditions"]["items"][0] == {
        "key": "aws:SecureTransport",
        "values": {"items": [{"value": "true"}]},
    }


def test_decode_refuses_what_is_not_a_message_of_the_account(w: World) -> None:
    carol = w.user("carol", allow(["sts:DecodeAuthorizationMessage", "sts:AssumeRole"]))
    w.role("r", trust(carol.arn))
    token = assume(w, carol)["Credentials"]["SessionToken"]
    w.add_account(OTHER)
    foreign = _encoded(w, w.user("dave", account=OTHER))
    for text in ("garbage", token, foreign):
        assert error_of(w.sts, carol, "DecodeAuthorizationMessage", EncodedMessage=text) == (
            "InvalidAuthorizationMessageException",
            "The encoded authorization message is invalid.",
        )
    # Nor is a message a session token.
    message = _encoded(w, carol)
    with pytest.raises(ServiceError) as info:
        caller_from_token(w.services, "ASIAIOSFODNN7EXAMPLE", message, NOW)
    assert info.value.code == "InvalidClientTokenId"


def test_assuming_a_role_records_its_last_use_without_a_generation(
    sql_services: Services,
) -> None:
    """RoleLastUsed is usage data: written with `touch`, so assuming a role leaves the
    cached policies of its sessions (the role's generation and the account's) valid."""
    w = World(sql_services)
    alice = w.user("alice", allow("sts:AssumeRole"))
    w.role("r", trust(f"arn:aws:iam::{ACCOUNT}:root"))
    scopes = (ACCOUNT, principal_scope(ACCOUNT, "role", "r"))
    with sql_services.store.unit_of_work(read_only=True) as uow:
        before = [uow.generation(s) for s in scopes]
    w.sts(alice, "AssumeRole", RoleArn=f"arn:aws:iam::{ACCOUNT}:role/r", RoleSessionName="s1")
    with sql_services.store.unit_of_work(read_only=True) as uow:
        role = uow.repo(Role).get(ACCOUNT, "r")
        assert role is not None and role.last_used == NOW
        assert [uow.generation(s) for s in scopes] == before
