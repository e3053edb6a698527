"""ListUsers, ListGroups, ListRoles, ListInstanceProfiles, ListServerCertificates: an
account's entities of one kind whose path starts with PathPrefix, paginated by key (a keyset
page: only the entities after the marker are read, see `paginate_keyset`), and
authorized, as AWS does, on the path prefix itself (arn:aws:iam::ACCOUNT:user/PREFIX).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from chamberlain.ops.core.arns import iam_arn
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.pagination import paginate_keyset, path_filter
from chamberlain.ops.core.registry import Output, Params, Target, operation


class _Listed(Protocol):
    @property
    def path(self) -> str: ...

    @property
    def key(self) -> str: ...


L = TypeVar("L", bound=_Listed)


def path_list_operation(
    name: str,
    entity: type[L],
    arn_kind: str,
    member: str,
    render: Callable[[OpContext, L], Any],
) -> None:
    """Register `name` (e.g. "ListUsers") listing `entity` under the request's PathPrefix."""

    def target(ctx: OpContext, params: Params) -> Target:
        return Target(resource=iam_arn(ctx, arn_kind, "", params.get("PathPrefix") or "/"))

    def handler(ctx: OpContext, params: Params) -> Output:
        return paginate_keyset(
            params,
            ctx.uow.repo(entity),
            ctx.account_id,
            member=member,
            render=lambda e: render(ctx, e),
            keep=path_filter(params),
        )

    operation("iam", name, resource=target, read_only=True)(handler)
