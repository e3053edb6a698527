"""The dispatcher hands the entity its resolver read (to authorize the call) to the
handler, which takes it instead of reading the store a second time, once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chamberlain.domain import Group, User
from chamberlain.ops.core.context import OpContext, Services
from chamberlain.ops.core.dispatch import authorize_operation
from chamberlain.ops.core.entities import require_group, require_user
from chamberlain.ops.core.registry import lookup

from ..conftest import meta, root_caller


def test_the_resolved_entity_is_handed_to_the_handler_once(
    services: Services, iam: Callable[..., Any]
) -> None:
    iam("CreateUser", UserName="alice", Tags=[{"Key": "team", "Value": "a"}])
    iam("CreateGroup", GroupName="staff")
    op = lookup("iam", "TagUser")
    assert op is not None
    with services.store.unit_of_work() as uow:
        ctx = OpContext(caller=root_caller(), meta=meta(), uow=uow, services=services)
        authorize_operation(ctx, op, {"UserName": "ALICE", "Tags": []})
        resolved = ctx.resolved
        assert isinstance(resolved, User) and resolved.name == "alice"
        # Another kind or another name is read from the store; the resolved one stays.
        assert require_group(ctx, "staff") == uow.repo(Group).get(ctx.account_id, "staff")
        assert ctx.resolved is resolved
        assert require_user(ctx, "Alice") is resolved  # names are case-insensitive
        assert ctx.resolved is None  # taken once: a later lookup reads the store
        assert require_user(ctx, "alice") == resolved


def test_an_operation_on_a_missing_entity_resolves_nothing(services: Services) -> None:
    op = lookup("iam", "GetUser")
    assert op is not None
    with services.store.unit_of_work(read_only=True) as uow:
        ctx = OpContext(caller=root_caller(), meta=meta(), uow=uow, services=services)
        authorize_operation(ctx, op, {"UserName": "nobody"})
        assert ctx.resolved is None
