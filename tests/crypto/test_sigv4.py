"""Unit tests for chamberlain.crypto.sigv4, and an end-to-end check against botocore.

AWS General Reference / IAM User Guide, "Create a signed AWS API request" (canonical
request, string to sign, signing key) and "Authentication Using Query Parameters" (presigned
requests, X-Amz-Expires at most 604800). Skew: IAM/STS refuse a request more than 15 minutes
from the server's clock ("Signature expired: ... is now earlier than ... (... - 15 min.)").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from chamberlain.crypto import sigv4
from chamberlain.crypto.sigv4 import (
    EMPTY_SHA256,
    MAX_PRESIGNED_EXPIRES,
    CredentialScope,
    Reason,
    SignatureError,
    SigningInput,
    canonical_header_value,
    canonical_query,
    canonical_uri,
    remove_dot_segments,
    signing_key,
    verify,
)
from chamberlain.protocol.sigv4_fields import extract

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
T0 = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
IAM_SCOPE = CredentialScope("20150830", "us-east-1", "iam")
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def _request(
    *,
    at: datetime = T0,
    scope: CredentialScope = IAM_SCOPE,
    headers: tuple[tuple[str, str], ...] = (),
    signed: tuple[str, ...] = ("host", "x-amz-date"),
    presigned: bool = False,
    query: str = "Action=ListUsers&Version=2010-05-08",
) -> SigningInput:
    base = (("Host", "iam.amazonaws.com"), ("X-Amz-Date", sigv4.format_amz_date(at)))
    return SigningInput(
        method="GET",
        path="/",
        query=query,
        headers=base + headers,
        payload_hash=EMPTY_SHA256,
        signed_headers=signed,
        scope=scope,
        request_datetime=at,
        is_presigned=presigned,
    )


def _reason(call: Callable[[], object]) -> Reason:
    with pytest.raises(SignatureError) as err:
        call()
    assert SECRET not in str(err.value) and SECRET not in repr(err.value)
    return err.value.reason


# --- canonicalization ---------------------------------------------------------------


def test_aws_documentation_example_iam_list_users() -> None:
    """The worked example of the AWS General Reference ("Examples of the complete
    Signature Version 4 signing process", IAM ListUsers, 20150830T123600Z)."""
    request = SigningInput(
        method="GET",
        path="/",
        query="Action=ListUsers&Version=2010-05-08",
        headers=(
            ("Content-Type", FORM),
            ("Host", "iam.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
        ),
        payload_hash=EMPTY_SHA256,
        signed_headers=("content-type", "host", "x-amz-date"),
        scope=IAM_SCOPE,
        request_datetime=T0,
    )
    creq = request.canonical_request()
    assert hashlib.sha256(creq.encode()).hexdigest() == (
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
    )
    assert signing_key(SECRET, IAM_SCOPE).hex() == (
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    )
    assert request.signature(SECRET) == (
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )


@pytest.mark.parametrize(
    ("path", "service", "expected"),
    [
        ("", "iam", "/"),
        ("/", "iam", "/"),
        ("/a%20b/c", "iam", "/a%2520b/c"),  # encoded once more for non-S3 services
        ("/a%20b/c", "s3", "/a%20b/c"),
        ("/a/./b/../c//", "iam", "/a/c/"),
        ("/a/./b/../c//", "s3", "/a/./b/../c//"),  # S3 paths are not normalized
        ("/ሴ", "iam", "/%E1%88%B4"),
        (b"/\xe1\x88\xb4", "iam", "/%E1%88%B4"),
        ("/a+b=c", "iam", "/a%2Bb%3Dc"),
    ],
)
def test_canonical_uri(path: str | bytes, service: str, expected: str) -> None:
    assert canonical_uri(path, service=service) == expected


_SEGMENT = st.sampled_from(["", ".", "..", "a", "b", "%2E", "..."])


@settings(max_examples=300, deadline=None)
@given(st.lists(_SEGMENT, max_size=8), st.booleans())
def test_remove_dot_segments_leaves_no_dot_or_empty_segment(
    segments: list[str], trailing: bool
) -> None:
    path = ("/" + "/".join(segments) + ("/" if trailing else "")).encode()
    normalized = remove_dot_segments(path)
    assert normalized.startswith(b"/")
    inner = normalized.strip(b"/").split(b"/")
    assert normalized == b"/" or all(seg not in (b"", b".", b"..") for seg in inner)
    assert remove_dot_segments(normalized) == normalized


def test_canonical_query_decodes_reencodes_and_sorts() -> None:
    raw = "b=2&a=%7e%20x&a=%41&c&%E1%88%B4=1&p=a+b&&X-Amz-Signature=ff"
    assert canonical_query("q=a%2Bb") == "q=a%2Bb"
    assert canonical_query(raw) == ("%E1%88%B4=1&X-Amz-Signature=ff&a=A&a=~%20x&b=2&c=&p=a%20b")
    assert canonical_query(raw, exclude=("X-Amz-Signature",)).startswith("%E1%88%B4=1&a=A&")
    assert canonical_query([("b", "1"), ("a", "x y")]) == "a=x%20y&b=1"


def test_header_values_are_trimmed_and_whitespace_runs_collapsed() -> None:
    assert canonical_header_value('  "a   b \t c"  ') == '"a b c"'
    assert canonical_header_value(b"v1\r\n  v2") == "v1 v2"


def test_header_names_are_case_insensitive_and_repeats_joined_in_order() -> None:
    request = _request(
        headers=(("My-H", "2"), ("my-h", " 1 ")), signed=("Host", "X-Amz-Date", "my-h")
    )
    assert "my-h:2,1\n" in request.canonical_request()
    assert request.canonical_request().splitlines()[-2] == "host;my-h;x-amz-date"


# --- verification ---------------------------------------------------------------------


def _signed(request: SigningInput) -> str:
    return request.signature(SECRET)


def test_verify_accepts_and_reports() -> None:
    request = _request()
    result = verify(request, _signed(request), SECRET, now=T0)
    assert result.scope == IAM_SCOPE
    assert result.signed_headers == ("host", "x-amz-date")
    assert result.expires_at is None and not result.is_presigned


def test_wrong_secret_or_garbage_signature_is_a_mismatch() -> None:
    request = _request()
    assert _reason(lambda: verify(request, _signed(request), SECRET + "x", now=T0)) is (
        Reason.SIGNATURE_MISMATCH
    )
    for garbage in ("", "zz", "é" * 64, _signed(request).upper()):
        assert _reason(lambda g=garbage: verify(request, g, SECRET, now=T0)) is (
            Reason.SIGNATURE_MISMATCH
        )


def test_mismatch_carries_canonical_request_but_no_secret() -> None:
    request = _request()
    good = _signed(request)
    with pytest.raises(SignatureError) as err:
        verify(request, "0" * 64, SECRET, now=T0)
    error = err.value
    assert error.canonical_request == request.canonical_request()
    assert error.string_to_sign == request.string_to_sign()
    key_hex = signing_key(SECRET, IAM_SCOPE).hex()
    for text in (str(error), repr(error), error.canonical_request, error.string_to_sign):
        assert SECRET not in text and key_hex not in text and good not in text


def test_signature_is_compared_with_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = sigv4.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(sigv4.hmac, "compare_digest", spy)
    request = _request()
    verify(request, _signed(request), SECRET, now=T0)
    assert calls == [(_signed(request).encode(), _signed(request).encode())]


@pytest.mark.parametrize(
    ("offset", "ok"),
    [
        (timedelta(minutes=15), True),
        (timedelta(minutes=15, seconds=1), False),
        (timedelta(minutes=15, microseconds=1), False),
        (-timedelta(minutes=15), True),
        (-timedelta(minutes=15, seconds=1), False),
        (timedelta(0), True),
    ],
)
def test_clock_skew_limit(offset: timedelta, ok: bool) -> None:
    request = _request()
    signature = _signed(request)
    now = T0 + offset
    if ok:
        verify(request, signature, SECRET, now=now)
    else:
        assert _reason(lambda: verify(request, signature, SECRET, now=now)) is Reason.TOO_SKEWED


def test_skew_messages_follow_aws() -> None:
    request = _request()
    signature = _signed(request)
    with pytest.raises(SignatureError) as late:
        verify(request, signature, SECRET, now=T0 + timedelta(minutes=25))
    assert late.value.message == (
        "Signature expired: 20150830T123600Z is now earlier than 20150830T124600Z "
        "(20150830T130100Z - 15 min.)"
    )
    with pytest.raises(SignatureError) as early:
        verify(request, signature, SECRET, now=T0 - timedelta(minutes=25))
    assert early.value.message == (
        "Signature not yet current: 20150830T123600Z is still later than 20150830T122600Z "
        "(20150830T121100Z + 15 min.)"
    )
    assert Reason.EXPIRED is Reason.TOO_SKEWED


def test_naive_now_is_a_programming_error() -> None:
    request = _request()
    with pytest.raises(ValueError, match="naive"):
        verify(request, _signed(request), SECRET, now=T0.replace(tzinfo=None))


def test_presigned_expiry() -> None:
    request = _request(presigned=True, query="Action=ListUsers&X-Amz-Expires=60&X-Amz-Signature=x")
    signature = _signed(request)
    result = verify(request, signature, SECRET, now=T0 + timedelta(seconds=60), expires=60)
    assert result.is_presigned and result.expires_at == T0 + timedelta(seconds=60)
    late = T0 + timedelta(seconds=61)
    assert _reason(lambda: verify(request, signature, SECRET, now=late, expires=60)) is (
        Reason.PRESIGNED_EXPIRED
    )
    # a presigned request may be older than 15 minutes, up to its expiry ...
    week = timedelta(seconds=MAX_PRESIGNED_EXPIRES)
    verify(request, signature, SECRET, now=T0 + week, expires=MAX_PRESIGNED_EXPIRES)
    # ... but not dated more than 15 minutes ahead, nor valid for more than a week
    ahead = T0 - timedelta(minutes=16)
    assert _reason(lambda: verify(request, signature, SECRET, now=ahead, expires=60)) is (
        Reason.TOO_SKEWED
    )
    for bad in (None, 0, MAX_PRESIGNED_EXPIRES + 1):
        assert _reason(lambda b=bad: verify(request, signature, SECRET, now=T0, expires=b)) is (
            Reason.INCOMPLETE_SIGNATURE
        )


def test_presigned_signature_parameter_is_not_signed() -> None:
    request = _request(presigned=True, query="Action=ListUsers&X-Amz-Signature=abc")
    assert "X-Amz-Signature" not in request.canonical_request()
    header_form = _request(query="Action=ListUsers&X-Amz-Signature=abc")
    assert "X-Amz-Signature=abc" in header_form.canonical_request()


@pytest.mark.parametrize(
    ("scope", "kwargs"),
    [
        (CredentialScope("20150830", "us-east-1", "iam", "aws4_reques"), {}),
        (CredentialScope("20150831", "us-east-1", "iam"), {}),
        (IAM_SCOPE, {"allowed_regions": {"eu-west-1"}}),
        (IAM_SCOPE, {"expected_service": "sts"}),
    ],
)
def test_scope_mismatch(scope: CredentialScope, kwargs: dict[str, Any]) -> None:
    request = _request(scope=scope)
    signature = _signed(request)  # correctly signed, but with a scope the server refuses
    assert _reason(lambda: verify(request, signature, SECRET, now=T0, **kwargs)) is (
        Reason.SCOPE_MISMATCH
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"allowed_regions": {"eu-west-1"}}, "Credential should be scoped to a valid region. "),
        ({"expected_service": "sts"}, "Credential should be scoped to correct service: 'sts'. "),
        (
            {"allowed_regions": frozenset(), "expected_service": "sts"},
            "Credential should be scoped to a valid region. "
            "Credential should be scoped to correct service: 'sts'. ",
        ),
    ],
)
def test_scope_region_and_service_messages(kwargs: dict[str, Any], message: str) -> None:
    """AWS's words for a scope naming a region or service the endpoint does not serve,
    each sentence with a trailing space, both when both are wrong; as STS answers today
    (e.g. apache/airflow#47470, spring-projects/spring-vault#871; the region variant in
    the IAM User Guide's "Troubleshoot signed requests for AWS APIs",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/signature-v4-troubleshooting.html)."""
    request = _request(scope=IAM_SCOPE)
    with pytest.raises(SignatureError) as err:
        verify(request, _signed(request), SECRET, now=T0, **kwargs)
    assert err.value.message == message


