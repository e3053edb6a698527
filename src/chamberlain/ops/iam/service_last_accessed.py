"""IAM's service last accessed data (Access Advisor), computed from the audit trail.

GenerateServiceLastAccessedDetails reports on a user, group, role or managed policy: the
services its policies allow (those named by their Allow statements' actions, among the
services Chamberlain serves: iam, sts, cloudtrail) and, for each, when the entities it
tracks last made an authenticated call to it (a denied call counts, as in AWS; a call
that failed authentication does not). The entities tracked are the user; the role (its
sessions); a group's members; a policy's users (directly or through groups) and roles.
ACTION_LEVEL adds IAM's actions (AWS tracks actions for IAM among these services).

The report is computed when the job is created (it is COMPLETED at once) and stored as
a job the Get operations read, so every node answers for it.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from chamberlain.domain import (
    Attachment,
    Event,
    Group,
    Membership,
    Role,
    ServiceLastAccessedJob,
    User,
    joined,
)
from chamberlain.ops.audit import records as audit
from chamberlain.ops.core.authz import (
    NamedText,
    managed_policy_text,
    principal_policies,
    user_identity_policies,
)
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import (
    find_policy,
    get_group,
    get_role,
    get_user,
    require_group,
    require_policy,
    require_role,
    require_user,
)
from chamberlain.ops.core.errors import InvalidInput, NoSuchEntity
from chamberlain.ops.core.pagination import paginate
from chamberlain.ops.core.registry import REGISTRY, Output, Params, Target, operation
from chamberlain.ops.core.tags import resource_tag_context
from chamberlain.policy import PolicyType, parse_policy
from chamberlain.policy.model import Effect
from chamberlain.store.events import (
    PRINCIPAL_ACTION,
    PRINCIPAL_SERVICE,
    principal_action,
    principal_service,
)

SERVICE_NAMES = {
    "cloudtrail": "AWS CloudTrail",
    "iam": "AWS Identity and Access Management",
    "sts": "AWS Security Token Service",
}
#: Services whose actions are tracked one by one (ACTION_LEVEL).
ACTION_TRACKED = frozenset({"iam"})
#: How long a finished job stays readable.
JOB_RETENTION = dt.timedelta(days=7)
_ENTITY_ARN_KINDS = ("user", "group", "role", "policy")
_E = TypeVar("_E", User, Role, Group)


@dataclass(frozen=True)
class _Tracked:
    arn: str
    name: str
    type: str  # USER | ROLE
    id: str
    path: str

    def info(self) -> dict[str, str]:
        return {"Arn": self.arn, "Name": self.name, "Type": self.type, "Id": self.id,
                "Path": self.path}  # fmt: skip


# ---------------------------------------------------------------------- the entity


def _parse_arn(ctx: OpContext, arn: str) -> tuple[str, str]:
    """(kind, name) of an IAM user, group, role or policy ARN; InvalidInput otherwise."""
    parts = arn.split(":", 5)
    invalid = InvalidInput(f"ARN {arn} is not valid.")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam":
        raise invalid
    kind, _, rest = parts[5].partition("/")
    if kind not in _ENTITY_ARN_KINDS or not rest or rest.endswith("/"):
        raise invalid
    if parts[4] != ctx.account_id and not (kind == "policy" and parts[4] == "aws"):
        raise NoSuchEntity(f"The entity {arn} cannot be found.")
    return kind, rest.rsplit("/", 1)[-1]


def _user(user: User) -> _Tracked:
    return _Tracked(user.arn, user.name, "USER", user.user_id, user.path)


def _role(role: Role) -> _Tracked:
    return _Tracked(role.arn, role.name, "ROLE", role.role_id, role.path)


def _members(ctx: OpContext, group: str) -> list[_Tracked]:
    prefix = joined(group.lower(), "")
    users = ctx.uow.repo(User)
    found = []
    for membership in ctx.uow.repo(Membership).list(ctx.account_id, key_prefix=prefix):
        user = users.get(ctx.account_id, membership.user_name.lower())
        if user is not None:
            found.append(_user(user))
    return found


def _same_arn(entity: _E, arn: str) -> _E:
    """The entity named by the ARN's last segment, if the ARN (path included) is its."""
    if entity.arn != arn:
        raise NoSuchEntity(f"The entity {arn} cannot be found.")
    return entity


