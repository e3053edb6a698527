"""May they: gather the policies that apply to a caller, fill the request context, and ask
the policy engine. The only place authorization decisions are made for API calls (the
simulator and the authorization endpoint call `decide` too).

Compiled policies are cached by (policy id, SHA-256 of the text): a new policy version
is new text, so the cache needs no invalidation, and every node may keep its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from chamberlain.domain import (
    Attachment,
    InlinePolicy,
    ManagedPolicy,
    Membership,
    PolicyVersion,
    Role,
    User,
    joined,
)
from chamberlain.ops.core.aws_managed import AWS_MANAGED
from chamberlain.ops.core.context import Caller, OpContext, note_cache
from chamberlain.ops.core.errors import AccessDenied
from chamberlain.policy import (
    CompiledPolicy,
    Decision,
    PolicySet,
    PolicyType,
    Principal,
    PrincipalType,
    Request,
    compile_policy,
    evaluate,
    parse_policy,
)
from chamberlain.policy.inputs import Applicable
from chamberlain.policy.request import ContextValue
from chamberlain.store.scopes import principal_scope

NamedText = tuple[str, str]  # (policy id for reports, JSON text)
_CACHE_LIMIT = 10_000
#: A federated session of the root user: the root's own (unlimited) permissions.
_ALLOW_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'


# ------------------------------------------------------------------ policy documents


def managed_policy_text(ctx: OpContext, arn: str, read: set[str] | None = None) -> str | None:
    """The default version's document of a managed policy (AWS's or the account's);
    `read` collects the accounts whose data it read (none for AWS's)."""
    builtin = AWS_MANAGED.get(arn)
    if builtin is not None:
        return builtin.document
    account = arn.split(":")[4] if arn.count(":") >= 5 else ""
    if read is not None:
        read.add(account)
    for policy in ctx.uow.repo(ManagedPolicy).find_by_ref(arn):
        if policy.account_id == account:
            version = ctx.uow.repo(PolicyVersion).get(
                account, joined(arn, policy.default_version_id)
            )
            return version.document if version else None
    return None


def principal_policies(
    ctx: OpContext, kind: str, name: str, read: set[str] | None = None
) -> list[NamedText]:
    """Inline then attached managed policies of one user, group or role (`read`: as for
    managed_policy_text)."""
    account = ctx.account_id
    prefix = joined(kind, name.lower(), "")
    texts: list[NamedText] = [
        (p.policy_name, p.document)
        for p in ctx.uow.repo(InlinePolicy).list(account, key_prefix=prefix)
    ]
    for attachment in ctx.uow.repo(Attachment).list(account, key_prefix=prefix):
        text = managed_policy_text(ctx, attachment.policy_arn, read)
        if text is not None:
            texts.append((attachment.policy_arn, text))
    return texts


def user_identity_policies(
    ctx: OpContext, user_name: str, read: set[str] | None = None
) -> list[NamedText]:
    texts = principal_policies(ctx, "user", user_name, read)
    for membership in ctx.uow.repo(Membership).list(ctx.account_id, ref=user_name.lower()):
        texts.extend(principal_policies(ctx, "group", membership.group_name, read))
    return texts


# -------------------------------------------------------------------- compile cache


def compiled(ctx: OpContext, named: NamedText, kind: PolicyType) -> CompiledPolicy:
    policy_id, text = named
    digest = hashlib.sha256(text.encode()).hexdigest()
    cache: dict[Any, CompiledPolicy] = ctx.services.cache.setdefault("compiled", {})
    key = (policy_id, kind, digest)
    hit = cache.get(key)
    note_cache(ctx.services, "compiled_policies", hit is not None)
    if hit is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        hit = cache[key] = compile_policy(parse_policy(text, kind), policy_id)
    return hit


# ------------------------------------------------------------------------- context


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def base_context(
    ctx: OpContext, caller: Caller, tags: Iterable[tuple[str, str]]
) -> dict[str, ContextValue]:
    """The global condition keys every request carries."""
    meta = ctx.meta
    context: dict[str, ContextValue] = {
        "aws:CurrentTime": _iso(meta.now),
        "aws:EpochTime": int(meta.now.timestamp()),
        "aws:SourceIp": meta.source_ip,
        "aws:SecureTransport": meta.secure_transport,
        "aws:PrincipalArn": caller.arn,
        "aws:PrincipalAccount": caller.account_id,
        "aws:PrincipalType": caller.type.value,
        "aws:userid": caller.principal_id,
        "aws:RequestedRegion": meta.region,
    }
    if meta.user_agent:
        context["aws:UserAgent"] = meta.user_agent
    if caller.type is PrincipalType.USER and caller.user_name:
        context["aws:username"] = caller.user_name
    session = caller.session
    if session is not None:
        context["aws:TokenIssueTime"] = _iso(session.issued)
        context["aws:MultiFactorAuthPresent"] = session.mfa_authenticated
        if session.mfa_authenticated_at is not None:
            age = int((meta.now - session.mfa_authenticated_at).total_seconds())
            context["aws:MultiFactorAuthAge"] = max(age, 0)
        if session.source_identity:
            context["aws:SourceIdentity"] = session.source_identity
        if session.federated_provider:
            context["aws:FederatedProvider"] = session.federated_provider
        context.update(session.extra_context)
    elif caller.type is not PrincipalType.ROOT or caller.access_key_id:
        # Long-term access keys: the key is not MFA-authenticated (AWS sets the key to
        # false only for long-term credentials; aws:MultiFactorAuthAge is absent).
        context["aws:MultiFactorAuthPresent"] = False
    for key, value in tags:
        context[f"aws:PrincipalTag/{key}"] = value
    return context


# --------------------------------------------------------------------------- decide


def caller_principal(caller: Caller) -> Principal:
    issuer = caller.session.issuer_arn if caller.session else None
    return Principal(arn=caller.arn, account=caller.account_id, type=caller.type, issuer_arn=issuer)


#: What a principal's own policies come to: identity policies, boundary, principal tags.
_PrincipalPart = tuple[
    tuple[CompiledPolicy, ...], CompiledPolicy | None, tuple[tuple[str, str], ...]
]


#: A cached principal part: the generation of every scope its data came from.
_Cached = tuple[tuple[tuple[str, int], ...], _PrincipalPart]
#: Never a store's generation (>= 0, or -1 while changed in the unit of work).
_UNREAD = -2


def _own_scope(caller: Caller) -> str | None:
    """The generation scope (store/scopes.py) of the user or role whose policies, boundary
    and tags the caller's are: its own row, inline and attached policies, memberships."""
    session = caller.session
    if caller.type is PrincipalType.USER and caller.user_name:
        return principal_scope(caller.account_id, "user", caller.user_name)
    if session is None:
        return None
    name = session.issuer_arn.rsplit("/", 1)[-1]
    if caller.type is PrincipalType.ASSUMED_ROLE:
        return principal_scope(caller.account_id, "role", name)
    if caller.type is PrincipalType.FEDERATED_USER and not session.issuer_arn.endswith(":root"):
        return principal_scope(caller.account_id, "user", name)
    return None


def _principal_part(ctx: OpContext, caller: Caller) -> _PrincipalPart:
    """The caller's principal's compiled policies and tags, cached per node while the
    generation (store/api.py) of every scope they were read from is unchanged: the
    principal's own (its row, policies, memberships), its account's (managed policies,
    groups' policies), and any other account's whose managed policy went into them.
    Generations are read first, so a change committed while the policies are read
    leaves a newer generation, never stale policies under it. Another account is only
    known once the policies are read: the first read that meets it is not cached, and
    the next one reads its generation first."""
    session = caller.session
    who = (
        caller.account_id,
        caller.type,
        caller.user_name,
        session.issuer_arn if session else None,
        session.issuer_id if session else None,
    )
    if caller.account_id != ctx.account_id:  # read in another account's context: no cache
        return _read_principal_part(ctx, caller, set())
    cache: dict[Any, _Cached] = ctx.services.cache.setdefault("principal_policies", {})
    generation = ctx.uow.generation
    hit = cache.get(who)
    if hit is not None and all(g >= 0 and generation(a) == g for a, g in hit[0]):
        note_cache(ctx.services, "principal_policies", True)
        return hit[1]
    note_cache(ctx.services, "principal_policies", False)
    own = _own_scope(caller)
    scopes = {caller.account_id} if own is None else {caller.account_id, own}
    known = scopes | {a for a, _ in hit[0]} if hit is not None else scopes
    before = {scope: generation(scope) for scope in sorted(known)}
    read = {caller.account_id}
    part = _read_principal_part(ctx, caller, read)
    read.discard("")
    read |= scopes
    if all(before.get(scope, 0) >= 0 for scope in read):
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        stamps = tuple((a, before.get(a, _UNREAD)) for a in sorted(read))
        cache[who] = (stamps, part)
    return part


def _read_principal_part(ctx: OpContext, caller: Caller, read: set[str]) -> _PrincipalPart:
    repo_user, repo_role = ctx.uow.repo(User), ctx.uow.repo(Role)
    identity: list[NamedText] = []
    boundary_arn: str | None = None
    tags: list[tuple[str, str]] = []
    if caller.type is PrincipalType.USER and caller.user_name:
        user = repo_user.get(caller.account_id, caller.user_name.lower())
        if user is not None:
            identity = user_identity_policies(ctx, user.name, read)
            boundary_arn = user.permissions_boundary
            tags = list(user.tags)
    elif caller.type is PrincipalType.ASSUMED_ROLE and caller.session is not None:
        role_name = caller.session.issuer_arn.rsplit("/", 1)[-1]
        role = repo_role.get(caller.account_id, role_name.lower())
        # A role deleted and re-created under the same name is another role: its old
        # sessions get nothing from the new one.
        if role is not None and role.role_id == caller.session.issuer_id:
            identity = principal_policies(ctx, "role", role.name, read)
            boundary_arn = role.permissions_boundary
            tags = list(role.tags)
    elif caller.type is PrincipalType.FEDERATED_USER and caller.session is not None:
        issuer = caller.session.issuer_arn
        if issuer.endswith(":root"):
            identity = [("root", _ALLOW_ALL)]
        else:
            user = repo_user.get(caller.account_id, issuer.rsplit("/", 1)[-1].lower())
            if user is not None and user.user_id == caller.session.issuer_id:
                identity = user_identity_policies(ctx, user.name, read)
                boundary_arn = user.permissions_boundary
                tags = list(user.tags)
    boundary = None
    if boundary_arn:
        text = managed_policy_text(ctx, boundary_arn, read)
        if text is not None:
            boundary = compiled(ctx, (boundary_arn, text), PolicyType.BOUNDARY)
    return (
        tuple(compiled(ctx, n, PolicyType.IDENTITY) for n in identity),
        boundary,
        tuple(tags),
    )


def caller_policy_set(ctx: OpContext, caller: Caller) -> tuple[PolicySet, list[tuple[str, str]]]:
    """The caller's identity policies, boundary and session policies, compiled; and the
    caller's principal tags."""
    identity, boundary, principal_tags = _principal_part(ctx, caller)
    tags = list(principal_tags)
    session_texts: list[NamedText] | None = None
    if caller.session is not None:
        session = caller.session
        # Session tags override the principal's tags with the same key.
        merged = {k.lower(): (k, v) for k, v in tags}
        merged.update({k.lower(): (k, v) for k, v in session.tags})
        tags = list(merged.values())
        if session.session_policy is not None or session.session_policy_arns:
            session_texts = []
            if session.session_policy is not None:
                session_texts.append(("SessionPolicy", session.session_policy))
            for arn in session.session_policy_arns:
                text = managed_policy_text(ctx, arn)
                if text is not None:
                    session_texts.append((arn, text))
        elif caller.type is PrincipalType.FEDERATED_USER:
            session_texts = []  # AWS: a federation token without a session policy grants nothing
    policy_set: PolicySet = Applicable(
        identity=identity,
        boundary=boundary,
        session=None
        if session_texts is None
        else tuple(compiled(ctx, n, PolicyType.SESSION) for n in session_texts),
    )
    return policy_set, tags


def is_aws_managed_policy_arn(resource: str) -> bool:
    """`arn:PARTITION:iam::aws:policy/...`: an AWS managed policy."""
    parts = resource.split(":", 5)
    return (
        len(parts) == 6
        and parts[0] == "arn"
        and parts[2] == "iam"
        and parts[4] == "aws"
        and parts[5].startswith("policy/")
    )


def decision_account(resource: str, caller_account: str) -> str | None:
    """The account whose policies decide about `resource`; None: its ARN's account.

    AWS managed policies are readable in every account: IAM decides requests on them
    with the caller's identity policies, as for the caller's own resources (no
    resource-based policy of account "aws" is needed). Changing them is refused by the
    operations themselves (iam_entities.require_customer_policy)."""
    return caller_account if is_aws_managed_policy_arn(resource) else None


def decide(
    ctx: OpContext,
    action: str,
    resource: str,
    extra: Mapping[str, ContextValue] | None = None,
    *,
    caller: Caller | None = None,
) -> Decision:
    caller = caller or ctx.caller
    policy_set, tags = caller_policy_set(ctx, caller)
    owner = decision_account(resource, caller.account_id)
    if owner is not None:
        policy_set = replace(policy_set, resource_account=owner)
    context = base_context(ctx, caller, tags)
    if extra:
        context.update(extra)
    request = Request(caller_principal(caller), action, resource, context)
    return evaluate(request, policy_set)


def authorize(
    ctx: OpContext, action: str, resource: str, extra: Mapping[str, ContextValue] | None = None
) -> None:
    """Raise AccessDenied, worded as AWS words it, unless the caller may do this."""
    caller = ctx.caller
    if caller.is_root and caller.session is None:
        return  # the root user may do everything in its own account
    decision = decide(ctx, action, resource, extra)
    if not decision.allowed:
        raise AccessDenied(denial_message(caller, action, resource, decision))


def denial_message(caller: Caller, action: str, resource: str, decision: Decision) -> str:
    who = {
        PrincipalType.ROOT: "",
        PrincipalType.USER: "User: ",
    }.get(caller.type, "User: ")
    return (
        f"{who}{caller.arn} is not authorized to perform: {action} on resource: {resource} "
        f"{decision.denial_reason(action)}"
    )
