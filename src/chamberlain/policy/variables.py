"""Policy variables: `${aws:username}`, `${key, 'default'}`, `${*}`, `${?}`, `${$}`.

Only under Version 2012-10-17. A text is split once, at compile time, into a template of
literal glob text, literal characters and variable references; at evaluation each variable
is looked up in the request context (case-insensitively). A variable with no value and no
default makes the whole text unresolvable (None): AWS treats it as "effectively null", a
value that nothing is equal to or like, so the caller leaves it out of the values a
request is compared with (a Resource pattern then matches no resource, a condition value
no context value).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .matching import Pieces

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,\s][^,]*?)\s*,\s*'([^']*)'\s*$")
_LITERALS = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True, slots=True)
class Variable:
    key: str  # lower-cased context key
    default: str | None


# A template part: glob text (str), a literal character (tuple[str]), or a Variable.
Part = str | tuple[str] | Variable
Template = tuple[Part, ...]


def split_template(text: str) -> Template | None:
    """The template for `text`, or None when it holds no `${...}` at all."""
    if "${" not in text:
        return None
    parts: list[Part] = []
    pos = 0
    for m in _VARIABLE.finditer(text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        body = m.group(1)
        if body in _LITERALS:
            parts.append((_LITERALS[body],))
        else:
            d = _DEFAULT.match(body)
            if d:
                parts.append(Variable(d.group(1).strip().lower(), d.group(2)))
            else:
                parts.append(Variable(body.strip().lower(), None))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return tuple(parts)


def template_keys(template: Template) -> tuple[str, ...]:
    return tuple(p.key for p in template if isinstance(p, Variable))


Lookup = Callable[[str], str | None]


def resolve(template: Template, lookup: Lookup) -> Pieces | None:
    """Pieces for the regex builder, or None if a variable has no value."""
    out: list[tuple[str, bool]] = []
    for p in template:
        if isinstance(p, str):
            out.append((p, True))
        elif isinstance(p, tuple):
            out.append((p[0], False))
        else:
            value = lookup(p.key)
            if value is None:
                value = p.default
            if value is None:
                return None
            out.append((value, False))
    return tuple(out)


def resolve_text(template: Template, lookup: Lookup) -> str | None:
    """The template as plain text (for non-glob operators), or None if unresolvable."""
    pieces = resolve(template, lookup)
    return None if pieces is None else "".join(text for text, _ in pieces)
