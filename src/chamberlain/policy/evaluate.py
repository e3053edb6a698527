"""Decide a request against its applicable compiled policies (AWS's evaluation logic).

The fast path stops at the first explicit Deny and at the first Allow each step needs;
`explain=True` evaluates every applicable statement to report all the statements that
matched and every missing context key (what the policy simulator shows).
"""

from __future__ import annotations

from .compile import Candidates, CompiledPolicy, CompiledStatement, StatementIndex, group
from .context import MISSING, EvalState
from .decision import Decision, MatchedStatement, Outcome, PolicySource
from .inputs import Applicable
from .principals import MatchKind
from .request import Principal, PrincipalType, Request

PolicySet = Applicable[CompiledPolicy]

IDENTITY, RESOURCE = PolicySource.IDENTITY, PolicySource.RESOURCE
BOUNDARY, SESSION = PolicySource.BOUNDARY, PolicySource.SESSION
_EMPTY: Candidates = ((), ())
Indexes = tuple[StatementIndex | None, StatementIndex | None]


def _indexes(policies: PolicySet) -> Indexes:
    """One action index over the identity policies and one over the session policies,
    built on first use and kept on the policy set (callers keep a set per principal), so
    a decision costs the same however many policies the set holds."""
    cached: Indexes | None = policies.__dict__.get("_indexes")
    if cached is None:
        cached = (
            group(policies.identity) if policies.identity else None,
            group(policies.session) if policies.session else None,
        )
        object.__setattr__(policies, "_indexes", cached)
    return cached


Plan = tuple[Candidates, Candidates, Candidates, Candidates]
_PLAN_CACHE_MAX = 4096


def _plan(policies: PolicySet, action: str) -> Plan:
    """The identity, resource, boundary and session statements whose Action matches the
    (lower-cased) action, looked up once per action and kept on the policy set."""
    plans: dict[str, Plan] | None = policies.__dict__.get("_plans")
    if plans is None:
        plans = {}
        object.__setattr__(policies, "_plans", plans)
    plan = plans.get(action)
    if plan is None:
        identity_index, session_index = _indexes(policies)
        rp, bp = policies.resource, policies.boundary
        plan = (
            identity_index.for_action(action) if identity_index is not None else _EMPTY,
            rp.for_action(action) if rp is not None else _EMPTY,
            bp.for_action(action) if bp is not None else _EMPTY,
            session_index.for_action(action) if session_index is not None else _EMPTY,
        )
        if len(plans) >= _PLAN_CACHE_MAX:
            plans.clear()
        plans[action] = plan
    return plan


_accounts: dict[str, str | None] = {}


def resource_account(resource: str) -> str | None:
    """The account field of an ARN, or None when it has none (memoised)."""
    hit = _accounts.get(resource, False)
    if hit is not False:
        return hit  # type: ignore[return-value]
    account = None
    if resource.startswith("arn:"):
        parts = resource.split(":", 5)
        if len(parts) == 6 and parts[4]:
            account = parts[4]
    if len(_accounts) > 65536:
        _accounts.clear()
    _accounts[resource] = account
    return account


def _principal_kind(s: CompiledStatement, principal: Principal) -> MatchKind | None:
    return s.principal.match(principal) if s.principal is not None else None


def _denies_principal(
    s: CompiledStatement, principal: Principal, boundary: CompiledPolicy | None
) -> bool:
    """Does a resource-policy Deny apply to the caller? AWS: a Deny with NotPrincipal
    always applies to a caller that has a permissions boundary."""
    if boundary is not None and s.principal is not None and s.principal.negated:
        return True
    return _principal_kind(s, principal) is not None


_IMPLICIT = {source: Decision(Outcome.IMPLICIT_DENY, (), source) for source in PolicySource}
_DIRECT = MatchKind.DIRECT


