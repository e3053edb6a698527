"""The reference evaluator: a slow, plain reading of docs/policy-semantics.md.

It is the oracle the compiled engine is checked against, so it shares no code with it
(nothing from parse/validate/compile/evaluate/conditions): it reads each policy's raw
JSON on every call and walks the rules in the order the semantics doc states them.
Clarity wins over speed everywhere. It lives with the tests (and the engine benchmark):
the shipped package neither needs nor contains it. It assumes the documents are valid policies but
treats anything unexpected in them as "does not match" rather than crashing.

Where the doc is silent, the reading taken here is:
- text a variable substitutes (a context value or a default) is literal, never a wildcard;
  a multi-valued key (a list) has no value as a variable, so its default applies;
- a variable's value is the context value as text: bools and numbers as JSON writes
  them, datetimes as `YYYY-MM-DDTHH:MM:SSZ`;
- the root user's identity side is always allowed and a boundary or session policy never
  limits it (semantics doc), but an explicit Deny still applies (step 1 comes first) and, in its own
  account, a trust policy (`require_resource_allow`) must still allow it;
- an empty tuple of session policies is present: nothing allows, so it denies.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chamberlain.policy.decision import Decision, MatchedStatement, Outcome, PolicySource
from chamberlain.policy.inputs import NamedDocument, PolicyDocuments
from chamberlain.policy.request import Principal, PrincipalType, Request

__all__ = ["reference_evaluate"]

VARIABLES_VERSION = "2012-10-17"

# --------------------------------------------------------------------------- patterns
# A pattern is a list of tokens: a one-character string is a literal character, STAR and
# QMARK are the wildcards. Keeping literals and wildcards apart is what lets `${*}` and
# `${?}` stand for a literal `*` and `?`.


class _Wildcard:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


STAR = _Wildcard("*")
QMARK = _Wildcard("?")
Token = str | _Wildcard
Pattern = list[Token]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _plain(text: str) -> Pattern:
    """`text` read with `*` and `?` as wildcards and nothing else special."""
    return [STAR if c == "*" else QMARK if c == "?" else c for c in text]


def _literal(text: str) -> Pattern:
    return list(text)


def _pattern_text(pattern: Pattern) -> str:
    """The pattern as a plain string (a wildcard becomes its character)."""
    return "".join(t if isinstance(t, str) else t.text for t in pattern)


def _glob(pattern: Pattern, text: str, *, fold_case: bool = False) -> bool:
    """Whole-string match: STAR is any run of characters (colons too), QMARK one character.

    A textbook dynamic programme: reachable[j] says whether the pattern read so far can
    consume exactly text[:j].
    """
    if fold_case:
        text = text.casefold()
        pattern = [t.casefold() if isinstance(t, str) else t for t in pattern]
        # casefold can turn one character into several: flatten again
        pattern = [c for t in pattern for c in (t if isinstance(t, str) else [t])]
    reachable = [True] + [False] * len(text)
    for token in pattern:
        if token is STAR:
            for j in range(1, len(text) + 1):
                reachable[j] = reachable[j] or reachable[j - 1]
        else:
            step = [False] * (len(text) + 1)
            for j in range(1, len(text) + 1):
                if reachable[j - 1] and (token is QMARK or token == text[j - 1]):
                    step[j] = True
            reachable = step
    return reachable[len(text)]


def _split_at_colons(pattern: Pattern, limit: int) -> list[Pattern]:
    """Split at the first `limit` literal colons, like str.split(":", limit)."""
    parts: list[Pattern] = [[]]
    for token in pattern:
        if token == ":" and len(parts) <= limit:
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


def _arn_match(pattern: Pattern, value: str, *, star_crosses: bool) -> bool:
    """ARN-aware, case-sensitive matching (semantics doc, "Matching").

    The pattern is cut at its first five colons. In every segment but the last, a
    wildcard does not match a colon, except, with `star_crosses` (the Resource element,
    not ArnLike), a `*` that is the segment's last character (AWS: it "can expand to
    match beyond the colon boundaries"); in the last segment wildcards match anything.
    A pattern that is exactly `*` matches everything.
    """
    if len(pattern) == 1 and pattern[0] is STAR:
        return True
    parts = _split_at_colons(pattern, 5)
    tokens: list[tuple[Token, bool]] = []  # (token, may it match a colon?)
    for i, part in enumerate(parts):
        if i:
            tokens.append((":", False))
        in_last = i == len(parts) - 1
        for j, token in enumerate(part):
            ends_segment = star_crosses and token is STAR and j == len(part) - 1
            tokens.append((token, in_last or ends_segment))
    # The same dynamic programme as _glob, with colons refused where a wildcard may not
    # take them.
    reachable = [True] + [False] * len(value)
    for token, colons_ok in tokens:
        if token is STAR:
            for j in range(1, len(value) + 1):
                if value[j - 1] != ":" or colons_ok:
                    reachable[j] = reachable[j] or reachable[j - 1]
        else:
            step = [False] * (len(value) + 1)
            for j in range(1, len(value) + 1):
                char = value[j - 1]
                fits = char != ":" or colons_ok if token is QMARK else token == char
                step[j] = reachable[j - 1] and fits
            reachable = step
    return reachable[len(value)]


# --------------------------------------------------------------------------- context


def _lookup(context: Mapping[str, Any], key: str) -> list[Any] | None:
    """The context values of `key` (case-insensitive), or None when the key is missing.

    A scalar is a one-value list; an empty list counts as a missing key.
    """
    wanted = key.casefold()
    found: Any = None
    present = False
    for name, value in context.items():
        if name.casefold() == wanted:
            found, present = value, True
    if not present:
        return None
    if isinstance(found, list | tuple):
        return list(found) if found else None
    return [found]


def _json_text(value: Any) -> str:
    """A value as text: bools and numbers as JSON writes them, datetimes as ISO 8601 UTC."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    if isinstance(value, dt.datetime):
        return _as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def _variable_value(context: Mapping[str, Any], key: str) -> str | None:
    """The text a `${key}` stands for; None when missing or multi-valued (AWS: fails)."""
    wanted = key.casefold()
    for name, value in context.items():
        if name.casefold() == wanted:
            if isinstance(value, list | tuple):
                return None
            return _json_text(value)
    return None


