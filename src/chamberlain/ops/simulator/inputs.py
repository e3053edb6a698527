"""Reading the policy simulator's inputs: entity and caller ARNs, ResourceOwner, context
entries, policy exclusions, and the condition keys a policy refers to.

Used by operations.py; nothing here decides anything (the engine does).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chamberlain.domain import Group, Role, User
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import InvalidInput, NoSuchEntity
from chamberlain.policy import Policy, Principal, PrincipalType
from chamberlain.policy.request import ContextScalar, ContextValue
from chamberlain.policy.values import parse_binary, parse_bool, parse_date, parse_ip, parse_number

# ----------------------------------------------------------------------------- ARNs

_ENTITY_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):(?P<kind>user|group|role)"
    r"(?P<path>/(?:[\x21-\x7e]*/)?)(?P<name>[\w+=,.@-]+)"
)
_ROOT_ARN = re.compile(r"arn:aws[a-z-]*:iam::(?P<account>\d{12}):root")
_REPOS: dict[str, type] = {"user": User, "group": Group, "role": Role}


@dataclass(frozen=True)
class EntityRef:
    """A user, group or role named by an ARN (not necessarily existing)."""

    kind: str  # "user" | "group" | "role"
    account: str
    name: str
    arn: str


def parse_entity_arn(arn: str) -> EntityRef | None:
    m = _ENTITY_ARN.fullmatch(arn)
    if m is None:
        return None
    return EntityRef(m["kind"], m["account"], m["name"], arn)


def entity_ref(arn: str) -> EntityRef:
    """PolicySourceArn must name an IAM user, group or role (AWS: InvalidInput)."""
    ref = parse_entity_arn(arn)
    if ref is None:
        raise InvalidInput(f"Invalid Entity Arn: {arn}")
    return ref


def find_entity(ctx: OpContext, ref: EntityRef) -> User | Group | Role | None:
    if ref.account != ctx.account_id:
        return None
    found: User | Group | Role | None = ctx.uow.repo(_REPOS[ref.kind]).get(
        ctx.account_id, ref.name.lower()
    )
    return found


def load_entity(ctx: OpContext, ref: EntityRef) -> User | Group | Role:
    entity = find_entity(ctx, ref)
    if entity is None:
        raise NoSuchEntity(f"The {ref.kind} with name {ref.name} cannot be found.")
    return entity


def caller_principal(arn: str) -> Principal:
    """The simulated caller (CallerArn): an IAM user, group or role ARN; AWS refuses
    assumed-role, federated-user and service principals."""
    ref = parse_entity_arn(arn)
    if ref is None:
        raise InvalidInput(f"Invalid Entity Arn: {arn}")
    return entity_principal(ref)


def entity_principal(ref: EntityRef) -> Principal:
    if ref.kind == "role":
        return Principal(ref.arn, ref.account, PrincipalType.ASSUMED_ROLE, issuer_arn=ref.arn)
    return Principal(ref.arn, ref.account, PrincipalType.USER)


def resource_owner(value: str | None) -> str | None:
    """The account of ResourceOwner, which AWS takes as `arn:aws:iam::ACCOUNT:root`."""
    if value is None:
        return None
    m = _ROOT_ARN.fullmatch(value)
    if m is None:
        raise InvalidInput(f"'{value}' is not a valid as a Resource Owner.")
    return m["account"]


# -------------------------------------------------------------------- context entries

_LIST_SUFFIX = "List"


def _convert(key: str, kind: str, raw: str) -> ContextScalar:
    """One context value of the given scalar type, read with the engine's own parsers."""
    value: ContextScalar | None
    if kind == "string":
        value = raw
    elif kind == "numeric":
        value = parse_number(raw)
    elif kind == "boolean":
        text = parse_bool(raw)
        value = None if text is None else text == "true"
    elif kind == "ip":
        value = raw if parse_ip(raw) is not None else None
    elif kind == "binary":
        value = raw if parse_binary(raw) is not None else None
    else:  # date
        value = raw if parse_date(raw) is not None else None
    if value is None:
        raise InvalidInput(f"Invalid value {raw!r} for context key {key} of type {kind}.")
    return value


def context_from_entries(entries: Sequence[dict[str, Any]] | None) -> dict[str, ContextValue]:
    """ContextEntries as the engine's request context. A key of a list type is
    multi-valued; a key of a single type takes exactly one value."""
    context: dict[str, ContextValue] = {}
    for entry in entries or ():
        key = entry.get("ContextKeyName")
        if not key:
            raise InvalidInput("ContextKeyName is required for every context entry.")
        kind = entry.get("ContextKeyType") or "string"
        values = list(entry.get("ContextKeyValues") or ())
        base = kind.removesuffix(_LIST_SUFFIX)
        converted = [_convert(key, base, v) for v in values]
        if kind.endswith(_LIST_SUFFIX):
            context[key] = converted
        elif len(converted) > 1:
            raise InvalidInput(
                f"Context key {key} of type {kind} takes one value, not {len(converted)}."
            )
        elif converted:
            context[key] = converted[0]
    return context


