"""Console sign-in in-process: root and IAM users, MFA, forced and expired passwords,
and the ConsoleLogin events every attempt leaves in the account's trail.

Event shape: AWS CloudTrail User Guide, "AWS Management Console sign-in events"
(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html):
eventType AwsConsoleSignIn, eventName ConsoleLogin, eventSource signin.amazonaws.com,
responseElements.ConsoleLogin Success/Failure, additionalEventData.MFAUsed Yes/No,
errorMessage "Failed authentication".
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.ops.conftest import migrated_store

from chamberlain.console.signin import (
    Outcome,
    check_mfa_code,
    check_root,
    check_user,
    load_principal,
)
from chamberlain.crypto import totp
from chamberlain.crypto.passwords import TEST_PARAMS, Argon2Params, hash_password, needs_rehash
from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.crypto.tokens import TokenSealer
from chamberlain.domain import Account, LoginProfile
from chamberlain.ops.core.accounts import root_caller
from chamberlain.ops.core.context import RequestMeta, Services
from chamberlain.ops.core.dispatch import execute

from .conftest import ACCOUNT, Console

PASSWORD = "Corr3ct-Horse-Battery!"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iam(services: Services, name: str, **params: Any) -> Any:
    meta = RequestMeta(request_id="test", now=_now())
    return execute(services, root_caller(ACCOUNT), meta, "iam", name, params)


def sign_ins(services: Services) -> list[dict[str, Any]]:
    if services.group_commit is not None:  # failures' events are appended by it
        services.group_commit.flush()
    with services.store.unit_of_work(read_only=True) as uow:
        events = uow.events.lookup(ACCOUNT, limit=1000)
    records = [json.loads(e.record) for e in sorted(events, key=lambda e: e.seq)]
    return [r for r in records if r["eventName"] == "ConsoleLogin"]


def make_user(services: Services, name: str, *, reset: bool = False) -> None:
    iam(services, "CreateUser", UserName=name)
    iam(
        services,
        "CreateLoginProfile",
        UserName=name,
        Password=PASSWORD,
        PasswordResetRequired=reset,
    )


def enable_mfa(services: Services, user: str | None) -> str:
    device = iam(services, "CreateVirtualMFADevice", VirtualMFADeviceName=f"{user or 'root'}-d")
    seed = device["VirtualMFADevice"]["Base32StringSeed"].decode()
    serial = device["VirtualMFADevice"]["SerialNumber"]
    step = totp.step_at(_now())
    params: dict[str, Any] = {
        "SerialNumber": serial,
        "AuthenticationCode1": totp.code_at(seed, step - 2),
        "AuthenticationCode2": totp.code_at(seed, step - 1),
    }
    if user:
        params["UserName"] = user
    iam(services, "EnableMFADevice", **params)
    return seed


def test_root_sign_in_is_a_console_login_success_event(console: Console) -> None:
    answer = console.sign_in_root()
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/"
    page = console.client.get("/console/")
    assert "root @ 123456789012" in page.text
    [event] = sign_ins(console.services)
    assert event["eventType"] == "AwsConsoleSignIn"
    assert event["eventSource"] == "signin.amazonaws.com"
    assert event["responseElements"] == {"ConsoleLogin": "Success"}
    assert event["additionalEventData"]["MFAUsed"] == "No"
    assert event["userIdentity"]["type"] == "Root"
    assert "errorMessage" not in event


def test_wrong_root_password_is_refused_and_recorded_as_failure(console: Console) -> None:
    answer = console.sign_in_root("not-the-password")
    assert answer.status_code == 401
    assert "Your authentication information is incorrect" in answer.text
    assert "console" not in str(console.client.cookies.get("chamberlain-console") or "")
    [event] = sign_ins(console.services)
    assert event["responseElements"] == {"ConsoleLogin": "Failure"}
    assert event["errorMessage"] == "Failed authentication"
    assert "not-the-password" not in json.dumps(event)


def test_unknown_root_email_gets_the_same_answer(console: Console) -> None:
    token = console.csrf("/console/signin")
    answer = console.client.post(
        "/console/signin",
        data={"csrf": token, "kind": "root", "email": "who@nowhere.test", "password": "x"},
    )
    assert answer.status_code == 401
    assert "Your authentication information is incorrect" in answer.text


def test_iam_user_signs_in_by_account_id_and_by_alias(console: Console) -> None:
    make_user(console.services, "alice")
    assert console.sign_in_user("alice", PASSWORD).status_code == 303
    assert "alice @ 123456789012" in console.client.get("/console/").text
    console.client.cookies.clear()
    iam(console.services, "CreateAccountAlias", AccountAlias="example-corp")
    assert console.sign_in_user("ALICE", PASSWORD, account="example-corp").status_code == 303
    events = sign_ins(console.services)
    assert [e["userIdentity"]["userName"] for e in events] == ["alice", "alice"]
    assert all(e["userIdentity"]["type"] == "IAMUser" for e in events)


def test_unknown_user_name_is_recorded_hidden(console: Console) -> None:
    answer = console.sign_in_user("mallory", "guess")
    assert answer.status_code == 401
    [event] = sign_ins(console.services)
    assert event["userIdentity"]["userName"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert event["responseElements"] == {"ConsoleLogin": "Failure"}


def test_user_without_console_password_cannot_sign_in(console: Console) -> None:
    iam(console.services, "CreateUser", UserName="bob")
    assert console.sign_in_user("bob", "anything").status_code == 401


def test_forced_password_change_before_anything_else(console: Console) -> None:
    make_user(console.services, "carol", reset=True)
    iam(console.services, "UpdateAccountPasswordPolicy", AllowUsersToChangePassword=True)
    answer = console.sign_in_user("carol", PASSWORD)
    assert answer.headers["location"] == "/console/signin/password"
    # every page sends the user back to the change
    blocked = console.client.get("/console/users", follow_redirects=False)
    assert blocked.headers["location"] == "/console/signin/password"
    token = console.csrf("/console/signin/password")
    weak = console.client.post(
        "/console/signin/password",
        data={
            "csrf": token,
            "old_password": PASSWORD,
            "new_password": "short",
            "confirm_password": "short",
        },
    )
    assert weak.status_code == 400
    assert "Password does not conform to the account password policy." in weak.text
    done = console.client.post(
        "/console/signin/password",
        data={
            "csrf": token,
            "old_password": PASSWORD,
            "new_password": "An0ther-Good-Passphrase",
            "confirm_password": "An0ther-Good-Passphrase",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/console/"
    assert console.client.get("/console/", follow_redirects=False).status_code == 200
    profile = iam(console.services, "GetLoginProfile", UserName="carol")["LoginProfile"]
    assert profile["PasswordResetRequired"] is False


def _age_password(services: Services, name: str, days: int) -> None:
    with services.store.unit_of_work() as uow:
        repo = uow.repo(LoginProfile)
        profile = repo.get(ACCOUNT, name)
        assert profile is not None
        repo.put(replace(profile, password_set=profile.password_set - dt.timedelta(days=days)))


def test_expired_password_must_be_changed(console: Console) -> None:
    make_user(console.services, "dave")
    iam(
        console.services,
        "UpdateAccountPasswordPolicy",
        MaxPasswordAge=30,
        AllowUsersToChangePassword=True,
    )
    _age_password(console.services, "dave", 31)
    answer = console.sign_in_user("dave", PASSWORD)
    assert answer.headers["location"] == "/console/signin/password"


def test_hard_expiry_refuses_sign_in(console: Console) -> None:
    make_user(console.services, "erin")
    iam(console.services, "UpdateAccountPasswordPolicy", MaxPasswordAge=30, HardExpiry=True)
    _age_password(console.services, "erin", 31)
    answer = console.sign_in_user("erin", PASSWORD)
    assert answer.status_code == 401
    assert "expired" in answer.text
    assert console.client.get("/console/", follow_redirects=False).status_code == 303


def test_mfa_code_required_then_recorded_as_used(console: Console) -> None:
    make_user(console.services, "frank")
    seed = enable_mfa(console.services, "frank")
    answer = console.sign_in_user("frank", PASSWORD)
    assert answer.headers["location"] == "/console/signin/mfa"
    # the password alone opens nothing
    assert console.client.get("/console/", follow_redirects=False).headers["location"] == (
        "/console/signin/mfa"
    )
    token = console.csrf("/console/signin/mfa")
    wrong = console.client.post("/console/signin/mfa", data={"csrf": token, "code": "000000"})
    assert wrong.status_code == 401
    code = totp.code_at(seed, totp.step_at(_now()))
    right = console.client.post(
        "/console/signin/mfa", data={"csrf": token, "code": code}, follow_redirects=False
    )
    assert right.headers["location"] == "/console/"
    assert console.client.get("/console/", follow_redirects=False).status_code == 200
    # a refusal's event goes through the group-commit writer, so it may land after the
    # success in the trail's order: find each by its outcome
    events = sign_ins(console.services)
    outcomes = sorted(e["responseElements"]["ConsoleLogin"] for e in events)
    assert outcomes == ["Failure", "Success"]
    [success] = [e for e in events if e["responseElements"]["ConsoleLogin"] == "Success"]
    assert success["additionalEventData"]["MFAUsed"] == "Yes"
    # the same code does not work twice
    console.client.cookies.clear()
    console.sign_in_user("frank", PASSWORD)
    token = console.csrf("/console/signin/mfa")
    again = console.client.post("/console/signin/mfa", data={"csrf": token, "code": code})
    assert again.status_code == 401


def test_root_with_mfa_needs_the_code(console: Console) -> None:
    seed = enable_mfa(console.services, None)
    assert console.sign_in_root().headers["location"] == "/console/signin/mfa"
    token = console.csrf("/console/signin/mfa")
    code = totp.code_at(seed, totp.step_at(_now()))
    right = console.client.post(
        "/console/signin/mfa", data={"csrf": token, "code": code}, follow_redirects=False
    )
    assert right.headers["location"] == "/console/"


def test_a_user_without_permission_sees_awss_access_denied(console: Console) -> None:
    make_user(console.services, "grace")
    console.sign_in_user("grace", PASSWORD)
    page = console.client.get("/console/users")
    assert page.status_code == 403
    assert (
        "User: arn:aws:iam::123456789012:user/grace is not authorized to perform: "
        "iam:ListUsers on resource: arn:aws:iam::123456789012:user/" in page.text
    )
    dashboard = console.client.get("/console/")
    assert "not authorized to perform: iam:GetAccountSummary" in dashboard.text
    assert 'id="findings"' not in dashboard.text


def test_repeated_failures_lock_the_principal_out_then_a_right_password_clears_it(
    console: Console,
) -> None:
    """Five wrong passwords, then even the right one is refused (429) without being
    checked; the lock lives in the store's counters, so every node and a restart see it."""
    make_user(console.services, "carol")
    for _ in range(5):
        assert console.sign_in_user("carol", "wrong-Passw0rd!").status_code == 401
    locked = console.sign_in_user("carol", PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.text
    # Another principal from the same address is not locked by carol's count.
    make_user(console.services, "dave")
    assert console.sign_in_user("dave", PASSWORD).status_code == 303
    # The lock is in the database: a second app on the same store refuses too.
    with console.services.store.unit_of_work(read_only=True) as uow:
        assert uow.counters.get("password-user", f"{ACCOUNT}/console:carol") is not None


def test_a_successful_sign_in_starts_the_count_again(console: Console) -> None:
    make_user(console.services, "erin")
    for _ in range(4):
        assert console.sign_in_user("erin", "wrong-Passw0rd!").status_code == 401
    assert console.sign_in_user("erin", PASSWORD).status_code == 303
    console.client.cookies.clear()
    for _ in range(4):
        assert console.sign_in_user("erin", "wrong-Passw0rd!").status_code == 401
    assert console.sign_in_user("erin", PASSWORD).status_code == 303


# ------------------------------------------------- nothing slow under the account's lock

#: argon2 parameters slow enough (~0.5 s a hash) that a lock held while hashing shows.
SLOW = Argon2Params(time_cost=8, memory_cost_kib=64 * 1024, parallelism=1)
PASSWORD = "Vq7#Lm2pXz9!"


@pytest.fixture(params=["sqlite", "postgresql"])
def slow_services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Services]:
    """A migrated SQL store whose account's root user, and IAM user alice, have passwords
    hashed with cheap parameters, served with SLOW ones: a right password is re-hashed."""
    cheap = hash_password(PASSWORD, TEST_PARAMS)
    now = dt.datetime.now(dt.UTC)
    with migrated_store(request.param, tmp_path) as store:
        with store.unit_of_work() as uow:
            uow.repo(Account).add(Account(ACCOUNT, "root@slow.example.com", cheap, now))
        key = generate_key()
        services = Services(
            store=store, secrets=SecretBox(key), tokens=TokenSealer(key), password_params=SLOW
        )
        execute(services, root_caller(ACCOUNT), _meta(), "iam", "CreateUser", {"UserName": "alice"})
        with store.unit_of_work() as uow:
            uow.repo(LoginProfile).add(LoginProfile(ACCOUNT, "alice", cheap, now, now))
        yield services


