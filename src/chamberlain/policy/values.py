"""Parsing condition values of each type: numbers, dates, booleans, IPs, binary.

Each parser returns None for a value it cannot read; such a value matches nothing.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import ipaddress
import math
import re

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_EPOCH = re.compile(r"^[+-]?\d+(\.\d+)?$")

Network = tuple[int, int, int]  # (ip version, network as int, mask as int)


def parse_number(value: object) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER.match(text):
            return None
        try:
            return int(text)
        except ValueError:
            number = float(text)
            return None if math.isinf(number) else number
    return None


def parse_date(value: object) -> float | None:
    """Seconds since the epoch from a datetime, epoch number or ISO 8601 text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        return value.timestamp()
    if isinstance(value, int | float):
        return None if isinstance(value, float) and not math.isfinite(value) else float(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _EPOCH.match(text):
        return float(text)
    try:
        when = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    try:
        return when.timestamp()
    except (OverflowError, ValueError):
        return None


def parse_bool(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered
    return None


def parse_binary(value: object) -> bytes | None:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
    return None


def parse_network(value: object) -> Network | None:
    if not isinstance(value, str):
        return None
    try:
        net = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None
    return (net.version, int(net.network_address), int(net.netmask))


_ip_cache: dict[str, tuple[int, int] | None] = {}


def parse_ip(value: object) -> tuple[int, int] | None:
    """(version, address as int) of a context IP; memoised, parsing is the slow part."""
    if not isinstance(value, str):
        return None
    hit = _ip_cache.get(value, False)
    if hit is not False:
        return hit  # type: ignore[return-value]
    try:
        addr = ipaddress.ip_address(value.strip())
        parsed: tuple[int, int] | None = (addr.version, int(addr))
    except ValueError:
        parsed = None
    if len(_ip_cache) > 65536:
        _ip_cache.clear()
    _ip_cache[value] = parsed
    return parsed
