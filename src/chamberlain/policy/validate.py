"""What a parsed policy means for its kind: AWS's validation rules, with AWS's messages.

`validate_policy` checks a `model.Policy` (built by `parse.parse_policy`, which has
already checked the document's shape) against the rules IAM applies when a policy is
saved: Version, Effect, Action/Resource/Principal presence per kind of policy, the format
of actions, resources, principals and condition operators/keys/values, and Sids.

Each error's `message` is AWS's own text, exactly what IAM answers (e.g. "Syntax errors
in policy.", "Policy document should not specify a principal.", 'Resource X must be in
ARN format or "*".'); its `detail` says where and why (statement, element, value), for
an editor or the log. Values echoed back are truncated.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import NoReturn

from .errors import MalformedPolicyDocument, PolicyTooLarge
from .model import (
    ConditionClause,
    ConditionValue,
    Effect,
    Policy,
    PolicyType,
    PrincipalSpec,
    Statement,
)

# AWS's default size quotas, in characters other than whitespace (IAM and AWS STS quotas).
MANAGED_POLICY_MAX = 6144
INLINE_USER_MAX = 2048  # aggregate of a user's inline policies
INLINE_GROUP_MAX = 5120  # aggregate of a group's inline policies
INLINE_ROLE_MAX = 10240  # aggregate of a role's inline policies
TRUST_POLICY_MAX = 2048  # a role's trust policy (ACLSizePerRole)
SESSION_POLICY_MAX = 2048  # an inline session policy passed to STS

VERSIONS = ("2012-10-17", "2008-10-17")

# AWS's message texts.
SYNTAX_ERRORS = "Syntax errors in policy."
FAILED_LEGACY_PARSING = "The policy failed legacy parsing"
NO_PRINCIPAL_ALLOWED = "Policy document should not specify a principal."
MISSING_PRINCIPAL = "Missing required field Principal"
PROHIBITED_RESOURCE = "Has prohibited field Resource."
PROHIBITED_NOT_PRINCIPAL = "Has prohibited field NotPrincipal."
MUST_CONTAIN_ACTIONS = "Policy statement must contain actions."
MUST_CONTAIN_RESOURCES = "Policy statement must contain resources."
UNIQUE_SIDS = "Statement IDs (SID) in a single policy must be unique."
ALNUM_SIDS = (
    "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the "
    "regular expression [0-9A-Za-z]*"
)
NEEDS_VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
ONE_COLON = "Actions/Condition can contain only one colon."
VENDOR_WILDCARD = "Action vendors (e.g., aws, ec2, etc.) must not contain wildcards"
TRUST_ACTIONS = (
    "Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML,  "
    "and sts:AssumeRoleWithWebIdentity"
)
CURRENT_VERSION_REQUIRED = "Policy document must be version 2012-10-17 or greater."

_EXCERPT_MAX = 64


def excerpt(value: object) -> str:
    """`value` quoted for a message, cut short so a huge input is never echoed whole."""
    text = str(value)
    if len(text) > _EXCERPT_MAX:
        text = text[: _EXCERPT_MAX - 3] + "..."
    return f'"{text}"'


def _fail(message: str, detail: str | None = None) -> NoReturn:
    raise MalformedPolicyDocument(message, detail)


def _syntax(detail: str) -> NoReturn:
    raise MalformedPolicyDocument(SYNTAX_ERRORS, detail)


# -- size -----------------------------------------------------------------------------


def policy_size(document: str) -> int:
    """A document's size as AWS counts it against its quotas: whitespace is not counted."""
    return len(document) - sum(document.count(c) for c in " \t\n\r")


def check_size(document: str, limit: int) -> None:
    """Raise PolicyTooLarge (IAM's LimitExceeded) when `document` is over `limit`."""
    if policy_size(document) > limit:
        raise PolicyTooLarge(f"Cannot exceed quota for PolicySize: {limit}")


def require_current_version(policy: Policy) -> None:
    """IAM's CreatePolicy/CreatePolicyVersion also demand Version 2012-10-17."""
    if policy.version != "2012-10-17":
        _fail(CURRENT_VERSION_REQUIRED)


# -- the policy -----------------------------------------------------------------------


