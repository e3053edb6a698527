"""Encryption at rest for access-key secrets and TOTP seeds (AES-256-GCM).

The operator holds one or more 32-byte keys in a key file. A :class:`SecretBox` encrypts
with its *current* key and decrypts with any key it holds, so rotating is: generate a new
key, put it first in the key file, keep the old ones below it until every stored blob has
been re-encrypted (:meth:`SecretBox.needs_reencrypt` tells which ones still need it).

Blob layout (bytes)::

    version (1) | key id (4) | nonce (12) | ciphertext + GCM tag (len(plaintext) + 16)

* ``version`` is :data:`BLOB_VERSION` (1); anything else is refused.
* ``key id`` is derived from the key itself (first 4 bytes of HMAC-SHA256(key, label)), so
  the key file needs no id column and an id says nothing about the key.
* the nonce is 96 random bits per encryption: with one key, the birthday bound for a
  repeated nonce stays far below 2^-32 up to ~2^32 encryptions, far beyond the number
  of secrets this service stores.
* the header (version + key id) is authenticated together with the caller's ``aad``,
  which should bind the blob to its record (e.g. ``b"access-key:AKIA..."``) so a blob
  copied onto another row fails to decrypt.

Key file format: UTF-8 text, one base64-encoded key per line, the current key first;
blank lines and lines starting with ``#`` are ignored. Writing it with mode 0600 is the
caller's I/O; this module only encodes and decodes the text.

No message, repr or str produced here contains key material or plaintext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
KEY_ID_BYTES = 4
NONCE_BYTES = 12
TAG_BYTES = 16
BLOB_VERSION = 1
HEADER_BYTES = 1 + KEY_ID_BYTES
MIN_BLOB_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES

_KEY_ID_LABEL = b"chamberlain secretbox key id v1"


class SecretBoxError(ValueError):
    """A blob could not be decrypted. The message never contains key or plaintext."""


class KeyFileError(ValueError):
    """A key file or key is malformed. The message never contains key material."""


def generate_key() -> bytes:
    """A new random 32-byte AES-256 key."""
    return os.urandom(KEY_BYTES)


def key_id(key: bytes) -> bytes:
    """The 4-byte id of ``key`` as it appears in blob headers."""
    _check_key(key)
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).digest()[:KEY_ID_BYTES]


def encode_keyfile(keys: Iterable[bytes]) -> str:
    """The text of a key file holding ``keys``, the current (encrypting) key first."""
    keys = list(keys)
    if not keys:
        raise KeyFileError("a key file needs at least one key")
    lines = ["# chamberlain secret keys: the first is current, the others decrypt only"]
    for key in keys:
        _check_key(key)
        lines.append(base64.b64encode(key).decode("ascii"))
    return "\n".join(lines) + "\n"


def decode_keyfile(text: str) -> list[bytes]:
    """The keys in a key file's text, current first. Raises :class:`KeyFileError`."""
    keys: list[bytes] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            key = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise KeyFileError(f"key file line {number}: not valid base64") from None
        if len(key) != KEY_BYTES:
            raise KeyFileError(
                f"key file line {number}: a key must be {KEY_BYTES} bytes, got {len(key)}"
            )
        keys.append(key)
    if not keys:
        raise KeyFileError("key file holds no key")
    return keys


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise KeyFileError(f"a key must be {KEY_BYTES} bytes")


class SecretBox:
    """AES-256-GCM under a current key, decrypting with the current or any older key."""

    __slots__ = ("_aeads", "_current_id")

    def __init__(self, current: bytes, older: Iterable[bytes] = ()) -> None:
        aeads: dict[bytes, AESGCM] = {}
        for key in (current, *older):
            kid = key_id(key)
            if kid in aeads:
                # Same key listed twice, or (chance ~2^-32) two keys sharing an id.
                raise KeyFileError(f"two keys share key id {kid.hex()}")
            aeads[kid] = AESGCM(key)
        self._aeads = aeads
        self._current_id = key_id(current)

    @classmethod
    def from_keyfile(cls, text: str) -> SecretBox:
        """A box holding the keys of a key file's text (the first is current)."""
        current, *older = decode_keyfile(text)
        return cls(current, older)

    @property
    def current_key_id(self) -> str:
        """The current key's id, as hex (safe to log)."""
        return self._current_id.hex()

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every held key's id, as hex, the current first."""
        return tuple(kid.hex() for kid in self._aeads)

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt ``plaintext`` under the current key, bound to ``aad``."""
        header = bytes([BLOB_VERSION]) + self._current_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aeads[self._current_id].encrypt(nonce, plaintext, header + aad)
        return header + nonce + sealed

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        """The plaintext of ``blob``; raises :class:`SecretBoxError` on any failure."""
        header, kid, nonce, sealed = _split(blob)
        aead = self._aeads.get(kid)
        if aead is None:
            raise SecretBoxError(f"encrypted with unknown key id {kid.hex()}")
        try:
            return aead.decrypt(nonce, sealed, header + aad)
        except InvalidTag:
            raise SecretBoxError(
                "decryption failed: blob tampered with, wrong key, or wrong context"
            ) from None

    def blob_key_id(self, blob: bytes) -> str:
        """The hex key id a blob was encrypted under (without decrypting it)."""
        return _split(blob)[1].hex()

    def needs_reencrypt(self, blob: bytes) -> bool:
        """True when ``blob`` was encrypted under a key other than the current one."""
        return _split(blob)[1] != self._current_id

    def reencrypt(self, blob: bytes, aad: bytes) -> bytes:
        """``blob`` decrypted and encrypted again under the current key (key rotation)."""
        return self.encrypt(self.decrypt(blob, aad), aad)

    def __repr__(self) -> str:
        return f"SecretBox(current={self.current_key_id}, keys={len(self._aeads)})"

    __str__ = __repr__


def _split(blob: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    if len(blob) < MIN_BLOB_BYTES:
        raise SecretBoxError("blob is truncated")
    if blob[0] != BLOB_VERSION:
        raise SecretBoxError(f"unsupported blob version {blob[0]}")
    header = blob[:HEADER_BYTES]
    kid = blob[1:HEADER_BYTES]
    nonce = blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    return header, kid, nonce, blob[HEADER_BYTES + NONCE_BYTES :]
