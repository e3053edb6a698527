"""IMDSv2 session tokens and the container provider's token file."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from chamberlain.agent.tokens import ImdsTokens, parse_ttl, write_token_file

from .helpers import ManualClock


@pytest.mark.parametrize(
    ("header", "ttl"),
    [
        ("1", 1),
        ("21600", 21600),
        ("60", 60),
        ("0", None),
        ("21601", None),
        ("-5", None),
        ("+5", None),
        (" 5", None),
        ("5.0", None),
        ("", None),
        ("abc", None),
        ("\u0663", None),  # an Arabic-Indic digit: str.isdigit() but not a TTL
        (None, None),
    ],
)
def test_parse_ttl(header: str | None, ttl: int | None) -> None:
    assert parse_ttl(header) == ttl


def test_token_lives_for_its_ttl() -> None:
    clock = ManualClock()
    tokens = ImdsTokens(clock)
    token = tokens.issue(60)
    assert tokens.remaining(token) == 60
    clock.advance(59)
    assert tokens.remaining(token) == 1
    clock.advance(1)
    assert tokens.remaining(token) is None


def test_forged_and_foreign_tokens_are_refused() -> None:
    clock = ManualClock()
    tokens = ImdsTokens(clock)
    token = tokens.issue(600)
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[7] ^= 1  # extend the expiry by a second without the key
    assert tokens.remaining(base64.urlsafe_b64encode(bytes(raw)).decode()) is None
    assert ImdsTokens(clock).remaining(token) is None  # another agent's (or a restart's) key
    for junk in ("", "not base64!", "AAAA", "é", token[:-4]):
        assert tokens.remaining(junk) is None
    assert tokens.remaining(None) is None


def test_token_file_is_private_and_has_no_newline(tmp_path: Path) -> None:
    path = tmp_path / "run" / "token"
    old = os.umask(0o022)
    try:
        write_token_file(path, "first")
        write_token_file(path, "second")  # replaced, not appended
    finally:
        os.umask(old)
    assert path.read_bytes() == b"second"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["token"]  # no temporary files left


def test_token_file_for_a_group(tmp_path: Path) -> None:
    import grp

    group = grp.getgrgid(os.getgid()).gr_name
    path = tmp_path / "token"
    write_token_file(path, "t", group)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_gid == os.getgid()
