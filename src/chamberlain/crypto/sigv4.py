"""AWS Signature Version 4 (AWS4-HMAC-SHA256): canonicalization, signing and verification.

Pure: imports nothing else of the project, reads no clock (``now`` is a parameter) and
never sees an HTTP framework. The wire layer (``chamberlain.protocol.sigv4_fields``) pulls
the SigV4 fields out of a request; this module rebuilds what the client signed and checks it.

Canonical request (AWS General Reference, "Create a canonical request for Signature
Version 4")::

    Method \\n CanonicalURI \\n CanonicalQuery \\n
    CanonicalHeaders \\n SignedHeaders \\n PayloadHash

* URI: the path as received on the wire (already percent-encoded once by the client) is
  normalized (empty and ``.`` segments dropped, ``..`` resolved, as botocore does) and
  percent-encoded once more, ``/`` kept: every service but S3 encodes twice. For ``s3``
  the path is neither normalized nor double-encoded (decoded, then encoded once).
* Query: every name and value percent-decoded, then re-encoded (unreserved characters
  ``A-Za-z0-9-_.~`` kept, everything else ``%XX`` upper-case), sorted by encoded name then
  encoded value, joined with ``&``; a name without ``=`` gets an empty value. A ``+`` is
  decoded as a space, as in HTML forms: botocore signs a space as ``%20`` but sends it as
  ``+`` on the wire (``urlencode``), so only this reading verifies its GET requests; a
  literal plus arrives as ``%2B``. For a presigned request ``X-Amz-Signature`` is left out.
* Headers: names lower-cased; values trimmed and every run of whitespace collapsed to one
  space; repeated headers joined with ``,`` in the order received; sorted by name.
* Payload hash: hex SHA-256 of the body, or ``UNSIGNED-PAYLOAD`` where the service allows.

How the caller (the server) maps a :class:`SignatureError` to AWS's error responses, as the
IAM and STS query APIs answer (Common Errors page of the IAM/STS API references; messages
as AWS sends them)::

    Reason                    AWS code (HTTP status)       AWS message
    MISSING_AUTHENTICATION    MissingAuthenticationToken   "Request is missing Authentication
                              (403)                         Token"
    INCOMPLETE_SIGNATURE      IncompleteSignature (400)    e.g. "Authorization header requires
                                                            'Credential' parameter. ..."
    SCOPE_MISMATCH            SignatureDoesNotMatch (403)  e.g. "Credential should be scoped
                                                            with a valid terminator: ...",
                                                            "Credential should be scoped to a
                                                            valid region. " (trailing space)
    TOO_SKEWED                SignatureDoesNotMatch (403)  "Signature expired: 20150830T123600Z
                                                            is now earlier than 20150830T124600Z
                                                            (20150830T130100Z - 15 min.)" or
                                                            "Signature not yet current: ... is
                                                            still later than ... (... + 15 min.)"
    PRESIGNED_EXPIRED         RequestExpired (400)         "Request has expired"
    SIGNATURE_MISMATCH        SignatureDoesNotMatch (403)  "The request signature we calculated
                                                            does not match the signature you
                                                            provided. ..."
    (unknown access key id)   InvalidClientTokenId (403)   "The security token included in the
                                                            request is invalid." -- the caller's
                                                            job: this module never sees key ids.

Note on skew: IAM and STS answer a stale or future ``X-Amz-Date`` with
``SignatureDoesNotMatch`` and the "Signature expired" message (as seen from the real
services, e.g. aws/aws-cli#6676); the ``RequestExpired`` code in the generic Common Errors
list is what presigned requests past their ``X-Amz-Expires`` get.

Secrets: the secret access key and the derived signing key never appear in an exception
message, ``str`` or ``repr`` produced here, nor does the expected signature (an oracle).
A :class:`SignatureError` for a mismatch carries the canonical request and string to sign
(both built from request data only) so the caller can echo them as AWS does.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from urllib.parse import quote, unquote_to_bytes

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
SIGNATURE_PARAM = "X-Amz-Signature"
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_EXPIRES = 604800  # seven days, in seconds
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
SCOPE_DATE_FORMAT = "%Y%m%d"

# Text and bytes both accepted for request parts: bytes (as an ASGI server hands them
# over) are decoded as UTF-8 with surrogateescape and hashed back the same way, so any
# byte sequence round-trips exactly.
Text = str | bytes
HeaderList = Sequence[tuple[Text, Text]]
QueryInput = Text | Sequence[tuple[Text, Text]]

_ENCODING = "utf-8"
_ERRORS = "surrogateescape"
_AMZ_DATE_RE = re.compile(r"\d{8}T\d{6}Z")
_WHITESPACE_RUN = re.compile(r"[ \t\r\n]+")


class Reason(Enum):
    """Why a request failed verification; see the module docstring for AWS's codes."""

    MISSING_AUTHENTICATION = "missing_authentication"
    INCOMPLETE_SIGNATURE = "incomplete_signature"
    SCOPE_MISMATCH = "scope_mismatch"
    TOO_SKEWED = "too_skewed"
    EXPIRED = "too_skewed"  # alias of TOO_SKEWED: the request time is > 15 min from now
    PRESIGNED_EXPIRED = "presigned_expired"
    SIGNATURE_MISMATCH = "signature_mismatch"


