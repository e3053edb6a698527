"""README's library example runs and prints what README says it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_library_example_runs() -> None:
    text = README.read_text()
    section = text.split("## The policy engine as a library", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.group(1), "README.md", "exec"), {})
    assert out.getvalue().splitlines() == [
        "allowed",
        "TeamBuckets",
        "implicitDeny - because no identity-based policy allows the s3:PutObject action",
    ]
