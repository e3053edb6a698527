"""STS operations: GetCallerIdentity, GetSessionToken, AssumeRole, GetFederationToken,
GetAccessKeyInfo and DecodeAuthorizationMessage, with AWS's limits and errors.

The credentials themselves (sealed session tokens, no stored state) are made in
`ops.sessions`. GetCallerIdentity and GetSessionToken need no permission, as in AWS.
AssumeRole is authorized here, not by the dispatcher: the role's trust policy must allow
the caller (and, for a caller from another account, the caller's own policies must allow
sts:AssumeRole on the role too), which is one evaluation of the engine with the trust
policy as the resource policy and `require_resource_allow` set.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from chamberlain.domain import ROOT, AccessKey, Account, Role, Tags
from chamberlain.ops.core import authz, throttle
from chamberlain.ops.core.context import Caller, OpContext
from chamberlain.ops.core.errors import (
    AccessDenied,
    InvalidAuthorizationMessage,
    InvalidParameterValue,
    ValidationError,
)
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.ops.core.tags import request_tag_context
from chamberlain.ops.sts.assumed_role import (
    RoleSession,
    check_duration,
    compiled_trust,
    issue_role_session,
    require_trust,
)
from chamberlain.ops.sts.inputs import (
    MIN_DURATION,
    ROLE_DURATION_MODEL_MAX,
    ROLE_SESSION_DEFAULT,
    SESSION_NAME,
    SOURCE_IDENTITY,
    find_role,
    model_bound,
    packed_size,
    policy_arns,
    session_policy,
    session_tags,
    transitive_keys,
)
from chamberlain.ops.sts.sessions import (
    MFA_FAILED,
    NewSession,
    account_of_access_key_id,
    decode_authorization_message,
    is_session_token_session,
    issue_credentials,
    refuse_wrong_code,
    reserve_mfa_attempt,
    verify_mfa_code,
)
from chamberlain.policy import (
    Decision,
    Outcome,
    PolicySource,
    PrincipalType,
    Request,
    evaluate,
)
from chamberlain.policy.request import ContextValue

USER_SESSION_MAX = 129_600  # GetSessionToken / GetFederationToken, IAM users
USER_SESSION_DEFAULT = 43_200
ROOT_SESSION_MAX = 3_600  # the root user's sessions: longer requests get one hour
ROLE_CHAINING_MAX = 3_600


# ------------------------------------------------------------------------ helpers


def _denied(caller: Caller, action: str, resource: str) -> AccessDenied:
    return AccessDenied(
        f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource}"
    )


def _refuse_session_credentials(caller: Caller, op: str, *, any_session: bool) -> None:
    """AWS: GetSessionToken and GetFederationToken need long-term credentials; sessions
    from GetSessionToken and federated users may call no other STS operation than
    AssumeRole (GetSessionToken sessions only) and GetCallerIdentity."""
    session = caller.session
    if session is None:
        return
    if (
        any_session
        or is_session_token_session(caller)
        or caller.type is PrincipalType.FEDERATED_USER
    ):
        raise AccessDenied(f"Cannot call {op} with session credentials")


def _user_session_duration(caller: Caller, params: Params) -> int:
    """GetSessionToken's and GetFederationToken's DurationSeconds: 12 hours by default,
    36 at most, and at most one hour for the root user."""
    value = params.get("DurationSeconds")
    if value is None:
        duration = USER_SESSION_DEFAULT
    else:
        model_bound(value, "durationSeconds", MIN_DURATION, USER_SESSION_MAX)
        duration = int(value)
    return min(duration, ROOT_SESSION_MAX) if caller.is_root else duration


def _mfa(ctx: OpContext, params: Params, owner: str | None) -> bool:
    """True when the request carries a valid MFA code of the caller's device; False when
    it carries none; AccessDenied for a wrong, replayed or half-given code."""
    serial, code = params.get("SerialNumber"), params.get("TokenCode")
    if serial is None and code is None:
        return False
    if serial is None or code is None or owner is None:
        raise AccessDenied(MFA_FAILED)
    if not verify_mfa_code(ctx, serial, code, owner):  # replayed since it was prepared
        raise throttle.refused_code(throttle.CodeDenied, MFA_FAILED, serial)
    return True


def _mfa_preparer(
    checks: Callable[[OpContext, Params], object],
) -> Callable[[OpContext, Params], object]:
    """The preparer of GetSessionToken and AssumeRole: the operation's checks before its
    code (`checks`, so their errors come first, as without a code), then, for a code of
    the caller's own device, count the attempt (sessions.reserve_mfa_attempt) and refuse
    a wrong code, all before the unit of work: a wrong code takes no account lock. The
    handler checks the code again under the lock (and accepts it once)."""

    def prepare(ctx: OpContext, params: Params) -> object:
        owner = _mfa_owner(ctx.caller)
        serial, code = params.get("SerialNumber"), params.get("TokenCode")
        if owner is None or serial is None or code is None:
            return None
        checks(ctx, params)
        attempt = reserve_mfa_attempt(ctx, serial, owner)
        refuse_wrong_code(ctx, attempt, code, owner, MFA_FAILED)
        return attempt

    return prepare


def _mfa_owner(caller: Caller) -> str | None:
    if caller.is_root:
        return ROOT
    if caller.type is PrincipalType.USER:
        return caller.user_name
    return None


def _star_target(op: str) -> Any:
    def resolve(ctx: OpContext, params: Params) -> Target:
        _refuse_session_credentials(ctx.caller, op, any_session=False)
        return Target(resource="*")

    return resolve


# ---------------------------------------------------------------- GetCallerIdentity


@operation("sts", "GetCallerIdentity", resource=None, read_only=True)
def get_caller_identity(ctx: OpContext, params: Params) -> Output:
    caller = ctx.caller
    return {"UserId": caller.principal_id, "Account": caller.account_id, "Arn": caller.arn}


# ------------------------------------------------------------------ GetSessionToken


def _session_token_request(ctx: OpContext, params: Params) -> int:
    """GetSessionToken's checks before its code: the session's duration."""
    caller = ctx.caller
    _refuse_session_credentials(caller, "GetSessionToken", any_session=True)
    if caller.type not in (PrincipalType.USER, PrincipalType.ROOT):
        raise AccessDenied("Cannot call GetSessionToken with session credentials")
    return _user_session_duration(caller, params)


@operation("sts", "GetSessionToken", resource=None, prepare=_mfa_preparer(_session_token_request))
def get_session_token(ctx: OpContext, params: Params) -> Output:
    """Not authorized by policy: AWS says GetSessionToken needs no permission (its point
    is to authenticate with MFA). Writes the MFA device's last step, so not read-only."""
    caller = ctx.caller
    duration = _session_token_request(ctx, params)
    mfa = _mfa(ctx, params, _mfa_owner(caller))
    credentials = issue_credentials(
        ctx,
        NewSession(
            account_id=caller.account_id,
            arn=caller.arn,
            principal_id=caller.principal_id,
            principal_type=caller.type,
            user_name=caller.user_name,
            issuer_arn=caller.arn,
            issuer_id=caller.principal_id,
            duration_s=duration,
            mfa_authenticated=mfa,
            mfa_authenticated_at=ctx.now if mfa else None,
        ),
    )
    return {"Credentials": credentials}


