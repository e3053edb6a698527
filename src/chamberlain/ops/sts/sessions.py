"""Temporary credentials (STS): issue them, and turn them back into a Caller.

A session is stateless. Everything a request signed with temporary credentials needs
(who the session is, where it came from, its secret, its expiry, MFA, tags, session
policies) travels inside the session token, sealed by `ctx.services.tokens`
(AES-256-GCM: confidential and authenticated), so any node verifies a request without
reading the database. Nothing about a session is stored; revoking sessions is done as
AWS's console does it, with a policy denying `aws:TokenIssueTime` before a moment.

Temporary access key ids are `ASIA` ids that carry their account in AWS's layout (see
`temporary_access_key_id`), so GetAccessKeyInfo can answer for them without a record.

`verify_mfa_code` is the one-time-password check GetSessionToken and AssumeRole share.
`encode_authorization_message` seals a denial's details for DecodeAuthorizationMessage,
with the same sealer but another `typ` claim, so neither kind passes for the other.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from chamberlain.crypto import totp
from chamberlain.crypto.ids import Prefix, is_access_key_id, new_secret_access_key
from chamberlain.crypto.secrets import SecretBoxError
from chamberlain.crypto.tokens import EXPIRES_CLAIM, InvalidToken, expired
from chamberlain.domain import MfaDevice
from chamberlain.ops.core import throttle
from chamberlain.ops.core.context import Caller, OpContext, Services, Session
from chamberlain.ops.core.errors import ExpiredToken, InvalidClientTokenId, ServiceFailure
from chamberlain.policy import Decision, Outcome, PrincipalType
from chamberlain.policy.request import ContextValue

INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"
MFA_FAILED = "MultiFactorAuthentication failed with invalid MFA one time pass code."

#: The `typ` claim of a session token; other sealed blobs (encoded authorization
#: messages) carry another, so one can never be presented as the other.
SESSION_TOKEN_TYPE = "sts-session"

# AWS's access key id layout: base32 of 10 bytes; the account id is bits 7..46 of the
# first 6 bytes (mask 0x7fffffffff80), the rest is random.
_ACCOUNT_MASK = 0x7FFFFFFFFF80
_ACCOUNT_SHIFT = 7


# ------------------------------------------------------------------ access key ids


def temporary_access_key_id(account_id: str) -> str:
    """A fresh `ASIA` access key id (20 characters) that encodes `account_id`.

    AWS's key ids carry the account (GetAccessKeyInfo and public tools decode it); ours
    do too, so a temporary key's account is known without storing the key.
    """
    raw = bytearray(os.urandom(10))
    head = int.from_bytes(raw[:6], "big") & ~_ACCOUNT_MASK & 0xFFFFFFFFFFFF
    head |= (int(account_id) << _ACCOUNT_SHIFT) & _ACCOUNT_MASK
    raw[:6] = head.to_bytes(6, "big")
    tail = base64.b32encode(bytes(raw)).decode("ascii")  # 16 characters of ID_ALPHABET
    return Prefix.TEMPORARY_ACCESS_KEY.value + tail


def account_of_access_key_id(access_key_id: str) -> str | None:
    """The account an access key id encodes in AWS's layout, or None when malformed."""
    if not is_access_key_id(access_key_id):
        return None
    raw = base64.b32decode(access_key_id[4:])
    account = (int.from_bytes(raw[:6], "big") & _ACCOUNT_MASK) >> _ACCOUNT_SHIFT
    return f"{account:012d}" if account < 10**12 else None


# ----------------------------------------------------------------------------- MFA


@dataclass(frozen=True)
class MfaAttempt:
    """A counted attempt at a code for one device (or a refusal: the device is locked),
    made by an operation's preparer before its unit of work."""

    serial_number: str
    locked: bool


def reserve_mfa_attempt(
    ctx: OpContext, serial_number: str | None, owner: str | None = None
) -> MfaAttempt | None:
    """Preparer part of every path that checks a code: count one attempt for the device
    `serial_number` of the caller's account (assigned to `owner`, when given, so nobody
    can lock another user's device) in the shared counter (throttle.MFA_DEVICE) before
    the code is checked. None when there is no such device (its code fails anyway)."""
    if not serial_number:
        return None
    device = ctx.uow.repo(MfaDevice).get(ctx.account_id, serial_number)
    if device is None:
        return None
    if owner is not None and (device.user_name or "").lower() != owner.lower():
        return None
    key = throttle.mfa_key(ctx.account_id, device.serial_number)
    try:
        throttle.reserve(ctx.services.store, ((throttle.MFA_DEVICE, key),), ctx.now)
    except throttle.Locked:
        return MfaAttempt(device.serial_number, locked=True)
    return MfaAttempt(device.serial_number, locked=False)


