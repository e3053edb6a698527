"""Findings, the checks' registry, and running every check over a read model."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chamberlain.advisor.engine import Engine
from chamberlain.advisor.model import Account

SEVERITIES = ("critical", "high", "medium", "low")
PRACTICES = (
    "root",
    "users",
    "groups",
    "least-privilege",
    "passwords",
    "mfa",
    "roles",
    "delegation",
    "rotation",
    "unused-credentials",
    "conditions",
    "auditing",
)


class NotRun(Exception):
    """The data a check needs is missing: it is reported as not run, never as passed."""


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str
    practice: str
    resource: str
    message: str
    remediation: str | None
    controls: tuple[str, ...]
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "practice": self.practice,
            "resource": self.resource,
            "message": self.message,
            "remediation": self.remediation,
            "controls": list(self.controls),
            "evidence": self.evidence,
        }


CheckFunction = Callable[["Check", Account, Engine], list[Finding]]


@dataclass(frozen=True)
class Check:
    id: str
    severity: str
    practice: str
    controls: tuple[str, ...]
    cites: str  # the AWS or CIS text the check encodes
    run: CheckFunction

    def finding(
        self,
        resource: str,
        message: str,
        remediation: str | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> Finding:
        return Finding(
            self.id,
            self.severity,
            self.practice,
            resource,
            message,
            remediation,
            self.controls,
            evidence or {},
        )


REGISTRY: dict[str, Check] = {}


def check(
    id: str, *, severity: str, practice: str, controls: tuple[str, ...] = (), cites: str
) -> Callable[[CheckFunction], CheckFunction]:
    assert severity in SEVERITIES and practice in PRACTICES

    def register(fn: CheckFunction) -> CheckFunction:
        REGISTRY[id] = Check(id, severity, practice, controls, cites, fn)
        return fn

    return register


def iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Report:
    account: str
    source: str
    generated_at: dt.datetime
    checks_run: tuple[str, ...]
    checks_not_run: tuple[tuple[str, str], ...]
    findings: tuple[Finding, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "source": self.source,
            "generated_at": iso(self.generated_at),
            "checks_run": list(self.checks_run),
            "checks_not_run": [{"check": c, "why": why} for c, why in self.checks_not_run],
            "findings": [f.as_json() for f in self.findings],
        }

    def at_or_above(self, threshold: str) -> list[Finding]:
        limit = SEVERITIES.index(threshold)
        return [f for f in self.findings if SEVERITIES.index(f.severity) <= limit]


def run_checks(account: Account, progress: Callable[[str], None] | None = None) -> Report:
    from chamberlain.advisor.checks import ORDER  # importing it registers every check

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
