"""botocore's service models for IAM, STS and CloudTrail, and the constraints they state.

The wire layer is generated from these models: an operation's input shape drives
decoding and validation, its output shape drives serialization. Models are loaded once
(botocore's loader reads and parses a large JSON file) and cached for the process.

Validation follows AWS's own (Coral) wording, e.g.
"Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length
greater than or equal to 2". Patterns in the models are Java regular expressions; they
are translated to Python's dialect here (`\\p{L}`, surrogate-pair ranges, ASCII `\\w`).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.loaders import Loader
from botocore.model import (
    ListShape,
    MapShape,
    OperationModel,
    ServiceModel,
    Shape,
    StructureShape,
)

#: The services Chamberlain speaks, with the API version each is pinned to.
SERVICES: dict[str, str] = {
    "iam": "2010-05-08",
    "sts": "2011-06-15",
    "cloudtrail": "2013-11-01",
}

INT32_RANGE = (-(2**31), 2**31 - 1)
INT64_RANGE = (-(2**63), 2**63 - 1)


@dataclass(frozen=True, slots=True)
class DecodedRequest:
    """A request turned into an operation name and its input, keyed by model member names."""

    service: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)


@functools.cache
def _loader() -> Loader:
    return Loader()


@functools.cache
def service_model(service: str) -> ServiceModel:
    """The (cached) botocore model of one of `SERVICES`."""
    if service not in SERVICES:
        raise KeyError(f"unsupported service {service!r}")
    data = _loader().load_service_model(service, "service-2", SERVICES[service])
    return ServiceModel(data, service_name=service)


@functools.cache
def operation_names(service: str) -> tuple[str, ...]:
    """All operation names of a service, sorted."""
    return tuple(sorted(service_model(service).operation_names))


def find_operation(service: str, name: str) -> OperationModel | None:
    """The operation called `name` (exact, case-sensitive as on the wire), or None."""
    if name not in _operation_set(service):
        return None
    return service_model(service).operation_model(name)


@functools.cache
def _operation_set(service: str) -> frozenset[str]:
    return frozenset(service_model(service).operation_names)


# --------------------------------------------------------------------------- patterns

_PROPERTY_RE = re.compile(r"\\([pP])\{(\w+)\}")
_SURROGATE_PAIR_RE = re.compile(r"\\u(D[89AB][0-9A-F]{2})\\u(D[C-F][0-9A-F]{2})", re.IGNORECASE)


@functools.cache
def _major_category_ranges() -> dict[str, tuple[tuple[int, int], ...]]:
    """Code-point ranges of each one-letter Unicode category (L, N, Z, ...), one pass."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    current, start = "", 0
    for cp in range(sys.maxunicode + 2):
        major = unicodedata.category(chr(cp))[0] if cp <= sys.maxunicode else ""
        if major != current:
            if current:
                ranges.setdefault(current, []).append((start, cp - 1))
            current, start = major, cp
    return {major: tuple(spans) for major, spans in ranges.items()}


@functools.cache
def _category_class(category: str) -> str:
    """Character-class body (ranges) for a one-letter Unicode category like L, N or Z."""
    spans = _major_category_ranges().get(category)
    if spans is None:
        raise ValueError(f"unsupported Unicode property {category!r}")
    return "".join(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in spans)


