"""Live validation for the policy editor: the same parser and validator IAM's operations
use, plus where in the text the problem is (the JSON error's line and column, or the
lines of the statement the message names, located as the policy simulator locates
statements)."""

from __future__ import annotations

import json
import re
from typing import Any

from chamberlain.ops.simulator.positions import position, statement_offsets
from chamberlain.policy import MalformedPolicyDocument, PolicyType, parse_policy
from chamberlain.policy.validate import MANAGED_POLICY_MAX, SYNTAX_ERRORS

_STATEMENT = re.compile(r"\b[Ss]tatement (\d+)\b")
_QUOTED = re.compile(r'"([^"]{1,64})"')
KINDS = {"identity": PolicyType.IDENTITY, "trust": PolicyType.TRUST}


def check_document(text: str, kind: str = "identity") -> dict[str, Any]:
    """{"ok": True} or {"ok": False, "message": AWS's text, "line", "column",
    "end_line" (the span's last line, when a statement is named)}."""
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return {
            "ok": False,
            "message": f"{SYNTAX_ERRORS} {error.msg}.",
            "line": error.lineno,
            "column": error.colno,
        }
    try:
        parse_policy(text, _kind(kind), size_limit=MANAGED_POLICY_MAX)
    except MalformedPolicyDocument as error:
        found: dict[str, Any] = {"ok": False, "message": error.message}
        named = _STATEMENT.search(error.message)
        if named:
            offsets = statement_offsets(text)
            index = int(named.group(1))
            if 0 <= index < len(offsets):
                start, end = offsets[index]
                brace = text.find("{", start)  # the statement itself, past "," and spaces
                line, column = position(text, brace if 0 <= brace < end else start)
                found.update(line=line, column=column, end_line=position(text, end)[0])
        if "line" not in found:
            found.update(_failing_statement(text, kind))
        if "line" not in found:
            found.update(_value_position(text, error.message))
        return found
    return {"ok": True}


def _failing_statement(text: str, kind: str) -> dict[str, int]:
    """The span of the first statement that fails validation on its own (for messages
    that do not name their statement)."""
    document = json.loads(text)
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return {}
    offsets = statement_offsets(text)
    alone = {k: v for k, v in document.items() if k != "Statement"}
    for index, statement in enumerate(statements[: len(offsets)]):
        try:
            parse_policy(json.dumps({**alone, "Statement": [statement]}), _kind(kind))
        except MalformedPolicyDocument:
            start, end = offsets[index]
            brace = text.find("{", start)
            line, column = position(text, brace if 0 <= brace < end else start)
            return {"line": line, "column": column, "end_line": position(text, end)[0]}
    return {}


def _kind(kind: str) -> PolicyType:
    return KINDS.get(kind, PolicyType.IDENTITY)


def _value_position(text: str, message: str) -> dict[str, int]:
    """Where the value a message quotes (the validator quotes the offending value last)
    first appears in the document as a JSON string, if it does."""
    for value in reversed(_QUOTED.findall(message)):
        offset = text.find(json.dumps(value))
        if offset >= 0:
            line, column = position(text, offset)
            return {"line": line, "column": column, "end_line": line}
    return {}
