"""Permissions through groups, not users (the seed's "Groups")."""

from __future__ import annotations

from chamberlain.advisor.checks.common import CIS3, cis
from chamberlain.advisor.engine import Engine
from chamberlain.advisor.findings import Check, Finding, check
from chamberlain.advisor.model import Account


@check(
    "user-direct-policy",
    severity="low",
    practice="groups",
    controls=(cis(CIS3, "1.15"),),
    cites="CIS 1.15 'Ensure IAM Users Receive Permissions Only Through Groups'. AWS: 'Use "
    "groups to assign permissions to IAM users' (the seed).",
)
def user_direct_policy(c: Check, account: Account, engine: Engine) -> list[Finding]:
    found = []
    for user in account.users:
        if not user.inline and not user.attached:
            continue
        fixes = [
            f"aws iam detach-user-policy --user-name {user.name} --policy-arn {arn}"
            for arn in user.attached
        ] + [
            f"aws iam delete-user-policy --user-name {user.name} --policy-name {p.name}"
            for p in user.inline
        ]
        found.append(
            c.finding(
                user.arn,
                f"User {user.name} has policies of its own: "
                f"{len(user.attached)} attached, {len(user.inline)} inline.",
                "Attach the policies to a group and add the user to it; then " + "; ".join(fixes),
                {"attached": list(user.attached), "inline": [p.name for p in user.inline]},
            )
        )
    return found
