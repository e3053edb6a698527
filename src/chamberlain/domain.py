"""Plain data: the entities Chamberlain stores, as frozen dataclasses.

No behaviour beyond naming how each entity is stored: every entity has a `KIND`, a
`key` unique within its account and kind, and optionally a `ref`, a secondary lookup
(e.g. the user an access key belongs to). IAM names are unique case-insensitively, so
keys built from names are lower-cased; the entity keeps the name as the caller wrote it.

Field types are restricted to what the store's codec round-trips: str, int, bool,
bytes, datetime (UTC, aware), None, tuples of those and `Tags` (tuple of key/value
pairs, in the order they were added).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

Tags = tuple[tuple[str, str], ...]

SEP = "\x1f"  # joins the parts of composite keys; never valid in an IAM name
ROOT = "<root>"  # the `user_name` of the account root user's credentials


def joined(*parts: str) -> str:
    return SEP.join(parts)


class Unreferenced:
    """An entity with no secondary lookup."""

    @property
    def ref(self) -> str | None:
        return None


class NamedKey:
    """An entity keyed by its name, lower-cased (IAM names are unique case-insensitively)."""

    name: str

    @property
    def key(self) -> str:
        return self.name.lower()


class ArnKey:
    """An entity keyed by its ARN."""

    arn: str

    @property
    def key(self) -> str:
        return self.arn


class UserOwned:
    """An entity that belongs to a user (access keys, SSH keys, ...): looked up by the
    user's name, lower-cased."""

    user_name: str

    @property
    def ref(self) -> str | None:
        return self.user_name.lower()


@dataclass(frozen=True)
class Account:
    KIND: ClassVar[str] = "account"
    account_id: str
    email: str
    root_password_hash: str
    created: dt.datetime
    alias: str | None = None
    root_password_last_used: dt.datetime | None = None

    @property
    def key(self) -> str:
        return "account"

    @property
    def ref(self) -> str | None:
        return self.email.lower()


@dataclass(frozen=True)
class User(NamedKey):
    KIND: ClassVar[str] = "user"
    account_id: str
    user_id: str
    name: str
    path: str
    arn: str
    created: dt.datetime
    permissions_boundary: str | None = None
    tags: Tags = ()
    password_last_used: dt.datetime | None = None

    @property
    def ref(self) -> str | None:
        return self.user_id


@dataclass(frozen=True)
class Group(NamedKey):
    KIND: ClassVar[str] = "group"
    account_id: str
    group_id: str
    name: str
    path: str
    arn: str
    created: dt.datetime

    @property
    def ref(self) -> str | None:
        return self.group_id


@dataclass(frozen=True)
class Membership(UserOwned):
    """User `user_name` is in group `group_name`. List a group's users by key prefix."""

    KIND: ClassVar[str] = "membership"
    account_id: str
    group_name: str
    user_name: str

    @property
    def key(self) -> str:
        return joined(self.group_name.lower(), self.user_name.lower())


@dataclass(frozen=True)
class Role(NamedKey):
    KIND: ClassVar[str] = "role"
    account_id: str
    role_id: str
    name: str
    path: str
    arn: str
    assume_role_policy: str
    created: dt.datetime
    description: str = ""
    max_session_duration: int = 3600
    permissions_boundary: str | None = None
    tags: Tags = ()
    last_used: dt.datetime | None = None
    last_used_region: str | None = None
    # (ARN, unique ID) of each user or role the trust policy names, taken when it was
    # saved (ops/iam/trust_principals.py).
    trust_principals: tuple[tuple[str, str], ...] = ()

    @property
    def ref(self) -> str | None:
        return self.role_id


