"""The console's session: a sealed, stateless cookie every node can open.

The cookie is the session's claims (who, since when, last seen, the CSRF token, the
sign-in stage and a fingerprint of the principal's credentials) encrypted and
authenticated with the operator's key (`SecretBox`, bound to its own associated data so
no other sealed blob can pass for a session). Nothing is kept in memory, so any node
accepts any node's cookie. Each request re-seals it with a new `seen` time, which gives
the idle timeout; `issued` gives the absolute lifetime. The fingerprint is recomputed
from the store on every request: changing the principal's password, MFA devices or
access keys elsewhere changes it and so ends every other session. Each session has a
random id (`sid`); signing out records it as revoked in the database
(`console/revocation.py`), so a copy of the cookie stops working on every node.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any

from chamberlain.crypto.secrets import SecretBox, SecretBoxError

COOKIE = "chamberlain-console"
#: A cookie of its own for the sign-in form (double-submit CSRF before any session).
SIGNIN_CSRF_COOKIE = "chamberlain-signin-csrf"
LIFETIME = dt.timedelta(hours=12)
IDLE = dt.timedelta(hours=1)
#: Between a right password and the MFA code (or the forced password change).
PENDING = dt.timedelta(minutes=10)
MAX_COOKIE_CHARS = 4096
_AAD = b"chamberlain console session v1"

#: Sign-in stages: the session is usable only at OK.
OK = "ok"
MFA = "mfa"
CHANGE_PASSWORD = "change-password"


@dataclass(frozen=True)
class Session:
    account_id: str
    user_name: str | None  # None: the root user
    issued: int  # epoch seconds
    seen: int
    fingerprint: str
    csrf: str
    stage: str = OK
    mfa: bool = False  # MFA was used at sign-in
    must_change: bool = False  # a password change follows the MFA stage
    sid: str = ""  # the session's id: what sign-out revokes

    @property
    def is_root(self) -> bool:
        return self.user_name is None

    def touched(self, now: dt.datetime) -> Session:
        return replace(self, seen=int(now.timestamp()))


def new_session(
    account_id: str,
    user_name: str | None,
    fingerprint: str,
    now: dt.datetime,
    *,
    stage: str = OK,
    mfa: bool = False,
    must_change: bool = False,
) -> Session:
    moment = int(now.timestamp())
    return Session(
        account_id=account_id,
        user_name=user_name,
        issued=moment,
        seen=moment,
        fingerprint=fingerprint,
        csrf=secrets.token_urlsafe(24),
        stage=stage,
        mfa=mfa,
        must_change=must_change,
        sid=secrets.token_urlsafe(16),
    )


def expires(session: Session) -> dt.datetime:
    """When the session ends at the latest, whatever its idle timer says."""
    return dt.datetime.fromtimestamp(session.issued, dt.UTC) + LIFETIME


def seal(box: SecretBox, session: Session) -> str:
    payload = json.dumps(asdict(session), sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(box.encrypt(payload, aad=_AAD)).rstrip(b"=").decode()


def open_cookie(box: SecretBox, cookie: str | None, now: dt.datetime) -> Session | None:
    """The live session in `cookie`, or None: absent, forged, expired or idle too long."""
    if not cookie or len(cookie) > MAX_COOKIE_CHARS:
        return None
    try:
        blob = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
        claims: Any = json.loads(box.decrypt(blob, aad=_AAD))
        session = Session(**claims)
    except (binascii.Error, ValueError, SecretBoxError, TypeError):
        return None
    if not session.sid:  # sealed before sessions had ids: no way to revoke it
        return None
    moment = now.timestamp()
    if session.stage == OK:
        if moment >= session.issued + LIFETIME.total_seconds():
            return None
        if moment >= session.seen + IDLE.total_seconds():
            return None
    elif moment >= session.issued + PENDING.total_seconds():
        return None
    return session


def same_token(expected: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(expected.encode(), (presented or "").encode())
