"""argon2id password hashing and the common-password check."""

from __future__ import annotations

import random
import string
from importlib import resources

import argon2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chamberlain.crypto import passwords
from chamberlain.crypto.passwords import (
    DEFAULT_PARAMS,
    TEST_PARAMS,
    Argon2Params,
    common_password,
    hash_password,
    needs_rehash,
    verify_password,
)

CHEAP_HASH = hash_password("correct horse battery staple", TEST_PARAMS)


# --- hashing --------------------------------------------------------------------------


def test_defaults_are_rfc_9106_second_recommendation() -> None:
    """RFC 9106 section 4, second option: argon2id, t=3, m=64 MiB, p=4, 128-bit salt."""
    rfc = argon2.profiles.RFC_9106_LOW_MEMORY
    assert rfc.type is argon2.Type.ID
    assert DEFAULT_PARAMS.time_cost == rfc.time_cost == 3
    assert DEFAULT_PARAMS.memory_cost_kib == rfc.memory_cost == 65536
    assert DEFAULT_PARAMS.parallelism == rfc.parallelism == 4
    assert DEFAULT_PARAMS.salt_len == rfc.salt_len == 16
    assert DEFAULT_PARAMS.hash_len == rfc.hash_len == 32


def test_owasp_minimum_profile() -> None:
    """OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1."""
    owasp = passwords.OWASP_MIN_PARAMS
    assert (owasp.memory_cost_kib, owasp.time_cost, owasp.parallelism) == (19456, 2, 1)


def test_default_hash_encodes_its_parameters() -> None:
    encoded = hash_password("s3cret-Passphrase")  # about a second on a small machine
    assert encoded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert not needs_rehash(encoded)
    assert needs_rehash(encoded, TEST_PARAMS)


def test_round_trip() -> None:
    assert CHEAP_HASH.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert verify_password(CHEAP_HASH, "correct horse battery staple")
    assert not verify_password(CHEAP_HASH, "correct horse battery stapler")
    assert not verify_password(CHEAP_HASH, "")
    assert "correct horse" not in CHEAP_HASH


def test_salts_differ() -> None:
    hashes = {hash_password("same", TEST_PARAMS) for _ in range(20)}
    assert len(hashes) == 20
    assert all(verify_password(h, "same") for h in hashes)


def test_unicode_passwords() -> None:
    encoded = hash_password("pässwörd-ünïcode-✓", TEST_PARAMS)
    assert verify_password(encoded, "pässwörd-ünïcode-✓")
    assert not verify_password(encoded, "passwörd-ünïcode-✓")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "garbage",
        "$argon2id$",
        "$argon2id$v=19$m=8,t=1,p=1$",
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt
        CHEAP_HASH[:-5],
        CHEAP_HASH + "AAAA",
        CHEAP_HASH.replace("argon2id", "argon2i"),
        CHEAP_HASH.replace("$v=19", "$v=99"),
    ],
    # CHEAP_HASH has a random salt: ids by position keep xdist workers' collections equal.
    ids=lambda _: "",
)
def test_bad_hashes_never_raise(bad: str) -> None:
    assert verify_password(bad, "correct horse battery staple") is False
    assert needs_rehash(bad) is True


def test_argon2i_hash_is_not_accepted() -> None:
    weaker = argon2.PasswordHasher(
        time_cost=1, memory_cost=8, parallelism=1, type=argon2.Type.I
    ).hash("pw")
    assert verify_password(weaker, "pw") is False
    assert needs_rehash(weaker, TEST_PARAMS)


@settings(max_examples=300, deadline=None)
@given(index=st.integers(min_value=0), replacement=st.characters())
def test_mutated_hashes_never_raise(index: int, replacement: str) -> None:
    position = index % len(CHEAP_HASH)
    mutated = CHEAP_HASH[:position] + replacement + CHEAP_HASH[position + 1 :]
    result = verify_password(mutated, "correct horse battery staple")
    assert result is (mutated == CHEAP_HASH)


@settings(max_examples=200, deadline=None)
@given(junk=st.text(max_size=60))
def test_arbitrary_text_never_raises(junk: str) -> None:
    assert verify_password(junk, "pw") is False
    assert verify_password("$argon2id$" + junk, "pw") is False
    assert needs_rehash(junk) is True


def test_needs_rehash_tracks_parameters() -> None:
    assert not needs_rehash(CHEAP_HASH, TEST_PARAMS)
    assert needs_rehash(CHEAP_HASH)  # default params differ
    for changed in (
        Argon2Params(time_cost=2, memory_cost_kib=8, parallelism=1),
        Argon2Params(time_cost=1, memory_cost_kib=16, parallelism=1),
        Argon2Params(time_cost=1, memory_cost_kib=16, parallelism=2),
        Argon2Params(time_cost=1, memory_cost_kib=8, parallelism=1, hash_len=64),
        Argon2Params(time_cost=1, memory_cost_kib=8, parallelism=1, salt_len=32),
    ):
        assert needs_rehash(CHEAP_HASH, changed), changed


