"""Shape-driven value generators for the protocol tests.

`ShapeExamples.example(shape)` builds one deterministic, constraint-satisfying value for
any botocore shape (required members only, or every member); `ShapeExamples.strategy`
builds a hypothesis strategy of valid values. Both respect enum, pattern, min/max, and
never produce an empty structure where the query protocol could not transmit it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.model import (
    ListShape,
    MapShape,
    OperationModel,
    ServiceModel,
    Shape,
    StructureShape,
)
from hypothesis import strategies as st

from chamberlain.protocol.models import compiled_pattern

_BASES = (
    "a",
    "/",
    "/a/",
    "0",
    "A",
    "ab",
    "v1",
    "12:00",
    "123456789012",
    "arn:aws:iam::123456789012:role/a",
    "https://example.com",
    "s3://abc",
    "o-abcdefghij",
    "o-abcdefghij/r-abcd",
    "p-abcdefgh",
)
_FILLS = ("a", "0", "A")
# Characters offered to text strategies: printable ASCII, the XML whitespace, Latin-1,
# and a few non-Latin letters, digits and separators (all legal in XML 1.0).
_POOL = (
    [chr(c) for c in range(0x20, 0x7F)]
    + ["\t", "\n", "\r", "\x85", "\xa0", "é", "ß", "ÿ"]
    + ["日", "本", "ж", "٣", "\u2028", "\u3000", "😀", "𝐀"]
)
_SIMPLE_CLASS = re.compile(r"\^?(\[(?:\\.|[^\]])+\])([+*])\$?")
_EPOCH = dt.datetime(2001, 2, 3, 4, 5, 6, tzinfo=dt.UTC)


def _length_bounds(shape: Shape, default_max: int) -> tuple[int, int]:
    low = int(shape.metadata.get("min", 0))
    high = int(shape.metadata.get("max", low + default_max))
    return low, max(low, min(high, low + default_max))


def _matches(shape: Shape, text: str) -> bool:
    low = int(shape.metadata.get("min", 0))
    high = shape.metadata.get("max")
    if len(text) < low or (high is not None and len(text) > high):
        return False
    pattern = shape.metadata.get("pattern")
    if pattern is None:
        return True
    compiled = compiled_pattern(pattern)
    assert compiled is not None, f"untranslatable pattern {pattern!r}"
    return compiled.fullmatch(text) is not None


def example_string(shape: Shape) -> str:
    """A string satisfying the shape's enum/pattern/length, found from fixed candidates."""
    enum = shape.metadata.get("enum")
    if enum:
        return str(enum[0])
    low = max(int(shape.metadata.get("min", 0)), 1)
    for base in _BASES:
        for fill in _FILLS:
            candidate = base + fill * max(0, low - len(base))
            if _matches(shape, candidate):
                return candidate
    raise AssertionError(f"no example for {shape.name}: {shape.metadata}")


def example_int(shape: Shape) -> int:
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if low is not None:
        return int(low)
    return 1 if high is None or high >= 1 else int(high)


