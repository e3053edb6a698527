"""Identity providers for federation: OpenID Connect and SAML 2.0.

OIDC: CreateOpenIDConnectProvider, GetOpenIDConnectProvider, DeleteOpenIDConnectProvider,
ListOpenIDConnectProviders, AddClientIDToOpenIDConnectProvider,
RemoveClientIDFromOpenIDConnectProvider, UpdateOpenIDConnectProviderThumbprint and tags.
The URL must be https; AWS keeps it without the scheme and names the provider
arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH.

SAML: CreateSAMLProvider, GetSAMLProvider, UpdateSAMLProvider, DeleteSAMLProvider,
ListSAMLProviders and tags. The metadata document is parsed with the standard library;
a DOCTYPE (and so any entity declaration) is refused before parsing, which rules out
entity-expansion and external-entity attacks.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import TypeVar
from urllib.parse import urlsplit

from chamberlain.domain import OidcProvider, SamlProvider
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import OIDC_PROVIDERS, SAML_PROVIDERS, EntityKind
from chamberlain.ops.core.errors import (
    InvalidInput,
    LimitExceeded,
    ValidationError,
)
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.ops.core.tagging import tag_operations
from chamberlain.ops.core.tags import (
    check_tag_count,
    creation_target,
    tags_in,
    with_tags,
)
from chamberlain.ops.iam.access_keys import reject_unsupported

OIDC_PROVIDERS_PER_ACCOUNT = 100
SAML_PROVIDERS_PER_ACCOUNT = 100
CLIENT_IDS_PER_PROVIDER = 100
THUMBPRINTS_PER_PROVIDER = 5
# ValidUntil of a SAML provider whose metadata does not say (AWS keeps one regardless).
DEFAULT_SAML_VALIDITY = dt.timedelta(days=365 * 100)
P = TypeVar("P", OidcProvider, SamlProvider)
_THUMBPRINT = re.compile(r"[0-9A-Fa-f]{40}")
_MD = "urn:oasis:names:tc:SAML:2.0:metadata"
_UNSUPPORTED_FEDERATION = ("ContextProvider", "IdentityCenterInstanceArn")


def _star(ctx: OpContext, params: Params) -> Target:
    return Target("*")


def _arn_prefix(ctx: OpContext, kind: str) -> str:
    return f"arn:{ctx.services.partition}:iam::{ctx.account_id}:{kind}/"


def _add(
    ctx: OpContext,
    kind: EntityKind[P],
    provider: P,
    taken: str,
    quota: tuple[str, int],
    member: str,
) -> Output:
    """CreateOpenIDConnectProvider / CreateSAMLProvider: store `provider` unless its ARN
    is taken (EntityAlreadyExists `taken`) or the account is at its quota; the output
    names it by ARN (`member`) with its tags."""
    kind.check_free(ctx, provider.key, taken, *quota)
    ctx.uow.repo(kind.entity).add(provider)
    return with_tags({member: provider.arn}, provider.tags)


# ============================================================================= OIDC


def _oidc_url(url: str) -> str:
    """The URL as AWS stores it (no scheme), or ValidationError."""
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise ValidationError("Invalid Open ID Connect Provider URL") from exc
    valid = (
        parts.scheme.lower() == "https"
        and parts.hostname
        and not parts.query
        and not parts.fragment
        and not parts.username
        and not parts.password
    )
    if not valid:
        raise ValidationError("Invalid Open ID Connect Provider URL")
    return parts.netloc + parts.path


def _oidc_arn(ctx: OpContext, stored_url: str) -> str:
    return _arn_prefix(ctx, "oidc-provider") + stored_url


def _check_thumbprints(thumbprints: list[str]) -> tuple[str, ...]:
    if len(thumbprints) > THUMBPRINTS_PER_PROVIDER:
        raise InvalidInput("Thumbprint list must contain fewer than 5 entries.")
    for thumbprint in thumbprints:
        if _THUMBPRINT.fullmatch(thumbprint) is None:
            raise InvalidInput(f"Thumbprint {thumbprint} is not a valid SHA-1 thumbprint.")
    return tuple(dict.fromkeys(thumbprints))


def _check_client_ids(client_ids: list[str]) -> tuple[str, ...]:
    unique = tuple(dict.fromkeys(client_ids))
    if len(unique) > CLIENT_IDS_PER_PROVIDER:
        raise LimitExceeded(
            f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {CLIENT_IDS_PER_PROVIDER}"
        )
    return unique


def _oidc_create_target(ctx: OpContext, params: Params) -> Target:
    url = params["Url"]
    try:
        arn = _oidc_arn(ctx, _oidc_url(url))
    except ValidationError:
        arn = _arn_prefix(ctx, "oidc-provider") + url
    return creation_target(arn, params, "iam:TagOpenIDConnectProvider")


@operation("iam", "CreateOpenIDConnectProvider", resource=_oidc_create_target)
def create_oidc_provider(ctx: OpContext, params: Params) -> Output:
    reject_unsupported(params, *_UNSUPPORTED_FEDERATION)
    url = _oidc_url(params["Url"])
    client_ids = _check_client_ids(list(params.get("ClientIDList") or []))
    thumbprints = _check_thumbprints(list(params.get("ThumbprintList") or []))
    tags = check_tag_count(tags_in(params.get("Tags")))
    provider = OidcProvider(
        account_id=ctx.account_id,
        arn=_oidc_arn(ctx, url),
        url=url,
        client_ids=client_ids,
        thumbprints=thumbprints,
        created=ctx.now,
        tags=tags,
    )
    taken = f"Provider with url {params['Url']} already exists."
    quota = ("OpenIdConnectProvidersPerAccount", OIDC_PROVIDERS_PER_ACCOUNT)
    return _add(ctx, OIDC_PROVIDERS, provider, taken, quota, "OpenIDConnectProviderArn")


@operation("iam", "GetOpenIDConnectProvider", resource=OIDC_PROVIDERS.resolve, read_only=True)
def get_oidc_provider(ctx: OpContext, params: Params) -> Output:
    provider = OIDC_PROVIDERS.require(ctx, params["OpenIDConnectProviderArn"])
    out = {
        "Url": provider.url,
        "ClientIDList": list(provider.client_ids),
        "ThumbprintList": list(provider.thumbprints),
        "CreateDate": provider.created,
    }
    return with_tags(out, provider.tags)


@operation("iam", "DeleteOpenIDConnectProvider", resource=OIDC_PROVIDERS.resolve)
def delete_oidc_provider(ctx: OpContext, params: Params) -> Output:
    """Idempotent, as AWS documents it: deleting a provider that does not exist succeeds
    (a malformed ARN is still InvalidInput)."""
    provider = OIDC_PROVIDERS.get(ctx, params["OpenIDConnectProviderArn"])
    if provider is not None:
        ctx.uow.repo(OidcProvider).delete(ctx.account_id, provider.key)
    return None


@operation("iam", "ListOpenIDConnectProviders", resource=_star, read_only=True)
def list_oidc_providers(ctx: OpContext, params: Params) -> Output:
    providers = ctx.uow.repo(OidcProvider).list(ctx.account_id)
    return {"OpenIDConnectProviderList": [{"Arn": p.arn} for p in providers]}


@operation("iam", "AddClientIDToOpenIDConnectProvider", resource=OIDC_PROVIDERS.resolve)
def add_client_id(ctx: OpContext, params: Params) -> Output:
    provider = OIDC_PROVIDERS.require(ctx, params["OpenIDConnectProviderArn"])
    client_ids = _check_client_ids([*provider.client_ids, params["ClientID"]])
    if client_ids != provider.client_ids:
        ctx.uow.repo(OidcProvider).put(replace(provider, client_ids=client_ids))
    return None


@operation("iam", "RemoveClientIDFromOpenIDConnectProvider", resource=OIDC_PROVIDERS.resolve)
def remove_client_id(ctx: OpContext, params: Params) -> Output:
    """Idempotent, as in AWS: removing an absent client ID succeeds."""
    provider = OIDC_PROVIDERS.require(ctx, params["OpenIDConnectProviderArn"])
    client_ids = tuple(c for c in provider.client_ids if c != params["ClientID"])
    if client_ids != provider.client_ids:
        ctx.uow.repo(OidcProvider).put(replace(provider, client_ids=client_ids))
    return None


@operation("iam", "UpdateOpenIDConnectProviderThumbprint", resource=OIDC_PROVIDERS.resolve)
def update_thumbprints(ctx: OpContext, params: Params) -> Output:
    provider = OIDC_PROVIDERS.require(ctx, params["OpenIDConnectProviderArn"])
    thumbprints = _check_thumbprints(list(params["ThumbprintList"]))
    ctx.uow.repo(OidcProvider).put(replace(provider, thumbprints=thumbprints))
    return None


tag_operations(OIDC_PROVIDERS, "OpenIDConnectProvider")


# ============================================================================= SAML


_METADATA_ERROR = "Could not parse metadata"


def _parse_datetime(text: str) -> dt.datetime:
    """An xs:dateTime as SAML metadata writes it (UTC when no offset is given)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def parse_saml_metadata(document: str) -> dt.datetime | None:
    """Check that `document` is SAML 2.0 metadata describing an identity provider and
    return its validUntil (None when it has none). Raises InvalidInput."""
    if re.search(r"<!\s*(DOCTYPE|ENTITY)", document, re.IGNORECASE):
        raise InvalidInput(_METADATA_ERROR)
    try:
        root = ET.fromstring(document)
    except ET.ParseError:
        raise InvalidInput(_METADATA_ERROR) from None
    if root.tag == f"{{{_MD}}}EntitiesDescriptor":
        entities = root.findall(f"{{{_MD}}}EntityDescriptor")
    elif root.tag == f"{{{_MD}}}EntityDescriptor":
        entities = [root]
    else:
        raise InvalidInput(_METADATA_ERROR)
    if not any(e.find(f"{{{_MD}}}IDPSSODescriptor") is not None for e in entities):
        raise InvalidInput(_METADATA_ERROR)
    valid_until = root.get("validUntil")
    if valid_until is None:
        return None
    try:
        return _parse_datetime(valid_until)
    except ValueError:
        raise InvalidInput(_METADATA_ERROR) from None


