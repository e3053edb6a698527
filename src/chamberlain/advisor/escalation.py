"""Privilege escalation: the graph of principals, with edges the engine decides.

Nodes are the account's users and roles (groups count through membership). A principal
reaches an administrator (a principal the engine allows every probe action on "*",
engine.ADMIN_PROBES) by

- acting as another principal: iam:CreateAccessKey, iam:CreateLoginProfile or
  iam:UpdateLoginProfile on a user; sts:AssumeRole (trust and identity policies);
  iam:UpdateAssumeRolePolicy then sts:AssumeRole; iam:TagRole then sts:AssumeRole where
  the decision turns on the role's tags; iam:PassRole of a role to a service that runs
  code (a risk: the service is outside IAM, so the edge is marked `via_service`);
- widening its own permissions: iam:Attach/PutUserPolicy, iam:Attach/PutRolePolicy on
  itself; iam:Attach/PutGroupPolicy on its groups; iam:CreatePolicyVersion or
  iam:SetDefaultPolicyVersion on a customer managed policy it has; iam:AddUserToGroup of
  itself; iam:Delete/PutUserPermissionsBoundary or ...RolePermissionsBoundary on itself;
  iam:TagUser/TagRole on itself where its policies test its tags;
- widening another principal it can then act as: iam:Attach/PutRolePolicy on a role it
  can assume, iam:Attach/PutUserPolicy on a user it can make an access key for.

Each call is asked of the engine with the caller's identity policies, permissions
boundary and (for AssumeRole) the role's trust policy; the state after a widening call
is asked again (a boundary that caps the new policy stops the path). These are the
IAM-internal methods of Rhino Security Labs' list and PMapper's edge checks.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from chamberlain.advisor.engine import (
    ADMIN_POLICY_ARN,
    ALLOW_ALL,
    Answer,
    Engine,
    Node,
    Verdict,
)
from chamberlain.advisor.model import Account, Role, Tags, User
from chamberlain.policy import (
    Applicable,
    MalformedPolicyDocument,
    PolicyType,
    Principal,
    PrincipalType,
    Request,
    evaluate,
    parse_policy,
)
from chamberlain.policy.model import Effect

#: Services that run code with a role passed to them, and the calls that make them do it.
CODE_SERVICES: dict[str, tuple[str, ...]] = {
    "ec2.amazonaws.com": ("ec2:RunInstances",),
    "lambda.amazonaws.com": ("lambda:CreateFunction", "lambda:InvokeFunction"),
    "cloudformation.amazonaws.com": ("cloudformation:CreateStack",),
    "glue.amazonaws.com": ("glue:CreateDevEndpoint",),
    "datapipeline.amazonaws.com": ("datapipeline:CreatePipeline",),
    "codebuild.amazonaws.com": ("codebuild:CreateProject", "codebuild:StartBuild"),
    "sagemaker.amazonaws.com": ("sagemaker:CreateNotebookInstance",),
    "ecs-tasks.amazonaws.com": ("ecs:RunTask",),
}
TAG_FREE = frozenset({"aws:principaltag/"})
RESOURCE_TAG_FREE = frozenset({"aws:resourcetag/", "iam:resourcetag/"})
ADMIN_GRANT = ((ADMIN_POLICY_ARN, ALLOW_ALL),)
#: Every call a principal might widen itself (or another) with: a quick filter.
SELF_ACTIONS = (
    "iam:Attach{kind}Policy",
    "iam:Put{kind}Policy",
    "iam:AttachGroupPolicy",
    "iam:PutGroupPolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:AddUserToGroup",
    "iam:Delete{kind}PermissionsBoundary",
    "iam:Put{kind}PermissionsBoundary",
    "iam:Tag{kind}",
    "iam:AttachRolePolicy",
    "iam:PutRolePolicy",
    "iam:AttachUserPolicy",
    "iam:PutUserPolicy",
)
#: The calls by which a principal acts as another.
EDGE_ACTIONS = (
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "sts:AssumeRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagRole",
    "iam:PassRole",
)


@dataclass(frozen=True)
class Step:
    actor: str  # ARN of the principal making the call
    call: str  # "iam:CreateAccessKey"
    target: str  # ARN the call acts on
    conditional: bool = False
    unknown_keys: tuple[str, ...] = ()
    via_service: str | None = None

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "call": self.call,
            "actor": self.actor,
            "target": self.target,
            "conditional": self.conditional,
        }
        if self.unknown_keys:
            out["undecided_condition_keys"] = list(self.unknown_keys)
        if self.via_service:
            out["via_service"] = self.via_service
        return out


@dataclass(frozen=True)
class Path:
    source: str
    steps: tuple[Step, ...]
    administrator: str  # the ARN of the administrator reached (maybe the source itself)
    administrator_conditional: bool = False  # an administrator only under conditions

    @property
    def conditional(self) -> bool:
        return self.administrator_conditional or any(s.conditional for s in self.steps)

    @property
    def via_service(self) -> bool:
        return any(s.via_service for s in self.steps)


def _step(
    actor: Node, call: str, target: str, *verdicts: Verdict, via_service: str | None = None
) -> Step:
    keys = tuple(dict.fromkeys(k for v in verdicts for k in v.unknown_keys))
    conditional = any(v.answer is Answer.CONDITIONAL for v in verdicts)
    return Step(actor.arn, call, target, conditional, keys, via_service)


def _tag_context(tags: Tags) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in tags:
        out[f"aws:ResourceTag/{key}"] = value
        out[f"iam:ResourceTag/{key}"] = value
    return out


@dataclass
class _Trust:
    text: str
    named: frozenset[str]  # principal ARNs the trust names
    account_wide: bool  # names the account (root, id) or "*"
    services: frozenset[str]
    everyone: bool = False  # "*": the engine decides whether identity permission is needed


@dataclass
class Graph:
    engine: Engine
    edges: dict[str, list[tuple[str, tuple[Step, ...]]]] = field(default_factory=dict)
    terminals: dict[str, list[Path]] = field(default_factory=dict)
    _might: dict[tuple[str, str], bool] = field(default_factory=dict)
    _trusts: dict[str, _Trust] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.account: Account = self.engine.account
        self.nodes = {n.arn: n for n in self.engine.nodes()}
        self.users: dict[str, User] = {u.arn: u for u in self.account.users}
        self.roles: dict[str, Role] = {r.arn: r for r in self.account.roles}
        self.groups = {g.name.lower(): g for g in self.account.groups}
        # A principal that is an administrator only under conditions the data cannot
        # decide (a source IP range...) is one for this purpose: a path to it is marked.
        verdicts = {a: self.engine.admin(n) for a, n in self.nodes.items()}
        self.admins = {a for a, v in verdicts.items() if v.possible}
        self.conditional_admins = {a for a, v in verdicts.items() if v.answer is Answer.CONDITIONAL}

    # ------------------------------------------------------------------- helpers

    def might(self, node: Node, action: str) -> bool:
        key = (node.arn, action)
        hit = self._might.get(key)
        if hit is None:
            hit = self._might[key] = self.engine.might(node, action)
        return hit

    def call(
        self,
        node: Node,
        action: str,
        target: str,
        tags: Tags = (),
        extra: dict[str, str] | None = None,
        free: frozenset[str] = frozenset(),
    ) -> Verdict:
        if not self.might(node, action):
            return Verdict(Answer.NO)
        context = _tag_context(tags)
        if extra:
            context.update(extra)
        return self.engine.decide(node, action, target, context, free=free)

    def admin_after(
        self,
        node: Node,
        *,
        identity: Iterable[tuple[str, str]] | None = None,
        boundary: tuple[str, str] | bool | None = True,
        free: frozenset[str] = frozenset(),
    ) -> Verdict:
        return self.engine.admin(node, identity=identity, boundary=boundary, free=free)

    def trust(self, role: Role) -> _Trust:
        hit = self._trusts.get(role.arn)
        if hit is not None:
            return hit
        named: set[str] = set()
        services: set[str] = set()
        wide = everyone = False
        try:
            policy = parse_policy(role.trust, PolicyType.TRUST)
            statements = policy.statements
        except MalformedPolicyDocument:
            statements = ()
        account = self.account.account_id
        for st in statements:
            if st.effect is not Effect.ALLOW:
                continue
            spec = st.principal
            if spec is None:
                wide = True  # NotPrincipal: leave it to the engine
                continue
            if spec.wildcard or "*" in spec.aws:
                wide = everyone = True
            for p in spec.aws:
                if p == "*" or p in (account, f"arn:aws:iam::{account}:root"):
                    wide = True
                else:
                    named.add(p)
            services.update(spec.service)
        hit = self._trusts[role.arn] = _Trust(
            role.trust, frozenset(named), wide, frozenset(services), everyone
        )
        return hit

    def assume(
        self,
        node: Node,
        role: Role,
        *,
        free: frozenset[str] = frozenset(),
        trust_text: str | None = None,
    ) -> Verdict:
        if node.arn == role.arn:
            return Verdict(Answer.NO)
        if trust_text is None:
            t = self.trust(role)
            if not self._could_assume(node, role):
                return Verdict(Answer.NO)
            trust_text = t.text
        return self.engine.decide(
            node,
            "sts:AssumeRole",
            role.arn,
            _tag_context(role.tags),
            trust=(f"{role.arn}#trust:{hash(trust_text)}", trust_text),
            free=free,
        )

    # ------------------------------------------------------------ self escalation

    def _self(self, node: Node) -> list[Path]:
        """Ways `node` makes itself (or a principal it can act as) an administrator."""
        kind = "User" if node.kind == "user" else "Role"
        if not any(self.might(node, a.replace("{kind}", kind)) for a in SELF_ACTIONS):
            return []
        steps = [
            *self._grant_admin_policy(node, kind),
            *self._restore_policy_version(node),
            *self._join_group(node),
            *self._drop_boundary(node, kind),
            *self._tag_self(node, kind),
        ]
        return [Path(node.arn, (s,), node.arn) for s in steps] + self._widen_other(node)

    def _if_possible(
        self,
        node: Node,
        action: str,
        target: str,
        after: Verdict,
        tags: Tags = (),
        extra: dict[str, str] | None = None,
    ) -> list[Step]:
        """The one step `action` on `target` (then `after`), if the caller may make it."""
        v = self.call(node, action, target, tags=tags, extra=extra)
        return [_step(node, action, target, v, after)] if v.possible else []

    def _grant_admin_policy(self, node: Node, kind: str) -> list[Step]:
        """Attach/Put an administrator policy on itself or on one of its groups, or make
        one a new default version of a customer managed policy it has."""
        grant_calls = (
            f"iam:Attach{kind}Policy",
            f"iam:Put{kind}Policy",
            "iam:AttachGroupPolicy",
            "iam:PutGroupPolicy",
            "iam:CreatePolicyVersion",
        )
        if not any(self.might(node, a) for a in grant_calls):
            return []
        after = self.admin_after(node, identity=(*node.identity, *ADMIN_GRANT))
        if not after.possible:
            return []
        admin_arn = {"iam:PolicyARN": ADMIN_POLICY_ARN}
        steps = [
            *self._if_possible(node, f"iam:Attach{kind}Policy", node.arn, after, extra=admin_arn),
            *self._if_possible(node, f"iam:Put{kind}Policy", node.arn, after),
        ]
        for name in node.groups:
            group = self.groups.get(name.lower())
            if group is not None:
                steps += self._if_possible(
                    node, "iam:AttachGroupPolicy", group.arn, after, extra=admin_arn
                )
                steps += self._if_possible(node, "iam:PutGroupPolicy", group.arn, after)
        for arn in node.attached:
            policy = self.account.policies.get(arn)
            if policy is not None and not policy.aws_managed:
                steps += self._if_possible(node, "iam:CreatePolicyVersion", arn, after)
        return steps

    def _restore_policy_version(self, node: Node) -> list[Step]:
        """iam:SetDefaultPolicyVersion to an older version of one of its customer managed
        policies that makes it an administrator."""
        steps: list[Step] = []
        for arn in node.attached:
            policy = self.account.policies.get(arn)
            if policy is None or policy.aws_managed or not policy.other_versions:
                continue
            v = self.call(node, "iam:SetDefaultPolicyVersion", arn)
            if not v.possible:
                continue
            for _version, text in policy.other_versions:
                swapped = [(pid, text if pid == arn else t) for pid, t in node.identity]
                after = self.admin_after(node, identity=swapped)
                if after.possible:
                    steps.append(_step(node, "iam:SetDefaultPolicyVersion", arn, v, after))
                    break
        return steps

    def _join_group(self, node: Node) -> list[Step]:
        """iam:AddUserToGroup of itself to the first group whose policies make it an
        administrator."""
        if node.kind != "user" or not self.might(node, "iam:AddUserToGroup"):
            return []
        mine = {g.lower() for g in node.groups}
        for group in self.account.groups:
            if group.name.lower() in mine:
                continue
            v = self.call(node, "iam:AddUserToGroup", group.arn)
            if not v.possible:
                continue
            added = [(f"{group.arn}#inline/{p.name}", p.document) for p in group.inline]
            added += [
                (a, self.account.policies[a].document)
                for a in group.attached
                if a in self.account.policies
            ]
            after = self.admin_after(node, identity=(*node.identity, *added))
            if after.possible:
                return [_step(node, "iam:AddUserToGroup", group.arn, v, after)]
        return []

    def _drop_boundary(self, node: Node, kind: str) -> list[Step]:
        """Delete its permissions boundary, or put an administrator policy as it, where
        only the boundary keeps it from being an administrator."""
        delete, put = f"iam:Delete{kind}PermissionsBoundary", f"iam:Put{kind}PermissionsBoundary"
        if node.boundary is None or not (self.might(node, delete) or self.might(node, put)):
            return []
        after = self.admin_after(node, boundary=None)
        if not after.possible:
            return []
        return [
            *self._if_possible(node, delete, node.arn, after),
            *self._if_possible(
                node, put, node.arn, after, extra={"iam:PermissionsBoundary": ADMIN_POLICY_ARN}
            ),
        ]

    def _tag_self(self, node: Node, kind: str) -> list[Step]:
        """iam:TagUser/TagRole on itself where its policies test its own tags."""
        if not self.might(node, f"iam:Tag{kind}"):
            return []
        after = self.admin_after(node, free=TAG_FREE)
        if not after.possible:
            return []
        v = self.call(node, f"iam:Tag{kind}", node.arn, tags=node.tags)
        if not v.possible:
            return []
        # The caller picks the tag values: only keys other than its tags stay open.
        rest = tuple(k for k in after.unknown_keys if not k.lower().startswith("aws:principaltag/"))
        answer = Answer.CONDITIONAL if rest else Answer.YES
        return [_step(node, f"iam:Tag{kind}", node.arn, v, Verdict(answer, rest))]

    def _widen_other(self, node: Node) -> list[Path]:
        """Attach/Put an administrator policy on a role it can assume, or on a user it can
        make an access key for, then act as it."""
        paths: list[Path] = []
        role_calls = [
            c for c in ("iam:AttachRolePolicy", "iam:PutRolePolicy") if self.might(node, c)
        ]
        if role_calls:
            for role in self.account.roles:
                if role.arn == node.arn or role.service_linked or role.arn in self.admins:
                    continue
                target = self.nodes.get(role.arn)
                if target is None or not self._could_assume(node, role):
                    continue
                grant = self._make_admin(node, target, role.tags, role_calls)
                assumed = self.assume(node, role) if grant is not None else Verdict(Answer.NO)
                if grant is not None and assumed.possible:
                    act = _step(node, "sts:AssumeRole", role.arn, assumed)
                    paths.append(Path(node.arn, (grant, act), role.arn))
        user_calls = [
            c for c in ("iam:AttachUserPolicy", "iam:PutUserPolicy") if self.might(node, c)
        ]
        if user_calls and self.might(node, "iam:CreateAccessKey"):
            for user in self.account.users:
                if user.arn == node.arn or user.arn in self.admins:
                    continue
                key = self.call(node, "iam:CreateAccessKey", user.arn, tags=user.tags)
                if not key.possible:
                    continue
                grant = self._make_admin(node, self.nodes[user.arn], user.tags, user_calls)
                if grant is not None:
                    act = _step(node, "iam:CreateAccessKey", user.arn, key)
                    paths.append(Path(node.arn, (grant, act), user.arn))
        return paths

    def _make_admin(self, node: Node, target: Node, tags: Tags, calls: list[str]) -> Step | None:
        """The first of `calls` (Attach/Put...Policy) by which `node` gives `target` an
        administrator policy."""
        for c in calls:
            extra = {"iam:PolicyARN": ADMIN_POLICY_ARN} if "Attach" in c else None
            v = self.call(node, c, target.arn, tags=tags, extra=extra)
            if not v.possible:
                continue
            after = self.admin_after(target, identity=(*target.identity, *ADMIN_GRANT))
            if after.possible:
                return _step(node, c, target.arn, v, after)
        return None

    # ---------------------------------------------------------------------- edges

    def _edges_to(self, node: Node, target: Node) -> list[tuple[Step, ...]]:
        """Ways `node` acts as `target`."""
        if target.kind == "user":
            return self._act_as_user(node, self.users[target.arn])
        role = self.roles[target.arn]
        assumed = self.assume(node, role)
        found: list[tuple[Step, ...]] = []
        if assumed.possible:
            found.append((_step(node, "sts:AssumeRole", role.arn, assumed),))
        found += self._rewrite_trust(node, role)
        if not assumed.possible:
            found += self._tag_to_assume(node, role)
        return found + self._pass_to_service(node, role)

    def _act_as_user(self, node: Node, user: User) -> list[tuple[Step, ...]]:
        """An access key for the user, or its console password (created where it has none,
        updated where it has one; both when the data does not say)."""
        cred = user.credentials
        has_password = None if cred is None else cred.password_enabled
        calls = ["iam:CreateAccessKey"]
        if has_password is not True:
            calls.append("iam:CreateLoginProfile")
        if has_password is not False:
            calls.append("iam:UpdateLoginProfile")
        found: list[tuple[Step, ...]] = []
        for call in calls:
            v = self.call(node, call, user.arn, tags=user.tags)
            if v.possible:
                found.append((_step(node, call, user.arn, v),))
        return found

    def _rewrite_trust(self, node: Node, role: Role) -> list[tuple[Step, ...]]:
        """iam:UpdateAssumeRolePolicy to a trust policy naming itself, then sts:AssumeRole."""
        v = self.call(node, "iam:UpdateAssumeRolePolicy", role.arn, tags=role.tags)
        if not v.possible:
            return []
        mine = (
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"'
            + node.arn
            + '"},"Action":"sts:AssumeRole"}]}'
        )
        assumed = self.assume(node, role, trust_text=mine)
        if not assumed.possible:
            return []
        return [
            (
                _step(node, "iam:UpdateAssumeRolePolicy", role.arn, v),
                _step(node, "sts:AssumeRole", role.arn, assumed),
            )
        ]

    def _tag_to_assume(self, node: Node, role: Role) -> list[tuple[Step, ...]]:
        """iam:TagRole where the AssumeRole decision turns on the role's tags, then
        sts:AssumeRole (the caller picks the tag values)."""
        if not self.might(node, "iam:TagRole"):
            return []
        tagged = (
            self.assume(node, role, free=RESOURCE_TAG_FREE)
            if self._could_assume(node, role)
            else Verdict(Answer.NO)
        )
        v = self.call(node, "iam:TagRole", role.arn, tags=role.tags)
        if not (tagged.possible and v.possible):
            return []
        rest = tuple(
            k
            for k in tagged.unknown_keys
            if not k.lower().startswith(("aws:resourcetag/", "iam:resourcetag/"))
        )
        assumed = Verdict(Answer.CONDITIONAL if rest else Answer.YES, rest)
        return [
            (
                _step(node, "iam:TagRole", role.arn, v),
                _step(node, "sts:AssumeRole", role.arn, assumed),
            )
        ]

    def _pass_to_service(self, node: Node, role: Role) -> list[tuple[Step, ...]]:
        """iam:PassRole of the role to the first service that runs code with it and that
        the caller may make run (a path outside IAM: marked `via_service`)."""
        if not self.might(node, "iam:PassRole"):
            return []
        for service, calls in CODE_SERVICES.items():
            if service not in self.trust(role).services or not self._service_trusted(role, service):
                continue
            passed = self.call(
                node,
                "iam:PassRole",
                role.arn,
                tags=role.tags,
                extra={"iam:PassedToService": service},
            )
            if not passed.possible:
                continue
            runs = [self.engine.decide(node, c, "*") for c in calls]
            if all(r.possible for r in runs):
                return [
                    (
                        _step(node, "iam:PassRole", role.arn, passed, via_service=service),
                        *(
                            _step(node, c, "*", r, via_service=service)
                            for c, r in zip(calls, runs, strict=True)
                        ),
                    )
                ]
        return []

    def _could_assume(self, node: Node, role: Role) -> bool:
        t = self.trust(role)
        return (
            t.everyone
            or node.arn in t.named
            or (t.account_wide and self.might(node, "sts:AssumeRole"))
        )

    def _service_trusted(self, role: Role, service: str) -> bool:
        trust = self.engine.compiler.get(f"{role.arn}#trust", role.trust, PolicyType.TRUST)
        allow_all = self.engine.compiler.get("allow-all", ALLOW_ALL, PolicyType.IDENTITY)
        if trust is None or allow_all is None:
            return False
        principal = Principal(arn=service, account="", type=PrincipalType.SERVICE, service=service)
        request = Request(principal, "sts:AssumeRole", role.arn, {})
        policies = Applicable(
            identity=(allow_all.optimistic,),
            resource=trust.optimistic,
            resource_account=self.account.account_id,
            require_resource_allow=True,
        )
        return evaluate(request, policies).allowed

    # ------------------------------------------------------------------- analysis

    def analyze(self) -> dict[str, Path]:
        """The shortest path to an administrator of every principal that has one and is
        not an administrator itself (definite paths before conditional ones)."""
        nodes = [n for a, n in self.nodes.items() if a not in self.admins]
        for node in nodes:
            found = self._self(node)
            if found:
                self.terminals[node.arn] = found
        named = {a for r in self.account.roles for a in self.trust(r).named}
        everyone = any(self.trust(r).everyone for r in self.account.roles)
        actors = [
            n
            for n in nodes
            if everyone or n.arn in named or any(self.might(n, a) for a in EDGE_ACTIONS)
        ]
        reach = set(self.admins) | set(self.terminals)
        frontier = set(reach)
        while frontier:
            new: set[str] = set()
            for node in actors:
                for arn in frontier:
                    if arn == node.arn:
                        continue
                    for steps in self._edges_to(node, self.nodes[arn]):
                        self.edges.setdefault(node.arn, []).append((arn, steps))
                        if node.arn not in reach:
                            new.add(node.arn)
            reach |= new
            frontier = new
        return {n.arn: p for n in nodes if (p := self._shortest(n.arn)) is not None}

    def _shortest(self, source: str) -> Path | None:
        def cost(steps: Iterable[Step]) -> int:
            return sum(1 + (1000 if s.conditional else 0) for s in steps)

        counter = itertools.count()
        heap: list[tuple[int, int, str, tuple[Step, ...]]] = [(0, next(counter), source, ())]
        seen: set[str] = set()
        best: tuple[int, Path] | None = None
        while heap:
            spent, _, arn, steps = heapq.heappop(heap)
            if best is not None and spent >= best[0]:
                break
            if arn in seen:
                continue
            seen.add(arn)
            if arn in self.admins and steps:
                best = (spent, Path(source, steps, arn, arn in self.conditional_admins))
                break
            for path in self.terminals.get(arn, ()):
                total = spent + cost(path.steps)
                if best is None or total < best[0]:
                    best = (total, Path(source, steps + path.steps, path.administrator))
            for target, more in self.edges.get(arn, ()):
                if target not in seen:
                    heapq.heappush(heap, (spent + cost(more), next(counter), target, steps + more))
        return None if best is None else best[1]
