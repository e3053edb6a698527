"""STS session tokens: sealing, tamper, truncation, garbage, wrong key, rotation, expiry."""

from __future__ import annotations

import base64
import json
import string
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chamberlain.crypto import secrets as sb
from chamberlain.crypto import tokens
from chamberlain.crypto.tokens import InvalidToken, TokenSealer

KEY_A = bytes(range(32))
KEY_B = bytes(range(50, 82))
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
CLAIMS = {
    "akid": "ASIAEXAMPLE000000000",
    "secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "arn": "arn:aws:sts::123456789012:assumed-role/Admin/alice",
    "exp": tokens.expires_claim(NOW + timedelta(hours=1)),
    "tags": {"project": "blue"},
    "policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
}
URLSAFE = set(string.ascii_letters + string.digits + "-_")


def test_round_trip() -> None:
    sealer = TokenSealer(KEY_A)
    token = sealer.seal(CLAIMS)
    assert set(token) <= URLSAFE
    assert sealer.open(token) == CLAIMS


def test_token_is_opaque_and_fresh() -> None:
    sealer = TokenSealer(KEY_A)
    first, second = sealer.seal(CLAIMS), sealer.seal(CLAIMS)
    assert first != second
    raw = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4))
    assert raw[0] == tokens.TOKEN_VERSION
    for value in ("alice", "ASIAEXAMPLE", "wJalrXUtnFEMI", "blue"):
        assert value.encode() not in raw
        assert value not in first


def test_unicode_claims() -> None:
    sealer = TokenSealer(KEY_A)
    claims = {"name": "zoë ✓", "n": 1, "f": 1.5, "none": None, "t": True}
    assert sealer.open(sealer.seal(claims)) == claims


def test_every_character_substitution_is_rejected() -> None:
    sealer = TokenSealer(KEY_A)
    token = sealer.seal({"exp": 1, "who": "x"})
    for index, char in enumerate(token):
        for replacement in ("A", "z", "-", "_", "0"):
            if replacement == char:
                continue
            tampered = token[:index] + replacement + token[index + 1 :]
            with pytest.raises(InvalidToken):
                sealer.open(tampered)


def test_non_canonical_encoding_is_rejected() -> None:
    """Stray low bits in the last character decode to the same bytes: still refused."""
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    sealer = TokenSealer(KEY_A)
    claims: dict[str, object] = {"exp": 1, "pad": ""}
    token = sealer.seal(claims)
    while len(token) % 4 == 0:  # need a final partial group, which has unused bits
        claims["pad"] = str(claims["pad"]) + "x"
        token = sealer.seal(claims)
    last = alphabet.index(token[-1])
    assert last % 4 == 0  # canonical: the unused low bits are zero
    variant = token[:-1] + alphabet[last + 1]
    assert base64.urlsafe_b64decode(variant + "==") == base64.urlsafe_b64decode(token + "==")
    assert sealer.open(token) == claims
    with pytest.raises(InvalidToken, match="malformed"):
        sealer.open(variant)


def test_every_truncation_is_rejected() -> None:
    sealer = TokenSealer(KEY_A)
    token = sealer.seal(CLAIMS)
    for length in range(len(token)):
        with pytest.raises(InvalidToken):
            sealer.open(token[:length])
    with pytest.raises(InvalidToken):
        sealer.open(token + "A")


