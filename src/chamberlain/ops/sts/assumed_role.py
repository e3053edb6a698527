"""The assumed-role pipeline AssumeRole, AssumeRoleWithSAML and AssumeRoleWithWebIdentity
share once each has read its own input: the trust decision (every action the session
needs, allowed by the role's trust policy), then issuing the role session (its ARN and
id, the credentials, the role's last use, AssumedRoleUser and PackedPolicySize).

What differs between them stays with each operation: who the caller is, which identity
provider vouches for it and which condition keys that provider adds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from chamberlain.domain import Role, Tags
from chamberlain.ops.core import authz
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import ValidationError
from chamberlain.ops.core.tags import resource_tag_context
from chamberlain.ops.iam import trust_principals
from chamberlain.ops.sts.sessions import NewSession, issue_credentials
from chamberlain.policy import (
    Applicable,
    CompiledPolicy,
    PolicyType,
    Principal,
    PrincipalType,
    Request,
    evaluate,
)
from chamberlain.policy import MalformedPolicyDocument as PolicyMalformed
from chamberlain.policy.request import ContextValue


def role_resource_context(role: Role) -> dict[str, ContextValue]:
    """The role's tags as the actions on it see them when it is assumed:
    aws:ResourceTag/KEY (the STS `role` resource type in AWS's Service Authorization
    Reference) and iam:ResourceTag/KEY (AWS's "IAM: Assume roles that have a specific tag"
    example), so attribute-based role assumption works in identity and trust policies."""
    return resource_tag_context(role.tags, iam_keys=True)


def compiled_trust(ctx: OpContext, role: Role) -> CompiledPolicy | None:
    """The role's trust policy, compiled (None when it no longer parses: it allows nothing)."""
    try:
        return authz.compiled(
            ctx, (role.arn, trust_principals.evaluated_text(ctx, role)), PolicyType.TRUST
        )
    except PolicyMalformed:
        return None


def federated_trust_allows(
    ctx: OpContext,
    role: Role,
    principal_type: PrincipalType,
    provider_arn: str,
    action: str,
    context: dict[str, ContextValue],
) -> bool:
    """May the federated user of a provider (SAML, OIDC) do `action` on `role`? The trust
    policy alone decides, as the resource policy with require_resource_allow (as for
    AssumeRole): a federated user has no ARN and no identity policies of its own."""
    trust = compiled_trust(ctx, role)
    if trust is None:
        return False
    applicable = Applicable(
        resource=trust, resource_account=role.account_id, require_resource_allow=True
    )
    principal = Principal(
        arn="", account=role.account_id, type=principal_type, federated_provider=provider_arn
    )
    return evaluate(Request(principal, action, role.arn, context), applicable).allowed


def federated_request_context(ctx: OpContext, provider_arn: str) -> dict[str, ContextValue]:
    """The global condition keys of an unsigned request vouched for by a provider."""
    meta = ctx.meta
    context: dict[str, ContextValue] = {
        "aws:CurrentTime": meta.now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": int(meta.now.timestamp()),
        "aws:SourceIp": meta.source_ip,
        "aws:SecureTransport": meta.secure_transport,
        "aws:RequestedRegion": meta.region,
        "aws:FederatedProvider": provider_arn,
    }
    if meta.user_agent:
        context["aws:UserAgent"] = meta.user_agent
    return context


def session_request_context(
    tags: Tags, transitive: tuple[str, ...], source_identity: str | None
) -> dict[str, ContextValue]:
    """aws:RequestTag/*, aws:TagKeys, sts:TransitiveTagKeys and sts:SourceIdentity of a
    session that asks for them."""
    context: dict[str, ContextValue] = {}
    if tags:
        context.update({f"aws:RequestTag/{k}": v for k, v in tags})
        context["aws:TagKeys"] = [k for k, _ in tags]
    if transitive:
        context["sts:TransitiveTagKeys"] = list(transitive)
    if source_identity:
        context["sts:SourceIdentity"] = source_identity
    return context


def require_trust(
    first: str,
    *,
    role: Role,
    context: Mapping[str, ContextValue],
    tagging: bool,
    source_identity: bool,
    allows: Callable[[str, dict[str, ContextValue]], bool],
    refuse: Callable[[str], Exception],
) -> None:
    """The role's trust policy must allow `first` (sts:AssumeRole...), and sts:TagSession
    for a session with tags, and sts:SetSourceIdentity for one with a source identity;
    the first action refused raises `refuse(action)`. Each is asked with `context` and
    the role's tags (`role_resource_context`)."""
    needed = [first]
    if tagging:
        needed.append("sts:TagSession")
    if source_identity:
        needed.append("sts:SetSourceIdentity")
    full: dict[str, ContextValue] = {**role_resource_context(role), **context}
    for action in needed:
        if not allows(action, full):
            raise refuse(action)


def check_duration(role: Role, duration: int) -> None:
    if duration > role.max_session_duration:
        raise ValidationError(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )


@dataclass(frozen=True)
class RoleSession:
    """A role session every check has passed for."""

    role: Role
    session_name: str
    duration: int
    tags: Tags = ()
    transitive_tag_keys: tuple[str, ...] = ()
    source_identity: str | None = None
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    packed_size: int | None = None
    mfa_authenticated: bool = False
    mfa_authenticated_at: dt.datetime | None = None
    chained: bool = False
    federated_provider: str | None = None
    extra_context: Mapping[str, ContextValue] | None = None


def issue_role_session(ctx: OpContext, session: RoleSession) -> dict[str, Any]:
    """Issue the session's credentials, note the role's last use, and answer with
    Credentials, AssumedRoleUser, PackedPolicySize and SourceIdentity (each operation adds
    what its provider says)."""
    role, name = session.role, session.session_name
    partition = ctx.services.partition
    session_arn = f"arn:{partition}:sts::{role.account_id}:assumed-role/{role.name}/{name}"
    assumed_id = f"{role.role_id}:{name}"
    credentials = issue_credentials(
        ctx,
        NewSession(
            account_id=role.account_id,
            arn=session_arn,
            principal_id=assumed_id,
            principal_type=PrincipalType.ASSUMED_ROLE,
            issuer_arn=role.arn,
            issuer_id=role.role_id,
            duration_s=session.duration,
            mfa_authenticated=session.mfa_authenticated,
            mfa_authenticated_at=session.mfa_authenticated_at,
            session_name=name,
            tags=session.tags,
            transitive_tag_keys=session.transitive_tag_keys,
            source_identity=session.source_identity,
            session_policy=session.policy,
            session_policy_arns=session.policy_arns,
            federated_provider=session.federated_provider,
            chained=session.chained,
            extra_context=session.extra_context,
        ),
    )
    # Usage data, no authorization input: `touch` bumps no generation, so assuming a role
    # leaves every node's cached policies of the role's sessions valid.
    ctx.uow.repo(Role).touch(replace(role, last_used=ctx.now, last_used_region=ctx.meta.region))
    out: dict[str, Any] = {
        "Credentials": credentials,
        "AssumedRoleUser": {"AssumedRoleId": assumed_id, "Arn": session_arn},
    }
    if session.packed_size is not None:
        out["PackedPolicySize"] = session.packed_size
    if session.source_identity:
        out["SourceIdentity"] = session.source_identity
    return out
