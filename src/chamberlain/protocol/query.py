"""The AWS query protocol, inbound: form pairs -> (operation, typed input).

A query request is flat `Name=value` pairs (a POST form body or a GET query string).
Nesting is spelled in the names, driven by the input shape:

* structure members: `Parent.Child`
* lists: `Tags.member.1.Key` (the list member's locationName replaces `member`; a
  flattened list drops that segment and may rename the list itself)
* maps: `Attributes.entry.1.key` / `.value` (per the key/value locationNames; flattened
  maps drop `entry`)

Behaviour pinned to what AWS does (observed against STS): the first of duplicated
parameters wins; unknown parameters are ignored; `Version` missing or wrong is
InvalidAction "... for version NO_VERSION_SPECIFIED"; a number that does not parse or
overflows its modeled width is MalformedInput; `+900` and `0900` are 900; constraint
violations are one ValidationError listing every violation.

One deliberate difference: AWS answers a request without Action with a redirect to its
marketing site; we answer MissingAction (400), the code its common-errors table lists.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from botocore.model import ListShape, MapShape, Shape, StructureShape

from chamberlain.protocol import iam_messages
from chamberlain.protocol.models import (
    INT32_RANGE,
    INT64_RANGE,
    DecodedRequest,
    find_operation,
    service_model,
    validate_input,
    validation_message,
)
from chamberlain.protocol.wire_errors import (
    ProtocolError,
    invalid_action,
    malformed_input,
    malformed_query_string,
    missing_action,
)

#: More pairs than any IAM/STS call needs; bounds the work a single request can cause.
MAX_FIELDS = 10_000
_INTEGER_RE = re.compile(r"[+-]?[0-9]+")
_INDEX_RE = re.compile(r"[1-9][0-9]{0,8}")


def parse_form(body: bytes | str, *, max_fields: int = MAX_FIELDS) -> list[tuple[str, str]]:
    """Decode an `application/x-www-form-urlencoded` body or a raw query string.

    Raises MalformedQueryString for bytes that are not UTF-8 (raw or percent-encoded)
    and for more than `max_fields` pairs.
    """
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        return parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=max_fields,
        )
    except UnicodeError:
        raise malformed_query_string("The query string is not valid UTF-8.") from None
    except ValueError:
        raise malformed_query_string(
            f"The query string has more than {max_fields} parameters."
        ) from None


@dataclass(slots=True)
class _Node:
    """One dotted-name segment of the request's parameters."""

    value: str | None = None
    children: dict[str, _Node] = field(default_factory=dict)


def _build_tree(pairs: Iterable[tuple[str, str]]) -> _Node:
    root = _Node()
    for name, value in pairs:
        node = root
        for segment in name.split("."):
            node = node.children.setdefault(segment, _Node())
        if node.value is None:  # first occurrence wins, as AWS does
            node.value = value
    return root


def decode_query(service: str, pairs: Iterable[tuple[str, str]]) -> DecodedRequest:
    """Resolve Action/Version and decode the input against the operation's input shape.

    Raises ProtocolError: MissingAction, InvalidAction, MalformedInput or ValidationError.
    """
    first: dict[str, str] = {}
    materialized: list[tuple[str, str]] = []
    for name, value in pairs:
        materialized.append((name, value))
        first.setdefault(name, value)
    action = first.get("Action")
    if action is None:
        raise missing_action()
    version = first.get("Version")
    model = service_model(service)
    operation = find_operation(service, action)
    if operation is None or version != model.api_version:
        raise invalid_action(action, version)
    params = decode_input(operation.input_shape, materialized, service)
    return DecodedRequest(service=service, operation=operation.name, params=params)


def decode_input(
    shape: StructureShape | None, pairs: Iterable[tuple[str, str]], service: str = ""
) -> dict[str, Any]:
    """Decode and validate form pairs against an input shape (Action/Version are ignored
    like any parameter the shape does not name). Raises MalformedInput/ValidationError;
    IAM's names and paths get IAM's own sentence (iam_messages.py)."""
    if shape is None:
        return {}
    params = _decode_structure(shape, _build_tree(pairs), "")
    iam = service == "iam"
    errors = validate_input(shape, params, iam_messages.checks_pattern if iam else None)
    if errors:
        raise ProtocolError("ValidationError", validation_message(errors))
    message = iam_messages.pattern_message(shape, params) if iam else None
    if message is not None:
        raise ProtocolError("ValidationError", message)
    return params


def decode_form(service: str, body: bytes | str) -> DecodedRequest:
    """`parse_form` then `decode_query`: a whole POST body or GET query string."""
    return decode_query(service, parse_form(body))


# --------------------------------------------------------------------------- decoding


def _member_segment(name: str, shape: Shape) -> str:
    """The name a structure member goes by on the wire (botocore's rules, mirrored)."""
    segment = shape.serialization.get("name", name)
    if isinstance(shape, ListShape) and shape.serialization.get("flattened"):
        segment = shape.member.serialization.get("name", segment)
    return str(segment)