@pytest.mark.parametrize(
    "garbage",
    ["", "=", "abc=", "a b", "héllo", "%%%%", "A" * 200, "A" * (tokens.MAX_TOKEN_CHARS + 4)],
)
def test_garbage_is_rejected(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        TokenSealer(KEY_A).open(garbage)


def test_non_string_is_rejected() -> None:
    with pytest.raises(InvalidToken):
        TokenSealer(KEY_A).open(b"bytes")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(garbage=st.text(max_size=120))
def test_arbitrary_text_raises_only_invalid_token(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        TokenSealer(KEY_A).open(garbage)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=120))
def test_arbitrary_well_encoded_bytes_raise_only_invalid_token(raw: bytes) -> None:
    text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        TokenSealer(KEY_A).open(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@settings(max_examples=100, deadline=None)
@given(claims=st.dictionaries(st.text(max_size=12), json_values, max_size=6))
def test_round_trip_property(claims: dict[str, object]) -> None:
    sealer = TokenSealer(KEY_A)
    assert sealer.open(sealer.seal(claims)) == claims


def test_wrong_key_is_rejected() -> None:
    token = TokenSealer(KEY_A).seal(CLAIMS)
    with pytest.raises(InvalidToken, match="unknown key"):
        TokenSealer(KEY_B).open(token)


def test_forged_key_id_is_rejected() -> None:
    """A token sealed under another key but carrying our key id fails authentication."""
    ours, theirs = TokenSealer(KEY_A), TokenSealer(KEY_B)
    raw = bytearray(base64.urlsafe_b64decode(theirs.seal(CLAIMS) + "=="))
    raw[1:5] = bytes.fromhex(ours.current_key_id)
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(InvalidToken, match="failed authentication"):
        ours.open(forged)


def test_unsupported_version() -> None:
    sealer = TokenSealer(KEY_A)
    raw = bytearray(base64.urlsafe_b64decode(sealer.seal(CLAIMS) + "=="))
    raw[0] = 9
    with pytest.raises(InvalidToken, match="version"):
        sealer.open(base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode())


def test_rotation() -> None:
    old_token = TokenSealer(KEY_A).seal(CLAIMS)
    rotated = TokenSealer(KEY_B, [KEY_A])
    assert rotated.open(old_token) == CLAIMS
    assert rotated.needs_reseal(old_token)
    new_token = rotated.seal(CLAIMS)
    assert not rotated.needs_reseal(new_token)
    with pytest.raises(InvalidToken):
        TokenSealer(KEY_A).open(new_token)


def test_same_operator_key_as_secretbox_is_domain_separated() -> None:
    """The token AES key is derived, so sharing the operator key with SecretBox is safe."""
    assert TokenSealer(KEY_A).current_key_id != sb.key_id(KEY_A).hex()


def test_duplicate_and_bad_keys() -> None:
    with pytest.raises(ValueError, match="share key id"):
        TokenSealer(KEY_A, [KEY_A])
    with pytest.raises(ValueError, match="32 bytes"):
        TokenSealer(b"short")


def test_unserializable_claims_do_not_leak() -> None:
    class Secretive:
        def __repr__(self) -> str:
            return "HUNTER2"

    for claims in ({"x": Secretive()}, {"x": float("nan")}):
        with pytest.raises(TypeError) as caught:
            TokenSealer(KEY_A).seal(claims)
        assert "HUNTER2" not in str(caught.value)
        assert caught.value.__cause__ is None


def test_messages_and_repr_do_not_leak() -> None:
    sealer = TokenSealer(KEY_A, [KEY_B])
    for text in (repr(sealer), str(sealer)):
        assert KEY_A.hex() not in text
        assert base64.b64encode(KEY_A).decode() not in text
    token = sealer.seal(CLAIMS)
    tampered = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    for bad in (tampered, token[:30], TokenSealer(sb.generate_key()).seal(CLAIMS)):
        with pytest.raises(InvalidToken) as caught:
            sealer.open(bad)
        message = str(caught.value) + repr(caught.value)
        assert bad not in message
        assert bad[:20] not in message
        for value in ("alice", "ASIAEXAMPLE", "wJalr", json.dumps(CLAIMS)):
            assert value not in message
        assert caught.value.__cause__ is None


def test_expired() -> None:
    exp = tokens.expires_claim(NOW)
    assert exp == int(NOW.timestamp())
    claims = {"exp": exp}
    assert not tokens.expired(claims, NOW - timedelta(seconds=1))
    assert tokens.expired(claims, NOW)  # at the instant of expiry: expired
    assert tokens.expired(claims, NOW + timedelta(seconds=1))
    # Other time zones denote the same instant.
    assert tokens.expired(claims, NOW.astimezone(timezone(timedelta(hours=-7))))


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"exp": None},
        {"exp": "9999999999"},
        {"exp": True},
        {"exp": float("nan")},
        {"exp": float("inf")},
    ],
)
def test_expired_fails_closed(claims: dict[str, object]) -> None:
    assert tokens.expired(claims, NOW)


def test_expired_far_future() -> None:
    assert not tokens.expired({"exp": 2**40}, NOW)
    assert not tokens.expired({"exp": 2.0e10}, NOW)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        tokens.expired({"exp": 1}, datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        tokens.expires_claim(datetime(2024, 1, 1))


def test_expires_claim_floors_fractions() -> None:
    moment = datetime(2024, 5, 1, 12, 0, 0, 900_000, tzinfo=UTC)
    assert tokens.expires_claim(moment) == int(NOW.timestamp())
