"""How a Principal / NotPrincipal element matches the caller: directly, through the
session's issuer, or through the caller's account (docs/policy-semantics.md)."""

from __future__ import annotations

import re
from enum import IntEnum

from .model import PrincipalSpec
from .request import Principal

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
        "_federated",
        "_negated",
        "_services",
        "_wildcard",
    )

    def __init__(self, spec: PrincipalSpec, *, negated: bool) -> None:
        self._negated = negated
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

    def match(self, p: Principal) -> MatchKind | None:
        kind = self._positive(p)
        if self._negated:
            return MatchKind.DIRECT if kind is None else None
        return kind
