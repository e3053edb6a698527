"""STS session tokens: claims sealed into an opaque, URL-safe, authenticated string.

A token is ``base64url_nopad(version | key id | nonce | AES-256-GCM(claims JSON))``:

* ``version`` (1 byte) is :data:`TOKEN_VERSION`; ``key id`` (4 bytes) names the sealing
  key so a :class:`TokenSealer` holding older keys can still open tokens issued before a
  rotation; ``nonce`` is 96 random bits; the header is authenticated as associated data.
* the AES key is not the operator's key itself but HKDF-SHA256 of it under a label of
  its own, so the same operator key may also serve :mod:`.secrets` without the two uses
  ever sharing an AES key.
* the claims are JSON (sorted keys, compact), so a claims dict round-trips exactly as far
  as JSON does (tuples come back as lists, keys as strings).

Opening checks integrity only. Expiry is the caller's decision with its own ``now``:
see :func:`expired` and the :data:`EXPIRES_CLAIM` convention (integer epoch seconds).

Every failure to open raises :class:`InvalidToken` with a fixed message: neither the
token, the claims nor any key appear in messages or reprs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

TOKEN_VERSION = 1
KEY_BYTES = 32
KEY_ID_BYTES = 4
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = 1 + KEY_ID_BYTES
MIN_TOKEN_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES
# Refuse to even decode absurdly long input (a cheap guard against oversized headers).
MAX_TOKEN_CHARS = 16_384

EXPIRES_CLAIM = "exp"
"""Claim holding the expiry as integer seconds since the Unix epoch (UTC)."""

_HKDF_INFO = b"chamberlain sts session token v1"
_KEY_ID_LABEL = b"chamberlain sts token key id v1"
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+")


class InvalidToken(ValueError):
    """A token could not be opened. The message never contains the token or claims."""


def _derive(key: bytes) -> bytes:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise ValueError(f"a token key must be {KEY_BYTES} bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_HKDF_INFO)
    return hkdf.derive(key)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if len(text) > MAX_TOKEN_CHARS or _TOKEN_RE.fullmatch(text) is None:
        raise InvalidToken("malformed session token")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("malformed session token") from None
    # One token, one spelling: refuse non-canonical encodings (stray low bits).
    if _b64encode(raw) != text:
        raise InvalidToken("malformed session token")
    return raw


class TokenSealer:
    """Seals claims with the current key; opens tokens sealed with any key it holds."""

    __slots__ = ("_aeads", "_current_id")

    def __init__(self, current: bytes, older: Iterable[bytes] = ()) -> None:
        aeads: dict[bytes, AESGCM] = {}
        current_id = b""
        for key in (current, *older):
            derived = _derive(key)
            kid = hmac.new(derived, _KEY_ID_LABEL, hashlib.sha256).digest()[:KEY_ID_BYTES]
            if kid in aeads:
                raise ValueError(f"two token keys share key id {kid.hex()}")
            aeads[kid] = AESGCM(derived)
            current_id = current_id or kid
        self._aeads = aeads
        self._current_id = current_id

    @property
    def current_key_id(self) -> str:
        """The current key's id, as hex (safe to log)."""
        return self._current_id.hex()

    def seal(self, claims: Mapping[str, Any]) -> str:
        """An opaque URL-safe token carrying ``claims`` (a JSON-serializable mapping)."""
        try:
            payload = json.dumps(
                dict(claims), sort_keys=True, separators=(",", ":"), allow_nan=False
            ).encode("utf-8")
        except (TypeError, ValueError):
            raise TypeError("token claims must be a JSON-serializable mapping") from None
        header = bytes([TOKEN_VERSION]) + self._current_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aeads[self._current_id].encrypt(nonce, payload, header)
        return _b64encode(header + nonce + sealed)

    def open(self, token: str) -> dict[str, Any]:
        """The claims of ``token``; raises :class:`InvalidToken` on any defect."""
        if not isinstance(token, str):
            raise InvalidToken("malformed session token")
        raw = _b64decode(token)
        if len(raw) < MIN_TOKEN_BYTES:
            raise InvalidToken("session token is truncated")
        if raw[0] != TOKEN_VERSION:
            raise InvalidToken("unsupported session token version")
        header = raw[:HEADER_BYTES]
        aead = self._aeads.get(raw[1:HEADER_BYTES])
        if aead is None:
            raise InvalidToken("session token was sealed with an unknown key")
        nonce = raw[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        try:
            payload = aead.decrypt(nonce, raw[HEADER_BYTES + NONCE_BYTES :], header)
        except InvalidTag:
            raise InvalidToken("session token failed authentication") from None
        try:
            claims = json.loads(payload)
        except ValueError:
            raise InvalidToken("session token payload is not valid") from None
        if not isinstance(claims, dict):
            raise InvalidToken("session token payload is not valid")
        return claims

    def needs_reseal(self, token: str) -> bool:
        """True when ``token`` is well-formed but was sealed with an older key."""
        raw = _b64decode(token)
        if len(raw) < MIN_TOKEN_BYTES:
            raise InvalidToken("session token is truncated")
        return raw[1:HEADER_BYTES] != self._current_id

    def __repr__(self) -> str:
        return f"TokenSealer(current={self.current_key_id}, keys={len(self._aeads)})"

    __str__ = __repr__


def expires_claim(expiration: datetime) -> int:
    """The :data:`EXPIRES_CLAIM` value for an aware ``expiration`` (whole seconds, floor)."""
    if expiration.tzinfo is None:
        raise ValueError("expiration must be timezone-aware")
    return int(expiration.timestamp() // 1)


def expired(claims: Mapping[str, Any], now: datetime) -> bool:
    """True when the claims' expiry is at or before ``now`` (an aware datetime).

    Fails closed: a missing, non-numeric or non-finite :data:`EXPIRES_CLAIM` counts as expired.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    exp = claims.get(EXPIRES_CLAIM)
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp):
        return True
    return now.timestamp() >= exp
