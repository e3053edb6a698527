"""The AWS JSON 1.1 protocol, as CloudTrail speaks it (LookupEvents).

A request is a POST whose `X-Amz-Target` header names the operation and whose body is a
JSON object shaped like the input. The target comes in two spellings, both of which AWS
accepts: botocore's model prefix (`com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.
LookupEvents`) and the Smithy form the AWS SDKs generated from Smithy models send (the
AWS SDK for JavaScript v3 among them): the service shape's name, a period, the
operation's name (`CloudTrail_20131101.LookupEvents`; Smithy's "AWS JSON 1.1 protocol"
specification). Timestamps travel as epoch seconds (numbers); we
also accept ISO 8601 strings. Errors are `{"__type": code, "message": text}` with
content type `application/x-amz-json-1.1`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from chamberlain.protocol.models import (
    INT32_RANGE,
    INT64_RANGE,
    DecodedRequest,
    find_operation,
    service_model,
    validate_input,
    validation_message,
)
from chamberlain.protocol.wire_errors import ProtocolError, unknown_operation

CONTENT_TYPE = "application/x-amz-json-1.1"


# Members whose constraint failures the service reports with its own error code rather
# than the generic ValidationException (CloudTrail's API reference lists these for
# LookupEvents: an unknown attribute key or an empty value, a MaxResults outside 1..50).
MEMBER_ERROR_CODES: dict[tuple[str, str], dict[str, str]] = {
    ("cloudtrail", "LookupEvents"): {
        "LookupAttributes": "InvalidLookupAttributesException",
        "MaxResults": "InvalidMaxResultsException",
        "EventCategory": "InvalidEventCategoryException",
    },
}


#: Errors common to every service, raised under the query protocol's names (IAM's and
#: STS's), as AWS's JSON services answer them: the exception names and statuses of their
#: framework. CloudTrail answers an unknown key with UnrecognizedClientException and a
#: denied LookupEvents with AccessDeniedException; a bad signature is an
#: InvalidSignatureException (400), as on DynamoDB and ECS.
COMMON_ERRORS: dict[str, tuple[str, int]] = {
    "AccessDenied": ("AccessDeniedException", 400),
    "InvalidClientTokenId": ("UnrecognizedClientException", 400),
    "SignatureDoesNotMatch": ("InvalidSignatureException", 400),
    "IncompleteSignature": ("IncompleteSignatureException", 400),
    "ExpiredToken": ("ExpiredTokenException", 400),
    "MissingAuthenticationToken": ("MissingAuthenticationTokenException", 403),
}


def common_error(code: str, http_status: int) -> tuple[str, int]:
    """The code and HTTP status a JSON service answers for an error raised as `code`."""
    return COMMON_ERRORS.get(code, (code, http_status))


def _serialization_error(detail: str) -> ProtocolError:
    return ProtocolError("SerializationException", detail, 400)


def target_prefixes(service: str) -> tuple[str, str]:
    """The two X-Amz-Target prefixes of a JSON service: botocore's `targetPrefix` and the
    Smithy service shape name (its last dotted part), e.g. `CloudTrail_20131101`."""
    prefix = str(service_model(service).metadata["targetPrefix"])
    return prefix, prefix.rsplit(".", 1)[-1]


def target_service(target: str, services: Iterable[str]) -> str | None:
    """Which of `services` an X-Amz-Target header is addressed to, if any."""
    for service in services:
        if any(target.startswith(prefix + ".") for prefix in target_prefixes(service)):
            return service
    return None


def resolve_target(service: str, target: str | None) -> str:
    """The operation an X-Amz-Target header names; UnknownOperationException otherwise."""
    if target is None:
        raise unknown_operation(target)
    prefix, _, name = target.rpartition(".")
    if prefix not in target_prefixes(service):
        raise unknown_operation(target)
    operation = find_operation(service, name)
    if operation is None:
        raise unknown_operation(target)
    return str(operation.name)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _serialization_error(f"Duplicate field '{key[:64]}'.")
        result[key] = value
    return result


def decode_json_request(service: str, target: str | None, body: bytes) -> DecodedRequest:
    """Resolve the target and decode/validate the body against the input shape.

    Raises ProtocolError: UnknownOperationException, SerializationException (not JSON,
    wrong JSON type for a member) or ValidationException (constraints).
    """
    operation = find_operation(service, resolve_target(service, target))
    assert operation is not None  # resolve_target only returns known operations
    try:
        text = body.decode("utf-8")
        document = json.loads(text, object_pairs_hook=_reject_duplicates) if text.strip() else {}
    except ProtocolError:
        raise
    except (UnicodeError, ValueError, RecursionError):
        raise _serialization_error("The request body is not valid JSON.") from None
    params: dict[str, Any] = {}
    shape = operation.input_shape
    if shape is not None:
        params = _decode_structure(shape, document, "")
        _validate(service, operation.name, shape, params)
    return DecodedRequest(service=service, operation=operation.name, params=params)


def _validate(service: str, operation: str, shape: StructureShape, params: dict[str, Any]) -> None:
    """ValidationException for the input's constraint failures, except on the members the
    service reports with a code of its own (MEMBER_ERROR_CODES), checked after the rest."""
    owned = MEMBER_ERROR_CODES.get((service, operation), {})
    rest = {name: value for name, value in params.items() if name not in owned}
    errors = validate_input(shape, rest)
    if errors:
        raise ProtocolError("ValidationException", validation_message(errors))
    for name, code in owned.items():
        if name in params:
            errors = validate_input(shape, {**rest, name: params[name]})
            if errors:
                raise ProtocolError(code, validation_message(errors))


def _decode_structure(shape: StructureShape, value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _serialization_error(f"Expected an object at '{path or '/'}'.")
    result: dict[str, Any] = {}
    for name, member_shape in shape.members.items():
        key = member_shape.serialization.get("name", name)
        if key in value and value[key] is not None:
            member_path = f"{path}.{name}" if path else name
            result[name] = _decode_value(member_shape, value[key], member_path)
    return result


def _decode_value(shape: Shape, value: Any, path: str) -> Any:
    if isinstance(shape, StructureShape):
        return _decode_structure(shape, value, path)
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise _serialization_error(f"Expected an array at '{path}'.")
        if any(item is None for item in value):
            raise _serialization_error(f"Null entry in array '{path}'.")
        return [_decode_value(shape.member, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise _serialization_error(f"Expected an object at '{path}'.")
        return {
            _decode_value(shape.key, key, path): _decode_value(shape.value, item, f"{path}.{key}")
            for key, item in value.items()
            if item is not None
        }
    return _decode_scalar(shape, value, path)


def _decode_scalar(shape: Shape, value: Any, path: str) -> Any:
    kind = shape.type_name
    if kind == "string" and isinstance(value, str):
        return value
    if kind in ("integer", "long") and isinstance(value, int) and not isinstance(value, bool):
        low, high = INT32_RANGE if kind == "integer" else INT64_RANGE
        if low <= value <= high:
            return value
        raise _serialization_error(f"Number out of range at '{path}'.")
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind in ("float", "double") and _is_number(value) and math.isfinite(value):
        return float(value)
    if kind == "timestamp":
        return _decode_timestamp(value, path)
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _serialization_error(f"Invalid base64 at '{path}'.") from None
    raise _serialization_error(f"Unexpected {type(value).__name__} for {kind} at '{path}'.")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _decode_timestamp(value: Any, path: str) -> dt.datetime:
    try:
        if _is_number(value):
            return dt.datetime.fromtimestamp(value, tz=dt.UTC)
        if isinstance(value, str):
            parsed = dt.datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise _serialization_error(f"Invalid timestamp at '{path}'.")


# ------------------------------------------------------------------------- responses


def serialize_output(service: str, operation: str, output: Mapping[str, Any] | None) -> bytes:
    """The JSON body of a successful call (`{}` for operations without output)."""
    op = find_operation(service, operation)
    if op is None:
        raise KeyError(f"{service} has no operation {operation!r}")
    shape = op.output_shape
    if shape is None:
        if output:
            raise ValueError(f"{operation} has no output shape but output was given")
        return b"{}"
    document = _encode_value(shape, dict(output or {}))
    return json.dumps(document, ensure_ascii=False, allow_nan=False).encode("utf-8")


def serialize_error(code: str, message: str) -> bytes:
    """`{"__type": code, "message": message}`, what botocore's JSON parser reads."""
    return json.dumps({"__type": code, "message": message}, ensure_ascii=False).encode("utf-8")


