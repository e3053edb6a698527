"""The authorization endpoint (`POST /v1/authorize`, docs/authorize.md): may this principal
do this action on this resource? Asked by a service of the same account, answered by the
same engine, policy gathering and request context the API uses for itself (authz.py).

The principal is either an end user's request forwarded by the calling service (its
SigV4 signature is verified by `authn.authenticate`, as the API verifies its own), or a
principal ARN the calling service vouches for. The calling service needs
`chamberlain:Authorize` on the principal's ARN, and for an ARN also
`chamberlain:AuthorizeByArn`.

Audit: one event per call. By default a management event in the calling service's
account (eventSource chamberlain.amazonaws.com, eventName Authorize). An account that
sets the account property `chamberlain/AuthorizeDataEvents` to `true`
(`aws iam put-account-properties`) gets a data event instead, credited to the end user as
if they had called the action themselves (eventSource `<prefix>.amazonaws.com`,
eventName the action's name, errorCode AccessDenied when denied), which is what
service-last-accessed and policy generation read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from chamberlain.crypto.sigv4 import SignatureError
from chamberlain.domain import AccountSettings, Role, User
from chamberlain.ops.audit import records as audit
from chamberlain.ops.core import auth_failures, authz
from chamberlain.ops.core.authn import (
    KeyAuthenticationFailed,
    SignedRequest,
    authenticate_in,
    signature_error,
)
from chamberlain.ops.core.context import (
    Caller,
    OpContext,
    RequestMeta,
    Services,
    Session,
    note_cache,
)
from chamberlain.ops.core.errors import AccessDenied, NoSuchEntity, ServiceError, ValidationError
from chamberlain.ops.iam.account_settings import SETTINGS_KEY
from chamberlain.ops.sts.sessions import encode_authorization_message
from chamberlain.policy import Decision, Outcome, PrincipalType, Request, evaluate
from chamberlain.policy.request import ContextValue
from chamberlain.store.api import UnitOfWork

AUTHORIZE = "chamberlain:Authorize"
AUTHORIZE_BY_ARN = "chamberlain:AuthorizeByArn"
#: The signing name the calling service signs its /v1/authorize requests for.
SIGNING_NAME = "chamberlain"
#: The account property that turns authorization answers into data events.
DATA_EVENTS_PROPERTY = "chamberlain/AuthorizeDataEvents"
UNAUTHENTICATED = "unauthenticated"
#: Condition keys Chamberlain derives from the principal: a caller cannot supply them.
PRINCIPAL_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:PrincipalArn",
        "aws:PrincipalAccount",
        "aws:PrincipalType",
        "aws:userid",
        "aws:username",
        "aws:TokenIssueTime",
        "aws:MultiFactorAuthPresent",
        "aws:MultiFactorAuthAge",
        "aws:SourceIdentity",
        "aws:FederatedProvider",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalIsAWSService",
        "aws:PrincipalServiceName",
        "aws:PrincipalServiceNamesList",
        "aws:CurrentTime",
        "aws:EpochTime",
    )
)
_READ_VERBS = ("Get", "List", "Describe", "Head")


@dataclass(frozen=True)
class AuthorizeQuery:
    """One question, decoded by the wire layer: either `signed` (an end user's forwarded
    request; `signature_error` when its signature fields were malformed) or
    `principal_arn`."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    signed: SignedRequest | None = None
    signing_name: str = ""
    signature_error: SignatureError | None = None
    principal_arn: str | None = None