def validate_policy(
    policy: Policy,
    kind: PolicyType,
    *,
    current_version: bool = False,
    legacy: Sequence[str] = (),
) -> None:
    """Raise MalformedPolicyDocument unless `policy` is a valid policy of `kind`.

    A document with several faults gets the error IAM reports first, so the checks run
    over the whole document in IAM's order: syntax; the Version CreatePolicy demands
    (`current_version`); AWS's legacy parser (malformed dates, short ARNs with an empty
    field, and `legacy`, what the parser found, e.g. an Effect in the wrong case); Sids;
    principals; that actions are present; resource formats; action formats; that
    resources are present (tests/cases/validate_order.yaml).
    """
    kind = PolicyType(kind)
    statements = policy.statements
    if policy.version is not None and policy.version not in VERSIONS:
        _syntax(f"Version {excerpt(policy.version)} is not one of {', '.join(VERSIONS)}.")
    if not statements:
        _syntax("The policy has no statements.")
    for st in statements:
        _check_statement_syntax(st)
    if current_version:
        require_current_version(policy)
    if legacy:
        _fail(FAILED_LEGACY_PARSING, legacy[0])
    for st in statements:
        _check_legacy(st)
    _check_sids(statements, kind)
    for st in statements:
        _check_principal_rules(st, kind, f"Statement {st.index}")
    for st in statements:
        if not (st.action if st.action is not None else st.not_action):
            _fail(MUST_CONTAIN_ACTIONS, f"Statement {st.index} names no action.")
    # IAM checks the formats of the resources a statement names before the actions',
    # and only then that every statement names a resource.
    for st in statements:
        _check_resource_formats(st)
    for st in statements:
        _check_actions(st, kind, f"Statement {st.index}")
    for st in statements:
        _check_resources(st, kind)


def _check_statement_syntax(st: Statement) -> None:
    where = f"Statement {st.index}"
    if not isinstance(st.effect, Effect):
        _syntax(f'{where}: Effect must be "Allow" or "Deny".')
    _check_element_pairs(st, where)
    for clause in st.conditions:
        _check_clause_syntax(clause, where)


def _check_legacy(st: Statement) -> None:
    where = f"Statement {st.index}"
    for clause in st.conditions:
        _check_clause_dates(clause, where)
    for resource in (st.resource if st.resource is not None else st.not_resource) or ():
        if _fails_legacy_parsing(resource):
            _fail(
                FAILED_LEGACY_PARSING,
                f"{where}: resource {excerpt(resource)} has an empty field and fewer than "
                "six fields.",
            )


_IAM_SID = re.compile(r"[0-9A-Za-z]*")


def _check_sids(statements: Iterable[Statement], kind: PolicyType) -> None:
    seen: set[str] = set()
    for statement in statements:
        sid = statement.sid
        if sid is None:
            continue
        # IAM's own documents take [0-9A-Za-z]*; services' resource policies (S3, KMS,
        # SNS, ...) also take spaces and punctuation.
        if kind is not PolicyType.RESOURCE and not _IAM_SID.fullmatch(sid):
            _fail(ALNUM_SIDS, f"Statement {statement.index}: Sid {excerpt(sid)}.")
        if sid and sid in seen:  # "" is what generators write for "no Sid": not unique
            _fail(UNIQUE_SIDS, f"Sid {excerpt(sid)} is used twice.")
        seen.add(sid)


def _check_element_pairs(st: Statement, where: str) -> None:
    if st.action is not None and st.not_action is not None:
        _syntax(f"{where} has both Action and NotAction.")
    if st.resource is not None and st.not_resource is not None:
        _syntax(f"{where} has both Resource and NotResource.")
    if st.principal is not None and st.not_principal is not None:
        _syntax(f"{where} has both Principal and NotPrincipal.")


# -- principals -----------------------------------------------------------------------

_PARTITIONS = r"aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc"
_ACCOUNT = re.compile(r"[0-9]{12}")
# A user's or role's unique ID: IAM shows one where a trust policy named a user or role
# that was deleted since (it matches no caller).
_UNIQUE_ID = re.compile(r"A(?:IDA|ROA)[A-Z0-9]{12,124}")
_AWS_PRINCIPAL_ARN = re.compile(
    rf"arn:(?:{_PARTITIONS}):(?:iam::[0-9]{{12}}:(?:root|user/.+|role/.+)"
    rf"|sts::[0-9]{{12}}:(?:assumed-role/[^/]+/.+|federated-user/.+))"
)
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+", re.I)
_PROVIDER_ARN = re.compile(
    rf"arn:(?:{_PARTITIONS}):iam::[0-9]{{12}}:(?:saml-provider|oidc-provider)/.+"
)
_CANONICAL_USER = re.compile(r"[0-9a-f]{64}", re.I)


