"""Permissions granted but not used (the seed's "Grant least privilege")."""

from __future__ import annotations

from chamberlain.advisor.checks.common import days_since
from chamberlain.advisor.engine import Engine
from chamberlain.advisor.findings import Check, Finding, NotRun, check, iso
from chamberlain.advisor.model import Account

UNUSED_DAYS = 90


@check(
    "unused-permissions",
    severity="low",
    practice="least-privilege",
    cites="AWS: 'Refining permissions in AWS using last accessed information': remove "
    "permissions for services an entity has not accessed in the tracking period; IAM Access "
    "Analyzer unused access (90 days by default).",
)
def unused_permissions(c: Check, account: Account, engine: Engine) -> list[Finding]:
    if account.service_usage is None:
        raise NotRun("needs service last accessed data (live mode only)")
    created = {u.arn: u.created for u in account.users}
    created.update({r.arn: r.created for r in account.roles})
    found = []
    for arn, usage in sorted(account.service_usage.items()):
        since = created.get(arn)
        if since is None or days_since(account, since) < UNUSED_DAYS:
            continue  # too young to tell
        unused = [
            s
            for s, last in usage.services
            if last is None or days_since(account, last) >= UNUSED_DAYS
        ]
        used = [s for s, last in usage.services if s not in unused]
        if not unused:
            continue
        remain = (
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": [f"{s}:*" for s in used], "Resource": "*"}
                ],
            }
            if used
            else None
        )
        found.append(
            c.finding(
                arn,
                f"{arn.split(':', 5)[-1]} is granted {', '.join(unused)} and has not used "
                f"{'it' if len(unused) == 1 else 'them'} in {UNUSED_DAYS} days.",
                f"aws iam generate-service-last-accessed-details --arn {arn}; then narrow its "
                "policies to the services it uses",
                {
                    "unused_services": unused,
                    "used_services": used,
                    "last_accessed": {s: iso(last) for s, last in usage.services},
                    "policy_that_would_remain": remain,
                },
            )
        )
    return found