# ------------------------------------------------------------------------ principal


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """(service, account, resource) of an IAM or STS principal ARN, else ValidationError."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] not in ("iam", "sts") or parts[3]:
        raise ValidationError(f"principal.arn is not an IAM principal ARN: '{arn[:200]}'.")
    account = parts[4]
    if not (account.isdigit() and len(account) == 12):
        raise ValidationError(f"principal.arn has no 12-digit account id: '{arn[:200]}'.")
    return parts[2], account, parts[5]


def _principal_from_arn(ctx: OpContext, arn: str, account: str) -> Caller:
    """The Caller an ARN names: root, a user, or a role session (whose session attributes,
    not being known, are those of a session issued now without MFA)."""
    service, _, resource = _arn_parts(arn)
    if service == "iam" and resource == "root":
        return Caller(account_id=account, arn=arn, principal_id=account, type=PrincipalType.ROOT)
    if service == "iam" and resource.startswith("user/"):
        name = resource.rsplit("/", 1)[-1]
        user = ctx.uow.repo(User).get(account, name.lower())
        if user is None or user.arn != arn:
            raise NoSuchEntity(f"The user with name {name} cannot be found.")
        return Caller(
            account_id=account,
            arn=user.arn,
            principal_id=user.user_id,
            type=PrincipalType.USER,
            user_name=user.name,
        )
    if service == "sts" and resource.startswith("assumed-role/") and resource.count("/") == 2:
        _, role_name, session_name = resource.split("/")
        role = ctx.uow.repo(Role).get(account, role_name.lower())
        if role is None or role.name != role_name or not session_name:
            raise NoSuchEntity(f"The role with name {role_name} cannot be found.")
        now = ctx.meta.now
        return Caller(
            account_id=account,
            arn=arn,
            principal_id=f"{role.role_id}:{session_name}",
            type=PrincipalType.ASSUMED_ROLE,
            session=Session(
                issuer_arn=role.arn,
                issuer_id=role.role_id,
                issued=now,
                expires=now + dt.timedelta(hours=1),
                session_name=session_name,
            ),
        )
    raise ValidationError(
        f"principal.arn must name the root user, a user or an assumed-role session: '{arn[:200]}'."
    )


def _require(ctx: OpContext, action: str, principal_arn: str, principal_account: str) -> None:
    """The calling service may ask about this principal (AccessDenied otherwise)."""
    service = ctx.caller
    if principal_account != service.account_id:
        raise AccessDenied(
            f"User: {service.arn} is not authorized to perform: {action} on resource: "
            f"{principal_arn} because no resource-based policy allows the {action} action"
        )
    authz.authorize(ctx, action, principal_arn)


# ------------------------------------------------------------------------- decision


def _check_context(context: Mapping[str, ContextValue]) -> None:
    for key in context:
        if key.lower() in PRINCIPAL_KEYS or key.lower().startswith("aws:principaltag/"):
            raise ValidationError(
                f"context key '{key}' is derived from the principal; it cannot be given."
            )


def _decide(
    ctx: OpContext, principal: Caller, query: AuthorizeQuery
) -> tuple[Decision, dict[str, ContextValue]]:
    """The engine's decision, through the same policy set and context the API builds."""
    policy_set, tags = authz.caller_policy_set(ctx, principal)
    context = authz.base_context(ctx, principal, tags)
    context.update(query.context)
    if principal.is_root and principal.session is None:
        # The root user may do everything in its own account (as authz.authorize).
        return Decision(Outcome.ALLOWED), context
    request = Request(authz.caller_principal(principal), query.action, query.resource, context)
    decision = evaluate(request, policy_set)
    if not decision.allowed:
        # The engine's explaining pass (same outcome) also names the condition keys that
        # statements needed and the context lacked; only denials pay for it.
        decision = evaluate(request, policy_set, explain=True)
    return decision, context


def _principal_out(principal: Caller) -> dict[str, Any]:
    out: dict[str, Any] = {
        "arn": principal.arn,
        "accountId": principal.account_id,
        "type": principal.type.value,
        "userId": principal.principal_id,
    }
    if principal.user_name:
        out["userName"] = principal.user_name
    return out


def _answer(
    ctx: OpContext,
    principal: Caller,
    query: AuthorizeQuery,
    decision: Decision,
    context: Mapping[str, ContextValue],
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "decision": decision.outcome.value,
        "allowed": decision.allowed,
        "principal": _principal_out(principal),
        "matchedStatements": [
            {
                "sourcePolicyId": m.policy_id,
                "sourcePolicyType": m.source.value,
                "statementId": m.sid or "",
                "effect": m.effect,
                "index": m.index,
            }
            for m in decision.matched
        ],
        "missingContextKeys": sorted(decision.missing_context_keys),
    }
    if not decision.allowed:
        out["errorCode"] = "AccessDenied"
        out["message"] = authz.denial_message(principal, query.action, query.resource, decision)
        out["encodedMessage"] = encode_authorization_message(
            ctx,
            action=query.action,
            resource=query.resource,
            decision=decision,
            context=context,
            caller=principal,
        )
    return out


