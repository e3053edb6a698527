"""The agent's two kinds of token.

IMDSv2 session tokens: stateless, an expiry time with an HMAC under a key the agent draws
at start, so any number of `PUT /latest/api/token` calls cost no memory and a restart
invalidates them all (SDKs then ask for a new one, as they do on EC2).

The container-provider token: one random secret per agent start, written to a file that
only the applications allowed to have the role's credentials can read.
"""

from __future__ import annotations

import base64
import binascii
import grp
import hashlib
import hmac
import os
import secrets
import struct
import uuid
from pathlib import Path

from chamberlain.agent.credentials import Clock, utc_now

TTL_MIN, TTL_MAX = 1, 21600  # IMDSv2's bounds for X-aws-ec2-metadata-token-ttl-seconds
_PURPOSE = b"chamberlain-agent imds token\0"
_EXPIRY = struct.Struct(">Q")


def parse_ttl(value: str | None) -> int | None:
    """The requested token TTL, or None if the header is missing or out of IMDS's range."""
    if value is None or not value.isascii() or not value.isdigit():
        return None
    ttl = int(value)
    return ttl if TTL_MIN <= ttl <= TTL_MAX else None


class ImdsTokens:
    def __init__(self, clock: Clock = utc_now, key: bytes | None = None) -> None:
        self.clock = clock
        self._key = key or secrets.token_bytes(32)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, _PURPOSE + payload, hashlib.sha256).digest()

    def issue(self, ttl: int) -> str:
        expires = int(self.clock().timestamp()) + ttl
        payload = _EXPIRY.pack(expires)
        return base64.urlsafe_b64encode(payload + self._mac(payload)).decode()

    def remaining(self, token: str | None) -> int | None:
        """Seconds the token has left, or None if it is missing, forged or expired."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            return None
        if len(raw) != _EXPIRY.size + hashlib.sha256().digest_size:
            return None
        payload, mac = raw[: _EXPIRY.size], raw[_EXPIRY.size :]
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        (expires,) = _EXPIRY.unpack(payload)
        left = expires - int(self.clock().timestamp())
        return left if left > 0 else None


def new_container_token() -> str:
    return secrets.token_urlsafe(32)


def write_token_file(path: Path, token: str, group: str | None = None) -> None:
    """Write the token atomically, mode 0600 (0640 and that group's with `group`), with no
    trailing newline: botocore sends the file's content as the Authorization header as is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            if group is not None:
                os.fchown(handle.fileno(), -1, grp.getgrnam(group).gr_gid)
                os.fchmod(handle.fileno(), 0o640)
            else:
                os.fchmod(handle.fileno(), 0o600)  # whatever the umask
            handle.write(token)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
