"""What the engine answers: the outcome and the statements that decided it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class Outcome(StrEnum):
    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicitDeny"
    IMPLICIT_DENY = "implicitDeny"


class PolicySource(StrEnum):
    """Where a statement came from; AWS's denial messages name it."""

    IDENTITY = "identity-based policy"
    RESOURCE = "resource-based policy"
    BOUNDARY = "permissions boundary"
    SESSION = "session policy"


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    """A statement that decided. A dataclass, not a NamedTuple: a field named `index`
    would shadow tuple.index. The engine builds one per statement and source, once."""

    source: PolicySource
    policy_id: str  # the name the caller gave the policy when compiling it
    index: int  # statement index within the policy, from 0
    sid: str | None
    effect: str  # "Allow" | "Deny"


class Decision(NamedTuple):
    """Immutable; a NamedTuple because the engine builds one per request."""

    outcome: Outcome
    # Statements that decided: the denying ones for explicitDeny, the allowing ones for
    # allowed (all of them when evaluated with explain=True), none for implicitDeny.
    matched: tuple[MatchedStatement, ...] = ()
    # For a deny: which kind of policy denied (explicitly) or failed to allow (implicitly).
    denied_by: PolicySource | None = None
    # Condition keys that statements referred to but the request context lacked.
    missing_context_keys: frozenset[str] = frozenset()

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOWED

    def denial_reason(self, action: str) -> str:
        """AWS's wording for why a request was denied, for AccessDenied messages."""
        if self.outcome is Outcome.ALLOWED:
            return ""
        source = (self.denied_by or PolicySource.IDENTITY).value
        if self.outcome is Outcome.EXPLICIT_DENY:
            article = "an" if source[0] in "aeiou" else "a"
            return f"with an explicit deny in {article} {source}"
        return f"because no {source} allows the {action} action"