def _translate_java_regex(pattern: str) -> str:
    """Rewrite the Java-only constructs the AWS models use into Python `re` syntax."""

    def pair(match: re.Match[str]) -> str:
        hi, lo = int(match.group(1), 16), int(match.group(2), 16)
        return f"\\U{0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00):08x}"

    translated = _SURROGATE_PAIR_RE.sub(pair, pattern)
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(translated):
        ch = translated[i]
        if ch == "\\":
            prop = _PROPERTY_RE.match(translated, i)
            if prop:
                body = _category_class(prop.group(2))
                negated = prop.group(1) == "P"
                if in_class and negated:
                    raise ValueError("negated property inside a class is not supported")
                if in_class:
                    out.append(body)
                else:
                    out.append(f"[{'^' if negated else ''}{body}]")
                i = prop.end()
                continue
            out.append(translated[i : i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)


@functools.cache
def compiled_pattern(pattern: str) -> re.Pattern[str] | None:
    """The model's Java pattern as a Python regex (full-match semantics), or None if the
    pattern uses a construct we cannot translate (then it is not enforced).

    Java's `\\w`, `\\d`, `\\s` are ASCII-only, hence re.ASCII.
    """
    try:
        return re.compile(_translate_java_regex(pattern), re.ASCII)
    except (re.error, ValueError):
        return None


# ------------------------------------------------------------------------- validation


def member_path_name(member: str) -> str:
    """AWS names members lower-camel-cased: UserName -> userName, SAMLAssertion -> sAMLAssertion."""
    return member[:1].lower() + member[1:]


def _render(value: Any, shape: Shape) -> str:
    """A value as AWS prints it inside Value '...' (Java toString of the modeled type)."""
    if isinstance(shape, ListShape) and isinstance(value, list):
        return "[" + ", ".join(_render(v, shape.member) for v in value) + "]"
    if isinstance(shape, MapShape) and isinstance(value, dict):
        items = (f"{_render(k, shape.key)}={_render(v, shape.value)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        members = shape.members
        inner = ", ".join(
            f"{member_path_name(k)}={_render(v, members[k])}" for k, v in value.items()
        )
        return f"{shape.name}({inner})"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def _constraint_failures(value: Any, shape: Shape, check_pattern: bool = True) -> Iterator[str]:
    """The constraint texts a scalar/collection value violates, in AWS's order
    (pattern before length, as AWS reports an empty RoleArn)."""
    meta = shape.metadata
    if shape.type_name == "string" and isinstance(value, str):
        enum = meta.get("enum")
        if enum and value not in enum:
            yield "Member must satisfy enum value set: [" + ", ".join(enum) + "]"
        pattern = meta.get("pattern")
        if pattern is not None and check_pattern:
            compiled = compiled_pattern(pattern)
            if compiled is not None and compiled.fullmatch(value) is None:
                yield f"Member must satisfy regular expression pattern: {pattern}"
    if isinstance(value, str | bytes | list | dict):
        size = len(value)
        if "min" in meta and size < meta["min"]:
            yield f"Member must have length greater than or equal to {meta['min']}"
        if "max" in meta and size > meta["max"]:
            yield f"Member must have length less than or equal to {meta['max']}"
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "min" in meta and value < meta["min"]:
            yield f"Member must have value greater than or equal to {meta['min']}"
        if "max" in meta and value > meta["max"]:
            yield f"Member must have value less than or equal to {meta['max']}"


def validate_input(
    shape: StructureShape | None,
    params: dict[str, Any],
    own_pattern: Callable[[str, Shape], bool] | None = None,
) -> list[str]:
    """Every constraint violation of `params` against `shape`, as AWS words each one.

    `own_pattern(member, shape)` names the top-level members whose pattern the service
    checks itself, after this validation and in its own words (IAM's names and paths:
    protocol/iam_messages.py); their pattern is left out here."""
    errors: list[str] = []
    if shape is not None:
        _validate_structure(shape, params, "", errors, own_pattern)
    return errors


def validation_message(errors: list[str]) -> str:
    """AWS's summary line: '1 validation error detected: ...; ...'."""
    noun = "error" if len(errors) == 1 else "errors"
    return f"{len(errors)} validation {noun} detected: " + "; ".join(errors)


def _value_text(value: Any, shape: Shape) -> str:
    # Sensitive members (passwords, private keys) are never echoed back.
    if shape.metadata.get("sensitive"):
        return "Value"
    return f"Value '{_render(value, shape)}'"


def _validate_structure(
    shape: StructureShape,
    value: dict[str, Any],
    path: str,
    errors: list[str],
    own_pattern: Callable[[str, Shape], bool] | None = None,
) -> None:
    required = set(shape.required_members)
    for name, member_shape in shape.members.items():
        member_path = f"{path}.{member_path_name(name)}" if path else member_path_name(name)
        member_value = value.get(name)
        if member_value is None:
            if name in required:
                errors.append(
                    f"Value null at '{member_path}' failed to satisfy constraint: "
                    "Member must not be null"
                )
            continue
        pattern = own_pattern is None or not own_pattern(name, member_shape)
        _validate_value(member_shape, member_value, member_path, errors, pattern)


def _validate_value(
    shape: Shape, value: Any, path: str, errors: list[str], pattern: bool = True
) -> None:
    for failure in _constraint_failures(value, shape, pattern):
        errors.append(
            f"{_value_text(value, shape)} at '{path}' failed to satisfy constraint: {failure}"
        )
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        _validate_structure(shape, value, path, errors)
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for index, item in enumerate(value, 1):
            if item is not None:
                _validate_value(shape.member, item, f"{path}.{index}.member", errors)
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        _validate_map(shape, value, path, errors)


def _validate_map(shape: MapShape, value: dict[Any, Any], path: str, errors: list[str]) -> None:
    """Map entries are reported at the map's path, as AWS does:
    "Map keys must satisfy constraint: [...]" / "Map value must satisfy constraint: [...]"."""
    key_failures: list[str] = []
    value_failures: list[str] = []
    for key, item in value.items():
        for failure in _constraint_failures(key, shape.key):
            if failure not in key_failures:
                key_failures.append(failure)
        if isinstance(shape.value, StructureShape | ListShape | MapShape):
            _validate_value(shape.value, item, f"{path}.{key}", errors)
        else:
            for failure in _constraint_failures(item, shape.value):
                if failure not in value_failures:
                    value_failures.append(failure)
    shown = _value_text(value, shape)
    if key_failures:
        errors.append(
            f"{shown} at '{path}' failed to satisfy constraint: "
            f"Map keys must satisfy constraint: [{', '.join(key_failures)}]"
        )
    if value_failures:
        errors.append(
            f"{shown} at '{path}' failed to satisfy constraint: "
            f"Map value must satisfy constraint: [{', '.join(value_failures)}]"
        )
