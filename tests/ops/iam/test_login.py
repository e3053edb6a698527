"""Login profiles, ChangePassword, the account password policy and console sign-in."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from chamberlain.crypto.ids import Prefix, new_unique_id
from chamberlain.crypto.passwords import Argon2Params, hash_password, verify_password
from chamberlain.domain import Account, InlinePolicy, LoginProfile, User
from chamberlain.ops.core.context import Caller, RequestMeta, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.iam.login import change_root_password, check_password, password_problem
from chamberlain.protocol.models import find_operation, validate_input
from chamberlain.protocol.xml_out import serialize_response
from chamberlain.store.scopes import principal_scope

from ..conftest import ACCOUNT, NOW, error, meta, root_caller, user_caller

Call = Callable[..., Any]
GOOD = "Vq7#Lm2pXz9!"
OTHER = "Hs4$Kd8wPn3@"
THIRD = "Jc6%Tb1yRf5&"
VIOLATION = ("PasswordPolicyViolation", "Password does not conform to the account password policy.")


@pytest.fixture
def aws(iam_as: Call) -> Call:
    """Run an operation with model-valid input and check the output serializes."""

    def call(name: str, caller: Caller | None = None, **params: Any) -> Any:
        op = find_operation("iam", name)
        assert op is not None
        assert validate_input(op.input_shape, params) == []
        out = iam_as(caller or root_caller(), name, **params)
        serialize_response("iam", name, out, "req")
        return out

    return call


@pytest.fixture
def alice(services: Services) -> User:
    user = User(
        account_id=ACCOUNT,
        user_id=new_unique_id(Prefix.USER),
        name="alice",
        path="/",
        arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        created=NOW,
    )
    with services.store.unit_of_work() as uow:
        uow.repo(User).add(user)
    return user


def policy(services: Services, user: str, effect: str, actions: list[str]) -> None:
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": effect, "Action": actions, "Resource": "*"}],
        }
    )
    with services.store.unit_of_work() as uow:
        uow.repo(InlinePolicy).add(InlinePolicy(ACCOUNT, "user", user, effect, document))




def stored_profile(services: Services, name: str = "alice") -> LoginProfile | None:
    with services.store.unit_of_work(read_only=True) as uow:
        return uow.repo(LoginProfile).get(ACCOUNT, name)


# ------------------------------------------------------------------ login profiles


def test_create_get_delete_login_profile(aws: Call, services: Services, alice: User):
    created = aws("CreateLoginProfile", UserName="alice", Password=GOOD, PasswordResetRequired=True)
    assert created == {
        "LoginProfile": {"UserName": "alice", "CreateDate": NOW, "PasswordResetRequired": True}
    }
    profile = stored_profile(services)
    assert profile is not None
    assert GOOD not in profile.password_hash
    assert profile.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")  # the test params
    assert verify_password(profile.password_hash, GOOD)
    assert aws("GetLoginProfile", UserName="ALICE") == created

    with pytest.raises(ServiceError) as excinfo:
        aws("CreateLoginProfile", UserName="alice", Password=GOOD)
    assert error(excinfo) == ("EntityAlreadyExists", "Login Profile for user alice already exists.")

    aws("DeleteLoginProfile", UserName="alice")
    assert stored_profile(services) is None
    for name in ("GetLoginProfile", "DeleteLoginProfile"):
        with pytest.raises(ServiceError) as excinfo:
            aws(name, UserName="alice")
        assert error(excinfo) == ("NoSuchEntity", "Login Profile for User alice cannot be found.")


def test_create_for_unknown_user(aws: Call):
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateLoginProfile", UserName="nobody", Password=GOOD)
    assert error(excinfo) == ("NoSuchEntity", "The user with name nobody cannot be found.")


UPPER = "Password should have at least one uppercase letter"
LOWER = "Password should have at least one lowercase letter"
NUMBER = "Password should have at least one number"
SYMBOL = "Password should have at least one symbol"


def _classes_short(count: int, *rules: str) -> str:
    return f"Password should meet {count} more of the following requirements: " + ", ".join(rules)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Sh0rt!x", VIOLATION[1]),  # under 8 characters
        ("alllowercaseandlong", _classes_short(2, UPPER, NUMBER, SYMBOL)),  # one class
        ("lowercase123456", _classes_short(1, UPPER, SYMBOL)),  # two classes
        ("UPPERCASE123456", _classes_short(1, LOWER, SYMBOL)),
        ("Password123!", VIOLATION[1]),  # common, give or take affixes
        ("Alice2024!", VIOLATION[1]),  # the user's own name
        ("root@example.com", _classes_short(1, UPPER, NUMBER)),  # the account's email
        ("Root@Example.com", VIOLATION[1]),  # the account's email, 3 classes
    ],
)
def test_default_policy_without_account_policy(aws: Call, alice: User, password: str, message: str):
    """AWS's default policy: 8 characters from 3 of the 4 classes; the message names
    the classes missing, as AWS's does."""
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateLoginProfile", UserName="alice", Password=password)
    assert error(excinfo) == ("PasswordPolicyViolation", message)
    assert excinfo.value.http_status == 400
    assert password not in str(excinfo.value)