def _substitute(text: str, context: Mapping[str, Any], variables: bool) -> Pattern | None:
    """Replace policy variables ("Policy variables" in the semantics doc).

    Returns the pattern, or None when a variable has no value and no default: AWS's
    "effectively null" value, which no context value or resource is equal to or like.
    Without `variables` (not Version 2012-10-17) the text is taken as written.
    Substituted text is literal: only wildcards written in the policy are wildcards.
    """
    if not variables:
        return _plain(text)
    result: Pattern = []
    position = 0
    for found in _VARIABLE.finditer(text):
        result.extend(_plain(text[position : found.start()]))
        position = found.end()
        inner = found.group(1).strip()
        if inner in ("*", "?", "$"):
            result.extend(_literal(inner))
            continue
        key, default = inner, None
        if "," in inner:
            key, default_text = (part.strip() for part in inner.split(",", 1))
            if len(default_text) >= 2 and default_text[0] == default_text[-1] == "'":
                default_text = default_text[1:-1]
            default = default_text
        value = _variable_value(context, key)
        if value is None:
            value = default
        if value is None:
            return None
        result.extend(_literal(value))
    result.extend(_plain(text[position:]))
    return result


# --------------------------------------------------------------------------- conditions

NEGATIONS = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}

_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _as_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return int(value) if value.lstrip("+-").isdigit() else float(value)
    return None


def _date(value: Any) -> dt.datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, dt.datetime):
        return _as_utc(value)
    if isinstance(value, int | float):
        return _epoch(value)
    if not isinstance(value, str):
        return None
    if value.isascii() and value.isdigit():
        return _epoch(int(value))
    try:
        return _as_utc(dt.datetime.fromisoformat(value))
    except ValueError:
        return None


def _epoch(seconds: float) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.casefold() in ("true", "false"):
        return value.casefold() == "true"
    return None