def test_scope_date_message() -> None:
    request = _request(scope=CredentialScope("20150831", "us-east-1", "iam"))
    with pytest.raises(SignatureError) as err:
        verify(request, _signed(request), SECRET, now=T0)
    assert "'20150831' != '20150830', from '20150830T123600Z'" in err.value.message


def test_host_must_be_signed() -> None:
    request = _request(signed=("x-amz-date",))
    assert _reason(lambda: verify(request, _signed(request), SECRET, now=T0)) is (
        Reason.INCOMPLETE_SIGNATURE
    )


def test_signed_session_token_cannot_be_swapped_unsigned_one_is_not_covered() -> None:
    token = ("X-Amz-Security-Token", "FQoGZXIvYXdzEXAMPLE")
    signed = ("host", "x-amz-date", "x-amz-security-token")
    request = _request(headers=(token,), signed=signed)
    signature = _signed(request)
    verify(request, signature, SECRET, now=T0)
    assert "x-amz-security-token:FQoGZXIvYXdzEXAMPLE\n" in request.canonical_request()
    swapped = _request(headers=(("X-Amz-Security-Token", "other"),), signed=signed)
    assert _reason(lambda: verify(swapped, signature, SECRET, now=T0)) is (
        Reason.SIGNATURE_MISMATCH
    )
    dropped = _request(signed=signed)
    assert _reason(lambda: verify(dropped, signature, SECRET, now=T0)) is (
        Reason.SIGNATURE_MISMATCH
    )
    # an unsigned token (older SDKs add it after signing) is outside the signature
    plain = _request()
    with_token = _request(headers=(token,))
    verify(with_token, _signed(plain), SECRET, now=T0)