def _decode_structure(shape: StructureShape, node: _Node, path: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, member_shape in shape.members.items():
        segment = _member_segment(name, member_shape)
        child = node.children.get(segment)
        if child is None:
            continue
        member_path = f"{path}.{segment}" if path else segment
        value = _decode_value(member_shape, child, member_path)
        if value is not None:
            result[name] = value
    return result


def _decode_value(shape: Shape, node: _Node, path: str) -> Any:
    if isinstance(shape, StructureShape):
        decoded = _decode_structure(shape, node, path)
        return decoded or None
    if isinstance(shape, ListShape):
        return _decode_list(shape, node, path)
    if isinstance(shape, MapShape):
        return _decode_map(shape, node, path)
    if node.value is None:
        return None
    return _decode_scalar(shape, node.value, path)


def _indexed(node: _Node, path: str) -> list[tuple[_Node, str]]:
    """The children `1..n` of a list/map node, in order; anything else is malformed."""
    indexes: dict[int, _Node] = {}
    for segment, child in node.children.items():
        if _INDEX_RE.fullmatch(segment) is None:
            raise malformed_input(f"Invalid index '{segment}' in parameter '{path}'.")
        indexes[int(segment)] = child
    count = len(indexes)
    if max(indexes, default=0) != count:
        missing = min(set(range(1, count + 1)) - indexes.keys())
        raise malformed_input(
            f"Parameter '{path}' has entries that are not numbered 1 to {count} "
            f"(index {missing} is missing)."
        )
    return [(indexes[i], f"{path}.{i}") for i in range(1, count + 1)]


def _is_empty_collection(node: _Node) -> bool:
    """`Tags=` with no members: botocore's spelling of an empty list."""
    return not node.children and node.value == ""


def _decode_list(shape: ListShape, node: _Node, path: str) -> list[Any] | None:
    if _is_empty_collection(node):
        return []
    if shape.serialization.get("flattened"):
        holder, holder_path = node, path
    else:
        member_name = shape.member.serialization.get("name", "member")
        unexpected = sorted(set(node.children) - {member_name})
        if unexpected:
            raise malformed_input(
                f"Invalid parameter '{path}.{unexpected[0]}': list entries are named "
                f"'{path}.{member_name}.N'."
            )
        found = node.children.get(member_name)
        if found is None:
            if node.value is not None:
                raise malformed_input(
                    f"Parameter '{path}' is a list: give it as '{path}.{member_name}.N'."
                )
            return None
        holder, holder_path = found, f"{path}.{member_name}"
    items: list[Any] = []
    for child, item_path in _indexed(holder, holder_path):
        item = _decode_value(shape.member, child, item_path)
        if item is None:
            raise malformed_input(f"Missing value for list entry '{item_path}'.")
        items.append(item)
    return items


def _decode_map(shape: MapShape, node: _Node, path: str) -> dict[Any, Any] | None:
    if _is_empty_collection(node):
        return {}
    if shape.serialization.get("flattened"):
        holder, holder_path = node, path
    else:
        found = node.children.get("entry")
        if found is None:
            if node.value is not None or node.children:
                raise malformed_input(
                    f"Parameter '{path}' is a map: give it as '{path}.entry.N.key'."
                )
            return None
        holder, holder_path = found, f"{path}.entry"
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    result: dict[Any, Any] = {}
    for child, entry_path in _indexed(holder, holder_path):
        key_node = child.children.get(key_name)
        value_node = child.children.get(value_name)
        key = None if key_node is None else _decode_value(shape.key, key_node, entry_path)
        if key is None:
            raise malformed_input(f"Missing '{entry_path}.{key_name}'.")
        if key in result:
            raise malformed_input(f"Duplicate map key in '{entry_path}.{key_name}'.")
        value = (
            None
            if value_node is None
            else _decode_value(shape.value, value_node, f"{entry_path}.{value_name}")
        )
        if value is None:
            raise malformed_input(f"Missing '{entry_path}.{value_name}'.")
        result[key] = value
    return result


def _decode_scalar(shape: Shape, text: str, path: str) -> Any:
    kind = shape.type_name
    if kind == "string":
        return text
    if kind in ("integer", "long"):
        return _decode_integer(text, INT32_RANGE if kind == "integer" else INT64_RANGE, path)
    if kind == "boolean":
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise malformed_input(f"Invalid boolean value '{text}' for parameter '{path}'.")
    if kind == "timestamp":
        return _decode_timestamp(text, path)
    if kind == "blob":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise malformed_input(f"Invalid base64 value for parameter '{path}'.") from None
    if kind in ("float", "double"):
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise malformed_input(f"Invalid number '{text[:40]}' for parameter '{path}'.")
        return number
    raise malformed_input(f"Unsupported type {kind} for parameter '{path}'.")


def _decode_integer(text: str, bounds: tuple[int, int], path: str) -> int:
    if text == "":
        # AWS's own text for an empty number.
        raise malformed_input("missing value for decimal type")
    if _INTEGER_RE.fullmatch(text) is None or len(text) > 40:
        raise malformed_input(f"Invalid integer value '{text[:40]}' for parameter '{path}'.")
    number = int(text)
    if not bounds[0] <= number <= bounds[1]:
        raise malformed_input(f"Integer value '{text}' for parameter '{path}' is out of range.")
    return number


def _decode_timestamp(text: str, path: str) -> dt.datetime:
    """ISO 8601 (what botocore sends for the query protocol); naive means UTC."""
    try:
        parsed = dt.datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise malformed_input(f"Invalid timestamp '{text[:64]}' for parameter '{path}'.") from None