def _saml_arn(ctx: OpContext, name: str) -> str:
    return _arn_prefix(ctx, "saml-provider") + name


def _saml_create_target(ctx: OpContext, params: Params) -> Target:
    return creation_target(_saml_arn(ctx, params["Name"]), params, "iam:TagSAMLProvider")


_UNSUPPORTED_SAML = ("AssertionEncryptionMode", "AddPrivateKey", *_UNSUPPORTED_FEDERATION)


@operation("iam", "CreateSAMLProvider", resource=_saml_create_target)
def create_saml_provider(ctx: OpContext, params: Params) -> Output:
    reject_unsupported(params, *_UNSUPPORTED_SAML)
    name = params["Name"]
    document = params["SAMLMetadataDocument"]
    valid_until = parse_saml_metadata(document)
    tags = check_tag_count(tags_in(params.get("Tags")))
    provider = SamlProvider(
        account_id=ctx.account_id,
        arn=_saml_arn(ctx, name),
        name=name,
        metadata_document=document,
        created=ctx.now,
        valid_until=valid_until or ctx.now + DEFAULT_SAML_VALIDITY,
        tags=tags,
    )
    quota = ("SAMLProvidersPerAccount", SAML_PROVIDERS_PER_ACCOUNT)
    taken = f"SAMLProvider {name} already exists"
    return _add(ctx, SAML_PROVIDERS, provider, taken, quota, "SAMLProviderArn")


