"""Who is calling, about what, with which services at hand: what every operation gets."""

from __future__ import annotations

import datetime as dt
from collections import Counter as CounterType
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from chamberlain.crypto.passwords import DEFAULT_PARAMS, Argon2Params
from chamberlain.crypto.secrets import SecretBox
from chamberlain.crypto.tokens import TokenSealer
from chamberlain.ops.core.group_commit import GroupCommit
from chamberlain.policy import PrincipalType
from chamberlain.store.api import Store, UnitOfWork


@dataclass(frozen=True)
class Session:
    """What a temporary credential carries (STS): filled by authn from the session token."""

    issuer_arn: str  # the role (or user, for GetSessionToken/federation) it came from
    issuer_id: str
    issued: dt.datetime
    expires: dt.datetime
    mfa_authenticated: bool = False
    mfa_authenticated_at: dt.datetime | None = None
    session_name: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    transitive_tag_keys: tuple[str, ...] = ()
    source_identity: str | None = None
    session_policy: str | None = None  # inline session policy JSON
    session_policy_arns: tuple[str, ...] = ()
    federated_provider: str | None = None
    chained: bool = False
    extra_context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Caller:
    """An authenticated principal. For the root user, `user_name` is None."""

    account_id: str
    arn: str
    principal_id: str  # aws:userid
    type: PrincipalType
    user_name: str | None = None
    access_key_id: str | None = None
    session: Session | None = None

    @property
    def is_root(self) -> bool:
        return self.type is PrincipalType.ROOT


@dataclass(frozen=True)
class RequestMeta:
    request_id: str
    now: dt.datetime
    source_ip: str = "127.0.0.1"
    user_agent: str = ""
    secure_transport: bool = False
    region: str = "us-east-1"
    #: Set only by Chamberlain itself, never from a request: the call is its own, made
    #: with the principal's authority (an account's set-up, as root). The record's
    #: userIdentity.invokedBy says so, and the call is no use of the principal's
    #: (service last accessed, the advisor's root-used).
    invoked_by: str = ""


@dataclass
class Services:
    """Long-lived collaborators the operations use: store, secret box, settings."""

    store: Store
    secrets: SecretBox
    tokens: TokenSealer | None = None  # STS session tokens; None: no temporary credentials
    password_params: Argon2Params = DEFAULT_PARAMS
    audit: bool = True  # record every call in the audit trail (off only for benchmarks)
    partition: str = "aws"
    cache: dict[str, Any] = field(default_factory=dict)
    #: Lookups in `cache` by (cache name, hit?), for the cache hit rate metric.
    cache_stats: CounterType[tuple[str, bool]] = field(default_factory=CounterType)
    #: Where read-only calls' audit events and key last-used notes go (batched, see
    #: group_commit.py); None: each is written at once in a transaction of its own.
    group_commit: GroupCommit | None = None


def note_cache(services: Services, name: str, hit: bool) -> None:
    """Count one lookup in a per-node cache (a lost count under a race is harmless)."""
    services.cache_stats[(name, hit)] += 1


class Stored(Protocol):
    """A stored entity, as domain.py defines them."""

    @property
    def account_id(self) -> str: ...

    @property
    def key(self) -> str: ...


S = TypeVar("S", bound=Stored)


@dataclass
class OpContext:
    caller: Caller
    meta: RequestMeta
    uow: UnitOfWork
    services: Services
    #: The entity the operation's resolver read to authorize the call (registry.Target's
    #: `entity`), handed to the handler so that it does not read it a second time.
    resolved: object | None = None
    prepared: object = None  # what the operation's preparer returned (registry.operation)

    def take_resolved(self, entity: type[S], named: Callable[[S], bool]) -> S | None:
        """The resolved entity if it is an `entity` of this account that is `named`;
        taken once (a later lookup reads the store, which may have changed since)."""
        found = self.resolved
        if isinstance(found, entity) and found.account_id == self.account_id and named(found):
            self.resolved = None
            return found
        return None

    @property
    def account_id(self) -> str:
        """The account the operation acts in (the caller's)."""
        return self.caller.account_id

    @property
    def now(self) -> dt.datetime:
        return self.meta.now
