"""STS AssumeRoleWithSAML: a role session for whoever brings a SAML 2.0 response of one
of the role account's SAML providers, as AWS issues it.

The request is unsigned (the app hands it to us with an anonymous caller): its proof is
the response, verified by `ops.saml` with the provider's metadata. Then, as AWS:
the requested RoleArn/PrincipalArn pair must be one of the response's `Role` attribute
values, and the role's trust policy must allow sts:AssumeRoleWithSAML (and sts:TagSession
for PrincipalTag attributes, sts:SetSourceIdentity for SourceIdentity) to the provider as
`Federated` principal, with the `saml:` condition keys the response gives. That is one
evaluation of the engine, the trust policy as the resource policy with
`require_resource_allow`, as `ops.sts` does for AssumeRole.

Each assertion is accepted once per account: its (issuer, ID) is recorded in the role's
account until the assertion would be refused anyway (`SamlAssertionUse`), under that
account's lock (taken after the dispatcher's, as AssumeRoleWithWebIdentity takes it), so
concurrent requests cannot both use it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re

from chamberlain.domain import Role, SamlAssertionUse, SamlProvider, Tags, joined
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import (
    AccessDenied,
    InvalidIdentityToken,
    InvalidParameterValue,
    ValidationError,
)
from chamberlain.ops.core.registry import Output, Params, operation
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
    ROLE_DURATION_MODEL_MAX,
    ROLE_SESSION_DEFAULT,
    add_session_tag,
    find_role,
    model_bound,
    packed_size,
    policy_arns,
    session_policy,
)
from chamberlain.ops.sts.saml import (
    SamlAssertion,
    check_validity,
    decode_assertion,
    signing_certificates,
    verify_response,
)
from chamberlain.policy import (
    PrincipalType,
)
from chamberlain.policy.request import ContextValue

ACTION = "sts:AssumeRoleWithSAML"
NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithSAML"
PROVIDER_MISSING = "Specified provider doesn't exist."
SESSION_NAME_REQUIRED = "RoleSessionName is required in AuthnResponse"
SESSION_NAME_INVALID = "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"
SOURCE_IDENTITY_INVALID = (
    'Source Identity must match [a-zA-Z_0-9+=,.@-]{2,64} and not begin with "aws:"'
)
REPLAYED = "The SAML assertion has already been used."

_ATTRIBUTES = "https://aws.amazon.com/SAML/Attributes/"
ROLE_ATTRIBUTE = _ATTRIBUTES + "Role"
SESSION_NAME_ATTRIBUTE = _ATTRIBUTES + "RoleSessionName"
SESSION_DURATION_ATTRIBUTE = _ATTRIBUTES + "SessionDuration"
SOURCE_IDENTITY_ATTRIBUTE = _ATTRIBUTES + "SourceIdentity"
TRANSITIVE_ATTRIBUTE = _ATTRIBUTES + "TransitiveTagKeys"
TAG_ATTRIBUTE_PREFIX = _ATTRIBUTES + "PrincipalTag:"
MAX_SESSION_TAGS = 50

_SESSION_NAME = re.compile(r"[a-zA-Z_0-9+=,.@-]{2,64}")
_SECONDS = re.compile(r"[0-9]{1,9}")
_SAML_PROVIDER_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):saml-provider/([\w+=,.@-]{1,128})")
# Tag keys: Unicode letters, digits, spaces and _ . : / = + - @ (IAM's tagKeyType).
_TAG_KEY = re.compile(r"[\w\s.:/=+\-@]{1,128}")
_TAG_VALUE = re.compile(r"[\w\s.:/=+\-@]{0,256}")

# AWS's "Mapping SAML attributes to AWS trust policy context keys": attribute Name ->
# (context key, multi-valued).
_EDU_PERSON = "urn:oid:1.3.6.1.4.1.5923.1.1.1."
_EDU_ORG = "urn:oid:1.3.6.1.4.1.5923.1.2.1."
_AD = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
CONTEXT_ATTRIBUTES: dict[str, tuple[str, bool]] = {
    _EDU_PERSON + "1": ("saml:edupersonaffiliation", True),
    _EDU_PERSON + "2": ("saml:edupersonnickname", True),
    _EDU_PERSON + "3": ("saml:edupersonorgdn", False),
    _EDU_PERSON + "4": ("saml:edupersonorgunitdn", True),
    _EDU_PERSON + "5": ("saml:edupersonprimaryaffiliation", False),
    _EDU_PERSON + "6": ("saml:edupersonprincipalname", False),
    _EDU_PERSON + "7": ("saml:edupersonentitlement", True),
    _EDU_PERSON + "8": ("saml:edupersonprimaryorgunitdn", False),
    _EDU_PERSON + "9": ("saml:edupersonscopedaffiliation", True),
    _EDU_PERSON + "10": ("saml:edupersontargetedid", True),
    _EDU_PERSON + "11": ("saml:edupersonassurance", True),
    _EDU_ORG + "2": ("saml:eduorghomepageuri", True),
    _EDU_ORG + "3": ("saml:eduorgidentityauthnpolicyuri", True),
    _EDU_ORG + "4": ("saml:eduorglegalname", True),
    _EDU_ORG + "5": ("saml:eduorgsuperioruri", True),
    _EDU_ORG + "6": ("saml:eduorgwhitepagesuri", True),
    "urn:oid:2.5.4.3": ("saml:cn", True),
    _AD + "name": ("saml:name", False),
    "http://schemas.xmlsoap.org/claims/CommonName": ("saml:commonName", False),
    _AD + "givenname": ("saml:givenName", False),
    _AD + "surname": ("saml:surname", False),
    _AD + "emailaddress": ("saml:mail", False),
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/primarygroupsid": ("saml:uid", False),
    "2.5.4.3": ("saml:commonName", False),
    "2.5.4.4": ("saml:surname", False),
    "2.4.5.42": ("saml:givenName", False),  # sic, as AWS's table has it
    "2.5.4.45": ("saml:x500UniqueIdentifier", False),
    "0.9.2342.19200300100.1.1": ("saml:uid", False),
    "0.9.2342.19200300100.1.3": ("saml:mail", False),
    "0.9.2342.19200300.100.1.45": ("saml:organizationStatus", False),
}


def _denied() -> AccessDenied:
    return AccessDenied(NOT_AUTHORIZED)


# ---------------------------------------------------------------------- the provider


def _provider(ctx: OpContext, principal_arn: str, role_account: str) -> SamlProvider:
    match = _SAML_PROVIDER_ARN.fullmatch(principal_arn)
    if match is None:
        raise ValidationError("Request ARN is invalid")
    provider = None
    if match.group(1) == role_account:
        provider = ctx.uow.repo(SamlProvider).get(role_account, principal_arn)
    if provider is None:
        raise InvalidIdentityToken(PROVIDER_MISSING)
    if provider.valid_until <= ctx.now:
        raise InvalidIdentityToken("The SAML provider's metadata is no longer valid (ValidUntil).")
    return provider


def name_qualifier(issuer: str, account_id: str, provider_name: str) -> str:
    """AWS's NameQualifier: BASE64(SHA1(issuer + account id + "/" + provider name))."""
    digest = hashlib.sha1((issuer + account_id + "/" + provider_name).encode()).digest()
    return base64.b64encode(digest).decode("ascii")


