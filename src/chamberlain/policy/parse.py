"""JSON text -> `model.Policy`, for every kind of policy document.

Parsing checks a document's *shape* (JSON syntax, element names, value types), because
the model cannot hold a wrong shape; `validate.validate_policy` then checks what the
shaped values mean for the kind of policy. Whatever the input, the only exceptions that
leave `parse_policy` are `MalformedPolicyDocument` and its subclass `PolicyTooLarge`:
the work is bounded before `json.loads` runs (length cap, nesting depth), and the JSON
decoder's own failures are turned into AWS's "Syntax errors in policy."
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from .errors import MalformedPolicyDocument, PolicyTooLarge
from .model import (
    ConditionClause,
    ConditionValue,
    Effect,
    Policy,
    PolicyType,
    PrincipalSpec,
    Statement,
)
from .validate import (
    SYNTAX_ERRORS,
    check_operator,
    check_size,
    excerpt,
    invalid_principal,
    validate_policy,
)

# IAM's API takes policy documents of at most 131072 characters (the PolicyDocument
# length constraint); anything longer is refused before any parsing work is done.
MAX_DOCUMENT_CHARS = 131072
# Real policies nest five levels (policy > Statement list > statement > Condition >
# operator > key list); 32 leaves room and keeps json.loads far from the recursion limit.
MAX_NESTING = 32

# The characters IAM's API accepts in a policy document: [\u0009\u000A\u000D\u0020-\u00FF].
_FORBIDDEN_CHAR = re.compile(r"[^\t\n\r\x20-\xff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# A JSON string token (possessive, so an unterminated string costs one linear scan) or a
# bracket; used to measure nesting without recursion.
_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]')

_TOP_LEVEL_ELEMENTS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_ELEMENTS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")

T = TypeVar("T")


def parse_policy(
    document: str | bytes,
    kind: PolicyType = PolicyType.IDENTITY,
    *,
    size_limit: int | None = None,
    current_version: bool = False,
) -> Policy:
    """Parse and validate a policy document of the given kind.

    `size_limit` is the quota the document is checked against (e.g.
    `validate.MANAGED_POLICY_MAX`), counted as AWS does: characters other than
    whitespace. `current_version` demands Version 2012-10-17, as IAM's CreatePolicy and
    CreatePolicyVersion do (checked where IAM checks it: after syntax, before the rest).
    Raises MalformedPolicyDocument (PolicyTooLarge for size).
    """
    kind = PolicyType(kind)
    text = _decode(document)
    _check_characters(text)
    _check_nesting(text)
    raw = _load_json(text)
    legacy: list[str] = []
    policy = _build_policy(raw, legacy)
    validate_policy(policy, kind, current_version=current_version, legacy=legacy)
    if size_limit is not None:
        check_size(text, size_limit)
    return policy


# -- text -----------------------------------------------------------------------------


def _syntax(detail: str) -> NoReturn:
    raise MalformedPolicyDocument(SYNTAX_ERRORS, detail)


def _too_long() -> NoReturn:
    raise PolicyTooLarge(
        f"Policy document exceeds the maximum length of {MAX_DOCUMENT_CHARS} characters."
    )


def _decode(document: object) -> str:
    if isinstance(document, bytes | bytearray):
        # UTF-8 needs at most 4 bytes a character: more than that many bytes is too long
        # whatever they decode to, so refuse before decoding.
        if len(document) > 4 * MAX_DOCUMENT_CHARS:
            _too_long()
        try:
            text = bytes(document).decode("utf-8")
        except UnicodeDecodeError:
            _syntax("The document is not valid UTF-8.")
    elif isinstance(document, str):
        text = document
    else:
        _syntax("The document must be JSON text.")
    if len(text) > MAX_DOCUMENT_CHARS:
        _too_long()
    if not text.strip():
        _syntax("The document is empty.")
    return text


def _check_characters(text: str) -> None:
    bad = _FORBIDDEN_CHAR.search(text)
    if bad is not None:
        _syntax(
            f"Character U+{ord(bad.group()):04X} at offset {bad.start()} is not allowed: a "
            "policy document may contain only tab, line feed, carriage return and "
            "characters U+0020 to U+00FF."
        )


def _check_nesting(text: str) -> None:
    depth = 0
    for token in _TOKEN.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                _syntax(f"The document is nested more than {MAX_NESTING} levels deep.")
        elif char in "]}":
            depth -= 1


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            _syntax(f"Duplicate key {excerpt(key)}.")
        obj[key] = value
    return obj


def _reject_constant(name: str) -> NoReturn:
    _syntax(f"{name} is not a JSON number.")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        _syntax(f"Number {excerpt(literal)} is out of range.")
    return value


def _load_json(text: str) -> Any:
    try:
        return json.loads(
            text,
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except MalformedPolicyDocument:  # from the hooks above; it is a ValueError too
        raise
    except RecursionError:
        _syntax("The document is nested too deeply.")
    except ValueError as exc:  # JSONDecodeError, and int() refusing a huge literal
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "invalid number"
        _syntax(f"The document is not valid JSON ({detail}).")


# -- structure ------------------------------------------------------------------------


def _text(value: str, where: str) -> str:
    if _SURROGATE.search(value):
        _syntax(f"{where} holds an unpaired surrogate escape.")
    return value


def _build_policy(raw: Any, legacy: list[str]) -> Policy:
    """The model of `raw`; what only AWS's legacy parser refuses is added to `legacy`
    (validation reports it in IAM's order)."""
    if not isinstance(raw, dict):
        _syntax("The document must be a JSON object.")
    for key in raw:
        if key not in _TOP_LEVEL_ELEMENTS:
            _syntax(f"Unknown element {excerpt(key)}.")
    version = raw.get("Version")
    if version is not None and not isinstance(version, str):
        _syntax("Version must be a string.")
    policy_id = raw.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        _syntax("Id must be a string.")
    if "Statement" not in raw:
        _syntax("Missing required element Statement.")
    body = raw["Statement"]
    if isinstance(body, dict):
        items: list[Any] = [body]
    elif isinstance(body, list):
        items = body
    else:
        _syntax("Statement must be an object or a list of objects.")
    return Policy(
        version=None if version is None else _text(version, "Version"),
        id=None if policy_id is None else _text(policy_id, "Id"),
        statements=tuple(_build_statement(i, item, legacy) for i, item in enumerate(items)),
    )


def _build_statement(index: int, raw: Any, legacy: list[str]) -> Statement:
    where = f"Statement {index}"
    if not isinstance(raw, dict):
        _syntax(f"{where} must be an object.")
    for key in raw:
        if key not in _STATEMENT_ELEMENTS:
            _syntax(f"{where}: unknown element {excerpt(key)}.")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        _syntax(f"{where}: Sid must be a string.")
    return Statement(
        index=index,
        sid=None if sid is None else _text(sid, f"{where}: Sid"),
        effect=_effect(raw, where, legacy),
        principal=_optional(raw, "Principal", where, _principal),
        not_principal=_optional(raw, "NotPrincipal", where, _principal),
        action=_optional(raw, "Action", where, _string_list),
        not_action=_optional(raw, "NotAction", where, _string_list),
        resource=_optional(raw, "Resource", where, _string_list),
        not_resource=_optional(raw, "NotResource", where, _string_list),
        conditions=_conditions(raw["Condition"], where) if "Condition" in raw else (),
    )


def _optional(
    raw: dict[str, Any], element: str, where: str, build: Callable[[Any, str], T]
) -> T | None:
    if element not in raw:
        return None
    return build(raw[element], f"{where}: {element}")


def _effect(raw: dict[str, Any], where: str, legacy: list[str]) -> Effect:
    value = raw.get("Effect")
    if value is None:
        _syntax(f"{where}: missing required element Effect.")
    if not isinstance(value, str):
        _syntax(f"{where}: Effect must be a string.")
    for effect in Effect:
        if value == effect.value:
            return effect
    for effect in Effect:
        if value.lower() == effect.value.lower():
            # AWS's older parser answers for an Effect that differs only in case.
            legacy.append(f'{where}: Effect {excerpt(value)} must be written "Allow" or "Deny".')
            return effect
    _syntax(f'{where}: Effect must be "Allow" or "Deny", not {excerpt(value)}.')


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (_text(value, where),)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(_text(item, where) for item in value)
    _syntax(f"{where} must be a string or a list of strings.")


def _principal(value: Any, where: str) -> PrincipalSpec:
    if value == "*":
        return PrincipalSpec(wildcard=True)
    if isinstance(value, str):
        invalid_principal(None, value)
    if not isinstance(value, dict):
        _syntax(f'{where} must be "*" or an object.')
    for key in value:
        if key not in _PRINCIPAL_TYPES:
            invalid_principal(key, None)
    lists = {key: _string_list(value[key], f"{where}.{key}") for key in value}
    return PrincipalSpec(
        aws=lists.get("AWS", ()),
        service=lists.get("Service", ()),
        federated=lists.get("Federated", ()),
        canonical_user=lists.get("CanonicalUser", ()),
    )


def _condition_values(value: Any, where: str) -> tuple[ConditionValue, ...]:
    items = value if isinstance(value, list) else [value]
    values: list[ConditionValue] = []
    for item in items:
        if isinstance(item, str):
            values.append(_text(item, where))
        elif isinstance(item, bool | int | float):
            values.append(item)
        else:
            _syntax(f"{where}: a condition value must be a string, number or boolean.")
    return tuple(values)


def _conditions(raw: Any, where: str) -> tuple[ConditionClause, ...]:
    if not isinstance(raw, dict):
        _syntax(f"{where}: Condition must be an object.")
    clauses: list[ConditionClause] = []
    for operator, block in raw.items():
        here = f"{where}: Condition {excerpt(operator)}"
        if not isinstance(block, dict):
            _syntax(f"{here} must map condition keys to values.")
        if not block:
            # AWS accepts any operator name over an empty block (it tests nothing).
            _text(operator, here)
            continue
        check_operator(_text(operator, here))
        for key, value in block.items():
            clauses.append(
                ConditionClause(
                    operator=_text(operator, here),
                    key=_text(key, here),
                    values=_condition_values(value, f"{here} {excerpt(key)}"),
                )
            )
    return tuple(clauses)