# ------------------------------------------------------------------------ AssumeRole


def trust_decision(
    ctx: OpContext, role: Role, action: str, extra: dict[str, ContextValue]
) -> Decision:
    """May the caller do `action` (sts:AssumeRole, sts:TagSession, ...) on `role`? The
    caller's identity, boundary and session policies with the role's trust policy as the
    resource policy; a trust policy must allow explicitly (docs/policy-semantics.md)."""
    caller = ctx.caller
    policy_set, tags = authz.caller_policy_set(ctx, caller)
    trust = compiled_trust(ctx, role)
    if trust is None:
        return Decision(Outcome.IMPLICIT_DENY, (), PolicySource.RESOURCE)
    applicable = replace(
        policy_set, resource=trust, resource_account=role.account_id, require_resource_allow=True
    )
    context = authz.base_context(ctx, caller, tags)
    context.update(extra)
    request = Request(authz.caller_principal(caller), action, role.arn, context)
    return evaluate(request, applicable)


def _inherited_transitive(caller: Caller) -> Tags:
    session = caller.session
    if session is None or not session.transitive_tag_keys:
        return ()
    keys = {k.lower() for k in session.transitive_tag_keys}
    return tuple((k, v) for k, v in session.tags if k.lower() in keys)


def _check_session_name(session_name: str) -> None:
    if SESSION_NAME.fullmatch(session_name) is None:
        raise ValidationError(
            f"1 validation error detected: Value '{session_name}' at 'roleSessionName' failed "
            r"to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
        )


def _check_source_identity(source_identity: str) -> None:
    if SOURCE_IDENTITY.fullmatch(source_identity) is None:
        raise ValidationError(
            f"1 validation error detected: Value '{source_identity}' at 'sourceIdentity' "
            r"failed to satisfy constraint: Member must satisfy regular expression "
            r"pattern: [\w+=,.@-]*"
        )
    if source_identity.lower().startswith("aws:"):
        raise InvalidParameterValue("The source identity 'aws:' prefix is reserved for AWS use.")


