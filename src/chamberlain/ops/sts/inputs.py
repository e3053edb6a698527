"""What the STS operations share: the model's limits, input checks (role ARN, session
name, source identity, durations), session policies and tags and their packed size, and
the role lookup.

Used by `ops.sts` (AssumeRole, GetFederationToken, ...), `ops.sts_saml` and
`ops.sts_web_identity`.
"""

from __future__ import annotations

import math
import re

from chamberlain.domain import Role, Tags
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import (
    InvalidParameterValue,
    MalformedPolicyDocument,
    PackedPolicyTooLarge,
    ValidationError,
)
from chamberlain.ops.core.registry import Params
from chamberlain.policy import MalformedPolicyDocument as PolicyMalformed
from chamberlain.policy import PolicyTooLarge, PolicyType, parse_policy
from chamberlain.policy.validate import SESSION_POLICY_MAX, policy_size

# ------------------------------------------------------------------------- limits

MIN_DURATION = 900
ROLE_DURATION_MODEL_MAX = 43_200  # roleDurationSecondsType
ROLE_SESSION_DEFAULT = 3_600
MAX_POLICY_ARNS = 10
#: The budget PackedPolicySize is a percentage of: the session policy text (without
#: whitespace outside strings), managed session policy ARNs and session tags (inherited
#: ones included), together. AWS packs them into an undocumented binary format; we count
#: their plain characters against the plain-text session policy quota instead.
PACKED_BUDGET = SESSION_POLICY_MAX

# The model's patterns are Java regexes, whose \w is ASCII.
ROLE_ARN = re.compile(
    r"arn:(aws[a-z-]*):iam::(\d{12}):role(/(?:[!-~]*/)?)([\w+=,.@-]{1,64})", re.ASCII
)
SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
SOURCE_IDENTITY = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
# A JSON string (kept as is) or a run of insignificant whitespace (dropped).
_JSON_STRING_OR_SPACE = re.compile(r'"(?:[^"\\]++|\\.)*+"|[ \t\n\r]+')


# ------------------------------------------------------------------------- checks


def model_bound(value: int, member: str, lo: int, hi: int) -> None:
    """The model's bounds, checked again for callers that do not come over the wire."""
    if not lo <= value <= hi:
        bound = f"greater than or equal to {lo}" if value < lo else f"less than or equal to {hi}"
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
            f"constraint: Member must have value {bound}"
        )


def find_role(ctx: OpContext, role_arn: str) -> Role | None:
    """The role `role_arn` names (its path included), or None; ValidationError when the
    ARN is not a role ARN."""
    match = ROLE_ARN.fullmatch(role_arn)
    if match is None:
        raise ValidationError("Request ARN is invalid")
    account, name = match.group(2), match.group(4)
    role = ctx.uow.repo(Role).get(account, name.lower())
    if role is None or role.arn != role_arn:
        return None
    return role


# --------------------------------------------------------- session policies and tags


def _minified(text: str) -> str:
    """A policy document without insignificant whitespace (the same JSON, smaller token)."""
    return _JSON_STRING_OR_SPACE.sub(lambda m: m.group() if m.group()[0] == '"' else "", text)


def _packed_too_large(percent: int) -> PackedPolicyTooLarge:
    return PackedPolicyTooLarge(
        f"Packed policy consumes {percent}% of allotted space, please use smaller policy."
    )


def _packed_percent(characters: int) -> int:
    return math.ceil(100 * characters / PACKED_BUDGET)


def session_policy(params: Params) -> str | None:
    """The request's inline session policy (Policy), checked and minified, or None."""
    text = params.get("Policy")
    if text is None:
        return None
    try:
        parse_policy(text, PolicyType.SESSION)
    except PolicyTooLarge:  # longer than any policy document may be
        raise _packed_too_large(_packed_percent(policy_size(text))) from None
    except PolicyMalformed as exc:
        raise MalformedPolicyDocument(exc.message) from None
    return _minified(text)


def policy_arns(params: Params) -> tuple[str, ...]:
    """The request's managed session policy ARNs (PolicyArns), without repeats."""
    raw = params.get("PolicyArns") or []
    if len(raw) > MAX_POLICY_ARNS:
        raise ValidationError(
            "1 validation error detected: Value at 'policyArns' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_POLICY_ARNS}"
        )
    arns: list[str] = []
    for item in raw:
        arn = item.get("arn")
        if not arn:
            raise ValidationError("PolicyArns entries must name an arn.")
        if arn not in arns:
            arns.append(arn)
    return tuple(arns)


def session_tags(params: Params) -> Tags:
    """The request's session tags (Tags): no `aws:` keys, no keys repeated in any case."""
    out: list[tuple[str, str]] = []
    for tag in params.get("Tags") or []:
        add_session_tag(out, tag["Key"], tag.get("Value", ""))
    return tuple(out)


def add_session_tag(tags: list[tuple[str, str]], key: str, value: str) -> None:
    """Append one session tag: no `aws:` key, no key already in `tags` in any case."""
    if key.lower().startswith("aws:"):
        raise InvalidParameterValue("The tag key 'aws:' prefix is reserved for AWS use.")
    if any(key.lower() == k.lower() for k, _ in tags):
        raise InvalidParameterValue(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive."
        )
    tags.append((key, value))


def transitive_keys(params: Params, tags: Tags) -> tuple[str, ...]:
    """The request's TransitiveTagKeys, each of which must be one of `tags`' keys."""
    keys = tuple(dict.fromkeys(params.get("TransitiveTagKeys") or ()))
    tagged = {k.lower() for k, _ in tags}
    for key in keys:
        if key.lower() not in tagged:
            raise InvalidParameterValue(
                f"The transitive tag key {key} is not one of the session tags of the request."
            )
    return keys


def packed_size(
    policy: str | None, arns: tuple[str, ...], tags: Tags, inherited: Tags = ()
) -> int | None:
    """PackedPolicySize (a percentage) when the request carries session policies or tags;
    raises PackedPolicyTooLarge over 100. `policy` is the minified text the token will
    carry; tags inherited along a role chain count too, so tokens stay small."""
    if policy is None and not arns and not tags:
        return None
    characters = (
        len(policy or "")
        + sum(len(a) for a in arns)
        + sum(len(k) + len(v) for k, v in (*inherited, *tags))
    )
    percent = _packed_percent(characters)
    if percent > 100:
        raise _packed_too_large(percent)
    return percent
