"""Entities to and from JSON text, driven by each dataclass's type hints.

Supported field types are the ones domain.py allows: str, int, bool, bytes (base64),
aware datetimes (ISO 8601, UTC, microseconds), None, `X | None`, tuples (`tuple[X, ...]`
and fixed `tuple[X, Y]`, hence `Tags`; JSON arrays). Encoding checks the values, so a
naive datetime or a list where a tuple belongs fails at the write, not at a later read.

Decoding is tolerant so the schema can grow without migrating rows: unknown fields are
ignored and a missing field takes the dataclass default (a missing field without a
default is an error).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Convert = Callable[[Any], Any]

_ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


class CodecError(ValueError):
    """A value does not fit its field's type (encoding) or a stored row is unreadable."""


def _identity(value: Any) -> Any:
    return value


def _checked(kind: type) -> Convert:
    def check(value: Any) -> Any:
        # bool is an int subclass: keep the two apart both ways
        if type(value) is not kind:
            raise CodecError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return check


def _enc_bytes(value: Any) -> str:
    if not isinstance(value, bytes | bytearray):
        raise CodecError(f"expected bytes, got {type(value).__name__}")
    return base64.b64encode(value).decode("ascii")


def _dec_bytes(value: Any) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError) as e:
        raise CodecError("invalid base64") from e


def _enc_datetime(value: Any) -> str:
    if not isinstance(value, dt.datetime):
        raise CodecError(f"expected datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise CodecError("naive datetime: entities hold aware (UTC) datetimes")
    return value.astimezone(dt.UTC).strftime(_ISO)


def _dec_datetime(value: Any) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (ValueError, TypeError) as e:
        raise CodecError(f"invalid datetime {value!r}") from e
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _optional(inner: Convert) -> Convert:
    if inner is _identity:
        return _identity
    return lambda value: None if value is None else inner(value)


def _homogeneous(inner: Convert, accept: Any, out: Callable[[Any], Any]) -> Convert:
    def convert(value: Any) -> Any:
        if not isinstance(value, accept):
            raise CodecError(f"expected a tuple, got {type(value).__name__}")
        return out(inner(v) for v in value)

    return convert


def _fixed(inners: tuple[Convert, ...], accept: Any, out: Callable[[Any], Any]) -> Convert:
    def convert(value: Any) -> Any:
        if not isinstance(value, accept) or len(value) != len(inners):
            raise CodecError(f"expected a tuple of {len(inners)}")
        return out(f(v) for f, v in zip(inners, value, strict=True))

    return convert


def _converters(hint: Any) -> tuple[Convert, Convert]:
    """(encode, decode) for one type hint, to and from JSON-native values."""
    if hint is str or hint is int or hint is bool:
        return _checked(hint), _identity
    if hint is bytes:
        return _enc_bytes, _dec_bytes
    if hint is dt.datetime:
        return _enc_datetime, _dec_datetime
    if hint is type(None):
        return _checked(type(None)), _identity
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1 or len(args) != 2:
            raise TypeError(f"unsupported union {hint!r}: only `X | None`")
        enc, dec = _converters(rest[0])
        return _optional(enc), _optional(dec)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            enc, dec = _converters(args[0])
            return _homogeneous(enc, tuple, list), _homogeneous(dec, list, tuple)
        pairs = [_converters(a) for a in args]
        encs = tuple(p[0] for p in pairs)
        decs = tuple(p[1] for p in pairs)
        return _fixed(encs, tuple, list), _fixed(decs, list, tuple)
    raise TypeError(f"unsupported field type {hint!r}")


_MISSING = dataclasses.MISSING


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    encode: Convert
    decode: Convert
    default: Any  # a value, or _MISSING
    default_factory: Any  # a callable, or _MISSING


_FIELDS: dict[type, tuple[_Field, ...]] = {}


def _fields(cls: type) -> tuple[_Field, ...]:
    """The converters of a dataclass's fields, worked out once per class."""
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = _fields_of(cls)
    return found


def _fields_of(cls: type) -> tuple[_Field, ...]:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        enc, dec = _converters(hints[f.name])
        out.append(_Field(f.name, enc, dec, f.default, f.default_factory))
    return tuple(out)


def to_dict(entity: Any) -> dict[str, Any]:
    """The entity as JSON-native values, by field name."""
    out = {}
    for f in _fields(type(entity)):
        value = getattr(entity, f.name)
        try:
            out[f.name] = f.encode(value)
        except CodecError as e:
            raise CodecError(f"{type(entity).__name__}.{f.name}: {e}") from None
    return out


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild an entity; unknown keys are ignored, missing ones take the default."""
    kwargs = {}
    for f in _fields(cls):
        if f.name in data:
            try:
                kwargs[f.name] = f.decode(data[f.name])
            except CodecError as e:
                raise CodecError(f"{cls.__name__}.{f.name}: {e}") from None
        elif f.default is not _MISSING:
            kwargs[f.name] = f.default
        elif f.default_factory is not _MISSING:
            kwargs[f.name] = f.default_factory()
        else:
            raise CodecError(f"{cls.__name__}.{f.name}: missing and has no default")
    return cls(**kwargs)


def encode(entity: Any) -> str:
    """Compact JSON text of the entity (non-ASCII kept as is)."""
    return json.dumps(to_dict(entity), separators=(",", ":"), ensure_ascii=False)


def decode(cls: type[T], text: str) -> T:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise CodecError(f"{cls.__name__}: stored row is not JSON") from e
    if not isinstance(data, dict):
        raise CodecError(f"{cls.__name__}: stored row is not a JSON object")
    return from_dict(cls, data)


def check(cls: type) -> None:
    """Raise TypeError now if `cls` has a field type the codec cannot handle."""
    _fields(cls)
