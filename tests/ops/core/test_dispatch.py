"""The dispatcher hands the entity its resolver read (to authorize the call) to the
handler, which takes it instead of reading the store a second time, once; and takes
account locks in order (a call that asked out of order runs again)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from chamberlain.domain import Group, User
from chamberlain.ops.core.context import Caller, OpContext, Services
from chamberlain.ops.core.dispatch import authorize_operation, execute_request
from chamberlain.ops.core.entities import require_group, require_user
from chamberlain.ops.core.registry import lookup
from chamberlain.store.api import UnitOfWork

from ..conftest import ACCOUNT, LOWER, NOW, meta, root_caller


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


def test_a_lock_asked_out_of_order_restarts_the_call_instead_of_deadlocking(
    sql_services: Services,
) -> None:
    """A call whose unit of work locked a later account first (as authentication does
    when it notes a key's use) and then locks its own, earlier one, while other writers
    lock both in order: on PostgreSQL the store refuses to wait out of order (LockOrder)
    and dispatch runs the call again with every lock taken in order; no deadlock, every
    call done once (SQLite has one writer at a time: the same calls just queue)."""
    services = sql_services
    rounds = 12
    errors: list[BaseException] = []

    def authenticate(uow: UnitOfWork) -> Caller:
        if not uow.read_only:
            uow.lock_account(ACCOUNT)  # the later account, first
            time.sleep(0.005)
        return root_caller(LOWER)

    def out_of_order() -> None:
        try:
            for n in range(rounds):
                execute_request(services, meta(), "iam", "CreateUser", authenticate,
                                lambda n=n: {"UserName": f"late{n}"})  # fmt: skip
        except BaseException as e:  # reported below
            errors.append(e)

    def in_order() -> None:
        try:
            for n in range(rounds):
                with services.store.unit_of_work() as uow:
                    for account in (LOWER, ACCOUNT):
                        uow.lock_account(account)
                        time.sleep(0.005)
                    name = f"early{n}"
                    arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
                    uow.repo(User).add(User(ACCOUNT, f"AIDAEARLY{n:011d}", name, "/", arn, NOW))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=f, daemon=True) for f in (out_of_order, in_order)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    with services.store.unit_of_work(read_only=True) as uow:
        assert len(uow.repo(User).list(LOWER)) == rounds
        assert len(uow.repo(User).list(ACCOUNT)) == rounds
        assert len(list(uow.events.iterate(LOWER))) == rounds  # each call recorded once
