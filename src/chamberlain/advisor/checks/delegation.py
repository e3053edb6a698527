"""Role trust policies that trust too much (the seed's "Delegate using roles")."""

from __future__ import annotations

import re

from chamberlain.advisor.engine import Engine
from chamberlain.advisor.findings import Check, Finding, check
from chamberlain.advisor.model import Account, Role
from chamberlain.policy import MalformedPolicyDocument, PolicyType, parse_policy
from chamberlain.policy.model import Effect, Statement

WEB_IDENTITY_PROVIDERS = (
    "accounts.google.com",
    "graph.facebook.com",
    "www.amazon.com",
    "cognito-identity.amazonaws.com",
)
_ACCOUNT = re.compile(r"^(?:arn:aws[\w-]*:(?:iam|sts)::)?(\d{12})")


def _conditions(st: Statement) -> set[str]:
    return {c.key.lower() for c in st.conditions}


def _assumes(st: Statement, action: str) -> bool:
    import fnmatch

    names = st.action or ()
    if st.action is None:
        return not any(fnmatch.fnmatchcase(action.lower(), n.lower()) for n in st.not_action or ())
    return any(fnmatch.fnmatchcase(action.lower(), n.lower()) for n in names)


def problems(role: Role, account_id: str) -> list[str]:
    try:
        trust = parse_policy(role.trust, PolicyType.TRUST)
    except MalformedPolicyDocument as exc:
        return [f"the trust policy is malformed: {exc}"]
    found = []
    for st in trust.statements:
        if st.effect is not Effect.ALLOW or st.principal is None:
            continue
        keys = _conditions(st)
        spec = st.principal
        if (spec.wildcard or "*" in spec.aws) and _assumes(st, "sts:AssumeRole"):
            found.append("trusts every principal (*)")
            continue
        for principal in spec.aws:
            m = _ACCOUNT.match(principal)
            if m is None or m.group(1) == account_id or not _assumes(st, "sts:AssumeRole"):
                continue
            if "sts:externalid" not in keys and "aws:multifactorauthpresent" not in keys:
                found.append(f"trusts {principal} (another account) without sts:ExternalId or MFA")
        for provider in spec.federated:
            host = (
                provider.split("oidc-provider/", 1)[-1]
                if "oidc-provider/" in provider
                else provider
            )
            if ":saml-provider/" in provider:
                continue
            if not (host in WEB_IDENTITY_PROVIDERS or "oidc-provider/" in provider):
                continue
            if not _assumes(st, "sts:AssumeRoleWithWebIdentity"):
                continue
            if not any(
                k.startswith(host.lower() + ":") and k.rsplit(":", 1)[1] in ("aud", "sub", "amr")
                for k in keys
            ):
                found.append(f"trusts web identities of {host} without an aud or sub condition")
    return found


@check(
    "role-trust-broad",
    severity="high",
    practice="delegation",
    cites="AWS: 'The confused deputy problem' (use sts:ExternalId for third parties); "
    "'Creating a role for web identity or OpenID Connect federation' (scope the trust with "
    "the provider's aud and sub keys); IAM Access Analyzer reports roles trusted by "
    "principals outside the account.",
)
def role_trust_broad(c: Check, account: Account, engine: Engine) -> list[Finding]:
    found = []
    for role in account.roles:
        for problem in problems(role, account.account_id):
            found.append(
                c.finding(
                    role.arn,
                    f"Role {role.name}'s trust policy {problem}.",
                    f"aws iam update-assume-role-policy --role-name {role.name} "
                    "--policy-document file://trust.json",
                    {"problem": problem},
                )
            )
    return found
