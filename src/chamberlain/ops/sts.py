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

import json
import math
import re
from dataclasses import replace
from typing import Any

from chamberlain.domain import ROOT, AccessKey, Account, Role, Tags
from chamberlain.ops import authz
from chamberlain.ops.common import request_tag_context
from chamberlain.ops.context import Caller, OpContext
from chamberlain.ops.errors import (
    AccessDenied,
    InvalidAuthorizationMessage,
    MalformedPolicyDocument,
    PackedPolicyTooLarge,
    ServiceError,
    ValidationError,
)
from chamberlain.ops.registry import Output, Params, Target, operation
from chamberlain.ops.sessions import (
    MFA_FAILED,
    account_of_access_key_id,
    decode_authorization_message,
    is_session_token_session,
    issue_credentials,
    verify_mfa_code,
)
from chamberlain.policy import (
    Decision,
    Outcome,
    PolicySource,
    PolicyTooLarge,
    PolicyType,
    PrincipalType,
    Request,
    evaluate,
    parse_policy,
)
from chamberlain.policy import MalformedPolicyDocument as PolicyMalformed
from chamberlain.policy.request import ContextValue
from chamberlain.policy.validate import SESSION_POLICY_MAX, policy_size

MIN_DURATION = 900
USER_SESSION_MAX = 129_600  # GetSessionToken / GetFederationToken, IAM users
USER_SESSION_DEFAULT = 43_200
ROOT_SESSION_MAX = 3_600  # the root user's sessions: longer requests get one hour
ROLE_DURATION_MODEL_MAX = 43_200  # roleDurationSecondsType
ROLE_SESSION_DEFAULT = 3_600
ROLE_CHAINING_MAX = 3_600
MAX_POLICY_ARNS = 10
#: The budget PackedPolicySize is a percentage of: the session policy text (without
#: whitespace outside strings), managed session policy ARNs and session tags (inherited
#: ones included), together. AWS packs them into an undocumented binary format; we count
#: their plain characters against the plain-text session policy quota instead.
PACKED_BUDGET = SESSION_POLICY_MAX

# The model's patterns are Java regexes, whose \w is ASCII.
_ROLE_ARN = re.compile(
    r"arn:(aws[a-z-]*):iam::(\d{12}):role(/(?:[!-~]*/)?)([\w+=,.@-]{1,64})", re.ASCII
)
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
_SOURCE_IDENTITY = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
# A JSON string (kept as is) or a run of insignificant whitespace (dropped).
_JSON_STRING_OR_SPACE = re.compile(r'"(?:[^"\\]++|\\.)*+"|[ \t\n\r]+')


class InvalidParameterValue(ServiceError):
    """AWS's common error for an invalid input value (not yet in ops/errors.py)."""

    code = "InvalidParameterValue"
    http_status = 400
    sender_fault = True


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


def _model_bound(value: int, member: str, lo: int, hi: int) -> None:
    """The model's bounds, checked again for callers that do not come over the wire."""
    if not lo <= value <= hi:
        bound = f"greater than or equal to {lo}" if value < lo else f"less than or equal to {hi}"
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
            f"constraint: Member must have value {bound}"
        )


def _duration(params: Params, default: int, hi: int) -> int:
    value = params.get("DurationSeconds")
    if value is None:
        return default
    _model_bound(value, "durationSeconds", MIN_DURATION, hi)
    return value


def _minified(text: str) -> str:
    """A policy document without insignificant whitespace (the same JSON, smaller token)."""
    return _JSON_STRING_OR_SPACE.sub(lambda m: m.group() if m.group()[0] == '"' else "", text)


def _packed_too_large(percent: int) -> PackedPolicyTooLarge:
    return PackedPolicyTooLarge(
        f"Packed policy consumes {percent}% of allotted space, please use smaller policy."
    )


def _packed_percent(characters: int) -> int:
    return math.ceil(100 * characters / PACKED_BUDGET)


def _session_policy(params: Params) -> str | None:
    text = params.get("Policy")
    if text is None:
        return None
    try:
        parse_policy(text, PolicyType.SESSION)
    except PolicyTooLarge:  # longer than any policy document may be
        raise _packed_too_large(_packed_percent(policy_size(text))) from None
    except PolicyMalformed as exc:
        raise MalformedPolicyDocument(exc.message) from None
    return _minified(text)


def _policy_arns(params: Params) -> tuple[str, ...]:
    raw = params.get("PolicyArns") or []
    if len(raw) > MAX_POLICY_ARNS:
        raise ValidationError(
            "1 validation error detected: Value at 'policyArns' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_POLICY_ARNS}"
        )
    arns: list[str] = []
    for item in raw:
        arn = item.get("arn")
        if not arn:
            raise ValidationError("PolicyArns entries must name an arn.")
        if arn not in arns:
            arns.append(arn)
    return tuple(arns)


