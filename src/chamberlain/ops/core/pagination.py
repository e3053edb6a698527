"""AWS's Marker / MaxItems / IsTruncated pagination of list operations, and PathPrefix."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from chamberlain.ops.core.errors import InvalidInput
from chamberlain.store.api import Repo

T = TypeVar("T")

DEFAULT_MAX_ITEMS = 100


def _encode_marker(member: str, key: str) -> str:
    """An opaque marker: the listing it belongs to and the last key it returned."""
    return base64.urlsafe_b64encode(json.dumps([member, key]).encode()).decode()


def _decode_marker(marker: str, member: str) -> str:
    """The key a marker resumes after; InvalidInput for anything this server did not
    issue for this listing (strict base64, the exact JSON shape, the same listing)."""
    try:
        raw = base64.b64decode(marker.encode("ascii"), altchars=b"-_", validate=True)
        listing, key = json.loads(raw.decode())
    except (binascii.Error, UnicodeError, ValueError, TypeError) as exc:
        raise InvalidInput("Invalid Marker.") from exc
    if listing != member or not isinstance(key, str) or _encode_marker(member, key) != marker:
        raise InvalidInput("Invalid Marker.")
    return key


def paginate(
    params: dict[str, Any],
    items: Sequence[T],
    key: Callable[[T], str],
    *,
    member: str,
    render: Callable[[T], Any],
) -> dict[str, Any]:
    """AWS's Marker/MaxItems/IsTruncated over items already sorted by `key`.

    Returns {member: [...], "IsTruncated": bool, "Marker": next marker if truncated}.
    """
    max_items = params.get("MaxItems") or DEFAULT_MAX_ITEMS
    marker = params.get("Marker")
    start = 0
    if marker is not None:
        after = _decode_marker(marker, member)
        start = next((i for i, item in enumerate(items) if key(item) > after), len(items))
    page = list(items[start : start + max_items])
    truncated = start + max_items < len(items)
    out: dict[str, Any] = {member: [render(i) for i in page], "IsTruncated": truncated}
    if truncated:
        out["Marker"] = _encode_marker(member, key(page[-1]))
    return out


_SCAN_BATCH = 200


def paginate_keyset(
    params: dict[str, Any],
    repo: Repo[Any],
    account_id: str,
    *,
    member: str,
    render: Callable[[Any], Any],
    keep: Callable[[Any], bool] | None = None,
    ref: str | None = None,
    key_prefix: str | None = None,
) -> dict[str, Any]:
    """`paginate`, reading only the page from the store: the account's entities (with
    this ref, or key prefix) whose keys follow the marker's, in key order."""

    def fetch(after: str | None, limit: int) -> list[Any]:
        return repo.list(account_id, ref=ref, key_prefix=key_prefix, after=after, limit=limit)

    return paginate_fetched(
        params, fetch, key=lambda e: e.key, member=member, render=render, keep=keep
    )


#: fetch(after, limit): at most `limit` items whose key is greater than `after` (None:
#: from the start), in key order.
Fetch = Callable[[str | None, int], Sequence[T]]


def paginate_fetched(
    params: dict[str, Any],
    fetch: Fetch[T],
    *,
    key: Callable[[T], str],
    member: str,
    render: Callable[[T], Any],
    keep: Callable[[T], bool] | None = None,
) -> dict[str, Any]:
    """`paginate` over a source read a page at a time: `fetch(after, limit)` returns at
    most `limit` items whose `key` is greater than `after` (None: from the start), in key
    order. MaxItems + 1 are read (to tell IsTruncated); with a `keep` filter, in batches
    until the page is full, so a page costs the same wherever it starts. The marker is
    the same strict one, bound to its listing."""
    max_items = params.get("MaxItems") or DEFAULT_MAX_ITEMS
    marker = params.get("Marker")
    after = _decode_marker(marker, member) if marker is not None else None
    page: list[T] = []
    fetch_count = 0
    while len(page) <= max_items:
        want = max_items + 1 - len(page)
        # what the page still needs; with a filter, batches that double (to _SCAN_BATCH)
        # while it keeps rejecting
        fetch_count = want if keep is None else max(want, min(2 * fetch_count, _SCAN_BATCH))
        batch = fetch(after, fetch_count)
        page.extend(batch if keep is None else (i for i in batch if keep(i)))
        if len(batch) < fetch_count:
            break
        after = key(batch[-1])
    truncated = len(page) > max_items
    page = page[:max_items]
    out: dict[str, Any] = {member: [render(i) for i in page], "IsTruncated": truncated}
    if truncated:
        out["Marker"] = _encode_marker(member, key(page[-1]))
    return out


def path_filter(params: dict[str, Any]) -> Callable[[Any], bool] | None:
    """The PathPrefix filter of a listing; None when it keeps everything ("/")."""
    prefix = params.get("PathPrefix") or "/"
    if prefix == "/":
        return None
    return lambda item: bool(item.path.startswith(prefix))


class HasPath(Protocol):
    @property
    def path(self) -> str: ...


def path_prefix_filter(params: dict[str, Any]) -> Callable[[HasPath], bool]:
    """ListX's PathPrefix (default "/") as a test on an entity's path."""
    prefix = params.get("PathPrefix") or "/"
    return lambda item: item.path.startswith(prefix)
