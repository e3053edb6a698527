"""Authentication's bookkeeping: the access key's last use, written sparingly and never
backwards (what GetAccessKeyLastUsed reports; the e2e tests sign real requests)."""

from __future__ import annotations

import datetime as dt
from functools import partial

import pytest

from chamberlain.crypto.sigv4 import CredentialScope, SigningInput, format_amz_date, sha256_hex
from chamberlain.domain import AccessKey
from chamberlain.ops.core.authn import (
    SignedRequest,
    authenticate,
    authenticate_in,
    record_key_use,
)
from chamberlain.ops.core.context import Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import InvalidClientTokenId
from chamberlain.store.scopes import principal_scope

from ..conftest import ACCOUNT, NOW, meta, root_caller


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


def _signed(key_id: str, secret: str, now: dt.datetime) -> SignedRequest:
    """A GetUser-like request to IAM signed with the key (SigV4, as a client signs)."""
    signing = SigningInput(
        method="POST",
        path="/",
        query="",
        headers=[("host", "localhost"), ("x-amz-date", format_amz_date(now))],
        payload_hash=sha256_hex(b""),
        signed_headers=("host", "x-amz-date"),
        scope=CredentialScope(now.strftime("%Y%m%d"), "us-east-1", "iam"),
        request_datetime=now,
    )
    return SignedRequest(key_id, signing.signature(secret), signing)


def test_a_keys_last_use_keeps_every_cache_valid(sql_services: Services) -> None:
    """Recording a key's last use changes no authorization input: the key's account keeps
    its generation, so no node reloads its cached keys and policy sets (issue 15)."""
    services = sql_services
    as_root = partial(execute, services, root_caller(), meta())
    as_root("iam", "CreateUser", {"UserName": "alice"})
    made = as_root("iam", "CreateAccessKey", {"UserName": "alice"})["AccessKey"]
    key_id, secret = made["AccessKeyId"], made["SecretAccessKey"]
    alice = principal_scope(ACCOUNT, "user", "alice")
    with services.store.unit_of_work(read_only=True) as uow:
        before = (uow.generation(ACCOUNT), uow.generation(alice))

    def use(now: dt.datetime, read_only: bool | None) -> None:
        signed = _signed(key_id, secret, now)
        if read_only is None:  # on its own
            authenticate(services, signed, now=now, service="iam", region="us-east-1")
            return
        with services.store.unit_of_work(read_only=read_only) as uow:
            authenticate_in(uow, services, signed, read_only=read_only, now=now,
                            service="iam", region="us-east-1")  # fmt: skip

    for minutes, read_only in ((0, None), (2, True), (4, False)):
        now = NOW + dt.timedelta(minutes=minutes)
        use(now, read_only)
        with services.store.unit_of_work(read_only=True) as uow:
            stored = uow.repo(AccessKey).get(ACCOUNT, key_id)
            assert stored is not None and stored.last_used == now
            assert (uow.generation(ACCOUNT), uow.generation(alice)) == before
    cached = services.cache["access_keys"][key_id]
    assert cached.stamps == before  # loaded once, never invalidated
    assert cached.key.last_used == NOW + dt.timedelta(minutes=4)
    # a real change still invalidates
    as_root("iam", "UpdateAccessKey", {"UserName": "alice", "AccessKeyId": key_id,
                                       "Status": "Inactive"})  # fmt: skip
    with pytest.raises(InvalidClientTokenId):
        use(NOW + dt.timedelta(minutes=5), True)