def test_account_policy_rules(aws: Call, alice: User):
    aws(
        "UpdateAccountPasswordPolicy",
        MinimumPasswordLength=14,
        RequireSymbols=True,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
    )
    for password in ("Vq7#Lm2pXz9!", "vq7#lm2pxz9!kwtr", "VQ7#LM2PXZ9!KWTR", "Vq7bLm2pXz9aKwtr"):
        with pytest.raises(ServiceError) as excinfo:
            aws("CreateLoginProfile", UserName="alice", Password=password)
        assert error(excinfo) == VIOLATION
    aws("CreateLoginProfile", UserName="alice", Password="Vq7#Lm2pXz9!Kwtr")


def test_policy_without_requirements_still_refuses_common_passwords(aws: Call, alice: User):
    aws("UpdateAccountPasswordPolicy")
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateLoginProfile", UserName="alice", Password="qwerty123")
    assert error(excinfo) == VIOLATION
    aws("CreateLoginProfile", UserName="alice", Password="zebra-kettle")  # 6+ chars, no classes


def test_update_login_profile(aws: Call, services: Services, alice: User):
    with pytest.raises(ServiceError) as excinfo:
        aws("UpdateLoginProfile", UserName="alice", Password=GOOD)
    assert error(excinfo) == ("NoSuchEntity", "Login Profile for User alice cannot be found.")
    aws("CreateLoginProfile", UserName="alice", Password=GOOD)
    aws("UpdateLoginProfile", UserName="alice", Password=OTHER, PasswordResetRequired=True)
    profile = stored_profile(services)
    assert profile is not None and verify_password(profile.password_hash, OTHER)
    assert profile.password_reset_required is True
    aws("UpdateLoginProfile", UserName="alice", PasswordResetRequired=False)
    profile = stored_profile(services)
    assert profile is not None and not profile.password_reset_required
    assert verify_password(profile.password_hash, OTHER)
    with pytest.raises(ServiceError) as excinfo:
        aws("UpdateLoginProfile", UserName="alice", Password="short")
    assert error(excinfo) == VIOLATION


def test_unsupported_session_duration_is_refused(aws: Call, alice: User):
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateLoginProfile", UserName="alice", Password=GOOD, MaxSigninSessionDuration=7200)
    assert excinfo.value.code == "InvalidInput"


# --------------------------------------------------------------------- ChangePassword


def test_change_password_needs_an_iam_user(aws: Call):
    with pytest.raises(ServiceError) as excinfo:
        aws("ChangePassword", OldPassword=GOOD, NewPassword=OTHER)
    assert excinfo.value.code == "InvalidUserType"
    assert excinfo.value.http_status == 400


def _root_password(services: Services, password: str) -> None:
    with services.store.unit_of_work() as uow:
        account = uow.repo(Account).get(ACCOUNT, "account")
        assert account is not None
        hashed = hash_password(password, services.password_params)
        uow.repo(Account).put(replace(account, root_password_hash=hashed))


def _stored_root_hash(services: Services) -> str:
    with services.store.unit_of_work(read_only=True) as uow:
        account = uow.repo(Account).get(ACCOUNT, "account")
        assert account is not None
        return account.root_password_hash


def _change_root(services: Services, old: str, new: str, caller: Caller | None = None) -> None:
    change_root_password(services, caller or root_caller(), meta(), old, new)


def _trail(services: Services) -> list[dict[str, Any]]:
    with services.store.unit_of_work(read_only=True) as uow:
        return [json.loads(e.record) for e in uow.events.iterate(ACCOUNT)]


