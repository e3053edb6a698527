"""Where each statement of a policy document sits in its JSON text, as IAM's policy
simulator reports it (MatchedStatements' StartPosition and EndPosition).

AWS reads the document with a streaming JSON parser and records the parser's location
(1-based line and column) just before it reads a statement and just after it. Before a
statement means: after the "[" for the first statement of a Statement array, after the
previous statement's "}" for the later ones, and after the "{" itself when Statement is a
single object (the parser consumed it together with the "Statement" key). The end is the
position after the statement's "}". AWS's CLI reference shows it:
`{"Version":"2012-10-17","Statement":{...}}` (167 characters) gives Line 1, Column 38 to
Line 1, Column 167; a policy with `"Statement":[` ending in column 14 gives Column 15.
Line breaks are LF, CR LF or a lone CR; a tab is one column.
"""

from __future__ import annotations

import json
import json.decoder
import re
from collections.abc import Callable
from functools import lru_cache

Position = tuple[int, int]  # (line, column), both from 1
Span = tuple[Position, Position]

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")

#: The standard library's JSON string scanner (json.decoder exports it; typeshed omits it).
_scanstring: Callable[[str, int], tuple[str, int]] = vars(json.decoder)["scanstring"]


def _skip(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    return match.end() if match else index


def _statement_offsets(text: str, index: int) -> list[tuple[int, int]]:
    """(start, end) offsets of the statements of a Statement value starting at `index`."""
    if text[index] == "{":
        _, end = _DECODER.raw_decode(text, index)
        return [(index + 1, end)]
    if text[index] != "[":
        return []
    offsets: list[tuple[int, int]] = []
    before = index + 1
    cursor = _skip(text, before)
    while cursor < len(text) and text[cursor] != "]":
        if text[cursor] == ",":
            cursor = _skip(text, cursor + 1)
            continue
        _, end = _DECODER.raw_decode(text, cursor)
        offsets.append((before, end))
        before = end
        cursor = _skip(text, end)
    return offsets


def statement_offsets(text: str) -> list[tuple[int, int]]:
    """For each statement, the offset before it and the offset after its closing brace.

    `text` must be a document `parse_policy` accepted (valid JSON, no duplicate keys);
    anything else yields an empty list rather than an error.
    """
    try:
        cursor = _skip(text, 0)
        if text[cursor] != "{":
            return []
        cursor = _skip(text, cursor + 1)
        while cursor < len(text) and text[cursor] == '"':
            key, cursor = _scanstring(text, cursor + 1)
            cursor = _skip(text, _skip(text, cursor) + 1)  # past the colon
            if key == "Statement":
                return _statement_offsets(text, cursor)
            _, cursor = _DECODER.raw_decode(text, cursor)
            cursor = _skip(text, cursor)
            if cursor < len(text) and text[cursor] == ",":
                cursor = _skip(text, cursor + 1)
    except (ValueError, IndexError):
        return []
    return []


def position(text: str, offset: int) -> Position:
    """The 1-based line and column of `offset` (never just after a CR: callers pass the
    offset after a bracket)."""
    breaks = text.count("\n", 0, offset) + text.count("\r", 0, offset)
    line = 1 + breaks - text.count("\r\n", 0, offset)
    line_start = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
    return line, offset - line_start + 1


@lru_cache(maxsize=1024)
def statement_spans(text: str) -> tuple[Span, ...]:
    """(StartPosition, EndPosition) of every statement, in document order."""
    return tuple(
        (position(text, start), position(text, end)) for start, end in statement_offsets(text)
    )