def invalid_principal(kind: str | None, value: str | None) -> NoReturn:
    """AWS's 'Invalid principal in policy' with the offending entry, truncated."""
    if kind is None:
        _fail(f"Invalid principal in policy: {excerpt(value)}")
    if value is None:
        _fail(f"Invalid principal in policy: {excerpt(kind)}")
    _fail(f"Invalid principal in policy: {excerpt(kind)}:{excerpt(value)}")


def _check_principal_rules(st: Statement, kind: PolicyType, where: str) -> None:
    has_principal = st.principal is not None or st.not_principal is not None
    if kind in (PolicyType.IDENTITY, PolicyType.BOUNDARY, PolicyType.SESSION):
        if has_principal:
            _fail(NO_PRINCIPAL_ALLOWED)
        return
    if kind is PolicyType.TRUST:
        if st.not_principal is not None:
            _fail(
                PROHIBITED_NOT_PRINCIPAL, f"{where}: a trust policy names a Principal."
            )
        if st.principal is None:
            _fail(MISSING_PRINCIPAL)
    elif not has_principal:
        _fail(MISSING_PRINCIPAL)
    for spec in (st.principal, st.not_principal):
        if spec is not None:
            _check_principal_spec(spec, kind)


def _has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def _check_principal_spec(spec: PrincipalSpec, kind: PolicyType) -> None:
    if spec.wildcard:
        return
    if not (spec.aws or spec.service or spec.federated or spec.canonical_user):
        _fail("Invalid principal in policy: the principal names no one.")
    for value in spec.aws:
        if value == "*":
            continue
        if _has_wildcard(value) or not (
            _ACCOUNT.fullmatch(value)
            or _AWS_PRINCIPAL_ARN.fullmatch(value)
            or _UNIQUE_ID.fullmatch(value)
        ):
            invalid_principal("AWS", value)
    for value in spec.service:
        if not _DOMAIN.fullmatch(value):
            invalid_principal("Service", value)
    for value in spec.federated:
        if _has_wildcard(value) or not (_DOMAIN.fullmatch(value) or _PROVIDER_ARN.fullmatch(value)):
            invalid_principal("Federated", value)
    for value in spec.canonical_user:
        # A role is assumed by IAM principals, services and federated users only.
        if kind is PolicyType.TRUST or not _CANONICAL_USER.fullmatch(value):
            invalid_principal("CanonicalUser", value)


# -- actions --------------------------------------------------------------------------

_VENDOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")
# What AWS lets a role's trust policy grant (the actions a principal takes *on* a role).
TRUST_POLICY_ACTIONS = (
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:TagSession",
    "sts:SetSourceIdentity",
    "sts:SetContext",
)


def glob_match(pattern: str, text: str) -> bool:
    """Case-insensitive whole-string match with `*` (any run) and `?` (one character).

    Greedy two-pointer matching, backtracking only to the last `*`: O(len(pattern) *
    len(text)) at worst, where a regex built from a pattern of many stars could take
    exponential time.
    """
    pattern, text = pattern.lower(), text.lower()
    p = t = 0
    star = -1
    resume = 0
    while t < len(text):
        if p < len(pattern) and pattern[p] in ("?", text[t]):
            p += 1
            t += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, resume = p, t
            p += 1
        elif star >= 0:
            p = star + 1
            resume += 1
            t = resume
        else:
            return False
    return all(ch == "*" for ch in pattern[p:])


def check_action(action: str) -> None:
    """An action is "*" or "vendor:anything-but-a-colon" (AWS's messages for each way it
    is not)."""
    if action == "*":
        return
    vendor, colon, name = action.partition(":")
    if not colon or not vendor:
        _fail(NEEDS_VENDOR, f"Action {excerpt(action)} has no vendor prefix.")
    if ":" in name:
        _fail(ONE_COLON, f"Action {excerpt(action)} has more than one colon.")
    if _has_wildcard(vendor):
        _fail(VENDOR_WILDCARD, f"Action {excerpt(action)} has a wildcard in its vendor.")
    if not _VENDOR.fullmatch(vendor):
        _fail(f"Vendor {vendor[:_EXCERPT_MAX]} is not valid")
    # AWS takes any text after the vendor (even "iam: a b "): it just matches no action.


def _trust_action_allowed(action: str) -> bool:
    return any(glob_match(action, allowed) for allowed in TRUST_POLICY_ACTIONS)