def _subject(
    ctx: OpContext, kind: str, name: str, arn: str
) -> tuple[list[NamedText], list[_Tracked]]:
    """The policies that decide which services are listed, and the entities tracked."""
    if kind == "user":
        user = _same_arn(require_user(ctx, name), arn)
        return user_identity_policies(ctx, user.name), [_user(user)]
    if kind == "group":
        group = _same_arn(require_group(ctx, name), arn)
        return principal_policies(ctx, "group", group.name), _members(ctx, group.name)
    if kind == "role":
        role = _same_arn(require_role(ctx, name), arn)
        return principal_policies(ctx, "role", role.name), [_role(role)]
    require_policy(ctx, arn)
    text = managed_policy_text(ctx, arn)
    tracked: dict[str, _Tracked] = {}
    for attachment in ctx.uow.repo(Attachment).list(ctx.account_id, ref=arn):
        if attachment.principal_kind == "user":
            member = ctx.uow.repo(User).get(ctx.account_id, attachment.principal_name.lower())
            if member is not None:
                tracked[member.arn] = _user(member)
        elif attachment.principal_kind == "group":
            tracked.update((t.arn, t) for t in _members(ctx, attachment.principal_name))
        else:
            attached = ctx.uow.repo(Role).get(ctx.account_id, attachment.principal_name.lower())
            if attached is not None:
                tracked[attached.arn] = _role(attached)
    return ([(arn, text)] if text else []), sorted(tracked.values(), key=lambda t: t.arn)


# ------------------------------------------------------------------- what is allowed


def _split(action: str) -> tuple[str, str]:
    service, _, name = action.partition(":")
    return (service, name) if name else ("*", "*") if action == "*" else (service, "")


def _allowed(documents: Iterable[NamedText]) -> dict[str, set[str]]:
    """Per service namespace we serve, the actions (operation names we implement) that
    some Allow statement of the documents names (Action, or NotAction's complement)."""
    operations: dict[str, list[str]] = {}
    for service, name in REGISTRY:
        if service in SERVICE_NAMES:
            operations.setdefault(service, []).append(name)
    allowed: dict[str, set[str]] = {}
    for _, text in documents:
        try:
            policy = parse_policy(text, PolicyType.IDENTITY)
        except Exception:  # a stored policy was valid when stored; skip it if not now
            continue
        for statement in policy.statements:
            if statement.effect is not Effect.ALLOW:
                continue
            for service, names in operations.items():
                for name in names:
                    if _names(statement.action, statement.not_action, f"{service}:{name}"):
                        allowed.setdefault(service, set()).add(name)
    return allowed


def _matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower().replace("[", "[[]"))


def _names(actions: tuple[str, ...] | None, not_actions: tuple[str, ...] | None, a: str) -> bool:
    if actions is not None:
        return any(_matches(p, a) for p in actions)
    return not_actions is not None and not any(_matches(p, a) for p in not_actions)


# -------------------------------------------------------------------------- report


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def _latest(ctx: OpContext, attribute: tuple[str, str], until: dt.datetime) -> Event | None:
    hits = ctx.uow.events.lookup(ctx.account_id, attribute=attribute, end=until, limit=1)
    return hits[0] if hits else None


def _region(event: Event) -> str:
    return str(json.loads(event.record).get("awsRegion") or "")


