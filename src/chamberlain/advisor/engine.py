"""The policy engine (chamberlain.policy) asked about the read model's principals.

A request's context holds every key the advisor can fill from the data (the principal's
ARN, account, type, user name, id and tags, the time, and each call's own keys such as
iam:PolicyARN). Keys it cannot know (where the call comes from, MFA, transport, a web
identity token's claims...) are "unknown": every policy is compiled three ways, and an
answer is

- YES when the call is allowed even if every unknown-key condition goes against it
  (Allow statements that need one dropped, Deny statements that test one kept without it);
- CONDITIONAL when it is allowed only if some go its way (the opposite reading);
- NO otherwise.

Most policies have no unknown-key conditions: the three readings are then one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from chamberlain.advisor import model
from chamberlain.policy import (
    Applicable,
    CompiledPolicy,
    MalformedPolicyDocument,
    PolicySet,
    PolicySource,
    PolicyType,
    Principal,
    PrincipalType,
    Request,
    compile_policy,
    evaluate,
    parse_policy,
)
from chamberlain.policy.model import Effect, Policy, Statement
from chamberlain.policy.request import ContextValue

#: Environment keys the data cannot decide (AWS's global condition keys that describe the
#: request's origin, session or network rather than the principal or the resource).
UNKNOWN_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:SourceIp",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:VpcSourceIp",
        "aws:SourceArn",
        "aws:SourceAccount",
        "aws:SourceOrgID",
        "aws:SourceOrgPaths",
        "aws:SecureTransport",
        "aws:MultiFactorAuthPresent",
        "aws:MultiFactorAuthAge",
        "aws:UserAgent",
        "aws:Referer",
        "aws:RequestedRegion",
        "aws:TokenIssueTime",
        "aws:ViaAWSService",
        "aws:CalledVia",
        "aws:CalledViaFirst",
        "aws:CalledViaLast",
        "aws:SourceIdentity",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalIsAWSService",
        "aws:PrincipalServiceName",
        "aws:PrincipalServiceNamesList",
        "aws:FederatedProvider",
        "aws:Ec2InstanceSourceVpc",
        "aws:Ec2InstanceSourcePrivateIPv4",
        "aws:SourceIdentity",
        "sts:ExternalId",
        "sts:RoleSessionName",
        "sts:SourceIdentity",
        "sts:TransitiveTagKeys",
        "aws:RequestTag",
        "aws:TagKeys",
    )
)
#: Prefixes of keys the data cannot decide: session tags, identity providers' claims.
UNKNOWN_PREFIXES = ("aws:requesttag/", "saml:", "cognito-identity.amazonaws.com:")

ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
#: Actions a full administrator is allowed on "*": a fictional service stands for every
#: service not named, so only `*` (or a NotAction naming none of these) passes.
ADMIN_PROBES = (
    "iam:AttachUserPolicy",
    "iam:CreateUser",
    "sts:AssumeRole",
    "organizations:LeaveOrganization",
    "s3:DeleteBucket",
    "ec2:RunInstances",
    "kms:Decrypt",
    "chamberlainadvisorprobe:AnyAction",
)


class Answer(Enum):
    NO = 0
    CONDITIONAL = 1
    YES = 2


@dataclass(frozen=True)
class Verdict:
    answer: Answer
    unknown_keys: tuple[str, ...] = ()

    @property
    def possible(self) -> bool:
        return self.answer is not Answer.NO


NO = Verdict(Answer.NO)


def is_unknown(key: str, free: frozenset[str]) -> bool:
    k = key.lower()
    if k in UNKNOWN_KEYS or k.startswith(UNKNOWN_PREFIXES):
        return True
    if any(k.startswith(p) for p in free):
        return True
    service = k.split(":", 1)[0]
    return "." in service  # a web identity provider's keys (accounts.google.com:aud)


@dataclass(frozen=True)
class Variants:
    """One policy compiled three ways (the same object when it has no unknown keys)."""

    pessimistic: CompiledPolicy
    optimistic: CompiledPolicy
    unknown_keys: tuple[str, ...]


def _reading(policy: Policy, free: frozenset[str], optimistic: bool) -> Policy:
    kept: list[Statement] = []
    for st in policy.statements:
        unknown = [c for c in st.conditions if is_unknown(c.key, free)]
        if not unknown:
            kept.append(st)
            continue
        known = tuple(c for c in st.conditions if not is_unknown(c.key, free))
        allow = st.effect is Effect.ALLOW
        if allow == optimistic:  # the unknown keys go this statement's way: drop them
            kept.append(dataclasses.replace(st, conditions=known))
        # else: an Allow that needs them never applies; a Deny that needs them never denies
        elif not allow:
            continue
    return dataclasses.replace(policy, statements=tuple(kept))


@dataclass
class Compiler:
    """Parse and compile each distinct (id, text, kind) once; malformed ones are noted."""

    malformed: dict[str, str] = field(default_factory=dict)
    _cache: dict[tuple[str, str, PolicyType, frozenset[str]], Variants | None] = field(
        default_factory=dict
    )

    def get(
        self, policy_id: str, text: str, kind: PolicyType, free: frozenset[str] = frozenset()
    ) -> Variants | None:
        key = (policy_id, text, kind, free)
        if key in self._cache:
            return self._cache[key]
        try:
            parsed = parse_policy(text, kind)
        except MalformedPolicyDocument as exc:
            self.malformed[policy_id] = str(exc)
            self._cache[key] = None
            return None
        keys = sorted(
            {c.key for st in parsed.statements for c in st.conditions if is_unknown(c.key, free)}
        )
        exact = compile_policy(parsed, policy_id)
        if not keys:
            variants = Variants(exact, exact, ())
        else:
            variants = Variants(
                compile_policy(_reading(parsed, free, optimistic=False), policy_id),
                compile_policy(_reading(parsed, free, optimistic=True), policy_id),
                tuple(keys),
            )
        self._cache[key] = variants
        return variants


@dataclass(frozen=True)
class Node:
    """A principal that can make calls: an IAM user or a role (as its sessions)."""

    kind: str  # "user" | "role"
    name: str
    arn: str
    unique_id: str
    account_id: str
    tags: model.Tags
    identity: tuple[tuple[str, str], ...]  # (policy id, JSON text)
    boundary: tuple[str, str] | None  # (ARN, JSON text)
    groups: tuple[str, ...] = ()
    attached: tuple[str, ...] = ()  # managed policy ARNs, directly and through groups

    @property
    def principal(self) -> Principal:
        if self.kind == "user":
            return Principal(arn=self.arn, account=self.account_id, type=PrincipalType.USER)
        session = f"arn:aws:sts::{self.account_id}:assumed-role/{self.name}/advisor"
        return Principal(
            arn=session,
            account=self.account_id,
            type=PrincipalType.ASSUMED_ROLE,
            issuer_arn=self.arn,
        )

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Engine:
    """Decisions about one account's principals."""

    def __init__(self, account: model.Account) -> None:
        self.account = account
        self.compiler = Compiler()
        self.missing_policies: set[str] = set()
        self._groups = {g.name.lower(): g for g in account.groups}
        self._nodes: list[Node] | None = None
        self._admin: dict[tuple[str, frozenset[str]], Verdict] = {}
        self._plain_sets: dict[
            tuple[str, frozenset[str]], tuple[PolicySet, PolicySet, tuple[str, ...]] | None
        ] = {}

    # ------------------------------------------------------------------ principals

    def policy_text(self, arn: str) -> str | None:
        policy = self.account.policies.get(arn)
        if policy is None:
            self.missing_policies.add(arn)
            return None
        return policy.document

    def _managed(self, arns: Iterable[str]) -> list[tuple[str, str]]:
        out = []
        for arn in arns:
            text = self.policy_text(arn)
            if text is not None:
                out.append((arn, text))
        return out

    def user_node(self, user: model.User) -> Node:
        identity = [(f"{user.arn}#inline/{p.name}", p.document) for p in user.inline]
        identity += self._managed(user.attached)
        attached = list(user.attached)
        for name in user.groups:
            group = self._groups.get(name.lower())
            if group is None:
                continue
            identity += [(f"{group.arn}#inline/{p.name}", p.document) for p in group.inline]
            identity += self._managed(group.attached)
            attached += group.attached
        boundary = self._boundary(user.boundary)
        return Node(
            "user",
            user.name,
            user.arn,
            user.user_id,
            self.account.account_id,
            user.tags,
            tuple(identity),
            boundary,
            user.groups,
            tuple(dict.fromkeys(attached)),
        )

    def _boundary(self, arn: str | None) -> tuple[str, str] | None:
        """A permissions boundary as (ARN, text); None when there is none or its text is
        not in the data."""
        text = self.policy_text(arn) if arn else None
        return (arn, text) if arn and text is not None else None

    def role_node(self, role: model.Role) -> Node:
        identity = [(f"{role.arn}#inline/{p.name}", p.document) for p in role.inline]
        identity += self._managed(role.attached)
        boundary = self._boundary(role.boundary)
        return Node(
            "role",
            role.name,
            role.arn,
            role.role_id,
            self.account.account_id,
            role.tags,
            tuple(identity),
            boundary,
            (),
            role.attached,
        )

    def nodes(self) -> list[Node]:
        if self._nodes is None:
            self._nodes = [self.user_node(u) for u in self.account.users]
            self._nodes += [self.role_node(r) for r in self.account.roles if not r.service_linked]
        return self._nodes

    # --------------------------------------------------------------------- context

    def context(self, node: Node, tags: model.Tags | None = None) -> dict[str, ContextValue]:
        now = self.account.now
        ctx: dict[str, ContextValue] = {
            "aws:CurrentTime": _iso(now),
            "aws:EpochTime": int(now.timestamp()),
            "aws:PrincipalArn": node.arn,
            "aws:PrincipalAccount": node.account_id,
            "aws:PrincipalType": "User" if node.kind == "user" else "AssumedRole",
            "aws:userid": node.unique_id if node.kind == "user" else f"{node.unique_id}:advisor",
        }
        if node.kind == "user":
            ctx["aws:username"] = node.name
        for key, value in node.tags if tags is None else tags:
            ctx[f"aws:PrincipalTag/{key}"] = value
        return ctx

    # ---------------------------------------------------------------------- decide

    def _sets(
        self,
        identity: Iterable[tuple[str, str]],
        boundary: tuple[str, str] | None,
        free: frozenset[str],
        trust: tuple[str, str] | None = None,
    ) -> tuple[PolicySet, PolicySet, tuple[str, ...]] | None:
        pess: list[CompiledPolicy] = []
        opt: list[CompiledPolicy] = []
        keys: list[str] = []
        for policy_id, text in identity:
            v = self.compiler.get(policy_id, text, PolicyType.IDENTITY, free)
            if v is not None:
                pess.append(v.pessimistic)
                opt.append(v.optimistic)
                keys += v.unknown_keys
        b = None
        if boundary is not None:
            b = self.compiler.get(boundary[0], boundary[1], PolicyType.BOUNDARY, free)
            if b is None:  # an unreadable boundary: AWS would allow nothing through it
                return None
            keys += b.unknown_keys
        t = None
        if trust is not None:
            t = self.compiler.get(trust[0], trust[1], PolicyType.TRUST, free)
            if t is None:
                return None
            keys += t.unknown_keys
        account = self.account.account_id

        def build(pick: str) -> PolicySet:
            return Applicable(
                identity=tuple(pess if pick == "p" else opt),
                boundary=None
                if b is None
                else getattr(b, "pessimistic" if pick == "p" else "optimistic"),
                resource=None
                if t is None
                else getattr(t, "pessimistic" if pick == "p" else "optimistic"),
                resource_account=account if t is not None else None,
                require_resource_allow=t is not None,
            )

        return build("p"), build("o"), tuple(dict.fromkeys(keys))

    def decide(
        self,
        node: Node,
        action: str,
        resource: str,
        extra: Mapping[str, ContextValue] | None = None,
        *,
        identity: Iterable[tuple[str, str]] | None = None,
        boundary: tuple[str, str] | bool | None = True,
        trust: tuple[str, str] | None = None,
        tags: model.Tags | None = None,
        free: frozenset[str] = frozenset(),
        principal: Principal | None = None,
    ) -> Verdict:
        """May `node` (or `principal`) do `action` on `resource`? `identity` and `boundary`
        replace the node's own (boundary=True: the node's; None/False: none)."""
        sets = self._node_sets(node, identity, boundary, trust, free)
        if sets is None:
            return NO
        pess, opt, keys = sets
        context = self.context(node, tags)
        if extra:
            context.update(extra)
        request = Request(principal or node.principal, action, resource, context)
        if evaluate(request, pess).allowed:
            return Verdict(Answer.YES)
        if keys and evaluate(request, opt).allowed:
            return Verdict(Answer.CONDITIONAL, keys)
        return NO

    def _node_sets(
        self,
        node: Node,
        identity: Iterable[tuple[str, str]] | None,
        boundary: tuple[str, str] | bool | None,
        trust: tuple[str, str] | None,
        free: frozenset[str],
    ) -> tuple[PolicySet, PolicySet, tuple[str, ...]] | None:
        """The node's policy sets (its own ones built once: the engine indexes a set by
        action the first time it sees it, so reusing it is what makes decisions cheap)."""
        plain = identity is None and boundary is True and trust is None
        if plain:
            key = (node.arn, free)
            if key in self._plain_sets:
                return self._plain_sets[key]
        chosen_boundary = node.boundary if boundary is True else (boundary or None)
        sets = self._sets(
            node.identity if identity is None else identity,
            chosen_boundary if isinstance(chosen_boundary, tuple) else None,
            free,
            trust,
        )
        if plain:
            self._plain_sets[(node.arn, free)] = sets
        return sets

    def granted_by(
        self, node: Node, action: str, resource: str, extra: Mapping[str, ContextValue]
    ) -> list[str]:
        """The ids of the identity policies whose Allow statements let the node do this
        (read optimistically: the statements an undecided condition may let through)."""
        sets = self._node_sets(node, None, True, None, frozenset())
        if sets is None:
            return []
        context = self.context(node)
        context.update(extra)
        decision = evaluate(
            Request(node.principal, action, resource, context), sets[1], explain=True
        )
        return list(
            dict.fromkeys(
                m.policy_id
                for m in decision.matched
                if m.source is PolicySource.IDENTITY and m.effect == "Allow"
            )
        )

    def might(self, node: Node, action: str) -> bool:
        """Cheap pre-check: does some identity Allow statement name the action?"""
        lowered = action.lower()
        for policy_id, text in node.identity:
            v = self.compiler.get(policy_id, text, PolicyType.IDENTITY)
            if v is not None and v.optimistic.for_action(lowered)[1]:
                return True
        return False

    def admin(
        self,
        node: Node,
        *,
        identity: Iterable[tuple[str, str]] | None = None,
        boundary: tuple[str, str] | bool | None = True,
        tags: model.Tags | None = None,
        free: frozenset[str] = frozenset(),
    ) -> Verdict:
        """Is the node a full administrator (allowed every probe action on "*")?"""
        plain = identity is None and boundary is True and tags is None
        if plain and (node.arn, free) in self._admin:
            return self._admin[(node.arn, free)]
        sets = self._node_sets(node, identity, boundary, None, free)
        worst = Answer.YES
        keys: tuple[str, ...] = ()
        if sets is None:
            worst = Answer.NO
        else:
            pess, opt, keys = sets
            context = self.context(node, tags)
            principal = node.principal
            for action in ADMIN_PROBES:
                request = Request(principal, action, "*", context)
                if evaluate(request, pess).allowed:
                    continue
                if keys and evaluate(request, opt).allowed:
                    worst = Answer.CONDITIONAL
                    continue
                worst = Answer.NO
                break
        verdict = Verdict(worst, tuple(dict.fromkeys(keys)) if worst is Answer.CONDITIONAL else ())
        if plain:
            self._admin[(node.arn, free)] = verdict
        return verdict

    def policy_is_admin(self, policy_id: str, text: str) -> bool:
        """Does this one policy allow every probe action on "*" (conditions aside)?"""
        v = self.compiler.get(policy_id, text, PolicyType.IDENTITY, frozenset({""}))
        if v is None:
            return False
        probe = Principal(
            arn=f"arn:aws:iam::{self.account.account_id}:user/advisor-probe",
            account=self.account.account_id,
        )
        policies: PolicySet = Applicable(identity=(v.optimistic,))
        return all(
            evaluate(Request(probe, action, "*", {}), policies).allowed for action in ADMIN_PROBES
        )