@dataclass(frozen=True)
class ManagedPolicy(NamedKey):
    """A customer managed policy. AWS managed policies are built in, not stored."""

    KIND: ClassVar[str] = "policy"
    account_id: str
    policy_id: str
    name: str
    path: str
    arn: str
    default_version_id: str
    created: dt.datetime
    updated: dt.datetime
    description: str = ""
    attachment_count: int = 0
    boundary_usage_count: int = 0
    next_version: int = 2
    tags: Tags = ()

    @property
    def ref(self) -> str | None:
        return self.arn


@dataclass(frozen=True)
class PolicyVersion:
    KIND: ClassVar[str] = "policy_version"
    account_id: str
    policy_arn: str
    version_id: str  # "v1", "v2", ...
    document: str  # the JSON text as the caller sent it
    created: dt.datetime

    @property
    def key(self) -> str:
        return joined(self.policy_arn, self.version_id)

    @property
    def ref(self) -> str | None:
        return self.policy_arn


PrincipalKind = str  # "user" | "group" | "role"


@dataclass(frozen=True)
class _PolicyLink:
    """A user, group or role linked to managed policy `policy_arn`: keyed by principal,
    then policy, and found by the policy (ref), so a policy's links list a page at a time
    in AWS's order."""

    account_id: str
    principal_kind: PrincipalKind
    principal_name: str
    policy_arn: str

    @property
    def key(self) -> str:
        return joined(self.principal_kind, self.principal_name.lower(), self.policy_arn)

    @property
    def ref(self) -> str | None:
        return self.policy_arn


@dataclass(frozen=True)
class Attachment(_PolicyLink):
    """Managed policy `policy_arn` attached to a user, group or role."""

    KIND: ClassVar[str] = "attachment"


@dataclass(frozen=True)
class BoundaryUse(_PolicyLink):
    """User or role `principal_name` has managed policy `policy_arn` as its permissions
    boundary: the boundary's own index (by ref), so ListEntitiesForPolicy reads a page
    of the users and roles a policy bounds, not every user and role. Kept in the same
    unit of work as the user's or role's `permissions_boundary`
    (ops/core/policy_usage.py); keyed like an Attachment, so both list in AWS's order."""

    KIND: ClassVar[str] = "boundary_use"


@dataclass(frozen=True)
class InlinePolicy(Unreferenced):
    KIND: ClassVar[str] = "inline_policy"
    account_id: str
    principal_kind: PrincipalKind
    principal_name: str
    policy_name: str
    document: str

    @property
    def key(self) -> str:
        return joined(self.principal_kind, self.principal_name.lower(), self.policy_name)


@dataclass(frozen=True)
class AccessKey(UserOwned):
    """A long-term access key. `user_name` is ROOT for the root user's keys."""

    KIND: ClassVar[str] = "access_key"
    account_id: str
    user_name: str
    access_key_id: str
    secret_encrypted: bytes
    status: str  # "Active" | "Inactive"
    created: dt.datetime
    last_used: dt.datetime | None = None
    last_used_service: str | None = None
    last_used_region: str | None = None

    @property
    def key(self) -> str:
        return self.access_key_id


@dataclass(frozen=True)
class LoginProfile(Unreferenced):
    KIND: ClassVar[str] = "login_profile"
    account_id: str
    user_name: str
    password_hash: str
    created: dt.datetime
    password_set: dt.datetime
    password_reset_required: bool = False
    history: tuple[str, ...] = ()  # hashes of previous passwords, newest first

    @property
    def key(self) -> str:
        return self.user_name.lower()


@dataclass(frozen=True)
class PasswordPolicy(Unreferenced):
    KIND: ClassVar[str] = "password_policy"
    account_id: str
    minimum_password_length: int = 8
    require_symbols: bool = False
    require_numbers: bool = False
    require_uppercase_characters: bool = False
    require_lowercase_characters: bool = False
    allow_users_to_change_password: bool = False
    max_password_age: int | None = None
    password_reuse_prevention: int | None = None
    hard_expiry: bool = False

    @property
    def key(self) -> str:
        return "password_policy"


