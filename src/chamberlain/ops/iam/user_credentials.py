"""What every per-user credential operation shares (access keys, SSH public keys, signing
certificates, service-specific credentials, MFA devices, login profiles).

An omitted UserName means the caller's own credentials, which for the account root user
are the root user's (`domain.ROOT`). A credential kind named by its id (`OwnedKind`) gets
its UpdateX (status), DeleteX and ListXs from `owned_operations`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from chamberlain.domain import ROOT
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import USERS, require_user
from chamberlain.ops.core.errors import InvalidInput, NoSuchEntity, ValidationError
from chamberlain.ops.core.pagination import paginate
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.policy import PrincipalType

SETTABLE_STATUSES = ("Active", "Inactive")


def credential_owner(ctx: OpContext, params: Params, *, allow_root: bool = True) -> str:
    """The user whose credentials the call manages, as stored (ROOT for the root user).

    UserName names an existing user; without it, the caller's own user. Other callers
    (roles, federated sessions) must name a user, as AWS requires.
    """
    name = params.get("UserName")
    if name:
        return require_user(ctx, name).name
    caller = ctx.caller
    if caller.is_root and allow_root:
        return ROOT
    if caller.type is PrincipalType.USER and caller.user_name:
        return require_user(ctx, caller.user_name).name
    raise ValidationError("Must specify userName when calling with non-User credentials")


def owner_target(ctx: OpContext, params: Params) -> Target:
    """The resource of a per-user credential call: the user's ARN (its real one, with
    path, when it exists), or the caller itself when no UserName is given."""
    if params.get("UserName"):
        return USERS.target(ctx, params["UserName"])
    caller = ctx.caller
    if caller.type is PrincipalType.USER and caller.user_name:
        target = USERS.target(ctx, caller.user_name)
        if target.entity is not None:
            return target
    return Target(caller.arn)


def user_name_out(owner: str) -> str | None:
    """The UserName AWS shows for a credential: none for the root user's."""
    return None if owner == ROOT else owner


def check_settable_status(status: str) -> str:
    if status not in SETTABLE_STATUSES:
        raise InvalidInput(f"Invalid status {status}. The status must be Active or Inactive.")
    return status


# ------------------------------------------------------- credentials named by their id

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    class Owned(DataclassInstance, Protocol):
        """A stored credential (a dataclass) of one user, with a status."""

        @property
        def key(self) -> str: ...

        @property
        def user_name(self) -> str: ...

        @property
        def status(self) -> str: ...


C = TypeVar("C", bound="Owned")


@dataclass(frozen=True)
class OwnedKind(Generic[C]):
    """A credential kind a user owns and requests name by id: the stored class, the
    request member of its id, AWS's not-found message (`{id}`), and whether the root user
    may have one."""

    entity: type[C]
    id_param: str
    not_found_message: str
    allow_root: bool = True

    def owner(self, ctx: OpContext, params: Params) -> str:
        return credential_owner(ctx, params, allow_root=self.allow_root)

    def not_found(self, credential_id: str) -> NoSuchEntity:
        return NoSuchEntity(self.not_found_message.format(id=credential_id))

    def require(self, ctx: OpContext, owner: str, credential_id: str) -> C:
        """The credential `credential_id` of `owner`; NoSuchEntity for another's."""
        found: C | None = ctx.uow.repo(self.entity).get(ctx.account_id, credential_id)
        if found is None or found.user_name.lower() != owner.lower():
            raise self.not_found(credential_id)
        return found

    def requested(self, ctx: OpContext, params: Params) -> C:
        """The credential the request names, of the user it names (or the caller)."""
        return self.require(ctx, self.owner(ctx, params), params[self.id_param])

    def of_owner(self, ctx: OpContext, owner: str) -> list[C]:
        return ctx.uow.repo(self.entity).list(ctx.account_id, ref=owner.lower())


def owned_operations(
    kind: OwnedKind[C],
    noun: str,
    *,
    listing: tuple[str, Callable[[C], dict[str, Any]]] | None = None,
) -> None:
    """Register UpdateX (Active / Inactive) and DeleteX for `kind`, and with `listing`
    (the output member and how one is rendered) ListXs; `noun` names them (AccessKey:
    UpdateAccessKey, DeleteAccessKey, ListAccessKeys). They act on the user's resource."""

    def update(ctx: OpContext, params: Params) -> Output:
        owner = kind.owner(ctx, params)
        status = check_settable_status(params["Status"])
        found = kind.require(ctx, owner, params[kind.id_param])
        if found.status != status:
            ctx.uow.repo(kind.entity).put(replace(found, status=status))
        return None

    def delete(ctx: OpContext, params: Params) -> Output:
        found = kind.requested(ctx, params)
        ctx.uow.repo(kind.entity).delete(ctx.account_id, found.key)
        return None

    operation("iam", f"Update{noun}", resource=owner_target)(update)
    operation("iam", f"Delete{noun}", resource=owner_target)(delete)
    if listing is None:
        return
    member, render = listing

    def list_owned(ctx: OpContext, params: Params) -> Output:
        found = kind.of_owner(ctx, kind.owner(ctx, params))
        return paginate(params, found, lambda c: c.key, member=member, render=render)

    operation("iam", f"List{noun}s", resource=owner_target, read_only=True)(list_owned)
