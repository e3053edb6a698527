"""Paths by which a principal makes itself an administrator (the seed's "Grant least
privilege"; AWS: 'Use permissions boundaries to delegate permissions management')."""

from __future__ import annotations

from chamberlain.advisor.engine import Engine
from chamberlain.advisor.escalation import Graph
from chamberlain.advisor.findings import Check, Finding, check
from chamberlain.advisor.model import Account


@check(
    "privilege-escalation",
    severity="critical",
    practice="least-privilege",
    cites="AWS: 'Security best practices in IAM - apply least-privilege permissions' and "
    "'Permissions boundaries for IAM entities' (a principal allowed iam:Put*Policy, "
    "iam:CreatePolicyVersion, iam:PassRole... can grant itself more than it was given); "
    "Rhino Security Labs, 'AWS IAM Privilege Escalation - Methods and Mitigation'.",
)
def privilege_escalation(c: Check, account: Account, engine: Engine) -> list[Finding]:
    found = []
    for arn, path in sorted(Graph(engine).analyze().items()):
        calls = " -> ".join(f"{s.call} on {s.target.split(':', 5)[-1]}" for s in path.steps)
        reached = "itself" if path.administrator == arn else path.administrator.split(":", 5)[-1]
        note = ""
        if path.conditional:
            note += " (if conditions the data cannot decide hold)"
        if path.via_service:
            note += " (through a service that runs code: a risk outside IAM)"
        found.append(
            c.finding(
                arn,
                f"{arn.split(':', 5)[-1]} can become an administrator ({reached}) in "
                f"{len(path.steps)} call(s): {calls}{note}.",
                "Remove the permission of the first call, or cap the principal with a "
                "permissions boundary: aws iam put-"
                f"{'user' if ':user/' in arn else 'role'}-permissions-boundary",
                {
                    "path": [s.as_json() for s in path.steps],
                    "administrator": path.administrator,
                    "conditional": path.conditional,
                    "via_service": path.via_service,
                },
            )
        )
    return found
