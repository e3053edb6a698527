"""STS AssumeRoleWithWebIdentity: temporary credentials for the holder of an OpenID
Connect ID token, for a role whose trust policy trusts the token's issuer.

The request is unsigned (the caller is anonymous); the token is its proof. In order:
the input is checked; the token's `iss` must name an OIDC provider registered in the
role's account (the account of RoleArn); its signature must verify with the issuer's
published keys (`ops.oidc`); it must not have expired; its audience (`aud`, or `azp`
when present) must be one of the provider's client IDs. Then the role's trust policy must
allow sts:AssumeRoleWithWebIdentity for the principal {"Federated": provider ARN}, with
the provider's condition keys (`HOST/PATH:aud`, `:sub`, `:amr`, `:azp`, `:oaud`) and
aws:FederatedProvider in the context; sts:SetSourceIdentity too when the token carries a
source identity, and sts:TagSession when it carries session tags (AWS's
`https://aws.amazon.com/source_identity` and `https://aws.amazon.com/tags` claims).

Nothing is written or issued before every check has passed; the role's last use is
recorded in the same unit of work as the issue.

Fetching keys happens inside the operation's unit of work (the dispatcher gives an
operation no other place); keys are cached per issuer (`oidc.JWKS_TTL`), so only a first
call, or one after a key rotation, waits on the issuer, and an unreachable issuer is not
asked again for `oidc.RETRY_AFTER_FAILURE`.
"""

from __future__ import annotations

import re
from typing import Any

from chamberlain.domain import OidcProvider, Role, Tags
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import (
    AccessDenied,
    IDPRejectedClaim,
    InvalidIdentityToken,
    InvalidParameterValue,
    ValidationError,
)
from chamberlain.ops.core.registry import Later, Output, Params, operation
from chamberlain.ops.sts import oidc
from chamberlain.ops.sts.assumed_role import (
    RoleSession,
    check_duration,
    federated_request_context,
    federated_trust_allows,
    issue_role_session,
    require_trust,
    session_request_context,
)
from chamberlain.ops.sts.inputs import (
    MIN_DURATION,
    ROLE_ARN,
    ROLE_DURATION_MODEL_MAX,
    ROLE_SESSION_DEFAULT,
    SESSION_NAME,
    SOURCE_IDENTITY,
    model_bound,
    packed_size,
    policy_arns,
    session_policy,
    session_tags,
    transitive_keys,
)
from chamberlain.policy import (
    PrincipalType,
)
from chamberlain.policy.request import ContextValue

ACTION = "sts:AssumeRoleWithWebIdentity"
SOURCE_IDENTITY_CLAIM = "https://aws.amazon.com/source_identity"
TAGS_CLAIM = "https://aws.amazon.com/tags"
MAX_SESSION_TAGS = 50
MAX_SUBJECT = 255  # webIdentitySubjectType
INCORRECT_AUDIENCE = "Incorrect token audience"
_TAG_KEY = re.compile(r"[\w\s.:/=+\-@]{1,128}")


def _not_authorized(action: str) -> AccessDenied:
    return AccessDenied(f"Not authorized to perform {action}")


# --------------------------------------------------------------------------- input


def _check_input(params: Params) -> None:
    session_name = params["RoleSessionName"]
    if SESSION_NAME.fullmatch(session_name) is None:
        raise ValidationError(
            f"1 validation error detected: Value '{session_name}' at 'roleSessionName' failed "
            r"to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
        )
    duration = params.get("DurationSeconds")
    if duration is not None:
        model_bound(duration, "durationSeconds", MIN_DURATION, ROLE_DURATION_MODEL_MAX)
    provider_id = params.get("ProviderId")
    if provider_id is not None:
        # OAuth 2.0 access tokens (Login with Amazon, Facebook) are checked by asking
        # those providers; this server accepts OpenID Connect ID tokens only.
        raise InvalidParameterValue(
            f"ProviderId {provider_id} is not supported: OAuth 2.0 access tokens are not "
            "accepted here; pass an OpenID Connect ID token without ProviderId."
        )


def _role_account(role_arn: str) -> tuple[str, str]:
    match = ROLE_ARN.fullmatch(role_arn)
    if match is None:
        raise ValidationError("Request ARN is invalid")
    return match.group(2), match.group(4)


