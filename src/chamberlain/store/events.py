"""The audit trail's storage vocabulary, shared by every store.

Events are appended per account with consecutive sequence numbers and looked up newest
first, by time range and at most one attribute, as CloudTrail's LookupEvents asks. Each
event is indexed under (attribute name, value, time, seq) for every attribute LookupEvents
filters on, plus `PRINCIPAL_SERVICE` and `PRINCIPAL_ACTION` (principal, source, name: what
IAM's service-last-accessed reports ask), so a filtered lookup is one index range scan.

`index_rows` are the rows of that index for one event; the audit verifier recomputes them
and checks the store holds exactly those (`EventLog.indexed`, `index_size`, `index_scan`).

Digests are signed statements about an account's chain (its last sequence number and
hash at a moment); ops/audit/trail.py writes and checks them. A `prune` digest anchors
the chain after old events were deleted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from chamberlain.domain import SEP, Event

#: The attributes LookupEvents filters on (botocore's LookupAttributeKey), in its order.
LOOKUP_KEYS = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)
#: Internal attributes: "principal ARN SEP event source" and "... SEP event name".
PRINCIPAL_SERVICE = "PrincipalService"
PRINCIPAL_ACTION = "PrincipalAction"
ATTRIBUTE_NAMES = frozenset((*LOOKUP_KEYS, PRINCIPAL_SERVICE, PRINCIPAL_ACTION))

#: A lookup position: (event time, seq) of the last event returned; exclusive.
Cursor = tuple[dt.datetime, int]
Attribute = tuple[str, str]
#: A row of the lookup index: (attribute name, value, event time in microseconds, seq).
IndexRow = tuple[str, str, int, int]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class Digest:
    """A signed statement: the chain of `account_id` reached `seq` with `hash` at `created`.

    kind: "checkpoint" (on demand or at export) or "prune" (the last event deleted by a
    prune, from which verification of the remaining events starts).
    """

    account_id: str
    seq: int
    hash: str
    created: dt.datetime
    kind: str
    seal: bytes


@dataclass(frozen=True)
class Pruned:
    count: int
    last: Event | None  # the newest event deleted (the new chain anchor)


def principal_service(principal: str, source: str) -> str:
    return SEP.join((principal, source))


def principal_action(principal: str, source: str, name: str) -> str:
    return SEP.join((principal, source, name))


def index_value(value: str) -> str:
    """`value` as the index stores it. Both databases hold any Unicode text but
    PostgreSQL no NUL and neither a lone surrogate, and a call's input (a resource name)
    may have either: those become U+FFFD, on writing and on looking up alike."""
    if "\0" in value:
        value = value.replace("\0", "\ufffd")
    if not value.isascii():
        value = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
    return value


def attribute_rows(event: Event) -> list[Attribute]:
    """Every (name, value) an event is indexed under, without duplicates (values as
    `index_value` stores them)."""
    rows: list[Attribute] = [
        ("EventId", event.event_id),
        ("EventName", event.event_name),
        ("ReadOnly", "true" if event.read_only else "false"),
        ("EventSource", event.event_source),
    ]
    if event.username:
        rows.append(("Username", event.username))
    if event.access_key_id:
        rows.append(("AccessKeyId", event.access_key_id))
    for kind, name in event.resources:
        rows.append(("ResourceType", kind))
        rows.append(("ResourceName", name))
    if event.principal:
        rows.append((PRINCIPAL_SERVICE, principal_service(event.principal, event.event_source)))
        value = principal_action(event.principal, event.event_source, event.event_name)
        rows.append((PRINCIPAL_ACTION, value))
    return list(dict.fromkeys((name, index_value(value)) for name, value in rows))


def index_rows(event: Event) -> list[IndexRow]:
    """The lookup index rows of an event, as the store writes them."""
    when = to_micros(event.event_time)
    return [(name, value, when, event.seq) for name, value in attribute_rows(event)]


class CorruptEvent(Exception):
    """A stored event row that cannot be read back as an Event (say, edited by hand)."""

    def __init__(self, account_id: str, seq: int, reason: str) -> None:
        super().__init__(f"event {seq} of account {account_id}: {reason}")
        self.account_id = account_id
        self.seq = seq
        self.reason = reason


def to_micros(moment: dt.datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (the stored form)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: events hold aware (UTC) datetimes")
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=value)


def in_range(
    event: Event,
    start: dt.datetime | None,
    end: dt.datetime | None,
    before: Cursor | None,
) -> bool:
    """The lookup predicate, for stores that filter in Python (the memory store)."""
    if start is not None and event.event_time < start:
        return False
    if end is not None and event.event_time > end:
        return False
    return before is None or (event.event_time, event.seq) < before
