"""AWS's SigV4 test suite (tests/data/sigv4/vectors), one test set per case folder.

For every case: rebuild ``.creq``, ``.sts`` and the signature in ``.authz`` from ``.req``;
accept ``.sreq``; and reject ``.sreq`` once any signed byte changes (method, path, a query
character, each signed header value, the body). AWS General Reference, "Signature Version 4
test suite" / "Create a canonical request for Signature Version 4".

Upstream defect: in ``get-vanilla-with-session-token`` the ``.req`` lacks the
``X-Amz-Security-Token`` header that ``.creq`` signs, and the ``.sreq`` carries the
signature of ``get-vanilla`` instead of the one in ``.authz``. For that case the request is
taken from ``.sreq`` (minus Authorization), the shipped ``.sreq`` must be rejected, and the
``.sreq`` with the ``.authz`` header must be accepted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chamberlain.crypto.sigv4 import (
    CredentialScope,
    Reason,
    SignatureError,
    SigningInput,
    Verified,
    parse_amz_date,
    verify,
)
from chamberlain.protocol.sigv4_fields import extract, parse_authorization, parse_credential

VECTORS = Path(__file__).resolve().parents[1] / "data" / "sigv4" / "vectors"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
NOW = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
SCOPE = CredentialScope("20150830", "us-east-1", "service")
BROKEN_SREQ = {"get-vanilla-with-session-token"}


@dataclass(frozen=True)
class RawRequest:
    """An HTTP/1.1 request as written in a vector file."""

    method: str
    path: bytes
    query: bytes
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def without(self, name: str) -> RawRequest:
        kept = tuple((k, v) for k, v in self.headers if k.lower() != name)
        return replace(self, headers=kept)

    def header(self, name: str) -> str:
        return next(v for k, v in self.headers if k.lower() == name)


def parse_request(data: bytes) -> RawRequest:
    """Parse a vector's raw request: request line, headers (with obs-fold continuation
    lines, unfolded with a space), blank line, body. The target may contain spaces."""
    head, _, body = data.partition(b"\n\n")
    lines = head.split(b"\n")
    method, _, rest = lines[0].partition(b" ")
    target, _, version = rest.rpartition(b" ")
    assert version == b"HTTP/1.1"
    path, _, query = target.partition(b"?")
    headers: list[list[str]] = []
    for line in lines[1:]:
        text = line.decode("utf-8")
        if text[:1] in (" ", "\t"):
            headers[-1][1] += " " + text
            continue
        name, _, value = text.partition(":")
        headers.append([name, value])
    return RawRequest(
        method=method.decode("ascii"),
        path=path,
        query=query,
        headers=tuple((name, value) for name, value in headers),
        body=body,
    )


def _cases() -> list[Path]:
    return sorted(p.parent for p in VECTORS.rglob("*.req"))


CASES = _cases()


def _read(case: Path, ext: str) -> bytes:
    return (case / f"{case.name}{ext}").read_bytes()


def _signing_input(request: RawRequest, signed_headers: tuple[str, ...]) -> SigningInput:
    return SigningInput(
        method=request.method,
        path=request.path,
        query=request.query,
        headers=request.headers,
        payload_hash=hashlib.sha256(request.body).hexdigest(),
        signed_headers=signed_headers,
        scope=SCOPE,
        request_datetime=parse_amz_date(request.header("x-amz-date")),
    )


def _unsigned_request(case: Path) -> RawRequest:
    if case.name in BROKEN_SREQ:
        return parse_request(_read(case, ".sreq")).without("authorization")
    return parse_request(_read(case, ".req"))


def _signed_request(case: Path) -> RawRequest:
    """``.sreq``; for a case with a broken ``.sreq``, its Authorization taken from ``.authz``."""
    signed = parse_request(_read(case, ".sreq"))
    if case.name in BROKEN_SREQ:
        authz = ("Authorization", _read(case, ".authz").decode())
        signed = replace(signed, headers=(*signed.without("authorization").headers, authz))
    return signed


def _expected_authorization(case: Path) -> dict[str, str]:
    return parse_authorization(_read(case, ".authz").decode())


def verify_raw(request: RawRequest) -> Verified:
    """Verify a raw signed request the way the server will: extract, then verify."""
    fields = extract(request.headers, request.query)
    signing = fields.signing_input(
        method=request.method,
        path=request.path,
        query=request.query,
        headers=request.headers,
        payload_hash=hashlib.sha256(request.body).hexdigest(),
    )
    return verify(signing, fields.signature, SECRET, now=NOW)


def test_suite_is_present() -> None:
    assert len(CASES) >= 30, VECTORS


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_canonical_request_string_to_sign_and_signature(case: Path) -> None:
    components = _expected_authorization(case)
    access_key_id, scope = parse_credential(components["Credential"])
    assert (access_key_id, scope) == ("AKIDEXAMPLE", SCOPE)
    signed = tuple(components["SignedHeaders"].split(";"))
    signing = _signing_input(_unsigned_request(case), signed)
    assert signing.canonical_request() == _read(case, ".creq").decode()
    assert signing.string_to_sign() == _read(case, ".sts").decode()
    assert signing.signature(SECRET) == components["Signature"]


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_signed_request_is_accepted(case: Path) -> None:
    if case.name in BROKEN_SREQ:
        with pytest.raises(SignatureError) as err:
            verify_raw(parse_request(_read(case, ".sreq")))
        assert err.value.reason is Reason.SIGNATURE_MISMATCH
    result = verify_raw(_signed_request(case))
    assert result.scope == SCOPE
    assert result.request_datetime == NOW
    assert not result.is_presigned


def _flip(text: str) -> str:
    """Change one character: the last digit to the next digit, else the last letter's
    case, else append a character; a changed X-Amz-Date stays a valid date that day."""
    for index in range(len(text) - 1, -1, -1):
        if text[index].isdigit():
            return text[:index] + str((int(text[index]) + 1) % 10) + text[index + 1 :]
    for index in range(len(text) - 1, -1, -1):
        if text[index].isalpha():
            return text[:index] + text[index].swapcase() + text[index + 1 :]
    return text + "x"


def _flip_header(name: str) -> Callable[[RawRequest], RawRequest]:
    def mutate(request: RawRequest) -> RawRequest:
        headers = tuple(
            (k, _flip(v.strip()) if k.lower() == name else v) for k, v in request.headers
        )
        return replace(request, headers=headers)

    return mutate


def _mutations(case: Path, request: RawRequest) -> dict[str, Callable[[RawRequest], RawRequest]]:
    swap = {"GET": "POST", "POST": "GET"}
    mutations: dict[str, Callable[[RawRequest], RawRequest]] = {
        "method": lambda r: replace(r, method=swap[r.method]),
        "path": lambda r: replace(r, path=r.path + b"x"),
        "body": lambda r: replace(
            r, body=r.body[:-1] + bytes([r.body[-1] ^ 1]) if r.body else b"x"
        ),
    }
    if request.query:
        mutations["query"] = lambda r: replace(r, query=_flip(r.query.decode()).encode())
    else:
        mutations["query"] = lambda r: replace(r, query=b"a=b")
    signed = _expected_authorization(case)["SignedHeaders"].split(";")
    for name in signed:
        mutations[f"header:{name}"] = _flip_header(name)
    return mutations


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_any_changed_signed_byte_is_rejected(case: Path) -> None:
    signed = _signed_request(case)
    verify_raw(signed)
    mutations = _mutations(case, signed)
    assert {"method", "path", "query", "body", "header:host", "header:x-amz-date"} <= set(mutations)
    for label, mutate in mutations.items():
        changed = mutate(signed)
        assert changed != signed, label
        with pytest.raises(SignatureError) as err:
            verify_raw(changed)
        assert err.value.reason is Reason.SIGNATURE_MISMATCH, label