def _session_tags(params: Params) -> Tags:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for tag in params.get("Tags") or []:
        key, value = tag["Key"], tag.get("Value", "")
        if key.lower().startswith("aws:"):
            raise InvalidParameterValue("The tag key 'aws:' prefix is reserved for AWS use.")
        if key.lower() in seen:
            raise InvalidParameterValue(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive."
            )
        seen.add(key.lower())
        out.append((key, value))
    return tuple(out)


def _transitive_keys(params: Params, tags: Tags) -> tuple[str, ...]:
    keys = tuple(dict.fromkeys(params.get("TransitiveTagKeys") or ()))
    tagged = {k.lower() for k, _ in tags}
    for key in keys:
        if key.lower() not in tagged:
            raise InvalidParameterValue(
                f"The transitive tag key {key} is not one of the session tags of the request."
            )
    return keys


def _packed_size(
    policy: str | None, arns: tuple[str, ...], tags: Tags, inherited: Tags = ()
) -> int | None:
    """PackedPolicySize (a percentage) when the request carries session policies or tags;
    raises PackedPolicyTooLarge over 100. `policy` is the minified text the token will
    carry; tags inherited along a role chain count too, so tokens stay small."""
    if policy is None and not arns and not tags:
        return None
    characters = (
        len(policy or "")
        + sum(len(a) for a in arns)
        + sum(len(k) + len(v) for k, v in (*inherited, *tags))
    )
    percent = _packed_percent(characters)
    if percent > 100:
        raise _packed_too_large(percent)
    return percent


def _mfa(ctx: OpContext, params: Params, owner: str | None) -> bool:
    """True when the request carries a valid MFA code of the caller's device; False when
    it carries none; AccessDenied for a wrong, replayed or half-given code."""
    serial, code = params.get("SerialNumber"), params.get("TokenCode")
    if serial is None and code is None:
        return False
    if serial is None or code is None or owner is None:
        raise AccessDenied(MFA_FAILED)
    if not verify_mfa_code(ctx, serial, code, owner):
        raise AccessDenied(MFA_FAILED)
    return True


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


@operation("sts", "GetSessionToken", resource=None)
def get_session_token(ctx: OpContext, params: Params) -> Output:
    """Not authorized by policy: AWS says GetSessionToken needs no permission (its point
    is to authenticate with MFA). Writes the MFA device's last step, so not read-only."""
    caller = ctx.caller
    _refuse_session_credentials(caller, "GetSessionToken", any_session=True)
    if caller.type not in (PrincipalType.USER, PrincipalType.ROOT):
        raise AccessDenied("Cannot call GetSessionToken with session credentials")
    duration = _duration(params, USER_SESSION_DEFAULT, USER_SESSION_MAX)
    if caller.is_root:
        duration = min(duration, ROOT_SESSION_MAX)
    mfa = _mfa(ctx, params, _mfa_owner(caller))
    credentials = issue_credentials(
        ctx,
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
    )
    return {"Credentials": credentials}


# ------------------------------------------------------------------------ AssumeRole


def _find_role(ctx: OpContext, role_arn: str) -> Role | None:
    match = _ROLE_ARN.fullmatch(role_arn)
    if match is None:
        raise ValidationError("Request ARN is invalid")
    account, name = match.group(2), match.group(4)
    role = ctx.uow.repo(Role).get(account, name.lower())
    if role is None or role.arn != role_arn:
        return None
    return role


def trust_decision(
    ctx: OpContext, role: Role, action: str, extra: dict[str, ContextValue]
) -> Decision:
    """May the caller do `action` (sts:AssumeRole, sts:TagSession, ...) on `role`? The
    caller's identity, boundary and session policies with the role's trust policy as the
    resource policy; a trust policy must allow explicitly (docs/policy-semantics.md)."""
    caller = ctx.caller
    policy_set, tags = authz.caller_policy_set(ctx, caller)
    try:
        trust = authz.compiled(ctx, (role.arn, role.assume_role_policy), PolicyType.TRUST)
    except PolicyMalformed:
        trust = None
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


