"""The three tag operations of every taggable IAM entity (TagX, UntagX, ListXTags), built
from the kind's descriptor (entities.EntityKind) instead of written out per kind.

The descriptor gives the authorization target (the entity's ARN and aws:ResourceTag/*
context, to which the tag operation adds aws:RequestTag/* or aws:TagKeys) and the lookup
with AWS's not-found error; a kind may add what a write requires (a role must not be
service-linked, a policy must be customer managed) and which tags ListXTags shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from chamberlain.domain import Tags
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import EntityKind
from chamberlain.ops.core.pagination import paginate
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.ops.core.tags import merge_tags, remove_tags, request_tag_context, tags_in

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from chamberlain.ops.core.entities import Entity

    class Taggable(DataclassInstance, Entity, Protocol):
        """A stored entity (a dataclass) with tags."""

        @property
        def tags(self) -> Tags: ...


E = TypeVar("E", bound="Taggable")


def list_tags(params: Params, tags: Tags) -> dict[str, Any]:
    """ListXTags: the tags in the order they were added, paged by position."""
    return paginate(
        dict(params),
        list(enumerate(tags)),
        key=lambda item: f"{item[0]:06d}",
        member="Tags",
        render=lambda item: {"Key": item[1][0], "Value": item[1][1]},
    )


def tag_operations(
    kind: EntityKind[E],
    noun: str,
    *,
    writable: Callable[[OpContext, str, str], E] | None = None,
    shown: Callable[[OpContext, str], Tags] | None = None,
) -> None:
    """Register TagX, UntagX and ListXTags for `kind`; `noun` names them (TagUser,
    UntagUser, ListUserTags). `writable(ctx, name, action)` is the entity a write may
    change (default `kind.require`), `shown(ctx, name)` the tags ListXTags shows (default
    the required entity's)."""
    tag, untag, listing = f"Tag{noun}", f"Untag{noun}", f"List{noun}Tags"

    def for_writing(ctx: OpContext, params: Params, action: str) -> E:
        name = params[kind.name_param]
        return kind.require(ctx, name) if writable is None else writable(ctx, name, action)

    def tag_target(ctx: OpContext, params: Params) -> Target:
        extra = request_tag_context(params.get("Tags"))
        return kind.target(ctx, params[kind.name_param], extra=extra)

    def untag_target(ctx: OpContext, params: Params) -> Target:
        extra = {"aws:TagKeys": list(params.get("TagKeys") or [])}
        return kind.target(ctx, params[kind.name_param], extra=extra)

    def tag_handler(ctx: OpContext, params: Params) -> Output:
        entity = for_writing(ctx, params, f"iam:{tag}")
        tags = merge_tags(entity.tags, tags_in(params["Tags"]))
        ctx.uow.repo(kind.entity).put(replace(entity, tags=tags))
        return None

    def untag_handler(ctx: OpContext, params: Params) -> Output:
        entity = for_writing(ctx, params, f"iam:{untag}")
        tags = remove_tags(entity.tags, params["TagKeys"])
        ctx.uow.repo(kind.entity).put(replace(entity, tags=tags))
        return None

    def list_handler(ctx: OpContext, params: Params) -> Output:
        name = params[kind.name_param]
        tags = kind.require(ctx, name).tags if shown is None else shown(ctx, name)
        return list_tags(params, tags)

    operation("iam", tag, resource=tag_target)(tag_handler)
    operation("iam", untag, resource=untag_target)(untag_handler)
    operation("iam", listing, resource=kind.resolve, read_only=True)(list_handler)