class ShapeExamples:
    """Example values and hypothesis strategies for botocore shapes."""

    max_depth = 6

    def example(self, shape: Shape, *, full: bool = False, depth: int = 0) -> Any:
        """One valid value: required members only, or every member when `full`."""
        if isinstance(shape, StructureShape) and shape.is_tagged_union:
            first = next(iter(shape.members))
            return {first: self.example(shape.members[first], full=full, depth=depth + 1)}
        if isinstance(shape, StructureShape):
            names = list(shape.members) if full and depth < self.max_depth else []
            names = [
                *shape.required_members,
                *(n for n in names if n not in shape.required_members),
            ]
            if not names and shape.members and depth > 0:
                names = [next(iter(shape.members))]
            return {n: self.example(shape.members[n], full=full, depth=depth + 1) for n in names}
        if isinstance(shape, ListShape):
            count = max(1, int(shape.metadata.get("min", 0)))
            return [self.example(shape.member, full=full, depth=depth + 1) for _ in range(count)]
        if isinstance(shape, MapShape):
            key = self.example(shape.key, depth=depth + 1)
            return {key: self.example(shape.value, full=full, depth=depth + 1)}
        return self._scalar_example(shape)

    def _scalar_example(self, shape: Shape) -> Any:
        kind = shape.type_name
        if kind == "string":
            return example_string(shape)
        if kind in ("integer", "long"):
            return example_int(shape)
        if kind == "boolean":
            return True
        if kind == "timestamp":
            return _EPOCH
        if kind == "blob":
            return b"\x00\xffblob" + b"x" * int(shape.metadata.get("min", 0))
        if kind in ("float", "double"):
            return 1.5
        raise AssertionError(f"unhandled type {kind}")

    def strategy(self, shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
        """Valid values of `shape`: optional members drawn at random."""
        if isinstance(shape, StructureShape):
            return self._structure_strategy(shape, depth)
        if isinstance(shape, ListShape):
            low, high = _length_bounds(shape, 3)
            if depth >= self.max_depth:
                high = low
            return st.lists(self.strategy(shape.member, depth + 1), min_size=low, max_size=high)
        if isinstance(shape, MapShape):
            low, high = _length_bounds(shape, 3)
            low = max(low, 1)  # botocore's query serializer sends nothing for an empty map
            high = max(high, low)
            return st.dictionaries(
                self.strategy(shape.key, depth + 1),
                self.strategy(shape.value, depth + 1),
                min_size=low,
                max_size=high,
            )
        return self._scalar_strategy(shape)

    def _structure_strategy(self, shape: StructureShape, depth: int) -> st.SearchStrategy[Any]:
        if shape.is_tagged_union:  # exactly one member set
            return st.one_of(
                [
                    self.strategy(member, depth + 1).map(lambda v, n=name: {n: v})
                    for name, member in shape.members.items()
                ]
            )
        required = list(shape.required_members)
        optional = (
            [] if depth >= self.max_depth else [n for n in shape.members if n not in required]
        )
        fixed = {n: self.strategy(shape.members[n], depth + 1) for n in required}
        extra = {n: self.strategy(shape.members[n], depth + 1) for n in optional}
        base = st.fixed_dictionaries(fixed, optional=extra)
        if depth == 0 or required or not shape.members:
            return base
        first = next(iter(shape.members))
        # A structure nested in a request must carry something, or the query protocol
        # sends nothing for it at all.
        return base.map(
            lambda value: value or {first: self.example(shape.members[first], depth=depth + 1)}
        )

    def _scalar_strategy(self, shape: Shape) -> st.SearchStrategy[Any]:
        kind = shape.type_name
        meta = shape.metadata
        if kind == "string":
            return self._string_strategy(shape)
        if kind in ("integer", "long"):
            bits = 31 if kind == "integer" else 63
            return st.integers(int(meta.get("min", -(2**bits))), int(meta.get("max", 2**bits - 1)))
        if kind == "boolean":
            return st.booleans()
        if kind == "timestamp":
            return st.datetimes(
                min_value=dt.datetime(1971, 1, 1),
                max_value=dt.datetime(2100, 1, 1),
                timezones=st.just(dt.UTC),
            ).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
        if kind == "blob":
            low, high = _length_bounds(shape, 16)
            return st.binary(min_size=low, max_size=high)
        if kind in ("float", "double"):
            return st.floats(allow_nan=False, allow_infinity=False, width=64)
        raise AssertionError(f"unhandled type {kind}")

    def _string_strategy(self, shape: Shape) -> st.SearchStrategy[str]:
        enum = shape.metadata.get("enum")
        if enum:
            return st.sampled_from([str(v) for v in enum])
        low, high = _length_bounds(shape, 12)
        pattern = shape.metadata.get("pattern")
        if pattern is None:
            return st.text(st.sampled_from(_POOL), min_size=low, max_size=high)
        simple = _SIMPLE_CLASS.fullmatch(pattern)
        if simple is None:
            return st.just(example_string(shape))
        char_class = compiled_pattern(simple.group(1))
        assert char_class is not None
        alphabet = [c for c in _POOL if char_class.fullmatch(c)]
        if simple.group(2) == "+":
            low = max(low, 1)
            high = max(high, 1)
        return st.text(st.sampled_from(alphabet), min_size=low, max_size=high)


# ------------------------------------------------------------- a synthetic query model
# IAM and STS use neither flattened collections nor locationName; this small model has
# them all, so the decoder and serializer are checked against botocore's naming rules.


def synthetic_model(members: dict[str, Any], shapes: dict[str, Any]) -> ServiceModel:
    data = {
        "metadata": {
            "protocol": "query",
            "apiVersion": "2020-01-01",
            "xmlNamespace": "https://example.com/doc/2020-01-01/",
            "serviceId": "Example",
            "endpointPrefix": "example",
            "signatureVersion": "v4",
        },
        "operations": {
            "Op": {
                "name": "Op",
                "http": {"method": "POST", "requestUri": "/"},
                "input": {"shape": "OpInput"},
                "output": {"shape": "OpOutput", "resultWrapper": "OpResult"},
            }
        },
        "shapes": {
            "OpInput": {"type": "structure", "members": members},
            "OpOutput": {"type": "structure", "members": members},
            "String": {"type": "string"},
            "Int": {"type": "integer"},
            "Time": {"type": "timestamp"},
            **shapes,
        },
    }
    return ServiceModel(data, service_name="example")


SYNTHETIC_SHAPES = {
    "FlatList": {"type": "list", "member": {"shape": "String"}, "flattened": True},
    "FlatNamedList": {
        "type": "list",
        "member": {"shape": "String", "locationName": "Item"},
        "flattened": True,
    },
    "NamedList": {"type": "list", "member": {"shape": "Pair", "locationName": "Entry"}},
    "Pair": {
        "type": "structure",
        "members": {"A": {"shape": "String", "locationName": "alpha"}, "B": {"shape": "Int"}},
    },
    "Map": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "Int"}},
    "NamedMap": {
        "type": "map",
        "key": {"shape": "String", "locationName": "Name"},
        "value": {"shape": "Pair", "locationName": "Data"},
    },
    "FlatMap": {
        "type": "map",
        "key": {"shape": "String"},
        "value": {"shape": "String"},
        "flattened": True,
    },
}
SYNTHETIC_MEMBERS = {
    "Flat": {"shape": "FlatList"},
    "FlatNamed": {"shape": "FlatNamedList"},
    "Named": {"shape": "NamedList", "locationName": "Renamed"},
    "Plain": {"shape": "Map"},
    "Nested": {"shape": "NamedMap"},
    "FlatM": {"shape": "FlatMap"},
    "When": {"shape": "Time"},
}


def synthetic_operation() -> OperationModel:
    return synthetic_model(SYNTHETIC_MEMBERS, SYNTHETIC_SHAPES).operation_model("Op")


SYNTHETIC_VALUE = {
    "Flat": ["x", "y"],
    "FlatNamed": ["p", "q", "r"],
    "Named": [{"A": "a1", "B": 1}, {"B": -2}],
    "Plain": {"k1": 1, "k2": 2},
    "Nested": {"n": {"A": "deep", "B": 3}},
    "FlatM": {"fk": "fv"},
    "When": dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=dt.UTC),
}


@dataclass(frozen=True)
class Synthetic:
    operation: OperationModel
    value: dict[str, Any]
    model: Callable[[dict[str, Any], dict[str, Any]], ServiceModel]


@pytest.fixture(scope="session")
def synthetic() -> Synthetic:
    return Synthetic(synthetic_operation(), SYNTHETIC_VALUE, synthetic_model)


@pytest.fixture(scope="session")
def shapes() -> ShapeExamples:
    return ShapeExamples()
