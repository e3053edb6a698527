"""Which generation a change bumps: what the per-node caches of authorization inputs
(ops/core/authn.py's access keys, ops/core/authz.py's principal policies) depend on.

A generation (store/api.py `UnitOfWork.generation`) is kept per *scope*:

- the account's (the scope is the account id): bumped by any change that may alter an
  input of more than one principal, or of one we cannot name from the key alone:
  managed policies and their versions (the default version), a group's inline and
  attached policies, groups, the account, its settings and password policy, and every
  kind not named below;
- a principal's (`principal_scope`: "ACCOUNT/user/NAME" or "ACCOUNT/role/NAME"): its
  own row (tags for ABAC, boundary, deletion, a role's trust policy, ids), its inline
  and attached policies (a role's session revocation is an inline policy), a user's
  group memberships, and a user's access keys (status, creation, deletion);
- none: kinds no cache reads (NO_INPUT). Their operations read them afresh. So these
  operations bump no generation at all: Create/Update/DeleteLoginProfile and
  ChangePassword, the MFA device operations, SSH public keys, signing certificates,
  service-specific credentials, server certificates, instance profiles, OpenID Connect
  and SAML providers, the Generate*/Get* report and job operations, and the SAML
  assertion replay record; and usage data written with `Repo.touch` (a key's or role's
  last use, PasswordLastUsed) bumps none either. Operations on one user or role
  (CreateUser, TagUser, PutUserPolicy, AttachRolePolicy, AddUserToGroup, CreateAccessKey,
  DeleteUser, ...) bump only that principal's.

A cache entry stamps its account's generation and its principal's, and is used only
while both are unchanged; any change to the account's scope invalidates them all.
"""

from __future__ import annotations

from typing import Any

from chamberlain.domain import (
    SEP,
    AccessKey,
    Attachment,
    BoundaryUse,
    CredentialReport,
    InlinePolicy,
    InstanceProfile,
    LoginProfile,
    Membership,
    MfaDevice,
    OidcProvider,
    OrganizationsAccessReportJob,
    Role,
    SamlAssertionUse,
    SamlProvider,
    ServerCertificate,
    ServiceLastAccessedJob,
    ServiceSpecificCredential,
    SigningCertificate,
    SlrDeletionTask,
    SshPublicKey,
    User,
)

#: Kinds no cached authorization input is read from: their changes bump nothing.
#: (Console passwords, MFA devices and the other credentials are checked by the
#: operations that use them, reading the row each time; providers, instance profiles
#: and certificates are read by their operations; jobs and reports are outputs;
#: authorization reads a boundary from its user or role, BoundaryUse indexes it.)
NO_INPUT: frozenset[type] = frozenset(
    {
        LoginProfile,
        MfaDevice,
        SshPublicKey,
        SigningCertificate,
        ServiceSpecificCredential,
        ServerCertificate,
        InstanceProfile,
        OidcProvider,
        SamlProvider,
        SamlAssertionUse,
        OrganizationsAccessReportJob,
        ServiceLastAccessedJob,
        SlrDeletionTask,
        CredentialReport,
        BoundaryUse,
    }
)


#: Kinds whose scope is known only from the entity (a delete by key reads it first).
NEEDS_ENTITY: frozenset[type] = frozenset({AccessKey})


def principal_scope(account_id: str, kind: str, name: str) -> str:
    """The scope of one user's or role's inputs (`kind` "user" or "role")."""
    return f"{account_id}/{kind}/{name.lower()}"


def changed_scope(cls: type, account_id: str, key: str, entity: Any = None) -> str | None:
    """The scope whose generation a change to `cls`'s entity `key` bumps (`entity`: the
    entity written, None for a delete by key); None: no cache depends on it."""
    if cls in NO_INPUT:
        return None
    if cls is User:
        return principal_scope(account_id, "user", key)
    if cls is Role:
        return principal_scope(account_id, "role", key)
    if cls is Membership:
        return principal_scope(account_id, "user", key.split(SEP)[-1])
    if cls is InlinePolicy or cls is Attachment:
        kind, name = key.split(SEP)[:2]
        return principal_scope(account_id, kind, name) if kind in ("user", "role") else account_id
    if cls is AccessKey and isinstance(entity, AccessKey):
        return principal_scope(account_id, "user", entity.user_name)
    return account_id
