"""Roles nobody uses (the seed's "Roles" and "Track - remove unnecessary credentials")."""

from __future__ import annotations

from chamberlain.advisor.checks.common import days_since
from chamberlain.advisor.engine import Engine
from chamberlain.advisor.findings import Check, Finding, check, iso
from chamberlain.advisor.model import Account

UNUSED_DAYS = 90


@check(
    "unused-role",
    severity="low",
    practice="roles",
    cites="AWS IAM best practices: 'Regularly review and remove unused users, roles, "
    "permissions, policies, and credentials' (RoleLastUsed: 'Use this information to "
    "identify unused roles'; tracked for the trailing 400 days).",
)
def unused_role(c: Check, account: Account, engine: Engine) -> list[Finding]:
    found = []
    for role in account.roles:
        if role.service_linked or not role.last_used_known:
            continue
        if role.last_used is not None:
            age = days_since(account, role.last_used)
            what = f"last used {age} days ago"
        elif role.created is not None:
            age = days_since(account, role.created)
            what = f"never used in the {age} days since it was created"
        else:
            continue
        if age >= UNUSED_DAYS:
            found.append(
                c.finding(
                    role.arn,
                    f"Role {role.name} was {what}.",
                    f"aws iam delete-role --role-name {role.name} (after detaching its policies "
                    "and removing it from instance profiles)",
                    {"last_used": iso(role.last_used), "created": iso(role.created), "days": age},
                )
            )
    return found
