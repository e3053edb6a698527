"""IAM access keys: CreateAccessKey, UpdateAccessKey, DeleteAccessKey, ListAccessKeys,
GetAccessKeyLastUsed (core/authn.py records the use and decrypts the secret).

The secret access key is generated here, encrypted at rest with the operator's key
(bound to the key id, so a blob copied onto another row does not decrypt), and shown
exactly once, in CreateAccessKey's answer. Nothing else ever returns or logs it.

Also the helpers every per-user credential operation shares (access keys, signing
certificates, SSH keys, login profiles): an omitted UserName means the caller's own
credentials, which for the account root user are the root user's (`domain.ROOT`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chamberlain.crypto.ids import new_access_key_id, new_secret_access_key
from chamberlain.domain import ROOT, AccessKey
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import USERS, require_user
from chamberlain.ops.core.errors import InvalidInput, LimitExceeded, NoSuchEntity, ValidationError
from chamberlain.ops.core.pagination import paginate
from chamberlain.ops.core.registry import Output, Params, Target, compact, operation
from chamberlain.policy import PrincipalType

ACCESS_KEYS_PER_USER = 2
NOT_AVAILABLE = "N/A"
SETTABLE_STATUSES = ("Active", "Inactive")


# ------------------------------------------------------------------ shared helpers


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


def reject_unsupported(params: Params, *names: str) -> None:
    """Refuse newer AWS parameters this service does not implement, rather than
    silently ignoring a setting the caller asked for."""
    for name in names:
        if params.get(name) not in (None, False):
            raise InvalidInput(f"The parameter {name} is not supported.")


def check_settable_status(status: str) -> str:
    if status not in SETTABLE_STATUSES:
        raise InvalidInput(f"Invalid status {status}. The status must be Active or Inactive.")
    return status


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


def _key_not_found(key_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Access Key with id {key_id} cannot be found.")


def _owned_key(ctx: OpContext, owner: str, key_id: str) -> AccessKey:
    key = ctx.uow.repo(AccessKey).get(ctx.account_id, key_id)
    if key is None or key.user_name.lower() != owner.lower():
        raise _key_not_found(key_id)
    return key


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


@operation("iam", "UpdateAccessKey", resource=owner_target)
def update_access_key(ctx: OpContext, params: Params) -> Output:
    owner = credential_owner(ctx, params)
    status = check_settable_status(params["Status"])
    key = _owned_key(ctx, owner, params["AccessKeyId"])
    if key.status != status:
        ctx.uow.repo(AccessKey).put(replace(key, status=status))
    return None


@operation("iam", "DeleteAccessKey", resource=owner_target)
def delete_access_key(ctx: OpContext, params: Params) -> Output:
    owner = credential_owner(ctx, params)
    key = _owned_key(ctx, owner, params["AccessKeyId"])
    ctx.uow.repo(AccessKey).delete(ctx.account_id, key.access_key_id)
    return None


@operation("iam", "ListAccessKeys", resource=owner_target, read_only=True)
def list_access_keys(ctx: OpContext, params: Params) -> Output:
    owner = credential_owner(ctx, params)
    keys = ctx.uow.repo(AccessKey).list(ctx.account_id, ref=owner.lower())
    return paginate(
        params,
        keys,
        lambda k: k.access_key_id,
        member="AccessKeyMetadata",
        render=_metadata,
    )


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
        raise _key_not_found(key_id)
    last_used: dict[str, Any] = {
        "ServiceName": key.last_used_service or NOT_AVAILABLE,
        "Region": key.last_used_region or NOT_AVAILABLE,
    }
    if key.last_used is not None:
        last_used["LastUsedDate"] = key.last_used
    return compact({"UserName": user_name_out(key.user_name), "AccessKeyLastUsed": last_used})