# ------------------------------------------------------------------------ context keys

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LITERAL_VARIABLES = frozenset({"*", "?", "$"})


def _variables(texts: Iterable[object]) -> list[str]:
    """The keys of `${key}` and `${key, 'default'}` in `texts`, as written."""
    keys: list[str] = []
    for text in texts:
        if not isinstance(text, str) or "${" not in text:
            continue
        for m in _VARIABLE.finditer(text):
            body = m.group(1)
            if body in _LITERAL_VARIABLES:
                continue
            key = body.split(",", 1)[0].strip() if "'" in body else body.strip()
            if key:
                keys.append(key)
    return keys


def statement_variable_keys(policy: Policy, index: int) -> list[str]:
    """Keys of the policy variables in one statement (only Version 2012-10-17
    substitutes variables)."""
    if not policy.substitutes_variables:
        return []
    st = policy.statements[index]
    texts: list[object] = [*(st.resource or ()), *(st.not_resource or ())]
    for clause in st.conditions:
        texts.extend(clause.values)
    return _variables(texts)


def policy_context_keys(policy: Policy) -> list[str]:
    """Every context key a policy refers to, in document order: per statement the
    variables of Resource/NotResource, then each condition key and the variables in its
    values."""
    keys: list[str] = []
    substitute = policy.substitutes_variables
    for st in policy.statements:
        if substitute:
            keys.extend(_variables([*(st.resource or ()), *(st.not_resource or ())]))
        for clause in st.conditions:
            keys.append(clause.key)
            if substitute:
                keys.extend(_variables(clause.values))
    return keys


def dedupe_keys(keys: Iterable[str]) -> list[str]:
    """Context keys without repeats, compared case-insensitively (first spelling kept)."""
    seen: dict[str, str] = {}
    for key in keys:
        seen.setdefault(key.lower(), key)
    return list(seen.values())


# ------------------------------------------------------------------- policy exclusions


def glob_regex(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """`*` any run of characters, `?` one character, everything else literal."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL
    return re.compile(body, flags)


_POLICY_ARN = re.compile(r"arn:aws[a-z-]*:iam::(?:\d{12}|aws):policy/.+")


@dataclass(frozen=True)
class Exclusions:
    """PolicyExclusionList, validated: what to leave out of a principal simulation."""

    types: frozenset[str] = frozenset()
    arns: tuple[re.Pattern[str], ...] = ()
    inline: tuple[tuple[str, str, re.Pattern[str]], ...] = ()  # (policy, kind, entity)

    def drops_inline(self, kind: str, entity: str, policy_name: str) -> bool:
        if "inline" in self.types:
            return True
        return any(
            name == policy_name and k == kind and rx.fullmatch(entity)
            for name, k, rx in self.inline
        )

    def drops_managed(self, arn: str, aws_managed: bool) -> bool:
        if ("aws-managed" if aws_managed else "user-managed") in self.types:
            return True
        return any(rx.fullmatch(arn) for rx in self.arns)


def _one_star(text: str, what: str) -> None:
    if text.count("*") > 1:
        raise InvalidInput(f"{what} {text} may contain at most one * wildcard.")


def parse_exclusions(entries: Sequence[dict[str, Any]] | None) -> Exclusions:
    types: set[str] = set()
    arns: list[re.Pattern[str]] = []
    inline: list[tuple[str, str, re.Pattern[str]]] = []
    for entry in entries or ():
        given = [k for k in ("PolicyType", "PolicyArn", "InlinePolicyIdentifier") if entry.get(k)]
        if len(given) != 1:
            raise InvalidInput(
                "A PolicyIdentifier must specify exactly one of PolicyType, PolicyArn or "
                "InlinePolicyIdentifier."
            )
        if "PolicyType" in given:
            types.add(entry["PolicyType"])
        elif "PolicyArn" in given:
            arn = entry["PolicyArn"]
            head, _, name = arn.partition(":policy/")
            if not _POLICY_ARN.fullmatch(arn) or "*" in head or "?" in head:
                raise InvalidInput(f"Invalid policy ARN in PolicyExclusionList: {arn}")
            _one_star(name, "PolicyArn")
            arns.append(glob_regex(arn))
        else:
            ident = entry["InlinePolicyIdentifier"]
            _one_star(ident["AttachmentName"], "AttachmentName")
            inline.append(
                (
                    ident["PolicyName"],
                    ident["AttachmentType"],
                    glob_regex(ident["AttachmentName"], ignore_case=True),
                )
            )
    return Exclusions(frozenset(types), tuple(arns), tuple(inline))
