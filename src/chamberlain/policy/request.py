"""What the engine is asked: who calls, to do what, on what, in which context.

The caller fills the context with the request's condition keys (aws:CurrentTime included:
the engine has no clock). Keys are matched case-insensitively; values are a string, a
bool, an int/float, a datetime, or a list/tuple of those for multi-valued keys.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

ContextScalar = str | bool | int | float | _dt.datetime
ContextValue = ContextScalar | Sequence[ContextScalar]


class PrincipalType(StrEnum):
    ROOT = "Account"  # the account root user
    USER = "User"  # an IAM user
    ASSUMED_ROLE = "AssumedRole"  # a role session (AssumeRole, web identity, SAML)
    FEDERATED_USER = "FederatedUser"  # GetFederationToken session
    SERVICE = "Service"  # an AWS-style service principal, e.g. ec2.amazonaws.com
    WEB_IDENTITY = "WebIdentityUser"  # caller presenting an OIDC token (trust evaluation)
    SAML = "SAMLUser"  # caller presenting a SAML assertion (trust evaluation)
    ANONYMOUS = "Anonymous"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, as resource-based and trust policies see it.

    `arn` is the caller's own ARN: a user ARN, a session ARN
    (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`), a federated-user ARN, or
    `arn:aws:iam::ACCOUNT:root`. `issuer_arn` is the ARN the session was issued from
    (the role ARN for a role session, the IAM user ARN for a federated user).
    `service` / `federated_provider` / `canonical_user` name the caller for the
    Service / Federated / CanonicalUser principal forms.
    """

    arn: str
    account: str
    type: PrincipalType = PrincipalType.USER
    issuer_arn: str | None = None
    service: str | None = None
    federated_provider: str | None = None
    canonical_user: str | None = None

    @property
    def is_root(self) -> bool:
        return self.type is PrincipalType.ROOT


@dataclass(frozen=True, slots=True)
class Request:
    principal: Principal
    action: str  # "service:Operation", any case
    resource: str  # ARN or "*"
    context: Mapping[str, ContextValue] = field(default_factory=dict)
