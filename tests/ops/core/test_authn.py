"""Authentication's bookkeeping: the access key's last use, written sparingly and never
backwards (what GetAccessKeyLastUsed reports; the e2e tests sign real requests)."""

from __future__ import annotations

import datetime as dt

from chamberlain.domain import AccessKey
from chamberlain.ops.core.authn import record_key_use
from chamberlain.ops.core.context import Services

from ..conftest import ACCOUNT, NOW


def test_record_key_use_writes_sparingly(services: Services):
    key = AccessKey(ACCOUNT, "alice", "AKIAAAAAAAAAAAAAAAAA", b"x", "Active", NOW)
    with services.store.unit_of_work() as uow:
        uow.repo(AccessKey).add(key)
        first = record_key_use(uow, key, NOW, "iam", "us-east-1")
        assert first.last_used == NOW
        soon = record_key_use(uow, first, NOW + dt.timedelta(seconds=30), "iam", "us-east-1")
        assert soon is first  # nothing written
        moved = record_key_use(uow, first, NOW + dt.timedelta(seconds=30), "sts", "us-east-1")
        assert moved.last_used_service == "sts"
        earlier = record_key_use(uow, moved, NOW - dt.timedelta(minutes=5), "sts", "us-east-1")
        assert earlier is moved  # a node with a slow clock does not move it back
        later = record_key_use(uow, moved, NOW + dt.timedelta(minutes=5), "sts", "us-east-1")
        assert later.last_used == NOW + dt.timedelta(minutes=5)
        assert uow.repo(AccessKey).get(ACCOUNT, key.access_key_id) == later