def _meta() -> RequestMeta:
    return RequestMeta(request_id="r", now=dt.datetime.now(dt.UTC))


def _stored_hashes(services: Services) -> tuple[str, str]:
    with services.store.unit_of_work(read_only=True) as uow:
        account = uow.repo(Account).get(ACCOUNT, "account")
        profile = uow.repo(LoginProfile).get(ACCOUNT, "alice")
    assert account is not None and profile is not None
    return account.root_password_hash, profile.password_hash


@pytest.mark.parametrize("who", ["root", "user"])
def test_a_sign_in_rehash_does_not_hold_the_account_lock(slow_services: Services, who: str) -> None:
    """A right password stored with old parameters is re-hashed (~0.5 s of argon2) with no
    lock held: writes to the same account (on SQLite: to any account, the lock being the
    database's) keep flowing meanwhile, on SQLite and PostgreSQL. Before, the root
    user's re-hash ran inside the write transaction and they waited for it."""
    services = slow_services
    started = time.monotonic()
    hash_password(PASSWORD, SLOW)
    hash_time = time.monotonic() - started
    results: list[Outcome] = []

    def sign_in() -> None:
        now = dt.datetime.now(dt.UTC)
        if who == "root":
            results.append(check_root(services, "root@slow.example.com", PASSWORD, now))
        else:
            results.append(check_user(services, ACCOUNT, "alice", PASSWORD, now))

    signing = threading.Thread(target=sign_in)
    writes: list[float] = []
    signing.start()
    n = 0
    while signing.is_alive():
        begun = time.monotonic()
        execute(services, root_caller(ACCOUNT), _meta(), "iam", "TagUser",
                {"UserName": "alice", "Tags": [{"Key": "n", "Value": str(n)}]})  # fmt: skip
        writes.append(time.monotonic() - begun)
        n += 1
    signing.join()
    assert [r.ok for r in results] == [True]
    root_hash, user_hash = _stored_hashes(services)
    assert not needs_rehash(root_hash if who == "root" else user_hash, SLOW)  # re-hashed
    assert len(writes) >= 3, "writes ran alongside the sign-in"
    longest = max(writes)
    assert longest < hash_time / 2, (
        f"a write waited {longest * 1000:.0f} ms (a hash takes {hash_time * 1000:.0f} ms)"
    )


