"""Wildcard matching: action globs, ARN-aware resource globs, StringLike globs.

A pattern is compiled once to an anchored regular expression and cached. Patterns that
came from policy variables arrive as *pieces*: (text, is_glob) pairs, where text from
`${*}`-style escapes and variable values is literal (`is_glob=False`) and the policy's own
text keeps `*` and `?` as wildcards.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

Pieces = tuple[tuple[str, bool], ...]

ARN_SEGMENTS = 6  # arn:partition:service:region:account:resource

# How a pattern treats colons (the `arn_aware` argument below).
PLAIN = 0  # wildcards match anything (StringLike, actions)
ARN_CONDITION = 1  # ArnLike: each of the six segments checked on its own
ARN_RESOURCE = 2  # Resource element: as ARN_CONDITION, but a `*` ending a segment crosses


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


# A token of a compiled glob: (kind, text, bounded) with kind "lit", "one" or "star";
# a bounded wildcard does not match a colon.
Token = tuple[str, str, bool]


def _tokens(pieces: Pieces, arn_aware: int) -> list[Token]:
    """With arn_aware, wildcards stop at colons until the last segment of the pattern (the
    sixth, or fewer when the pattern has fewer); with ARN_RESOURCE a `*` ending a segment
    may match beyond the colon (AWS's Resource element rule)."""
    if arn_aware:
        colons = sum(text.count(":") for text, _ in pieces)
        last_segment = min(colons, ARN_SEGMENTS - 1)
    else:
        last_segment = 0
    flat = [(ch, is_glob) for text, is_glob in pieces for ch in text]
    tokens: list[Token] = []
    segment = 0
    for i, (ch, is_glob) in enumerate(flat):
        bounded = segment < last_segment
        if ch == ":" and bounded:
            segment += 1
            tokens.append(("lit", ":", False))
        elif is_glob and ch == "*":
            ends_segment = arn_aware == ARN_RESOURCE and (
                i + 1 == len(flat) or flat[i + 1][0] == ":"
            )
            tokens.append(("star", "", bounded and not ends_segment))
        elif is_glob and ch == "?":
            tokens.append(("one", "", bounded))
        else:
            tokens.append(("lit", ch, False))
    return tokens


def _regex_source(tokens: list[Token]) -> tuple[str, int]:
    """Regex source, and how many of its stars may backtrack against each other.

    Between two stars of the same class, the text is matched at its earliest position in
    an atomic group (optimal for globs: what follows starts with a star that could absorb
    anything a later position would have left), so runs of such stars cost linear time.
    Only stars of different classes (bounded vs unbounded) in sequence backtrack."""
    out: list[str] = []
    free_stars = 0
    i = 0
    while i < len(tokens):
        kind, text, bounded = tokens[i]
        if kind == "lit":
            out.append(re.escape(text))
        elif kind == "one":
            out.append("[^:]" if bounded else ".")
        else:
            star = "[^:]" if bounded else "."
            run: list[str] = []
            j = i + 1
            while j < len(tokens) and tokens[j][0] != "star":
                k, t, b = tokens[j]
                run.append(re.escape(t) if k == "lit" else ("[^:]" if b else "."))
                j += 1
            next_same = j < len(tokens) and tokens[j][2] == bounded
            if next_same:
                out.append(f"(?>{star}*?{''.join(run)})")
            else:
                out.append(f"{star}*{''.join(run)}")
                free_stars += 1
            i = j
            continue
        i += 1
    return "".join(out), free_stars


class NfaGlob:
    """Linear-time glob matching by simulating the pattern's automaton: used for the
    rare patterns whose regex could backtrack badly."""

    __slots__ = ("_ignore_case", "_tokens")

    def __init__(self, tokens: list[Token], ignore_case: bool) -> None:
        self._ignore_case = ignore_case
        self._tokens = [(k, t.lower() if ignore_case else t, b) for k, t, b in tokens]

    def _closure(self, states: set[int]) -> set[int]:
        stack = list(states)
        while stack:
            i = stack.pop()
            if i < len(self._tokens) and self._tokens[i][0] == "star" and i + 1 not in states:
                states.add(i + 1)
                stack.append(i + 1)
        return states

    def fullmatch(self, value: str) -> bool | None:
        tokens = self._tokens
        if self._ignore_case:
            value = value.lower()
        states = self._closure({0})
        for ch in value:
            following: set[int] = set()
            for i in states:
                if i == len(tokens):
                    continue
                kind, text, bounded = tokens[i]
                if bounded and ch == ":":
                    continue
                if kind == "star":
                    following.add(i)
                elif kind == "one" or text == ch:
                    following.add(i + 1)
            if not following:
                return None
            states = self._closure(following)
        return True if len(tokens) in states else None


class Glob:
    """Matches any of several glob alternatives; `fullmatch` like a compiled regex.

    `test` is the fastest callable with the same None/not-None answer: the compiled
    regex's own fullmatch when no alternative needed the NFA (the usual case)."""

    __slots__ = ("_nfas", "_regex", "test")

    def __init__(self, alternatives: list[list[Token]], ignore_case: bool) -> None:
        safe: list[str] = []
        self._nfas: list[NfaGlob] = []
        for tokens in alternatives:
            source, free = _regex_source(tokens)
            if free > 1:
                self._nfas.append(NfaGlob(tokens, ignore_case))
            else:
                safe.append(source)
        flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
        self._regex = (
            re.compile("|".join(f"(?:{s})" for s in safe), flags).fullmatch if safe else None
        )
        self.test: Callable[[str], object] = (
            self._regex if self._regex is not None and not self._nfas else self.fullmatch
        )

    def fullmatch(self, value: str) -> bool | None:
        if self._regex is not None and self._regex(value) is not None:
            return True
        for nfa in self._nfas:
            if nfa.fullmatch(value):
                return True
        return None


@lru_cache(maxsize=8192)
def pieces_regex(pieces: Pieces, arn_aware: int, ignore_case: bool) -> Glob:
    return Glob([_tokens(pieces, arn_aware)], ignore_case)


def glob_regex(pattern: str, *, arn_aware: int = False, ignore_case: bool = False) -> Glob:
    return pieces_regex(((pattern, True),), arn_aware, ignore_case)


def union_regex(
    patterns: list[str] | tuple[str, ...], *, arn_aware: int, ignore_case: bool
) -> Glob:
    """One matcher (with fullmatch) for any of the glob patterns."""
    return Glob([_tokens(((p, True),), arn_aware) for p in patterns], ignore_case)


def arn_shaped(value: str) -> bool:
    """An ARN for the Arn* condition operators has six colon-separated segments."""
    return value.count(":") >= ARN_SEGMENTS - 1


@lru_cache(maxsize=8192)
def union_pieces_regex(alternatives: tuple[Pieces, ...], arn_aware: int, ignore_case: bool) -> Glob:
    """One matcher (with fullmatch) for any of several piece lists."""
    return Glob([_tokens(p, arn_aware) for p in alternatives], ignore_case)