@dataclass(frozen=True)
class InstanceProfile(NamedKey):
    KIND: ClassVar[str] = "instance_profile"
    account_id: str
    instance_profile_id: str
    name: str
    path: str
    arn: str
    created: dt.datetime
    role_names: tuple[str, ...] = ()  # at most one, as AWS allows
    tags: Tags = ()

    @property
    def ref(self) -> str | None:
        return self.role_names[0].lower() if self.role_names else None


@dataclass(frozen=True)
class OidcProvider(ArnKey):
    KIND: ClassVar[str] = "oidc_provider"
    account_id: str
    arn: str
    url: str  # without scheme, as AWS keeps it
    client_ids: tuple[str, ...]
    thumbprints: tuple[str, ...]
    created: dt.datetime
    tags: Tags = ()

    @property
    def ref(self) -> str | None:
        return self.url


@dataclass(frozen=True)
class SamlProvider(ArnKey, Unreferenced):
    KIND: ClassVar[str] = "saml_provider"
    account_id: str
    arn: str
    name: str
    metadata_document: str
    created: dt.datetime
    valid_until: dt.datetime
    tags: Tags = ()


@dataclass(frozen=True)
class SshPublicKey(UserOwned):
    KIND: ClassVar[str] = "ssh_public_key"
    account_id: str
    user_name: str
    ssh_public_key_id: str
    body: str
    fingerprint: str
    status: str
    uploaded: dt.datetime

    @property
    def key(self) -> str:
        return self.ssh_public_key_id


@dataclass(frozen=True)
class SigningCertificate(UserOwned):
    KIND: ClassVar[str] = "signing_certificate"
    account_id: str
    user_name: str
    certificate_id: str
    body: str
    status: str
    uploaded: dt.datetime

    @property
    def key(self) -> str:
        return self.certificate_id


@dataclass(frozen=True)
class ServerCertificate(NamedKey, Unreferenced):
    KIND: ClassVar[str] = "server_certificate"
    account_id: str
    server_certificate_id: str
    name: str
    path: str
    arn: str
    body: str
    chain: str | None
    private_key_encrypted: bytes
    uploaded: dt.datetime
    expiration: dt.datetime
    tags: Tags = ()


@dataclass(frozen=True)
class MfaDevice:
    """A virtual MFA device. `user_name` is None until enabled (ROOT for the root user)."""

    KIND: ClassVar[str] = "mfa_device"
    account_id: str
    serial_number: str
    seed_encrypted: bytes
    created: dt.datetime
    user_name: str | None = None
    enabled: dt.datetime | None = None
    last_step: int | None = None  # the last accepted TOTP step (replay protection)
    tags: Tags = ()
    offset: int = 0  # the device clock's offset in steps, learned at enable/resync

    @property
    def key(self) -> str:
        return self.serial_number

    @property
    def arn(self) -> str:
        """A virtual device's serial number is its ARN."""
        return self.serial_number

    @property
    def ref(self) -> str | None:
        return self.user_name.lower() if self.user_name else None


ENTITY_TYPES: tuple[type, ...] = (
    Account,
    User,
    Group,
    Membership,
    Role,
    ManagedPolicy,
    PolicyVersion,
    Attachment,
    BoundaryUse,
    InlinePolicy,
    AccessKey,
    LoginProfile,
    PasswordPolicy,
    InstanceProfile,
    OidcProvider,
    SamlProvider,
    SshPublicKey,
    SigningCertificate,
    ServerCertificate,
    MfaDevice,
)