def test_root_changes_its_password_only_through_the_console(
    aws: Call, iam: Call, services: Services, alice: User
):
    """The API's ChangePassword by the root user stays InvalidUserType; the console's
    change_root_password changes the root password (AWS's rules for root passwords, not
    the account's policy), after the old one is verified."""
    _root_password(services, GOOD)
    with pytest.raises(ServiceError) as excinfo:
        aws("ChangePassword", OldPassword=GOOD, NewPassword=OTHER)
    assert excinfo.value.code == "InvalidUserType"
    with pytest.raises(ServiceError) as excinfo:
        _change_root(services, OTHER, THIRD)
    assert (excinfo.value.code, excinfo.value.message) == (
        "InvalidUserType",
        "The old password is incorrect.",
    )
    iam("UpdateAccountPasswordPolicy", MinimumPasswordLength=20)  # not for root
    with pytest.raises(ServiceError) as excinfo:
        _change_root(services, GOOD, "alllowercase")
    assert excinfo.value.code == "PasswordPolicyViolation"
    with pytest.raises(ServiceError) as excinfo:
        _change_root(services, GOOD, "Aa1!" * 33)  # 132 characters: more than root's 128
    assert excinfo.value.code == "PasswordPolicyViolation"
    assert verify_password(_stored_root_hash(services), GOOD)
    _change_root(services, GOOD, OTHER)
    assert verify_password(_stored_root_hash(services), OTHER)
    with pytest.raises(ServiceError) as excinfo:  # only for the root user
        _change_root(services, OTHER, THIRD, user_caller("alice", alice.user_id))
    assert excinfo.value.code == "InvalidUserType"
    assert verify_password(_stored_root_hash(services), OTHER)


def test_a_root_password_change_is_a_sign_in_event(iam: Call, services: Services):
    """As AWS records it: the sign-in service's PasswordUpdated (AwsConsoleSignIn), no
    request parameters, responseElements.PasswordUpdated Success or Failure; never a
    password, never IAM's ChangePassword; found by LookupEvents' EventName."""
    _root_password(services, GOOD)
    with pytest.raises(ServiceError):
        _change_root(services, "Wrong-Guess-1!", OTHER)
    _change_root(services, GOOD, OTHER)
    trail = _trail(services)
    updates = [e for e in trail if e["eventName"] == "PasswordUpdated"]
    # the refusal's event may go through the group-commit writer: compare as a set
    assert sorted(e["responseElements"]["PasswordUpdated"] for e in updates) == [
        "Failure",
        "Success",
    ]
    for event in updates:
        assert event["eventSource"] == "signin.amazonaws.com"
        assert event["eventType"] == "AwsConsoleSignIn"
        assert event["requestParameters"] is None
        assert event["userIdentity"]["type"] == "Root"
        assert event["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:root"
        assert event["recipientAccountId"] == ACCOUNT
    text = json.dumps(trail)
    assert GOOD not in text and OTHER not in text and "Wrong-Guess-1!" not in text
    assert "ChangePassword" not in text and "onsoleRootUser" not in text
    found = execute(
        services,
        root_caller(),
        meta(),
        "cloudtrail",
        "LookupEvents",
        {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "PasswordUpdated"}]},
    )
    found_outcomes = [json.loads(e["CloudTrailEvent"])["responseElements"] for e in found["Events"]]
    assert sorted(o["PasswordUpdated"] for o in found_outcomes) == ["Failure", "Success"]
    assert {e["EventSource"] for e in found["Events"]} == {"signin.amazonaws.com"}
    assert {e["Username"] for e in found["Events"]} == {"root"}


def test_root_password_guesses_are_throttled(iam: Call, services: Services):
    _root_password(services, GOOD)
    codes = []
    for _ in range(7):
        try:
            _change_root(services, "Wrong-Guess-1!", OTHER)
        except ServiceError as error:
            codes.append(error.code)
    assert codes[:5] == ["InvalidUserType"] * 5
    assert codes[-1] == "LimitExceeded"


def test_change_password_is_denied_without_policy_or_setting(aws: Call, alice: User):
    aws("CreateLoginProfile", UserName="alice", Password=GOOD)
    with pytest.raises(ServiceError) as excinfo:
        aws("ChangePassword", caller=user_caller("alice"), OldPassword=GOOD, NewPassword=OTHER)
    assert excinfo.value.code == "AccessDenied"
    assert "iam:ChangePassword" in excinfo.value.message


def test_change_password_with_a_policy(aws: Call, services: Services, alice: User):
    aws("CreateLoginProfile", UserName="alice", Password=GOOD, PasswordResetRequired=True)
    policy(services, "alice", "Allow", ["iam:ChangePassword"])
    aws("ChangePassword", caller=user_caller("alice"), OldPassword=GOOD, NewPassword=OTHER)
    profile = stored_profile(services)
    assert profile is not None and verify_password(profile.password_hash, OTHER)
    assert profile.password_reset_required is False


