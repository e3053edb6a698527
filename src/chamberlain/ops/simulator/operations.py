"""IAM's policy simulator: SimulatePrincipalPolicy, SimulateCustomPolicy and the two
GetContextKeysFor...Policy operations.

Results follow IAM's long-standing shape: one EvaluationResult per action and resource
(EvalResourceName is the simulated resource; a resource other than "*" also gets
ResourceSpecificResults and EvalDecisionDetails), one per action with every resource
under ResourceSpecificResults when a ResourceHandlingOption scenario is given.
The simulator fills in no context of its own: a condition key no ContextEntry gives is
missing, and reported in MissingContextValues.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import InvalidInput
from chamberlain.ops.core.pagination import paginate
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.ops.core.tags import resource_tag_context
from chamberlain.ops.simulator.engine import (
    RESOURCE,
    USER,
    Simulation,
    Source,
    Verdict,
    compile_source,
    entity_boundary,
    identity_sources,
    input_sources,
    most_restrictive,
    without_excluded,
)
from chamberlain.ops.simulator.inputs import (
    caller_principal,
    context_from_entries,
    dedupe_keys,
    entity_principal,
    entity_ref,
    find_entity,
    load_entity,
    parse_entity_arn,
    parse_exclusions,
    policy_context_keys,
    resource_owner,
)
from chamberlain.policy import CompiledPolicy, PolicyType, Principal, PrincipalType

_ANY = "*"
_ACTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*:[A-Za-z0-9*?_-]+")

# ResourceHandlingOption: the EC2 scenarios and the resource types each one needs.
_EC2_BASE = ("instance", "image", "security-group", "network-interface")
SCENARIOS: dict[str, tuple[str, ...]] = {
    "EC2-VPC-InstanceStore": _EC2_BASE,
    "EC2-VPC-InstanceStore-Subnet": (*_EC2_BASE, "subnet"),
    "EC2-VPC-EBS": (*_EC2_BASE, "volume"),
    "EC2-VPC-EBS-Subnet": (*_EC2_BASE, "subnet", "volume"),
}


# ------------------------------------------------------------------------- resolvers


def _source_target(ctx: OpContext, params: Params) -> Target:
    """iam:SimulatePrincipalPolicy / GetContextKeysForPrincipalPolicy act on the user,
    group or role simulated: its real ARN when it exists, else the ARN as given."""
    arn = params["PolicySourceArn"]
    ref = parse_entity_arn(arn)
    entity = find_entity(ctx, ref) if ref is not None else None
    if entity is None:
        return Target(resource=arn)
    tags = getattr(entity, "tags", ())
    return Target(resource=entity.arn, context=resource_tag_context(tags, iam_keys=True))


def _any_target(ctx: OpContext, params: Params) -> Target:
    return Target(resource=_ANY)


# ----------------------------------------------------------------------------- inputs


def _check_actions(actions: Sequence[str], *, wildcards: bool) -> None:
    for action in actions:
        if not _ACTION.fullmatch(action) or (not wildcards and ("*" in action or "?" in action)):
            raise InvalidInput(f"Invalid action name: {action}")


def _scenario(params: Params, resources: Sequence[str]) -> str | None:
    """The ResourceHandlingOption scenario, after checking its resources are given."""
    option = params.get("ResourceHandlingOption")
    if option is None:
        return None
    name = next((s for s in SCENARIOS if s.lower() == option.lower()), None)
    if name is None:
        raise InvalidInput(
            f"Invalid ResourceHandlingOption {option}; valid values are {', '.join(SCENARIOS)}."
        )
    missing = [
        kind
        for kind in SCENARIOS[name]
        if not any(re.fullmatch(rf"arn:[^:]+:ec2:[^:]*:[^:]*:{kind}/.+", r) for r in resources)
    ]
    if missing:
        raise InvalidInput(
            f"The {name} scenario requires resources of these types: {', '.join(missing)}."
        )
    return name


def _compile_all(ctx: OpContext, sources: Sequence[Source]) -> tuple[CompiledPolicy, ...]:
    return tuple(compile_source(ctx, s, PolicyType.IDENTITY) for s in sources)


def _build(
    ctx: OpContext,
    params: Params,
    principal: Principal,
    identity: list[Source],
    boundary: Source | None,
) -> Simulation:
    """Everything both simulate operations share: compile, context, resource policy."""
    sources = list(identity)
    resource_policy = None
    text = params.get("ResourcePolicy")
    if text is not None:
        rp_source = Source("ResourcePolicy", "ResourcePolicy", RESOURCE, text)
        resource_policy = compile_source(ctx, rp_source, PolicyType.RESOURCE)
        sources.append(rp_source)
    compiled_boundary = None
    if boundary is not None:
        compiled_boundary = compile_source(ctx, boundary, PolicyType.BOUNDARY)
        sources.append(boundary)
    organizations = None
    levels = params.get("OrderedOrganizationPolicyInputList")
    if levels is not None:
        organizations = tuple(
            _compile_all(ctx, input_sources(level.get("ServiceControlPolicyInputList"), f"SCP{i}"))
            for i, level in enumerate(levels, 1)
        )
    return Simulation(
        principal=principal,
        sources=sources,
        identity=_compile_all(ctx, identity),
        context=context_from_entries(params.get("ContextEntries")),
        boundary=compiled_boundary,
        resource_policy=resource_policy,
        owner=resource_owner(params.get("ResourceOwner")),
        organizations=organizations,
    )


def _one_boundary(params: Params) -> Source | None:
    texts = params.get("PermissionsBoundaryPolicyInputList") or []
    if len(texts) > 1:
        raise InvalidInput("You can input only one permissions boundary policy.")
    found = input_sources(texts, "PermissionsBoundaryPolicyInputList")
    return found[0] if found else None


# ---------------------------------------------------------------------------- results


def _details(verdict: Verdict, *, per_resource: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if verdict.boundary_allowed is not None:
        out["PermissionsBoundaryDecisionDetail"] = {
            "AllowedByPermissionsBoundary": verdict.boundary_allowed
        }
    if verdict.organizations_allowed is not None and not per_resource:
        out["OrganizationsDecisionDetail"] = {
            "AllowedByOrganizations": verdict.organizations_allowed
        }
    return out


def _resource_result(resource: str, verdict: Verdict) -> dict[str, Any]:
    out: dict[str, Any] = {
        "EvalResourceName": resource,
        "EvalResourceDecision": verdict.decision.value,
        "MatchedStatements": verdict.matched,
    }
    if verdict.missing:
        out["MissingContextValues"] = verdict.missing
    if verdict.details is not None:
        out["EvalDecisionDetails"] = verdict.details
    out.update(_details(verdict, per_resource=True))
    return out


def _result(sim: Simulation, action: str, resource: str) -> dict[str, Any]:
    verdict = sim.verdict(action, resource)
    out: dict[str, Any] = {
        "EvalActionName": action,
        "EvalResourceName": resource,
        "EvalDecision": verdict.decision.value,
        "MatchedStatements": verdict.matched,
    }
    if resource == _ANY:
        out["MissingContextValues"] = verdict.missing
    else:
        # With named resources AWS reports missing keys per resource only.
        out["MissingContextValues"] = []
        out["EvalDecisionDetails"] = verdict.details or {}
        out["ResourceSpecificResults"] = [_resource_result(resource, verdict)]
    out.update(_details(verdict, per_resource=False))
    return out


def _scenario_result(sim: Simulation, action: str, resources: Sequence[str]) -> dict[str, Any]:
    """One result for the action over every resource of a ResourceHandlingOption
    scenario: the most restrictive decision, the statements of every resource."""
    verdicts = [(r, sim.verdict(action, r)) for r in resources]
    matched: list[dict[str, Any]] = []
    for _, v in verdicts:
        matched.extend(m for m in v.matched if m not in matched)
    out: dict[str, Any] = {
        "EvalActionName": action,
        "EvalDecision": most_restrictive(v.decision for _, v in verdicts).value,
        "MatchedStatements": matched,
        "MissingContextValues": [],
        "EvalDecisionDetails": {},
        "ResourceSpecificResults": [_resource_result(r, v) for r, v in verdicts],
    }
    boundary = [v.boundary_allowed for _, v in verdicts if v.boundary_allowed is not None]
    if boundary:
        out["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": all(boundary)}
    organizations = [v.organizations_allowed for _, v in verdicts]
    if verdicts and organizations[0] is not None:
        out["OrganizationsDecisionDetail"] = {"AllowedByOrganizations": all(organizations)}
    return out


def _simulate(sim: Simulation, params: Params) -> dict[str, Any]:
    actions: list[str] = params["ActionNames"]
    resources: list[str] = params.get("ResourceArns") or [_ANY]
    scenario = _scenario(params, resources)
    items: list[tuple[int, str, Any]]
    if scenario is not None:
        items = [(i, a, resources) for i, a in enumerate(actions)]
    else:
        pairs = [(a, r) for a in actions for r in resources]
        items = [(i, a, r) for i, (a, r) in enumerate(pairs)]

    def render(item: tuple[int, str, Any]) -> dict[str, Any]:
        _, action, target = item
        if scenario is not None:
            return _scenario_result(sim, action, target)
        return _result(sim, action, target)

    return paginate(
        params, items, key=lambda item: f"{item[0]:010d}", member="EvaluationResults", render=render
    )


# ------------------------------------------------------------------------- operations


@operation("iam", "SimulatePrincipalPolicy", resource=_source_target, read_only=True)
def simulate_principal_policy(ctx: OpContext, params: Params) -> Output:
    ref = entity_ref(params["PolicySourceArn"])
    entity = load_entity(ctx, ref)
    _check_actions(params["ActionNames"], wildcards=True)
    exclusions = parse_exclusions(params.get("PolicyExclusionList"))
    identity = without_excluded(identity_sources(ctx, entity, ref.kind), exclusions)
    identity += input_sources(params.get("PolicyInputList"), "PolicyInputList")
    boundary = _one_boundary(params)
    if boundary is None and "permission-boundary" not in exclusions.types:
        boundary = entity_boundary(ctx, entity)
    caller = params.get("CallerArn")
    if caller is not None:
        principal = caller_principal(caller)
    elif params.get("ResourcePolicy") is not None and ref.kind != USER:
        raise InvalidInput(
            "CallerArn is required when you include a ResourcePolicy and the "
            "PolicySourceArn is not the ARN of an IAM user."
        )
    else:
        principal = entity_principal(replace(ref, name=entity.name, arn=entity.arn))
    return _simulate(_build(ctx, params, principal, identity, boundary), params)


@operation("iam", "SimulateCustomPolicy", resource=_any_target, read_only=True)
def simulate_custom_policy(ctx: OpContext, params: Params) -> Output:
    _check_actions(params["ActionNames"], wildcards=False)
    identity = input_sources(params["PolicyInputList"], "PolicyInputList")
    caller = params.get("CallerArn")
    if caller is not None:
        principal = caller_principal(caller)
    elif params.get("ResourcePolicy") is not None:
        raise InvalidInput("CallerArn is required when you include a ResourcePolicy.")
    else:
        # Identity policies only: no principal element is evaluated, only the account.
        principal = Principal(
            f"arn:{ctx.services.partition}:iam::{ctx.account_id}:user/PolicySimulator",
            ctx.account_id,
            PrincipalType.USER,
        )
    return _simulate(_build(ctx, params, principal, identity, _one_boundary(params)), params)


def _context_keys(ctx: OpContext, sources: Sequence[Source]) -> Output:
    policies = [compile_source(ctx, s, PolicyType.IDENTITY).policy for s in sources]
    keys = dedupe_keys(k for p in policies for k in policy_context_keys(p))
    return {"ContextKeyNames": keys}


@operation("iam", "GetContextKeysForPrincipalPolicy", resource=_source_target, read_only=True)
def get_context_keys_for_principal_policy(ctx: OpContext, params: Params) -> Output:
    ref = entity_ref(params["PolicySourceArn"])
    entity = load_entity(ctx, ref)
    sources = identity_sources(ctx, entity, ref.kind)
    sources += input_sources(params.get("PolicyInputList"), "PolicyInputList")
    return _context_keys(ctx, sources)


@operation("iam", "GetContextKeysForCustomPolicy", resource=_any_target, read_only=True)
def get_context_keys_for_custom_policy(ctx: OpContext, params: Params) -> Output:
    return _context_keys(ctx, input_sources(params["PolicyInputList"], "PolicyInputList"))
