"""Permissions granted but not used (the seed's "Grant least privilege")."""

from __future__ import annotations

import json

from chamberlain.advisor.checks.common import days_since
from chamberlain.advisor.engine import Engine
from chamberlain.advisor.findings import Check, Finding, NotRun, check, iso
from chamberlain.advisor.model import Account

UNUSED_DAYS = 90


def _trimmed(actions: object, unused: set[str]) -> list[str] | None:
    """The actions left once those of unused services are dropped (None: nothing left)."""
    names: list[object] = [actions] if isinstance(actions, str) else []
    if isinstance(actions, list | tuple):  # a policy's Action: a string or a list of them
        names = list(actions)
    kept = [str(a) for a in names if str(a).split(":", 1)[0].lower() not in unused]
    return kept or None


def _remaining(identity: tuple[tuple[str, str], ...], unused: set[str]) -> dict[str, object]:
    """The principal's policies with the Allow actions of unused services taken out: what
    it would keep (a statement left with no action goes; Deny statements stay)."""
    out: dict[str, object] = {}
    for policy_id, text in identity:
        try:
            document = json.loads(text)
        except ValueError:
            continue
        statements = document.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        kept = []
        for st in statements:
            if st.get("Effect") == "Allow" and "Action" in st:
                actions = _trimmed(st["Action"], unused)
                if actions is None:
                    continue
                st = {**st, "Action": actions}
            kept.append(st)
        out[policy_id] = {**document, "Statement": kept} if kept else None
    return out


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
    nodes = {n.arn: n for n in engine.nodes()}
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
        node = nodes.get(arn)
        remain = _remaining(node.identity if node else (), set(unused))
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
