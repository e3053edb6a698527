"""The host's own key, read from a credentials file, and the session name."""

from __future__ import annotations

from pathlib import Path

import pytest

from chamberlain.agent.credentials import AgentError, read_host_key, session_name

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_reads_the_profile(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text(
        "[default]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = other\n\n"
        f"[host]\naws_access_key_id = AKIAHOST\naws_secret_access_key = {SECRET}\n"
    )
    key = read_host_key(path, "host")
    assert (key.access_key_id, key.secret_access_key, key.session_token) == (
        "AKIAHOST",
        SECRET,
        None,
    )
    assert SECRET not in repr(key)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read credentials file"),
        ("[other]\naws_access_key_id = A\naws_secret_access_key = B\n", "profile host not found"),
        (f"[host]\naws_secret_access_key = {SECRET}\n", "needs aws_access_key_id"),
        ("no section header\n", "is not an AWS credentials file"),
    ],
)
def test_errors_name_the_problem_not_the_secret(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "credentials"
    if content is not None:
        path.write_text(content)
    with pytest.raises(AgentError) as exc:
        read_host_key(path, "host")
    assert message in str(exc.value)
    assert SECRET not in str(exc.value)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("web-1.example.com", "web-1.example.com"),
        ("my host/1", "my-host-1"),
        ("hôte", "h-te"),
        ("a", "a-host"),
        ("x" * 80, "x" * 64),
        ("user@host+tag=1,2", "user@host+tag=1,2"),
    ],
)
def test_session_name_matches_aws_pattern(raw: str, name: str) -> None:
    assert session_name(raw) == name