# ----------------------------------------------------------------- the assertion


def _role_pairs(assertion: SamlAssertion) -> set[tuple[str, str]]:
    """(role ARN, provider ARN) pairs of the Role attribute; AWS takes either order."""
    pairs: set[tuple[str, str]] = set()
    for value in assertion.values(ROLE_ATTRIBUTE):
        parts = [p.strip() for p in value.split(",")]
        if len(parts) != 2:
            continue
        first, second = parts
        if ":saml-provider/" in first:
            first, second = second, first
        pairs.add((first, second))
    return pairs


def _single(assertion: SamlAssertion, name: str) -> str | None:
    values = assertion.values(name)
    return values[0] if values else None


def _session_name(assertion: SamlAssertion) -> str:
    name = _single(assertion, SESSION_NAME_ATTRIBUTE)
    if name is None:
        raise InvalidIdentityToken(SESSION_NAME_REQUIRED)
    if _SESSION_NAME.fullmatch(name) is None:
        raise InvalidIdentityToken(SESSION_NAME_INVALID)
    return name


def _source_identity(assertion: SamlAssertion) -> str | None:
    value = _single(assertion, SOURCE_IDENTITY_ATTRIBUTE)
    if value is None:
        return None
    if _SESSION_NAME.fullmatch(value) is None or value.lower().startswith("aws:"):
        raise InvalidIdentityToken(SOURCE_IDENTITY_INVALID)
    return value