def _encode_value(shape: Shape, value: Any) -> Any:
    if isinstance(shape, StructureShape):
        if not isinstance(value, Mapping):
            raise TypeError(f"{shape.name}: expected a mapping")
        unknown = [key for key in value if key not in shape.members]
        if unknown:
            raise ValueError(f"{shape.name} has no member(s) {unknown}")
        return {
            shape.members[name].serialization.get("name", name): _encode_value(
                shape.members[name], item
            )
            for name, item in value.items()
            if item is not None
        }
    if isinstance(shape, ListShape):
        if not isinstance(value, list | tuple):
            raise TypeError(f"{shape.name}: expected a list")
        return [_encode_value(shape.member, item) for item in value]
    if isinstance(shape, MapShape):
        if not isinstance(value, Mapping):
            raise TypeError(f"{shape.name}: expected a mapping")
        return {
            _encode_value(shape.key, key): _encode_value(shape.value, item)
            for key, item in value.items()
        }
    return _encode_scalar(shape, value)


def _encode_scalar(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "timestamp":
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise TypeError(f"{shape.name}: expected an aware datetime")
        seconds = value.timestamp()
        return int(seconds) if seconds.is_integer() else seconds
    if kind == "blob":
        if not isinstance(value, bytes | bytearray):
            raise TypeError(f"{shape.name}: expected bytes")
        return base64.b64encode(bytes(value)).decode("ascii")
    expected: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "integer": int,
        "long": int,
        "boolean": bool,
        "float": (int, float),
        "double": (int, float),
    }
    wanted = expected.get(kind)
    if wanted is None or not isinstance(value, wanted):
        raise TypeError(f"{shape.name}: expected {kind}, got {type(value).__name__}")
    if kind != "boolean" and isinstance(value, bool):
        raise TypeError(f"{shape.name}: expected {kind}, got bool")
    return value
