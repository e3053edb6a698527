"""Managed policies: CreatePolicy, GetPolicy, DeletePolicy, ListPolicies and policy tags.

Customer managed policies are stored (ManagedPolicy + its PolicyVersions); AWS managed
policies are built in (aws_managed.py), read-only, and their usage counts in this
account are counted, when they are read, on the indexes by policy ARN (Attachment and
BoundaryUse rows).
"""

from __future__ import annotations

import bisect
from typing import Any

from chamberlain.crypto.ids import Prefix, new_unique_id
from chamberlain.domain import SEP, Attachment, BoundaryUse, ManagedPolicy, PolicyVersion, Tags
from chamberlain.ops.core.aws_managed import ARN_PREFIX, AWS_MANAGED, AwsManagedPolicy
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
Counts = tuple[int, int]  # (AttachmentCount, PermissionsBoundaryUsageCount)


def policy_arn(ctx: OpContext, name: str, path: str) -> str:
    return f"arn:{ctx.services.partition}:iam::{ctx.account_id}:policy{path}{name}"


def counts_of(ctx: OpContext, policy: AnyPolicy) -> Counts:
    """A customer policy's stored counters; an AWS managed policy's two counts on the
    indexes by its ARN (its counters are not stored: it is no entity of the account)."""
    if isinstance(policy, ManagedPolicy):
        return policy.attachment_count, policy.boundary_usage_count
    return (
        ctx.uow.repo(Attachment).count(ctx.account_id, ref=policy.arn),
        ctx.uow.repo(BoundaryUse).count(ctx.account_id, ref=policy.arn),
    )


def aws_in_use(ctx: OpContext) -> dict[str, Counts]:
    """The counts of every AWS managed policy attached or used as a boundary in this
    account (absent: neither), with one grouped read of each index: of its AWS managed
    part only (their ARNs share a prefix), so no customer policy's links are read."""
    attached = ctx.uow.repo(Attachment).count_by_ref(ctx.account_id, ref_prefix=ARN_PREFIX)
    bounding = ctx.uow.repo(BoundaryUse).count_by_ref(ctx.account_id, ref_prefix=ARN_PREFIX)
    used = attached.keys() | bounding.keys()
    return {arn: (attached.get(arn, 0), bounding.get(arn, 0)) for arn in used}


def policy_out(policy: AnyPolicy, counts: Counts, *, detail: bool) -> dict[str, Any]:
    """The Policy shape; `detail` adds what only GetPolicy/CreatePolicy return
    (Description, Tags)."""
    attached, boundaries = counts
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
    return {"Policy": policy_out(policy, (0, 0), detail=True)}


# ------------------------------------------------------------------ get / delete


@operation("iam", "GetPolicy", resource=policy_target, read_only=True)
def get_policy(ctx: OpContext, params: Params) -> Output:
    policy = require_policy(ctx, params["PolicyArn"])
    return {"Policy": policy_out(policy, counts_of(ctx, policy), detail=True)}


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


def _in_use(counts: Counts, params: Params) -> bool:
    """OnlyAttached / PolicyUsageFilter: PermissionsBoundary keeps the policies used as a
    boundary, PermissionsPolicy (and OnlyAttached alone) those attached to a user,
    group or role."""
    attached, boundaries = counts
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
    policies carry their usage counts. The AWS policies in use and their counts are read
    once per call (`aws_in_use`: two grouped reads, whatever the page or the account's
    size), when the first AWS policy is listed or, filtered by usage, before: then only
    those are merged, with no batch of built-in policies (there are over a thousand) read
    only to be filtered out."""
    scope = params.get("Scope") or "All"
    repo = ctx.uow.repo(ManagedPolicy)
    filtered = bool(params.get("OnlyAttached") or params.get("PolicyUsageFilter"))
    in_use: dict[str, Counts] | None = None
    aws_keys: list[str] = []
    aws_listed: list[AnyPolicy] = []  # the AWS policies listed, in order (Local: none)
    if scope in ("All", "AWS") and filtered:
        in_use = aws_in_use(ctx)
        aws_keys, aws_listed = _aws_kept(in_use, params)
    elif scope in ("All", "AWS"):
        aws_keys, aws_listed = _aws_ordered()

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
        start = 0 if after is None else bisect.bisect_right(aws_keys, after)
        found.extend(aws_listed[start : start + limit])
        found.sort(key=_list_key)
        return found[:limit]

    def counts(policy: AnyPolicy) -> Counts:
        nonlocal in_use
        if isinstance(policy, AwsManagedPolicy):
            if in_use is None:  # the first AWS policy of the page: its counts, read once
                in_use = aws_in_use(ctx)
            return in_use.get(policy.arn, (0, 0))
        return counts_of(ctx, policy)

    keep_path = path_prefix_filter(params)
    return paginate_fetched(
        params,
        fetch,
        key=_list_key,
        member="Policies",
        render=lambda p: policy_out(p, counts(p), detail=False),
        keep=lambda p: keep_path(p) and (not filtered or _in_use(counts(p), params)),
    )


def _aws_kept(in_use: dict[str, Counts], params: Params) -> tuple[list[str], list[AnyPolicy]]:
    """The AWS managed policies a usage filter keeps, in listing order, and their keys."""
    kept: list[AnyPolicy] = sorted(
        (
            AWS_MANAGED[arn]
            for arn, counts in in_use.items()
            if arn in AWS_MANAGED and _in_use(counts, params)
        ),
        key=_list_key,
    )
    return [_list_key(p) for p in kept], kept


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
