"""The entity codec: every domain type round-trips; decoding tolerates schema growth."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import typing
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chamberlain.domain import ENTITY_TYPES, LoginProfile, MfaDevice, PasswordPolicy, Tags, User
from chamberlain.store import codec

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC)

_offsets = st.timedeltas(min_value=dt.timedelta(hours=-23), max_value=dt.timedelta(hours=23))
_zones = st.just(dt.UTC) | _offsets.map(dt.timezone)
_datetimes = st.datetimes(
    min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(9000, 1, 1), timezones=_zones
)


def strategy(hint: Any) -> st.SearchStrategy[Any]:
    """Any value of the field type `hint`."""
    simple: dict[Any, st.SearchStrategy[Any]] = {
        str: st.text(),
        int: st.integers(),
        bool: st.booleans(),
        bytes: st.binary(),
        dt.datetime: _datetimes,
    }
    if hint in simple:
        return simple[hint]
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(strategy(args[0]), max_size=4).map(tuple)
        return st.tuples(*(strategy(a) for a in args))
    (inner,) = [a for a in args if a is not type(None)]
    return st.none() | strategy(inner)


def entities(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    fields = {f.name: strategy(hints[f.name]) for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


@pytest.mark.parametrize("cls", ENTITY_TYPES, ids=lambda c: c.__name__)
def test_every_entity_type_round_trips(cls: type) -> None:
    @given(entities(cls))
    def round_trip(entity: Any) -> None:
        text = codec.encode(entity)
        decoded = codec.decode(cls, text)
        assert decoded == entity
        assert codec.encode(decoded) == text
        for f in dataclasses.fields(decoded):
            value = getattr(decoded, f.name)
            if isinstance(value, dt.datetime):
                assert value.tzinfo is dt.UTC
            if isinstance(value, tuple | list):
                assert type(value) is tuple

    round_trip()


def test_datetimes_are_utc_iso_8601_with_microseconds() -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    profile = LoginProfile("1", "bob", "h", NOW, NOW.replace(microsecond=0).astimezone(plus_two))
    data = json.loads(codec.encode(profile))
    assert data["created"] == "2026-01-02T03:04:05.000006Z"
    assert data["password_set"] == "2026-01-02T03:04:05.000000Z"


def test_bytes_are_base64_and_tags_are_pairs() -> None:
    device = MfaDevice("1", "arn:mfa", b"\x00\xffseed", NOW, tags=(("k", "v"), ("k2", "")))
    data = json.loads(codec.encode(device))
    assert data["seed_encrypted"] == "AP9zZWVk"
    assert data["tags"] == [["k", "v"], ["k2", ""]]
    assert data["user_name"] is None


def test_missing_fields_take_their_defaults_and_unknown_ones_are_ignored() -> None:
    data = {"account_id": "1", "minimum_password_length": 14, "from_the_future": [1, 2]}
    assert codec.from_dict(PasswordPolicy, data) == PasswordPolicy("1", 14)
    stored = codec.to_dict(User("1", "AIDA", "a", "/", "arn", NOW))
    del stored["tags"], stored["permissions_boundary"]
    assert codec.from_dict(User, stored) == User("1", "AIDA", "a", "/", "arn", NOW)


def test_a_missing_field_without_default_is_an_error() -> None:
    with pytest.raises(codec.CodecError, match=r"User\.created: missing"):
        codec.from_dict(
            User, {"account_id": "1", "user_id": "u", "name": "a", "path": "/", "arn": "x"}
        )


def test_datetimes_without_offset_are_read_as_utc() -> None:
    data = codec.to_dict(LoginProfile("1", "bob", "h", NOW, NOW))
    data["created"] = "2026-01-02T03:04:05"
    assert codec.from_dict(LoginProfile, data).created == NOW.replace(microsecond=0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("created", dt.datetime(2026, 1, 1), "naive datetime"),
        ("created", "2026-01-01T00:00:00Z", "expected datetime"),
        ("minimum_password_length", True, "expected int, got bool"),
        ("require_symbols", 1, "expected bool, got int"),
        ("name", b"bytes", "expected str"),
        ("secret", "text", "expected bytes"),
        ("history", ["a", "b"], "expected a tuple"),
        ("history", ("a", 1), "expected str"),
        ("tags", (("k", "v", "x"),), "expected a tuple of 2"),
    ],
)
def test_encoding_checks_values(field: str, value: Any, message: str) -> None:
    @dataclasses.dataclass(frozen=True)
    class Everything:
        created: dt.datetime = NOW
        minimum_password_length: int = 8
        require_symbols: bool = False
        name: str = "n"
        secret: bytes = b""
        history: tuple[str, ...] = ()
        tags: Tags = ()

    with pytest.raises(codec.CodecError, match=message):
        codec.encode(Everything(**{field: value}))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (
            '{"account_id": "1", "serial_number": "s", "seed_encrypted": "!!", "created": '
            '"2026-01-01T00:00:00Z"}',
            "invalid base64",
        ),
        (
            '{"account_id": "1", "serial_number": "s", "seed_encrypted": "", "created": "soon"}',
            "invalid datetime",
        ),
        (
            '{"account_id": "1", "serial_number": "s", "seed_encrypted": "", "created": '
            '"2026-01-01T00:00:00Z", "tags": [["k"]]}',
            "a tuple of 2",
        ),
    ],
)
def test_unreadable_rows_raise_codec_error(text: str, message: str) -> None:
    with pytest.raises(codec.CodecError, match=message):
        codec.decode(MfaDevice, text)


@pytest.mark.parametrize("hint", [float, dict, list[str], int | str, set[str]])
def test_unsupported_field_types_are_refused(hint: Any) -> None:
    cls = dataclasses.make_dataclass("Odd", [("x", hint)], frozen=True)
    with pytest.raises(TypeError, match="unsupported"):
        codec.check(cls)


def test_only_dataclasses() -> None:
    with pytest.raises(TypeError, match="not a dataclass"):
        codec.check(dict)
