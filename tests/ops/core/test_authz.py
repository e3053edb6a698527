"""The per-node cache of a caller's compiled policies covers every account they were read
from: a change to a managed policy of another account takes effect at once (issue 15)."""

from __future__ import annotations

import json
from functools import partial

import pytest

from chamberlain.domain import Attachment
from chamberlain.ops.core.context import Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import AccessDenied

from ..conftest import ACCOUNT, LOWER, meta, root_caller, user_caller


def _document(*actions: str) -> str:
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_a_change_to_another_accounts_policy_invalidates_the_cached_set(
    sql_services: Services,
) -> None:
    services = sql_services
    lower = partial(execute, services, root_caller(LOWER), meta(), "iam")
    own = partial(execute, services, root_caller(), meta(), "iam")
    shared = {"PolicyName": "shared", "PolicyDocument": _document("iam:GetUser")}
    made = lower("CreatePolicy", shared)
    arn = made["Policy"]["Arn"]
    alice = own("CreateUser", {"UserName": "alice"})["User"]
    # IAM attaches only the account's own policies; the data can still name another
    # account's (an import, a future sharing feature): the cache must not go stale then.
    with services.store.unit_of_work() as uow:
        uow.repo(Attachment).add(Attachment(ACCOUNT, "user", "alice", arn))
    caller = user_caller("alice", alice["UserId"])
    as_alice = partial(execute, services, caller)
    for _ in range(3):  # the first read meets LOWER; later ones are cached
        as_alice(meta(), "iam", "GetUser", {"UserName": "alice"})
    lower("CreatePolicyVersion", {"PolicyArn": arn, "SetAsDefault": True,
                                  "PolicyDocument": _document("iam:ListUsers")})  # fmt: skip
    with pytest.raises(AccessDenied):
        as_alice(meta(), "iam", "GetUser", {"UserName": "alice"})
    as_alice(meta(), "iam", "ListUsers", {})
    ((stamps, _part),) = services.cache["principal_policies"].values()
    assert {account for account, _ in stamps} == {ACCOUNT, LOWER}
    assert all(generation >= 0 for _, generation in stamps)
