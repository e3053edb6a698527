"""Pull the SigV4 fields out of an incoming request, in either of its two forms.

* Authorization header::

      Authorization: AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request,
          SignedHeaders=host;x-amz-date, Signature=<64 hex>

  with the request time in ``X-Amz-Date`` (ISO 8601 basic) or else ``Date`` (HTTP date),
  and an optional ``X-Amz-Security-Token`` header.
* Presigned query string: ``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``,
  ``X-Amz-Expires``, ``X-Amz-SignedHeaders``, ``X-Amz-Signature`` and an optional
  ``X-Amz-Security-Token`` (the signature parameter is left out of the canonical query).

Like AWS, the components of the Authorization header may be separated by commas and/or
any whitespace. Malformed input raises :class:`~chamberlain.crypto.sigv4.SignatureError`
(``INCOMPLETE_SIGNATURE``; ``MISSING_AUTHENTICATION`` when the request carries no
signature at all), with AWS's wording where it is known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from chamberlain.crypto.sigv4 import (
    ALGORITHM,
    UNSIGNED_PAYLOAD,
    CredentialScope,
    HeaderList,
    QueryInput,
    Reason,
    SignatureError,
    SigningInput,
    Text,
    normalize_signed_headers,
    parse_amz_date,
    parse_query,
    sha256_hex,
)

AUTHORIZATION = "authorization"
AMZ_DATE = "x-amz-date"
DATE = "date"
SECURITY_TOKEN = "x-amz-security-token"
CONTENT_SHA256 = "x-amz-content-sha256"

Q_ALGORITHM = "X-Amz-Algorithm"
Q_CREDENTIAL = "X-Amz-Credential"
Q_DATE = "X-Amz-Date"
Q_EXPIRES = "X-Amz-Expires"
Q_SIGNED_HEADERS = "X-Amz-SignedHeaders"
Q_SIGNATURE = "X-Amz-Signature"
Q_SECURITY_TOKEN = "X-Amz-Security-Token"
_PRESIGN_MARKERS = (Q_ALGORITHM, Q_CREDENTIAL, Q_SIGNATURE)
_PRESIGN_REQUIRED = (Q_ALGORITHM, Q_CREDENTIAL, Q_DATE, Q_EXPIRES, Q_SIGNED_HEADERS, Q_SIGNATURE)
_HEADER_COMPONENTS = ("Credential", "SignedHeaders", "Signature")

_COMPONENT_SEPARATOR = re.compile(r"[\s,]+")
_WHITESPACE = re.compile(r"\s+")
_SCOPE_DATE = re.compile(r"\d{8}")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class SigV4Fields:
    """The SigV4 fields of one request, whichever form they came in."""

    access_key_id: str
    scope: CredentialScope
    signed_headers: tuple[str, ...]
    signature: str
    request_datetime: datetime
    expires: int | None  # seconds, presigned only
    security_token: str | None
    is_presigned: bool

    def signing_input(
        self,
        *,
        method: str,
        path: Text,
        query: QueryInput,
        headers: HeaderList,
        payload_hash: str,
    ) -> SigningInput:
        """What the client signed, for :func:`chamberlain.crypto.sigv4.verify`."""
        return SigningInput(
            method=method,
            path=path,
            query=query,
            headers=headers,
            payload_hash=payload_hash,
            signed_headers=self.signed_headers,
            scope=self.scope,
            request_datetime=self.request_datetime,
            is_presigned=self.is_presigned,
        )


def _incomplete(message: str) -> SignatureError:
    return SignatureError(Reason.INCOMPLETE_SIGNATURE, message)


def _as_text(value: Text) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def header_values(headers: HeaderList, name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive), in order, as trimmed text."""
    wanted = name.lower()
    return [
        _as_text(value).strip() for key, value in headers if _as_text(key).strip().lower() == wanted
    ]


def _single_header(headers: HeaderList, name: str) -> str | None:
    values = header_values(headers, name)
    if len(values) > 1:
        raise _incomplete(f"Only one '{name}' header is allowed, got {len(values)}.")
    return values[0] if values else None


def _query_params(query: QueryInput) -> dict[str, list[str]]:
    pairs = parse_query(query) if isinstance(query, str | bytes) else query
    params: dict[str, list[str]] = {}
    for name, value in pairs:
        params.setdefault(_as_text(name), []).append(_as_text(value))
    return params


def parse_credential(value: str) -> tuple[str, CredentialScope]:
    """``AKID/YYYYMMDD/region/service/aws4_request`` -> (access key id, scope).

    The terminator is carried as sent; :func:`verify` rejects a wrong one.
    """
    parts = value.split("/")
    if len(parts) != 5 or not all(parts):
        raise _incomplete(
            "Credential must have the form "
            f"'<access key id>/<YYYYMMDD>/<region>/<service>/aws4_request', got '{value}'."
        )
    access_key_id, date, region, service, terminator = parts
    if not _SCOPE_DATE.fullmatch(date):
        raise _incomplete(f"Credential scope date must be YYYYMMDD, got '{date}'.")
    return access_key_id, CredentialScope(date, region, service, terminator)


def parse_signed_headers(value: str) -> tuple[str, ...]:
    """``host;x-amz-date`` -> ('host', 'x-amz-date'), lower-cased and sorted."""
    names = value.split(";")
    if not value or not all(name.strip() for name in names):
        raise _incomplete(f"SignedHeaders must be a ';'-separated list of names, got '{value}'.")
    return normalize_signed_headers(names)