def test_allow_users_to_change_password(aws: Call, services: Services, alice: User):
    aws("UpdateAccountPasswordPolicy", AllowUsersToChangePassword=True)
    aws("CreateLoginProfile", UserName="alice", Password=GOOD)
    me = user_caller("alice")
    assert aws("GetAccountPasswordPolicy", caller=me)["PasswordPolicy"][
        "AllowUsersToChangePassword"
    ]
    with pytest.raises(ServiceError) as excinfo:
        aws("ChangePassword", caller=me, OldPassword=OTHER, NewPassword=THIRD)
    assert error(excinfo) == ("InvalidUserType", "The old password is incorrect.")
    with pytest.raises(ServiceError) as excinfo:
        aws("ChangePassword", caller=me, OldPassword=GOOD, NewPassword="weak")
    assert error(excinfo) == VIOLATION
    aws("ChangePassword", caller=me, OldPassword=GOOD, NewPassword=OTHER)
    policy(services, "alice", "Deny", ["iam:ChangePassword"])
    with pytest.raises(ServiceError) as excinfo:
        aws("ChangePassword", caller=me, OldPassword=OTHER, NewPassword=THIRD)
    assert excinfo.value.code == "AccessDenied"
    assert "explicit deny" in excinfo.value.message


def test_password_reuse_prevention(aws: Call, services: Services, alice: User):
    aws("UpdateAccountPasswordPolicy", AllowUsersToChangePassword=True, PasswordReusePrevention=2)
    aws("CreateLoginProfile", UserName="alice", Password=GOOD)
    me = user_caller("alice")
    with pytest.raises(ServiceError) as excinfo:  # the current password
        aws("ChangePassword", caller=me, OldPassword=GOOD, NewPassword=GOOD)
    assert error(excinfo) == VIOLATION
    aws("ChangePassword", caller=me, OldPassword=GOOD, NewPassword=OTHER)
    with pytest.raises(ServiceError) as excinfo:  # the previous one
        aws("ChangePassword", caller=me, OldPassword=OTHER, NewPassword=GOOD)
    assert error(excinfo) == VIOLATION
    aws("ChangePassword", caller=me, OldPassword=OTHER, NewPassword=THIRD)
    aws("ChangePassword", caller=me, OldPassword=THIRD, NewPassword=GOOD)  # 2 back: allowed
    profile = stored_profile(services)
    assert profile is not None and len(profile.history) == 1


# ------------------------------------------------------------ account password policy


def test_password_policy_lifecycle(aws: Call):
    with pytest.raises(ServiceError) as excinfo:
        aws("GetAccountPasswordPolicy")
    assert error(excinfo) == (
        "NoSuchEntity",
        f"The Password Policy with domain name {ACCOUNT} cannot be found.",
    )
    aws("UpdateAccountPasswordPolicy", RequireNumbers=True)
    assert aws("GetAccountPasswordPolicy") == {
        "PasswordPolicy": {
            "MinimumPasswordLength": 6,
            "RequireSymbols": False,
            "RequireNumbers": True,
            "RequireUppercaseCharacters": False,
            "RequireLowercaseCharacters": False,
            "AllowUsersToChangePassword": False,
            "ExpirePasswords": False,
            "HardExpiry": False,
        }
    }
    aws("UpdateAccountPasswordPolicy", MaxPasswordAge=90, PasswordReusePrevention=5)
    got = aws("GetAccountPasswordPolicy")["PasswordPolicy"]
    assert got["RequireNumbers"] is False  # not a partial update: omitted means default
    assert got["ExpirePasswords"] is True
    assert (got["MaxPasswordAge"], got["PasswordReusePrevention"]) == (90, 5)
    assert got["HardExpiry"] is False
    aws("DeleteAccountPasswordPolicy")
    with pytest.raises(ServiceError) as excinfo:
        aws("DeleteAccountPasswordPolicy")
    assert error(excinfo) == (
        "NoSuchEntity",
        "The account policy with name PasswordPolicy cannot be found.",
    )


def test_password_policy_always_has_hard_expiry(aws: Call):
    """IAM API Reference, PasswordPolicy: HardExpiry is a member of every policy
    GetAccountPasswordPolicy returns (false unless set), not only of expiring ones
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_PasswordPolicy.html)."""
    aws("UpdateAccountPasswordPolicy", MinimumPasswordLength=12)
    got = aws("GetAccountPasswordPolicy")["PasswordPolicy"]
    assert got["HardExpiry"] is False and got["ExpirePasswords"] is False
    assert "MaxPasswordAge" not in got