# --------------------------------------------------------------------------- token


def _provider(ctx: OpContext, account: str, token: oidc.IdToken) -> OidcProvider:
    url = oidc.issuer_key(token.issuer)
    provider = None
    if url is not None:
        arn = f"arn:{ctx.services.partition}:iam::{account}:oidc-provider/{url}"
        provider = ctx.uow.repo(OidcProvider).get(account, arn)
    if provider is None:
        raise InvalidIdentityToken(
            f"No OpenIDConnect provider found in your account for {oidc.issuer_url(token.issuer)}"
        )
    return provider


def _strings(value: Any) -> list[str] | None:
    """A claim that is a string or a list of strings, as a list; None otherwise."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _audience(provider: OidcProvider, claims: dict[str, Any]) -> str:
    """The client ID the token was issued to, which must be one of the provider's:
    `azp` when the token has one (AWS reads a token's authorized party as its audience,
    keeping `aud` as `oaud`), else a value of `aud`."""
    audiences = _strings(claims.get("aud")) or []
    azp = claims.get("azp")
    offered = ([azp] if isinstance(azp, str) else []) + audiences
    for value in offered:
        if value in provider.client_ids:
            return value
    raise InvalidIdentityToken(INCORRECT_AUDIENCE)


def _subject(claims: dict[str, Any]) -> str:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_SUBJECT:
        raise IDPRejectedClaim("The token's sub claim is missing or not valid.")
    return sub


def _source_identity(claims: dict[str, Any]) -> str | None:
    value = claims.get(SOURCE_IDENTITY_CLAIM)
    if value is None:
        return None
    if not isinstance(value, str) or SOURCE_IDENTITY.fullmatch(value) is None:
        raise IDPRejectedClaim(
            f"The {SOURCE_IDENTITY_CLAIM} claim must match the pattern [\\w+=,.@-]{{2,64}}."
        )
    if value.lower().startswith("aws:"):
        raise IDPRejectedClaim("The source identity 'aws:' prefix is reserved for AWS use.")
    return value


def _tags(claims: dict[str, Any]) -> tuple[Tags, tuple[str, ...]]:
    """Session tags and transitive tag keys from AWS's tags claim:
    {"principal_tags": {"Key": ["value"]}, "transitive_tag_keys": ["Key"]}."""
    claim = claims.get(TAGS_CLAIM)
    if claim is None:
        return (), ()
    invalid = IDPRejectedClaim(f"The {TAGS_CLAIM} claim is not valid.")
    if not isinstance(claim, dict):
        raise invalid
    principal_tags = claim.get("principal_tags") or {}
    transitive = claim.get("transitive_tag_keys") or []
    if not isinstance(principal_tags, dict) or _strings(transitive) is None:
        raise invalid
    if len(principal_tags) > MAX_SESSION_TAGS:
        raise IDPRejectedClaim(f"A session can carry at most {MAX_SESSION_TAGS} session tags.")
    raw: list[dict[str, str]] = []
    for key, value in principal_tags.items():
        # AWS's layout: each value is a list holding one string.
        if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], str):
            raise invalid
        if _TAG_KEY.fullmatch(key) is None or len(value[0]) > 256:
            raise invalid
        raw.append({"Key": key, "Value": value[0]})
    try:
        tags = session_tags({"Tags": raw})
        keys = transitive_keys({"TransitiveTagKeys": list(transitive)}, tags)
    except InvalidParameterValue as exc:
        raise IDPRejectedClaim(exc.message) from None
    return tags, keys


# --------------------------------------------------------------------------- trust


def _context(
    ctx: OpContext,
    provider: OidcProvider,
    claims: dict[str, Any],
    session_name: str,
    source_identity: str | None,
    tags: Tags,
    transitive: tuple[str, ...],
) -> dict[str, ContextValue]:
    context = federated_request_context(ctx, provider.arn)
    context["aws:PrincipalType"] = PrincipalType.WEB_IDENTITY.value
    context["sts:RoleSessionName"] = session_name
    url = provider.url
    context[f"{url}:sub"] = claims["sub"]
    audiences = _strings(claims.get("aud")) or []
    azp = claims.get("azp")
    if isinstance(azp, str):
        context[f"{url}:aud"] = azp
        context[f"{url}:azp"] = azp
        if audiences:
            context[f"{url}:oaud"] = audiences[0] if len(audiences) == 1 else audiences
    elif audiences:
        context[f"{url}:aud"] = audiences[0] if len(audiences) == 1 else audiences
    amr = _strings(claims.get("amr"))
    if amr:
        context[f"{url}:amr"] = amr
    context.update(session_request_context(tags, transitive, source_identity))
    return context


def session_context(
    provider: OidcProvider, context: dict[str, ContextValue]
) -> dict[str, ContextValue]:
    """The provider's keys AWS keeps for the session, which its permission policies can
    test on every request: the application id (`HOST/PATH:aud`) and the user id
    (`HOST/PATH:sub`), as in the trust policy's context (IAM User Guide, "Available keys
    for web identity federation"). aws:FederatedProvider comes from the session's
    provider; `:amr`, `:azp` and `:oaud` are for trust policies only."""
    keys = (f"{provider.url}:aud", f"{provider.url}:sub")
    return {key: context[key] for key in keys if key in context}


# ------------------------------------------------------------------------ operation


def _verified_token(ctx: OpContext, params: Params) -> Later:
    """The preparer: the input checks, then the token's signature verified against the
    issuer's keys, which may have to be fetched over the network, so with no lock held
    (checked in the same order as before, so errors come in AWS's order)."""
    _check_input(params)
    session_policy(params)
    policy_arns(params)
    account, _ = _role_account(params["RoleArn"])
    token = oidc.parse(params["WebIdentityToken"])
    _provider(ctx, account, token)
    services, now = ctx.services, ctx.now

    def verified() -> oidc.IdToken:
        oidc.verify_signature(services, token, now)
        oidc.check_times(token, now)
        return token

    return Later(verified)


@operation("sts", "AssumeRoleWithWebIdentity", resource=None, prepare=_verified_token)
def assume_role_with_web_identity(ctx: OpContext, params: Params) -> Output:
    """Authorized here, by the token and the role's trust policy, not by the
    dispatcher: the caller is anonymous. The token's signature was verified by
    `_verified_token` before the unit of work."""
    role_arn, session_name = params["RoleArn"], params["RoleSessionName"]
    _check_input(params)
    policy = session_policy(params)
    managed_arns = policy_arns(params)
    account, role_name = _role_account(role_arn)

    token = ctx.prepared
    if not isinstance(token, oidc.IdToken):
        raise RuntimeError("AssumeRoleWithWebIdentity runs only after _verified_token")
    provider = _provider(ctx, account, token)
    claims = dict(token.claims)
    audience = _audience(provider, claims)
    subject = _subject(claims)
    source_identity = _source_identity(claims)
    tags, transitive = _tags(claims)
    packed = packed_size(policy, managed_arns, tags)

    role = ctx.uow.repo(Role).get(account, role_name.lower())
    if role is None or role.arn != role_arn:
        raise _not_authorized(ACTION)
    context = _context(ctx, provider, claims, session_name, source_identity, tags, transitive)
    require_trust(
        ACTION,
        role=role,
        context=context,
        tagging=bool(tags),
        source_identity=source_identity is not None,
        allows=lambda action, full: federated_trust_allows(
            ctx, role, PrincipalType.WEB_IDENTITY, provider.arn, action, full
        ),
        refuse=_not_authorized,
    )

    duration = params.get("DurationSeconds")
    if duration is None:
        duration = ROLE_SESSION_DEFAULT
    check_duration(role, duration)

    ctx.uow.lock_account(role.account_id)
    out = issue_role_session(
        ctx,
        RoleSession(
            role=role,
            session_name=session_name,
            duration=duration,
            tags=tags,
            transitive_tag_keys=transitive,
            source_identity=source_identity,
            policy=policy,
            policy_arns=managed_arns,
            packed_size=packed,
            federated_provider=provider.arn,
            extra_context=session_context(provider, context),
        ),
    )
    out.update(
        {
            "SubjectFromWebIdentityToken": subject,
            "Provider": provider.arn,
            "Audience": audience,
        }
    )
    return out
