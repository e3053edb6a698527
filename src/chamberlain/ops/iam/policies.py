"""Managed policies: CreatePolicy, GetPolicy, DeletePolicy, ListPolicies and policy tags.

Customer managed policies are stored (ManagedPolicy + its PolicyVersions); AWS managed
policies are built in (aws_managed.py), read-only, and their usage counts in this
account are computed when they are read.
"""

from __future__ import annotations

import bisect
from collections import Counter
from typing import Any

from chamberlain.crypto.ids import Prefix, new_unique_id
from chamberlain.domain import SEP, Attachment, ManagedPolicy, PolicyVersion, Role, Tags, User
from chamberlain.ops.core.aws_managed import AWS_MANAGED, AwsManagedPolicy
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import (
    POLICIES,
    policy_target,
    require_customer_policy,
    require_policy,
)
from chamberlain.ops.core.errors import DeleteConflict
from chamberlain.ops.core.pagination import paginate_fetched, path_prefix_filter
from chamberlain.ops.core.policy_documents import managed_document
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.ops.core.tagging import tag_operations
from chamberlain.ops.core.tags import check_tag_count, creation_target, tags_in, tags_out

MAX_POLICIES = 1500  # AWS's default quota: customer managed policies per account

AnyPolicy = ManagedPolicy | AwsManagedPolicy
Usage = tuple[Counter[str], Counter[str]]  # (attachments, boundary uses) by policy ARN


def policy_arn(ctx: OpContext, name: str, path: str) -> str:
    return f"arn:{ctx.services.partition}:iam::{ctx.account_id}:policy{path}{name}"


def usage_counts(ctx: OpContext) -> Usage:
    """How often each policy is attached / used as a boundary in this account (for AWS
    managed policies, whose counters are not stored)."""
    attachments = Counter(a.policy_arn for a in ctx.uow.repo(Attachment).list(ctx.account_id))
    return attachments, _boundary_uses(ctx)


def counts_of(policy: AnyPolicy, usage: Usage | None) -> tuple[int, int]:
    if isinstance(policy, ManagedPolicy):
        return policy.attachment_count, policy.boundary_usage_count
    attachments, boundaries = usage or (Counter(), Counter())
    return attachments[policy.arn], boundaries[policy.arn]


def policy_out(policy: AnyPolicy, usage: Usage | None, *, detail: bool) -> dict[str, Any]:
    """The Policy shape; `detail` adds what only GetPolicy/CreatePolicy return
    (Description, Tags)."""
    attached, boundaries = counts_of(policy, usage)
    if isinstance(policy, ManagedPolicy):
        default, created, updated = policy.default_version_id, policy.created, policy.updated
        description, tags = policy.description, policy.tags
    else:
        default, created, updated = policy.version_id, policy.created, policy.updated
        description, tags = policy.description, ()
    out: dict[str, Any] = {
        "PolicyName": policy.name,
        "PolicyId": policy.policy_id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": default,
        "AttachmentCount": attached,
        "PermissionsBoundaryUsageCount": boundaries,
        "IsAttachable": True,
        "CreateDate": created,
        "UpdateDate": updated,
    }
    if detail and description:
        out["Description"] = description
    if detail and tags:
        out["Tags"] = tags_out(tags)
    return out


# ---------------------------------------------------------------------- create


def _create_target(ctx: OpContext, params: Params) -> Target:
    arn = policy_arn(ctx, params["PolicyName"], params.get("Path") or "/")
    return creation_target(arn, params, "iam:TagPolicy")


@operation("iam", "CreatePolicy", resource=_create_target)
def create_policy(ctx: OpContext, params: Params) -> Output:
    name, path = params["PolicyName"], params.get("Path") or "/"
    document = params["PolicyDocument"]
    tags = check_tag_count(tags_in(params.get("Tags")))
    managed_document(document)
    taken = f"A policy called {name} already exists. Duplicate names are not allowed."
    POLICIES.check_free(ctx, name.lower(), taken, "PoliciesPerAccount", MAX_POLICIES)
    policy = ManagedPolicy(
        account_id=ctx.account_id,
        policy_id=new_unique_id(Prefix.MANAGED_POLICY),
        name=name,
        path=path,
        arn=policy_arn(ctx, name, path),
        default_version_id="v1",
        created=ctx.now,
        updated=ctx.now,
        description=params.get("Description") or "",
        tags=tags,
    )
    ctx.uow.repo(ManagedPolicy).add(policy)
    ctx.uow.repo(PolicyVersion).add(
        PolicyVersion(
            account_id=ctx.account_id,
            policy_arn=policy.arn,
            version_id="v1",
            document=document,
            created=ctx.now,
        )
    )
    return {"Policy": policy_out(policy, None, detail=True)}


# ------------------------------------------------------------------ get / delete


@operation("iam", "GetPolicy", resource=policy_target, read_only=True)
def get_policy(ctx: OpContext, params: Params) -> Output:
    policy = require_policy(ctx, params["PolicyArn"])
    usage = None if isinstance(policy, ManagedPolicy) else usage_counts(ctx)
    return {"Policy": policy_out(policy, usage, detail=True)}


