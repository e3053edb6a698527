"""Account-wide settings and the account's view of its own permissions:

* SetSecurityTokenServicePreferences (the global endpoint's session token version, which
  GetAccountSummary reports as GlobalEndpointTokenVersion: see
  `global_endpoint_token_version`);
* GetAccountProperties / PutAccountProperties (`Namespace/PropertyName` keys);
* Enable/DisableOutboundWebIdentityFederation, GetOutboundWebIdentityFederationInfo
  (whether principals may obtain JWTs from STS GetWebIdentityToken, and the account's
  issuer URL, which stays the same across disable/enable);
* ListPoliciesGrantingServiceAccess: for each service namespace, the identity policies
  of a user (with its groups'), group or role that allow some action of that service.

The settings live in one `AccountSettings` record per account.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from chamberlain.domain import (
    AccountSettings,
    Attachment,
    Group,
    InlinePolicy,
    Membership,
    Role,
    User,
    joined,
)
from chamberlain.ops.core.authz import managed_policy_text
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import FeatureDisabled, FeatureEnabled, InvalidInput, NoSuchEntity
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.ops.core.tags import resource_tag_context
from chamberlain.policy import MalformedPolicyDocument, Policy, PolicyType, parse_policy
from chamberlain.policy.compile import ActionMatcher
from chamberlain.policy.model import Effect

SETTINGS_KEY = "account_settings"
TOKEN_VERSIONS = {"v1Token": 1, "v2Token": 2}
DEFAULT_TOKEN_VERSION = 1
ISSUER_TEMPLATE = "https://{id}.tokens.sts.global.api.aws"


def settings(ctx: OpContext) -> AccountSettings:
    stored = ctx.uow.repo(AccountSettings).get(ctx.account_id, SETTINGS_KEY)
    return stored if stored is not None else AccountSettings(account_id=ctx.account_id)


def global_endpoint_token_version(ctx: OpContext) -> int:
    """1 or 2: what GetAccountSummary reports as GlobalEndpointTokenVersion."""
    return settings(ctx).global_endpoint_token_version


def _star(ctx: OpContext, params: Params) -> Target:
    return Target("*")


def _save(ctx: OpContext, updated: AccountSettings) -> None:
    ctx.uow.repo(AccountSettings).put(updated)


# -------------------------------------------------------------- STS preferences


@operation("iam", "SetSecurityTokenServicePreferences", resource=_star)
def set_security_token_service_preferences(ctx: OpContext, params: Params) -> Output:
    version = TOKEN_VERSIONS[params["GlobalEndpointTokenVersion"]]
    _save(ctx, replace(settings(ctx), global_endpoint_token_version=version))
    return None


# ----------------------------------------------------------- account properties


def _namespace(key: str) -> str:
    namespace, sep, name = key.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise InvalidInput(
            f"Invalid property key {key}. A key must be Namespace/PropertyName, with exactly "
            "one / that neither starts nor ends it."
        )
    return namespace


@operation("iam", "GetAccountProperties", resource=_star, read_only=True)
def get_account_properties(ctx: OpContext, params: Params) -> Output:
    return {"Properties": dict(settings(ctx).properties)}


@operation("iam", "PutAccountProperties", resource=_star)
def put_account_properties(ctx: OpContext, params: Params) -> Output:
    given: dict[str, str] = params["Properties"]
    namespaces = {_namespace(key) for key in given}
    if len(namespaces) > 1:
        raise InvalidInput("All properties in a single request must belong to the same namespace.")
    current = settings(ctx)
    merged = dict(current.properties)
    merged.update(given)
    _save(ctx, replace(current, properties=tuple(sorted(merged.items()))))
    return None


# ------------------------------------------------- outbound web identity federation


@operation("iam", "EnableOutboundWebIdentityFederation", resource=_star)
def enable_outbound_web_identity_federation(ctx: OpContext, params: Params) -> Output:
    current = settings(ctx)
    if current.outbound_enabled:
        raise FeatureEnabled(
            "Outbound identity federation is already enabled for your account. To fetch the "
            "current configuration, use GetOutboundWebIdentityFederationInfo."
        )
    issuer = current.outbound_issuer or ISSUER_TEMPLATE.format(id=uuid.uuid4())
    _save(ctx, replace(current, outbound_issuer=issuer, outbound_enabled=True))
    return {"IssuerIdentifier": issuer}


@operation("iam", "DisableOutboundWebIdentityFederation", resource=_star)
def disable_outbound_web_identity_federation(ctx: OpContext, params: Params) -> Output:
    current = settings(ctx)
    if not current.outbound_enabled:
        raise FeatureDisabled("Outbound identity federation is already disabled for your account.")
    _save(ctx, replace(current, outbound_enabled=False))
    return None


@operation("iam", "GetOutboundWebIdentityFederationInfo", resource=_star, read_only=True)
def get_outbound_web_identity_federation_info(ctx: OpContext, params: Params) -> Output:
    current = settings(ctx)
    if current.outbound_issuer is None:
        raise FeatureDisabled("Outbound identity federation is disabled for your account.")
    return {
        "IssuerIdentifier": current.outbound_issuer,
        "JwtVendingEnabled": current.outbound_enabled,
    }


# ------------------------------------------------ ListPoliciesGrantingServiceAccess

_IDENTITY_ARN = re.compile(
    r"arn:[\w-]+:iam::(?P<account>\d{12}):(?P<kind>user|group|role)"
    r"(?:/[\x21-\x7e]*)?/(?P<name>[\w+=,.@-]+)"
)
_ENTITY_TYPES = {"user": "USER", "group": "GROUP", "role": "ROLE"}
_REPOS: dict[str, type[User] | type[Group] | type[Role]] = {
    "user": User,
    "group": Group,
    "role": Role,
}


def _identity(ctx: OpContext, arn: str) -> tuple[str, Any]:
    """(kind, entity) named by an identity ARN of this account."""
    match = _IDENTITY_ARN.fullmatch(arn)
    if match is None:
        raise InvalidInput(f"ARN {arn} is not valid.")
    kind, name = match["kind"], match["name"]
    entity = None
    if match["account"] == ctx.account_id:
        entity = ctx.uow.repo(_REPOS[kind]).get(ctx.account_id, name.lower())
    if entity is None or entity.arn != arn:
        raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
    return kind, entity


def _access_target(ctx: OpContext, params: Params) -> Target:
    arn = params["Arn"]
    try:
        entity = _identity(ctx, arn)[1]
    except (InvalidInput, NoSuchEntity):
        return Target(arn)
    return Target(entity.arn, resource_tag_context(getattr(entity, "tags", ()), iam_keys=True))


@dataclass(frozen=True)
class _Source:
    """One identity policy of the entity, as the answer names it."""

    name: str
    document: str
    arn: str | None = None  # managed policies
    owner_kind: str | None = None  # inline policies: USER | GROUP | ROLE
    owner_name: str | None = None

    def out(self) -> dict[str, Any]:
        if self.arn is not None:
            return {"PolicyName": self.name, "PolicyType": "MANAGED", "PolicyArn": self.arn}
        return {
            "PolicyName": self.name,
            "PolicyType": "INLINE",
            "EntityType": self.owner_kind,
            "EntityName": self.owner_name,
        }


def _own_sources(ctx: OpContext, kind: str, name: str) -> Iterator[_Source]:
    prefix = joined(kind, name.lower(), "")
    for inline in ctx.uow.repo(InlinePolicy).list(ctx.account_id, key_prefix=prefix):
        yield _Source(inline.policy_name, inline.document, None, _ENTITY_TYPES[kind], name)
    for attachment in ctx.uow.repo(Attachment).list(ctx.account_id, key_prefix=prefix):
        text = managed_policy_text(ctx, attachment.policy_arn)
        if text is not None:
            policy_name = attachment.policy_arn.rsplit("/", 1)[-1]
            yield _Source(policy_name, text, attachment.policy_arn)


def _sources(ctx: OpContext, kind: str, entity: Any) -> list[_Source]:
    """The entity's own policies; for a user, its groups' policies too (each managed
    policy once, however many of them attach it)."""
    found = list(_own_sources(ctx, kind, entity.name))
    if kind == "user":
        for membership in ctx.uow.repo(Membership).list(ctx.account_id, ref=entity.key):
            found.extend(_own_sources(ctx, "group", membership.group_name))
    unique: dict[tuple[str | None, ...], _Source] = {}
    for source in found:
        key = (source.arn,) if source.arn else (source.owner_kind, source.owner_name, source.name)
        unique.setdefault(key, source)
    return list(unique.values())


def _vendor(pattern: str) -> tuple[str, str]:
    """("*", "") for the bare wildcard, else (service prefix, action part). The policy
    grammar keeps wildcards out of the service prefix, so it compares literally."""
    if pattern == "*":
        return "*", ""
    vendor, _, action = pattern.partition(":")
    return vendor.lower(), action


def _allows_some(patterns: tuple[str, ...], namespace: str) -> bool:
    """Some action of `namespace` matches one of the Action patterns: the candidate is
    built from the pattern and the policy engine's matcher has the last word."""
    for pattern in patterns:
        vendor, action = _vendor(pattern)
        if vendor not in ("*", namespace):
            continue
        name = re.sub(r"[*?]", "x", action) or "x"
        if ActionMatcher([pattern]).match(f"{namespace}:{name}".lower()):
            return True
    return False


