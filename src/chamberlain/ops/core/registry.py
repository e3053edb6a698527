"""The table of operations: handler, the action it is authorized as, and its resource.

Ops modules register their functions with `@operation("iam", "CreateUser", resource=...)`.
The dispatcher looks operations up here, authorizes `iam:CreateUser` on the resource the
`resource` function names (with any extra condition keys), then runs the handler in the
same unit of work. Handlers take the decoded input (keyed by the botocore model's member
names) and return the output the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chamberlain.ops.core.context import OpContext
from chamberlain.policy.request import ContextValue

Params = dict[str, Any]
Output = dict[str, Any] | None


def compact(out: dict[str, Any]) -> dict[str, Any]:
    """An output structure without its absent (None) members."""
    return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class Target:
    """What a call is authorized against: a resource ARN and its condition keys.

    `also` lists further (action, resource) pairs the call needs, as AWS asks e.g.
    iam:TagUser when CreateUser carries tags; they are evaluated with `context`, or with
    `also_context[i]` when given (iam:PassRole sees the passed role's tags, not those of
    the resource the call is about).
    """

    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    also: tuple[tuple[str, str], ...] = ()
    also_context: tuple[Mapping[str, ContextValue] | None, ...] = ()
    #: The stored entity the resolver read, if any: the handler gets it (OpContext.resolved).
    entity: object | None = None


Handler = Callable[[OpContext, Params], Output]
Resolver = Callable[[OpContext, Params], Target]
#: Slow work done before the operation's unit of work (see `operation`).
Preparer = Callable[[OpContext, Params], object]


@dataclass(frozen=True)
class Later:
    """What a preparer returns for work that must not hold even the read-only unit of
    work (a pooled connection, on SQLite a read snapshot): `run` is called after that
    unit of work has closed, and its result becomes `ctx.prepared`."""

    run: Callable[[], object]


class StalePreparation(Exception):
    """Raised by a handler when what its preparer read changed before the write lock
    was taken: the dispatcher prepares again."""


@dataclass(frozen=True)
class Operation:
    service: str
    name: str
    handler: Handler
    resource: Resolver | None  # None: not authorized (e.g. sts:GetCallerIdentity)
    read_only: bool
    prepare: Preparer | None = None

    @property
    def action(self) -> str:
        return f"{self.service}:{self.name}"


REGISTRY: dict[tuple[str, str], Operation] = {}


def operation(
    service: str,
    name: str,
    *,
    resource: Resolver | None,
    read_only: bool = False,
    prepare: Preparer | None = None,
) -> Callable[[Handler], Handler]:
    """Register a handler. `prepare`, if given, runs first, after authorization, in a
    read-only unit of work (no lock, no write transaction), and reads what the slow work
    needs; the slow work itself (password hashing and verification, network fetches,
    image rendering) it returns as `Later(...)`, run once that unit of work has closed.
    The result is the handler's `ctx.prepared`; the handler re-checks what could have
    changed since and raises StalePreparation if it did."""

    def register(handler: Handler) -> Handler:
        key = (service, name)
        if key in REGISTRY:
            raise RuntimeError(f"operation {service}:{name} registered twice")
        REGISTRY[key] = Operation(service, name, handler, resource, read_only, prepare)
        return handler

    return register


def lookup(service: str, name: str) -> Operation | None:
    return REGISTRY.get((service, name))