@operation("iam", "GetSAMLProvider", resource=SAML_PROVIDERS.resolve, read_only=True)
def get_saml_provider(ctx: OpContext, params: Params) -> Output:
    provider = SAML_PROVIDERS.require(ctx, params["SAMLProviderArn"])
    out = {
        "SAMLMetadataDocument": provider.metadata_document,
        "CreateDate": provider.created,
        "ValidUntil": provider.valid_until,
    }
    return with_tags(out, provider.tags)


@operation("iam", "UpdateSAMLProvider", resource=SAML_PROVIDERS.resolve)
def update_saml_provider(ctx: OpContext, params: Params) -> Output:
    reject_unsupported(
        params,
        *_UNSUPPORTED_SAML,
        "RemovePrivateKey",
        "RemoveContextProvider",
        "RemoveIdentityCenterInstance",
    )
    provider = SAML_PROVIDERS.require(ctx, params["SAMLProviderArn"])
    document = params.get("SAMLMetadataDocument")
    if document is not None:
        valid_until = parse_saml_metadata(document)
        provider = replace(
            provider,
            metadata_document=document,
            valid_until=valid_until or ctx.now + DEFAULT_SAML_VALIDITY,
        )
        ctx.uow.repo(SamlProvider).put(provider)
    return {"SAMLProviderArn": provider.arn}


@operation("iam", "DeleteSAMLProvider", resource=SAML_PROVIDERS.resolve)
def delete_saml_provider(ctx: OpContext, params: Params) -> Output:
    provider = SAML_PROVIDERS.require(ctx, params["SAMLProviderArn"])
    ctx.uow.repo(SamlProvider).delete(ctx.account_id, provider.key)
    return None


@operation("iam", "ListSAMLProviders", resource=_star, read_only=True)
def list_saml_providers(ctx: OpContext, params: Params) -> Output:
    providers = ctx.uow.repo(SamlProvider).list(ctx.account_id)
    return {
        "SAMLProviderList": [
            {"Arn": p.arn, "ValidUntil": p.valid_until, "CreateDate": p.created} for p in providers
        ]
    }


tag_operations(SAML_PROVIDERS, "SAMLProvider")
