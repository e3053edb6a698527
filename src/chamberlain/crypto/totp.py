"""RFC 6238 TOTP for virtual MFA devices: HMAC-SHA1, 30-second steps, 6 digits.

Time is always a parameter (an aware ``datetime``); nothing here reads a clock.

Steps and replay. A *step* is ``floor(unix_seconds / 30)``. :func:`verify` accepts a code
for the device's current step or one step either side (RFC 6238 section 5.2 recommends
at most one step of network delay), and returns the step it matched so the caller can
store it; a code whose step is at or before the stored ``last_used_step`` is refused, so
a code can be used once (RFC 6238 section 5.2: "the verifier MUST NOT accept the second
attempt of the same OTP").

Device clock offset. ``offset`` (in steps) shifts the window for a device whose clock is
known to run ahead (positive) or behind (negative). :func:`verify_two_consecutive` is the
check behind IAM's EnableMFADevice and ResyncMFADevice: AuthenticationCode1 and
AuthenticationCode2 must be codes of two *consecutive* steps (IAM API Reference,
EnableMFADevice / ResyncMFADevice: "An authentication code emitted by the device" and
"A subsequent authentication code emitted by the device"). AWS does not publish how far
from the server's clock that pair may lie; its docs only warn that codes submitted "too
long" after generation leave the device associated but out of sync (IAM User Guide,
"Resynchronize virtual and hardware MFA devices"), so the window is wide. We search
:data:`CONSECUTIVE_WINDOW_STEPS` (20 steps = 10 minutes) either side. Two consecutive
6-digit codes match a wrong seed with probability 10^-12 per position, so the wide
window costs nothing in security. :func:`offset_for` turns the matched step into the
device offset to store after a resync.

QR codes: AWS's CreateVirtualMFADevice returns ``QRCodePNG`` encoding
``otpauth://totp/$virtualMFADeviceName@$AccountName?secret=$Base32String``.
:func:`otpauth_uri` builds that URI; rendering it as a PNG needs a QR library, which is
not a dependency of this project yet.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
from datetime import datetime
from urllib.parse import quote, urlencode

import pyotp

STEP_SECONDS = 30
DIGITS = 6
SEED_BYTES = 20  # 160 bits, RFC 4226 section 4's recommended shared-secret length
# pyotp's floor, after NIST SP 800-63B: shorter shared secrets are refused.
MIN_SEED_BYTES = 14
DRIFT_STEPS = 1
CONSECUTIVE_WINDOW_STEPS = 20

_CODE_RE = re.compile(r"[0-9]{6}")
_SEED_RE = re.compile(r"[A-Z2-7]+=*")


def new_seed() -> str:
    """A new random 160-bit seed, base32-encoded (32 characters, no padding)."""
    return base64.b32encode(os.urandom(SEED_BYTES)).decode("ascii").rstrip("=")


def step_at(now: datetime) -> int:
    """The TOTP time step containing ``now`` (an aware datetime)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return int(now.timestamp() // STEP_SECONDS)


def offset_for(step: int, now: datetime) -> int:
    """The device clock offset, in steps, implied by a code of ``step`` shown at ``now``."""
    return step - step_at(now)


def _otp(seed: str, digits: int = DIGITS) -> pyotp.TOTP:
    if not isinstance(seed, str) or _SEED_RE.fullmatch(seed.upper()) is None:
        raise ValueError("TOTP seed is not valid base32")
    stripped = seed.upper().rstrip("=")
    try:
        raw = base64.b32decode(stripped + "=" * (-len(stripped) % 8))
    except (binascii.Error, ValueError):
        raise ValueError("TOTP seed is not valid base32") from None
    if len(raw) < MIN_SEED_BYTES:
        raise ValueError(f"TOTP seed is shorter than {MIN_SEED_BYTES * 8} bits")
    return pyotp.TOTP(stripped, digits=digits, interval=STEP_SECONDS)


def code_at(seed: str, step: int, digits: int = DIGITS) -> str:
    """The code the device shows during ``step`` (RFC 4226 HOTP with counter = step)."""
    if step < 0:
        raise ValueError("step must not be negative")
    return _otp(seed, digits).generate_otp(step)


def _well_formed(code: str) -> bool:
    return isinstance(code, str) and _CODE_RE.fullmatch(code) is not None


def _usable(step: int, last_used_step: int | None) -> bool:
    return step >= 0 and (last_used_step is None or step > last_used_step)


def verify(
    seed: str,
    code: str,
    now: datetime,
    last_used_step: int | None,
    *,
    offset: int = 0,
) -> int | None:
    """The step ``code`` belongs to, if it is acceptable at ``now``; else None.

    Acceptable: six ASCII digits equal to the code of the device's current step
    (``step_at(now) + offset``) or of one step either side, and that step is later than
    ``last_used_step`` (None when the device has never been used).
    """
    otp = _otp(seed)
    if not _well_formed(code):
        return None
    centre = step_at(now) + offset
    for step in (centre, centre - DRIFT_STEPS, centre + DRIFT_STEPS):
        if _usable(step, last_used_step) and hmac.compare_digest(otp.generate_otp(step), code):
            return step
    return None


def verify_two_consecutive(
    seed: str,
    code1: str,
    code2: str,
    now: datetime,
    *,
    window: int = CONSECUTIVE_WINDOW_STEPS,
    last_used_step: int | None = None,
) -> int | None:
    """The step of ``code2`` when ``code1``/``code2`` are codes of consecutive steps.

    Both steps must lie within ``window`` steps of ``step_at(now)`` and be later than
    ``last_used_step``. The match nearest the server's clock wins. Returns None when no
    pair matches. See the module docstring for why the window is wide.
    """
    otp = _otp(seed)
    if not (_well_formed(code1) and _well_formed(code2)):
        return None
    centre = step_at(now)
    # First steps s with s and s+1 in [centre - window, centre + window], nearest first.
    firsts = sorted(range(centre - window, centre + window), key=lambda s: abs(s - centre))
    for first in firsts:
        if not _usable(first, last_used_step):
            continue
        if hmac.compare_digest(otp.generate_otp(first), code1) and hmac.compare_digest(
            otp.generate_otp(first + 1), code2
        ):
            return first + 1
    return None


def otpauth_uri(
    seed: str, device_name: str, account_name: str, *, issuer: str | None = None
) -> str:
    """The ``otpauth://`` URI an authenticator app scans, in AWS's label format.

    AWS: ``otpauth://totp/$virtualMFADeviceName@$AccountName?secret=$Base32String``, where
    AccountName is the user name if set, otherwise the account id. Each label part is
    percent-encoded (an ``@`` inside a name becomes ``%40``, keeping the label parseable).
    """
    _otp(seed)
    label = f"{quote(device_name, safe='')}@{quote(account_name, safe='')}"
    params = {"secret": seed.upper().rstrip("=")}
    if issuer is not None:
        params["issuer"] = issuer
    return f"otpauth://totp/{label}?{urlencode(params, quote_via=quote)}"