def evaluate(request: Request, policies: PolicySet, *, explain: bool = False) -> Decision:
    if explain:
        return _explain(request, policies)
    action = request.action.lower()
    resource = request.resource
    principal = request.principal
    state = EvalState(request.context)
    ident, res, bnd, ses = _plan(policies, action)
    bp, sp = policies.boundary, policies.session

    # 1. An explicit deny anywhere decides.
    for s in ident[0]:
        if s.holds(resource, state):
            return s.reported(IDENTITY)[1]
    for s in res[0]:
        if _denies_principal(s, principal, bp) and s.holds(resource, state):
            return s.reported(RESOURCE)[1]
    for s in bnd[0]:
        if s.holds(resource, state):
            return s.reported(BOUNDARY)[1]
    for s in ses[0]:
        if s.holds(resource, state):
            return s.reported(SESSION)[1]

    # 2. The strongest resource-policy allow.
    r_kind: MatchKind | None = None
    r_stmt: CompiledStatement | None = None
    for s in res[1]:
        kind = _principal_kind(s, principal)
        if kind is not None and (r_kind is None or kind > r_kind) and s.holds(resource, state):
            r_kind, r_stmt = kind, s
            if kind is _DIRECT:
                break
    account = policies.resource_account or resource_account(resource)
    same_account = account is None or principal.account == account
    if r_kind is None:
        if policies.require_resource_allow or not same_account:
            return _IMPLICIT[RESOURCE]
        matched: tuple[MatchedStatement, ...] = ()
    else:
        matched = (r_stmt.reported(RESOURCE)[0],)  # type: ignore[union-attr]
        if same_account and r_kind is _DIRECT:
            return Decision(Outcome.ALLOWED, matched)

    # 3. The identity side, then boundary and session policies.
    is_root = principal.type is PrincipalType.ROOT
    if is_root or (same_account and r_kind is MatchKind.ISSUER):
        if is_root and same_account:
            return Decision(Outcome.ALLOWED, matched)
    else:
        for s in ident[1]:
            if s.holds(resource, state):
                matched += (s.reported(IDENTITY)[0],)
                break
        else:
            return _IMPLICIT[IDENTITY]
    if is_root:
        return Decision(Outcome.ALLOWED, matched)
    if bp is not None:
        for s in bnd[1]:
            if s.holds(resource, state):
                matched += (s.reported(BOUNDARY)[0],)
                break
        else:
            return _IMPLICIT[BOUNDARY]
    if sp is not None:
        for s in ses[1]:
            if s.holds(resource, state):
                matched += (s.reported(SESSION)[0],)
                break
        else:
            return _IMPLICIT[SESSION]
    return Decision(Outcome.ALLOWED, matched)


def _explain(request: Request, policies: PolicySet) -> Decision:
    """Every applicable statement evaluated; the same outcome as the fast path."""
    action = request.action.lower()
    resource = request.resource
    principal = request.principal
    state = EvalState(request.context)
    missing: dict[str, None] = {}

    def run(
        source: PolicySource, index: StatementIndex | None, with_principal: bool
    ) -> tuple[list[MatchedStatement], list[MatchedStatement], MatchKind | None]:
        denies: list[MatchedStatement] = []
        allows: list[MatchedStatement] = []
        best: MatchKind | None = None
        if index is None:
            return denies, allows, best
        deny_list, allow_list = index.for_action(action)
        for s in (*deny_list, *allow_list):
            kind = _principal_kind(s, principal) if with_principal else None
            if (
                with_principal
                and kind is None
                and not (s.deny and _denies_principal(s, principal, policies.boundary))
            ):
                continue
            rm = s.resource
            if rm is not None:
                hit = rm.match(resource, state)
                if hit is None or hit == s.not_resource:
                    continue
            for low, written in s.condition_keys:
                if state.get(low, written) is MISSING:
                    missing.setdefault(written)
            if all(test(state) for test in s.conditions):
                (denies if s.deny else allows).append(s.reported(source)[0])
                if not s.deny and kind is not None and (best is None or kind > best):
                    best = kind
        return denies, allows, best

    identity_index, session_index = _indexes(policies)
    i_d, i_a, _ = run(IDENTITY, identity_index, False)
    r_d, r_a, r_kind = run(RESOURCE, policies.resource, True)
    b_d, b_a, _ = run(BOUNDARY, policies.boundary, False)
    sp = policies.session
    s_d, s_a, _ = run(SESSION, session_index, False)
    gone = frozenset(missing)

    def deny(source: PolicySource) -> Decision:
        return Decision(Outcome.IMPLICIT_DENY, (), source, gone)

    denies = i_d + r_d + b_d + s_d
    if denies:
        return Decision(Outcome.EXPLICIT_DENY, tuple(denies), denies[0].source, gone)
    allowed = Decision(Outcome.ALLOWED, tuple(i_a + r_a + b_a + s_a), None, gone)
    account = policies.resource_account or resource_account(resource)
    same_account = account is None or principal.account == account
    if same_account and r_kind is MatchKind.DIRECT:
        return allowed
    if r_kind is None and (policies.require_resource_allow or not same_account):
        return deny(RESOURCE)
    is_root = principal.is_root
    identity_ok = is_root or bool(i_a) or (same_account and r_kind is MatchKind.ISSUER)
    if not identity_ok:
        return deny(IDENTITY)
    if is_root:
        return allowed
    if policies.boundary is not None and not b_a:
        return deny(BOUNDARY)
    if sp is not None and not s_a:
        return deny(SESSION)
    return allowed
