"""The audit trail is on and intact (the seed's "Auditing")."""

from __future__ import annotations

from chamberlain.advisor.checks.common import CIS3, cis
from chamberlain.advisor.engine import Engine
from chamberlain.advisor.findings import Check, Finding, NotRun, check
from chamberlain.advisor.model import Account


@check(
    "audit-off",
    severity="high",
    practice="auditing",
    controls=(cis(CIS3, "3.1"), cis(CIS3, "3.2")),
    cites="CIS 3.1 'Ensure CloudTrail is enabled in all regions', 3.2 'Ensure CloudTrail log "
    "file validation is enabled'. The seed: 'Monitor activity in the AWS account'.",
)
def audit_off(c: Check, account: Account, engine: Engine) -> list[Finding]:
    audit = account.audit
    if audit is None:
        raise NotRun("the audit trail is checked on a live account only")
    found = []
    if not audit.enabled:
        found.append(
            c.finding(
                account.root_arn,
                "The audit trail is switched off: calls are not recorded.",
                "set audit = on in the server's settings (or unset CHAMBERLAIN_AUDIT) and restart",
                {"enabled": False},
            )
        )
    if not audit.intact:
        found.append(
            c.finding(
                account.root_arn,
                f"The audit trail fails verification: {audit.problem}",
                f"chamberlain audit verify --account {account.account_id}",
                {"problem": audit.problem},
            )
        )
    return found
