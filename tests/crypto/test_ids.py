"""AWS-shaped identifiers.

IAM User Guide, "IAM identifiers": "Unique identifiers" (21 characters) and
"Understanding unique ID prefixes" (ABIA ACCA AGPA AIDA AIPA AKIA ANPA ANVA APKA AROA
ASCA ASIA). Access key ids are 20 characters (AKIA/ASIA + 16), secret access keys 40.
"""

from __future__ import annotations

import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chamberlain.crypto import ids
from chamberlain.crypto.ids import Prefix

ENTITY_PREFIXES = [p for p in Prefix if p not in ids.ACCESS_KEY_PREFIXES]


def test_prefixes_are_awss_documented_list() -> None:
    assert {p.value for p in Prefix} == {
        "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "AKIA",
        "ANPA", "ANVA", "APKA", "AROA", "ASCA", "ASIA",
    }  # fmt: skip
    assert Prefix.USER == "AIDA"
    assert Prefix.ROLE == "AROA"
    assert Prefix.GROUP == "AGPA"
    assert Prefix.MANAGED_POLICY == "ANPA"
    assert Prefix.INSTANCE_PROFILE == "AIPA"


def test_alphabet_is_uppercase_and_2_to_7() -> None:
    assert set(ids.ID_ALPHABET) == set(string.ascii_uppercase) | set("234567")
    assert len(ids.ID_ALPHABET) == 32


@pytest.mark.parametrize("prefix", ENTITY_PREFIXES)
def test_unique_id_shape(prefix: Prefix) -> None:
    value = ids.new_unique_id(prefix)
    assert len(value) == 21
    assert value.startswith(prefix.value)
    assert set(value[4:]) <= set(ids.ID_ALPHABET)
    assert ids.is_unique_id(value)
    assert ids.is_unique_id(value, prefix)
    assert ids.prefix_of(value) is prefix


@pytest.mark.parametrize("prefix", sorted(ids.ACCESS_KEY_PREFIXES))
def test_unique_id_refuses_access_key_prefixes(prefix: Prefix) -> None:
    with pytest.raises(ValueError, match="access key"):
        ids.new_unique_id(prefix)


def test_access_key_ids() -> None:
    long_term = ids.new_access_key_id()
    temporary = ids.new_access_key_id(temporary=True)
    assert len(long_term) == len(temporary) == 20
    assert long_term.startswith("AKIA")
    assert temporary.startswith("ASIA")
    assert ids.is_access_key_id(long_term)
    assert ids.is_access_key_id(long_term, temporary=False)
    assert not ids.is_access_key_id(long_term, temporary=True)
    assert ids.is_access_key_id(temporary, temporary=True)
    assert not ids.is_access_key_id(temporary, temporary=False)
    # An access key id is not a 21-character unique id, and vice versa.
    assert not ids.is_unique_id(long_term)
    assert not ids.is_access_key_id(ids.new_unique_id(Prefix.USER))


def test_secret_access_key_shape() -> None:
    secret = ids.new_secret_access_key()
    assert len(secret) == 40
    assert set(secret) <= set(string.ascii_letters + string.digits + "+/")
    assert ids.is_secret_access_key(secret)


def test_generators_are_fresh() -> None:
    assert len({ids.new_unique_id(Prefix.USER) for _ in range(2000)}) == 2000
    assert len({ids.new_access_key_id() for _ in range(2000)}) == 2000
    assert len({ids.new_secret_access_key() for _ in range(2000)}) == 2000


def test_injected_randomness_is_used() -> None:
    first = ids.new_unique_id(Prefix.ROLE, random.Random(7))
    again = ids.new_unique_id(Prefix.ROLE, random.Random(7))
    other = ids.new_unique_id(Prefix.ROLE, random.Random(8))
    assert first == again
    assert first != other
    assert ids.new_secret_access_key(random.Random(1)) == ids.new_secret_access_key(
        random.Random(1)
    )
    assert ids.new_account_id(random.Random(3)) == ids.new_account_id(random.Random(3))


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**64))
def test_every_generated_value_validates(seed: int) -> None:
    rng = random.Random(seed)
    prefix = rng.choice(ENTITY_PREFIXES)
    assert ids.is_unique_id(ids.new_unique_id(prefix, rng), prefix)
    assert ids.is_access_key_id(ids.new_access_key_id(temporary=seed % 2 == 0, rng=rng))
    assert ids.is_secret_access_key(ids.new_secret_access_key(rng))
    assert ids.is_account_id(ids.new_account_id(rng))


@pytest.mark.parametrize(
    "value",
    [
        "AIDA" + "A" * 16,  # 20: too short
        "AIDA" + "A" * 18,  # 22: too long
        "AIDA" + "A" * 16 + "1",  # 1 is not in the alphabet
        "AIDA" + "A" * 16 + "8",
        "AIDA" + "a" * 17,  # lower case
        "XXXX" + "A" * 17,  # unknown prefix
        "AKIA" + "A" * 17,  # access key prefix at unique-id length
        "AIDA" + "A" * 16 + "\n",
        "",
    ],
)
def test_malformed_unique_ids(value: str) -> None:
    assert not ids.is_unique_id(value)


def test_unique_id_of_another_kind() -> None:
    assert not ids.is_unique_id(ids.new_unique_id(Prefix.USER), Prefix.ROLE)


@pytest.mark.parametrize(
    "value",
    ["AKIA" + "A" * 15, "AKIA" + "A" * 17, "AKIA" + "0" * 16, "AIDA" + "A" * 16, "akia" + "A" * 16],
)
def test_malformed_access_key_ids(value: str) -> None:
    assert not ids.is_access_key_id(value)


@pytest.mark.parametrize("value", ["A" * 39, "A" * 41, "A" * 39 + "-", "A" * 39 + "=", "é" * 40])
def test_malformed_secrets(value: str) -> None:
    assert not ids.is_secret_access_key(value)


@pytest.mark.parametrize("value", ["123456789012", "000000000000", "012345678901"])
def test_account_ids(value: str) -> None:
    assert ids.is_account_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "12345678901",
        "1234567890123",
        "12345678901a",
        " 123456789012",
        "123456789012\n",
        "+12345678901",
        "١٢٣٤٥٦٧٨٩٠١٢",  # Arabic-Indic digits: isdigit() but not an account id
        "１２３４５６７８９０１２",  # full-width digits
        "",
    ],
)
def test_malformed_account_ids(value: str) -> None:
    assert not ids.is_account_id(value)


def test_prefix_of_unknown() -> None:
    assert ids.prefix_of("ZZZZ1234") is None
    assert ids.prefix_of("") is None
