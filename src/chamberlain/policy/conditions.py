"""Condition operators: a typed table, compiled into closures over the request state.

Each base operator names a family (how values are read and compared) and whether it is
negated. `compile_clause` turns one `operator: {key: values}` clause into a test of the
request, applying AWS's rules for missing keys, `...IfExists`, `ForAnyValue:` /
`ForAllValues:` and policy variables (see docs/policy-semantics.md).
"""

from __future__ import annotations

import operator as _op
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .context import MISSING, SEQUENCES, EvalState, scalar_text
from .matching import ARN_CONDITION, PLAIN, Pieces, arn_shaped, union_pieces_regex
from .model import ConditionClause, ConditionValue
from .values import (
    Network,
    parse_binary,
    parse_bool,
    parse_date,
    parse_ip,
    parse_network,
    parse_number,
)
from .variables import Template, resolve, split_template

Matcher = Callable[[object], bool]  # positive sense: does one context value match?
Test = Callable[[EvalState], bool]
Builder = Callable[[tuple[Pieces, ...]], Matcher]


def _text(pieces: Pieces) -> str:
    return "".join(text for text, _ in pieces)


def _string_equals(values: tuple[Pieces, ...]) -> Matcher:
    allowed = frozenset(_text(p) for p in values)
    return lambda v: (v if type(v) is str else scalar_text(v)) in allowed


def _string_equals_ic(values: tuple[Pieces, ...]) -> Matcher:
    allowed = frozenset(_text(p).casefold() for p in values)
    return lambda v: scalar_text(v).casefold() in allowed


def _like(arn: bool) -> Builder:
    def build(values: tuple[Pieces, ...]) -> Matcher:
        rx = union_pieces_regex(values, ARN_CONDITION if arn else PLAIN, False)
        if arn:
            return lambda v: isinstance(v, str) and arn_shaped(v) and rx.test(v) is not None
        return lambda v: rx.test(scalar_text(v)) is not None

    return build


def _compare(
    parse: Callable[[object], float | int | None], cmp: Callable[[float, float], bool]
) -> Builder:
    def build(values: tuple[Pieces, ...]) -> Matcher:
        limits = [n for n in (parse(_text(p)) for p in values) if n is not None]

        def match(v: object) -> bool:
            n = parse(v)
            return n is not None and any(cmp(n, limit) for limit in limits)

        return match

    return build


def _bool(values: tuple[Pieces, ...]) -> Matcher:
    allowed = frozenset(b for b in (parse_bool(_text(p)) for p in values) if b)
    return lambda v: parse_bool(v) in allowed


def _binary(values: tuple[Pieces, ...]) -> Matcher:
    allowed = frozenset(b for b in (parse_binary(_text(p)) for p in values) if b is not None)
    return lambda v: parse_binary(v) in allowed


def _ip(values: tuple[Pieces, ...]) -> Matcher:
    nets: list[Network] = [n for n in (parse_network(_text(p)) for p in values) if n]

    def match(v: object) -> bool:
        ip = parse_ip(v)
        if ip is None:
            return False
        version, addr = ip
        for nv, net, mask in nets:  # noqa: SIM110 - a loop is faster than any(genexpr)
            if nv == version and addr & mask == net:
                return True
        return False

    return match


@dataclass(frozen=True, slots=True)
class BaseOperator:
    build: Builder | None  # None for Null
    negated: bool = False


_EQ, _LT, _LE, _GT, _GE = _op.eq, _op.lt, _op.le, _op.gt, _op.ge

OPERATORS: dict[str, BaseOperator] = {
    "StringEquals": BaseOperator(_string_equals),
    "StringNotEquals": BaseOperator(_string_equals, negated=True),
    "StringEqualsIgnoreCase": BaseOperator(_string_equals_ic),
    "StringNotEqualsIgnoreCase": BaseOperator(_string_equals_ic, negated=True),
    "StringLike": BaseOperator(_like(arn=False)),
    "StringNotLike": BaseOperator(_like(arn=False), negated=True),
    "NumericEquals": BaseOperator(_compare(parse_number, _EQ)),
    "NumericNotEquals": BaseOperator(_compare(parse_number, _EQ), negated=True),
    "NumericLessThan": BaseOperator(_compare(parse_number, _LT)),
    "NumericLessThanEquals": BaseOperator(_compare(parse_number, _LE)),
    "NumericGreaterThan": BaseOperator(_compare(parse_number, _GT)),
    "NumericGreaterThanEquals": BaseOperator(_compare(parse_number, _GE)),
    "DateEquals": BaseOperator(_compare(parse_date, _EQ)),
    "DateNotEquals": BaseOperator(_compare(parse_date, _EQ), negated=True),
    "DateLessThan": BaseOperator(_compare(parse_date, _LT)),
    "DateLessThanEquals": BaseOperator(_compare(parse_date, _LE)),
    "DateGreaterThan": BaseOperator(_compare(parse_date, _GT)),
    "DateGreaterThanEquals": BaseOperator(_compare(parse_date, _GE)),
    "Bool": BaseOperator(_bool),
    "BinaryEquals": BaseOperator(_binary),
    "IpAddress": BaseOperator(_ip),
    "NotIpAddress": BaseOperator(_ip, negated=True),
    "ArnEquals": BaseOperator(_like(arn=True)),
    "ArnLike": BaseOperator(_like(arn=True)),
    "ArnNotEquals": BaseOperator(_like(arn=True), negated=True),
    "ArnNotLike": BaseOperator(_like(arn=True), negated=True),
    "Null": BaseOperator(None),
}

