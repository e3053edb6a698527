"""The account itself: its alias (CreateAccountAlias, DeleteAccountAlias,
ListAccountAliases) and GetAccountSummary, with AWS's default IAM quotas.

An account has at most one alias; creating another replaces it, as in AWS. Aliases are
unique across all accounts of the installation (they name the console sign-in URL).
"""

from __future__ import annotations

from dataclasses import replace

from chamberlain.domain import (
    ROOT,
    AccessKey,
    Account,
    Attachment,
    Group,
    InstanceProfile,
    ManagedPolicy,
    MfaDevice,
    OidcProvider,
    Role,
    SamlProvider,
    ServerCertificate,
    SigningCertificate,
    User,
)
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import EntityAlreadyExists, NoSuchEntity, ServiceFailure
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.ops.iam.account_settings import global_endpoint_token_version
from chamberlain.policy.validate import (
    INLINE_GROUP_MAX,
    INLINE_ROLE_MAX,
    INLINE_USER_MAX,
    MANAGED_POLICY_MAX,
    TRUST_POLICY_MAX,
)

ACCOUNT_KEY = "account"

# AWS's default IAM quotas, as GetAccountSummary reports them.
QUOTAS: dict[str, int] = {
    "UsersQuota": 5000,
    "GroupsQuota": 300,
    "RolesQuota": 1000,
    "InstanceProfilesQuota": 1000,
    "PoliciesQuota": 1500,
    "ServerCertificatesQuota": 20,
    "UserPolicySizeQuota": INLINE_USER_MAX,
    "GroupPolicySizeQuota": INLINE_GROUP_MAX,
    "RolePolicySizeQuota": INLINE_ROLE_MAX,
    "PolicySizeQuota": MANAGED_POLICY_MAX,
    "AssumeRolePolicySizeQuota": TRUST_POLICY_MAX,
    "GroupsPerUserQuota": 10,
    "SigningCertificatesPerUserQuota": 2,
    "AccessKeysPerUserQuota": 2,
    "AttachedPoliciesPerGroupQuota": 10,
    "AttachedPoliciesPerRoleQuota": 10,
    "AttachedPoliciesPerUserQuota": 10,
    "PolicyVersionsInUseQuota": 10000,
    "VersionsPerPolicyQuota": 5,
}


def _star(ctx: OpContext, params: Params) -> Target:
    return Target("*")


def _account(ctx: OpContext) -> Account:
    account = ctx.uow.repo(Account).get(ctx.account_id, ACCOUNT_KEY)
    if account is None:  # every caller's account exists; a missing one is a server fault
        raise ServiceFailure("The account could not be found.")
    return account


def _alias_owner(ctx: OpContext, alias: str) -> str | None:
    """The account already using `alias`, if any. Scans accounts: aliases are rare writes."""
    repo = ctx.uow.repo(Account)
    for account_id in ctx.services.store.accounts():
        account = repo.get(account_id, ACCOUNT_KEY)
        if account is not None and account.alias == alias:
            return account_id
    return None


# --------------------------------------------------------------------------- aliases


@operation("iam", "CreateAccountAlias", resource=_star)
def create_account_alias(ctx: OpContext, params: Params) -> Output:
    alias = params["AccountAlias"]
    account = _account(ctx)
    if account.alias == alias:
        return None
    owner = _alias_owner(ctx, alias)
    if owner is not None and owner != ctx.account_id:
        raise EntityAlreadyExists(f"The account alias {alias} already exists.")
    ctx.uow.repo(Account).put(replace(account, alias=alias))
    return None


@operation("iam", "DeleteAccountAlias", resource=_star)
def delete_account_alias(ctx: OpContext, params: Params) -> Output:
    alias = params["AccountAlias"]
    account = _account(ctx)
    if account.alias != alias:
        raise NoSuchEntity(f"The account alias {alias} cannot be found.")
    ctx.uow.repo(Account).put(replace(account, alias=None))
    return None


@operation("iam", "ListAccountAliases", resource=_star, read_only=True)
def list_account_aliases(ctx: OpContext, params: Params) -> Output:
    alias = _account(ctx).alias
    # One alias at most, so a page never needs a marker.
    return {"AccountAliases": [alias] if alias else [], "IsTruncated": False}


# --------------------------------------------------------------------------- summary


@operation("iam", "GetAccountSummary", resource=_star, read_only=True)
def get_account_summary(ctx: OpContext, params: Params) -> Output:
    uow, account_id = ctx.uow, ctx.account_id
    account = _account(ctx)
    mfa = uow.repo(MfaDevice).list(account_id)
    root_keys = uow.repo(AccessKey).count(account_id, ref=ROOT.lower())
    root_certs = uow.repo(SigningCertificate).count(account_id, ref=ROOT.lower())
    providers = uow.repo(OidcProvider).count(account_id) + uow.repo(SamlProvider).count(account_id)
    summary = {
        "Users": uow.repo(User).count(account_id),
        "Groups": uow.repo(Group).count(account_id),
        "Roles": uow.repo(Role).count(account_id),
        "InstanceProfiles": uow.repo(InstanceProfile).count(account_id),
        "Policies": uow.repo(ManagedPolicy).count(account_id),
        "PolicyVersionsInUse": uow.repo(Attachment).count(account_id),
        "ServerCertificates": uow.repo(ServerCertificate).count(account_id),
        "Providers": providers,
        "MFADevices": len(mfa),
        "MFADevicesInUse": sum(1 for d in mfa if d.user_name is not None),
        "AccountMFAEnabled": int(any(d.user_name == ROOT for d in mfa)),
        "AccountAccessKeysPresent": int(root_keys > 0),
        "AccountSigningCertificatesPresent": int(root_certs > 0),
        "AccountPasswordPresent": int(bool(account.root_password_hash)),
        "GlobalEndpointTokenVersion": global_endpoint_token_version(ctx),
        **QUOTAS,
    }
    return {"SummaryMap": summary}
