"""The wire format of `POST /v1/authorize` (docs/authorize.md): strict JSON in, JSON out.

`parse` turns the body into an `AuthorizeInput` or raises a `ProtocolError`
("ValidationError", 400) naming the first problem. A forwarded end-user request has
its SigV4 fields extracted here, with the same code the API uses for its own requests; a
malformed signature is not a bad call (the caller forwarded what its client sent), so it
travels in `ForwardedRequest.signature_error` for the operations layer to answer
"unauthenticated".
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chamberlain.crypto.sigv4 import SignatureError, SigningInput
from chamberlain.protocol.sigv4_fields import checked_payload_hash, extract
from chamberlain.protocol.wire_errors import ProtocolError

VALIDATION = "ValidationError"
MAX_HEADERS = 100
MAX_HEADER_BYTES = 16 * 1024
MAX_CONTEXT_KEYS = 100
MAX_CONTEXT_VALUES = 50
MAX_TEXT = 2048
_METHOD = re.compile(r"[A-Z]{1,16}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SIGNING_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_ACTION = re.compile(r"[A-Za-z0-9-]{1,64}:[A-Za-z0-9_-]{1,128}")
_CONTEXT_KEY = re.compile(r"[A-Za-z0-9-]{1,64}:[\x21-\x7e]{1,255}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")
_PRINTABLE = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f]*")  # no control characters
_REQUEST_FIELDS = {"method", "path", "query", "headers", "bodySha256", "service"}
_TOP_FIELDS = {"principal", "action", "resource", "context"}

ContextScalar = str | bool | int | float
ContextInput = dict[str, ContextScalar | list[ContextScalar]]


@dataclass(frozen=True)
class ForwardedRequest:
    """An end user's SigV4-signed request, as the calling service received it."""

    service: str  # the signing name the end user signed for
    access_key_id: str = ""
    signature: str = ""
    signing_input: SigningInput | None = None
    expires: int | None = None
    security_token: str | None = None
    signature_error: SignatureError | None = None


@dataclass(frozen=True)
class AuthorizeInput:
    action: str
    resource: str
    context: ContextInput
    forwarded: ForwardedRequest | None = None  # exactly one of forwarded and principal_arn
    principal_arn: str | None = None


def invalid(message: str) -> ProtocolError:
    return ProtocolError(VALIDATION, message, 400)


def _object(value: Any, where: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{where} must be a JSON object.")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise invalid(f"{where} has unknown member '{unknown[0]}'.")
    return value


def _text(value: Any, where: str, *, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not value:
        raise invalid(f"{where} must be a non-empty string.")
    if len(value) > MAX_TEXT:
        raise invalid(f"{where} must be at most {MAX_TEXT} characters.")
    if pattern is not None and not pattern.fullmatch(value):
        raise invalid(f"{where} is not valid: '{value[:100]}'.")
    return value


def _headers(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not value:
        raise invalid("principal.request.headers must be a non-empty list of [name, value] pairs.")
    if len(value) > MAX_HEADERS:
        raise invalid(f"principal.request.headers may hold at most {MAX_HEADERS} headers.")
    pairs: list[tuple[str, str]] = []
    size = 0
    for index, pair in enumerate(value):
        where = f"principal.request.headers[{index}]"
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            raise invalid(f"{where} must be a [name, value] pair of strings.")
        name, text = pair
        if not _HEADER_NAME.fullmatch(name):
            raise invalid(f"{where} has an invalid header name.")
        if not _PRINTABLE.fullmatch(text):
            raise invalid(f"{where} has a header value with control characters.")
        size += len(name) + len(text)
        pairs.append((name, text))
    if size > MAX_HEADER_BYTES:
        raise invalid(f"principal.request.headers exceed {MAX_HEADER_BYTES} bytes.")
    return pairs


def _forwarded(value: Any) -> ForwardedRequest:
    spec = _object(value, "principal.request", _REQUEST_FIELDS)
    for name in ("method", "path", "headers", "bodySha256", "service"):
        if name not in spec:
            raise invalid(f"principal.request.{name} is required.")
    method = _text(spec["method"], "principal.request.method", pattern=_METHOD)
    path = _text(spec["path"], "principal.request.path", pattern=_PRINTABLE)
    if not path.startswith("/"):
        raise invalid("principal.request.path must start with '/'.")
    query = spec.get("query", "")
    if not isinstance(query, str) or len(query) > MAX_TEXT or not _PRINTABLE.fullmatch(query):
        raise invalid(f"principal.request.query must be a string of at most {MAX_TEXT} characters.")
    headers = _headers(spec["headers"])
    body_hash = _text(spec["bodySha256"], "principal.request.bodySha256", pattern=_HEX64)
    service = _text(spec["service"], "principal.request.service", pattern=_SIGNING_NAME)
    try:
        fields = extract(headers, query)
        signing_input = fields.signing_input(
            method=method,
            path=path,
            query=query,
            headers=headers,
            payload_hash=checked_payload_hash(headers, body_hash),
        )
    except SignatureError as exc:
        return ForwardedRequest(service=service, signature_error=exc)
    return ForwardedRequest(
        service=service,
        access_key_id=fields.access_key_id,
        signature=fields.signature,
        signing_input=signing_input,
        expires=fields.expires,
        security_token=fields.security_token,
    )


def _scalar(value: Any, where: str) -> ContextScalar:
    if isinstance(value, bool | int | float) and not (
        isinstance(value, float) and value != value  # NaN
    ):
        return value
    if isinstance(value, str) and len(value) <= MAX_TEXT:
        return value
    raise invalid(f"{where} must be a string, number or boolean, or a list of them.")


def _context(value: Any) -> ContextInput:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid("context must be a JSON object of condition keys.")
    if len(value) > MAX_CONTEXT_KEYS:
        raise invalid(f"context may hold at most {MAX_CONTEXT_KEYS} keys.")
    context: ContextInput = {}
    for key, item in value.items():
        if not _CONTEXT_KEY.fullmatch(key):
            raise invalid(f"context key '{key[:100]}' is not a condition key (prefix:name).")
        where = f"context['{key}']"
        if isinstance(item, list):
            if len(item) > MAX_CONTEXT_VALUES:
                raise invalid(f"{where} may hold at most {MAX_CONTEXT_VALUES} values.")
            context[key] = [_scalar(v, where) for v in item]
        else:
            context[key] = _scalar(item, where)
    return context


def parse(body: bytes) -> AuthorizeInput:
    """The request, validated; raises ProtocolError (ValidationError) otherwise."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise invalid("The request body is not valid JSON.") from None
    spec = _object(document, "The request", _TOP_FIELDS)
    for name in ("principal", "action", "resource"):
        if name not in spec:
            raise invalid(f"{name} is required.")
    action = _text(spec["action"], "action", pattern=_ACTION)
    resource = _text(spec["resource"], "resource", pattern=_PRINTABLE)
    context = _context(spec.get("context"))
    principal = _object(spec["principal"], "principal", {"request", "arn"})
    if len(principal) != 1:
        raise invalid("principal must have exactly one of 'request' and 'arn'.")
    if "arn" in principal:
        arn = _text(principal["arn"], "principal.arn", pattern=_PRINTABLE)
        return AuthorizeInput(action, resource, context, principal_arn=arn)
    return AuthorizeInput(action, resource, context, forwarded=_forwarded(principal["request"]))


def serialize(output: Mapping[str, Any]) -> bytes:
    return json.dumps(output, separators=(",", ":")).encode()


def serialize_error(code: str, message: str) -> bytes:
    return json.dumps({"__type": code, "message": message}, separators=(",", ":")).encode()