def _excludes_all(patterns: tuple[str, ...], namespace: str) -> bool:
    """A NotAction list that leaves no action of `namespace` over: `*`, `ns:*`, `ns:**`."""
    for pattern in patterns:
        vendor, action = _vendor(pattern)
        if vendor == "*" or (vendor == namespace and action and set(action) == {"*"}):
            return True
    return False


def _grants(policy: Policy, namespace: str) -> bool:
    for statement in policy.statements:
        if statement.effect is not Effect.ALLOW:
            continue
        if statement.action is not None and _allows_some(statement.action, namespace):
            return True
        if statement.not_action is not None and not _excludes_all(statement.not_action, namespace):
            return True
    return False


def _parsed(source: _Source) -> Policy | None:
    try:
        return parse_policy(source.document, PolicyType.IDENTITY)
    except MalformedPolicyDocument:  # stored before a stricter rule: it grants nothing
        return None


@operation("iam", "ListPoliciesGrantingServiceAccess", resource=_access_target, read_only=True)
def list_policies_granting_service_access(ctx: OpContext, params: Params) -> Output:
    if params.get("Marker") is not None:  # answers are never truncated: no marker is valid
        raise InvalidInput("Invalid Marker.")
    kind, entity = _identity(ctx, params["Arn"])
    parsed = [(s, p) for s in _sources(ctx, kind, entity) if (p := _parsed(s)) is not None]
    entries = []
    for namespace in params["ServiceNamespaces"]:
        wanted = namespace.lower()
        policies = [source.out() for source, policy in parsed if _grants(policy, wanted)]
        entries.append({"ServiceNamespace": namespace, "Policies": policies})
    return {"PoliciesGrantingServiceAccess": entries, "IsTruncated": False}