def mfa_attempt_counted(ctx: OpContext, serial_number: str) -> bool:
    """May a code for `serial_number` be checked now: was an attempt counted for it,
    and is the device not locked?"""
    attempt = ctx.prepared
    return (
        isinstance(attempt, MfaAttempt)
        and attempt.serial_number == serial_number
        and not attempt.locked
    )


def mfa_code_accepted(ctx: OpContext, serial_number: str) -> None:
    """A right code: the device's count starts again (with the operation's writes)."""
    throttle.clear(ctx.uow, throttle.MFA_DEVICE, throttle.mfa_key(ctx.account_id, serial_number))


def verify_mfa_code(ctx: OpContext, serial_number: str, code: str, owner: str) -> bool:
    """Is `code` a fresh one-time password of the enabled device `serial_number`, in the
    caller's account, belonging to `owner` (a user name, or `domain.ROOT`)?

    A matched code's step is written back (`MfaDevice.last_step`) in the operation's
    unit of work, so each code is accepted once (RFC 6238 section 5.2). Codes are
    checked only after the operation's preparer counted the attempt in the shared
    per-device counter (`reserve_mfa_attempt`); while the device is locked every code,
    right or wrong, is refused unchecked.
    """
    if not mfa_attempt_counted(ctx, serial_number):
        return False
    matched = code_step(ctx, serial_number, code, owner)
    if matched is None:
        return False
    device, step = matched
    mfa_code_accepted(ctx, device.serial_number)
    ctx.uow.repo(MfaDevice).put(replace(device, last_step=step))
    return True


def code_step(
    ctx: OpContext, serial_number: str, code: str, owner: str
) -> tuple[MfaDevice, int] | None:
    """The device and the TOTP step `code` matches, if it is a fresh code of the enabled
    device `serial_number` of `owner`; writes nothing (so a preparer can refuse a wrong
    code before the operation takes any lock, and the operation checks again under it)."""
    device = ctx.uow.repo(MfaDevice).get(ctx.account_id, serial_number)
    if device is None or device.enabled is None or device.user_name is None:
        return None
    if device.user_name.lower() != owner.lower():
        return None
    try:
        seed = ctx.services.secrets.decrypt(
            device.seed_encrypted, aad=device.serial_number.encode()
        ).decode("ascii")
        step = totp.verify(seed, code, ctx.now, device.last_step, offset=device.offset)
    except (SecretBoxError, UnicodeDecodeError, ValueError):
        step = None
    return None if step is None else (device, step)


def refuse_wrong_code(
    ctx: OpContext, attempt: MfaAttempt | None, code: str, owner: str, message: str
) -> None:
    """A preparer's check of a counted attempt, before any lock: a locked device, or a
    code that is not a fresh one of the owner's device, is refused now (CodeDenied,
    counted in the trail per device: throttle.RefusedCode)."""
    if attempt is None:
        raise throttle.refused_code(throttle.CodeDenied, message, None)
    if attempt.locked or code_step(ctx, attempt.serial_number, code, owner) is None:
        raise throttle.refused_code(throttle.CodeDenied, message, attempt.serial_number)


# -------------------------------------------------------------------------- issue


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp() // 1)


def _moment(epoch: int | float) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC)


