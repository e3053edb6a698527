"""The AWS query protocol, outbound: an operation's output dict -> AWS's XML.

Shape of a success response (IAM; STS uses its own namespace)::

    <CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
      <CreateUserResult>...</CreateUserResult>
      <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata>
    </CreateUserResponse>

Lists are `<member>` elements (or the list member's locationName; flattened lists repeat
the element itself), maps `<entry><key/><value/></entry>`, timestamps ISO 8601 UTC with
`Z`, booleans lowercase, blobs base64. Any Python string is emitted as well-formed XML:
characters XML 1.0 cannot carry (NUL, most C0 controls, lone surrogates, U+FFFE/U+FFFF)
are replaced by U+FFFD, and CR is written as `&#13;` so parsers do not fold it into LF.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from chamberlain.protocol.models import find_operation, service_model
from chamberlain.protocol.wire_errors import AWS_FAULT_NAMESPACE, ProtocolError

CONTENT_TYPE = "text/xml"

_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
_ESCAPE_RE = re.compile("[&<>\r]")


#: IAM's shape for policy documents, which it returns URL-encoded (RFC 3986).
POLICY_DOCUMENT_SHAPE = "policyDocumentType"


def escape_text(text: str) -> str:
    """XML character data for any Python string (see the module docstring)."""
    cleaned = _NOT_XML_CHAR.sub("\ufffd", text)
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], cleaned)


def _attr(text: str) -> str:
    return escape_text(text).replace('"', "&quot;")


def namespace(service: str) -> str:
    """The service's XML namespace from its model (xmlNamespace)."""
    return str(service_model(service).metadata["xmlNamespace"])


def format_timestamp(value: dt.datetime) -> str:
    """ISO 8601 in UTC with a `Z`; milliseconds only when there are any (as AWS does)."""
    if value.tzinfo is None:
        raise TypeError("naive datetime in output; the ops layer must give aware times")
    utc = value.astimezone(dt.UTC)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def serialize_response(
    service: str, operation: str, output: Mapping[str, Any] | None, request_id: str
) -> bytes:
    """The full XML body of a successful call.

    `output` is keyed by the output shape's member names; None values are omitted.
    An operation without an output shape answers with ResponseMetadata only.
    """
    op = find_operation(service, operation)
    if op is None:
        raise KeyError(f"{service} has no operation {operation!r}")
    return serialize_operation_response(op, namespace(service), output, request_id)


