"""Encryption at rest (AES-256-GCM SecretBox): layout, tamper, wrong key, rotation, key file."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chamberlain.crypto import secrets as sb
from chamberlain.crypto.secrets import KeyFileError, SecretBox, SecretBoxError

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
AAD = b"access-key:AKIAEXAMPLE000000000"
PLAINTEXT = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _leaks(text: str, *secrets_: bytes) -> bool:
    for secret in secrets_:
        for form in (secret.hex(), base64.b64encode(secret).decode(), repr(secret)):
            if form in text:
                return True
        if secret.decode("latin-1") in text:
            return True
    return False


def test_round_trip_and_layout() -> None:
    box = SecretBox(KEY_A)
    blob = box.encrypt(PLAINTEXT, AAD)
    assert len(blob) == 1 + 4 + 12 + len(PLAINTEXT) + 16
    assert blob[0] == sb.BLOB_VERSION == 1
    assert blob[1:5] == sb.key_id(KEY_A)
    assert PLAINTEXT not in blob
    assert box.decrypt(blob, AAD) == PLAINTEXT


def test_empty_plaintext() -> None:
    box = SecretBox(KEY_A)
    assert box.decrypt(box.encrypt(b"", b""), b"") == b""


def test_nonce_is_random() -> None:
    box = SecretBox(KEY_A)
    blobs = {box.encrypt(PLAINTEXT, AAD) for _ in range(200)}
    assert len(blobs) == 200
    assert len({blob[5:17] for blob in blobs}) == 200


def test_wrong_aad_fails() -> None:
    box = SecretBox(KEY_A)
    blob = box.encrypt(PLAINTEXT, AAD)
    with pytest.raises(SecretBoxError, match="decryption failed"):
        box.decrypt(blob, b"access-key:AKIAOTHER")
    with pytest.raises(SecretBoxError):
        box.decrypt(blob, b"")


def test_every_single_bit_flip_is_detected() -> None:
    box = SecretBox(KEY_A)
    blob = box.encrypt(b"seed", AAD)
    for index in range(len(blob)):
        for bit in range(8):
            tampered = bytearray(blob)
            tampered[index] ^= 1 << bit
            with pytest.raises(SecretBoxError):
                box.decrypt(bytes(tampered), AAD)


def test_every_truncation_is_detected() -> None:
    box = SecretBox(KEY_A)
    blob = box.encrypt(b"seed", AAD)
    for length in range(len(blob)):
        with pytest.raises(SecretBoxError):
            box.decrypt(blob[:length], AAD)
    with pytest.raises(SecretBoxError):
        box.decrypt(blob + b"\x00", AAD)


def test_unknown_key_fails_clearly() -> None:
    blob = SecretBox(KEY_A).encrypt(PLAINTEXT, AAD)
    with pytest.raises(SecretBoxError, match="unknown key id") as caught:
        SecretBox(KEY_B).decrypt(blob, AAD)
    assert sb.key_id(KEY_A).hex() in str(caught.value)


def test_unsupported_version() -> None:
    box = SecretBox(KEY_A)
    blob = bytearray(box.encrypt(PLAINTEXT, AAD))
    blob[0] = 2
    with pytest.raises(SecretBoxError, match="version 2"):
        box.decrypt(bytes(blob), AAD)


@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(max_size=80))
def test_garbage_raises_only_secretbox_error(garbage: bytes) -> None:
    with pytest.raises(SecretBoxError):
        SecretBox(KEY_A).decrypt(garbage, AAD)


@settings(max_examples=200, deadline=None)
@given(plaintext=st.binary(max_size=200), aad=st.binary(max_size=50))
def test_round_trip_property(plaintext: bytes, aad: bytes) -> None:
    box = SecretBox(KEY_A)
    assert box.decrypt(box.encrypt(plaintext, aad), aad) == plaintext


def test_rotation() -> None:
    old_box = SecretBox(KEY_A)
    old_blob = old_box.encrypt(PLAINTEXT, AAD)

    rotated = SecretBox(KEY_B, [KEY_A])
    assert rotated.current_key_id == sb.key_id(KEY_B).hex()
    assert rotated.key_ids == (sb.key_id(KEY_B).hex(), sb.key_id(KEY_A).hex())
    assert rotated.decrypt(old_blob, AAD) == PLAINTEXT
    assert rotated.needs_reencrypt(old_blob)
    assert rotated.blob_key_id(old_blob) == sb.key_id(KEY_A).hex()

    new_blob = rotated.reencrypt(old_blob, AAD)
    assert not rotated.needs_reencrypt(new_blob)
    assert new_blob[1:5] == sb.key_id(KEY_B)
    assert rotated.decrypt(new_blob, AAD) == PLAINTEXT
    # Once the old key is dropped, only re-encrypted blobs still open.
    only_new = SecretBox(KEY_B)
    assert only_new.decrypt(new_blob, AAD) == PLAINTEXT
    with pytest.raises(SecretBoxError, match="unknown key id"):
        only_new.decrypt(old_blob, AAD)
    # The old box cannot read what the new key wrote.
    with pytest.raises(SecretBoxError):
        old_box.decrypt(new_blob, AAD)


def test_reencrypt_checks_aad() -> None:
    rotated = SecretBox(KEY_B, [KEY_A])
    old_blob = SecretBox(KEY_A).encrypt(PLAINTEXT, AAD)
    with pytest.raises(SecretBoxError):
        rotated.reencrypt(old_blob, b"other row")


def test_duplicate_keys_rejected() -> None:
    with pytest.raises(KeyFileError, match="share key id"):
        SecretBox(KEY_A, [KEY_A])


@pytest.mark.parametrize("key", [b"", b"x" * 16, b"x" * 31, b"x" * 33])
def test_bad_key_length(key: bytes) -> None:
    with pytest.raises(KeyFileError, match="32 bytes"):
        SecretBox(key)


def test_generate_key() -> None:
    keys = {sb.generate_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(len(k) == 32 for k in keys)


def test_keyfile_round_trip() -> None:
    text = sb.encode_keyfile([KEY_B, KEY_A])
    assert sb.decode_keyfile(text) == [KEY_B, KEY_A]
    box = SecretBox.from_keyfile(text)
    assert box.current_key_id == sb.key_id(KEY_B).hex()
    assert box.decrypt(SecretBox(KEY_A).encrypt(PLAINTEXT, AAD), AAD) == PLAINTEXT


def test_keyfile_comments_and_blank_lines() -> None:
    text = f"# header\n\n  {base64.b64encode(KEY_A).decode()}  \n# old\n"
    assert sb.decode_keyfile(text) == [KEY_A]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no key"),
        ("# only a comment\n", "no key"),
        ("not base64!!\n", "line 1: not valid base64"),
        ("# c\n" + base64.b64encode(b"k" * 16).decode() + "\n", "line 2: .*got 16"),
    ],
)
def test_keyfile_errors(text: str, message: str) -> None:
    with pytest.raises(KeyFileError, match=message):
        sb.decode_keyfile(text)


def test_encode_keyfile_needs_a_key() -> None:
    with pytest.raises(KeyFileError):
        sb.encode_keyfile([])


def test_nothing_secret_in_messages_or_repr() -> None:
    box = SecretBox(KEY_A, [KEY_B])
    assert not _leaks(repr(box), KEY_A, KEY_B)
    assert not _leaks(str(box), KEY_A, KEY_B)
    blob = box.encrypt(PLAINTEXT, AAD)
    failures: list[Exception] = []
    for attempt in (
        lambda: box.decrypt(blob, b"wrong"),
        lambda: SecretBox(sb.generate_key()).decrypt(blob, AAD),
        lambda: box.decrypt(blob[:10], AAD),
        lambda: sb.decode_keyfile(base64.b64encode(KEY_A[:20]).decode()),
        lambda: sb.decode_keyfile(base64.b64encode(KEY_A).decode()[:-3] + "!!!"),
    ):
        with pytest.raises(ValueError) as caught:
            attempt()
        failures.append(caught.value)
    for failure in failures:
        text = str(failure) + repr(failure)
        assert not _leaks(text, KEY_A, KEY_B, PLAINTEXT)
        assert failure.__cause__ is None