@operation("sts", "AssumeRole", resource=None)
def assume_role(ctx: OpContext, params: Params) -> Output:
    caller = ctx.caller
    role_arn, session_name = params["RoleArn"], params["RoleSessionName"]
    if caller.is_root:
        raise AccessDenied("Roles may not be assumed by root accounts.")
    if _SESSION_NAME.fullmatch(session_name) is None:
        raise ValidationError(
            f"1 validation error detected: Value '{session_name}' at 'roleSessionName' failed "
            r"to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
        )
    requested_duration = params.get("DurationSeconds")
    if requested_duration is not None:
        _model_bound(requested_duration, "durationSeconds", MIN_DURATION, ROLE_DURATION_MODEL_MAX)
    # Input first (as AWS validates it before authorizing), then who may do what.
    policy = _session_policy(params)
    policy_arns = _policy_arns(params)
    tags = _session_tags(params)
    transitive = _transitive_keys(params, tags)
    source_identity = params.get("SourceIdentity")
    if source_identity is not None:
        if _SOURCE_IDENTITY.fullmatch(source_identity) is None:
            raise ValidationError(
                f"1 validation error detected: Value '{source_identity}' at 'sourceIdentity' "
                r"failed to satisfy constraint: Member must satisfy regular expression "
                r"pattern: [\w+=,.@-]*"
            )
        if source_identity.lower().startswith("aws:"):
            raise InvalidParameterValue(
                "The source identity 'aws:' prefix is reserved for AWS use."
            )

    role = _find_role(ctx, role_arn)
    if role is None or caller.type is PrincipalType.FEDERATED_USER:
        raise _denied(caller, "sts:AssumeRole", role_arn)

    # What the new session inherits from a calling session.
    session = caller.session
    chained = caller.type is PrincipalType.ASSUMED_ROLE
    inherited_tags = _inherited_transitive(caller)
    clash = {k.lower() for k, _ in inherited_tags} & {k.lower() for k, _ in tags}
    if clash:
        raise InvalidParameterValue(
            "A session tag has the same key as a transitive tag inherited from the calling "
            f"session: {sorted(clash)[0]}."
        )
    packed = _packed_size(policy, policy_arns, tags, inherited_tags)
    inherited_source = session.source_identity if session is not None else None
    if inherited_source and source_identity and source_identity != inherited_source:
        raise InvalidParameterValue(
            "The source identity of a role session cannot change: the calling session's "
            "source identity is inherited."
        )
    source_identity = source_identity or inherited_source

    mfa_now = _mfa(ctx, params, _mfa_owner(caller))
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

    needed = ["sts:AssumeRole"]
    if tags or transitive:
        needed.append("sts:TagSession")
    if source_identity:
        needed.append("sts:SetSourceIdentity")
    for action in needed:
        if not trust_decision(ctx, role, action, extra).allowed:
            raise _denied(caller, action, role_arn)

    duration = requested_duration if requested_duration is not None else ROLE_SESSION_DEFAULT
    if chained and duration > ROLE_CHAINING_MAX:
        raise ValidationError(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
            "by role chaining."
        )
    if duration > role.max_session_duration:
        raise ValidationError(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )

    if mfa_now:
        mfa, mfa_at = True, ctx.now
    elif session is not None and session.mfa_authenticated:
        mfa, mfa_at = True, session.mfa_authenticated_at
    else:
        mfa, mfa_at = False, None
    partition = ctx.services.partition
    session_arn = f"arn:{partition}:sts::{role.account_id}:assumed-role/{role.name}/{session_name}"
    assumed_id = f"{role.role_id}:{session_name}"
    inherited_keys = session.transitive_tag_keys if session is not None else ()
    credentials = issue_credentials(
        ctx,
        account_id=role.account_id,
        arn=session_arn,
        principal_id=assumed_id,
        principal_type=PrincipalType.ASSUMED_ROLE,
        issuer_arn=role.arn,
        issuer_id=role.role_id,
        duration_s=duration,
        mfa_authenticated=mfa,
        mfa_authenticated_at=mfa_at,
        session_name=session_name,
        tags=inherited_tags + tags,
        transitive_tag_keys=tuple(dict.fromkeys((*inherited_keys, *transitive))),
        source_identity=source_identity,
        session_policy=policy,
        session_policy_arns=policy_arns,
        chained=chained,
    )
    ctx.uow.repo(Role).put(replace(role, last_used=ctx.now, last_used_region=ctx.meta.region))
    out: dict[str, Any] = {
        "Credentials": credentials,
        "AssumedRoleUser": {"AssumedRoleId": assumed_id, "Arn": session_arn},
    }
    if packed is not None:
        out["PackedPolicySize"] = packed
    if source_identity:
        out["SourceIdentity"] = source_identity
    return out


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
    duration = _duration(params, USER_SESSION_DEFAULT, USER_SESSION_MAX)
    if caller.is_root:
        duration = min(duration, ROOT_SESSION_MAX)
    policy = _session_policy(params)
    policy_arns = _policy_arns(params)
    tags = _session_tags(params)
    packed = _packed_size(policy, policy_arns, tags)
    arn = _federated_user_arn(ctx, name)
    federated_id = f"{ctx.account_id}:{name}"
    credentials = issue_credentials(
        ctx,
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
        session_policy_arns=policy_arns,
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
