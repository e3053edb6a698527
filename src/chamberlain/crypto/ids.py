"""AWS-shaped identifiers: unique ids, access key ids, secret access keys, account ids.

Shapes follow the IAM User Guide, "IAM identifiers" -> "Unique identifiers" and
"Understanding unique ID prefixes":

* a unique id is 21 characters: a 4-character prefix naming the kind of entity
  (``AIDA`` user, ``AROA`` role, ...) followed by 17 characters;
* an access key id is 20 characters: ``AKIA`` (long-term) or ``ASIA`` (temporary, STS)
  followed by 16 characters;
* both use the alphabet AWS's ids are drawn from, upper-case ``A-Z`` and ``2-7``
  (the RFC 4648 base32 alphabet);
* a secret access key is 40 characters of the base64 alphabet (``A-Za-z0-9+/``),
  i.e. 240 bits of randomness;
* an account id is exactly 12 decimal digits (leading zeros allowed).

Randomness comes from a :class:`RandomSource`: anything with ``choice`` over a sequence,
which ``secrets.SystemRandom()`` (the default) and ``random.Random(seed)`` (handy for
deterministic tests) both provide.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

ID_ALPHABET = string.ascii_uppercase + "234567"
SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"

UNIQUE_ID_LENGTH = 21
ACCESS_KEY_ID_LENGTH = 20
SECRET_ACCESS_KEY_LENGTH = 40
ACCOUNT_ID_LENGTH = 12


class Prefix(StrEnum):
    """The unique-id prefixes AWS documents, by the kind of entity they name."""

    BEARER_TOKEN = "ABIA"
    CONTEXT_SPECIFIC_CREDENTIAL = "ACCA"
    GROUP = "AGPA"
    USER = "AIDA"
    INSTANCE_PROFILE = "AIPA"
    ACCESS_KEY = "AKIA"
    MANAGED_POLICY = "ANPA"
    MANAGED_POLICY_VERSION = "ANVA"
    PUBLIC_KEY = "APKA"
    ROLE = "AROA"
    CERTIFICATE = "ASCA"
    TEMPORARY_ACCESS_KEY = "ASIA"


ACCESS_KEY_PREFIXES = frozenset({Prefix.ACCESS_KEY, Prefix.TEMPORARY_ACCESS_KEY})


class RandomSource(Protocol):
    """The one thing the generators need from a random number generator."""

    def choice(self, seq: Sequence[str], /) -> str: ...


_SYSTEM_RANDOM: RandomSource = secrets.SystemRandom()

_ID_TAIL = f"[{re.escape(ID_ALPHABET)}]"
_UNIQUE_ID_RE = re.compile(rf"[A-Z]{{4}}{_ID_TAIL}{{{UNIQUE_ID_LENGTH - 4}}}")
_ACCESS_KEY_ID_RE = re.compile(rf"[A-Z]{{4}}{_ID_TAIL}{{{ACCESS_KEY_ID_LENGTH - 4}}}")
_SECRET_RE = re.compile(rf"[A-Za-z0-9+/]{{{SECRET_ACCESS_KEY_LENGTH}}}")
_ACCOUNT_ID_RE = re.compile(r"[0-9]{12}")


def _draw(alphabet: str, length: int, rng: RandomSource | None) -> str:
    source = rng if rng is not None else _SYSTEM_RANDOM
    return "".join(source.choice(alphabet) for _ in range(length))


def new_unique_id(prefix: Prefix, rng: RandomSource | None = None) -> str:
    """A 21-character unique id such as ``AIDA`` + 17 characters, for users, roles, ....

    Access keys are 20 characters, not 21: use :func:`new_access_key_id` for those.
    """
    if prefix in ACCESS_KEY_PREFIXES:
        raise ValueError(f"{prefix} names an access key id; use new_access_key_id")
    return prefix.value + _draw(ID_ALPHABET, UNIQUE_ID_LENGTH - len(prefix.value), rng)


def new_access_key_id(*, temporary: bool = False, rng: RandomSource | None = None) -> str:
    """A 20-character access key id: ``AKIA...`` or, for STS credentials, ``ASIA...``."""
    prefix = Prefix.TEMPORARY_ACCESS_KEY if temporary else Prefix.ACCESS_KEY
    return prefix.value + _draw(ID_ALPHABET, ACCESS_KEY_ID_LENGTH - len(prefix.value), rng)


def new_secret_access_key(rng: RandomSource | None = None) -> str:
    """A 40-character secret access key from the base64 alphabet (240 random bits)."""
    return _draw(SECRET_ALPHABET, SECRET_ACCESS_KEY_LENGTH, rng)


def new_account_id(rng: RandomSource | None = None) -> str:
    """A random 12-digit account id (leading zeros allowed, as in AWS)."""
    return _draw(string.digits, ACCOUNT_ID_LENGTH, rng)


def is_account_id(value: str) -> bool:
    """True for exactly 12 ASCII digits (no sign, no spaces, no other Unicode digits)."""
    return _ACCOUNT_ID_RE.fullmatch(value) is not None


def prefix_of(value: str) -> Prefix | None:
    """The documented prefix ``value`` starts with, or None."""
    try:
        return Prefix(value[:4])
    except ValueError:
        return None


def is_unique_id(value: str, prefix: Prefix | None = None) -> bool:
    """True for a well-formed 21-character unique id (optionally of one kind).

    Access key ids (``AKIA``/``ASIA``) are 20 characters and never match here.
    """
    if _UNIQUE_ID_RE.fullmatch(value) is None:
        return False
    found = prefix_of(value)
    if found is None or found in ACCESS_KEY_PREFIXES:
        return False
    return prefix is None or found is prefix


def is_access_key_id(value: str, *, temporary: bool | None = None) -> bool:
    """True for a well-formed 20-character access key id.

    ``temporary=None`` accepts both kinds; True only ``ASIA``; False only ``AKIA``.
    """
    if _ACCESS_KEY_ID_RE.fullmatch(value) is None:
        return False
    found = prefix_of(value)
    if temporary is None:
        return found in ACCESS_KEY_PREFIXES
    expected = Prefix.TEMPORARY_ACCESS_KEY if temporary else Prefix.ACCESS_KEY
    return found is expected


def is_secret_access_key(value: str) -> bool:
    """True for 40 characters of the base64 alphabet, the shape of an AWS secret key."""
    return _SECRET_RE.fullmatch(value) is not None
