"""Property tests for the glob matchers: the regex form, the automaton form and the
reference evaluator's dynamic programme always agree, and no pattern is slow."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.policy.reference import _arn_match, _glob, _plain

from chamberlain.policy.matching import (
    ARN_CONDITION,
    ARN_RESOURCE,
    PLAIN,
    Glob,
    NfaGlob,
    _regex_source,
    _tokens,
    glob_regex,
)

patterns = st.text(alphabet="ab:*?", max_size=14)
values = st.text(alphabet="ab:", max_size=14)


def _reference(pattern: str, value: str, mode: int) -> bool:
    if mode == PLAIN:
        return _glob(_plain(pattern), value)
    return _arn_match(_plain(pattern), value, star_crosses=mode == ARN_RESOURCE)


@settings(max_examples=400, deadline=None)
@given(patterns, values, st.sampled_from([PLAIN, ARN_CONDITION, ARN_RESOURCE]))
def test_regex_automaton_and_reference_agree(pattern: str, value: str, mode: int) -> None:
    tokens = _tokens(((pattern, True),), mode)
    expected = _reference(pattern, value, mode)
    source, _ = _regex_source(tokens)
    import re

    assert (re.compile(source, re.DOTALL).fullmatch(value) is not None) is expected
    assert bool(NfaGlob(tokens, False).fullmatch(value)) is expected
    assert bool(Glob([tokens], False).fullmatch(value)) is expected


@contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    def fail(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"matching took over {seconds} s")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_hostile_patterns_match_in_linear_time() -> None:
    hostile = [
        "arn:aws:s3:::bucket/" + "*a" * 30 + "*b",
        "arn:*:*:*:*:" + "*x" * 20,
        "arn:a*:b*:c*:d*:*x*x*x*y",
        "arn:*a*:*a*:*a*:*a*:*a*a*a*a*b",
    ]
    resource = "arn:" + "a:" * 3000 + "a" * 8000
    with _time_limit(5):
        for pattern in hostile:
            for mode in (PLAIN, ARN_CONDITION, ARN_RESOURCE):
                assert glob_regex(pattern, arn_aware=mode).fullmatch(resource) is None
