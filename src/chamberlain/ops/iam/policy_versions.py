"""Versions of managed policies: CreatePolicyVersion, GetPolicyVersion,
ListPolicyVersions, DeletePolicyVersion, SetDefaultPolicyVersion."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from chamberlain.domain import ManagedPolicy, PolicyVersion, joined
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import policy_target, require_customer_policy, require_policy
from chamberlain.ops.core.errors import DeleteConflict, LimitExceeded, NoSuchEntity
from chamberlain.ops.core.pagination import paginate
from chamberlain.ops.core.policy_documents import managed_document
from chamberlain.ops.core.registry import Output, Params, operation

MAX_VERSIONS = 5  # AWS's fixed quota: versions of one managed policy


@dataclass(frozen=True)
class _Version:
    version_id: str
    document: str
    created: dt.datetime
    is_default: bool

    @property
    def number(self) -> int:
        return int(self.version_id[1:].split(".", 1)[0])


def _versions(ctx: OpContext, arn: str) -> list[_Version]:
    """Every version of the policy at `arn` (AWS managed: its one version)."""
    policy = require_policy(ctx, arn)
    if not isinstance(policy, ManagedPolicy):
        return [_Version(policy.version_id, policy.document, policy.updated, True)]
    return [
        _Version(v.version_id, v.document, v.created, v.version_id == policy.default_version_id)
        for v in ctx.uow.repo(PolicyVersion).list(ctx.account_id, ref=policy.arn)
    ]


def _version_out(version: _Version, *, document: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "VersionId": version.version_id,
        "IsDefaultVersion": version.is_default,
        "CreateDate": version.created,
    }
    if document:
        out["Document"] = version.document
    return out


def _no_such_version(arn: str, version_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {arn} version {version_id} does not exist or is not attachable.")


def _stored_version(ctx: OpContext, policy: ManagedPolicy, version_id: str) -> PolicyVersion:
    version = ctx.uow.repo(PolicyVersion).get(ctx.account_id, joined(policy.arn, version_id))
    if version is None:
        raise _no_such_version(policy.arn, version_id)
    return version


@operation("iam", "CreatePolicyVersion", resource=policy_target)
def create_policy_version(ctx: OpContext, params: Params) -> Output:
    policy = require_customer_policy(ctx, params["PolicyArn"], "iam:CreatePolicyVersion")
    document = params["PolicyDocument"]
    managed_document(document)
    repo = ctx.uow.repo(PolicyVersion)
    if repo.count(ctx.account_id, ref=policy.arn) >= MAX_VERSIONS:
        raise LimitExceeded(
            f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create a "
            "new version, you must delete an existing version."
        )
    version_id = f"v{policy.next_version}"
    repo.add(
        PolicyVersion(
            account_id=ctx.account_id,
            policy_arn=policy.arn,
            version_id=version_id,
            document=document,
            created=ctx.now,
        )
    )
    default = bool(params.get("SetAsDefault"))
    ctx.uow.repo(ManagedPolicy).put(
        replace(
            policy,
            next_version=policy.next_version + 1,
            updated=ctx.now,
            default_version_id=version_id if default else policy.default_version_id,
        )
    )
    created = _Version(version_id, document, ctx.now, default)
    return {"PolicyVersion": _version_out(created, document=False)}


@operation("iam", "GetPolicyVersion", resource=policy_target, read_only=True)
def get_policy_version(ctx: OpContext, params: Params) -> Output:
    arn, version_id = params["PolicyArn"], params["VersionId"]
    for version in _versions(ctx, arn):
        if version.version_id == version_id:
            return {"PolicyVersion": _version_out(version, document=True)}
    raise _no_such_version(arn, version_id)


@operation("iam", "ListPolicyVersions", resource=policy_target, read_only=True)
def list_policy_versions(ctx: OpContext, params: Params) -> Output:
    """Newest first, as AWS lists them; documents are not included."""
    versions = sorted(_versions(ctx, params["PolicyArn"]), key=lambda v: -v.number)
    return paginate(
        params,
        versions,
        key=lambda v: f"{10**9 - v.number:010d}",
        member="Versions",
        render=lambda v: _version_out(v, document=False),
    )


@operation("iam", "DeletePolicyVersion", resource=policy_target)
def delete_policy_version(ctx: OpContext, params: Params) -> Output:
    policy = require_customer_policy(ctx, params["PolicyArn"], "iam:DeletePolicyVersion")
    version = _stored_version(ctx, policy, params["VersionId"])
    if version.version_id == policy.default_version_id:
        raise DeleteConflict("Cannot delete the default version of a policy.")
    ctx.uow.repo(PolicyVersion).delete(ctx.account_id, version.key)
    return None


@operation("iam", "SetDefaultPolicyVersion", resource=policy_target)
def set_default_policy_version(ctx: OpContext, params: Params) -> Output:
    policy = require_customer_policy(ctx, params["PolicyArn"], "iam:SetDefaultPolicyVersion")
    version = _stored_version(ctx, policy, params["VersionId"])
    ctx.uow.repo(ManagedPolicy).put(replace(policy, default_version_id=version.version_id))
    return None
