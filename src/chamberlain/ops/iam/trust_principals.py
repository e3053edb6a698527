"""A role trust policy's user and role principals, bound to the entities they name.

IAM turns a user or role ARN in a trust policy into that entity's unique ID when the
policy is saved (IAM User Guide, "IAM JSON policy elements: Principal"):
- an ARN that names no existing user or role is refused: MalformedPolicyDocument
  "Invalid principal in policy";
- a user or role deleted and recreated under the same name is a different principal,
  which the policy no longer trusts; the policy then shows the old unique ID where the
  ARN was;
- a renamed user is still trusted, and the policy shows its new ARN.

We keep the document as written plus (ARN, unique ID) pairs taken at save time, and
work out the document as IAM would show it (`trust_text`) whenever it is read or
evaluated: each pair's entity is looked up by its unique ID.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from chamberlain.domain import Role, User
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import MalformedPolicyDocument
from chamberlain.policy import MalformedPolicyDocument as PolicyMalformed
from chamberlain.policy import Policy
from chamberlain.policy.validate import invalid_principal

Binding = tuple[tuple[str, str], ...]

_ENTITY_ARN = re.compile(r"arn:[a-z-]+:iam::(\d{12}):(user|role)/(?:.*/)?([^/]+)")
_KINDS: dict[str, type[User] | type[Role]] = {"user": User, "role": Role}


def _unique_id(entity: User | Role) -> str:
    return entity.user_id if isinstance(entity, User) else entity.role_id


def _entity_arns(policy: Policy) -> list[str]:
    arns: dict[str, None] = {}
    for st in policy.statements:
        for spec in (st.principal, st.not_principal):
            if spec is not None:
                arns.update((a, None) for a in spec.aws if _ENTITY_ARN.fullmatch(a))
    return list(arns)


def bind(ctx: OpContext, policy: Policy) -> Binding:
    """(ARN, unique ID) for each user or role ARN the parsed trust policy names;
    MalformedPolicyDocument for one that names no existing entity."""
    pairs: list[tuple[str, str]] = []
    for arn in _entity_arns(policy):
        match = _ENTITY_ARN.fullmatch(arn)
        assert match is not None
        account, kind, name = match.groups()
        entity = ctx.uow.repo(_KINDS[kind]).get(account, name.lower())
        if entity is None or entity.arn != arn:
            try:
                invalid_principal("AWS", arn)
            except PolicyMalformed as exc:
                raise MalformedPolicyDocument(exc.message) from None
        pairs.append((arn, _unique_id(entity)))
    return tuple(pairs)


def _current_arn(ctx: OpContext, arn: str, unique_id: str) -> str | None:
    match = _ENTITY_ARN.fullmatch(arn)
    if match is None:
        return None
    account, kind = match.group(1), match.group(2)
    found = ctx.uow.repo(_KINDS[kind]).list(account, ref=unique_id)
    return found[0].arn if found else None


def _principal_specs(document: Any) -> Iterator[dict[str, Any]]:
    """The Principal and NotPrincipal objects of a policy document's statements."""
    statements = document.get("Statement") if isinstance(document, dict) else None
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, dict):
            continue
        for element in ("Principal", "NotPrincipal"):
            spec = st.get(element)
            if isinstance(spec, dict):
                yield spec


def _rewrite(document: Any, changes: dict[str, str]) -> None:
    for spec in _principal_specs(document):
        if "AWS" in spec:
            aws = spec["AWS"]
            if isinstance(aws, str):
                spec["AWS"] = changes.get(aws, aws)
            elif isinstance(aws, list):
                spec["AWS"] = [changes.get(a, a) if isinstance(a, str) else a for a in aws]


def trust_text(ctx: OpContext, role: Role) -> str:
    """The role's trust policy as IAM shows and evaluates it now: a bound principal that
    was deleted (or deleted and recreated) appears as its old unique ID, a renamed one
    under its new ARN. The written text when nothing changed."""
    changes: dict[str, str] = {}
    for arn, unique_id in role.trust_principals:
        current = _current_arn(ctx, arn, unique_id)
        if current != arn:
            changes[arn] = current or unique_id
    if not changes:
        return role.assume_role_policy
    document = json.loads(role.assume_role_policy)
    _rewrite(document, changes)
    return json.dumps(document)


_UNIQUE_ID = re.compile(r"(AIDA|AROA)[A-Z0-9]{12,124}")


def _aws_principals(document: Any) -> list[str]:
    found: list[str] = []
    for spec in _principal_specs(document):
        aws = spec.get("AWS")
        found.extend(a for a in (aws if isinstance(aws, list) else [aws]) if isinstance(a, str))
    return found


def evaluated_text(ctx: OpContext, role: Role) -> str:
    """The trust policy as AssumeRole* evaluates it: `trust_text`, with each user or role
    unique ID (AIDA..., AROA...) that an existing user or role holds read as that
    entity's ARN, so the policy trusts the entity holding the ID (IAM User Guide, "IAM
    JSON policy elements: Principal"; an ID no entity holds still matches no one)."""
    text = trust_text(ctx, role)
    if "AIDA" not in text and "AROA" not in text:
        return text
    document = json.loads(text)
    changes: dict[str, str] = {}
    for value in _aws_principals(document):
        match = _UNIQUE_ID.fullmatch(value)
        if match is None or value in changes:
            continue
        kind: type[User] | type[Role] = User if match.group(1) == "AIDA" else Role
        holders: list[User | Role] = list(ctx.uow.repo(kind).find_by_ref(value))
        if holders:
            changes[value] = holders[0].arn
    if not changes:
        return text
    _rewrite(document, changes)
    return json.dumps(document)


def as_shown(ctx: OpContext, role: Role) -> Role:
    """The role with its trust policy as IAM shows it (see trust_text)."""
    if not role.trust_principals:
        return role
    return replace(role, assume_role_policy=trust_text(ctx, role))