def _service_report(
    ctx: OpContext,
    namespace: str,
    actions: set[str],
    tracked: list[_Tracked],
    until: dt.datetime,
    action_level: bool,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    source = audit.event_source(namespace)
    last_by_entity: dict[str, Event] = {}
    for entity in tracked:
        hit = _latest(ctx, (PRINCIPAL_SERVICE, principal_service(entity.arn, source)), until)
        if hit is not None:
            last_by_entity[entity.arn] = hit
    service: dict[str, Any] = {
        "ServiceName": SERVICE_NAMES[namespace],
        "ServiceNamespace": namespace,
        "TotalAuthenticatedEntities": len(last_by_entity),
    }
    if last_by_entity:
        arn, newest = max(last_by_entity.items(), key=lambda kv: (kv[1].event_time, kv[1].seq))
        service.update(
            LastAuthenticated=_iso(newest.event_time),
            LastAuthenticatedEntity=arn,
            LastAuthenticatedRegion=_region(newest),
        )
    if action_level and namespace in ACTION_TRACKED:
        service["TrackedActionsLastAccessed"] = [
            _action_report(ctx, source, name, list(last_by_entity), until)
            for name in sorted(actions)
        ]
    entities = []
    for entity in sorted(tracked, key=lambda t: (t.name.lower(), t.arn)):
        detail: dict[str, Any] = {"EntityInfo": entity.info()}
        if entity.arn in last_by_entity:
            detail["LastAuthenticated"] = _iso(last_by_entity[entity.arn].event_time)
        entities.append(detail)
    return service, entities


def _action_report(
    ctx: OpContext, source: str, name: str, callers: list[str], until: dt.datetime
) -> dict[str, Any]:
    """One action's last access among the entities that used the service at all."""
    best: tuple[Event, str] | None = None
    for arn in callers:
        hit = _latest(ctx, (PRINCIPAL_ACTION, principal_action(arn, source, name)), until)
        if hit is not None and (
            best is None or (hit.event_time, hit.seq) > (best[0].event_time, best[0].seq)
        ):
            best = (hit, arn)
    out: dict[str, Any] = {"ActionName": name}
    if best is not None:
        out.update(
            LastAccessedEntity=best[1],
            LastAccessedTime=_iso(best[0].event_time),
            LastAccessedRegion=_region(best[0]),
        )
    return out


def _build_report(ctx: OpContext, arn: str, granularity: str) -> dict[str, Any]:
    kind, name = _parse_arn(ctx, arn)
    documents, tracked = _subject(ctx, kind, name, arn)
    allowed = _allowed(documents)
    services, entities = [], {}
    for namespace in sorted(allowed):
        service, details = _service_report(
            ctx, namespace, allowed[namespace], tracked, ctx.now, granularity == "ACTION_LEVEL"
        )
        services.append(service)
        entities[namespace] = details
    return {"services": services, "entities": entities}


# ---------------------------------------------------------------------- operations


def _entity_target(ctx: OpContext, params: Params) -> Target:
    """The reported entity's ARN, with its tags as aws:ResourceTag/* when it exists."""
    arn = params["Arn"]
    # A malformed ARN is reported after authorization, by the operation itself.
    try:
        kind, name = _parse_arn(ctx, arn)
        entity = {"user": get_user, "group": get_group, "role": get_role}.get(kind)
        found = entity(ctx, name) if entity is not None else find_policy(ctx, arn)
    except (InvalidInput, NoSuchEntity):
        return Target(resource=arn)
    if found is None or found.arn != arn:
        return Target(resource=arn)
    tags = getattr(found, "tags", ())
    context = resource_tag_context(tags, iam_keys=kind in ("user", "role"))
    return Target(resource=arn, context=context)


def _anywhere(ctx: OpContext, params: Params) -> Target:
    return Target(resource="*")


@operation("iam", "GenerateServiceLastAccessedDetails", resource=_entity_target, read_only=False)
def generate_service_last_accessed_details(ctx: OpContext, params: Params) -> Output:
    granularity = params.get("Granularity") or "SERVICE_LEVEL"
    report = _build_report(ctx, params["Arn"], granularity)
    repo = ctx.uow.repo(ServiceLastAccessedJob)
    for old in repo.list(ctx.account_id):
        if ctx.now - old.completed > JOB_RETENTION:
            repo.delete(ctx.account_id, old.key)
    job = ServiceLastAccessedJob(
        account_id=ctx.account_id,
        job_id=str(uuid.uuid4()),
        arn=params["Arn"],
        granularity=granularity,
        created=ctx.now,
        completed=ctx.now,
        report=json.dumps(report, separators=(",", ":")),
    )
    repo.add(job)
    return {"JobId": job.job_id}


def _job(ctx: OpContext, job_id: str) -> ServiceLastAccessedJob:
    job = ctx.uow.repo(ServiceLastAccessedJob).get(ctx.account_id, job_id)
    if job is None:
        raise NoSuchEntity(f"Job with ID {job_id} not found.")
    return job


def _dates(item: Any) -> Any:
    """The stored report's ISO dates back as datetimes."""
    if isinstance(item, dict):
        return {
            k: dt.datetime.fromisoformat(v)
            if k in ("LastAuthenticated", "LastAccessedTime") and isinstance(v, str)
            else _dates(v)
            for k, v in item.items()
        }
    if isinstance(item, list):
        return [_dates(v) for v in item]
    return item


def _job_header(job: ServiceLastAccessedJob) -> dict[str, Any]:
    return {
        "JobStatus": "COMPLETED",
        "JobCreationDate": job.created,
        "JobCompletionDate": job.completed,
    }


@operation("iam", "GetServiceLastAccessedDetails", resource=_anywhere, read_only=True)
def get_service_last_accessed_details(ctx: OpContext, params: Params) -> Output:
    job = _job(ctx, params["JobId"])
    services = _dates(json.loads(job.report)["services"])
    page = paginate(
        params,
        services,
        key=lambda s: s["ServiceNamespace"],
        member="ServicesLastAccessed",
        render=lambda s: s,
    )
    return {**_job_header(job), "JobType": job.granularity, **page}


@operation("iam", "GetServiceLastAccessedDetailsWithEntities", resource=_anywhere, read_only=True)
def get_service_last_accessed_details_with_entities(ctx: OpContext, params: Params) -> Output:
    job = _job(ctx, params["JobId"])
    entities = _dates(json.loads(job.report)["entities"].get(params["ServiceNamespace"], []))
    page = paginate(
        params,
        entities,
        key=lambda e: f"{e['EntityInfo']['Name'].lower()}\x1f{e['EntityInfo']['Arn']}",
        member="EntityDetailsList",
        render=lambda e: e,
    )
    return {**_job_header(job), **page}
