"""The read model the checks read: one account's IAM state as plain frozen data.

Built either from the live store (advisor/live.py, through ops) or from an AWS export
(advisor/export.py). A field that the source did not provide is None ("unknown"), never a
guessed default: a check that needs it reports that it did not run, or says in a
finding's evidence what was missing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

Tags = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class InlinePolicy:
    name: str
    document: str  # JSON text


@dataclass(frozen=True)
class AccessKey:
    """One access key as the credential report shows it (slot 1 or 2)."""

    slot: int
    active: bool
    last_rotated: dt.datetime | None  # creation time; None: not in the data
    last_used: dt.datetime | None  # None with `used_known`: never used
    used_known: bool = True  # False: the report said no_information


@dataclass(frozen=True)
class Credentials:
    """A user's (or the root user's) row of the credential report."""

    password_enabled: bool | None  # None: not supported / unknown (root)
    password_last_used: dt.datetime | None
    password_used_known: bool  # False: no_information
    password_last_changed: dt.datetime | None
    mfa_active: bool
    access_keys: tuple[AccessKey, ...] = ()
    created: dt.datetime | None = None
    arn: str = ""


@dataclass(frozen=True)
class User:
    name: str
    arn: str
    user_id: str
    path: str
    created: dt.datetime | None
    inline: tuple[InlinePolicy, ...] = ()
    attached: tuple[str, ...] = ()  # managed policy ARNs
    groups: tuple[str, ...] = ()  # group names
    boundary: str | None = None  # managed policy ARN
    tags: Tags = ()
    credentials: Credentials | None = None  # None: no credential report


@dataclass(frozen=True)
class Group:
    name: str
    arn: str
    group_id: str
    path: str
    inline: tuple[InlinePolicy, ...] = ()
    attached: tuple[str, ...] = ()


@dataclass(frozen=True)
class Role:
    name: str
    arn: str
    role_id: str
    path: str
    created: dt.datetime | None
    trust: str  # the trust policy, JSON text
    inline: tuple[InlinePolicy, ...] = ()
    attached: tuple[str, ...] = ()
    boundary: str | None = None
    tags: Tags = ()
    last_used: dt.datetime | None = None
    last_used_known: bool = True  # False: the export had no RoleLastUsed
    instance_profiles: tuple[str, ...] = ()
    service_linked: bool = False


@dataclass(frozen=True)
class ManagedPolicy:
    arn: str
    name: str
    document: str  # the default version's JSON text
    default_version: str
    other_versions: tuple[tuple[str, str], ...] = ()  # (version id, JSON text)
    aws_managed: bool = False
    attachment_count: int | None = None


@dataclass(frozen=True)
class PasswordPolicy:
    minimum_password_length: int = 8
    require_symbols: bool = False
    require_numbers: bool = False
    require_uppercase_characters: bool = False
    require_lowercase_characters: bool = False
    max_password_age: int | None = None
    password_reuse_prevention: int | None = None
    hard_expiry: bool = False


@dataclass(frozen=True)
class ServerCertificate:
    name: str
    arn: str
    expiration: dt.datetime


@dataclass(frozen=True)
class AuditStatus:
    enabled: bool
    intact: bool
    problem: str | None = None
    root_events_since: tuple[dt.datetime, ...] = ()  # root calls in the trail, recent first


@dataclass(frozen=True)
class ServiceUsage:
    """Service last accessed for one principal: service namespace -> last access (None:
    never), for every service its policies grant."""

    arn: str
    services: tuple[tuple[str, dt.datetime | None], ...]


@dataclass(frozen=True)
class Account:
    account_id: str
    source: str  # "live" | "export"
    now: dt.datetime
    users: tuple[User, ...] = ()
    groups: tuple[Group, ...] = ()
    roles: tuple[Role, ...] = ()
    policies: dict[str, ManagedPolicy] = field(default_factory=dict)  # by ARN
    root: Credentials | None = None  # None: no credential report
    password_policy: PasswordPolicy | None = None
    password_policy_known: bool = False  # False: no password policy data at all
    summary: dict[str, int] | None = None
    server_certificates: tuple[ServerCertificate, ...] | None = None  # None: unknown
    audit: AuditStatus | None = None  # None: not a live account
    service_usage: dict[str, ServiceUsage] | None = None  # by principal ARN; None: unknown

    @property
    def root_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:root"
