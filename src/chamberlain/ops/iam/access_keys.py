"""IAM access keys: CreateAccessKey, UpdateAccessKey, DeleteAccessKey, ListAccessKeys,
GetAccessKeyLastUsed (core/authn.py records the use and decrypts the secret).

The secret access key is generated here, encrypted at rest with the operator's key
(bound to the key id, so a blob copied onto another row does not decrypt), and shown
exactly once, in CreateAccessKey's answer. Nothing else ever returns or logs it.

Also `reject_unsupported`, for the newer AWS parameters this service does not take.
"""

from __future__ import annotations

from typing import Any

from chamberlain.crypto.ids import new_access_key_id, new_secret_access_key
from chamberlain.domain import ROOT, AccessKey
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import InvalidInput, LimitExceeded
from chamberlain.ops.core.registry import Output, Params, Target, compact, operation
from chamberlain.ops.iam.user_credentials import (
    OwnedKind,
    credential_owner,
    owned_operations,
    owner_target,
    user_name_out,
)

ACCESS_KEYS_PER_USER = 2
NOT_AVAILABLE = "N/A"


def reject_unsupported(params: Params, *names: str) -> None:
    """Refuse newer AWS parameters this service does not implement, rather than
    silently ignoring a setting the caller asked for."""
    for name in names:
        if params.get(name) not in (None, False):
            raise InvalidInput(f"The parameter {name} is not supported.")


# ------------------------------------------------------------------------ rendering


def _metadata(key: AccessKey) -> dict[str, Any]:
    return compact(
        {
            "UserName": user_name_out(key.user_name),
            "AccessKeyId": key.access_key_id,
            "Status": key.status,
            "CreateDate": key.created,
        }
    )


ACCESS_KEYS = OwnedKind(AccessKey, "AccessKeyId", "The Access Key with id {id} cannot be found.")


def _new_key_id(ctx: OpContext) -> str:
    """An access key id no account uses (ids are global: authentication looks them up)."""
    repo = ctx.uow.repo(AccessKey)
    while True:
        key_id = new_access_key_id()
        if repo.find(key_id) is None:
            return key_id


# ----------------------------------------------------------------------- operations


@operation("iam", "CreateAccessKey", resource=owner_target)
def create_access_key(ctx: OpContext, params: Params) -> Output:
    owner = credential_owner(ctx, params)
    repo = ctx.uow.repo(AccessKey)
    if repo.count(ctx.account_id, ref=owner.lower()) >= ACCESS_KEYS_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}")
    key_id = _new_key_id(ctx)
    secret = new_secret_access_key()
    key = AccessKey(
        account_id=ctx.account_id,
        user_name=owner,
        access_key_id=key_id,
        secret_encrypted=ctx.services.secrets.encrypt(secret.encode(), aad=key_id.encode()),
        status="Active",
        created=ctx.now,
    )
    repo.add(key)
    return {"AccessKey": {**_metadata(key), "SecretAccessKey": secret}}


owned_operations(ACCESS_KEYS, "AccessKey", listing=("AccessKeyMetadata", _metadata))


def _last_used_target(ctx: OpContext, params: Params) -> Target:
    """The key's owner (AWS authorizes GetAccessKeyLastUsed on the user resource)."""
    key = ctx.uow.repo(AccessKey).get(ctx.account_id, params["AccessKeyId"])
    if key is None:
        return Target(ctx.caller.arn)
    if key.user_name == ROOT:
        return Target(f"arn:{ctx.services.partition}:iam::{ctx.account_id}:root")
    return owner_target(ctx, {"UserName": key.user_name})


@operation("iam", "GetAccessKeyLastUsed", resource=_last_used_target, read_only=True)
def get_access_key_last_used(ctx: OpContext, params: Params) -> Output:
    key_id = params["AccessKeyId"]
    key = ctx.uow.repo(AccessKey).get(ctx.account_id, key_id)
    if key is None:
        raise ACCESS_KEYS.not_found(key_id)
    last_used: dict[str, Any] = {
        "ServiceName": key.last_used_service or NOT_AVAILABLE,
        "Region": key.last_used_region or NOT_AVAILABLE,
    }
    if key.last_used is not None:
        last_used["LastUsedDate"] = key.last_used
    return compact({"UserName": user_name_out(key.user_name), "AccessKeyLastUsed": last_used})