def _check_actions(st: Statement, kind: PolicyType, where: str) -> None:
    actions = (st.action if st.action is not None else st.not_action) or ()
    for action in actions:
        check_action(action)
    if kind is PolicyType.TRUST:
        if st.not_action is not None:
            _fail(TRUST_ACTIONS, f"{where} uses NotAction.")
        for action in actions:
            if not _trust_action_allowed(action):
                _fail(
                    TRUST_ACTIONS,
                    f"{where} names {excerpt(action)}; a trust policy grants "
                    f"{', '.join(TRUST_POLICY_ACTIONS)}.",
                )


# -- resources ------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{[^}]*\}")
_PARTITION = re.compile(rf"(?:{_PARTITIONS}|\*|\$)")
_SERVICE = re.compile(r"[a-z0-9$][a-z0-9$.-]*", re.I)


# The resource types an IAM ARN's path may start with, in the order AWS's message lists them.
IAM_RESOURCE_TYPES = (
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
)
IAM_RESOURCE_PATH = (
    'IAM resource path must either be "*" or start with ' + ", ".join(IAM_RESOURCE_TYPES) + "."
)
# Resource types IAM added after that message was written, which it authorizes by ARN
# (CreateDelegationRequest and the other delegation operations), and role templates,
# which AWS's own managed policies name (AWSCloudWatchOmniServiceRolePolicy and others).
IAM_NEWER_RESOURCE_TYPES = ("delegation-request/", "role-template/")
VENDOR_QUALIFIED = "Resource vendor must be fully qualified and cannot contain regexes."


def _not_arn(resource: str) -> NoReturn:
    _fail(f'Resource {excerpt(resource)[1:-1]} must be in ARN format or "*".')


def _as_arn(resource: str) -> str:
    """The resource as AWS echoes it in its Partition message: "arn:" and the partition,
    then the remaining fields, "*" for each one missing ("a:b" -> "arn:b:*:*:*:*")."""
    _, _, rest = resource.partition(":")
    partition, _, rest = rest.partition(":")
    fields = rest.split(":", 3) if rest else ["*"]
    fields += ["*"] * (4 - len(fields))
    return ":".join(["arn", partition, *fields])


def _fails_legacy_parsing(resource: str) -> bool:
    """An "arn:partition:..." resource AWS's legacy parser refuses: no service, or fewer
    than six fields one of which is empty ("arn:aws:s3::bucket")."""
    segments = _VARIABLE.sub("$", resource).split(":", 5)
    if len(segments) < 3 or segments[0] != "arn" or not _PARTITION.fullmatch(segments[1]):
        return False  # refused later, in other words
    return not segments[2] or (len(segments) < 6 and "" in segments)


def check_resource(resource: str) -> None:
    """A resource is "*" or an ARN pattern "arn:partition:service:region:account:rest",
    refused in AWS's words for each way it is not (IAM's answers to CreatePolicy).

    Wildcards and policy variables may appear anywhere. AWS takes a pattern with fewer
    than six fields ("arn:aws:s3:*", even "arn:aws:anything") unless one of its fields is
    empty ("arn:aws:s3::bucket": "The policy failed legacy parsing"). IAM and S3 ARNs
    have no region, and an IAM ARN's path starts with one of IAM's resource types.
    """
    if resource == "*":
        return
    # A policy variable ("${aws:username}") may hold colons: stand it in with "$".
    shape = _VARIABLE.sub("$", resource)
    segments = shape.split(":", 5)
    if len(segments) < 2:
        _not_arn(resource)
    if not _PARTITION.fullmatch(segments[1]):
        _fail(
            f"Partition {excerpt(segments[1])} is not valid for resource "
            f"{excerpt(_as_arn(resource))}."
        )
    if segments[0] != "arn":
        _not_arn(resource)
    if len(segments) == 2:
        _fail(VENDOR_QUALIFIED, f"Resource {excerpt(resource)} names no service.")
    service = segments[2]
    if _fails_legacy_parsing(resource):
        _fail(
            FAILED_LEGACY_PARSING,
            f"Resource {excerpt(resource)} has an empty field and fewer than six fields.",
        )
    # "arn:aws:*" (every resource of the partition) is the one wildcard vendor accepted.
    if not _SERVICE.fullmatch(service) and segments[2:] != ["*"]:
        _fail(VENDOR_QUALIFIED, f"Resource {excerpt(resource)}: vendor {excerpt(service)}.")
    # IAM ARNs and S3 bucket and object ARNs have an empty region field
    # ("arn:aws:s3:::bucket"); one that is filled, or missing from a short ARN
    # ("arn:aws:s3:*"), is region information. S3 resources that belong to an account
    # (access points, Batch Operations jobs, Storage Lens: "arn:aws:s3:REGION:ACCOUNT:...")
    # do have a region, as AWS's own managed policies show.
    has_region = len(segments) < 4 or segments[3] != ""
    if service == "iam" and has_region:
        _fail(f"IAM resource {excerpt(resource)[1:-1]} cannot contain region information.")
    s3_bucket_or_object = len(segments) < 5 or segments[4] == ""
    if service == "s3" and has_region and s3_bucket_or_object:
        _fail(f"Resource {excerpt(resource)[1:-1]} can not contain region information.")
    if service == "iam" and len(segments) == 6:
        path = segments[5]
        # "arn:aws:iam::ACCOUNT:root" names the root user (AWS's IAMAuditRootUserCredentials).
        types = IAM_RESOURCE_TYPES + IAM_NEWER_RESOURCE_TYPES
        known = path in ("*", "root") or path.startswith(types)
        if not known:
            _fail(IAM_RESOURCE_PATH, f"Resource {excerpt(resource)}: path {excerpt(path)}.")


