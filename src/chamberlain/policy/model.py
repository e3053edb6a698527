"""The parsed form of a policy document: plain, frozen data.

`parse.parse_policy` builds these from JSON text; `compile` and the reference evaluator
read them. Values keep the shape AWS gives them after normalisation: every element that
may be a string or a list of strings is a tuple here, a Condition is a flat tuple of
clauses (operator, key, values) in document order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# A condition value as written in the policy: JSON string, number or boolean.
ConditionValue = str | bool | int | float


class PolicyType(StrEnum):
    """What a document is used as; validation rules and size limits differ by type."""

    IDENTITY = "identity"  # managed or inline policy attached to a user, group or role
    RESOURCE = "resource"  # resource-based policy (bucket policy, key policy, ...)
    TRUST = "trust"  # a role's trust policy (AssumeRolePolicyDocument)
    BOUNDARY = "boundary"  # a managed policy used as a permissions boundary
    SESSION = "session"  # an inline session policy passed to STS


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """The value of a Principal or NotPrincipal element.

    `wildcard` is true for `"Principal": "*"`. `{"AWS": "*"}` is kept as `aws=("*",)`.
    """

    wildcard: bool = False
    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    canonical_user: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConditionClause:
    """One `operator: {key: values}` pair of a Condition block."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str  # as written, e.g. "aws:PrincipalTag/team"
    values: tuple[ConditionValue, ...]


@dataclass(frozen=True, slots=True)
class Statement:
    index: int  # position in the Statement list, from 0
    sid: str | None
    effect: Effect
    principal: PrincipalSpec | None = None
    not_principal: PrincipalSpec | None = None
    action: tuple[str, ...] | None = None
    not_action: tuple[str, ...] | None = None
    resource: tuple[str, ...] | None = None
    not_resource: tuple[str, ...] | None = None
    conditions: tuple[ConditionClause, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    version: str | None  # "2012-10-17", "2008-10-17" or None when absent
    id: str | None
    statements: tuple[Statement, ...]

    @property
    def substitutes_variables(self) -> bool:
        """Policy variables are only replaced under Version 2012-10-17."""
        return self.version == "2012-10-17"