SET_PREFIXES = ("ForAnyValue:", "ForAllValues:")


@dataclass(frozen=True, slots=True)
class OperatorName:
    base: str
    set_op: str | None  # "ForAnyValue" | "ForAllValues" | None
    if_exists: bool


def split_operator(name: str) -> OperatorName | None:
    """Read `[ForAnyValue:|ForAllValues:]Base[IfExists]`; None if not an operator."""
    set_op = None
    for prefix in SET_PREFIXES:
        if name.startswith(prefix):
            set_op, name = prefix[:-1], name[len(prefix) :]
            break
    if_exists = name.endswith("IfExists") and name != "IfExists"
    base = name[: -len("IfExists")] if if_exists else name
    if base not in OPERATORS or (base == "Null" and (if_exists or set_op)):
        return None
    return OperatorName(base, set_op, if_exists)


def _never(_state: EvalState) -> bool:
    return False


def _no_match(_value: object) -> bool:
    """The matcher of a clause with no policy value left: no context value matches it
    (AWS: a variable with no value is "effectively null", nothing is equal to or like it)."""
    return False


def _literal_pieces(value: ConditionValue, glob: bool) -> Pieces:
    return ((scalar_text(value), glob),)


def compile_clause(clause: ConditionClause, substitute: bool) -> Test:
    """A test of the request for one clause. Unknown operators never match (validation
    rejects them before a policy is stored, unless their block is empty)."""
    name = split_operator(clause.operator)
    if name is None:
        return _never
    key, written = clause.key.lower(), clause.key
    if name.base == "Null":
        return _null_test(key, written, clause.values)
    base = OPERATORS[name.base]
    assert base.build is not None
    # AWS substitutes policy variables only in string and ARN operators' values.
    substitute = substitute and name.base.startswith(("String", "Arn"))
    templates: list[Template | None] = [
        split_template(v) if substitute and isinstance(v, str) else None for v in clause.values
    ]
    if any(t is not None for t in templates):
        return _clause_test(
            key,
            written,
            name,
            base.negated,
            _variable_matcher(base.build, clause.values, templates),
        )
    fixed = (
        base.build(tuple(_literal_pieces(v, True) for v in clause.values))
        if clause.values
        else _no_match
    )
    if name.set_op is None:
        return _plain_test(key, written, name.if_exists, base.negated, fixed)
    return _clause_test(key, written, name, base.negated, lambda _state: fixed)


def _variable_matcher(
    build: Builder, values: Sequence[ConditionValue], templates: list[Template | None]
) -> Callable[[EvalState], Matcher]:
    """The matcher for this request's variable values. A value whose variable has no
    value (and no default) is left out: it is equal to or like no context value, so a
    positive operator can only match through the other values, and a negated one is
    not stopped by it ("Policy variables with no value")."""
    cache: dict[tuple[Pieces, ...], Matcher] = {}

    def matcher_for(state: EvalState) -> Matcher:
        resolved: list[Pieces] = []
        for value, template in zip(values, templates, strict=True):
            if template is None:
                resolved.append(_literal_pieces(value, True))
            else:
                pieces = resolve(template, state.variable)
                if pieces is not None:
                    resolved.append(pieces)
        if not resolved:
            return _no_match
        key = tuple(resolved)
        matcher = cache.get(key)
        if matcher is None:
            if len(cache) > 1024:
                cache.clear()
            matcher = cache[key] = build(key)
        return matcher

    return matcher_for


def _plain_test(key: str, written: str, if_exists: bool, negated: bool, match: Matcher) -> Test:
    """The common case, kept lean: no set operator, no policy variable."""
    when_missing = if_exists or negated

    def test(state: EvalState) -> bool:
        value = state.raw.get(written, MISSING)  # the policy's spelling: usually a hit
        if value is MISSING or (type(value) in SEQUENCES and not value):
            value = state.get(key)
        if value is MISSING:
            return when_missing
        if type(value) in SEQUENCES:
            hit = any(match(v) for v in value)  # type: ignore[attr-defined]
        else:
            hit = match(value)
        return not hit if negated else hit

    return test


def _clause_test(
    key: str,
    written: str,
    name: OperatorName,
    negated: bool,
    matcher_for: Callable[[EvalState], Matcher],
) -> Test:
    set_op, if_exists = name.set_op, name.if_exists
    when_missing = if_exists or set_op == "ForAllValues" or (set_op is None and negated)

    def test(state: EvalState) -> bool:
        matcher = matcher_for(state)
        value = state.get(key, written)
        if value is MISSING:
            return when_missing
        items = value if type(value) in SEQUENCES else (value,)
        if set_op is None:
            hit = any(matcher(v) for v in items)  # type: ignore[attr-defined]
            return not hit if negated else hit
        if negated:
            per_value = (not matcher(v) for v in items)  # type: ignore[attr-defined]
        else:
            per_value = (matcher(v) for v in items)  # type: ignore[attr-defined]
        return any(per_value) if set_op == "ForAnyValue" else all(per_value)

    return test


def _null_test(key: str, written: str, values: tuple[ConditionValue, ...]) -> Test:
    wanted = {parse_bool(v) for v in values} - {None}

    def test(state: EvalState) -> bool:
        missing = state.get(key, written) is MISSING
        return ("true" if missing else "false") in wanted

    return test