def test_non_root_without_policy_is_denied(aws: Call, alice: User):
    me = user_caller("alice")
    for name, params in (
        ("UpdateAccountPasswordPolicy", {}),
        ("GetAccountPasswordPolicy", {}),
        ("CreateLoginProfile", {"UserName": "alice", "Password": GOOD}),
        ("GetLoginProfile", {"UserName": "alice"}),
    ):
        with pytest.raises(ServiceError) as excinfo:
            aws(name, caller=me, **params)
        assert excinfo.value.code == "AccessDenied"
        assert GOOD not in excinfo.value.message


LOCKED = ("LimitExceeded", "Attempt limit exceeded, please try after some time.")


def _change(services: Services, old: str, new: str, at: dt.datetime, ip: str = "10.0.0.1"):
    request = RequestMeta(request_id="r", now=at, source_ip=ip)
    params = {"OldPassword": old, "NewPassword": new}
    return execute(services, user_caller("alice"), request, "iam", "ChangePassword", params)


def test_password_guesses_back_off_exponentially_and_lock_even_the_right_password(
    aws: Call, services: Services, alice: User
):
    """Five attempts, then 30 s, 1 min, 2 min ... between attempts. While locked even the
    right old password gets LimitExceeded, unchecked (the closest AWS answer: IAM lists
    LimitExceeded for ChangePassword, https://docs.aws.amazon.com/IAM/latest/APIReference/API_ChangePassword.html;
    the message is AWS Cognito's for its own attempt limit on ChangePassword)."""
    aws("UpdateAccountPasswordPolicy", AllowUsersToChangePassword=True)
    aws("CreateLoginProfile", UserName="alice", Password=GOOD)
    for _ in range(5):
        with pytest.raises(ServiceError) as excinfo:
            _change(services, OTHER, THIRD, NOW)
        assert error(excinfo) == ("InvalidUserType", "The old password is incorrect.")
    stored_hash = stored_profile(services).password_hash  # type: ignore[union-attr]
    for at in (NOW, NOW + dt.timedelta(seconds=29)):
        with pytest.raises(ServiceError) as excinfo:
            _change(services, GOOD, OTHER, at)
        assert error(excinfo) == LOCKED
    assert stored_profile(services).password_hash == stored_hash  # type: ignore[union-attr]
    later = NOW + dt.timedelta(seconds=30)
    with pytest.raises(ServiceError) as excinfo:
        _change(services, OTHER, THIRD, later)  # the sixth: one minute now
    assert error(excinfo)[0] == "InvalidUserType"
    with pytest.raises(ServiceError) as excinfo:
        _change(services, GOOD, OTHER, later + dt.timedelta(seconds=59))
    assert error(excinfo) == LOCKED
    _change(services, GOOD, OTHER, later + dt.timedelta(seconds=60))  # a right one clears
    for n in range(4):
        with pytest.raises(ServiceError) as excinfo:
            _change(services, GOOD, THIRD, later + dt.timedelta(seconds=60 + n))
        assert error(excinfo)[0] == "InvalidUserType"


def test_password_guesses_are_bounded_per_source(aws: Call, services: Services, alice: User):
    """One source spraying guesses over many users is stopped after 20 attempts (a right
    password does not count against its source)."""
    aws("UpdateAccountPasswordPolicy", AllowUsersToChangePassword=True)
    for n in range(5):
        aws("CreateUser", UserName=f"u{n}")
        aws("CreateLoginProfile", UserName=f"u{n}", Password=GOOD)
    aws("CreateLoginProfile", UserName="alice", Password=GOOD)
    _change(services, GOOD, OTHER, NOW, ip="10.9.9.9")  # right: not counted
    request = RequestMeta(request_id="r", now=NOW, source_ip="10.9.9.9")
    for n in range(20):  # twenty wrong, none a user's fifth
        params = {"OldPassword": OTHER, "NewPassword": THIRD}
        with pytest.raises(ServiceError):
            execute(services, user_caller(f"u{n % 5}"), request, "iam", "ChangePassword", params)
    with pytest.raises(ServiceError) as excinfo:
        execute(services, user_caller("u1"), request, "iam", "ChangePassword",
                {"OldPassword": OTHER, "NewPassword": THIRD})  # fmt: skip
    assert error(excinfo) == LOCKED
    _change(services, OTHER, GOOD, NOW, ip="10.0.0.2")  # another source: not locked


