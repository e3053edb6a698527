"""The policy simulator's core: the policies of a simulation, each request asked of the
policy engine (`evaluate(..., explain=True)`, the engine every API call is authorized
by), and the answer in the terms of IAM's EvaluationResult.

Policies are gathered with authz's helpers (`principal_policies`, `managed_policy_text`)
and compiled through its cache (`compiled`), so a simulation sees exactly what
authorization sees. Each policy is compiled under an id that names its source, and the
engine reports matched statements by that id and statement index; `Source` turns those
back into SourcePolicyId / SourcePolicyType and the statement's position in the text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chamberlain.domain import Group, Membership, Role, User
from chamberlain.ops.core.authz import (
    compiled,
    decision_account,
    managed_policy_text,
    principal_policies,
)
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import InvalidInput, PolicyEvaluation
from chamberlain.ops.simulator import rules
from chamberlain.ops.simulator.inputs import (
    Exclusions,
    dedupe_keys,
    policy_context_keys,
    statement_variable_keys,
)
from chamberlain.ops.simulator.positions import statement_spans
from chamberlain.policy import (
    Applicable,
    CompiledPolicy,
    Decision,
    MalformedPolicyDocument,
    Outcome,
    PolicySet,
    PolicySource,
    PolicyType,
    Principal,
    Request,
    evaluate,
)
from chamberlain.policy.request import ContextValue

# SourcePolicyType values (IAM's PolicySourceType).
USER, GROUP, ROLE = "user", "group", "role"
AWS_MANAGED, USER_MANAGED, RESOURCE, NONE = "aws-managed", "user-managed", "resource", "none"

_RESTRICTIVENESS = {Outcome.ALLOWED: 0, Outcome.IMPLICIT_DENY: 1, Outcome.EXPLICIT_DENY: 2}


# ---------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Source:
    """One policy of a simulation and how the simulator names it."""

    key: str  # the id it is compiled under; the engine reports matches by it
    policy_id: str  # SourcePolicyId
    type: str  # SourcePolicyType
    text: str
    inline: tuple[str, str, str] | None = None  # (entity kind, entity name, policy name)
    arn: str | None = None  # a managed policy's ARN


def managed_source(arn: str, text: str) -> Source:
    aws = arn.split(":")[4] == "aws"
    name = arn.rsplit("/", 1)[-1]
    return Source(arn, name, AWS_MANAGED if aws else USER_MANAGED, text, arn=arn)


def _entity_sources(ctx: OpContext, kind: str, name: str) -> list[Source]:
    """AWS names an inline policy `KIND_ENTITY_POLICY` (e.g. `user_alice_S3Read`) and a
    managed policy by its name."""
    out: list[Source] = []
    for policy_id, text in principal_policies(ctx, kind, name):
        if policy_id.startswith("arn:"):
            out.append(managed_source(policy_id, text))
        else:
            key = f"{kind}_{name}_{policy_id}"
            out.append(Source(key, key, kind, text, inline=(kind, name, policy_id)))
    return out


def identity_sources(ctx: OpContext, entity: User | Group | Role, kind: str) -> list[Source]:
    """The entity's identity policies, as authz's `user_identity_policies` gathers them
    (the user's, then each group's), each with its source."""
    sources = _entity_sources(ctx, kind, entity.name)
    if kind == USER:
        for membership in ctx.uow.repo(Membership).list(ctx.account_id, ref=entity.name.lower()):
            sources.extend(_entity_sources(ctx, GROUP, membership.group_name))
    return sources


def without_excluded(sources: Iterable[Source], exclusions: Exclusions) -> list[Source]:
    kept: list[Source] = []
    for source in sources:
        if source.inline is not None and exclusions.drops_inline(*source.inline):
            continue
        if source.arn is not None and exclusions.drops_managed(
            source.arn, source.type == AWS_MANAGED
        ):
            continue
        kept.append(source)
    return kept


def input_sources(texts: Sequence[str] | None, label: str) -> list[Source]:
    """Policies given as strings: `PolicyInputList.1`, `PolicyInputList.2`, ..."""
    return [Source(f"{label}.{i}", f"{label}.{i}", NONE, t) for i, t in enumerate(texts or (), 1)]


def entity_boundary(ctx: OpContext, entity: User | Group | Role) -> Source | None:
    arn = getattr(entity, "permissions_boundary", None)
    if not arn:
        return None
    text = managed_policy_text(ctx, arn)
    return managed_source(arn, text) if text is not None else None


def compile_source(ctx: OpContext, source: Source, kind: PolicyType) -> CompiledPolicy:
    """A policy the caller passed that does not parse is InvalidInput (AWS); a stored
    one that no longer parses cannot be evaluated (PolicyEvaluation)."""
    try:
        return compiled(ctx, (source.key, source.text), kind)
    except MalformedPolicyDocument as exc:
        if source.type in (NONE, RESOURCE):
            raise InvalidInput(exc.message) from exc
        raise PolicyEvaluation(f"The policy {source.policy_id} could not be evaluated.") from exc


# ------------------------------------------------------------------------- simulation


@dataclass(frozen=True)
class Verdict:
    """The simulator's answer for one action on one resource."""

    decision: Outcome
    matched: list[dict[str, Any]]
    missing: list[str]
    boundary_allowed: bool | None  # None: no permissions boundary in the simulation
    organizations_allowed: bool | None  # None: no SCPs in the simulation
    details: dict[str, str] | None  # per policy type, for cross-account requests


