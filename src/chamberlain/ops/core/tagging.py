"""The three tag operations of every taggable IAM entity (TagX, UntagX, ListXTags), built
from one description of the entity kind instead of written out per kind.

Each kind says how its authorization target is found (its ARN and aws:ResourceTag/*
context, to which the tag operation adds aws:RequestTag/* or aws:TagKeys), how the
entity is read (with AWS's not-found error), and what a write additionally requires
(a role must not be service-linked, a policy must be customer managed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from chamberlain.domain import Tags
from chamberlain.ops.core.common import (
    merge_tags,
    paginate,
    remove_tags,
    request_tag_context,
    tags_in,
)
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.policy.request import ContextValue

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    class Taggable(DataclassInstance, Protocol):
        """A stored entity (a dataclass) with tags."""

        @property
        def tags(self) -> Tags: ...


E = TypeVar("E", bound="Taggable")

#: (ctx, params, extra context) -> the operation's authorization target.
Resolve = Callable[[OpContext, Params, Mapping[str, ContextValue]], Target]


def creation_target(arn: str, params: Params, tag_action: str) -> Target:
    """CreateX with optional Tags: the new entity's ARN, aws:RequestTag/* and aws:TagKeys,
    and `tag_action` (iam:TagX) on the same ARN when tags come with it, as AWS asks."""
    also = ((tag_action, arn),) if params.get("Tags") else ()
    return Target(arn, request_tag_context(params.get("Tags")), also)


def adding(resolver: Callable[[OpContext, Params], Target]) -> Resolve:
    """A kind's plain resolver, with the tag operation's condition keys added."""

    def resolve(ctx: OpContext, params: Params, extra: Mapping[str, ContextValue]) -> Target:
        target = resolver(ctx, params)
        return replace(target, context={**target.context, **extra})

    return resolve


def list_tags(params: Params, tags: Tags) -> dict[str, Any]:
    """ListXTags: the tags in the order they were added, paged by position."""
    return paginate(
        dict(params),
        list(enumerate(tags)),
        key=lambda item: f"{item[0]:06d}",
        member="Tags",
        render=lambda item: {"Key": item[1][0], "Value": item[1][1]},
    )


@dataclass(frozen=True)
class TaggedKind(Generic[E]):
    """One taggable kind: `noun` names its operations (TagUser, UntagUser, ListUserTags)."""

    noun: str
    entity: type[E]
    target: Resolve
    #: The existing entity the request names (AWS's NoSuchEntity otherwise), given the
    #: action it is for ("iam:TagPolicy": AWS managed policies refuse it by name).
    require: Callable[[OpContext, Params, str], E]
    #: What a write also requires (given the action, e.g. "iam:TagRole"); default none.
    writable: Callable[[OpContext, E, str], E] | None = None
    #: The tags ListXTags shows; default the required entity's.
    shown: Callable[[OpContext, Params], Tags] | None = None

    def for_writing(self, ctx: OpContext, params: Params, action: str) -> E:
        entity = self.require(ctx, params, action)
        return entity if self.writable is None else self.writable(ctx, entity, action)


def tag_operations(kind: TaggedKind[E]) -> None:
    """Register TagX, UntagX and ListXTags for `kind`."""
    tag, untag, listing = f"Tag{kind.noun}", f"Untag{kind.noun}", f"List{kind.noun}Tags"

    def tag_target(ctx: OpContext, params: Params) -> Target:
        return kind.target(ctx, params, request_tag_context(params.get("Tags")))

    def untag_target(ctx: OpContext, params: Params) -> Target:
        return kind.target(ctx, params, {"aws:TagKeys": list(params.get("TagKeys") or [])})

    def list_target(ctx: OpContext, params: Params) -> Target:
        return kind.target(ctx, params, {})

    def tag_handler(ctx: OpContext, params: Params) -> Output:
        entity = kind.for_writing(ctx, params, f"iam:{tag}")
        tags = merge_tags(entity.tags, tags_in(params["Tags"]))
        ctx.uow.repo(kind.entity).put(replace(entity, tags=tags))
        return None

    def untag_handler(ctx: OpContext, params: Params) -> Output:
        entity = kind.for_writing(ctx, params, f"iam:{untag}")
        tags = remove_tags(entity.tags, params["TagKeys"])
        ctx.uow.repo(kind.entity).put(replace(entity, tags=tags))
        return None

    def list_handler(ctx: OpContext, params: Params) -> Output:
        if kind.shown is not None:
            return list_tags(params, kind.shown(ctx, params))
        return list_tags(params, kind.require(ctx, params, f"iam:{listing}").tags)

    operation("iam", tag, resource=tag_target)(tag_handler)
    operation("iam", untag, resource=untag_target)(untag_handler)
    operation("iam", listing, resource=list_target, read_only=True)(list_handler)