@dataclass(frozen=True)
class NewSession:
    """A session to issue credentials for, every field validated by the operation.

    `extra_context` holds condition keys every request of the session carries (as
    `Session.extra_context`, which authz merges into the request context): the identity
    provider's keys AWS keeps for a federated session, such as `saml:sub`. Values are
    strings, booleans, numbers, datetimes (sealed as ISO 8601 text) or lists of those."""

    account_id: str
    arn: str
    principal_id: str
    principal_type: PrincipalType
    issuer_arn: str
    issuer_id: str
    duration_s: int
    user_name: str | None = None
    mfa_authenticated: bool = False
    mfa_authenticated_at: dt.datetime | None = None
    session_name: str | None = None
    tags: Iterable[tuple[str, str]] = ()
    transitive_tag_keys: Iterable[str] = ()
    source_identity: str | None = None
    session_policy: str | None = None
    session_policy_arns: Iterable[str] = ()
    federated_provider: str | None = None
    chained: bool = False
    extra_context: Mapping[str, ContextValue] | None = None

    def claims(self, access_key_id: str, secret: str, issued: int) -> dict[str, Any]:
        """The session token's claims; optional ones are left out when empty (a shorter
        token: `caller_from_token` reads their defaults)."""
        mfa_at = self.mfa_authenticated_at
        claims: dict[str, Any] = {
            "typ": SESSION_TOKEN_TYPE,
            "akid": access_key_id,
            "sk": secret,
            "acct": self.account_id,
            "arn": self.arn,
            "pid": self.principal_id,
            "ptype": self.principal_type.value,
            "user": self.user_name,
            "iss": self.issuer_arn,
            "issid": self.issuer_id,
            "iat": issued,
            EXPIRES_CLAIM: issued + self.duration_s,
            "mfa": self.mfa_authenticated,
            "mfat": _epoch(mfa_at) if mfa_at else None,
            "name": self.session_name,
            "tags": [[k, v] for k, v in self.tags],
            "ttk": list(self.transitive_tag_keys),
            "srcid": self.source_identity,
            "pol": self.session_policy,
            "parns": list(self.session_policy_arns),
            "fed": self.federated_provider,
            "chain": self.chained,
            "ctx": _sealable_context(self.extra_context or {}),
        }
        required = ("typ", "akid", "sk", "acct", "arn", "pid", "ptype", "iss", "issid", "iat")
        return {k: v for k, v in claims.items() if v or k in required or k == EXPIRES_CLAIM}


def issue_credentials(ctx: OpContext, session: NewSession) -> dict[str, Any]:
    """New temporary credentials for `session`, valid `duration_s` seconds from now:
    botocore's Credentials shape {AccessKeyId, SecretAccessKey, SessionToken, Expiration}."""
    sealer = ctx.services.tokens
    if sealer is None:
        raise ServiceFailure("Temporary credentials are not enabled on this server.")
    issued = _epoch(ctx.now)
    access_key_id = temporary_access_key_id(session.account_id)
    secret = new_secret_access_key()
    return {
        "AccessKeyId": access_key_id,
        "SecretAccessKey": secret,
        "SessionToken": sealer.seal(session.claims(access_key_id, secret, issued)),
        "Expiration": _moment(issued + session.duration_s),
    }


def _sealable_scalar(value: Any) -> str | bool | int | float:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str | bool | int | float):
        return value
    raise TypeError(f"a session's context value cannot be {type(value).__name__}")


def _sealable_context(context: Mapping[str, ContextValue]) -> dict[str, Any]:
    """`extra_context` as JSON the token can carry (lists for multi-valued keys)."""
    out: dict[str, Any] = {}
    for key, value in context.items():
        if isinstance(value, list | tuple):
            out[key] = [_sealable_scalar(v) for v in value]
        else:
            out[key] = _sealable_scalar(value)
    return out


# ------------------------------------------------------------------------- verify


def _context_of(claim: Any) -> dict[str, ContextValue]:
    """The sealed `ctx` claim back as condition keys; TypeError when it is not one."""
    if claim is None:
        return {}
    if not isinstance(claim, dict):
        raise TypeError("session context is not a mapping")
    scalar = str | bool | int | float
    out: dict[str, ContextValue] = {}
    for key, value in claim.items():
        if isinstance(value, list) and all(isinstance(v, scalar) for v in value):
            out[key] = list(value)
        elif isinstance(value, scalar):
            out[key] = value
        else:
            raise TypeError("session context value is not valid")
    return out


def _session_of(claims: Mapping[str, Any]) -> Session:
    mfa_at = claims.get("mfat")
    return Session(
        issuer_arn=str(claims["iss"]),
        issuer_id=str(claims["issid"]),
        issued=_moment(claims["iat"]),
        expires=_moment(claims[EXPIRES_CLAIM]),
        mfa_authenticated=bool(claims.get("mfa")),
        mfa_authenticated_at=_moment(mfa_at) if mfa_at is not None else None,
        session_name=claims.get("name"),
        tags=tuple((str(k), str(v)) for k, v in claims.get("tags") or ()),
        transitive_tag_keys=tuple(str(k) for k in claims.get("ttk") or ()),
        source_identity=claims.get("srcid"),
        session_policy=claims.get("pol"),
        session_policy_arns=tuple(str(a) for a in claims.get("parns") or ()),
        federated_provider=claims.get("fed"),
        chained=bool(claims.get("chain")),
        extra_context=_context_of(claims.get("ctx")),
    )