def _resource_account(resource: str) -> str | None:
    parts = resource.split(":", 5)
    if parts[0] == "arn" and len(parts) == 6 and parts[4]:
        return parts[4]
    return None


@dataclass
class Simulation:
    principal: Principal
    sources: list[Source]
    identity: tuple[CompiledPolicy, ...]
    context: Mapping[str, ContextValue]
    boundary: CompiledPolicy | None = None
    resource_policy: CompiledPolicy | None = None
    owner: str | None = None  # ResourceOwner's account
    organizations: tuple[tuple[CompiledPolicy, ...], ...] | None = None
    _by_key: dict[str, Source] = field(default_factory=dict, init=False)
    _sets: dict[Any, PolicySet] = field(default_factory=dict, init=False)
    _key_order: dict[str, int] = field(default_factory=dict, init=False)
    _present: frozenset[str] = field(default=frozenset(), init=False)

    def __post_init__(self) -> None:
        self._by_key = {s.key: s for s in self.sources}
        policies = [*self.identity, self.boundary, self.resource_policy]
        keys = dedupe_keys(
            k for p in policies if p is not None for k in policy_context_keys(p.policy)
        )
        self._key_order = {k.lower(): i for i, k in enumerate(keys)}
        self._present = frozenset(
            k.lower()
            for k, v in self.context.items()
            if not (isinstance(v, list | tuple) and not v)
        )

    # -- policy sets (one per resource account; built once, the engine caches on them)

    def _main(self, account: str, resource_must_allow: bool = False) -> PolicySet:
        hit = self._sets.get(("main", account, resource_must_allow))
        if hit is None:
            hit = self._sets[("main", account, resource_must_allow)] = Applicable(
                identity=self.identity,
                resource=self.resource_policy,
                resource_account=account,
                boundary=self.boundary,
                require_resource_allow=resource_must_allow,
            )
        return hit

    def _alone(self, name: Any, **policies: Any) -> PolicySet:
        """Some of the policies by themselves, in the caller's own account."""
        hit = self._sets.get(name)
        if hit is None:
            hit = self._sets[name] = Applicable(resource_account=self.principal.account, **policies)
        return hit

    # -- one request

    def verdict(self, action: str, resource: str) -> Verdict:
        account = (
            decision_account(resource, self.principal.account)
            or _resource_account(resource)
            or self.owner
            or self.principal.account
        )
        request = Request(self.principal, action, resource, self.context)
        must_allow = self.resource_policy is not None and rules.resource_policy_must_allow(
            action, resource
        )
        decision = evaluate(request, self._main(account, must_allow), explain=True)
        outcome, matched = decision.outcome, self._matched(decision)
        if rules.changes_reserved_resource(action, resource):
            outcome, matched = Outcome.IMPLICIT_DENY, []

        organizations_allowed = None
        if self.organizations is not None:
            levels = [
                evaluate(request, self._alone(("scp", i), identity=level)).outcome
                for i, level in enumerate(self.organizations)
            ]
            organizations_allowed = all(o is Outcome.ALLOWED for o in levels)
            if Outcome.EXPLICIT_DENY in levels and outcome is not Outcome.EXPLICIT_DENY:
                outcome, matched = Outcome.EXPLICIT_DENY, []
            elif not organizations_allowed and outcome is Outcome.ALLOWED:
                outcome, matched = Outcome.IMPLICIT_DENY, []

        boundary_allowed = None
        if self.boundary is not None:
            alone = self._alone("boundary", identity=(self.boundary,))
            boundary_allowed = evaluate(request, alone).allowed

        if rules.needs_no_permission(action):
            outcome = Outcome.ALLOWED
            matched = matched if decision.outcome is Outcome.ALLOWED else []
        details = None
        if resource != "*" and account != self.principal.account:
            details = self._cross_account_details(request)
        return Verdict(
            outcome,
            matched,
            self._missing(decision, action),
            boundary_allowed,
            organizations_allowed,
            details,
        )

    def _cross_account_details(self, request: Request) -> dict[str, str]:
        identity = evaluate(request, self._alone("identity", identity=self.identity))
        details = {"IAM Policy": identity.outcome.value}
        resource = Outcome.IMPLICIT_DENY
        if self.resource_policy is not None:
            alone = self._alone("resource", resource=self.resource_policy)
            resource = evaluate(request, alone).outcome
        details["Resource Policy"] = resource.value
        return details

    def _matched(self, decision: Decision) -> list[dict[str, Any]]:
        """The statements that decided, as AWS lists them: the denying ones for an
        explicit deny, the allowing identity and resource-policy ones for an allow."""
        out: list[dict[str, Any]] = []
        seen: set[tuple[str, str, int]] = set()
        for m in decision.matched:
            if decision.outcome is Outcome.ALLOWED and m.source is PolicySource.BOUNDARY:
                continue
            source = self._by_key[m.policy_id]
            ident = (source.policy_id, source.type, m.index)
            if ident in seen:
                continue
            seen.add(ident)
            item: dict[str, Any] = {
                "SourcePolicyId": source.policy_id,
                "SourcePolicyType": source.type,
            }
            spans = statement_spans(source.text)
            if m.index < len(spans):
                (start_line, start_col), (end_line, end_col) = spans[m.index]
                item["StartPosition"] = {"Line": start_line, "Column": start_col}
                item["EndPosition"] = {"Line": end_line, "Column": end_col}
            out.append(item)
        return out

    def _missing(self, decision: Decision, action: str) -> list[str]:
        """The engine's missing condition keys, plus the policy variables of the
        statements that apply to the action that the context lacks."""
        keys = list(decision.missing_context_keys)
        low = action.lower()
        for policy in (*self.identity, self.boundary, self.resource_policy):
            if policy is None:
                continue
            denies, allows = policy.for_action(low)
            for statement in (*denies, *allows):
                keys.extend(
                    k
                    for k in statement_variable_keys(policy.policy, statement.index)
                    if k.lower() not in self._present
                )
        unique = dedupe_keys(keys)
        last = len(self._key_order)
        return sorted(unique, key=lambda k: (self._key_order.get(k.lower(), last), k.lower()))


def most_restrictive(outcomes: Iterable[Outcome]) -> Outcome:
    return max(outcomes, key=_RESTRICTIVENESS.__getitem__, default=Outcome.IMPLICIT_DENY)