def _unauthenticated(error: ServiceError) -> dict[str, Any]:
    return {
        "decision": UNAUTHENTICATED,
        "allowed": False,
        "errorCode": error.code,
        "message": error.message,
        "matchedStatements": [],
        "missingContextKeys": [],
    }


# ---------------------------------------------------------------------------- audit


#: services.cache[DATA_EVENTS_CACHE]: {account id: (its generation, data events on?)}.
DATA_EVENTS_CACHE = "authorize_data_events"
_DATA_EVENTS_LIMIT = 10_000


def data_events_enabled(ctx: OpContext, account_id: str) -> bool:
    """Whether the account set `chamberlain/AuthorizeDataEvents` to true. Cached per node
    under the account's generation (store/scopes.py: a change to its AccountSettings
    bumps the account's), which this unit of work has read already for the principal's
    policies: a change takes effect at the next call, on every node. The generation is
    read before the settings, so a change committed in between leaves a newer one."""
    cache: dict[str, tuple[int, bool]] = ctx.services.cache.setdefault(DATA_EVENTS_CACHE, {})
    generation = ctx.uow.generation(account_id)
    hit = cache.get(account_id)
    if hit is not None and generation >= 0 and hit[0] == generation:
        note_cache(ctx.services, DATA_EVENTS_CACHE, True)
        return hit[1]
    note_cache(ctx.services, DATA_EVENTS_CACHE, False)
    stored = ctx.uow.repo(AccountSettings).get(account_id, SETTINGS_KEY)
    enabled = stored is not None and (
        dict(stored.properties).get(DATA_EVENTS_PROPERTY, "").lower() == "true"
    )
    if generation >= 0:  # negative: changed in this (writing) unit of work, uncommitted
        if len(cache) >= _DATA_EVENTS_LIMIT:
            cache.clear()
        cache[account_id] = (generation, enabled)
    return enabled


def _management_record(
    service_caller: Caller,
    meta: RequestMeta,
    query: AuthorizeQuery,
    principal_arn: str | None,
    *,
    outcome: str | None = None,
    error: ServiceError | None = None,
) -> dict[str, Any]:
    params: dict[str, Any] = {"action": query.action, "resource": query.resource}
    if principal_arn:
        params["principalArn"] = principal_arn
    rec = audit.build_record(
        caller=service_caller,
        meta=meta,
        service=SIGNING_NAME,
        operation="Authorize",
        params=None,
        read_only=True,
        error=error,
        account_id=service_caller.account_id,
    )
    rec["requestParameters"] = params
    if outcome is not None:
        rec["additionalEventData"] = {"decision": outcome}
    return rec


def _data_record(
    service_caller: Caller,
    meta: RequestMeta,
    principal: Caller,
    query: AuthorizeQuery,
    answer: Mapping[str, Any],
) -> dict[str, Any]:
    """The end user's call of `query.action`, as a CloudTrail data event."""
    prefix, _, name = query.action.partition(":")
    rec = audit.build_record(
        caller=principal,
        meta=meta,
        service=prefix.lower(),
        operation=name,
        params=None,
        read_only=name.startswith(_READ_VERBS),
        account_id=principal.account_id,
    )
    if not answer["allowed"]:
        rec["errorCode"] = "AccessDenied"
        rec["errorMessage"] = answer["message"]
    rec["requestParameters"] = None
    rec["resources"] = [{"ARN": query.resource, "accountId": principal.account_id}]
    rec["managementEvent"] = False
    rec["eventCategory"] = "Data"
    rec["additionalEventData"] = {
        "authorizedBy": service_caller.arn,
        "decision": answer["decision"],
    }
    return rec


# ----------------------------------------------------------------------------- entry


