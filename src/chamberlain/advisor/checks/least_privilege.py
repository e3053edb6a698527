"""Full administrator policies (the seed's "Grant least privilege")."""

from __future__ import annotations

from chamberlain.advisor.checks.common import CIS3, cis
from chamberlain.advisor.engine import Engine
from chamberlain.advisor.findings import Check, Finding, check
from chamberlain.advisor.model import Account


@check(
    "admin-policy",
    severity="high",
    practice="least-privilege",
    controls=(cis(CIS3, "1.16"),),
    cites='CIS 1.16 \'Ensure IAM policies that allow full "*:*" administrative privileges '
    "are not attached' (a statement with Effect Allow, Action * and Resource *; a NotAction "
    "that excludes nothing the engine probes is the same grant).",
)
def admin_policy(c: Check, account: Account, engine: Engine) -> list[Finding]:
    attached_to: dict[str, list[tuple[str, str, str]]] = {}
    for kind, entities in (
        ("user", account.users),
        ("group", account.groups),
        ("role", account.roles),
    ):
        for e in entities:
            for arn in e.attached:
                attached_to.setdefault(arn, []).append((kind, e.name, e.arn))
    found = []
    for arn, holders in sorted(attached_to.items()):
        policy = account.policies.get(arn)
        if policy is None or not engine.policy_is_admin(arn, policy.document):
            continue
        kind, name, _ = holders[0]
        found.append(
            c.finding(
                arn,
                f"Policy {policy.name} allows every action on every resource and is attached "
                f"to {len(holders)} principal(s).",
                f"aws iam detach-{kind}-policy --{kind}-name {name} --policy-arn {arn}",
                {"attached_to": [h[2] for h in holders], "aws_managed": policy.aws_managed},
            )
        )
    for kind, entities in (
        ("user", account.users),
        ("group", account.groups),
        ("role", account.roles),
    ):
        for e in entities:
            for p in e.inline:
                if engine.policy_is_admin(f"{e.arn}#inline/{p.name}", p.document):
                    found.append(
                        c.finding(
                            e.arn,
                            f"Inline policy {p.name} of {kind} {e.name} allows every action "
                            "on every resource.",
                            f"aws iam delete-{kind}-policy --{kind}-name {e.name} "
                            f"--policy-name {p.name}",
                            {"inline_policy": p.name},
                        )
                    )
    return found
