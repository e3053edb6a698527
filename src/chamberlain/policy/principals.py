"""How a Principal / NotPrincipal element matches the caller: directly, through the
session's issuer, or through the caller's account (docs/policy-semantics.md)."""

from __future__ import annotations

import re
from enum import IntEnum

from .model import PrincipalSpec
from .request import Principal, PrincipalType

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ROOT_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")


class MatchKind(IntEnum):
    """Ordered: a larger kind is a stronger match."""

    ACCOUNT = 1
    ISSUER = 2
    DIRECT = 3


def _account_of_entry(entry: str) -> str | None:
    if _ACCOUNT_ID.match(entry):
        return entry
    m = _ROOT_ARN.match(entry)
    return m.group(1) if m else None


class PrincipalMatcher:
    """A compiled Principal or NotPrincipal element."""

    __slots__ = (
        "_accounts",
        "_arns",
        "_canonical",
        "_deny",
        "_federated",
        "_negated",
        "_services",
        "_wildcard",
    )

    def __init__(self, spec: PrincipalSpec, *, negated: bool, deny: bool = False) -> None:
        self._negated = negated
        self._deny = deny
        self._wildcard = spec.wildcard or "*" in spec.aws
        self._arns = frozenset(spec.aws)
        self._accounts = frozenset(a for a in (_account_of_entry(e) for e in spec.aws) if a)
        self._services = frozenset(s.lower() for s in spec.service)
        self._federated = frozenset(spec.federated)
        self._canonical = frozenset(spec.canonical_user)

    def _positive(self, p: Principal) -> MatchKind | None:
        if self._wildcard or p.arn in self._arns:
            return MatchKind.DIRECT
        if p.service is not None and p.service.lower() in self._services:
            return MatchKind.DIRECT
        if p.federated_provider is not None and p.federated_provider in self._federated:
            return MatchKind.DIRECT
        if p.canonical_user is not None and p.canonical_user in self._canonical:
            return MatchKind.DIRECT
        if p.issuer_arn is not None and p.issuer_arn in self._arns:
            return MatchKind.ISSUER
        if p.account in self._accounts:
            return MatchKind.ACCOUNT
        return None

    @property
    def negated(self) -> bool:
        return self._negated

    def _lists_every_layer(self, p: Principal) -> bool:
        """Does a Deny's NotPrincipal exempt the caller? AWS checks the caller's account
        first, then the caller: an IAM user or the account root by its own ARN, a session
        by the role (or, for a federated user, the IAM user) it was issued from. Every
        layer must be listed, so a user listed without its account is still denied, and
        an account listed alone exempts only its root user (IAM User Guide, "AWS JSON
        policy elements: NotPrincipal", key points)."""
        if self._wildcard:
            return True
        if p.service is not None:
            return p.service.lower() in self._services
        if p.federated_provider is not None:
            return p.federated_provider in self._federated
        # S3's CanonicalUser names an account too.
        if p.account not in self._accounts and p.canonical_user not in self._canonical:
            return False
        if p.type is PrincipalType.ROOT:
            return True
        if p.issuer_arn is not None:
            return p.issuer_arn in self._arns
        return p.arn in self._arns

    def match(self, p: Principal) -> MatchKind | None:
        if not self._negated:
            return self._positive(p)
        if self._deny:
            return None if self._lists_every_layer(p) else MatchKind.DIRECT
        # An Allow with NotPrincipal (which AWS advises against) leaves out a caller the
        # element names in any way: it never grants more than the narrowest reading.
        return MatchKind.DIRECT if self._positive(p) is None else None
