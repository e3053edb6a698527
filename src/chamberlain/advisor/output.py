"""The report as JSON (also what the console's GET /advisor/findings returns), a table,
SARIF 2.1.0 and CSV."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Any

from chamberlain.advisor.checks import ORDER
from chamberlain.advisor.findings import REGISTRY, SEVERITIES, Finding, Report

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
# GitHub code scanning reads `security-severity` (0-10) to rank security alerts.
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
_COLOUR = {"critical": "\033[1;31m", "high": "\033[31m", "medium": "\033[33m", "low": "\033[36m"}
_RESET = "\033[0m"


def findings_json(report: Report) -> dict[str, Any]:
    """The JSON document of one account's report (the console calls this too)."""
    return report.as_json()


def render_json(reports: list[Report]) -> str:
    value: Any = (
        findings_json(reports[0]) if len(reports) == 1 else [findings_json(r) for r in reports]
    )
    return json.dumps(value, indent=2)


def _short(arn: str) -> str:
    return arn.split(":", 5)[-1] if arn.count(":") >= 5 else arn


def render_table(reports: list[Report], *, colour: bool) -> str:
    lines: list[str] = []
    for report in reports:
        lines.append(
            f"account {report.account} ({report.source}), {report.generated_at.isoformat()}"
        )
        rows = [("SEVERITY", "CHECK", "RESOURCE", "MESSAGE")]
        rows += [(f.severity, f.check, _short(f.resource), f.message) for f in report.findings]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for index, row in enumerate(rows):
            cells = [row[i].ljust(widths[i]) for i in range(3)]
            if colour and index > 0:
                cells[0] = f"{_COLOUR[row[0]]}{cells[0]}{_RESET}"
            lines.append("  ".join([*cells, row[3]]).rstrip())
        counts = {s: sum(1 for f in report.findings if f.severity == s) for s in SEVERITIES}
        lines.append(
            f"{len(report.findings)} finding(s): "
            + ", ".join(f"{n} {s}" for s, n in counts.items())
            + f"; {len(report.checks_run)} checks run"
        )
        for check_id, why in report.checks_not_run:
            lines.append(f"not run: {check_id}: {why}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def render_csv(reports: list[Report]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        (
            "account",
            "check",
            "severity",
            "practice",
            "resource",
            "message",
            "remediation",
            "controls",
            "evidence",
        )
    )
    for report in reports:
        for f in report.findings:
            writer.writerow(
                (
                    report.account,
                    f.check,
                    f.severity,
                    f.practice,
                    f.resource,
                    f.message,
                    f.remediation or "",
                    "; ".join(f.controls),
                    json.dumps(f.evidence, sort_keys=True),
                )
            )
    return out.getvalue()


def render_sarif(reports: list[Report], *, artifact: str) -> str:
    """SARIF 2.1.0: one run, a rule per check, a result per finding located at the input
    (the export file, or the store) with the IAM resource as its logical location."""
    rule_index = {check_id: position for position, check_id in enumerate(ORDER)}
    not_run = [
        {"message": {"text": f"{c}: not run: {why}"}, "level": "note", "descriptor": {"id": c}}
        for report in reports
        for c, why in report.checks_not_run
    ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "chamberlain-advisor",
                "informationUri": "https://github.com/chamberlain/chamberlain",
                "rules": [_sarif_rule(check_id) for check_id in ORDER],
            }
        },
        "results": [
            _sarif_result(report, f, rule_index[f.check], artifact)
            for report in reports
            for f in report.findings
        ],
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": not_run}],
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2)


def _sarif_rule(check_id: str) -> dict[str, Any]:
    """The SARIF rule of one check (its severity ranked for GitHub code scanning)."""
    c = REGISTRY[check_id]
    return {
        "id": check_id,
        "name": "".join(part.capitalize() for part in check_id.split("-")),
        "shortDescription": {"text": c.cites.split(".")[0][:200]},
        "fullDescription": {"text": c.cites},
        "help": {"text": c.cites},
        "defaultConfiguration": {"level": _LEVEL[c.severity]},
        "properties": {
            "tags": ["security", c.practice, *c.controls],
            "security-severity": _SECURITY_SEVERITY[c.severity],
            "precision": "high",
        },
    }


def _sarif_result(report: Report, f: Finding, rule_index: int, artifact: str) -> dict[str, Any]:
    """The SARIF result of one finding, with a fingerprint that stays the same from one
    run to the next while the finding does."""
    evidence = json.dumps(f.evidence, sort_keys=True)
    identity = f"{report.account}|{f.check}|{f.resource}|{evidence}"
    return {
        "ruleId": f.check,
        "ruleIndex": rule_index,
        "level": _LEVEL[f.severity],
        "message": {"text": f.message + (f" Fix: {f.remediation}" if f.remediation else "")},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [{"fullyQualifiedName": f.resource, "kind": "resource"}],
            }
        ],
        "partialFingerprints": {
            "chamberlainAdvisor/v1": hashlib.sha256(identity.encode()).hexdigest()
        },
        "properties": {
            "account": report.account,
            "practice": f.practice,
            "controls": list(f.controls),
            "evidence": f.evidence,
        },
    }