def _session_duration(assertion: SamlAssertion) -> int | None:
    value = _single(assertion, SESSION_DURATION_ATTRIBUTE)
    if value is None:
        return None
    # ASCII digits only: str.isdigit() also takes "²" and other digits int() refuses.
    if _SECONDS.fullmatch(value) is None or not (
        MIN_DURATION <= int(value) <= ROLE_DURATION_MODEL_MAX
    ):
        raise InvalidIdentityToken(
            f"SessionDuration in AuthnResponse must be an integer from {MIN_DURATION} to "
            f"{ROLE_DURATION_MODEL_MAX}"
        )
    return int(value)


def _session_tags(assertion: SamlAssertion) -> tuple[Tags, tuple[str, ...]]:
    """The PrincipalTag:KEY attributes (session tags) and TransitiveTagKeys, checked as
    AssumeRole checks its Tags and TransitiveTagKeys."""
    tags: list[tuple[str, str]] = []
    for name, values in assertion.attributes:
        if not name.startswith(TAG_ATTRIBUTE_PREFIX):
            continue
        key = name.removeprefix(TAG_ATTRIBUTE_PREFIX)
        value = values[0] if values else ""
        if _TAG_KEY.fullmatch(key) is None or _TAG_VALUE.fullmatch(value) is None:
            raise InvalidParameterValue(f"The session tag {key!r} has an invalid key or value.")
        add_session_tag(tags, key, value)
    if len(tags) > MAX_SESSION_TAGS:
        raise InvalidParameterValue(
            f"The number of session tags exceeds the limit of {MAX_SESSION_TAGS}."
        )
    transitive = tuple(dict.fromkeys(assertion.values(TRANSITIVE_ATTRIBUTE)))
    for key in transitive:
        if key.lower() not in {k.lower() for k, _ in tags}:
            raise InvalidParameterValue(
                f"The transitive tag key {key} is not one of the session tags of the request."
            )
    return tuple(tags), transitive


def _duration(params: Params, role: Role, assertion: SamlAssertion, now: dt.datetime) -> int:
    """DurationSeconds (default one hour) within the role's MaxSessionDuration, shortened
    by the SessionDuration attribute and the AuthnStatement's SessionNotOnOrAfter."""
    requested = params.get("DurationSeconds")
    duration = requested if requested is not None else ROLE_SESSION_DEFAULT
    check_duration(role, duration)
    limit = _session_duration(assertion)
    if limit is not None:
        duration = min(duration, limit)
    session_end = assertion.session_not_on_or_after
    if session_end is not None:
        remaining = int((session_end - now).total_seconds())
        if remaining <= 0:
            raise InvalidIdentityToken("The SAML session (SessionNotOnOrAfter) has ended.")
        duration = min(duration, remaining)
    return duration


# ----------------------------------------------------------------- trust and replay


def saml_context(
    assertion: SamlAssertion, provider: SamlProvider, qualifier: str
) -> dict[str, ContextValue]:
    """The `saml:` condition keys of the response (AWS's trust-policy keys)."""
    context: dict[str, ContextValue] = {
        "saml:aud": assertion.recipient or "",  # AWS: the Recipient, not the Audience
        "saml:iss": assertion.issuer,
        "saml:doc": f"{provider.account_id}/{provider.name}",
        "saml:namequalifier": qualifier,
        "saml:sub_type": assertion.subject_type,
    }
    if assertion.name_id is not None:
        context["saml:sub"] = assertion.name_id
    for name, values in assertion.attributes:
        mapped = CONTEXT_ATTRIBUTES.get(name)
        if mapped is None or not values:
            continue
        key, multi = mapped
        # AWS: one claim per key; when there are more, only one is mapped.
        context.setdefault(key, list(values) if multi else values[0])
    return context


#: The `saml:` keys AWS keeps for the session: its permission policies (and those of the
#: services it calls) can test them on every request (IAM User Guide, "Available keys
#: for SAML-based federation", permission policies).
SESSION_KEYS = ("saml:namequalifier", "saml:sub", "saml:sub_type")


