"""Tags: as requests carry them (AWS's rules), as outputs show them, and as the
condition keys (aws:RequestTag/*, aws:ResourceTag/*, aws:TagKeys) authorization sees."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chamberlain.domain import Tags
from chamberlain.ops.core.errors import InvalidInput, LimitExceeded
from chamberlain.ops.core.registry import Params, Target

MAX_TAGS = 50


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


def with_tags(out: dict[str, Any], tags: Tags) -> dict[str, Any]:
    """An output structure with its Tags member, when there are tags."""
    return {**out, "Tags": tags_out(tags)} if tags else out


def merge_tags(existing: Tags, new: Tags) -> Tags:
    """TagX: new values replace existing keys (case-insensitively); at most 50 tags."""
    merged = {k.lower(): (k, v) for k, v in existing}
    for k, v in new:
        merged[k.lower()] = (merged.get(k.lower(), (k, v))[0], v)
    return check_tag_count(tuple(merged.values()))


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


def creation_target(arn: str, params: Params, tag_action: str) -> Target:
    """CreateX with optional Tags: the new entity's ARN, aws:RequestTag/* and aws:TagKeys,
    and `tag_action` (iam:TagX) on the same ARN when tags come with it, as AWS asks."""
    also = ((tag_action, arn),) if params.get("Tags") else ()
    return Target(arn, request_tag_context(params.get("Tags")), also)
