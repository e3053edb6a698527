"""CloudTrail's LookupEvents over the audit trail (ops/audit/records.py), per account.

Events come newest first, filtered by time and at most one lookup attribute, as AWS
allows. Without StartTime/EndTime every stored event qualifies (AWS keeps 90 days;
Chamberlain keeps what `chamberlain audit prune` leaves). No Insights events are
recorded, so EventCategory "insight" finds none.

NextToken is the position after the page's last event, encrypted and authenticated
under the operator's key, bound to the account and to the query (attribute, times,
category): a token from another account, another query or anyone's editor is
InvalidNextTokenException.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from typing import Any

from chamberlain.crypto.secrets import SecretBoxError
from chamberlain.domain import Event
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.store.events import LOOKUP_KEYS, Attribute, Cursor, from_micros, to_micros

MAX_RESULTS = 50
_TOKEN_LABEL = b"chamberlain lookup-events token v1\x00"


class InvalidLookupAttributesException(ServiceError, status=400): ...


class InvalidTimeRangeException(ServiceError, status=400): ...


class InvalidMaxResultsException(ServiceError, status=400): ...


class InvalidNextTokenException(ServiceError, status=400): ...


def _anywhere(ctx: OpContext, params: Params) -> Target:
    """cloudtrail:LookupEvents has no resource type: it is authorized on "*"."""
    return Target(resource="*")


def _attribute(params: Params) -> Attribute | None:
    attributes = params.get("LookupAttributes") or []
    if len(attributes) > 1:
        raise InvalidLookupAttributesException("You cannot specify more than one lookup attribute.")
    if not attributes:
        return None
    key, value = attributes[0].get("AttributeKey"), attributes[0].get("AttributeValue")
    if key not in LOOKUP_KEYS:
        raise InvalidLookupAttributesException(
            f"Invalid attribute key: {key}. Valid keys: {', '.join(LOOKUP_KEYS)}."
        )
    if not isinstance(value, str) or not value:
        raise InvalidLookupAttributesException("The attribute value must not be empty.")
    if key == "ReadOnly":
        value = value.lower()
        if value not in ("true", "false"):
            raise InvalidLookupAttributesException(
                "The value for the ReadOnly attribute must be true or false."
            )
    return key, value


def _time_range(params: Params) -> tuple[dt.datetime | None, dt.datetime | None]:
    start, end = params.get("StartTime"), params.get("EndTime")
    if start is not None and end is not None and start > end:
        raise InvalidTimeRangeException("Start time must not be after end time.")
    return start, end


def _max_results(params: Params) -> int:
    value = params.get("MaxResults")
    if value is None:
        return MAX_RESULTS
    if not 1 <= value <= MAX_RESULTS:
        raise InvalidMaxResultsException(f"MaxResults must be between 1 and {MAX_RESULTS}.")
    return int(value)


def _fingerprint(
    attribute: Attribute | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    category: str | None,
) -> str:
    """What a token is bound to besides the account (page size may change between pages)."""
    query = [
        list(attribute) if attribute else None,
        to_micros(start) if start else None,
        to_micros(end) if end else None,
        category,
    ]
    return hashlib.sha256(json.dumps(query).encode()).hexdigest()[:32]


def _aad(account_id: str) -> bytes:
    return _TOKEN_LABEL + account_id.encode()


def _make_token(ctx: OpContext, fingerprint: str, last: Event) -> str:
    payload = json.dumps(
        {"q": fingerprint, "t": to_micros(last.event_time), "s": last.seq},
        separators=(",", ":"),
    ).encode()
    blob = ctx.services.secrets.encrypt(payload, _aad(ctx.account_id))
    return base64.urlsafe_b64encode(blob).decode("ascii").rstrip("=")


def _read_token(ctx: OpContext, token: str, fingerprint: str) -> Cursor:
    invalid = InvalidNextTokenException("Invalid NextToken.")
    try:
        blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(ctx.services.secrets.decrypt(blob, _aad(ctx.account_id)))
        position = (from_micros(int(payload["t"])), int(payload["s"]))
        same_query = payload["q"] == fingerprint
    except (binascii.Error, ValueError, SecretBoxError, KeyError, TypeError):
        raise invalid from None
    if not same_query:
        raise invalid
    return position


def event_out(event: Event) -> dict[str, Any]:
    """An Event of LookupEvents' output (members without a value left out)."""
    out = {
        "EventId": event.event_id,
        "EventName": event.event_name,
        "ReadOnly": "true" if event.read_only else "false",
        "AccessKeyId": event.access_key_id,
        "EventTime": event.event_time,
        "EventSource": event.event_source,
        "Username": event.username,
        "Resources": [{"ResourceType": t, "ResourceName": n} for t, n in event.resources],
        "CloudTrailEvent": event.record,
    }
    return {k: v for k, v in out.items() if v is not None}


@operation("cloudtrail", "LookupEvents", resource=_anywhere, read_only=True)
def lookup_events(ctx: OpContext, params: Params) -> Output:
    attribute = _attribute(params)
    start, end = _time_range(params)
    limit = _max_results(params)
    category = params.get("EventCategory")
    fingerprint = _fingerprint(attribute, start, end, category)
    before = None
    if params.get("NextToken") is not None:
        before = _read_token(ctx, params["NextToken"], fingerprint)
    if category is not None:  # "insight": Chamberlain records no Insights events
        return {"Events": []}
    found = ctx.uow.events.lookup(
        ctx.account_id, attribute=attribute, start=start, end=end, before=before, limit=limit + 1
    )
    page = found[:limit]
    out: dict[str, Any] = {"Events": [event_out(e) for e in page]}
    if len(found) > limit:
        out["NextToken"] = _make_token(ctx, fingerprint, page[-1])
    return out
