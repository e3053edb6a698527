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
class User:
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
    def key(self) -> str:
        return self.name.lower()

    @property
    def ref(self) -> str | None:
        return self.user_id


@dataclass(frozen=True)
class Group:
    KIND: ClassVar[str] = "group"
    account_id: str
    group_id: str
    name: str
    path: str
    arn: str
    created: dt.datetime

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def ref(self) -> str | None:
        return self.group_id


@dataclass(frozen=True)
class Membership:
    """User `user_name` is in group `group_name`. List a group's users by key prefix."""

    KIND: ClassVar[str] = "membership"
    account_id: str
    group_name: str
    user_name: str

    @property
    def key(self) -> str:
        return joined(self.group_name.lower(), self.user_name.lower())

    @property
    def ref(self) -> str | None:
        return self.user_name.lower()


@dataclass(frozen=True)
class Role:
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
    # saved (ops/trust_principals.py).
    trust_principals: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def ref(self) -> str | None:
        return self.role_id


@dataclass(frozen=True)
class ManagedPolicy:
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
    def key(self) -> str:
        return self.name.lower()

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
class Attachment:
    """Managed policy `policy_arn` attached to a user, group or role."""

    KIND: ClassVar[str] = "attachment"
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
class InlinePolicy:
    KIND: ClassVar[str] = "inline_policy"
    account_id: str
    principal_kind: PrincipalKind
    principal_name: str
    policy_name: str
    document: str

    @property
    def key(self) -> str:
        return joined(self.principal_kind, self.principal_name.lower(), self.policy_name)

    @property
    def ref(self) -> str | None:
        return None


@dataclass(frozen=True)
class AccessKey:
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

    @property
    def ref(self) -> str | None:
        return self.user_name.lower()


@dataclass(frozen=True)
class LoginProfile:
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

    @property
    def ref(self) -> str | None:
        return None


@dataclass(frozen=True)
class PasswordPolicy:
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

    @property
    def ref(self) -> str | None:
        return None


@dataclass(frozen=True)
class InstanceProfile:
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
    def key(self) -> str:
        return self.name.lower()

    @property
    def ref(self) -> str | None:
        return self.role_names[0].lower() if self.role_names else None


@dataclass(frozen=True)
class OidcProvider:
    KIND: ClassVar[str] = "oidc_provider"
    account_id: str
    arn: str
    url: str  # without scheme, as AWS keeps it
    client_ids: tuple[str, ...]
    thumbprints: tuple[str, ...]
    created: dt.datetime
    tags: Tags = ()

    @property
    def key(self) -> str:
        return self.arn

    @property
    def ref(self) -> str | None:
        return self.url


@dataclass(frozen=True)
class SamlProvider:
    KIND: ClassVar[str] = "saml_provider"
    account_id: str
    arn: str
    name: str
    metadata_document: str
    created: dt.datetime
    valid_until: dt.datetime
    tags: Tags = ()

    @property
    def key(self) -> str:
        return self.arn

    @property
    def ref(self) -> str | None:
        return None


@dataclass(frozen=True)
class SshPublicKey:
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

    @property
    def ref(self) -> str | None:
        return self.user_name.lower()


@dataclass(frozen=True)
class SigningCertificate:
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

    @property
    def ref(self) -> str | None:
        return self.user_name.lower()


@dataclass(frozen=True)
class ServerCertificate:
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

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def ref(self) -> str | None:
        return None


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
    authenticates (account, seq, hash) under the operator's key (ops/audit.py).
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
