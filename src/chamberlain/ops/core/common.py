"""Helpers every IAM operation shares: ARNs, pagination, paths, tags."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from chamberlain.domain import Tags
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import InvalidInput, LimitExceeded
from chamberlain.store.api import Repo

T = TypeVar("T")

MAX_TAGS = 50
DEFAULT_MAX_ITEMS = 100


def iam_arn(ctx: OpContext, kind: str, name: str, path: str = "/") -> str:
    """arn:aws:iam::ACCOUNT:KIND/PATH/NAME (path "/" gives KIND/NAME)."""
    return f"arn:{ctx.services.partition}:iam::{ctx.account_id}:{kind}{path}{name}"


def account_root_arn(ctx: OpContext, account_id: str | None = None) -> str:
    return f"arn:{ctx.services.partition}:iam::{account_id or ctx.account_id}:root"


# ---------------------------------------------------------------------- pagination


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
) -> dict[str, Any]:
    """`paginate`, reading only the page from the store: keys after the marker's, in key
    order, MaxItems + 1 of them (to tell IsTruncated); with a `keep` filter, in batches
    until the page is full. The marker is the same strict one, bound to its listing."""
    max_items = params.get("MaxItems") or DEFAULT_MAX_ITEMS
    marker = params.get("Marker")
    after = _decode_marker(marker, member) if marker is not None else None
    page: list[Any] = []
    while len(page) <= max_items:
        want = max_items + 1 - len(page)
        fetch = want if keep is None else max(want, _SCAN_BATCH)
        batch = repo.list(account_id, after=after, limit=fetch)
        page.extend(batch if keep is None else (i for i in batch if keep(i)))
        if len(batch) < fetch:
            break
        after = batch[-1].key
    truncated = len(page) > max_items
    page = page[:max_items]
    out: dict[str, Any] = {member: [render(i) for i in page], "IsTruncated": truncated}
    if truncated:
        out["Marker"] = _encode_marker(member, page[-1].key)
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


# ---------------------------------------------------------------------------- tags


def tags_out(tags: Tags) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags]


def tags_in(raw: Sequence[dict[str, str]] | None) -> Tags:
    """Validate tags from a request (AWS's rules) and return them as Tags."""
    if not raw:
        return ()
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for tag in raw:
        key, value = tag["Key"], tag.get("Value", "")
        if key.lower().startswith("aws:"):
            raise InvalidInput("The tag key 'aws:' prefix is reserved for AWS use.")
        if key.lower() in seen:
            raise InvalidInput(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive."
            )
        seen.add(key.lower())
        out.append((key, value))
    return tuple(out)


def merge_tags(existing: Tags, new: Tags) -> Tags:
    """TagX: new values replace existing keys (case-insensitively); at most 50 tags."""
    merged = {k.lower(): (k, v) for k, v in existing}
    for k, v in new:
        merged[k.lower()] = (merged.get(k.lower(), (k, v))[0], v)
    if len(merged) > MAX_TAGS:
        raise LimitExceeded("The number of tags has reached the maximum limit.")
    return tuple(merged.values())


def remove_tags(existing: Tags, keys: Sequence[str]) -> Tags:
    drop = {k.lower() for k in keys}
    return tuple((k, v) for k, v in existing if k.lower() not in drop)


def check_tag_count(tags: Tags) -> Tags:
    if len(tags) > MAX_TAGS:
        raise LimitExceeded("The number of tags has reached the maximum limit.")
    return tags


def request_tag_context(raw: Sequence[dict[str, str]] | None) -> dict[str, Any]:
    """aws:RequestTag/KEY and aws:TagKeys for a request carrying tags."""
    if not raw:
        return {}
    ctx: dict[str, Any] = {f"aws:RequestTag/{t['Key']}": t.get("Value", "") for t in raw}
    ctx["aws:TagKeys"] = [t["Key"] for t in raw]
    return ctx


def resource_tag_context(tags: Tags, *, iam_keys: bool = False) -> dict[str, Any]:
    """aws:ResourceTag/KEY for a resource's tags; with `iam_keys` (users and roles, as
    the Service Authorization Reference lists them) iam:ResourceTag/KEY too."""
    ctx: dict[str, Any] = {f"aws:ResourceTag/{k}": v for k, v in tags}
    if iam_keys:
        ctx.update({f"iam:ResourceTag/{k}": v for k, v in tags})
    return ctx


def compact(out: dict[str, Any]) -> dict[str, Any]:
    """An output structure without its absent (None) members."""
    return {k: v for k, v in out.items() if v is not None}
