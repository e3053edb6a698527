"""Running every check over one account's read model, in the issue's order."""

from __future__ import annotations

from collections.abc import Callable

from chamberlain.advisor.checks import ORDER  # importing it registers every check
from chamberlain.advisor.engine import Engine
from chamberlain.advisor.findings import REGISTRY, SEVERITIES, Finding, NotRun, Report
from chamberlain.advisor.model import Account


def run_checks(account: Account, progress: Callable[[str], None] | None = None) -> Report:
    engine = Engine(account)
    run: list[str] = []
    not_run: list[tuple[str, str]] = []
    findings: list[Finding] = []
    for check_id in ORDER:
        c = REGISTRY[check_id]
        if progress is not None:
            progress(check_id)
        try:
            found = c.run(c, account, engine)
        except NotRun as why:
            not_run.append((check_id, str(why)))
            continue
        run.append(check_id)
        findings += found
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (order[f.severity], f.check, f.resource))
    return Report(
        account.account_id, account.source, account.now, tuple(run), tuple(not_run), tuple(findings)
    )