def _kept_source_identity(caller: Caller, requested: str | None) -> str | None:
    """A calling session's source identity is inherited and cannot change."""
    session = caller.session
    inherited = session.source_identity if session is not None else None
    if inherited and requested and requested != inherited:
        raise InvalidParameterValue(
            "The source identity of a role session cannot change: the calling session's "
            "source identity is inherited."
        )
    return requested or inherited


def _trust_context(
    params: Params, session_name: str, mfa_now: bool, transitive: tuple[str, ...]
) -> dict[str, ContextValue]:
    """The condition keys AssumeRole's trust decision sees besides the caller's."""
    extra: dict[str, ContextValue] = {"sts:RoleSessionName": session_name}
    if params.get("ExternalId") is not None:
        extra["sts:ExternalId"] = params["ExternalId"]
    if params.get("SourceIdentity") is not None:
        extra["sts:SourceIdentity"] = params["SourceIdentity"]
    if mfa_now:
        extra["aws:MultiFactorAuthPresent"] = True
        extra["aws:MultiFactorAuthAge"] = 0
    extra.update(request_tag_context(params.get("Tags")))
    if transitive:
        extra["sts:TransitiveTagKeys"] = list(transitive)
    return extra


@dataclass(frozen=True)
class _RoleRequest:
    """What AssumeRole checked before the caller's code and the trust decision."""

    role: Role
    policy: str | None
    managed_arns: tuple[str, ...]
    tags: Tags
    transitive: tuple[str, ...]
    inherited_tags: Tags
    packed: int | None
    source_identity: str | None


def _role_request(ctx: OpContext, params: Params) -> _RoleRequest:
    """AssumeRole's checks before its code: the input first (as AWS validates it before
    authorizing), then the role."""
    caller = ctx.caller
    role_arn = params["RoleArn"]
    _check_assume_role_input(caller, params)
    policy = session_policy(params)
    managed_arns = policy_arns(params)
    tags = session_tags(params)
    transitive = transitive_keys(params, tags)
    source_identity = params.get("SourceIdentity")
    if source_identity is not None:
        _check_source_identity(source_identity)

    role = find_role(ctx, role_arn)
    if role is None or caller.type is PrincipalType.FEDERATED_USER:
        raise _denied(caller, "sts:AssumeRole", role_arn)
    inherited_tags = _inherited_tags(caller, tags)
    packed = packed_size(policy, managed_arns, tags, inherited_tags)
    source_identity = _kept_source_identity(caller, source_identity)
    return _RoleRequest(
        role, policy, managed_arns, tags, transitive, inherited_tags, packed, source_identity
    )


@operation("sts", "AssumeRole", resource=None, prepare=_mfa_preparer(_role_request))
def assume_role(ctx: OpContext, params: Params) -> Output:
    caller = ctx.caller
    role_arn, session_name = params["RoleArn"], params["RoleSessionName"]
    request = _role_request(ctx, params)
    role, tags, transitive = request.role, request.tags, request.transitive
    mfa_now = _mfa(ctx, params, _mfa_owner(caller))
    require_trust(
        "sts:AssumeRole",
        role=role,
        context=_trust_context(params, session_name, mfa_now, transitive),
        tagging=bool(tags or transitive),
        source_identity=bool(request.source_identity),
        allows=lambda action, full: trust_decision(ctx, role, action, full).allowed,
        refuse=lambda action: _denied(caller, action, role_arn),
    )

    chained = caller.type is PrincipalType.ASSUMED_ROLE
    duration = _role_session_duration(role, params.get("DurationSeconds"), chained=chained)
    mfa, mfa_at = _session_mfa(ctx, caller, mfa_now)
    session = caller.session
    inherited_keys = session.transitive_tag_keys if session is not None else ()
    return issue_role_session(
        ctx,
        RoleSession(
            role=role,
            session_name=session_name,
            duration=duration,
            tags=request.inherited_tags + tags,
            transitive_tag_keys=tuple(dict.fromkeys((*inherited_keys, *transitive))),
            source_identity=request.source_identity,
            policy=request.policy,
            policy_arns=request.managed_arns,
            packed_size=request.packed,
            mfa_authenticated=mfa,
            mfa_authenticated_at=mfa_at,
            chained=chained,
        ),
    )


def _check_assume_role_input(caller: Caller, params: Params) -> None:
    """What AWS refuses before reading anything: the root user, a malformed session
    name, a DurationSeconds outside the model's bounds."""
    if caller.is_root:
        raise AccessDenied("Roles may not be assumed by root accounts.")
    _check_session_name(params["RoleSessionName"])
    requested_duration = params.get("DurationSeconds")
    if requested_duration is not None:
        model_bound(requested_duration, "durationSeconds", MIN_DURATION, ROLE_DURATION_MODEL_MAX)