@dataclass(frozen=True)
class ServiceSignature:
    """The calling service's own signature on its /v1/authorize request, verified inside
    the call's unit of work (`now`: when the request arrived; `allowed_regions`: those its
    credential scope may name, None: any)."""

    signed: SignedRequest
    now: dt.datetime
    allowed_regions: Collection[str] | None = None


def authorize_call(
    services: Services,
    service: Caller | ServiceSignature,
    meta: RequestMeta,
    query: AuthorizeQuery | Callable[[], AuthorizeQuery],
) -> tuple[Caller, dict[str, Any]]:
    """Answer one /v1/authorize call from a calling service (already authenticated, or
    its signature, verified here: KeyAuthenticationFailed when one of our keys signed it
    wrongly); returns the calling service and the answer. `query` may be a decoder, run
    once the service is authenticated (a caller that is not learns nothing of its input's
    faults). One read-only unit of work reads everything: the service's key, the end
    user's key, the policies; the audit event and keys' last use go to the group-commit
    writer. Raises ServiceError (AccessDenied, NoSuchEntity, ValidationError) for a call
    that fails."""
    with services.store.unit_of_work(read_only=True) as uow:
        if isinstance(service, Caller):
            service_caller = service
        else:
            service_caller = authenticate_in(
                uow,
                services,
                service.signed,
                read_only=True,
                now=service.now,
                service=SIGNING_NAME,
                region=meta.region,
                allowed_regions=service.allowed_regions,
            )
        if not isinstance(query, AuthorizeQuery):
            query = query()
        return service_caller, _authorize_in(uow, services, service_caller, meta, query)


def _authorize_in(
    uow: UnitOfWork,
    services: Services,
    service_caller: Caller,
    meta: RequestMeta,
    query: AuthorizeQuery,
) -> dict[str, Any]:
    principal_arn = query.principal_arn
    try:
        _check_context(query.context)
        principal: Caller | None = None
        if query.signature_error is not None:
            answer = _unauthenticated(signature_error(query.signature_error))
        elif query.signed is not None:
            try:
                principal = authenticate_in(
                    uow,
                    services,
                    query.signed,
                    read_only=True,
                    now=meta.now,
                    service=query.signing_name,
                    region=meta.region,
                )
            except KeyAuthenticationFailed as exc:
                # One of our keys: counted, recorded and throttled like a failed API call,
                # so this endpoint is no faster an oracle for guessing signatures.
                prefix, _, name = query.action.partition(":")
                answer = _unauthenticated(
                    auth_failures.authentication_failed(
                        services, meta, exc, service=prefix.lower(), operation=name
                    )
                )
            except ServiceError as exc:
                answer = _unauthenticated(exc)
            else:
                principal_arn = principal.arn
        elif principal_arn is None:
            raise ValidationError("principal is required.")
        ctx = OpContext(caller=service_caller, meta=meta, uow=uow, services=services)
        if principal_arn is not None:
            account = _arn_parts(principal_arn)[1]
            _require(ctx, AUTHORIZE, principal_arn, account)
            if principal is None:
                _require(ctx, AUTHORIZE_BY_ARN, principal_arn, account)
                principal = _principal_from_arn(ctx, principal_arn, account)
        if principal is not None:
            asked = OpContext(caller=principal, meta=meta, uow=uow, services=services)
            decision, context = _decide(asked, principal, query)
            answer = _answer(asked, principal, query, decision, context)
            data_events = data_events_enabled(ctx, principal.account_id)
        else:
            data_events = False
    except ServiceError as error:
        if services.audit:
            rec = _management_record(service_caller, meta, query, principal_arn, error=error)
            audit.append_deferred(services, service_caller.account_id, rec)
        raise
    if services.audit:
        if data_events and principal is not None:
            rec = _data_record(service_caller, meta, principal, query, answer)
            audit.append_deferred(services, principal.account_id, rec)
        else:
            rec = _management_record(
                service_caller, meta, query, principal_arn, outcome=answer["decision"]
            )
            audit.append_deferred(services, service_caller.account_id, rec)
    return answer