def _binary(value: Any) -> bytes | None:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
    return None


def _ip_network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def _ip_address(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class _PolicyValue:
    """One condition value of the policy: as written (after variables) and as a pattern."""

    raw: Any  # the JSON number/bool as written, or the substituted string
    pattern: Pattern  # for the glob operators; literal `${*}` stays literal here


def _compare(
    parse: Callable[[Any], Any], test: Callable[[Any, Any], bool]
) -> Callable[[Any, _PolicyValue], bool]:
    """A positive operator from a parser (None = does not parse) and a comparison."""

    def match(context_value: Any, policy_value: _PolicyValue) -> bool:
        left, right = parse(context_value), parse(policy_value.raw)
        return left is not None and right is not None and test(left, right)

    return match


def _string_equals(context_value: Any, policy_value: _PolicyValue) -> bool:
    return _json_text(context_value) == _json_text(policy_value.raw)


def _string_equals_ignore_case(context_value: Any, policy_value: _PolicyValue) -> bool:
    return _json_text(context_value).casefold() == _json_text(policy_value.raw).casefold()


def _string_like(context_value: Any, policy_value: _PolicyValue) -> bool:
    return _glob(policy_value.pattern, _json_text(context_value))


def _arn_like(context_value: Any, policy_value: _PolicyValue) -> bool:
    if not isinstance(context_value, str) or len(context_value.split(":", 5)) < 6:
        return False
    return _arn_match(policy_value.pattern, context_value, star_crosses=False)


def _ip_in(context_value: Any, policy_value: _PolicyValue) -> bool:
    address, network = _ip_address(context_value), _ip_network(policy_value.raw)
    if address is None or network is None or address.version != network.version:
        return False
    return address in network


def _binary_equals(context_value: Any, policy_value: _PolicyValue) -> bool:
    left, right = _binary(context_value), _binary(policy_value.raw)
    return left is not None and right is not None and left == right


# Every positive operator: (context value, one policy value) -> does it match?
POSITIVE: dict[str, Callable[[Any, _PolicyValue], bool]] = {
    "StringEquals": _string_equals,
    "StringEqualsIgnoreCase": _string_equals_ignore_case,
    "StringLike": _string_like,
    "NumericEquals": _compare(_number, lambda c, p: c == p),
    "NumericLessThan": _compare(_number, lambda c, p: c < p),
    "NumericLessThanEquals": _compare(_number, lambda c, p: c <= p),
    "NumericGreaterThan": _compare(_number, lambda c, p: c > p),
    "NumericGreaterThanEquals": _compare(_number, lambda c, p: c >= p),
    "DateEquals": _compare(_date, lambda c, p: c == p),
    "DateLessThan": _compare(_date, lambda c, p: c < p),
    "DateLessThanEquals": _compare(_date, lambda c, p: c <= p),
    "DateGreaterThan": _compare(_date, lambda c, p: c > p),
    "DateGreaterThanEquals": _compare(_date, lambda c, p: c >= p),
    "Bool": _compare(_bool, lambda c, p: c == p),
    "BinaryEquals": _binary_equals,
    "IpAddress": _ip_in,
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
}


@dataclass(frozen=True)
class _Operator:
    """An operator name taken apart: set qualifier, base operator, IfExists."""

    qualifier: str | None  # "ForAnyValue" | "ForAllValues" | None
    positive: str  # the positive base operator, e.g. "StringLike", or "Null"
    negated: bool
    if_exists: bool

    @staticmethod
    def read(name: str) -> _Operator | None:
        qualifier = None
        for prefix in ("ForAnyValue", "ForAllValues"):
            if name.startswith(prefix + ":"):
                qualifier, name = prefix, name[len(prefix) + 1 :]
        if_exists = name.endswith("IfExists") and name != "IfExists"
        if if_exists:
            name = name[: -len("IfExists")]
        if name == "Null":
            return _Operator(qualifier, "Null", False, if_exists)
        if name in NEGATIONS:
            return _Operator(qualifier, NEGATIONS[name], True, if_exists)
        if name in POSITIVE:
            return _Operator(qualifier, name, False, if_exists)
        return None


def _condition_holds(
    operator_name: str, key: str, raw_values: Any, context: Mapping[str, Any], variables: bool
) -> bool:
    """One `operator: {key: values}` clause ("Conditions" in the semantics doc)."""
    operator = _Operator.read(operator_name)
    if operator is None:
        return False
    # AWS replaces policy variables only in the values of string and ARN operators.
    variables = variables and operator.positive.startswith(("String", "Arn"))
    written = raw_values if isinstance(raw_values, list) else [raw_values]
    policy_values: list[_PolicyValue] = []
    for value in written:
        if isinstance(value, str):
            substituted = _substitute(value, context, variables)
            if substituted is not None:
                policy_values.append(_PolicyValue(_pattern_text(substituted), substituted))
        else:
            policy_values.append(_PolicyValue(value, _plain(_json_text(value))))
    context_values = _lookup(context, key)

    if operator.positive == "Null":
        wanted = [_bool(v.raw) for v in policy_values]
        return any(w is not None and w == (context_values is None) for w in wanted)

    if context_values is None:
        if operator.if_exists or operator.qualifier == "ForAllValues":
            return True
        if operator.qualifier == "ForAnyValue":
            return False
        return operator.negated

    positive = POSITIVE[operator.positive]

    def matches_some_policy_value(context_value: Any) -> bool:
        return any(positive(context_value, p) for p in policy_values)

    def value_matches(context_value: Any) -> bool:
        """A context value "matches" in the operator's own (positive/negated) sense."""
        return matches_some_policy_value(context_value) != operator.negated

    if operator.qualifier == "ForAnyValue":
        return any(value_matches(v) for v in context_values)
    if operator.qualifier == "ForAllValues":
        return all(value_matches(v) for v in context_values)
    some = any(matches_some_policy_value(v) for v in context_values)
    return not some if operator.negated else some


# --------------------------------------------------------------------------- statements

DIRECT, ISSUER, ACCOUNT = "direct", "issuer", "account"
_ACCOUNT_ID = re.compile(r"[0-9]{12}")


def _strings(value: Any) -> list[str]:
    """A string-or-list element as a list of its strings."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _principal_kinds(spec: Any, caller: Principal) -> set[str]:
    """The ways ("direct", "issuer", "account") any entry of a Principal value names `caller`."""
    if spec == "*":
        return {DIRECT}
    if not isinstance(spec, dict):
        return set()
    kinds: set[str] = set()
    for kind_name, entries in spec.items():
        for entry in _strings(entries):
            if kind_name == "AWS":
                if entry in ("*", caller.arn):
                    kinds.add(DIRECT)
                if caller.issuer_arn is not None and entry == caller.issuer_arn:
                    kinds.add(ISSUER)
                if entry in (caller.account, f"arn:aws:iam::{caller.account}:root") and (
                    _ACCOUNT_ID.fullmatch(caller.account)
                ):
                    kinds.add(ACCOUNT)
            elif kind_name == "Service":
                if caller.service is not None and entry.casefold() == caller.service.casefold():
                    kinds.add(DIRECT)
            elif kind_name == "Federated":
                if entry == caller.federated_provider:
                    kinds.add(DIRECT)
            elif kind_name == "CanonicalUser" and entry == caller.canonical_user:
                kinds.add(DIRECT)
    return kinds


def _not_principal_exempts(spec: Any, caller: Principal) -> bool:
    """Does a Deny's NotPrincipal value exempt `caller`? Only when it lists every layer
    AWS checks: the caller's account (ID or root ARN), then the caller itself, a session
    by the role (or IAM user) it was issued from (IAM User Guide, "AWS JSON policy
    elements: NotPrincipal": you must also list the account; for an assumed role, list
    the role's ARN and its account's ARN)."""
    if spec == "*":
        return True
    if not isinstance(spec, dict):
        return False
    aws = _strings(spec.get("AWS", []))
    if "*" in aws:
        return True
    for kind_name, value in (("Service", caller.service), ("Federated", caller.federated_provider)):
        if value is not None:
            return DIRECT in _principal_kinds({kind_name: spec.get(kind_name, [])}, caller)
    account_listed = (
        _ACCOUNT_ID.fullmatch(caller.account) is not None
        and (caller.account in aws or f"arn:aws:iam::{caller.account}:root" in aws)
    ) or (  # S3's CanonicalUser names an account too
        caller.canonical_user is not None
        and caller.canonical_user in _strings(spec.get("CanonicalUser", []))
    )
    if not account_listed:
        return False
    if caller.type is PrincipalType.ROOT:
        return True
    if caller.issuer_arn is not None:
        return caller.issuer_arn in aws
    return caller.arn in aws


def _action_matches(statement: dict[str, Any], action: str) -> bool:
    def any_match(patterns: Any) -> bool:
        return any(_glob(_plain(p), action, fold_case=True) for p in _strings(patterns))

    if "Action" in statement:
        return any_match(statement["Action"])
    if "NotAction" in statement:
        return not any_match(statement["NotAction"])
    return False


def _resource_matches(
    statement: dict[str, Any], resource: str, context: Mapping[str, Any], variables: bool
) -> bool:
    element = "Resource" if "Resource" in statement else "NotResource"
    if element not in statement:
        return True  # neither element (trust policies): every resource
    written = _strings(statement[element])
    patterns = [_substitute(p, context, variables) for p in written]
    # A pattern whose variable has no value matches no resource: a Resource of such
    # patterns matches nothing, a NotResource of them excludes nothing.
    kept = [p for p in patterns if p is not None]
    hit = any(_arn_match(p, resource, star_crosses=True) for p in kept)
    return hit if element == "Resource" else not hit


@dataclass(frozen=True)
class _Match:
    """A statement whose action, resource and principal matched the request."""

    statement: MatchedStatement
    principal_kinds: frozenset[str]  # for resource policies; {"direct"} elsewhere
    conditions_hold: bool
    condition_keys: tuple[str, ...]  # every condition key, as written


def _statements_of(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        return []
    raw = document.get("Statement", [])
    listed = raw if isinstance(raw, list) else [raw]
    return [s if isinstance(s, dict) else {} for s in listed]


def _conditions_of(statement: dict[str, Any]) -> list[tuple[str, str, Any]]:
    block = statement.get("Condition", {})
    clauses: list[tuple[str, str, Any]] = []
    if isinstance(block, dict):
        for operator, keys in block.items():
            if isinstance(keys, dict):
                clauses.extend((operator, key, values) for key, values in keys.items())
    return clauses


def _matches(
    named: NamedDocument, source: PolicySource, request: Request, has_boundary: bool
) -> list[_Match]:
    """Every statement of one policy whose action, resource and principal match."""
    policy_id, text = named
    document = json.loads(text)
    variables = isinstance(document, dict) and document.get("Version") == VARIABLES_VERSION
    found: list[_Match] = []
    for index, statement in enumerate(_statements_of(document)):
        if source is PolicySource.RESOURCE:
            if "Principal" in statement:
                kinds = _principal_kinds(statement["Principal"], request.principal)
            elif "NotPrincipal" in statement:
                spec = statement["NotPrincipal"]
                if statement.get("Effect") == "Deny":
                    # AWS: a Deny with NotPrincipal always denies a caller that has a
                    # permissions boundary, whatever NotPrincipal lists.
                    applies = has_boundary or not _not_principal_exempts(spec, request.principal)
                else:  # an Allow leaves out a caller the element names in any way
                    applies = not _principal_kinds(spec, request.principal)
                kinds = {DIRECT} if applies else set()
            else:
                kinds = set()
            if not kinds:
                continue
        else:
            kinds = {DIRECT}  # the Principal element is ignored outside resource policies
        if not _action_matches(statement, request.action):
            continue
        if not _resource_matches(statement, request.resource, request.context, variables):
            continue
        clauses = _conditions_of(statement)
        holds = all(
            _condition_holds(op, key, values, request.context, variables)
            for op, key, values in clauses
        )
        sid = statement.get("Sid")
        effect = statement.get("Effect")
        found.append(
            _Match(
                statement=MatchedStatement(
                    source=source,
                    policy_id=policy_id,
                    index=index,
                    sid=sid if isinstance(sid, str) else None,
                    effect=effect if isinstance(effect, str) else "",
                ),
                principal_kinds=frozenset(kinds),
                conditions_hold=holds,
                condition_keys=tuple(key for _, key, _ in clauses),
            )
        )
    return found


# --------------------------------------------------------------------------- evaluation


def _resource_account(request: Request, documents: PolicyDocuments) -> str:
    if documents.resource_account is not None:
        return documents.resource_account
    parts = request.resource.split(":", 5)
    if len(parts) == 6 and parts[4]:
        return parts[4]
    return request.principal.account


def _applying(matches: Iterable[_Match], effect: str) -> list[_Match]:
    return [m for m in matches if m.conditions_hold and m.statement.effect == effect]


def reference_evaluate(
    request: Request, documents: PolicyDocuments, *, explain: bool = True
) -> Decision:
    """Decide `request` against `documents` by the rules of docs/policy-semantics.md.

    `explain` is accepted for symmetry with the engine; the reference always explains.
    """
    del explain
    by_source: list[tuple[PolicySource, Sequence[NamedDocument]]] = [
        (PolicySource.IDENTITY, documents.identity),
        (PolicySource.RESOURCE, () if documents.resource is None else (documents.resource,)),
        (PolicySource.BOUNDARY, () if documents.boundary is None else (documents.boundary,)),
        (PolicySource.SESSION, documents.session or ()),
    ]
    matches = {
        source: [
            m
            for named in named_docs
            for m in _matches(named, source, request, documents.boundary is not None)
        ]
        for source, named_docs in by_source
    }
    every = [m for source, _ in by_source for m in matches[source]]
    lacking = frozenset(
        key for m in every for key in m.condition_keys if _lookup(request.context, key) is None
    )

    def decided(outcome: Outcome, denied_by: PolicySource | None = None) -> Decision:
        effect = {Outcome.ALLOWED: "Allow", Outcome.EXPLICIT_DENY: "Deny"}.get(outcome)
        shown = tuple(m.statement for m in _applying(every, effect)) if effect else ()
        return Decision(outcome, shown, denied_by, lacking)

    # 1. An applicable Deny anywhere wins; the first source in doc order is named.
    for source, _ in by_source:
        if _applying(matches[source], "Deny"):
            return decided(Outcome.EXPLICIT_DENY, source)

    caller = request.principal
    same_account = _resource_account(request, documents) == caller.account
    resource_allows = _applying(matches[PolicySource.RESOURCE], "Allow")
    identity_allows = bool(_applying(matches[PolicySource.IDENTITY], "Allow"))
    # 2. The root user is allowed by its identity; nothing on the identity side limits it.
    identity_side = caller.is_root or identity_allows

    if same_account:
        # 3. Same account.
        if any(DIRECT in m.principal_kinds for m in resource_allows):
            return decided(Outcome.ALLOWED)
        if documents.require_resource_allow and not resource_allows:
            return decided(Outcome.IMPLICIT_DENY, PolicySource.RESOURCE)
        issuer_grant = any(ISSUER in m.principal_kinds for m in resource_allows)
        if not (identity_side or issuer_grant):
            return decided(Outcome.IMPLICIT_DENY, PolicySource.IDENTITY)
    else:
        # 4. Cross-account: both the resource policy and the identity side must allow.
        if not resource_allows:
            return decided(Outcome.IMPLICIT_DENY, PolicySource.RESOURCE)
        if not identity_side:
            return decided(Outcome.IMPLICIT_DENY, PolicySource.IDENTITY)

    if not caller.is_root:
        if documents.boundary is not None and not _applying(
            matches[PolicySource.BOUNDARY], "Allow"
        ):
            return decided(Outcome.IMPLICIT_DENY, PolicySource.BOUNDARY)
        if documents.session is not None and not _applying(matches[PolicySource.SESSION], "Allow"):
            return decided(Outcome.IMPLICIT_DENY, PolicySource.SESSION)
    return decided(Outcome.ALLOWED)
