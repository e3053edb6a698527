"""`chamberlain agent`'s options: defaults and the combinations it refuses."""

from __future__ import annotations

import argparse

import pytest

from chamberlain.agent.main import _check, add_arguments

REQUIRED = ["--endpoint-url", "http://x", "--instance-profile", "p", "--credentials-file", "f"]


def parse(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args([*REQUIRED, *extra])


def test_defaults() -> None:
    args = parse()
    assert (args.host, args.port, args.duration_seconds, args.profile) == (
        "127.0.0.1",
        1338,
        3600,
        "default",
    )
    assert _check(args) is None


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (["--duration-seconds", "899"], "--duration-seconds must be between 900 and 43200"),
        (["--duration-seconds", "43201"], "--duration-seconds must be between"),
        (["--duration-seconds", "900", "--refresh-before", "900"], "--refresh-before must be"),
        (["--refresh-before", "0"], "--refresh-before must be"),
        (["--token-group", "wheel"], "--token-group needs --token-file"),
        (["--no-imds"], "--no-imds needs --token-file"),
        (["--token-file", "t", "--token-group", "no-such-group-xyz"], "no such group"),
    ],
)
def test_refused(extra: list[str], problem: str) -> None:
    message = _check(parse(*extra))
    assert message is not None and message.startswith(problem)


def test_accepted_combinations() -> None:
    assert _check(parse("--duration-seconds", "900", "--refresh-before", "890")) is None
    assert _check(parse("--token-file", "t", "--no-imds")) is None