@operation("iam", "DeletePolicy", resource=policy_target)
def delete_policy(ctx: OpContext, params: Params) -> Output:
    policy = require_customer_policy(ctx, params["PolicyArn"], "iam:DeletePolicy")
    if policy.attachment_count or policy.boundary_usage_count:
        raise DeleteConflict("Cannot delete a policy attached to entities.")
    versions = ctx.uow.repo(PolicyVersion)
    existing = versions.list(ctx.account_id, ref=policy.arn)
    if len(existing) > 1:
        raise DeleteConflict(
            "This policy has more than one version. Before you delete a policy, you must "
            "delete the policy's versions. The default version is deleted with the policy."
        )
    for version in existing:
        versions.delete(ctx.account_id, version.key)
    ctx.uow.repo(ManagedPolicy).delete(ctx.account_id, policy.key)
    return None


# ------------------------------------------------------------------------ list


def _in_use(policy: AnyPolicy, usage: Usage | None, params: Params) -> bool:
    """OnlyAttached / PolicyUsageFilter: PermissionsBoundary keeps the policies used as a
    boundary, PermissionsPolicy (and OnlyAttached alone) those attached to a user,
    group or role."""
    attached, boundaries = counts_of(policy, usage)
    if params.get("PolicyUsageFilter") == "PermissionsBoundary":
        return boundaries > 0
    return attached > 0


def _list_target(ctx: OpContext, params: Params) -> Target:
    """AWS authorizes ListPolicies on a pseudo-resource, "policy path PREFIX" (so only
    Resource "*" grants it) and names it so in AccessDenied messages."""
    return Target(resource=f"policy path {params.get('PathPrefix') or '/'}")


@operation("iam", "ListPolicies", resource=_list_target, read_only=True)
def list_policies(ctx: OpContext, params: Params) -> Output:
    """Customer and AWS managed policies by name (Scope All/AWS/Local), PathPrefix,
    OnlyAttached, PolicyUsageFilter; paginated. No Description or Tags, as in AWS.

    A keyset page: the customer policies after the marker are read from the store (their
    names are their keys) and merged with the built-in AWS ones after it. Customer
    policies carry their usage counts; an AWS policy's attachments are counted by the
    store's index on the policy ARN, its uses as a boundary (rare, unindexed) once per
    call, and only when an AWS policy is on the page or filtered by usage."""
    scope = params.get("Scope") or "All"
    repo = ctx.uow.repo(ManagedPolicy)
    boundary_uses: list[Counter[str]] = []  # read at most once

    def usage_of(policy: AwsManagedPolicy) -> Usage:
        if not boundary_uses:
            boundary_uses.append(_boundary_uses(ctx))
        attached = ctx.uow.repo(Attachment).count(ctx.account_id, ref=policy.arn)
        return Counter({policy.arn: attached}), boundary_uses[0]

    def customer_after(after: str | None, limit: int) -> list[AnyPolicy]:
        if after is None:
            return [*repo.list(ctx.account_id, limit=limit)]
        name, _, arn = after.partition(SEP)
        found: list[AnyPolicy] = []
        same = repo.get(ctx.account_id, name)  # names are unique: one at most
        if same is not None and same.arn > arn:
            found.append(same)
        found.extend(repo.list(ctx.account_id, after=name, limit=limit))
        return found[:limit]

    def fetch(after: str | None, limit: int) -> list[AnyPolicy]:
        found: list[AnyPolicy] = []
        if scope in ("All", "Local"):
            found.extend(customer_after(after, limit))
        if scope in ("All", "AWS"):
            keys, ordered = _aws_ordered()
            start = 0 if after is None else bisect.bisect_right(keys, after)
            found.extend(ordered[start : start + limit])
        found.sort(key=_list_key)
        return found[:limit]

    usages: dict[str, Usage | None] = {}

    def usage(policy: AnyPolicy) -> Usage | None:
        if isinstance(policy, ManagedPolicy):
            return None
        if policy.arn not in usages:
            usages[policy.arn] = usage_of(policy)
        return usages[policy.arn]

    keep_path = path_prefix_filter(params)
    filtered = params.get("OnlyAttached") or params.get("PolicyUsageFilter")
    return paginate_fetched(
        params,
        fetch,
        key=_list_key,
        member="Policies",
        render=lambda p: policy_out(p, usage(p), detail=False),
        keep=lambda p: keep_path(p) and (not filtered or _in_use(p, usage(p), params)),
    )


def _boundary_uses(ctx: OpContext) -> Counter[str]:
    """How many users and roles of the account use each policy as their boundary."""
    uses: Counter[str] = Counter()
    kinds: tuple[type[User] | type[Role], ...] = (User, Role)
    for kind in kinds:
        for entity in ctx.uow.repo(kind).list(ctx.account_id):
            if entity.permissions_boundary:
                uses[entity.permissions_boundary] += 1
    return uses


_AWS_ORDER: list[tuple[list[str], list[AnyPolicy]]] = []


def _aws_ordered() -> tuple[list[str], list[AnyPolicy]]:
    """The AWS managed policies in listing order, and their listing keys (built once)."""
    if not _AWS_ORDER:
        ordered: list[AnyPolicy] = sorted(AWS_MANAGED.values(), key=_list_key)
        _AWS_ORDER.append(([_list_key(p) for p in ordered], ordered))
    return _AWS_ORDER[0]


def _list_key(policy: AnyPolicy) -> str:
    return f"{policy.name.lower()}{SEP}{policy.arn}"


# ------------------------------------------------------------------------ tags


def _shown_tags(ctx: OpContext, arn: str) -> Tags:
    """AWS managed policies carry no tags: their list is empty."""
    policy = require_policy(ctx, arn)
    return policy.tags if isinstance(policy, ManagedPolicy) else ()


tag_operations(POLICIES, "Policy", writable=require_customer_policy, shown=_shown_tags)
