"""The request context as the compiled engine reads it: keys folded to lower case once,
values converted to the text AWS compares."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from typing import Any

MISSING: Any = object()
SEQUENCES = (list, tuple)


def scalar_text(value: object) -> str:
    """A value as the string operators see it: JSON text for bools and numbers."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        return value.astimezone(_dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class EvalState:
    """Per-request scratch: the lower-cased context, built on first use."""

    __slots__ = ("_lower", "raw")

    def __init__(self, context: Mapping[str, object]) -> None:
        self.raw = context
        self._lower: dict[str, object] | None = None

    @property
    def lower(self) -> dict[str, object]:
        if self._lower is None:
            self._lower = {k.lower(): v for k, v in self.raw.items()}
        return self._lower

    def get(self, key: str, written: str | None = None) -> object:
        """The value for a lower-cased key (`written`: the key as the policy spells it,
        tried first, which spares folding the context when the spelling agrees);
        MISSING when absent or an empty list."""
        value = self.raw.get(written, MISSING) if written is not None else MISSING
        if value is MISSING:
            lower = self._lower
            if lower is None:
                lower = self._lower = {k.lower(): v for k, v in self.raw.items()}
            value = lower.get(key, MISSING)
        if type(value) in SEQUENCES and not value:
            return MISSING
        return value

    def variable(self, key: str) -> str | None:
        """The value of `${key}`: a single value only."""
        value = self.lower.get(key, MISSING)
        if value is MISSING or isinstance(value, list | tuple | set | frozenset):
            return None
        return scalar_text(value)
