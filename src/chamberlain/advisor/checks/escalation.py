"""Paths by which a principal makes itself an administrator (the seed's "Grant least
privilege"; AWS: 'Use permissions boundaries to delegate permissions management')."""

from __future__ import annotations

from chamberlain.advisor.engine import ADMIN_POLICY_ARN, Engine, Node
from chamberlain.advisor.escalation import Graph, Path
from chamberlain.advisor.findings import Check, Finding, check
from chamberlain.advisor.model import Account


def _fix(engine: Engine, graph: Graph, path: Path) -> str:
    """The aws CLI command that removes the permission of the path's first call."""
    first = path.steps[0]
    node = graph.nodes[first.actor]
    extra: dict[str, str] = {}
    if "Attach" in first.call:
        extra["iam:PolicyARN"] = ADMIN_POLICY_ARN
    if first.via_service:
        extra["iam:PassedToService"] = first.via_service
    granted = engine.granted_by(node, first.call, first.target, extra)
    fixes = []
    for policy_id in granted:
        owner, _, inline = policy_id.partition("#inline/")
        if inline:
            kind, name = owner.split(":", 5)[-1].split("/", 1)
            name = name.rsplit("/", 1)[-1]
            fixes.append(
                f"aws iam delete-{kind}-policy --{kind}-name {name} --policy-name {inline}"
            )
            continue
        for kind, holder in _holders(engine, node, policy_id):
            fixes.append(
                f"aws iam detach-{kind}-policy --{kind}-name {holder} --policy-arn {policy_id}"
            )
    if not fixes:
        return f"Remove {first.call} from {node.label}'s policies, or set a permissions boundary"
    return "; ".join(fixes)


def _holders(engine: Engine, node: Node, policy_arn: str) -> list[tuple[str, str]]:
    """Where the managed policy is attached on the node's side: itself or its groups."""
    account = engine.account
    out: list[tuple[str, str]] = []
    if node.kind == "role":
        return [("role", node.name)]
    user = next(u for u in account.users if u.arn == node.arn)
    if policy_arn in user.attached:
        out.append(("user", user.name))
    groups = {g.name.lower(): g for g in account.groups}
    for name in user.groups:
        group = groups.get(name.lower())
        if group is not None and policy_arn in group.attached:
            out.append(("group", group.name))
    return out


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
    graph = Graph(engine)
    for arn, path in sorted(graph.analyze().items()):
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
                _fix(engine, graph, path),
                {
                    "path": [s.as_json() for s in path.steps],
                    "administrator": path.administrator,
                    "conditional": path.conditional,
                    "via_service": path.via_service,
                },
            )
        )
    return found