def session_context(context: dict[str, ContextValue]) -> dict[str, ContextValue]:
    """The keys of `SESSION_KEYS` the response gave."""
    return {key: context[key] for key in SESSION_KEYS if key in context}


def _check_replay(ctx: OpContext, assertion: SamlAssertion, account_id: str) -> None:
    """Refuse an assertion the account already accepted; forget the expired ones (few:
    an assertion expires at most five minutes after it was issued)."""
    ctx.uow.lock_account(account_id)  # check-then-record, serialized on every node
    repo = ctx.uow.repo(SamlAssertionUse)
    used = repo.get(account_id, joined(assertion.issuer, assertion.assertion_id))
    if used is not None and used.expires > ctx.now:
        raise InvalidIdentityToken(REPLAYED)
    for old in repo.list(account_id):
        if old.expires <= ctx.now:
            repo.delete(account_id, old.key)


def _record_use(ctx: OpContext, assertion: SamlAssertion, account_id: str) -> None:
    ctx.uow.repo(SamlAssertionUse).put(
        SamlAssertionUse(
            account_id=account_id,
            issuer=assertion.issuer,
            assertion_id=assertion.assertion_id,
            expires=assertion.expires,
        )
    )


# ---------------------------------------------------------------------- the operation


@operation("sts", "AssumeRoleWithSAML", resource=None)
def assume_role_with_saml(ctx: OpContext, params: Params) -> Output:
    """Not authorized by the dispatcher: the caller is whoever holds the response; the
    role's trust policy decides. Nothing is written or issued unless every check passes."""
    requested = params.get("DurationSeconds")
    if requested is not None:
        model_bound(requested, "durationSeconds", MIN_DURATION, ROLE_DURATION_MODEL_MAX)
    policy = session_policy(params)
    managed_arns = policy_arns(params)
    role_arn, principal_arn = params["RoleArn"], params["PrincipalArn"]
    role = find_role(ctx, role_arn)  # ValidationError for a malformed ARN
    role_account = role_arn.split(":")[4]
    provider = _provider(ctx, principal_arn, role_account)

    assertion = _verified_assertion(ctx, provider, params["SAMLAssertion"])

    # What it says, as AWS reads it.
    if role is None or (role_arn, principal_arn) not in _role_pairs(assertion):
        raise _denied()
    _check_replay(ctx, assertion, role.account_id)
    session_name = _session_name(assertion)
    source_identity = _source_identity(assertion)
    if assertion.name_id is None:
        raise _denied()  # AWS: a response without Subject/NameID is not authorized
    tags, transitive = _session_tags(assertion)
    packed = packed_size(policy, managed_arns, tags)

    qualifier = name_qualifier(assertion.issuer, provider.account_id, provider.name)
    context = federated_request_context(ctx, provider.arn)
    context.update(saml_context(assertion, provider, qualifier))
    context.update(session_request_context(tags, transitive, source_identity))
    require_trust(
        ACTION,
        role=role,
        context=context,
        tagging=bool(tags or transitive),
        source_identity=bool(source_identity),
        allows=lambda action, full: federated_trust_allows(
            ctx, role, PrincipalType.SAML, provider.arn, action, full
        ),
        refuse=lambda action: _denied(),
    )
    duration = _duration(params, role, assertion, ctx.now)

    _record_use(ctx, assertion, role.account_id)
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
            extra_context=session_context(context),
        ),
    )
    out.update(_subject_fields(assertion, qualifier))
    return out


def _verified_assertion(ctx: OpContext, provider: SamlProvider, encoded: str) -> SamlAssertion:
    """The response: well-formed, signed by the provider, for AWS, in time (its single
    use is checked once the role is known)."""
    raw = decode_assertion(encoded)
    assertion = verify_response(raw, signing_certificates(provider.metadata_document))
    check_validity(assertion, ctx.now)
    return assertion


def _subject_fields(assertion: SamlAssertion, qualifier: str) -> dict[str, str | None]:
    """What AssumeRoleWithSAML answers about the response besides the session."""
    return {
        "Subject": assertion.name_id,
        "SubjectType": assertion.subject_type,
        "Issuer": assertion.issuer,
        "Audience": assertion.recipient,
        "NameQualifier": qualifier,
    }