def _inherited_tags(caller: Caller, tags: Tags) -> Tags:
    """The calling session's transitive tags, which the new session inherits; a requested
    tag may not have the key of one."""
    inherited_tags = _inherited_transitive(caller)
    clash = {k.lower() for k, _ in inherited_tags} & {k.lower() for k, _ in tags}
    if clash:
        raise InvalidParameterValue(
            "A session tag has the same key as a transitive tag inherited from the calling "
            f"session: {sorted(clash)[0]}."
        )
    return inherited_tags


def _role_session_duration(role: Role, requested: int | None, *, chained: bool) -> int:
    """DurationSeconds (default one hour), at most an hour for role chaining and at most
    the role's MaxSessionDuration."""
    duration = requested if requested is not None else ROLE_SESSION_DEFAULT
    if chained and duration > ROLE_CHAINING_MAX:
        raise ValidationError(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
            "by role chaining."
        )
    check_duration(role, duration)
    return duration


def _session_mfa(ctx: OpContext, caller: Caller, mfa_now: bool) -> tuple[bool, dt.datetime | None]:
    """Whether (and when) the new session authenticated with MFA: now, with this call's
    code, or earlier, as the calling session did."""
    session = caller.session
    if mfa_now:
        return True, ctx.now
    if session is not None and session.mfa_authenticated:
        return True, session.mfa_authenticated_at
    return False, None


# ---------------------------------------------------------------- GetFederationToken


def _federated_user_arn(ctx: OpContext, name: str) -> str:
    return f"arn:{ctx.services.partition}:sts::{ctx.account_id}:federated-user/{name}"


def _federation_target(ctx: OpContext, params: Params) -> Target:
    # Session credentials are refused before any authorization, as AWS refuses them.
    _refuse_session_credentials(ctx.caller, "GetFederationToken", any_session=True)
    arn = _federated_user_arn(ctx, params["Name"])
    also = (("sts:TagSession", arn),) if params.get("Tags") else ()
    return Target(resource=arn, context=request_tag_context(params.get("Tags")), also=also)


@operation("sts", "GetFederationToken", resource=_federation_target)
def get_federation_token(ctx: OpContext, params: Params) -> Output:
    """A federated user session: its permissions are the intersection of the calling
    user's policies and the session policies passed (none passed: no permissions)."""
    caller = ctx.caller
    _refuse_session_credentials(caller, "GetFederationToken", any_session=True)
    name = params["Name"]
    duration = _user_session_duration(caller, params)
    policy = session_policy(params)
    managed_arns = policy_arns(params)
    tags = session_tags(params)
    packed = packed_size(policy, managed_arns, tags)
    arn = _federated_user_arn(ctx, name)
    federated_id = f"{ctx.account_id}:{name}"
    credentials = issue_credentials(
        ctx,
        NewSession(
            account_id=ctx.account_id,
            arn=arn,
            principal_id=federated_id,
            principal_type=PrincipalType.FEDERATED_USER,
            issuer_arn=caller.arn,
            issuer_id=caller.principal_id,
            duration_s=duration,
            session_name=name,
            tags=tags,
            session_policy=policy,
            session_policy_arns=managed_arns,
        ),
    )
    out: dict[str, Any] = {
        "Credentials": credentials,
        "FederatedUser": {"FederatedUserId": federated_id, "Arn": arn},
    }
    if packed is not None:
        out["PackedPolicySize"] = packed
    return out


# ------------------------------------------------------------------ GetAccessKeyInfo


@operation("sts", "GetAccessKeyInfo", resource=_star_target("GetAccessKeyInfo"), read_only=True)
def get_access_key_info(ctx: OpContext, params: Params) -> Output:
    """The account of a long-term key stored here, or of a temporary key issued here
    (its id encodes the account, as AWS's do). Unknown keys: an error, as AWS warns a
    deleted key may give."""
    key_id = params["AccessKeyId"]
    account: str | None = None
    if key_id.startswith("ASIA"):
        encoded = account_of_access_key_id(key_id)
        if encoded is not None and ctx.uow.repo(Account).get(encoded, "account") is not None:
            account = encoded
    else:
        key = ctx.uow.repo(AccessKey).find(key_id)
        account = key.account_id if key is not None else None
    if account is None:
        raise InvalidParameterValue("The access key ID provided does not exist in our records.")
    return {"Account": account}


# -------------------------------------------------------- DecodeAuthorizationMessage


@operation(
    "sts",
    "DecodeAuthorizationMessage",
    resource=_star_target("DecodeAuthorizationMessage"),
    read_only=True,
)
def decode_message(ctx: OpContext, params: Params) -> Output:
    message = decode_authorization_message(ctx.services, ctx.account_id, params["EncodedMessage"])
    if message is None:
        raise InvalidAuthorizationMessage("The encoded authorization message is invalid.")
    return {"DecodedMessage": json.dumps(message, separators=(",", ":"))}