def is_session_token_session(caller: Caller) -> bool:
    """Was the caller's session made by GetSessionToken (a user's or root's own)?"""
    return caller.session is not None and caller.type in (PrincipalType.USER, PrincipalType.ROOT)


def caller_from_token(
    services: Services,
    access_key_id: str,
    token: str | None,
    now: dt.datetime,
    *,
    service: str | None = None,
) -> tuple[Caller, str]:
    """The caller a request signed with temporary credentials speaks for, and the secret
    its signature must verify with. No database read.

    Raises InvalidClientTokenId for a missing token, one that does not open, or one
    issued for another access key id; ExpiredToken once the session has expired. With
    `service="iam"`, a GetSessionToken session without MFA is refused as AWS refuses it
    (such credentials "cannot call any IAM API operations unless MFA authentication
    information is included").
    """
    sealer = services.tokens
    if sealer is None or not token:
        raise InvalidClientTokenId(INVALID_TOKEN)
    try:
        claims = sealer.open(token)
    except InvalidToken:
        raise InvalidClientTokenId(INVALID_TOKEN) from None
    key_id = claims.get("akid")
    if (
        claims.get("typ") != SESSION_TOKEN_TYPE
        or not isinstance(key_id, str)
        or not hmac.compare_digest(key_id.encode(), access_key_id.encode())
    ):
        raise InvalidClientTokenId(INVALID_TOKEN)
    if expired(claims, now):
        raise ExpiredToken(EXPIRED_TOKEN)
    try:
        caller = Caller(
            account_id=str(claims["acct"]),
            arn=str(claims["arn"]),
            principal_id=str(claims["pid"]),
            type=PrincipalType(claims["ptype"]),
            user_name=claims.get("user"),
            access_key_id=access_key_id,
            session=_session_of(claims),
        )
        secret = str(claims["sk"])
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise InvalidClientTokenId(INVALID_TOKEN) from None
    if service == "iam" and is_session_token_session(caller):
        assert caller.session is not None
        if not caller.session.mfa_authenticated:
            raise InvalidClientTokenId(INVALID_TOKEN)
    return caller, secret


# ------------------------------------------------------- encoded authorization messages

#: The `typ` claim of an encoded authorization message (see DecodeAuthorizationMessage).
AUTHZ_MESSAGE_TYPE = "sts-authz-message"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _values(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    return [_text(value)]


def encode_authorization_message(
    ctx: OpContext,
    *,
    action: str,
    resource: str,
    decision: Decision,
    context: Mapping[str, Any] | None = None,
    caller: Caller | None = None,
) -> str:
    """The opaque message a denial may carry (AWS's "Encoded authorization failure
    message"): the decision's details, sealed, so only DecodeAuthorizationMessage in the
    same account can read them. The request context is included; callers must not put
    secrets in it (condition keys never hold any)."""
    sealer = ctx.services.tokens
    if sealer is None:
        raise ServiceFailure("Encoded authorization messages are not enabled on this server.")
    who = caller or ctx.caller
    principal: dict[str, str] = {"id": who.principal_id, "arn": who.arn}
    if who.user_name:
        principal["name"] = who.user_name
    message = {
        "allowed": decision.allowed,
        "explicitDeny": decision.outcome is Outcome.EXPLICIT_DENY,
        "matchedStatements": {
            "items": [
                {
                    "statementId": m.sid or "",
                    "effect": m.effect.upper(),
                    "sourcePolicyId": m.policy_id,
                    "sourcePolicyType": m.source.value,
                    "index": m.index,
                }
                for m in decision.matched
            ]
        },
        "failures": {"items": []},
        "context": {
            "principal": principal,
            "action": action,
            "resource": resource,
            "conditions": {
                "items": [
                    {"key": key, "values": {"items": [{"value": v} for v in _values(value)]}}
                    for key, value in sorted((context or {}).items())
                ]
            },
        },
    }
    return sealer.seal({"typ": AUTHZ_MESSAGE_TYPE, "acct": who.account_id, "msg": message})


def decode_authorization_message(services: Services, account_id: str, encoded: str) -> Any:
    """The message `encode_authorization_message` sealed for `account_id`; None when the
    text is not such a message (tampered, another account's, or another kind of token)."""
    sealer = services.tokens
    if sealer is None:
        return None
    try:
        claims = sealer.open(encoded)
    except InvalidToken:
        return None
    if claims.get("typ") != AUTHZ_MESSAGE_TYPE or claims.get("acct") != account_id:
        return None
    return claims.get("msg")
