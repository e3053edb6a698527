"""Inline policies of users, groups and roles: Put/Get/Delete/List{User,Group,Role}Policy.

Each principal has an aggregate size quota over all its inline policies (whitespace not
counted, as AWS counts): 2048 for a user, 5120 for a group, 10240 for a role.
"""

from __future__ import annotations

from chamberlain.domain import Group, InlinePolicy, Role, User, joined
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import PRINCIPAL_WORDS, principal_target, require_principal
from chamberlain.ops.core.errors import LimitExceeded, NoSuchEntity
from chamberlain.ops.core.pagination import paginate
from chamberlain.ops.core.policy_documents import parse_document
from chamberlain.ops.core.registry import Handler, Output, Params, Resolver, Target, operation
from chamberlain.ops.iam import role_protection as slr
from chamberlain.policy import PolicyType
from chamberlain.policy.validate import (
    INLINE_GROUP_MAX,
    INLINE_ROLE_MAX,
    INLINE_USER_MAX,
    policy_size,
)

LIMITS = {"user": INLINE_USER_MAX, "group": INLINE_GROUP_MAX, "role": INLINE_ROLE_MAX}


def _policies(ctx: OpContext, kind: str, key: str) -> list[InlinePolicy]:
    return ctx.uow.repo(InlinePolicy).list(ctx.account_id, key_prefix=joined(kind, key, ""))


def _require_changeable(ctx: OpContext, kind: str, name: str) -> User | Group | Role:
    """The principal, unless it is a service-linked role (UnmodifiableEntity)."""
    principal = require_principal(ctx, kind, name)
    if isinstance(principal, Role):
        slr.require_modifiable(principal)
    return principal


def _require_inline(
    ctx: OpContext, kind: str, name_param: str, params: Params, *, change: bool = False
) -> InlinePolicy:
    name = params[name_param]
    principal = (
        _require_changeable(ctx, kind, name) if change else require_principal(ctx, kind, name)
    )
    key = joined(kind, principal.key, params["PolicyName"])
    policy = ctx.uow.repo(InlinePolicy).get(ctx.account_id, key)
    if policy is None:
        raise NoSuchEntity(f"The {kind} policy with name {params['PolicyName']} cannot be found.")
    return policy


def _target(kind: str, name_param: str, *, boundary_key: bool = False) -> Resolver:
    def resolve(ctx: OpContext, params: Params) -> Target:
        return principal_target(ctx, kind, params[name_param], boundary_key=boundary_key)

    return resolve


def _put(kind: str, name_param: str) -> Handler:
    def handler(ctx: OpContext, params: Params) -> Output:
        principal = _require_changeable(ctx, kind, params[name_param])
        name, document = params["PolicyName"], params["PolicyDocument"]
        parse_document(document, PolicyType.IDENTITY)
        others = [p for p in _policies(ctx, kind, principal.key) if p.policy_name != name]
        total = policy_size(document) + sum(policy_size(p.document) for p in others)
        if total > LIMITS[kind]:
            raise LimitExceeded(
                f"Maximum policy size of {LIMITS[kind]} bytes exceeded for {kind} {principal.name}"
            )
        ctx.uow.repo(InlinePolicy).put(
            InlinePolicy(
                account_id=ctx.account_id,
                principal_kind=kind,
                principal_name=principal.name,
                policy_name=name,
                document=document,
            )
        )
        return None

    return handler


def _get(kind: str, word: str, name_param: str) -> Handler:
    def handler(ctx: OpContext, params: Params) -> Output:
        policy = _require_inline(ctx, kind, name_param, params)
        return {
            f"{word}Name": policy.principal_name,
            "PolicyName": policy.policy_name,
            "PolicyDocument": policy.document,
        }

    return handler


def _delete(kind: str, name_param: str) -> Handler:
    def handler(ctx: OpContext, params: Params) -> Output:
        policy = _require_inline(ctx, kind, name_param, params, change=True)
        ctx.uow.repo(InlinePolicy).delete(ctx.account_id, policy.key)
        return None

    return handler


def _list(kind: str, name_param: str) -> Handler:
    def handler(ctx: OpContext, params: Params) -> Output:
        principal = require_principal(ctx, kind, params[name_param])
        names = sorted(p.policy_name for p in _policies(ctx, kind, principal.key))
        return paginate(params, names, key=lambda n: n, member="PolicyNames", render=lambda n: n)

    return handler


for _word, (_kind, _param) in PRINCIPAL_WORDS.items():
    _boundary = _kind != "group"  # iam:PermissionsBoundary applies to users and roles
    operation("iam", f"Put{_word}Policy", resource=_target(_kind, _param, boundary_key=_boundary))(
        _put(_kind, _param)
    )
    operation("iam", f"Get{_word}Policy", resource=_target(_kind, _param), read_only=True)(
        _get(_kind, _word, _param)
    )
    operation(
        "iam", f"Delete{_word}Policy", resource=_target(_kind, _param, boundary_key=_boundary)
    )(_delete(_kind, _param))
    operation("iam", f"List{_word}Policies", resource=_target(_kind, _param), read_only=True)(
        _list(_kind, _param)
    )