def serialize_operation_response(
    op: OperationModel, xmlns: str, output: Mapping[str, Any] | None, request_id: str
) -> bytes:
    """`serialize_response` for an operation model at hand (any query-protocol model)."""
    lines = [f'<{op.name}Response xmlns="{_attr(xmlns)}">']
    shape = op.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{op.name}Result")
        _write_value(lines, wrapper, shape, dict(output or {}), 1)
    elif output:
        raise ValueError(f"{op.name} has no output shape but output was given")
    lines.append("  <ResponseMetadata>")
    lines.append(f"    <RequestId>{escape_text(request_id)}</RequestId>")
    lines.append("  </ResponseMetadata>")
    lines.append(f"</{op.name}Response>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def serialize_error(
    service: str,
    code: str,
    message: str,
    request_id: str,
    *,
    sender_fault: bool = True,
    aws_fault_namespace: bool = False,
) -> bytes:
    """An `<ErrorResponse>` body as AWS's query services send it."""
    ns = AWS_FAULT_NAMESPACE if aws_fault_namespace else namespace(service)
    lines = [
        f'<ErrorResponse xmlns="{_attr(ns)}">',
        "  <Error>",
        f"    <Type>{'Sender' if sender_fault else 'Receiver'}</Type>",
        f"    <Code>{escape_text(code)}</Code>",
        f"    <Message>{escape_text(message)}</Message>",
        "  </Error>",
        f"  <RequestId>{escape_text(request_id)}</RequestId>",
        "</ErrorResponse>",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def serialize_protocol_error(service: str, error: ProtocolError, request_id: str) -> bytes:
    """`serialize_error` for a ProtocolError raised by the decoder."""
    return serialize_error(
        service,
        error.code,
        error.message,
        request_id,
        sender_fault=error.sender_fault,
        aws_fault_namespace=error.aws_fault_namespace,
    )


# ------------------------------------------------------------------------ serializing


def _element_name(member: str, shape: Shape) -> str:
    """The element a structure member is written as (botocore's parser rules, mirrored)."""
    if isinstance(shape, ListShape) and shape.serialization.get("flattened"):
        flat_name = shape.member.serialization.get("name")
        if flat_name:
            return str(flat_name)
    return str(shape.serialization.get("name", member))


def _write_value(lines: list[str], name: str, shape: Shape, value: Any, depth: int) -> None:
    pad = "  " * depth
    if isinstance(shape, StructureShape):
        _write_container(lines, name, depth, lambda: _write_structure(lines, shape, value, depth))
    elif isinstance(shape, ListShape):
        _write_list(lines, name, shape, value, depth)
    elif isinstance(shape, MapShape):
        _write_map(lines, name, shape, value, depth)
    else:
        lines.append(f"{pad}<{name}>{escape_text(_scalar_text(shape, value))}</{name}>")


def _write_container(lines: list[str], name: str, depth: int, body: Any) -> None:
    pad = "  " * depth
    start = len(lines)
    lines.append(f"{pad}<{name}>")
    body()
    if len(lines) == start + 1:
        lines[start] = f"{pad}<{name}/>"
    else:
        lines.append(f"{pad}</{name}>")


def _write_structure(lines: list[str], shape: StructureShape, value: Any, depth: int) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{shape.name}: expected a mapping, got {type(value).__name__}")
    members = shape.members
    unknown = [key for key in value if key not in members]
    if unknown:
        raise ValueError(f"{shape.name} has no member(s) {unknown}")
    for member, member_shape in members.items():
        item = value.get(member)
        if item is not None:
            _write_value(lines, _element_name(member, member_shape), member_shape, item, depth + 1)


def _write_list(lines: list[str], name: str, shape: ListShape, value: Any, depth: int) -> None:
    if not isinstance(value, list | tuple):
        raise TypeError(f"{name}: expected a list, got {type(value).__name__}")
    if shape.serialization.get("flattened"):
        for item in value:
            _write_value(lines, name, shape.member, item, depth)
        return
    member_name = str(shape.member.serialization.get("name", "member"))

    def body() -> None:
        for item in value:
            _write_value(lines, member_name, shape.member, item, depth + 1)

    _write_container(lines, name, depth, body)


def _write_map(lines: list[str], name: str, shape: MapShape, value: Any, depth: int) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name}: expected a mapping, got {type(value).__name__}")
    key_name = str(shape.key.serialization.get("name", "key"))
    value_name = str(shape.value.serialization.get("name", "value"))
    flattened = bool(shape.serialization.get("flattened"))
    entry_name = name if flattened else "entry"
    entry_depth = depth if flattened else depth + 1

    def entries() -> None:
        for key, item in value.items():
            lines.append("  " * entry_depth + f"<{entry_name}>")
            _write_value(lines, key_name, shape.key, key, entry_depth + 1)
            _write_value(lines, value_name, shape.value, item, entry_depth + 1)
            lines.append("  " * entry_depth + f"</{entry_name}>")

    if flattened:
        entries()
    else:
        _write_container(lines, name, depth, entries)


def _scalar_text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "string":
        if not isinstance(value, str):
            raise TypeError(f"{shape.name}: expected str, got {type(value).__name__}")
        if shape.name == POLICY_DOCUMENT_SHAPE:
            # IAM sends policy documents URL-encoded; botocore decodes them again.
            return quote(value, safe="")
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{shape.name}: expected int, got {type(value).__name__}")
        return str(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise TypeError(f"{shape.name}: expected bool, got {type(value).__name__}")
        return "true" if value else "false"
    if kind == "timestamp":
        if not isinstance(value, dt.datetime):
            raise TypeError(f"{shape.name}: expected datetime, got {type(value).__name__}")
        return format_timestamp(value)
    if kind == "blob":
        if not isinstance(value, bytes | bytearray):
            raise TypeError(f"{shape.name}: expected bytes, got {type(value).__name__}")
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind in ("float", "double"):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{shape.name}: non-finite number")
        return repr(number)
    raise TypeError(f"{shape.name}: unsupported type {kind}")
