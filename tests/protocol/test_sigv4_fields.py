"""SigV4 field extraction: Authorization header and presigned query string.

AWS General Reference / IAM User Guide, "Create a signed AWS API request" (the
Authorization header) and "Authentication Using Query Parameters" (X-Amz-* parameters).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chamberlain.crypto.sigv4 import (
    EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
    CredentialScope,
    Reason,
    SignatureError,
    SigningInput,
    verify,
)
from chamberlain.protocol.sigv4_fields import (
    extract,
    parse_authorization,
    payload_hash,
)

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CREDENTIAL = "AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request"
SIG = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
AUTH = f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders=host;x-amz-date, Signature={SIG}"
T0 = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
HOST = ("Host", "iam.amazonaws.com")
AMZ_DATE = ("X-Amz-Date", "20150830T123600Z")
PRESIGNED = (
    "Action=ListUsers&Version=2010-05-08&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fiam%2Faws4_request"
    "&X-Amz-Date=20150830T123600Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
    f"&X-Amz-Signature={SIG}"
)


def _reason(headers: list[tuple[str, str]], query: str = "") -> SignatureError:
    with pytest.raises(SignatureError) as err:
        extract(headers, query)
    return err.value


def test_header_form() -> None:
    fields = extract([HOST, AMZ_DATE, ("Authorization", AUTH)], "Action=ListUsers")
    assert fields.access_key_id == "AKIDEXAMPLE"
    assert fields.scope == CredentialScope("20150830", "us-east-1", "iam")
    assert fields.signed_headers == ("host", "x-amz-date")
    assert fields.signature == SIG
    assert fields.request_datetime == T0
    assert fields.expires is None and fields.security_token is None
    assert not fields.is_presigned


def test_header_form_from_asgi_bytes() -> None:
    headers = [(b"host", b"iam.amazonaws.com"), (b"x-amz-date", b"20150830T123600Z")]
    headers += [(b"authorization", AUTH.encode()), (b"x-amz-security-token", b"tok")]
    fields = extract(headers, b"")
    assert fields.signature == SIG and fields.security_token == "tok"


@pytest.mark.parametrize(
    "value",
    [
        f"AWS4-HMAC-SHA256 Credential={CREDENTIAL},SignedHeaders=host;x-amz-date,Signature={SIG}",
        f"AWS4-HMAC-SHA256   Credential={CREDENTIAL} ,  SignedHeaders=host;x-amz-date,"
        f"\tSignature={SIG} ",
        f"AWS4-HMAC-SHA256\tCredential={CREDENTIAL},SignedHeaders=host;x-amz-date,Signature={SIG}",
        f"AWS4-HMAC-SHA256 Signature={SIG}, Credential={CREDENTIAL}, SignedHeaders=x-amz-date;Host",
        f"AWS4-HMAC-SHA256 Credential={CREDENTIAL} SignedHeaders=host;x-amz-date Signature={SIG}",
    ],
)
def test_header_spacing_and_order_are_tolerated(value: str) -> None:
    fields = extract([HOST, AMZ_DATE, ("Authorization", value)], "")
    assert (fields.signed_headers, fields.signature) == (("host", "x-amz-date"), SIG)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([" ", ",", "\t", ", ", " ,"]), min_size=3, max_size=3))
def test_any_comma_or_whitespace_separator_parses_the_same(seps: list[str]) -> None:
    value = (
        f"AWS4-HMAC-SHA256 {seps[0]}Credential={CREDENTIAL}{seps[1]}"
        f"SignedHeaders=host;x-amz-date{seps[2]}Signature={SIG}"
    )
    assert parse_authorization(value) == parse_authorization(AUTH)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.text(max_size=40))
def test_garbage_never_escapes_as_another_exception(auth: str, query: str) -> None:
    try:
        extract([HOST, ("Authorization", auth), AMZ_DATE], query)
    except SignatureError as err:
        assert err.reason in (Reason.INCOMPLETE_SIGNATURE, Reason.MISSING_AUTHENTICATION)
    try:
        extract([HOST], query)
    except SignatureError as err:
        assert err.reason in (Reason.INCOMPLETE_SIGNATURE, Reason.MISSING_AUTHENTICATION)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (f"AWS4-HMAC-SHA256 SignedHeaders=host, Signature={SIG}", "requires 'Credential'"),
        (f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, Signature={SIG}", "requires 'SignedHeaders'"),
        (f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders=host", "requires 'Signature'"),
        (f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders=host, Signature=", "Signature'"),
        ("AWS4-HMAC-SHA256", "requires 'Credential'"),
        (
            f"AWS4-HMAC-SHA256 Credential= {CREDENTIAL}, SignedHeaders=host, Signature={SIG}",
            "missing equal-sign",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, Credential={CREDENTIAL}, "
            f"SignedHeaders=host, Signature={SIG}",
            "Duplicate 'Credential'",
        ),
        ("AWS AKIDEXAMPLE:c2lnbmF0dXJl", "Unsupported AWS 'algorithm': 'AWS'"),
        (AUTH.replace("SHA256", "SHA512"), "Unsupported"),
        (AUTH.replace(CREDENTIAL, "AKIDEXAMPLE/20150830/us-east-1/iam"), "Credential must have"),
        (AUTH.replace(CREDENTIAL, "/20150830/us-east-1/iam/aws4_request"), "Credential must have"),
        (AUTH.replace("20150830", "2015-08-30"), "YYYYMMDD"),
        (AUTH.replace("host;x-amz-date", "host;;x-amz-date"), "SignedHeaders"),
    ],
)
def test_malformed_authorization_is_an_incomplete_signature(value: str, message: str) -> None:
    error = _reason([HOST, AMZ_DATE, ("Authorization", value)])
    assert error.reason is Reason.INCOMPLETE_SIGNATURE
    assert message in error.message


def test_date_header_is_the_fallback_and_x_amz_date_wins() -> None:
    date = ("Date", "Sun, 30 Aug 2015 12:36:00 GMT")
    assert extract([HOST, date, ("Authorization", AUTH)], "").request_datetime == T0
    later = ("Date", "Sun, 30 Aug 2015 13:00:00 GMT")
    assert extract([HOST, later, AMZ_DATE, ("Authorization", AUTH)], "").request_datetime == T0


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ([HOST, ("Authorization", AUTH)], "either a 'X-Amz-Date' or a 'Date' header"),
        ([HOST, ("X-Amz-Date", "2015-08-30T12:36:00Z"), ("Authorization", AUTH)], "ISO-8601"),
        ([HOST, ("X-Amz-Date", "20151330T123600Z"), ("Authorization", AUTH)], "ISO-8601"),
        ([HOST, ("Date", "yesterday"), ("Authorization", AUTH)], "HTTP date"),
        ([HOST, AMZ_DATE, ("Authorization", AUTH), ("authorization", AUTH)], "Only one"),
        ([HOST, AMZ_DATE, AMZ_DATE, ("Authorization", AUTH)], "Only one"),
    ],
)
def test_bad_request_time_or_repeats(headers: list[tuple[str, str]], message: str) -> None:
    error = _reason(headers)
    assert error.reason is Reason.INCOMPLETE_SIGNATURE
    assert message in error.message


def test_no_authentication_at_all() -> None:
    error = _reason([HOST, AMZ_DATE], "Action=ListUsers&Version=2010-05-08")
    assert error.reason is Reason.MISSING_AUTHENTICATION
    assert error.message == "Request is missing Authentication Token"


def test_header_and_query_together_are_refused() -> None:
    error = _reason([HOST, AMZ_DATE, ("Authorization", AUTH)], PRESIGNED)
    assert error.reason is Reason.INCOMPLETE_SIGNATURE
    assert "Only one auth mechanism" in error.message


def test_presigned_form() -> None:
    query = PRESIGNED + "&X-Amz-Security-Token=FQo%2BGZX%2F%3D"
    fields = extract([HOST], query)
    assert fields.is_presigned
    assert fields.access_key_id == "AKIDEXAMPLE"
    assert fields.scope == CredentialScope("20150830", "us-east-1", "iam")
    assert fields.signed_headers == ("host",)
    assert fields.signature == SIG
    assert fields.request_datetime == T0
    assert fields.expires == 900
    assert fields.security_token == "FQo+GZX/="


@pytest.mark.parametrize(
    "name",
    [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ],
)
def test_presigned_parameter_missing(name: str) -> None:
    query = "&".join(p for p in PRESIGNED.split("&") if not p.startswith(name + "="))
    error = _reason([HOST], query)
    assert error.reason is Reason.INCOMPLETE_SIGNATURE
    assert name in error.message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("X-Amz-Expires=900", "X-Amz-Expires=abc"), "X-Amz-Expires"),
        (("X-Amz-Expires=900", "X-Amz-Expires=-1"), "X-Amz-Expires"),
        (("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256"), "Unsupp"),
        (("X-Amz-Date=20150830T123600Z", "X-Amz-Date=20150830"), "ISO-8601"),
        (("X-Amz-Expires=900", "X-Amz-Expires=900&X-Amz-Expires=60"), "only once"),
        (("%2Faws4_request", ""), "Credential must have"),
    ],
)
def test_presigned_malformed(change: tuple[str, str], message: str) -> None:
    error = _reason([HOST], PRESIGNED.replace(*change))
    assert error.reason is Reason.INCOMPLETE_SIGNATURE
    assert message in error.message


def test_signing_input_verifies_with_date_header_and_presigned_query() -> None:
    """A request signed with the ``Date`` header (no X-Amz-Date) verifies through the
    fields; a presigned one leaves its own signature out of the canonical query."""
    scope = CredentialScope("20150830", "us-east-1", "iam")
    headers = [HOST, ("Date", "Sun, 30 Aug 2015 12:36:00 GMT")]
    signed = SigningInput(
        "GET", "/", "Action=ListUsers", headers, EMPTY_SHA256, ("date", "host"), scope, T0
    )
    auth = (
        f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders=date;host, "
        f"Signature={signed.signature(SECRET)}"
    )
    request_headers = [*headers, ("Authorization", auth)]
    fields = extract(request_headers, "Action=ListUsers")
    signing = fields.signing_input(
        method="GET",
        path="/",
        query="Action=ListUsers",
        headers=request_headers,
        payload_hash=EMPTY_SHA256,
    )
    assert signing.string_to_sign().splitlines()[1] == "20150830T123600Z"
    verify(signing, fields.signature, SECRET, now=T0)

    unsigned_query = PRESIGNED.rsplit("&X-Amz-Signature=", 1)[0]
    presign = SigningInput(
        "GET", "/", unsigned_query, [HOST], EMPTY_SHA256, ("host",), scope, T0, True
    )
    query = f"{unsigned_query}&X-Amz-Signature={presign.signature(SECRET)}"
    fields = extract([HOST], query)
    signing = fields.signing_input(
        method="GET", path="/", query=query, headers=[HOST], payload_hash=EMPTY_SHA256
    )
    result = verify(signing, fields.signature, SECRET, now=T0, expires=fields.expires)
    assert result.is_presigned


def test_payload_hash() -> None:
    body = b"Action=ListUsers&Version=2010-05-08"
    digest = hashlib.sha256(body).hexdigest()
    assert payload_hash([HOST], body) == digest
    assert payload_hash([("X-Amz-Content-Sha256", digest)], body) == digest
    assert payload_hash(
        [("x-amz-content-sha256", UNSIGNED_PAYLOAD)], body, allow_unsigned=True
    ) == (UNSIGNED_PAYLOAD)
    for declared in (UNSIGNED_PAYLOAD, EMPTY_SHA256):
        with pytest.raises(SignatureError) as err:
            payload_hash([("x-amz-content-sha256", declared)], body)
        assert err.value.reason is Reason.SIGNATURE_MISMATCH