# --- end to end with botocore ---------------------------------------------------------


def _str(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _server_view(prepared: AWSPreparedRequest) -> dict[str, Any]:
    """What the server sees: method, raw path and query, headers (Host added by the HTTP
    client at send time), body."""
    url = urlsplit(prepared.url)
    headers = [(_str(k), _str(v)) for k, v in prepared.headers.items()]
    if not any(k.lower() == "host" for k, _ in headers):
        headers.append(("Host", url.netloc))
    body = prepared.body or b""
    return {
        "method": prepared.method,
        "path": url.path or "/",
        "query": url.query,
        "headers": headers,
        "body": body.encode() if isinstance(body, str) else body,
    }


def _verify_view(view: dict[str, Any], secret: str, service: str) -> sigv4.Verified:
    fields = extract(view["headers"], view["query"])
    assert fields.access_key_id == AKID
    signing = fields.signing_input(
        method=view["method"],
        path=view["path"],
        query=view["query"],
        headers=view["headers"],
        payload_hash=hashlib.sha256(view["body"]).hexdigest(),
    )
    return verify(
        signing,
        fields.signature,
        secret,
        now=datetime.now(UTC),
        expires=fields.expires,
        expected_service=service,
    )


def _botocore_request(service: str, method: str, params: dict[str, str]) -> AWSRequest:
    url = f"https://{service}.amazonaws.com/"
    if method == "GET":
        return AWSRequest(method="GET", url=url, params=params)
    return AWSRequest(method="POST", url=url, data=params, headers={"Content-Type": FORM})


_ACTIONS = {
    "iam": {"Action": "ListUsers", "Version": "2010-05-08", "PathPrefix": "/a b+c/ü~*'!/"},
    "sts": {"Action": "GetCallerIdentity", "Version": "2011-06-15"},
}


@pytest.mark.parametrize("token", [None, "IQoJb3JpZ2luX2VjEXAMPLE+/="])
@pytest.mark.parametrize("presigned", [False, True], ids=["header", "presigned"])
@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("service", ["iam", "sts"])
def test_botocore_signed_requests_verify(
    service: str, method: str, presigned: bool, token: str | None
) -> None:
    credentials = Credentials(AKID, SECRET, token)
    request = _botocore_request(service, method, _ACTIONS[service])
    if presigned:
        SigV4QueryAuth(credentials, service, "us-east-1", expires=900).add_auth(request)
    else:
        SigV4Auth(credentials, service, "us-east-1").add_auth(request)
    view = _server_view(request.prepare())
    result = _verify_view(view, SECRET, service)
    assert result.is_presigned is presigned
    fields = extract(view["headers"], view["query"])
    assert fields.security_token == token
    if token is not None:
        assert "x-amz-security-token" in fields.signed_headers or presigned
    with pytest.raises(SignatureError) as err:
        _verify_view(view, SECRET[:-1] + "Z", service)
    assert err.value.reason is Reason.SIGNATURE_MISMATCH
    if view["body"]:
        tampered = {**view, "body": view["body"].replace(b"Version", b"Versiom")}
        with pytest.raises(SignatureError):
            _verify_view(tampered, SECRET, service)


class _Captured(Exception):
    def __init__(self, request: AWSPreparedRequest) -> None:
        super().__init__("captured")
        self.request = request


def _client(service: str, region: str) -> Any:
    session = botocore.session.get_session()
    client = session.create_client(
        service,
        region_name=region,
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        aws_session_token="SessionTokenEXAMPLE",
    )

    def capture(request: AWSPreparedRequest, **_: Any) -> None:
        raise _Captured(request)

    client.meta.events.register("before-send", capture)
    return client


@pytest.mark.parametrize(
    ("service", "region", "call"),
    [
        ("iam", "us-east-1", lambda c: c.create_user(UserName="alice", Path="/dev team/")),
        ("sts", "us-west-2", lambda c: c.get_caller_identity()),
        (
            "sts",
            "eu-central-1",
            lambda c: c.assume_role(
                RoleArn="arn:aws:iam::123456789012:role/r", RoleSessionName="session"
            ),
        ),
    ],
)
def test_unmodified_botocore_client_requests_verify(
    service: str, region: str, call: Callable[[Any], object]
) -> None:
    with pytest.raises(_Captured) as captured:
        call(_client(service, region))
    view = _server_view(captured.value.request)
    result = _verify_view(view, SECRET, service)
    assert result.scope.region == (region if service == "sts" else "us-east-1")
    assert "x-amz-security-token" in result.signed_headers


@pytest.mark.parametrize("http_method", [None, "GET"])
@pytest.mark.parametrize(
    ("service", "method", "params"),
    [("sts", "get_caller_identity", {}), ("iam", "list_users", {"PathPrefix": "/x y/"})],
)
def test_botocore_generate_presigned_url_verifies(
    service: str, method: str, params: dict[str, str], http_method: str | None
) -> None:
    """By default botocore presigns a query-protocol call for POST (the operation's method,
    as EKS-style GetCallerIdentity tokens are sent); ``HttpMethod="GET"`` signs for GET. The
    method is signed, so the URL verifies only with the method it was presigned for."""
    url = _client(service, "us-east-1").generate_presigned_url(
        method, Params=params, ExpiresIn=900, HttpMethod=http_method
    )
    parts = urlsplit(url)
    view = {
        "method": http_method or "POST",
        "path": parts.path or "/",
        "query": parts.query,
        "headers": [("Host", parts.netloc)],
        "body": b"",
    }
    result = _verify_view(view, SECRET, service)
    assert result.is_presigned
    assert result.expires_at == result.request_datetime + timedelta(seconds=900)
    for tampered in (
        {**view, "query": parts.query.replace("Version=", "Version=1")},
        {**view, "method": "PUT"},
        {**view, "headers": [("Host", "evil.example.com")]},
    ):
        with pytest.raises(SignatureError) as err:
            _verify_view(tampered, SECRET, service)
        assert err.value.reason is Reason.SIGNATURE_MISMATCH


_PARAM_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.text("abcXYZ-_.~ ", min_size=1, max_size=6), _PARAM_TEXT, max_size=5),
    st.booleans(),
)
def test_botocore_any_query_parameters_verify(params: dict[str, str], presigned: bool) -> None:
    request = AWSRequest(method="GET", url="https://iam.amazonaws.com/", params=params)
    credentials = Credentials(AKID, SECRET)
    if presigned:
        SigV4QueryAuth(credentials, "iam", "us-east-1", expires=60).add_auth(request)
    else:
        SigV4Auth(credentials, "iam", "us-east-1").add_auth(request)
    _verify_view(_server_view(request.prepare()), SECRET, "iam")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20150830T123600Z", datetime(2015, 8, 30, 12, 36, 0, tzinfo=UTC)),
        ("20240229T235959Z", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
        ("20230229T000000Z", None),  # no such day
        ("20151301T000000Z", None),
        ("20150830T240000Z", None),
        ("20150830T123660Z", None),
        ("00000830T123600Z", None),
        ("2015-08-30T12:36:00Z", None),
        ("20150830T123600", None),
        ("20150830T123600Z ", None),
    ],
)
def test_parse_amz_date_is_strict(text: str, expected: datetime | None) -> None:
    if expected is not None:
        assert sigv4.parse_amz_date(text) == expected
        return
    with pytest.raises(SignatureError) as caught:
        sigv4.parse_amz_date(text)
    assert caught.value.reason is Reason.INCOMPLETE_SIGNATURE
    assert f"Got '{text}'" in str(caught.value)
