"""The policies that apply to one request, as documents or compiled.

`PolicyDocuments` holds JSON texts (what the reference evaluator reads and what tests
write); `PolicySet` holds the same policies compiled, for the engine. Both name each
policy with an id of the caller's choosing, reported back in MatchedStatement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

P = TypeVar("P")


@dataclass(frozen=True)  # no slots: instantiating a parametrised alias sets an attribute
class Applicable(Generic[P]):
    identity: tuple[P, ...] = ()
    resource: P | None = None  # resource-based or trust policy
    resource_account: str | None = None  # None: the ARN's account, else the caller's
    boundary: P | None = None  # None: no permissions boundary
    session: tuple[P, ...] | None = None  # None: no session policy
    require_resource_allow: bool = False  # trust-policy evaluation (sts:AssumeRole...)


NamedDocument = tuple[str, str]  # (policy id, JSON text)
PolicyDocuments = Applicable[NamedDocument]
