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


_NO_ALLOW: tuple[None, None] = (None, None)
_IMPLICIT = {source: Decision(Outcome.IMPLICIT_DENY, (), source) for source in PolicySource}
_DIRECT = MatchKind.DIRECT


def evaluate(request: Request, policies: PolicySet, *, explain: bool = False) -> Decision:
    """AWS's decision: an explicit Deny anywhere, then the resource policy's Allow, then
    the identity side (identity policies, permissions boundary, session policies)."""
    if explain:
        return _explain(request, policies)
    resource = request.resource
    principal = request.principal
    state = EvalState(request.context)
    ident, res, bnd, ses = _plan(policies, request.action.lower())
    if ident[0] or res[0] or bnd[0] or ses[0]:
        denied = _explicit_deny(ident[0], res[0], bnd[0], ses[0], request, policies, state)
        if denied is not None:
            return denied

    r_kind, r_stmt = (
        _strongest_resource_allow(res[1], principal, resource, state) if res[1] else _NO_ALLOW
    )
    same_account = _same_account(policies, principal, resource)
    matched: tuple[MatchedStatement, ...] = ()
    if r_stmt is None:
        if policies.require_resource_allow or not same_account:
            return _IMPLICIT[RESOURCE]
    else:
        matched = (r_stmt.reported(RESOURCE)[0],)
        if same_account and r_kind is _DIRECT:
            return Decision(Outcome.ALLOWED, matched)

    # The identity side: the root user needs no policy; a same-account resource policy
    # naming the session's issuer stands for the identity policy.
    if principal.type is PrincipalType.ROOT:
        return Decision(Outcome.ALLOWED, matched)
    if not (same_account and r_kind is MatchKind.ISSUER):
        allow = _first_allow(ident[1], IDENTITY, resource, state)
        if allow is None:
            return _IMPLICIT[IDENTITY]
        matched += (allow,)
    if policies.boundary is not None:
        allow = _first_allow(bnd[1], BOUNDARY, resource, state)
        if allow is None:
            return _IMPLICIT[BOUNDARY]
        matched += (allow,)
    if policies.session is not None:
        allow = _first_allow(ses[1], SESSION, resource, state)
        if allow is None:
            return _IMPLICIT[SESSION]
        matched += (allow,)
    return Decision(Outcome.ALLOWED, matched)


def _explicit_deny(
    ident: tuple[CompiledStatement, ...],
    res: tuple[CompiledStatement, ...],
    bnd: tuple[CompiledStatement, ...],
    ses: tuple[CompiledStatement, ...],
    request: Request,
    policies: PolicySet,
    state: EvalState,
) -> Decision | None:
    """The first Deny statement that applies (identity, resource, boundary, session)."""
    resource = request.resource
    for s in ident:
        if s.holds(resource, state):
            return s.reported(IDENTITY)[1]
    principal, boundary = request.principal, policies.boundary
    for s in res:
        if _denies_principal(s, principal, boundary) and s.holds(resource, state):
            return s.reported(RESOURCE)[1]
    for s in bnd:
        if s.holds(resource, state):
            return s.reported(BOUNDARY)[1]
    for s in ses:
        if s.holds(resource, state):
            return s.reported(SESSION)[1]
    return None


def _strongest_resource_allow(
    allows: tuple[CompiledStatement, ...], principal: Principal, resource: str, state: EvalState
) -> tuple[MatchKind | None, CompiledStatement | None]:
    """The resource-policy Allow that names the caller most directly, and how."""
    best_kind: MatchKind | None = None
    best: CompiledStatement | None = None
    for s in allows:
        kind = _principal_kind(s, principal)
        if (
            kind is not None
            and (best_kind is None or kind > best_kind)
            and s.holds(resource, state)
        ):
            best_kind, best = kind, s
            if kind is _DIRECT:
                break
    return best_kind, best


def _first_allow(
    allows: tuple[CompiledStatement, ...], source: PolicySource, resource: str, state: EvalState
) -> MatchedStatement | None:
    for s in allows:
        if s.holds(resource, state):
            return s.reported(source)[0]
    return None


def _same_account(policies: PolicySet, principal: Principal, resource: str) -> bool:
    """Is the resource in the caller's account (or in none)?"""
    account = policies.resource_account or resource_account(resource)
    return account is None or principal.account == account


def _explain(request: Request, policies: PolicySet) -> Decision:
    """Every applicable statement evaluated; the same outcome as the fast path."""
    state = EvalState(request.context)
    missing: dict[str, None] = {}
    identity_index, session_index = _indexes(policies)
    found = [
        _matching(request, policies, source, index, state, missing)
        for source, index in (
            (IDENTITY, identity_index),
            (RESOURCE, policies.resource),
            (BOUNDARY, policies.boundary),
            (SESSION, session_index),
        )
    ]
    gone = frozenset(missing)
    denies = [m for denied, _, _ in found for m in denied]
    if denies:
        return Decision(Outcome.EXPLICIT_DENY, tuple(denies), denies[0].source, gone)
    (_, i_a, _), (_, _, r_kind), (_, b_a, _), (_, s_a, _) = found
    principal = request.principal
    same_account = _same_account(policies, principal, request.resource)
    refused = _refused_by(
        principal, policies, same_account, r_kind, bool(i_a), bool(b_a), bool(s_a)
    )
    if refused is not None:
        return Decision(Outcome.IMPLICIT_DENY, (), refused, gone)
    allows = tuple(m for _, allowed, _ in found for m in allowed)
    return Decision(Outcome.ALLOWED, allows, None, gone)


def _matching(
    request: Request,
    policies: PolicySet,
    source: PolicySource,
    index: StatementIndex | None,
    state: EvalState,
    missing: dict[str, None],
) -> tuple[list[MatchedStatement], list[MatchedStatement], MatchKind | None]:
    """The Deny and Allow statements of `index` that apply to the request, and (for the
    resource policy) how directly the strongest Allow names the caller; the condition
    keys the request lacks are added to `missing`."""
    denies: list[MatchedStatement] = []
    allows: list[MatchedStatement] = []
    best: MatchKind | None = None
    if index is None:
        return denies, allows, best
    principal, resource = request.principal, request.resource
    with_principal = source is RESOURCE
    deny_list, allow_list = index.for_action(request.action.lower())
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


def _refused_by(
    principal: Principal,
    policies: PolicySet,
    same_account: bool,
    r_kind: MatchKind | None,
    identity_allows: bool,
    boundary_allows: bool,
    session_allows: bool,
) -> PolicySource | None:
    """With no explicit Deny: the kind of policy whose missing Allow denies the request
    (None: allowed), in the fast path's order."""
    if same_account and r_kind is MatchKind.DIRECT:
        return None
    if r_kind is None and (policies.require_resource_allow or not same_account):
        return RESOURCE
    if principal.is_root:
        return None
    if not identity_allows and not (same_account and r_kind is MatchKind.ISSUER):
        return IDENTITY
    if policies.boundary is not None and not boundary_allows:
        return BOUNDARY
    if policies.session is not None and not session_allows:
        return SESSION
    return None