def test_a_wrong_mfa_code_takes_no_account_lock(slow_services: Services) -> None:
    """The console's MFA step checks a code with no transaction open: a wrong code is
    answered while another transaction holds the account (PostgreSQL; SQLite's lock is
    the database's)."""
    services = slow_services
    if services.store.describe()["dialect"] != "postgresql":
        pytest.skip("SQLite has one writer lock for the whole database")
    caller = root_caller(ACCOUNT)
    made = execute(services, caller, _meta(), "iam", "CreateVirtualMFADevice",
                   {"VirtualMFADeviceName": "alice"})["VirtualMFADevice"]  # fmt: skip
    seed = made["Base32StringSeed"].decode("ascii")
    step = totp.step_at(dt.datetime.now(dt.UTC))
    execute(services, caller, _meta(), "iam", "EnableMFADevice",
            {"UserName": "alice", "SerialNumber": made["SerialNumber"],
             "AuthenticationCode1": totp.code_at(seed, step - 3),
             "AuthenticationCode2": totp.code_at(seed, step - 2)})  # fmt: skip
    principal = load_principal(services, ACCOUNT, "alice")
    assert principal is not None
    near = {totp.code_at(seed, step + k) for k in range(-3, 4)}
    wrong = next(c for c in ("000000", "111111", "222222") if c not in near)
    answers: list[bool] = []
    with services.store.unit_of_work() as holder:
        holder.lock_account(ACCOUNT)
        worker = threading.Thread(
            target=lambda: answers.append(check_mfa_code(services, _meta(), principal, wrong))
        )
        worker.start()
        worker.join(timeout=20)
        assert answers == [False]  # while the lock was held
    right = totp.code_at(seed, totp.step_at(dt.datetime.now(dt.UTC)))
    assert check_mfa_code(services, _meta(), principal, right)
