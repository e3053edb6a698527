"""Compile a parsed policy once into matchers, so evaluation never re-reads JSON.

Statements are indexed by action: the first time a compiled policy (or a group of them)
is asked about an action, it finds the statements whose Action/NotAction match it and
remembers them, split into Deny and Allow. From then on a decision touches only those
statements, whatever the number of policies or statements that do not apply.
"""

from __future__ import annotations

from collections.abc import Iterable

from .conditions import Test, compile_clause
from .context import EvalState
from .decision import Decision, MatchedStatement, Outcome, PolicySource
from .matching import ARN_RESOURCE, PLAIN, has_wildcard, pieces_regex, union_regex
from .model import Effect, Policy, Statement
from .principals import PrincipalMatcher
from .variables import Template, resolve, split_template

_ACTION_CACHE_MAX = 4096


class ActionMatcher:
    __slots__ = ("_exact", "_regex")

    def __init__(self, patterns: Iterable[str]) -> None:
        lowered = [p.lower() for p in patterns]
        self._exact = frozenset(p for p in lowered if not has_wildcard(p))
        wild = [p for p in lowered if has_wildcard(p)]
        self._regex = union_regex(wild, arn_aware=PLAIN, ignore_case=False).test if wild else None

    def match(self, action: str) -> bool:
        """`action` must already be lower-cased."""
        if action in self._exact:
            return True
        return self._regex is not None and self._regex(action) is not None


class ResourceMatcher:
    """Resource or NotResource patterns. A pattern holding a policy variable with no
    value (and no default) matches no resource (AWS, "Policy variables with no value"):
    as a Resource it grants nothing, as a NotResource it excludes nothing."""

    __slots__ = ("_any", "_exact", "_regex", "_templates")

    def __init__(self, patterns: Iterable[str], substitute: bool) -> None:
        exact: set[str] = set()
        wild: list[str] = []
        templates: list[Template] = []
        self._any = False
        for p in patterns:
            template = split_template(p) if substitute else None
            if template is not None:
                templates.append(template)
            elif p == "*":
                self._any = True
            elif has_wildcard(p):
                wild.append(p)
            else:
                exact.add(p)
        self._exact = frozenset(exact)
        self._regex = (
            union_regex(wild, arn_aware=ARN_RESOURCE, ignore_case=False).test if wild else None
        )
        self._templates = tuple(templates)

    def match(self, resource: str, state: EvalState) -> bool:
        if self._any or resource in self._exact:
            return True
        if self._regex is not None and self._regex(resource) is not None:
            return True
        for template in self._templates:
            pieces = resolve(template, state.variable)
            if pieces is None:
                continue  # matches no resource
            if pieces_regex(pieces, ARN_RESOURCE, False).fullmatch(resource) is not None:
                return True
        return False


class CompiledStatement:
    __slots__ = (
        "_reported",
        "action",
        "condition_keys",
        "conditions",
        "deny",
        "index",
        "not_action",
        "not_resource",
        "policy_id",
        "principal",
        "resource",
        "sid",
    )

    def __init__(self, policy_id: str, st: Statement, substitute: bool) -> None:
        self.policy_id = policy_id
        self.index = st.index
        self.sid = st.sid
        self.deny = st.effect is Effect.DENY
        actions = st.action if st.action is not None else st.not_action
        self.action = ActionMatcher(actions) if actions is not None else None
        self.not_action = st.action is None and st.not_action is not None
        patterns = st.resource if st.resource is not None else st.not_resource
        self.resource = ResourceMatcher(patterns, substitute) if patterns is not None else None
        self.not_resource = st.resource is None and st.not_resource is not None
        if st.principal is not None:
            self.principal: PrincipalMatcher | None = PrincipalMatcher(st.principal, negated=False)
        elif st.not_principal is not None:
            self.principal = PrincipalMatcher(st.not_principal, negated=True, deny=self.deny)
        else:
            self.principal = None
        self.conditions: tuple[Test, ...] = tuple(
            compile_clause(c, substitute) for c in st.conditions
        )
        self.condition_keys: tuple[tuple[str, str], ...] = tuple(
            dict.fromkeys((c.key.lower(), c.key) for c in st.conditions)
        )
        self._reported: dict[PolicySource, tuple[MatchedStatement, Decision]] = {}

    def reported(self, source: PolicySource) -> tuple[MatchedStatement, Decision]:
        """This statement as a decision reports it, and the explicit-deny decision it
        makes, built once per source (the same policy can serve as identity policy and
        as boundary)."""
        hit = self._reported.get(source)
        if hit is None:
            m = MatchedStatement(
                source, self.policy_id, self.index, self.sid, "Deny" if self.deny else "Allow"
            )
            hit = self._reported[source] = (m, Decision(Outcome.EXPLICIT_DENY, (m,), source))
        return hit

    def holds(self, resource: str, state: EvalState) -> bool:
        """Resource and conditions, once the action (and principal) matched."""
        rm = self.resource
        if rm is not None and rm.match(resource, state) == self.not_resource:
            return False
        for test in self.conditions:  # noqa: SIM110 - all(genexpr) costs a frame per call
            if not test(state):
                return False
        return True

    def matches_action(self, action: str) -> bool:
        if self.action is None:
            return False
        hit = self.action.match(action)
        return not hit if self.not_action else hit


Candidates = tuple[tuple[CompiledStatement, ...], tuple[CompiledStatement, ...]]
_NONE: Candidates = ((), ())


class StatementIndex:
    """Statements of one or more policies, looked up by (lower-cased) action."""

    __slots__ = ("_cache", "statements")

    def __init__(self, statements: tuple[CompiledStatement, ...]) -> None:
        self.statements = statements
        self._cache: dict[str, Candidates] = {}

    def for_action(self, action: str) -> Candidates:
        hit = self._cache.get(action)
        if hit is None:
            applicable = [s for s in self.statements if s.matches_action(action)]
            hit = (
                tuple(s for s in applicable if s.deny),
                tuple(s for s in applicable if not s.deny),
            )
            if not applicable:
                hit = _NONE
            if len(self._cache) >= _ACTION_CACHE_MAX:
                self._cache.clear()
            self._cache[action] = hit
        return hit


class CompiledPolicy(StatementIndex):
    """One policy version, compiled. Build with `compile_policy`."""

    __slots__ = ("policy", "policy_id")

    def __init__(self, policy: Policy, policy_id: str) -> None:
        self.policy = policy
        self.policy_id = policy_id
        substitute = policy.substitutes_variables
        super().__init__(
            tuple(CompiledStatement(policy_id, st, substitute) for st in policy.statements)
        )


def compile_policy(policy: Policy, policy_id: str = "") -> CompiledPolicy:
    return CompiledPolicy(policy, policy_id)


def group(policies: tuple[CompiledPolicy, ...]) -> StatementIndex:
    """Several policies indexed as one (a principal's identity policies)."""
    return StatementIndex(tuple(s for p in policies for s in p.statements))