class SignatureError(Exception):
    """A request whose signature cannot be accepted. Never holds secret material."""

    def __init__(
        self,
        reason: Reason,
        message: str,
        *,
        canonical_request: str | None = None,
        string_to_sign: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.canonical_request = canonical_request
        self.string_to_sign = string_to_sign

    def __repr__(self) -> str:
        return f"SignatureError({self.reason.name}, {self.message!r})"


@dataclass(frozen=True)
class CredentialScope:
    """``date/region/service/terminator``; ``date`` is ``YYYYMMDD``."""

    date: str
    region: str
    service: str
    terminator: str = TERMINATOR

    def __str__(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


def _text(value: Text) -> str:
    return value.decode(_ENCODING, _ERRORS) if isinstance(value, bytes) else value


def _bytes(value: Text) -> bytes:
    return value.encode(_ENCODING, _ERRORS) if isinstance(value, str) else value


def sha256_hex(data: Text) -> str:
    """Hex SHA-256, the payload hash of a body."""
    return hashlib.sha256(_bytes(data)).hexdigest()


def uri_encode(value: Text, *, keep_slash: bool = False) -> str:
    """Percent-encode every byte outside ``A-Za-z0-9-_.~`` (and ``/`` if ``keep_slash``)."""
    return quote(_bytes(value), safe="/~" if keep_slash else "~")


def format_amz_date(moment: datetime) -> str:
    """ISO 8601 basic format in UTC, e.g. ``20150830T123600Z``."""
    return _utc(moment).strftime(AMZ_DATE_FORMAT)


def parse_amz_date(value: str) -> datetime:
    """Parse ``YYYYMMDDTHHMMSSZ`` strictly; anything else is an incomplete signature."""
    if _AMZ_DATE_RE.fullmatch(value):
        try:  # the fields by position (the pattern fixed them): strptime costs far more
            return datetime(
                int(value[0:4]), int(value[4:6]), int(value[6:8]),
                int(value[9:11]), int(value[11:13]), int(value[13:15]), tzinfo=UTC,
            )  # fmt: skip
        except ValueError:
            pass
    raise SignatureError(
        Reason.INCOMPLETE_SIGNATURE,
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601",
    )


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: pass an aware datetime (UTC)")
    return moment.astimezone(UTC)


def remove_dot_segments(path: bytes) -> bytes:
    """Normalize a path like botocore: drop empty and ``.`` segments, resolve ``..``.

    The leading ``/`` is kept; a trailing ``/`` is kept unless nothing is left.
    """
    if not path:
        return b"/"
    kept: list[bytes] = []
    for segment in path.split(b"/"):
        if segment in (b"", b"."):
            continue
        if segment == b"..":
            if kept:
                kept.pop()
            continue
        kept.append(segment)
    lead = b"/" if path.startswith(b"/") else b""
    trail = b"/" if path.endswith(b"/") and kept else b""
    return lead + b"/".join(kept) + trail


def canonical_uri(path: Text, *, service: str) -> str:
    """The canonical URI of a raw (as-received) request path."""
    raw = _bytes(path)
    if not raw:
        return "/"
    if service == "s3":
        return uri_encode(unquote_to_bytes(raw), keep_slash=True)
    return uri_encode(remove_dot_segments(raw), keep_slash=True)


def parse_query(query: Text) -> list[tuple[bytes, bytes]]:
    """Split a raw query string into percent-decoded (name, value) pairs, in order.

    Empty segments (``a=1&&b=2``) are skipped; ``+`` means a space (see module docstring).
    """
    pairs: list[tuple[bytes, bytes]] = []
    for segment in _bytes(query).replace(b"+", b" ").split(b"&"):
        if not segment:
            continue
        name, _, value = segment.partition(b"=")
        pairs.append((unquote_to_bytes(name), unquote_to_bytes(value)))
    return pairs


def canonical_query(query: QueryInput, *, exclude: Iterable[str] = ()) -> str:
    """The canonical query string.

    ``query`` is either the raw query string (percent-encoded, as received) or already
    decoded (name, value) pairs. Parameters named in ``exclude`` are left out.
    """
    pairs = parse_query(query) if isinstance(query, str | bytes) else query
    skip = {_bytes(name) for name in exclude}
    encoded = sorted(
        (uri_encode(name), uri_encode(value)) for name, value in pairs if _bytes(name) not in skip
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def canonical_header_value(value: Text) -> str:
    """Trim, and collapse each run of whitespace (folded lines included) to one space."""
    return _WHITESPACE_RUN.sub(" ", _text(value)).strip(" ")


def normalize_signed_headers(names: Iterable[str]) -> tuple[str, ...]:
    """Lower-case, de-duplicate and sort signed header names."""
    return tuple(sorted({name.strip().lower() for name in names}))


def canonical_headers(headers: HeaderList, signed_headers: Iterable[str]) -> str:
    """``name:value\\n`` for each signed header, sorted; a signed header absent from the
    request gets an empty value (and so, in practice, a mismatch)."""
    wanted = normalize_signed_headers(signed_headers)
    values: dict[str, list[str]] = {name: [] for name in wanted}
    for name, value in headers:
        key = _text(name).strip().lower()
        if key in values:
            values[key].append(canonical_header_value(value))
    return "".join(f"{name}:{','.join(values[name])}\n" for name in wanted)


@dataclass(frozen=True)
class SigningInput:
    """Everything a SigV4 signature covers, taken from a request as received.

    ``path`` and ``query`` are raw (percent-encoded as on the wire; ``query`` may also be
    decoded pairs); ``headers`` are (name, value) pairs as received, repeats included;
    ``payload_hash`` is the hex SHA-256 of the body (or ``UNSIGNED-PAYLOAD`` where allowed).
    For a presigned request, ``is_presigned`` drops ``X-Amz-Signature`` from the query.
    """

    method: str
    path: Text
    query: QueryInput
    headers: HeaderList
    payload_hash: str
    signed_headers: tuple[str, ...]
    scope: CredentialScope
    request_datetime: datetime
    is_presigned: bool = False

    @property
    def amz_date(self) -> str:
        return format_amz_date(self.request_datetime)

    def canonical_request(self) -> str:
        exclude = (SIGNATURE_PARAM,) if self.is_presigned else ()
        signed = normalize_signed_headers(self.signed_headers)
        return "\n".join(
            (
                self.method,
                canonical_uri(self.path, service=self.scope.service),
                canonical_query(self.query, exclude=exclude),
                canonical_headers(self.headers, signed),
                ";".join(signed),
                self.payload_hash,
            )
        )

    def string_to_sign(self, canonical_request: str | None = None) -> str:
        creq = self.canonical_request() if canonical_request is None else canonical_request
        return "\n".join((ALGORITHM, self.amz_date, str(self.scope), sha256_hex(creq)))

    def signature(self, secret_access_key: str) -> str:
        return sign(signing_key(secret_access_key, self.scope), self.string_to_sign())


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(_ENCODING, _ERRORS), hashlib.sha256).digest()


def signing_key(secret_access_key: str, scope: CredentialScope) -> bytes:
    """HMAC chain ``"AWS4" + secret`` -> date -> region -> service -> terminator."""
    key = _hmac(("AWS4" + secret_access_key).encode(_ENCODING), scope.date)
    for part in (scope.region, scope.service, scope.terminator):
        key = _hmac(key, part)
    return key


def sign(key: bytes, string_to_sign: str) -> str:
    """Hex HMAC-SHA256 of the string to sign under the signing key."""
    return hmac.new(key, string_to_sign.encode(_ENCODING, _ERRORS), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Verified:
    """A request whose signature checked out."""

    scope: CredentialScope
    signed_headers: tuple[str, ...]
    request_datetime: datetime
    is_presigned: bool
    expires_at: datetime | None  # presigned only


def _check_scope(
    request: SigningInput, expected_service: str | None, allowed_regions: Collection[str] | None
) -> None:
    scope = request.scope
    if scope.terminator != TERMINATOR:
        raise SignatureError(
            Reason.SCOPE_MISMATCH,
            "Credential should be scoped with a valid terminator: "
            f"'{TERMINATOR}', not '{scope.terminator}'.",
        )
    request_date = _utc(request.request_datetime).strftime(SCOPE_DATE_FORMAT)
    if scope.date != request_date:
        raise SignatureError(
            Reason.SCOPE_MISMATCH,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{scope.date}' != '{request_date}', from '{request.amz_date}'.",
        )
    # AWS names every wrong part of the scope, each sentence followed by a space.
    problems = []
    if allowed_regions is not None and scope.region not in allowed_regions:
        problems.append("Credential should be scoped to a valid region. ")
    if expected_service is not None and scope.service != expected_service:
        problems.append(f"Credential should be scoped to correct service: '{expected_service}'. ")
    if problems:
        raise SignatureError(Reason.SCOPE_MISMATCH, "".join(problems))


def _check_time(
    request: SigningInput, now: datetime, expires: int | None, max_skew: timedelta
) -> datetime | None:
    """Reject a request outside its validity window; return a presigned one's expiry."""
    now = _utc(now)
    at = _utc(request.request_datetime)
    if at - now > max_skew:
        minutes = int(max_skew.total_seconds() // 60)
        raise SignatureError(
            Reason.TOO_SKEWED,
            f"Signature not yet current: {format_amz_date(at)} is still later than "
            f"{format_amz_date(now + max_skew)} ({format_amz_date(now)} + {minutes} min.)",
        )
    if request.is_presigned:
        if expires is None or not 1 <= expires <= MAX_PRESIGNED_EXPIRES:
            raise SignatureError(
                Reason.INCOMPLETE_SIGNATURE,
                "X-Amz-Expires must be an integer number of seconds from 1 to "
                f"{MAX_PRESIGNED_EXPIRES} (seven days).",
            )
        expires_at = at + timedelta(seconds=expires)
        if now > expires_at:
            raise SignatureError(Reason.PRESIGNED_EXPIRED, "Request has expired")
        return expires_at
    if now - at > max_skew:
        minutes = int(max_skew.total_seconds() // 60)
        raise SignatureError(
            Reason.TOO_SKEWED,
            f"Signature expired: {format_amz_date(at)} is now earlier than "
            f"{format_amz_date(now - max_skew)} ({format_amz_date(now)} - {minutes} min.)",
        )
    return None


def verify(
    request: SigningInput,
    signature: str,
    secret_access_key: str | Callable[[CredentialScope], bytes],
    *,
    now: datetime,
    expires: int | None = None,
    expected_service: str | None = None,
    allowed_regions: Collection[str] | None = None,
    max_skew: timedelta = MAX_SKEW,
) -> Verified:
    """Check a request's SigV4 signature; raise :class:`SignatureError` if it fails.

    Order: the request must sign ``host``; the scope must end in ``aws4_request`` and be
    dated the request's day (and name ``expected_service`` and one of ``allowed_regions``
    when given); the request time must lie within ``max_skew`` of ``now`` (a presigned
    request: not more than ``max_skew`` ahead, and not past ``X-Amz-Date + expires``,
    ``expires`` at most seven days); then the signature is compared in constant time.
    ``now`` must be timezone-aware. ``secret_access_key`` may instead be a function giving
    the signing key of a scope (a caller caching derived keys).
    """
    signed = normalize_signed_headers(request.signed_headers)
    if "host" not in signed:
        raise SignatureError(
            Reason.INCOMPLETE_SIGNATURE,
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        )
    _check_scope(request, expected_service, allowed_regions)
    expires_at = _check_time(request, now, expires, max_skew)
    creq = request.canonical_request()
    sts = request.string_to_sign(creq)
    if isinstance(secret_access_key, str):
        key = signing_key(secret_access_key, request.scope)
    else:
        key = secret_access_key(request.scope)
    expected = sign(key, sts)
    if not hmac.compare_digest(expected.encode(), _bytes(signature)):
        raise SignatureError(
            Reason.SIGNATURE_MISMATCH,
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details.",
            canonical_request=creq,
            string_to_sign=sts,
        )
    return Verified(
        scope=request.scope,
        signed_headers=signed,
        request_datetime=_utc(request.request_datetime),
        is_presigned=request.is_presigned,
        expires_at=expires_at,
    )
