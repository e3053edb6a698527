"""Who may sign in: passwords, MFA codes and the credentials' fingerprint.

Passwords are argon2id: a verification takes tens of milliseconds of CPU and memory, so it
never runs inside a transaction. Each check reads what it needs in a read-only unit of
work, verifies (and re-hashes a password stored with older parameters) with no
transaction open, then records the use (PasswordLastUsed, the new hash) in a short
writing one, under the account's lock, after checking that the stored password is still
the one verified (else it looks again). MFA codes likewise: a wrong one takes no lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, replace

from chamberlain.console import revocation
from chamberlain.crypto.ids import is_account_id
from chamberlain.crypto.passwords import hash_password, needs_rehash, verify_dummy, verify_password
from chamberlain.domain import ROOT, AccessKey, Account, LoginProfile, MfaDevice, User
from chamberlain.ops.audit.records import HIDDEN
from chamberlain.ops.core import throttle
from chamberlain.ops.core.accounts import root_caller
from chamberlain.ops.core.context import Caller, OpContext, RequestMeta, Services
from chamberlain.ops.iam.login import account_policy, password_expired
from chamberlain.ops.sts.sessions import code_step, reserve_mfa_attempt, verify_mfa_code
from chamberlain.policy import PrincipalType

ACCOUNT_KEY = "account"  # domain.Account.key


@dataclass(frozen=True)
class Principal:
    """Who is signing in: the root user (`user_name` None) or an IAM user."""

    account_id: str
    user_name: str | None
    caller: Caller


@dataclass(frozen=True)
class Outcome:
    ok: bool
    principal: Principal | None = None  # also set for a known principal's failure
    must_change: bool = False
    expired_hard: bool = False
    has_mfa: bool = False


def user_caller(user: User) -> Caller:
    return Caller(
        account_id=user.account_id,
        arn=user.arn,
        principal_id=user.user_id,
        type=PrincipalType.USER,
        user_name=user.name,
    )


def unknown_user_caller(account_id: str) -> Caller:
    """The identity CloudTrail shows for a failed sign-in by an unknown user name."""
    return Caller(
        account_id=account_id,
        arn="",
        principal_id="",
        type=PrincipalType.USER,
        user_name=HIDDEN,
    )


def _owner(user_name: str | None) -> str:
    return ROOT if user_name is None else user_name


def resolve_account(services: Services, account: str) -> str | None:
    """An account id from what the sign-in form says: the 12-digit id or the alias."""
    wanted = account.strip().lower()
    with services.store.unit_of_work(read_only=True) as uow:
        repo = uow.repo(Account)
        if is_account_id(wanted):
            return wanted if repo.get(wanted, ACCOUNT_KEY) is not None else None
        for account_id in services.store.accounts():
            found = repo.get(account_id, ACCOUNT_KEY)
            if found is not None and (found.alias or "").lower() == wanted:
                return account_id
    return None


def _has_mfa(uow_repo: list[MfaDevice]) -> bool:
    return any(d.enabled is not None for d in uow_repo)


#: Tries of a sign-in whose password changed between its verification and its write.
CHECK_ATTEMPTS = 3


def _verify(encoded: str, password: str) -> bool:
    with throttle.hashing():
        return verify_password(encoded, password)


def _rehashed(services: Services, encoded: str, password: str) -> str | None:
    """The password hashed with the current parameters, if `encoded` used others."""
    if not needs_rehash(encoded, services.password_params):
        return None
    with throttle.hashing():
        return hash_password(password, services.password_params)


def dummy_verify(services: Services, password: str) -> None:
    """The time of a real verification (for an unknown principal), in a hashing slot."""
    with throttle.hashing():
        verify_dummy(password, services.password_params)


def check_root(services: Services, email: str, password: str, now: dt.datetime) -> Outcome:
    """The root user's password: read, verified and (if its parameters are old) re-hashed
    with no transaction open; then one short write, under the account's lock, records
    its use and the new hash, provided the stored hash is still the one verified (else
    it is verified again)."""
    for _ in range(CHECK_ATTEMPTS):
        with services.store.unit_of_work(read_only=True) as uow:
            found: list[Account] = uow.repo(Account).find_by_ref(email.strip().lower())
            account = found[0] if found else None
            devices = (
                uow.repo(MfaDevice).list(account.account_id, ref=ROOT.lower()) if account else []
            )
        if account is None:
            dummy_verify(services, password)
            return Outcome(ok=False)
        principal = Principal(account.account_id, None, root_caller(account.account_id))
        verified = account.root_password_hash
        if not _verify(verified, password):
            return Outcome(ok=False, principal=principal)
        rehashed = _rehashed(services, verified, password)
        with services.store.unit_of_work() as uow:
            uow.lock_account(account.account_id)
            current = uow.repo(Account).get(account.account_id, ACCOUNT_KEY)
            if current is None or current.root_password_hash != verified:
                continue  # changed (or gone) since: look again
            updated = replace(current, root_password_last_used=now)
            if rehashed is not None:
                updated = replace(updated, root_password_hash=rehashed)
            uow.repo(Account).touch(updated)  # no cache reads the root password
        return Outcome(ok=True, principal=principal, has_mfa=_has_mfa(devices))
    return Outcome(ok=False)


def check_user(
    services: Services, account_id: str, user_name: str, password: str, now: dt.datetime
) -> Outcome:
    """An IAM user's password, as `check_root`: nothing slow under a lock, and the write
    only while the stored password is still the one verified."""
    key = user_name.strip().lower()
    for _ in range(CHECK_ATTEMPTS):
        with services.store.unit_of_work(read_only=True) as uow:
            user = uow.repo(User).get(account_id, key)
            profile = uow.repo(LoginProfile).get(account_id, key) if user else None
            policy = account_policy(uow, account_id)
            devices = uow.repo(MfaDevice).list(account_id, ref=key) if user else []
        if user is None:
            dummy_verify(services, password)
            return Outcome(
                ok=False,
                principal=Principal(account_id, user_name, unknown_user_caller(account_id)),
            )
        principal = Principal(account_id, user.name, user_caller(user))
        if profile is None:
            dummy_verify(services, password)
            return Outcome(ok=False, principal=principal)
        if not _verify(profile.password_hash, password):
            return Outcome(ok=False, principal=principal)
        expired = password_expired(profile, policy, now)
        if expired and policy is not None and policy.hard_expiry:
            return Outcome(ok=False, principal=principal, expired_hard=True)
        rehashed = _rehashed(services, profile.password_hash, password)
        with services.store.unit_of_work() as uow:
            uow.lock_account(account_id)
            current = uow.repo(User).get(account_id, key)
            stored = uow.repo(LoginProfile).get(account_id, key)
            if (
                current is None
                or current.user_id != user.user_id
                or stored is None
                or stored.password_hash != profile.password_hash
            ):
                continue  # changed (or gone) since: look again
            # usage data, no authorization input: no generation bumped (store/scopes.py)
            uow.repo(User).touch(replace(current, password_last_used=now))
            if rehashed is not None:
                uow.repo(LoginProfile).put(replace(stored, password_hash=rehashed))
        return Outcome(
            ok=True,
            principal=principal,
            must_change=profile.password_reset_required or expired,
            has_mfa=_has_mfa(devices),
        )
    return Outcome(ok=False)


def check_mfa_code(services: Services, meta: RequestMeta, principal: Principal, code: str) -> bool:
    """Is `code` a fresh code of one of the principal's enabled devices? Each device counts
    the attempt first, in the per-device counter every path shares (STS, Enable and
    ResyncMFADevice), and the code is checked with no transaction open: a wrong code
    takes no lock. Only a matching code is checked again, and its step written (each
    code is accepted once), under the account's lock. A locked device refuses every code
    unchecked."""
    owner = _owner(principal.user_name)
    code = code.strip()
    with services.store.unit_of_work(read_only=True) as uow:
        ctx = OpContext(caller=principal.caller, meta=meta, uow=uow, services=services)
        serials = [
            d.serial_number
            for d in uow.repo(MfaDevice).list(principal.account_id, ref=owner.lower())
            if d.enabled is not None
        ]
        attempts = [reserve_mfa_attempt(ctx, serial, owner) for serial in serials]
        matching = [
            attempt
            for attempt in attempts
            if attempt is not None
            and not attempt.locked
            and code_step(ctx, attempt.serial_number, code, owner) is not None
        ]
    for attempt in matching:
        with services.store.unit_of_work() as uow:
            uow.lock_account(principal.account_id)
            ctx = OpContext(caller=principal.caller, meta=meta, uow=uow, services=services)
            ctx.prepared = attempt
            if verify_mfa_code(ctx, attempt.serial_number, code, owner):
                return True
    return False


def load_principal(services: Services, account_id: str, user_name: str | None) -> Principal | None:
    """The principal a session names, if it still exists, with its fingerprint."""
    return resolved[0] if (resolved := _load(services, account_id, user_name)) else None


def fingerprint(services: Services, account_id: str, user_name: str | None) -> str | None:
    """A digest of the principal's password, MFA devices and access keys: it changes
    whenever one of them does (None: the principal is gone)."""
    return resolved[1] if (resolved := _load(services, account_id, user_name)) else None


def session_state(
    services: Services, account_id: str, user_name: str | None, sid: str
) -> tuple[Principal, str] | None:
    """The principal of a signed-in session and its current fingerprint, read together;
    None: the principal is gone or the session was signed out (on any node)."""
    return _load(services, account_id, user_name, sid)


def _load(
    services: Services, account_id: str, user_name: str | None, sid: str | None = None
) -> tuple[Principal, str] | None:
    owner = _owner(user_name).lower()
    parts: list[str] = []
    with services.store.unit_of_work(read_only=True) as uow:
        if sid is not None and revocation.is_revoked(uow, sid):
            return None
        if user_name is None:
            account = uow.repo(Account).get(account_id, ACCOUNT_KEY)
            if account is None:
                return None
            principal = Principal(account_id, None, root_caller(account_id))
            parts.append(account.root_password_hash)
        else:
            user = uow.repo(User).get(account_id, user_name.lower())
            if user is None:
                return None
            principal = Principal(account_id, user.name, user_caller(user))
            profile = uow.repo(LoginProfile).get(account_id, user_name.lower())
            parts += [user.user_id, profile.password_hash if profile else "-"]
        for device in uow.repo(MfaDevice).list(account_id, ref=owner):
            parts.append(f"mfa:{device.serial_number}:{device.enabled}")
        for key in uow.repo(AccessKey).list(account_id, ref=owner):
            parts.append(f"key:{key.access_key_id}:{key.status}")
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return principal, digest
