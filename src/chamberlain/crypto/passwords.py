"""Console passwords: argon2id hashing and a common-password check.

Hashing. argon2id through argon2-cffi with explicit :class:`Argon2Params`. The defaults
are RFC 9106 section 4's *second* recommended option (the one for memory-constrained
environments): t=3 passes, m=64 MiB, p=4 lanes, 128-bit salt, 256-bit tag. That is well
above OWASP's argon2id minimum, offered as :data:`OWASP_MIN_PARAMS` (m=19 MiB, t=2, p=1).
Cost measured on a 2-core machine: about 0.9 s per hash or verification with the
defaults, about 0.2 s with the OWASP minimum; choose in configuration accordingly.
:data:`TEST_PARAMS` is a deliberately cheap profile for test suites only.
:func:`needs_rehash` says when a stored hash was made with other parameters, so a
successful login can re-hash with the current ones.

Common passwords. :func:`common_password` rejects passwords that an online guesser tries
first. No published top-N list is available offline, and copying one is not an option,
so the check is a small hand-written list of base words (``common_passwords.txt``, about
600 entries) plus rules that cover the large families such lists are made of:

* case, surrounding whitespace, and leetspeak (``p@ssw0rd``) are normalized away;
* up to 4 leading and 6 trailing digits/symbols are stripped (``Password2024!``);
* sequences and keyboard walks, alone or glued together (``abc123``, ``qwerty``,
  ``1qaz2wsx``, ``poiuytrewq``, ``qweasdzxc``, numeric-keypad runs);
* a single repeated character, and repetitions of a short or common unit
  (``aaaaaa``, ``abab``, ``123123``, ``monkeymonkey``);
* all-digit strings shorter than 8 (PIN-sized), and 6- or 8-digit calendar dates;
* words the caller passes as ``context`` (the user name, the account alias).

The aim is to catch the guessable head of the distribution, not to measure entropy:
length and character-class rules belong to the account's password policy.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

_ARGON2ID_PREFIX = "$argon2id$"


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """argon2id cost parameters (memory in KiB, lengths in bytes)."""

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 4
    hash_len: int = 32
    salt_len: int = 16

    def __post_init__(self) -> None:
        if self.time_cost < 1 or self.parallelism < 1:
            raise ValueError("time_cost and parallelism must be at least 1")
        if self.memory_cost_kib < 8 * self.parallelism:
            raise ValueError("memory_cost_kib must be at least 8 * parallelism")
        if self.hash_len < 16 or self.salt_len < 16:
            raise ValueError("hash_len and salt_len must be at least 16 bytes")


DEFAULT_PARAMS = Argon2Params()
OWASP_MIN_PARAMS = Argon2Params(time_cost=2, memory_cost_kib=19 * 1024, parallelism=1)
TEST_PARAMS = Argon2Params(time_cost=1, memory_cost_kib=8, parallelism=1)


@cache
def _hasher(params: Argon2Params) -> PasswordHasher:
    return PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_cost_kib,
        parallelism=params.parallelism,
        hash_len=params.hash_len,
        salt_len=params.salt_len,
        type=Type.ID,
    )


def hash_password(password: str, params: Argon2Params = DEFAULT_PARAMS) -> str:
    """The PHC-format argon2id hash of ``password`` with a fresh random salt."""
    return _hasher(params).hash(password)


def verify_password(encoded: str, password: str) -> bool:
    """True when ``password`` matches the argon2id hash ``encoded``.

    Never raises for a bad, foreign or corrupted hash: it just does not match. The cost
    parameters are read from the hash, so hashes made with older parameters still verify.
    """
    if not isinstance(encoded, str) or not encoded.startswith(_ARGON2ID_PREFIX):
        return False
    try:
        return _hasher(DEFAULT_PARAMS).verify(encoded, password)
    except (VerificationError, InvalidHashError, ValueError, TypeError):
        return False


def needs_rehash(encoded: str, params: Argon2Params = DEFAULT_PARAMS) -> bool:
    """True when ``encoded`` was not made with argon2id and exactly ``params``."""
    if not isinstance(encoded, str) or not encoded.startswith(_ARGON2ID_PREFIX):
        return True
    try:
        return _hasher(params).check_needs_rehash(encoded)
    except (InvalidHashError, ValueError):
        return True


@cache
def _dummy_hash(params: Argon2Params) -> str:
    return hash_password("chamberlain dummy password for unknown users", params)


def verify_dummy(password: str, params: Argon2Params = DEFAULT_PARAMS) -> bool:
    """Spend the time of a real verification and return False.

    For logins naming a user that does not exist (or has no password), so the response
    time does not tell whether the user exists.
    """
    verify_password(_dummy_hash(params), password + "\x00")
    return False


# --- common passwords ----------------------------------------------------------------

_WORDLIST = "common_passwords.txt"
_LEET = str.maketrans(
    {
        "@": "a",
        "4": "a",
        "8": "b",
        "3": "e",
        "6": "g",
        "9": "g",
        "!": "i",
        "0": "o",
        "$": "s",
        "5": "s",
        "7": "t",
        "+": "t",
        "2": "z",
    }
)
_ONE_AS = ("i", "l")
_WALKS = (
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890",
    "13579",
    "02468",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "qwertzuiop",
    "yxcvbnm",
    "azertyuiop",
    "qsdfghjklm",
    "wxcvbn",
    "1234567890-=",
    "!@#$%^&*()_+",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/",
    "qazwsxedcrfvtgbyhnujmikolp",
    "zaq1xsw2cde3vfr4bgt5nhy6mju7",
    "qweasdzxc",
    "1q2w3e4r5t6y7u8i9o0p",
    "q1w2e3r4t5y6u7i8o9p0",
    "147258369",
    "789456123",
    "741852963",
    "159357",
    "753951",
)
_MIN_CHUNK = 3
_AFFIX = re.compile(r"^([^a-z]{0,4})(.*?)([^a-z]{0,6})$", re.DOTALL)


@cache
def _common_words() -> frozenset[str]:
    words = set()
    package = __name__.rpartition(".")[0]
    text = resources.files(package).joinpath(_WORDLIST).read_text(encoding="utf-8")
    for line in text.splitlines():
        word = line.strip()
        if word and not word.startswith("#"):
            words.add(word)
    return frozenset(words)


@cache
def _walk_chunks() -> frozenset[str]:
    chunks = set()
    for walk in _WALKS:
        for text in (walk, walk[::-1]):
            for i in range(len(text)):
                for j in range(i + _MIN_CHUNK, len(text) + 1):
                    chunks.add(text[i:j])
    return frozenset(chunks)


def _normalize(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def _is_walk(text: str) -> bool:
    """True when ``text`` is one or more keyboard/alphabet runs of 3+ characters."""
    chunks = _walk_chunks()
    reachable = [False] * (len(text) + 1)
    reachable[0] = True
    longest = max(len(walk) for walk in _WALKS)
    for i in range(len(text)):
        if not reachable[i]:
            continue
        for j in range(i + _MIN_CHUNK, min(i + longest, len(text)) + 1):
            if text[i:j] in chunks:
                reachable[j] = True
    return len(text) >= _MIN_CHUNK and reachable[len(text)]


def _is_date(digits: str) -> bool:
    """True for a 6- or 8-digit calendar date in a common day/month/year order."""
    layouts = {6: ("dmy", "mdy", "ymd"), 8: ("dmY", "mdY", "Ymd")}
    return any(_as_date(digits, layout) is not None for layout in layouts.get(len(digits), ()))


def _as_date(digits: str, layout: str) -> date | None:
    values: dict[str, int] = {}
    position = 0
    for field in layout:
        width = 4 if field == "Y" else 2
        values[field] = int(digits[position : position + width])
        position += width
    year = values["Y"] if "Y" in values else 1900 + values["y"]
    if not 1900 <= year <= 2099:
        return None
    try:
        return date(year, values["m"], values["d"])
    except ValueError:
        return None


def _is_repetition(text: str, words: frozenset[str]) -> bool:
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            unit = text[:size]
            if size <= 3 or unit in words or _is_walk(unit):
                return True
    return False


def _weak(candidate: str, words: frozenset[str]) -> bool:
    if not candidate:
        return False
    if candidate in words or candidate[::-1] in words:
        return True
    digits_only = candidate.isascii() and candidate.isdigit()
    if digits_only and (len(candidate) < 8 or _is_date(candidate)):
        return True
    return _is_walk(candidate) or _is_repetition(candidate, words)


def _candidates(text: str) -> set[str]:
    match = _AFFIX.match(text)
    core = match.group(2) if match else text
    found = {text, core}
    for base in (text, core):
        leet = base.translate(_LEET)
        found.update(leet.replace("1", one) for one in _ONE_AS)
    return found


def common_password(password: str, *, context: Iterable[str] = ()) -> bool:
    """True when ``password`` is a common or trivially predictable choice.

    ``context`` holds words specific to this user (user name, account alias): a password
    that is one of them, give or take affixes and leetspeak, counts as common too.
    """
    text = _normalize(password)
    if not text:
        return True
    words = _common_words()
    extra = {w for w in (_normalize(c) for c in context) if len(w) >= _MIN_CHUNK}
    if extra:
        words = words | extra
    return any(_weak(candidate, words) for candidate in _candidates(text))
