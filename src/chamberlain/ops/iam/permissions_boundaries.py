"""Permissions boundaries of users and roles: Put/Delete{User,Role}PermissionsBoundary.

One pair of handlers serves both kinds; a service-linked role's boundary cannot be changed
(UnmodifiableEntity), as AWS refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from chamberlain.domain import Role, User
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import ROLES, USERS, PrincipalKind, require_attachable
from chamberlain.ops.core.policy_usage import change_boundary
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.ops.iam import role_protection as slr

B = Role | User


def boundary_operations(
    noun: str, kind: PrincipalKind[User] | PrincipalKind[Role], writable: Callable[[B], B]
) -> None:
    """Register Put{noun}PermissionsBoundary and Delete{noun}PermissionsBoundary."""

    def put_target(ctx: OpContext, params: Params) -> Target:
        extra = {"iam:PermissionsBoundary": params["PermissionsBoundary"]}
        return kind.target(ctx, params[kind.name_param], extra=extra)

    def delete_target(ctx: OpContext, params: Params) -> Target:
        return kind.target(ctx, params[kind.name_param], boundary_key=True)

    def set_boundary(ctx: OpContext, params: Params, boundary: str | None) -> Output:
        entity = writable(kind.require(ctx, params[kind.name_param]))
        if boundary is not None:
            require_attachable(ctx, boundary)
        change_boundary(ctx, kind.arn_kind, entity.name, entity.permissions_boundary, boundary)
        ctx.uow.repo(kind.entity).put(replace(entity, permissions_boundary=boundary))
        return None

    def put(ctx: OpContext, params: Params) -> Output:
        return set_boundary(ctx, params, params["PermissionsBoundary"])

    def delete(ctx: OpContext, params: Params) -> Output:
        return set_boundary(ctx, params, None)

    operation("iam", f"Put{noun}PermissionsBoundary", resource=put_target)(put)
    operation("iam", f"Delete{noun}PermissionsBoundary", resource=delete_target)(delete)


def _unchanged(entity: B) -> B:
    return entity


def _modifiable(entity: B) -> B:
    return slr.require_modifiable(entity) if isinstance(entity, Role) else entity


boundary_operations("User", USERS, _unchanged)
boundary_operations("Role", ROLES, _modifiable)