def test_check_password_is_throttled_too(aws: Call, services: Services, alice: User):
    aws("CreateLoginProfile", UserName="alice", Password=GOOD)
    for _ in range(5):
        assert not _sign_in(services, OTHER)
    locked = _sign_in(services, GOOD)
    assert not locked and locked.throttled and locked.user is None


def test_password_acceptable_uses_account_names():
    account = Account(ACCOUNT, "ops@example.com", "x", NOW, alias="acme-prod")
    assert password_problem(GOOD, None, account=account) is None
    assert password_problem("Acme-Prod", None, account=account) is not None
    assert password_problem("Acme-Prod2024!", None, context=["acme-prod"], account=account)


def test_account_alias_counts_as_a_common_word(aws: Call, alice: User):
    aws("CreateAccountAlias", AccountAlias="acme-prod")
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateLoginProfile", UserName="alice", Password="AcmeProd2024!")
    assert error(excinfo) == VIOLATION


# ------------------------------------------------------------------ console sign-in


def _sign_in(services: Services, password: str, name: str = "alice", when: dt.datetime = NOW):
    return check_password(services, ACCOUNT, name, password, when)


def test_check_password(aws: Call, services: Services, alice: User):
    assert not _sign_in(services, GOOD)  # no login profile
    assert not _sign_in(services, GOOD, name="nobody")
    aws("CreateLoginProfile", UserName="alice", Password=GOOD)
    assert not _sign_in(services, OTHER)
    result = _sign_in(services, GOOD)
    assert result and result.user is not None and result.user.name == "alice"
    assert not result.must_change
    with services.store.unit_of_work(read_only=True) as uow:
        user = uow.repo(User).get(ACCOUNT, "alice")
    assert user is not None and user.password_last_used == NOW


def test_check_password_rehashes_old_parameters(aws: Call, services: Services, alice: User):
    aws("CreateLoginProfile", UserName="alice", Password=GOOD)
    old = hash_password(GOOD, Argon2Params(time_cost=2, memory_cost_kib=8, parallelism=1))
    with services.store.unit_of_work() as uow:
        profile = uow.repo(LoginProfile).get(ACCOUNT, "alice")
        assert profile is not None
        uow.repo(LoginProfile).put(replace(profile, password_hash=old))
    assert _sign_in(services, GOOD)
    profile = stored_profile(services)
    assert profile is not None
    assert profile.password_hash != old
    assert profile.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_expired_passwords(aws: Call, services: Services, alice: User):
    aws("UpdateAccountPasswordPolicy", MaxPasswordAge=30)
    aws("CreateLoginProfile", UserName="alice", Password=GOOD)
    later = NOW + dt.timedelta(days=31)
    result = _sign_in(services, GOOD, when=NOW + dt.timedelta(days=29))
    assert result and not result.must_change
    result = _sign_in(services, GOOD, when=later)
    assert result and result.must_change and result.expired
    aws("UpdateAccountPasswordPolicy", MaxPasswordAge=30, HardExpiry=True)
    result = _sign_in(services, GOOD, when=later)
    assert not result and result.locked
    assert not _sign_in(services, OTHER, when=later).locked  # only told with the password


def test_a_console_sign_in_records_its_use_without_a_generation(sql_services: Services):
    """PasswordLastUsed is usage data: written with `touch`, it bumps neither the user's
    generation nor the account's, so no node reloads alice's keys or policies."""
    as_root = root_caller()
    execute(sql_services, as_root, RequestMeta("r", NOW), "iam", "CreateUser",
            {"UserName": "alice"})  # fmt: skip
    execute(sql_services, as_root, RequestMeta("r", NOW), "iam", "CreateLoginProfile",
            {"UserName": "alice", "Password": GOOD})  # fmt: skip
    scopes = (ACCOUNT, principal_scope(ACCOUNT, "user", "alice"))
    with sql_services.store.unit_of_work(read_only=True) as uow:
        before = [uow.generation(s) for s in scopes]
    later = NOW + dt.timedelta(minutes=1)
    assert check_password(sql_services, ACCOUNT, "alice", GOOD, later, "10.0.0.1")
    with sql_services.store.unit_of_work(read_only=True) as uow:
        user = uow.repo(User).get(ACCOUNT, "alice")
        assert user is not None and user.password_last_used == later
        assert [uow.generation(s) for s in scopes] == before