def _check_resources(st: Statement, kind: PolicyType) -> None:
    resources = st.resource if st.resource is not None else st.not_resource
    if kind is PolicyType.TRUST:
        if resources is not None:
            prohibited = "Resource" if st.resource is not None else "NotResource"
            _fail(PROHIBITED_RESOURCE.replace("Resource", prohibited))
        return
    if resources is None:
        # Resource policies of some services (ECR repositories, for one) leave the
        # resource implicit; IAM's own policies must name it.
        if kind is PolicyType.RESOURCE:
            return
        _fail(MUST_CONTAIN_RESOURCES, f"Statement {st.index} names no resource.")
    if not resources:
        _fail(MUST_CONTAIN_RESOURCES, f"Statement {st.index} names no resource.")


def _check_resource_formats(st: Statement) -> None:
    for resource in (st.resource if st.resource is not None else st.not_resource) or ():
        check_resource(resource)


# -- conditions -----------------------------------------------------------------------

_QUALIFIERS = ("ForAnyValue:", "ForAllValues:")
_IF_EXISTS = "IfExists"
# Base operator -> the family whose value rules it follows.
OPERATOR_FAMILIES: dict[str, str] = {
    **{
        op: "String"
        for op in (
            "StringEquals",
            "StringNotEquals",
            "StringEqualsIgnoreCase",
            "StringNotEqualsIgnoreCase",
            "StringLike",
            "StringNotLike",
        )
    },
    **{
        op: "Numeric"
        for op in (
            "NumericEquals",
            "NumericNotEquals",
            "NumericLessThan",
            "NumericLessThanEquals",
            "NumericGreaterThan",
            "NumericGreaterThanEquals",
        )
    },
    **{
        op: "Date"
        for op in (
            "DateEquals",
            "DateNotEquals",
            "DateLessThan",
            "DateLessThanEquals",
            "DateGreaterThan",
            "DateGreaterThanEquals",
        )
    },
    "Bool": "Bool",
    "BinaryEquals": "Binary",
    "IpAddress": "Ip",
    "NotIpAddress": "Ip",
    **{op: "Arn" for op in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike")},
    "Null": "Null",
}


def operator_base(operator: str) -> str | None:
    """The base operator of a condition operator name ("ForAnyValue:StringLikeIfExists"
    -> "StringLike"), or None when the name is not a valid operator. Case-sensitive."""
    name = operator
    for qualifier in _QUALIFIERS:
        if name.startswith(qualifier):
            name = name[len(qualifier) :]
            break
    if_exists = name.endswith(_IF_EXISTS)
    if if_exists:
        name = name[: -len(_IF_EXISTS)]
    if name not in OPERATOR_FAMILIES or (if_exists and name == "Null"):
        return None
    return name


def check_operator(operator: str) -> str:
    """The base operator of `operator`. IAM answers an unknown one (over a non-empty
    block) with "Syntax errors in policy."; S3's "Invalid Condition type : X" is kept as
    the detail."""
    base = operator_base(operator)
    if base is None:
        _syntax(f"Invalid Condition type : {operator[:_EXCERPT_MAX]}")
    return base


_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_EPOCH = re.compile(r"[0-9]{1,19}")


def _is_number(value: ConditionValue) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return len(value) <= 64 and _NUMBER.fullmatch(value) is not None


# The date text AWS's legacy parser reads: [-]year[-month[-day]] then, after a "T" (either
# case), [hour[:minute[:second[.fraction][Z|+hh[:mm]|-hh[:mm]]]]].
_LEGACY_DATE = re.compile(
    r"(?P<year>-?[0-9]+)(?:-(?P<month>[0-9]+)(?:-(?P<day>[0-9]+))?)?"
    r"(?:[Tt](?P<hour>[0-9]+)?(?::(?P<minute>[0-9]+)(?::(?P<second>[0-9]+)"
    r"(?:\.(?P<fraction>[0-9]+))?(?:[Zz]|[+-](?P<tzh>[0-9]{2})(?::(?P<tzm>[0-9]{2}))?)?)?)?)?"
)
_DATE_FIELD_RANGES = (
    ("year", -292275054, 292278993),
    ("month", 1, 12),
    ("day", 1, 31),
    ("hour", 0, 23),
    ("minute", 0, 59),
    ("second", 0, 59),
    ("fraction", 0, 999999999),
    ("tzh", 0, 23),
    ("tzm", 0, 59),
)
_EPOCH_MAX = 2**63 - 1


def _is_date(value: ConditionValue) -> bool:
    """What AWS's legacy parser takes as a date: epoch seconds (0 to 2**63-1) or its
    lenient ISO 8601 (`2016-12-13t2:00:00.5+23`, `01T` and year -292275054 are dates
    to it; a 13th month, a one-digit offset or a ten-digit fraction are not)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return 0 <= value <= _EPOCH_MAX
    if len(value) > 64:
        return False
    if "-" not in value and "t" not in value.lower():
        return _EPOCH.fullmatch(value) is not None and int(value) <= _EPOCH_MAX
    found = _LEGACY_DATE.fullmatch(value)
    if found is None:
        return False
    for field, low, high in _DATE_FIELD_RANGES:
        text = found.group(field)
        if text is not None and not low <= int(text) <= high:
            return False
    return True


def _is_bool(value: ConditionValue) -> bool:
    return isinstance(value, bool) or (
        isinstance(value, str) and value.lower() in ("true", "false")
    )


def _is_base64(value: ConditionValue) -> bool:
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_ip(value: ConditionValue) -> bool:
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _is_string(value: ConditionValue) -> bool:
    return isinstance(value, str)


def _is_scalar(value: ConditionValue) -> bool:
    return True


# Family -> (value check, what a value must be, for messages).
_VALUE_RULES = {
    "String": (_is_scalar, "a string"),
    "Numeric": (_is_number, "a number"),
    "Date": (_is_date, "an ISO 8601 date or epoch seconds"),
    "Bool": (_is_bool, "true or false"),
    "Null": (_is_bool, "true or false"),
    "Binary": (_is_base64, "base64 text"),
    "Ip": (_is_ip, "an IP address or CIDR block"),
    "Arn": (_is_string, "an ARN string"),
}


def check_clause(clause: ConditionClause, where: str = "Statement") -> None:
    """A condition clause: a known operator and values of its type. AWS accepts any
    condition key ("a" too) and an empty list of values (which matches nothing;
    docs/policy-semantics.md)."""
    _check_clause_syntax(clause, where)
    _check_clause_dates(clause, where)


def _check_clause_syntax(clause: ConditionClause, where: str) -> None:
    family = OPERATOR_FAMILIES[check_operator(clause.operator)]
    if family == "Date":
        return  # AWS's legacy parser reads dates, after the syntax checks
    accepts, expected = _VALUE_RULES[family]
    for value in clause.values:
        if not accepts(value):
            here = f"{where}: Condition {clause.operator} {excerpt(clause.key)}"
            _syntax(f"{here}: value {excerpt(value)} is not {expected}.")


def _check_clause_dates(clause: ConditionClause, where: str) -> None:
    base = operator_base(clause.operator)
    if base is None or OPERATOR_FAMILIES[base] != "Date":
        return
    for value in clause.values:
        if not _is_date(value):
            here = f"{where}: Condition {clause.operator} {excerpt(clause.key)}"
            _fail(
                FAILED_LEGACY_PARSING,
                f"{here}: value {excerpt(value)} is not an ISO 8601 date or epoch seconds.",
            )