@dataclass(frozen=True)
class Event:
    """One audit-trail event: a CloudTrail record and its place in its account's chain.

    Not an entity of `ENTITY_TYPES`: events live in their own tables, indexed for
    LookupEvents (store/events.py), and are reached through `uow.events`.

    `record` is the CloudTrail record as canonical JSON text (sorted keys, compact);
    the other fields repeat what LookupEvents filters and shows, so lookups need not
    parse records. `seq` numbers the account's events from 1 without gaps; `hash`
    commits to the record, `resources` and the previous event's hash; `seal`
    authenticates (account, seq, hash) under the operator's key (ops/audit/records.py).
    `principal` is the ARN of the authenticated identity (a role for its sessions),
    None when the caller was not authenticated: service-last-accessed reads it.
    """

    account_id: str
    seq: int
    event_id: str
    event_time: dt.datetime
    event_name: str
    event_source: str
    read_only: bool
    record: str
    hash: str
    seal: bytes
    username: str | None = None
    access_key_id: str | None = None
    principal: str | None = None
    resources: tuple[tuple[str, str], ...] = ()  # (ResourceType, ResourceName)


@dataclass(frozen=True)
class OrganizationsAccessReportJob(Unreferenced):
    KIND: ClassVar[str] = "organizations_access_report"
    account_id: str
    job_id: str
    entity_path: str
    created: dt.datetime
    organizations_policy_id: str | None = None

    @property
    def key(self) -> str:
        return self.job_id


@dataclass(frozen=True)
class ServiceLastAccessedJob(Unreferenced):
    """A finished report, stored with the account's entities (key: the job id)."""

    KIND: ClassVar[str] = "service_last_accessed_job"
    account_id: str
    job_id: str
    arn: str
    granularity: str
    created: dt.datetime
    completed: dt.datetime
    report: str  # JSON: {"services": [...], "entities": {namespace: [...]}}

    @property
    def key(self) -> str:
        return self.job_id


@dataclass(frozen=True)
class SlrDeletionTask:
    """The outcome of one DeleteServiceLinkedRole call (AWS keeps the task after the role
    is gone, so GetServiceLinkedRoleDeletionStatus can still answer)."""

    KIND: ClassVar[str] = "slr_deletion_task"
    account_id: str
    task_id: str
    role_name: str
    status: str  # SUCCEEDED | FAILED
    created: dt.datetime
    reason: str | None = None
    usage_region: str | None = None
    usage_resources: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.task_id

    @property
    def ref(self) -> str | None:
        return self.role_name.lower()


@dataclass(frozen=True)
class CredentialReport(Unreferenced):
    """The account's most recent credential report (one per account), as generated."""

    KIND: ClassVar[str] = "credential_report"
    account_id: str
    generated: dt.datetime
    content: bytes  # the CSV, UTF-8

    @property
    def key(self) -> str:
        return "credential_report"


@dataclass(frozen=True)
class AccountSettings(Unreferenced):
    KIND: ClassVar[str] = "account_settings"
    account_id: str
    global_endpoint_token_version: int = 1  # GetAccountSummary's v1Token
    properties: tuple[tuple[str, str], ...] = ()  # (Namespace/PropertyName, value)
    outbound_issuer: str | None = None  # set the first time the feature is enabled
    outbound_enabled: bool = False

    @property
    def key(self) -> str:
        return "account_settings"  # one per account


@dataclass(frozen=True)
class ServiceSpecificCredential(UserOwned):
    KIND: ClassVar[str] = "service_specific_credential"
    account_id: str
    credential_id: str
    user_name: str
    service_name: str
    secret_encrypted: bytes
    status: str  # "Active" | "Inactive"
    created: dt.datetime
    service_user_name: str | None = None  # password services
    alias: str | None = None  # API-key services
    expires: dt.datetime | None = None

    @property
    def key(self) -> str:
        return self.credential_id


@dataclass(frozen=True)
class SamlAssertionUse(Unreferenced):
    """A SAML assertion accepted once, kept until it would be refused anyway (replay)."""

    KIND: ClassVar[str] = "saml_assertion_use"
    account_id: str
    issuer: str
    assertion_id: str
    expires: dt.datetime

    @property
    def key(self) -> str:
        return joined(self.issuer, self.assertion_id)
