"""TOTP: RFC 6238 test vectors, drift, replay, consecutive codes, seeds and otpauth URIs."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chamberlain.crypto import totp

RFC_SEED = base64.b32encode(b"12345678901234567890").decode()  # RFC 6238 Appendix B, SHA1
NOW = datetime(2024, 5, 1, 12, 0, 10, tzinfo=UTC)
STEP = int(NOW.timestamp()) // 30
SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def at(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def code(step: int, seed: str = SEED) -> str:
    return totp.code_at(seed, step)


# RFC 6238 Appendix B, the SHA1 rows: (time in seconds, 8-digit TOTP).
RFC_6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("unix", "expected"), RFC_6238_SHA1)
def test_rfc_6238_vectors(unix: int, expected: str) -> None:
    step = totp.step_at(at(unix))
    assert step == unix // 30
    assert totp.code_at(RFC_SEED, step, digits=8) == expected
    # Six digits are the low-order six of the same truncated value.
    six = totp.code_at(RFC_SEED, step)
    assert six == expected[-6:]
    assert totp.verify(RFC_SEED, six, at(unix), None) == step


@settings(max_examples=200, deadline=None)
@given(unix=st.integers(min_value=0, max_value=2**34))
def test_matches_pyotp_clock_based_codes(unix: int) -> None:
    assert totp.code_at(SEED, totp.step_at(at(unix))) == pyotp.TOTP(SEED).at(unix)


def test_step_boundaries() -> None:
    assert totp.step_at(at(29.999)) == 0
    assert totp.step_at(at(30)) == 1
    with pytest.raises(ValueError, match="aware"):
        totp.step_at(datetime(2024, 1, 1))


def test_current_step_accepted() -> None:
    assert totp.verify(SEED, code(STEP), NOW, None) == STEP


@pytest.mark.parametrize("drift", [-1, 1])
def test_one_step_drift_accepted(drift: int) -> None:
    assert totp.verify(SEED, code(STEP + drift), NOW, None) == STEP + drift


@pytest.mark.parametrize("drift", [-3, -2, 2, 3])
def test_two_steps_drift_refused(drift: int) -> None:
    assert totp.verify(SEED, code(STEP + drift), NOW, None) is None


def test_replay_refused() -> None:
    accepted = totp.verify(SEED, code(STEP), NOW, None)
    assert accepted == STEP
    # Same code again, even a few seconds later in the same step: refused.
    assert totp.verify(SEED, code(STEP), NOW + timedelta(seconds=5), accepted) is None
    # An older code still inside the drift window: refused too (step <= last used).
    assert totp.verify(SEED, code(STEP - 1), NOW, accepted) is None
    # The next step's code is fine.
    assert totp.verify(SEED, code(STEP + 1), NOW + timedelta(seconds=30), accepted) == STEP + 1


def test_last_used_in_the_future_blocks_everything_up_to_it() -> None:
    assert totp.verify(SEED, code(STEP + 1), NOW, STEP + 1) is None
    assert totp.verify(SEED, code(STEP), NOW, STEP + 1) is None


def test_offset_shifts_the_window() -> None:
    # A device running 5 steps behind.
    assert totp.verify(SEED, code(STEP - 5), NOW, None) is None
    assert totp.verify(SEED, code(STEP - 5), NOW, None, offset=-5) == STEP - 5
    assert totp.verify(SEED, code(STEP - 6), NOW, None, offset=-5) == STEP - 6
    assert totp.verify(SEED, code(STEP), NOW, None, offset=-5) is None


def test_wrong_seed_refused() -> None:
    mine = code(STEP)
    assert mine not in {code(STEP + d, RFC_SEED) for d in (-1, 0, 1)}  # precondition
    assert totp.verify(RFC_SEED, mine, NOW, None) is None


@pytest.mark.parametrize(
    "bad",
    ["", "12345", "1234567", "12345a", " 123456", "123456 ", "１２３４５６", "٣٣٣٣٣٣", "-12345"],
)
def test_malformed_codes_refused(bad: str) -> None:
    assert totp.verify(SEED, bad, NOW, None) is None
    assert totp.verify_two_consecutive(SEED, bad, code(STEP), NOW) is None
    assert totp.verify_two_consecutive(SEED, code(STEP), bad, NOW) is None


def test_malformed_codes_cannot_match_by_normalization() -> None:
    real = code(STEP)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in real)
    assert totp.verify(SEED, full_width, NOW, None) is None


@pytest.mark.parametrize("seed", ["", "not base32!", "ABC", "JBSWY3DP1", "JBSWY3DP=A"])
def test_bad_seed_raises_without_echoing_it(seed: str) -> None:
    with pytest.raises(ValueError) as caught:
        totp.verify(seed, "123456", NOW, None)
    if seed:
        assert seed not in str(caught.value)
    assert caught.value.__cause__ is None


def test_lower_case_and_padded_seeds_accepted() -> None:
    assert totp.code_at(SEED.lower(), STEP) == totp.code_at(SEED, STEP)
    padded = base64.b32encode(b"0123456789abcdef").decode()  # 16 bytes: 26 chars + "======"
    assert padded.endswith("======")
    assert totp.code_at(padded, STEP) == totp.code_at(padded.rstrip("="), STEP)


def test_short_seed_refused() -> None:
    with pytest.raises(ValueError, match="112 bits"):
        totp.code_at(base64.b32encode(b"0123456789abc").decode(), STEP)  # 104 bits
    assert totp.code_at(base64.b32encode(b"0123456789abcd").decode(), STEP)  # 112 bits


# --- EnableMFADevice / ResyncMFADevice: two consecutive codes -------------------------


def test_consecutive_pair_at_now() -> None:
    assert totp.verify_two_consecutive(SEED, code(STEP - 1), code(STEP), NOW) == STEP
    assert totp.verify_two_consecutive(SEED, code(STEP), code(STEP + 1), NOW) == STEP + 1


@pytest.mark.parametrize("shift", [-20, -15, -7, 7, 15, 19])
def test_consecutive_pair_within_window(shift: int) -> None:
    first = STEP + shift
    found = totp.verify_two_consecutive(SEED, code(first), code(first + 1), NOW)
    assert found == first + 1
    assert totp.offset_for(found, NOW) == shift + 1


@pytest.mark.parametrize("shift", [-22, -21, 20, 21])
def test_consecutive_pair_outside_window(shift: int) -> None:
    first = STEP + shift
    assert totp.verify_two_consecutive(SEED, code(first), code(first + 1), NOW) is None


def test_window_is_configurable() -> None:
    first = STEP - 5
    pair = (code(first), code(first + 1))
    assert totp.verify_two_consecutive(SEED, *pair, NOW, window=5) == first + 1
    assert totp.verify_two_consecutive(SEED, *pair, NOW, window=4) is None


def test_consecutive_requires_order_and_adjacency() -> None:
    assert totp.verify_two_consecutive(SEED, code(STEP), code(STEP - 1), NOW) is None
    assert totp.verify_two_consecutive(SEED, code(STEP - 2), code(STEP), NOW) is None
    assert code(STEP) not in {code(STEP - 1), code(STEP + 1)}  # precondition
    assert totp.verify_two_consecutive(SEED, code(STEP), code(STEP), NOW) is None


def test_consecutive_respects_last_used_step() -> None:
    pair = (code(STEP - 1), code(STEP))
    assert totp.verify_two_consecutive(SEED, *pair, NOW, last_used_step=STEP - 2) == STEP
    assert totp.verify_two_consecutive(SEED, *pair, NOW, last_used_step=STEP - 1) is None


def test_resync_then_login_with_offset() -> None:
    """A device 8 steps behind: resync finds the offset, logins then work with it."""
    device_step = STEP - 8
    found = totp.verify_two_consecutive(SEED, code(device_step), code(device_step + 1), NOW)
    assert found == device_step + 1
    offset = totp.offset_for(found, NOW)
    assert offset == -7
    later = NOW + timedelta(seconds=60)
    device_now = totp.step_at(later) + offset
    assert totp.verify(SEED, code(device_now), later, found) is None
    assert totp.verify(SEED, code(device_now), later, found, offset=offset) == device_now


# --- seeds and URIs -------------------------------------------------------------------


def test_new_seed() -> None:
    seeds = {totp.new_seed() for _ in range(200)}
    assert len(seeds) == 200
    for seed in seeds:
        assert len(seed) == 32
        assert len(base64.b32decode(seed)) == 20  # 160 bits
        assert totp.verify(seed, totp.code_at(seed, STEP), NOW, None) == STEP


def test_otpauth_uri_in_aws_format() -> None:
    uri = totp.otpauth_uri(SEED, "alice-phone", "alice")
    assert uri == f"otpauth://totp/alice-phone@alice?secret={SEED}"
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.secret == SEED
    assert parsed.at(NOW) == code(STEP)


def test_otpauth_uri_escapes_names() -> None:
    uri = totp.otpauth_uri(SEED, "my device@home", "123456789012", issuer="Chamberlain IAM")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    assert parts.path == "/my%20device%40home@123456789012"
    assert parse_qs(parts.query) == {"secret": [SEED], "issuer": ["Chamberlain IAM"]}
    assert pyotp.parse_uri(uri).secret == SEED


def test_otpauth_uri_rejects_bad_seed() -> None:
    with pytest.raises(ValueError):
        totp.otpauth_uri("bad seed!", "d", "a")