def test_old_parameters_still_verify() -> None:
    """A hash made under other parameters verifies (so login can then rehash it)."""
    stronger = Argon2Params(time_cost=2, memory_cost_kib=32, parallelism=2)
    encoded = hash_password("pw", stronger)
    assert verify_password(encoded, "pw")
    assert needs_rehash(encoded, TEST_PARAMS)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"time_cost": 0},
        {"parallelism": 0},
        {"memory_cost_kib": 7, "parallelism": 1},
        {"memory_cost_kib": 31, "parallelism": 4},
        {"hash_len": 8},
        {"salt_len": 8},
    ],
)
def test_params_validated(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Argon2Params(**kwargs)


def test_verify_dummy_is_false_and_not_a_real_check() -> None:
    assert passwords.verify_dummy("anything", TEST_PARAMS) is False
    assert passwords.verify_dummy("", TEST_PARAMS) is False


# --- common passwords -----------------------------------------------------------------

COMMON = [
    "",
    "   ",
    "password",
    "Password",
    "PASSWORD",
    "password1",
    "Password123",
    "Password2024!",
    "!password!",
    "p@ssw0rd",
    "P@$$w0rd1",
    "passw0rd",
    "drowssap",
    "letmein",
    "l3tm31n",
    "iloveyou",
    "I Love You",
    "welcome1",
    "admin",
    "@dmin",
    "Administrator1",
    "changeme",
    "trustno1",
    "hell0",
    "dragon99!",
    "monkey",
    "monkeymonkey",
    "football1",
    "amazon123",
    "chamberlain",
    # sequences and keyboard walks
    "123456",
    "12345678",
    "123456789",
    "1234567890",
    "0987654321",
    "abcdef",
    "abc123",
    "ABCdef123",
    "qwerty",
    "QWERTY123",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "1qaz2wsx",
    "zaq12wsx",
    "qazwsx",
    "qweasdzxc",
    "1q2w3e4r",
    "poiuytrewq",
    "azerty",
    "qwertz",
    "!@#$%^&*",
    "13579",
    "147258369",
    # repeats
    "aaaaaa",
    "zzzzzzzzzz",
    "111111",
    "000000000000",
    "ababab",
    "abcabc",
    "123123",
    "121212",
    "xyzxyzxyz",
    # digits: short or dates
    "8271",
    "739104",
    "1234",
    "19871231",
    "31121987",
    "12311987",
    "311287",
]

NOT_COMMON = [
    "correct horse battery staple",
    "Tr0ub4dor&3",
    "xk7#mQ9!vLp2",
    "zebra-lantern-88",
    "horsecorrect",
    "mY-d0g-eats-c4rrots",
    "passwordmanagerrocks",
    "8302957461",
    "20241399",  # not a date
    "monkeydragonsunshine",
    "kqzvbtwp",
    "password12345678",  # a long random-ish suffix is not "common" (policy decides length)
]


@pytest.mark.parametrize("password", COMMON)
def test_common_passwords_rejected(password: str) -> None:
    assert common_password(password)


@pytest.mark.parametrize("password", NOT_COMMON)
def test_uncommon_passwords_pass(password: str) -> None:
    assert not common_password(password)


def test_context_words() -> None:
    assert not common_password("zanzibar1990")
    assert common_password("zanzibar1990", context=["Zanzibar"])
    assert common_password("Z@nz1bar!", context=["zanzibar"])
    assert common_password("zanzibarzanzibar", context=["zanzibar"])
    # Very short context words are ignored rather than banning everything built on them.
    assert not common_password("ab-kqzvbtwp", context=["ab"])


def test_random_passwords_pass() -> None:
    rng = random.Random(20240501)
    alphabet = string.ascii_letters + string.digits + "!#%&*-_=+"
    for _ in range(300):
        candidate = "".join(rng.choice(alphabet) for _ in range(14))
        assert not common_password(candidate), candidate


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=string.ascii_letters + string.digits + "!@#$ ", max_size=24))
def test_case_and_whitespace_do_not_matter(text: str) -> None:
    verdict = common_password(text)
    assert common_password(text.upper()) == verdict
    assert common_password(text.lower()) == verdict
    assert common_password(f"  {text}\t") == verdict


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_never_raises_on_any_text(text: str) -> None:
    assert common_password(text) in (True, False)


def test_long_input_is_fast() -> None:
    import time

    started = time.perf_counter()
    assert not common_password("kq" + "zvbtwpxm" * 500)
    assert common_password("qwerty" * 1000)
    assert time.perf_counter() - started < 2.0


def test_word_list_file_is_clean() -> None:
    text = (
        resources.files("chamberlain.crypto")
        .joinpath("common_passwords.txt")
        .read_text(encoding="utf-8")
    )
    entries = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(entries) >= 400
    assert len(entries) == len(set(entries)), "duplicates"
    assert all(entry.isascii() and entry.isalpha() and entry.islower() for entry in entries)
    assert all(len(entry) >= 3 for entry in entries)
    assert entries == sorted(entries)