def parse_http_date(value: str) -> datetime:
    """An RFC 7231 ``Date`` header value, as UTC."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        raise _incomplete(f"Date header is not a valid HTTP date: '{value}'.") from None
    if parsed.tzinfo is None:  # "-0000": UTC by RFC 5322
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_authorization(value: str) -> dict[str, str]:
    """Split an ``AWS4-HMAC-SHA256`` Authorization header into its components."""
    algorithm, *tail = _WHITESPACE.split(value.strip(), maxsplit=1)
    rest = tail[0] if tail else ""
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'.")
    components: dict[str, str] = {}
    for item in _COMPONENT_SEPARATOR.split(rest.strip()):
        if not item:
            continue
        key, sep, component = item.partition("=")
        if not sep:
            raise _incomplete(
                f"'{item}' not a valid key=value pair (missing equal-sign) in "
                f"Authorization header: '{value}'."
            )
        if key in components:
            raise _incomplete(f"Duplicate '{key}' in Authorization header: '{value}'.")
        components[key] = component
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in _HEADER_COMPONENTS
        if not components.get(name)
    ]
    if missing:
        raise _incomplete(" ".join([*missing, f"Authorization={value}"]))
    return components


def _from_header(authorization: str, headers: HeaderList) -> SigV4Fields:
    components = parse_authorization(authorization)
    access_key_id, scope = parse_credential(components["Credential"])
    amz_date = _single_header(headers, AMZ_DATE)
    if amz_date is not None:
        request_datetime = parse_amz_date(amz_date)
    else:
        date = _single_header(headers, DATE)
        if date is None:
            raise _incomplete(
                "Authorization header requires existence of either a 'X-Amz-Date' or a "
                f"'Date' header. Authorization={authorization}"
            )
        request_datetime = parse_http_date(date)
    return SigV4Fields(
        access_key_id=access_key_id,
        scope=scope,
        signed_headers=parse_signed_headers(components["SignedHeaders"]),
        signature=components["Signature"],
        request_datetime=request_datetime,
        expires=None,
        security_token=_single_header(headers, SECURITY_TOKEN),
        is_presigned=False,
    )


def _from_query(params: dict[str, list[str]]) -> SigV4Fields:
    for name, values in params.items():
        if name.startswith("X-Amz-") and len(values) > 1:
            raise _incomplete(f"Query parameter '{name}' must appear only once.")
    missing = [name for name in _PRESIGN_REQUIRED if not params.get(name, [""])[0]]
    if missing:
        raise _incomplete(
            "Query-string authentication version 4 requires the "
            + ", ".join(_PRESIGN_REQUIRED)
            + f" parameters; missing: {', '.join(missing)}."
        )
    value = {name: values[0] for name, values in params.items()}
    if value[Q_ALGORITHM] != ALGORITHM:
        raise _incomplete(f"Unsupported {Q_ALGORITHM}: '{value[Q_ALGORITHM]}'.")
    if not _DIGITS.fullmatch(value[Q_EXPIRES]):
        raise _incomplete(f"{Q_EXPIRES} must be a number of seconds, got '{value[Q_EXPIRES]}'.")
    access_key_id, scope = parse_credential(value[Q_CREDENTIAL])
    return SigV4Fields(
        access_key_id=access_key_id,
        scope=scope,
        signed_headers=parse_signed_headers(value[Q_SIGNED_HEADERS]),
        signature=value[Q_SIGNATURE],
        request_datetime=parse_amz_date(value[Q_DATE]),
        expires=int(value[Q_EXPIRES]),
        security_token=value.get(Q_SECURITY_TOKEN),
        is_presigned=True,
    )


def extract(headers: HeaderList, query: QueryInput) -> SigV4Fields:
    """The SigV4 fields of a request, from its headers and raw query string (or pairs).

    Raises ``MISSING_AUTHENTICATION`` when neither form is present, and
    ``INCOMPLETE_SIGNATURE`` when both are or either is malformed.
    """
    authorization = _single_header(headers, AUTHORIZATION)
    params = _query_params(query)
    presigned = any(name in params for name in _PRESIGN_MARKERS)
    if authorization is not None and presigned:
        raise _incomplete(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or "
            "the Authorization header should be specified."
        )
    if authorization is not None:
        return _from_header(authorization, headers)
    if presigned:
        return _from_query(params)
    raise SignatureError(Reason.MISSING_AUTHENTICATION, "Request is missing Authentication Token")


def payload_hash(headers: HeaderList, body: bytes, *, allow_unsigned: bool = False) -> str:
    """The payload hash to put in the canonical request.

    Always the SHA-256 of the body the server received: a declared
    ``x-amz-content-sha256`` that differs is refused (``SIGNATURE_MISMATCH``), so a
    client cannot sign one body and send another. ``UNSIGNED-PAYLOAD`` is honoured only
    with ``allow_unsigned`` (never for IAM/STS, whose parameters travel in the body).
    """
    return checked_payload_hash(headers, sha256_hex(body), allow_unsigned=allow_unsigned)


def checked_payload_hash(
    headers: HeaderList, computed: str, *, allow_unsigned: bool = False
) -> str:
    """`payload_hash` for a body known by its hex SHA-256 (a request forwarded to
    /v1/authorize carries the hash, not the body)."""
    declared = _single_header(headers, CONTENT_SHA256)
    if declared is None or declared == computed:
        return computed
    if declared == UNSIGNED_PAYLOAD and allow_unsigned:
        return UNSIGNED_PAYLOAD
    raise SignatureError(
        Reason.SIGNATURE_MISMATCH,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )


__all__ = [
    "SigV4Fields",
    "checked_payload_hash",
    "extract",
    "header_values",
    "parse_authorization",
    "parse_credential",
    "parse_http_date",
    "parse_signed_headers",
    "payload_hash",
]
