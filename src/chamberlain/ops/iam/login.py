"""Console passwords: login profiles, ChangePassword, the account password policy, and
`check_password` for the console's sign-in.

Passwords are argon2id hashes (crypto.passwords) made with the operator's parameters;
a successful sign-in re-hashes a password stored with older parameters. A new password
must satisfy the account's password policy (or, without one, AWS's default policy: at
least 8 characters from at least three of upper case, lower case, digits and symbols,
not the account's name or email) and must not be a common password.

Reuse prevention keeps only as many previous hashes as the policy needs; checking them
costs one argon2 verification each, so a policy of 24 makes ChangePassword slow by
design (the same work an attacker must do per guess).

None of that argon2 work runs under a lock: ChangePassword, CreateLoginProfile and
UpdateLoginProfile hash and verify in their preparers (registry.operation's `prepare`,
before the write transaction), and `check_password` verifies before it writes. The write
then re-checks that the stored hash is still the one verified. Password guesses are
bounded per user and per source (throttle.PASSWORD_USER, PASSWORD_SOURCE) in the
database, so every node shares the bound and a restart keeps it: a locked caller gets
LimitExceeded, without the password being checked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from chamberlain.crypto.passwords import (
    common_password,
    hash_password,
    needs_rehash,
    verify_dummy,
    verify_password,
)
from chamberlain.domain import Account, LoginProfile, PasswordPolicy, User
from chamberlain.ops.audit import records as audit
from chamberlain.ops.core import auth_failures, authz, throttle
from chamberlain.ops.core.context import Caller, OpContext, RequestMeta, Services
from chamberlain.ops.core.entities import require_user
from chamberlain.ops.core.errors import (
    AccessDenied,
    ConcurrentModification,
    EntityAlreadyExists,
    InvalidUserType,
    LimitExceeded,
    NoSuchEntity,
    PasswordPolicyViolation,
    ServiceError,
    ValidationError,
)
from chamberlain.ops.core.registry import (
    Later,
    Output,
    Params,
    StalePreparation,
    Target,
    operation,
)
from chamberlain.ops.iam.access_keys import reject_unsupported
from chamberlain.ops.iam.user_credentials import credential_owner, owner_target
from chamberlain.policy import Outcome, PrincipalType
from chamberlain.store.api import UnitOfWork

POLICY_KEY = "password_policy"
POLICY_VIOLATION = "Password does not conform to the account password policy."
# The characters AWS counts as symbols in a password policy.
SYMBOLS = frozenset("!@#$%^&*()_+-=[]{}|'")
# UpdateAccountPasswordPolicy's default when MinimumPasswordLength is omitted.
API_DEFAULT_MINIMUM_LENGTH = 6
# AWS's default password policy, applied while the account has none.
DEFAULT_MINIMUM_LENGTH = 8
DEFAULT_CHARACTER_CLASSES = 3


# ------------------------------------------------------------------ password policy


def account_policy(uow: UnitOfWork, account_id: str) -> PasswordPolicy | None:
    return uow.repo(PasswordPolicy).get(account_id, POLICY_KEY)


def _policy_not_found(ctx: OpContext) -> NoSuchEntity:
    return NoSuchEntity(f"The Password Policy with domain name {ctx.account_id} cannot be found.")


def _classes(password: str) -> dict[str, bool]:
    return {
        "upper": any("A" <= c <= "Z" for c in password),
        "lower": any("a" <= c <= "z" for c in password),
        "number": any("0" <= c <= "9" for c in password),
        "symbol": any(c in SYMBOLS for c in password),
    }


_CLASS_RULES = {
    "upper": "Password should have at least one uppercase letter",
    "lower": "Password should have at least one lowercase letter",
    "number": "Password should have at least one number",
    "symbol": "Password should have at least one symbol",
}


def password_problem(
    password: str,
    policy: PasswordPolicy | None,
    *,
    context: Iterable[str] = (),
    account: Account | None = None,
) -> str | None:
    """Why `password` may not be set (PasswordPolicyViolation's message), or None.

    `policy` None means AWS's default policy (8 characters from 3 of the 4 classes,
    not the account's email or alias). Common passwords are refused either way
    (`context`: the user name, the account alias, ...)."""
    classes = _classes(password)
    if policy is None:
        if len(password) < DEFAULT_MINIMUM_LENGTH:
            return POLICY_VIOLATION
        short = DEFAULT_CHARACTER_CLASSES - sum(classes.values())
        if short > 0:  # AWS's wording for the default policy's character classes
            missing = ", ".join(_CLASS_RULES[kind] for kind, has in classes.items() if not has)
            return f"Password should meet {short} more of the following requirements: {missing}"
        if account is not None:
            names = {account.email.casefold(), (account.alias or "").casefold()}
            if password.casefold() in names:
                return POLICY_VIOLATION
    else:
        if len(password) < policy.minimum_password_length:
            return POLICY_VIOLATION
        required = {
            "upper": policy.require_uppercase_characters,
            "lower": policy.require_lowercase_characters,
            "number": policy.require_numbers,
            "symbol": policy.require_symbols,
        }
        if any(needed and not classes[kind] for kind, needed in required.items()):
            return POLICY_VIOLATION
    return POLICY_VIOLATION if common_password(password, context=context) else None


def _context_words(account: Account | None, user_name: str) -> list[str]:
    words = [user_name]
    if account is not None:
        words.append(account.email.split("@", 1)[0])
        if account.alias:  # aliases are hyphenated; people drop the hyphens
            words.extend((account.alias, account.alias.replace("-", "")))
    return words


def check_new_password(
    ctx: OpContext, user_name: str, password: str, policy: PasswordPolicy | None
) -> None:
    """Raise PasswordPolicyViolation unless `password` may become `user_name`'s."""
    account = ctx.uow.repo(Account).get(ctx.account_id, "account")
    context = _context_words(account, user_name)
    problem = password_problem(password, policy, context=context, account=account)
    if problem is not None:
        raise PasswordPolicyViolation(problem)


def _reused(profile: LoginProfile, password: str, policy: PasswordPolicy | None) -> bool:
    count = policy.password_reuse_prevention if policy else None
    if not count:
        return False
    recent = (profile.password_hash, *profile.history)[:count]
    return any(verify_password(encoded, password) for encoded in recent)


def _with_new_hash(
    ctx: OpContext, profile: LoginProfile, password_hash: str, policy: PasswordPolicy | None
) -> LoginProfile:
    """`profile` with the password of `password_hash` set now; keeps as much history as
    reuse prevention needs."""
    keep = (policy.password_reuse_prevention or 0) - 1 if policy else 0
    history = (profile.password_hash, *profile.history)[:keep] if keep > 0 else ()
    return replace(profile, password_hash=password_hash, password_set=ctx.now, history=history)


def _prepared_hash(ctx: OpContext) -> str:
    """The new password's hash the operation's preparer made (outside the lock)."""
    if not isinstance(ctx.prepared, str):
        raise RuntimeError("the password was not hashed before the unit of work")
    return ctx.prepared


def _hash_new_password(ctx: OpContext, params: Params) -> Later | None:
    """Preparer of Create/UpdateLoginProfile: the new password's hash, made after the
    checks (so a refused call hashes nothing) and after the read-only unit of work has
    closed; None: no new password."""
    password = params.get("Password")
    if password is None:
        return None
    user = _login_user(ctx, params)
    check_new_password(ctx, user.name, password, account_policy(ctx.uow, ctx.account_id))
    argon2 = ctx.services.password_params

    def hashed() -> str:
        with throttle.hashing():
            return hash_password(password, argon2)

    return Later(hashed)


def _reserve_password_attempt(
    services: Services, user: User | Account, source_ip: str, now: dt.datetime
) -> None:
    """Count a password attempt for `user` (an Account: its root user) and the source;
    LimitExceeded while locked."""
    attempts = (
        (throttle.PASSWORD_USER, _password_key(user)),
        (throttle.PASSWORD_SOURCE, source_ip),
    )
    try:
        throttle.reserve(services.store, attempts, now)
    except throttle.Locked:
        raise throttle.PasswordLocked(throttle.LOCKED_MESSAGE) from None


def _password_key(user: User | Account) -> str:
    principal_id = user.user_id if isinstance(user, User) else user.account_id
    return throttle.password_key(user.account_id, principal_id)


def _password_proven(uow: UnitOfWork, user: User | Account, source_ip: str) -> None:
    """A right password: the user's count of attempts starts again, and the attempt no
    longer counts against the source."""
    throttle.clear(uow, throttle.PASSWORD_USER, _password_key(user))
    throttle.forgive(uow, throttle.PASSWORD_SOURCE, source_ip)


def _authorize_self_service(
    ctx: OpContext, action: str, resource: str, policy: PasswordPolicy | None
) -> None:
    """Authorize as usual, except that AllowUsersToChangePassword lets an IAM user act on
    their own password (and read the policy) unless a policy explicitly denies it."""
    caller = ctx.caller
    if (
        policy is None
        or not policy.allow_users_to_change_password
        or (caller.type is not PrincipalType.USER)
    ):
        authz.authorize(ctx, action, resource)
        return
    decision = authz.decide(ctx, action, resource)
    if decision.outcome is Outcome.EXPLICIT_DENY:
        raise AccessDenied(authz.denial_message(caller, action, resource, decision))


# ------------------------------------------------------------------ login profiles


def _login_user(ctx: OpContext, params: Params) -> User:
    """The IAM user a login profile call is about (never the root user)."""
    return require_user(ctx, credential_owner(ctx, params, allow_root=False))


def _profile_not_found(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"Login Profile for User {name} cannot be found.")


def _require_profile(ctx: OpContext, user: User) -> LoginProfile:
    profile = ctx.uow.repo(LoginProfile).get(ctx.account_id, user.name.lower())
    if profile is None:
        raise _profile_not_found(user.name)
    return profile


def _render_profile(profile: LoginProfile) -> dict[str, Any]:
    return {
        "LoginProfile": {
            "UserName": profile.user_name,
            "CreateDate": profile.created,
            "PasswordResetRequired": profile.password_reset_required,
        }
    }


@operation("iam", "CreateLoginProfile", resource=owner_target, prepare=_hash_new_password)
def create_login_profile(ctx: OpContext, params: Params) -> Output:
    reject_unsupported(params, "MaxSigninSessionDuration")
    user = _login_user(ctx, params)
    password = params.get("Password")
    if password is None:
        raise ValidationError("Password is required.")
    repo = ctx.uow.repo(LoginProfile)
    if repo.get(ctx.account_id, user.name.lower()) is not None:
        raise EntityAlreadyExists(f"Login Profile for user {user.name} already exists.")
    check_new_password(ctx, user.name, password, account_policy(ctx.uow, ctx.account_id))
    profile = LoginProfile(
        account_id=ctx.account_id,
        user_name=user.name,
        password_hash=_prepared_hash(ctx),
        created=ctx.now,
        password_set=ctx.now,
        password_reset_required=bool(params.get("PasswordResetRequired", False)),
    )
    repo.add(profile)
    return _render_profile(profile)


@operation("iam", "GetLoginProfile", resource=owner_target, read_only=True)
def get_login_profile(ctx: OpContext, params: Params) -> Output:
    return _render_profile(_require_profile(ctx, _login_user(ctx, params)))


@operation("iam", "UpdateLoginProfile", resource=owner_target, prepare=_hash_new_password)
def update_login_profile(ctx: OpContext, params: Params) -> Output:
    reject_unsupported(params, "MaxSigninSessionDuration", "ResetMaxSigninSessionDuration")
    user = _login_user(ctx, params)
    profile = _require_profile(ctx, user)
    password = params.get("Password")
    if password is not None:
        policy = account_policy(ctx.uow, ctx.account_id)
        check_new_password(ctx, user.name, password, policy)
        profile = _with_new_hash(ctx, profile, _prepared_hash(ctx), policy)
    reset = params.get("PasswordResetRequired")
    if reset is not None:
        profile = replace(profile, password_reset_required=bool(reset))
    ctx.uow.repo(LoginProfile).put(profile)
    return None


@operation("iam", "DeleteLoginProfile", resource=owner_target)
def delete_login_profile(ctx: OpContext, params: Params) -> Output:
    user = _login_user(ctx, params)
    _require_profile(ctx, user)
    ctx.uow.repo(LoginProfile).delete(ctx.account_id, user.name.lower())
    return None


@dataclass(frozen=True)
class _VerifiedChange:
    """What ChangePassword's preparer verified, and the new password's hash."""

    user: User
    profile: LoginProfile
    policy: PasswordPolicy | None
    new_hash: str


def _password_changer(ctx: OpContext) -> tuple[User, PasswordPolicy | None, LoginProfile]:
    """The calling IAM user, authorized to change their password, and their profile."""
    caller = ctx.caller
    if caller.type is not PrincipalType.USER or not caller.user_name:
        raise InvalidUserType("Only IAM users can change their own password.")
    user = require_user(ctx, caller.user_name)
    policy = account_policy(ctx.uow, ctx.account_id)
    _authorize_self_service(ctx, "iam:ChangePassword", user.arn, policy)
    return user, policy, _require_profile(ctx, user)


def _check_old_password(
    services: Services,
    who: User | Account,
    stored_hash: str,
    old_password: str,
    source_ip: str,
    now: dt.datetime,
) -> None:
    """ChangePassword's proof (no transaction open): count the attempt, verify the old
    password, and on success start the count again."""
    _reserve_password_attempt(services, who, source_ip, now)
    with throttle.hashing():
        right = verify_password(stored_hash, old_password)
    if not right:
        raise throttle.WrongPassword("The old password is incorrect.")
    with services.store.unit_of_work() as proven:
        _password_proven(proven, who, source_ip)


def _verify_change(ctx: OpContext, params: Params) -> Later:
    """ChangePassword's preparer: reads the user, policy and profile, then (its unit of
    work closed, no lock held) counts the attempt, verifies the old password, checks the
    new one against the policy and the history, and hashes it."""
    user, policy, profile = _password_changer(ctx)
    new_password = params["NewPassword"]
    violation: PasswordPolicyViolation | None = None
    try:  # told only to a caller who knows the old password
        check_new_password(ctx, user.name, new_password, policy)
    except PasswordPolicyViolation as exc:
        violation = exc
    services, source_ip, now = ctx.services, ctx.meta.source_ip, ctx.now

    def verify() -> _VerifiedChange:
        old = params["OldPassword"]
        _check_old_password(services, user, profile.password_hash, old, source_ip, now)
        if violation is not None:
            raise violation
        with throttle.hashing():
            reused = _reused(profile, new_password, policy)
            new_hash = "" if reused else hash_password(new_password, services.password_params)
        if reused:
            raise PasswordPolicyViolation(POLICY_VIOLATION)
        return _VerifiedChange(user, profile, policy, new_hash)

    return Later(verify)


# ------------------------------------------------- the root user's password (console)

#: AWS's rules for a root user password, whatever the account's password policy says:
#: 8 to 128 characters, three of upper case, lower case, numbers and symbols.
ROOT_PASSWORD_MAX = 128
#: Tries of a root password change whose account changed between check and write.
ROOT_CHANGE_ATTEMPTS = 3
#: ConcurrentModificationException's description in IAM's model.
CONCURRENT_CHANGE = (
    "The request was rejected because multiple requests to change this object were "
    "submitted simultaneously. Wait a few minutes and submit your request again."
)


def _stored_account(uow: UnitOfWork, account_id: str) -> Account:
    account = uow.repo(Account).get(account_id, "account")
    if account is None:
        raise NoSuchEntity(f"The account {account_id} cannot be found.")
    return account


def _verified_root_hash(
    services: Services, account: Account, old: str, new: str, source_ip: str, now: dt.datetime
) -> str:
    """With no transaction open: count the attempt, verify the old root password, check
    the new one against AWS's root password rules, and hash it."""
    problem = password_problem(new, None, context=_context_words(account, "root"), account=account)
    if problem is None and len(new) > ROOT_PASSWORD_MAX:
        problem = POLICY_VIOLATION
    _check_old_password(services, account, account.root_password_hash, old, source_ip, now)
    if problem is not None:
        raise PasswordPolicyViolation(problem)
    with throttle.hashing():
        return hash_password(new, services.password_params)


def change_root_password(
    services: Services, caller: Caller, meta: RequestMeta, old: str, new: str
) -> None:
    """The root user changing its own password, which AWS allows only in the console
    ("My security credentials"; IAM's ChangePassword leaves it alone: InvalidUserType).

    Recorded as AWS's sign-in service records it: eventName PasswordUpdated (eventType
    AwsConsoleSignIn, no request parameters, responseElements.PasswordUpdated Success or
    Failure). As for ChangePassword, the argon2 work runs with no transaction open and
    the write checks the stored password is still the one verified (else, again). A
    refusal takes no account lock: a wrong old password is counted, and recorded in
    full only as the first of its source's window (auth_failures)."""
    if not caller.is_root:
        raise InvalidUserType("Only the root user can change the root user's password.")
    try:
        for _ in range(ROOT_CHANGE_ATTEMPTS):
            with services.store.unit_of_work(read_only=True) as uow:
                account = _stored_account(uow, caller.account_id)
            new_hash = _verified_root_hash(services, account, old, new, meta.source_ip, meta.now)
            with services.store.unit_of_work() as uow:
                uow.lock_account(account.account_id)
                current = _stored_account(uow, account.account_id)
                if current.root_password_hash != account.root_password_hash:
                    continue
                uow.repo(Account).put(replace(current, root_password_hash=new_hash))
                if services.audit:
                    audit.record_password_updated(uow, services.secrets, meta, caller, success=True)
                return
        raise ConcurrentModification(CONCURRENT_CHANGE)
    except ServiceError as error:  # a wrong old password: counted (auth_failures)
        auth_failures.root_password_change_refused(services, meta, caller, error)
        raise


@operation("iam", "ChangePassword", resource=None, prepare=_verify_change)
def change_password(ctx: OpContext, params: Params) -> Output:
    """Authorized here, not by the dispatcher: AllowUsersToChangePassword grants it.
    The old password was verified by `_verify_change`; under the lock, only whether the
    profile, user or policy changed since is checked (then it is verified again).
    The root user's password is the console's (`change_root_password`)."""
    verified = ctx.prepared
    if not isinstance(verified, _VerifiedChange):
        raise RuntimeError("ChangePassword runs only after _verify_change")
    user, policy, profile = _password_changer(ctx)
    if (user.user_id, policy, profile) != (
        verified.user.user_id,
        verified.policy,
        verified.profile,
    ):
        raise StalePreparation()
    check_new_password(ctx, user.name, params["NewPassword"], policy)  # the account's names
    updated = _with_new_hash(ctx, profile, verified.new_hash, policy)
    ctx.uow.repo(LoginProfile).put(replace(updated, password_reset_required=False))
    return None


# ----------------------------------------------------------- account password policy


def _account_target(ctx: OpContext, params: Params) -> Target:
    return Target("*")


def render_policy(policy: PasswordPolicy) -> dict[str, Any]:
    out: dict[str, Any] = {
        "MinimumPasswordLength": policy.minimum_password_length,
        "RequireSymbols": policy.require_symbols,
        "RequireNumbers": policy.require_numbers,
        "RequireUppercaseCharacters": policy.require_uppercase_characters,
        "RequireLowercaseCharacters": policy.require_lowercase_characters,
        "AllowUsersToChangePassword": policy.allow_users_to_change_password,
        "ExpirePasswords": bool(policy.max_password_age),
    }
    if policy.max_password_age:
        out["MaxPasswordAge"] = policy.max_password_age
    if policy.password_reuse_prevention:
        out["PasswordReusePrevention"] = policy.password_reuse_prevention
    out["HardExpiry"] = policy.hard_expiry  # always, as AWS returns it
    return out


@operation("iam", "GetAccountPasswordPolicy", resource=None, read_only=True)
def get_account_password_policy(ctx: OpContext, params: Params) -> Output:
    """Authorized here: AllowUsersToChangePassword also lets users read the policy."""
    policy = account_policy(ctx.uow, ctx.account_id)
    _authorize_self_service(ctx, "iam:GetAccountPasswordPolicy", "*", policy)
    if policy is None:
        raise _policy_not_found(ctx)
    return {"PasswordPolicy": render_policy(policy)}


@operation("iam", "UpdateAccountPasswordPolicy", resource=_account_target)
def update_account_password_policy(ctx: OpContext, params: Params) -> Output:
    """Replaces the whole policy: an omitted parameter takes its default, as in AWS."""
    policy = PasswordPolicy(
        account_id=ctx.account_id,
        minimum_password_length=params.get("MinimumPasswordLength") or API_DEFAULT_MINIMUM_LENGTH,
        require_symbols=bool(params.get("RequireSymbols", False)),
        require_numbers=bool(params.get("RequireNumbers", False)),
        require_uppercase_characters=bool(params.get("RequireUppercaseCharacters", False)),
        require_lowercase_characters=bool(params.get("RequireLowercaseCharacters", False)),
        allow_users_to_change_password=bool(params.get("AllowUsersToChangePassword", False)),
        max_password_age=params.get("MaxPasswordAge") or None,
        password_reuse_prevention=params.get("PasswordReusePrevention") or None,
        hard_expiry=bool(params.get("HardExpiry", False)),
    )
    ctx.uow.repo(PasswordPolicy).put(policy)
    return None


@operation("iam", "DeleteAccountPasswordPolicy", resource=_account_target)
def delete_account_password_policy(ctx: OpContext, params: Params) -> Output:
    if not ctx.uow.repo(PasswordPolicy).delete(ctx.account_id, POLICY_KEY):
        # Not GetAccountPasswordPolicy's text: IAM words this one after the account policy.
        raise NoSuchEntity("The account policy with name PasswordPolicy cannot be found.")
    return None


# ------------------------------------------------------------------- console sign-in


@dataclass(frozen=True)
class PasswordCheck:
    """The outcome of a console sign-in attempt. Truthy only when sign-in may proceed.

    `must_change`: the user has to choose a new password first (PasswordResetRequired,
    or the password expired under a policy without HardExpiry). `locked`: the password
    is right but expired under HardExpiry, so only an administrator can reset it (told
    only to a caller who knew the password). `throttled`: too many attempts lately for
    this user or source; the password was not checked.
    """

    ok: bool
    user: User | None = None
    must_change: bool = False
    expired: bool = False
    locked: bool = False
    throttled: bool = False

    def __bool__(self) -> bool:
        return self.ok


def password_expired(
    profile: LoginProfile, policy: PasswordPolicy | None, now: dt.datetime
) -> bool:
    if policy is None or not policy.max_password_age:
        return False
    return now >= profile.password_set + dt.timedelta(days=policy.max_password_age)


def check_password(
    services: Services,
    account_id: str,
    user_name: str,
    password: str,
    now: dt.datetime,
    source_ip: str = "",
) -> PasswordCheck:
    """Verify an IAM user's console password (each in its own units of work).

    The attempt is counted first (per user and per source; `throttled` while locked,
    without checking the password). An unknown user or one without a password costs the
    same argon2 work as a real verification. Verification and any re-hash run with no
    lock held; on success one short write records PasswordLastUsed and the re-hashed
    password (made with `services.password_params` when the stored one used others),
    provided the stored hash is still the one verified.
    """
    for _ in range(3):  # the stored password changed meanwhile: look again
        with services.store.unit_of_work(read_only=True) as uow:
            user = uow.repo(User).get(account_id, user_name.lower())
            profile = uow.repo(LoginProfile).get(account_id, user_name.lower()) if user else None
            policy = account_policy(uow, account_id)
        if user is None or profile is None:
            with throttle.hashing():
                verify_dummy(password, services.password_params)
            return PasswordCheck(ok=False)
        try:
            _reserve_password_attempt(services, user, source_ip, now)
        except LimitExceeded:
            return PasswordCheck(ok=False, throttled=True)
        with throttle.hashing():
            right = verify_password(profile.password_hash, password)
        if not right:
            return PasswordCheck(ok=False)
        expired = password_expired(profile, policy, now)
        if expired and policy is not None and policy.hard_expiry:
            return PasswordCheck(ok=False, user=user, expired=True, locked=True)
        rehashed = None
        if needs_rehash(profile.password_hash, services.password_params):
            with throttle.hashing():
                rehashed = hash_password(password, services.password_params)
        with services.store.unit_of_work() as uow:
            uow.lock_account(account_id)
            current = uow.repo(LoginProfile).get(account_id, user_name.lower())
            stored = uow.repo(User).get(account_id, user_name.lower())
            if current is None or stored is None or current.password_hash != profile.password_hash:
                continue
            if rehashed is not None:
                uow.repo(LoginProfile).put(replace(current, password_hash=rehashed))
            uow.repo(User).touch(replace(stored, password_last_used=now))  # no cache input
            _password_proven(uow, user, source_ip)
        return PasswordCheck(
            ok=True,
            user=user,
            must_change=profile.password_reset_required or expired,
            expired=expired,
        )
    return PasswordCheck(ok=False)
