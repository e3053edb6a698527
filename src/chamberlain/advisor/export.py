"""The read model from an AWS export: what the aws CLI prints for

- `aws iam get-account-authorization-details` (one document; or the pages of
  `--no-paginate` runs as a JSON list, or one after another in the file),
- `aws iam get-credential-report` (its Content, base64-decoded: the CSV),
- `aws iam get-account-password-policy` (an empty file, or the CLI's NoSuchEntity
  message, means the account has no password policy),
- `aws iam get-account-summary`.

The CLI prints policy documents as JSON objects (botocore URL-decodes and parses them)
and times as ISO 8601; the API's URL-encoded strings are accepted too. The same parsing
reads the live store's snapshot (advisor/live.py), whose documents are JSON text and
whose times are datetimes.

Credential report values follow AWS's user guide ("Getting credential reports"):
`N/A` (no such credential), `no_information` (never used, or used before AWS tracked it),
`not_supported` (the root user's password columns).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chamberlain.advisor import model
from chamberlain.ops.core.aws_managed import AWS_MANAGED

DETAIL_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
REPORT_COLUMNS = (
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
)
ROOT_ROW = "<root_account>"


class InputError(Exception):
    """Bad input: the message names the file and what is wrong in it."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")


# ------------------------------------------------------------------------- values


def when(value: Any) -> dt.datetime | None:
    """A time as the CLI prints it (ISO 8601), a datetime, or None."""
    if value is None or isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC) if isinstance(value, dt.datetime) else None
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def document(value: Any) -> str:
    """A policy document as JSON text: the CLI's object, JSON text, or URL-encoded JSON."""
    if isinstance(value, dict):
        return json.dumps(value)
    if not isinstance(value, str):
        raise ValueError("a policy document must be a JSON object or string")
    text = value.strip()
    if text.startswith("%7B") or text.startswith("%7b"):
        text = urllib.parse.unquote(text)
    json.loads(text)  # must be JSON
    return text


def _tags(items: Any) -> model.Tags:
    return tuple((str(t["Key"]), str(t.get("Value", ""))) for t in items or ())


def _inline(items: Any) -> tuple[model.InlinePolicy, ...]:
    return tuple(
        model.InlinePolicy(str(p["PolicyName"]), document(p["PolicyDocument"])) for p in items or ()
    )


def _attached(items: Any) -> tuple[str, ...]:
    return tuple(str(p["PolicyArn"]) for p in items or ())


def _boundary(detail: dict[str, Any]) -> str | None:
    boundary = detail.get("PermissionsBoundary")
    return str(boundary["PermissionsBoundaryArn"]) if boundary else None


# ---------------------------------------------------------------- authorization details


def read_documents(text: str, source: str) -> list[dict[str, Any]]:
    """The pages in a file: one object, a JSON list of objects, or objects in a row."""
    decoder = json.JSONDecoder()
    pages: list[dict[str, Any]] = []
    position, end = 0, len(text)
    while True:
        while position < end and text[position].isspace():
            position += 1
        if position >= end:
            break
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise InputError(source, f"not JSON: {exc}") from None
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, dict):
                raise InputError(source, "expected JSON objects (pages of the command's output)")
            pages.append(item)
    if not pages:
        raise InputError(source, "empty: expected the output of get-account-authorization-details")
    return pages


@dataclass(frozen=True)
class Details:
    users: tuple[model.User, ...]
    groups: tuple[model.Group, ...]
    roles: tuple[model.Role, ...]
    policies: dict[str, model.ManagedPolicy]


def _user(d: dict[str, Any]) -> model.User:
    return model.User(
        name=str(d["UserName"]),
        arn=str(d["Arn"]),
        user_id=str(d.get("UserId", "")),
        path=str(d.get("Path", "/")),
        created=when(d.get("CreateDate")),
        inline=_inline(d.get("UserPolicyList")),
        attached=_attached(d.get("AttachedManagedPolicies")),
        groups=tuple(str(g) for g in d.get("GroupList") or ()),
        boundary=_boundary(d),
        tags=_tags(d.get("Tags")),
    )


def _group(d: dict[str, Any]) -> model.Group:
    return model.Group(
        name=str(d["GroupName"]),
        arn=str(d["Arn"]),
        group_id=str(d.get("GroupId", "")),
        path=str(d.get("Path", "/")),
        inline=_inline(d.get("GroupPolicyList")),
        attached=_attached(d.get("AttachedManagedPolicies")),
    )


def _role(d: dict[str, Any]) -> model.Role:
    last_used = d.get("RoleLastUsed")
    path = str(d.get("Path", "/"))
    return model.Role(
        name=str(d["RoleName"]),
        arn=str(d["Arn"]),
        role_id=str(d.get("RoleId", "")),
        path=path,
        created=when(d.get("CreateDate")),
        trust=document(d["AssumeRolePolicyDocument"]),
        inline=_inline(d.get("RolePolicyList")),
        attached=_attached(d.get("AttachedManagedPolicies")),
        boundary=_boundary(d),
        tags=_tags(d.get("Tags")),
        last_used=when((last_used or {}).get("LastUsedDate")),
        last_used_known=last_used is not None,
        instance_profiles=tuple(
            str(p["InstanceProfileName"]) for p in d.get("InstanceProfileList") or ()
        ),
        service_linked=path.startswith("/aws-service-role/"),
    )


def _policy(d: dict[str, Any]) -> model.ManagedPolicy:
    arn = str(d["Arn"])
    default_id = str(d.get("DefaultVersionId", ""))
    versions = [(str(v["VersionId"]), v) for v in d.get("PolicyVersionList") or ()]
    default = next((v for vid, v in versions if v.get("IsDefaultVersion")), None)
    if default is None:
        default = next((v for vid, v in versions if vid == default_id), None)
    if default is None:
        raise ValueError(f"policy {arn} has no default version in PolicyVersionList")
    count = d.get("AttachmentCount")
    return model.ManagedPolicy(
        arn=arn,
        name=str(d["PolicyName"]),
        document=document(default["Document"]),
        default_version=str(default["VersionId"]),
        other_versions=tuple(
            (vid, document(v["Document"])) for vid, v in versions if v is not default
        ),
        aws_managed=arn.split(":")[4] == "aws",
        attachment_count=int(count) if count is not None else None,
    )


def _parsed(
    items: Iterable[dict[str, Any]], parse: Callable[[dict[str, Any]], Any], source: str, what: str
) -> list[Any]:
    out = []
    for index, item in enumerate(items):
        try:
            out.append(parse(item))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            why = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise InputError(source, f"{what}[{index}]: {why}") from None
    return out


def parse_details(pages: list[dict[str, Any]], source: str) -> Details:
    if not any(name in page for page in pages for name in DETAIL_LISTS):
        raise InputError(
            source, "none of UserDetailList, GroupDetailList, RoleDetailList, Policies found"
        )
    lists: dict[str, list[dict[str, Any]]] = {name: [] for name in DETAIL_LISTS}
    for page in pages:
        for name in DETAIL_LISTS:
            value = page.get(name) or []
            if not isinstance(value, list):
                raise InputError(source, f"{name} is not a list")
            lists[name] += value
    users = _parsed(lists["UserDetailList"], _user, source, "UserDetailList")
    groups = _parsed(lists["GroupDetailList"], _group, source, "GroupDetailList")
    roles = _parsed(lists["RoleDetailList"], _role, source, "RoleDetailList")
    policies = {p.arn: p for p in _parsed(lists["Policies"], _policy, source, "Policies")}
    # AWS managed policies left out of a filtered export: Chamberlain knows some of them.
    wanted = {a for x in (*users, *groups, *roles) for a in x.attached}
    wanted |= {x.boundary for x in (*users, *roles) if x.boundary}
    for arn in wanted - set(policies):
        known = AWS_MANAGED.get(arn)
        if known is not None:
            policies[arn] = model.ManagedPolicy(
                arn, known.name, known.document, known.version_id, aws_managed=True
            )
    return Details(tuple(users), tuple(groups), tuple(roles), policies)


# ------------------------------------------------------------------ credential report


def _report_time(value: str, row: int, column: str, source: str) -> tuple[dt.datetime | None, bool]:
    """(time, known): N/A and no_information are (None, True) and (None, False)."""
    if value in ("N/A", "not_supported"):
        return None, True
    if value == "no_information":
        return None, False
    try:
        return when(value), True
    except ValueError:
        raise InputError(source, f"row {row}: {column} is not a time: {value!r}") from None


def _report_bool(value: str, row: int, column: str, source: str) -> bool | None:
    if value == "not_supported":
        return None
    if value not in ("true", "false"):
        raise InputError(source, f"row {row}: {column} must be true or false, not {value!r}")
    return value == "true"


def _credentials(row: dict[str, str], number: int, source: str) -> model.Credentials:
    def t(column: str) -> tuple[dt.datetime | None, bool]:
        return _report_time(row[column], number, column, source)

    def b(column: str) -> bool | None:
        return _report_bool(row[column], number, column, source)

    keys = []
    for slot in (1, 2):
        rotated, _ = t(f"access_key_{slot}_last_rotated")
        used, used_known = t(f"access_key_{slot}_last_used_date")
        active = bool(b(f"access_key_{slot}_active"))
        if active or rotated is not None:
            keys.append(model.AccessKey(slot, active, rotated, used, used_known))
    password_used, password_used_known = t("password_last_used")
    return model.Credentials(
        password_enabled=b("password_enabled"),
        password_last_used=password_used,
        password_used_known=password_used_known,
        password_last_changed=t("password_last_changed")[0],
        mfa_active=bool(b("mfa_active")),
        access_keys=tuple(keys),
        created=t("user_creation_time")[0],
        arn=row["arn"],
    )


def parse_credential_report(
    text: str, source: str
) -> tuple[model.Credentials | None, dict[str, model.Credentials]]:
    """(the root user's row, users' rows by ARN)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in REPORT_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise InputError(source, f"not a credential report: no column {missing[0]}")
    root: model.Credentials | None = None
    users: dict[str, model.Credentials] = {}
    for number, row in enumerate(reader, start=2):
        if any(row.get(c) is None for c in REPORT_COLUMNS):
            raise InputError(source, f"row {number}: too few columns")
        credentials = _credentials(row, number, source)
        if row["user"] == ROOT_ROW:
            root = credentials
        else:
            users[row["arn"]] = credentials
    return root, users


# ---------------------------------------------------------------- password / summary


def _json_file(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"not JSON: {exc}") from None


def parse_password_policy(text: str, source: str) -> model.PasswordPolicy | None:
    """None: the account has no password policy (empty file, `{}` or NoSuchEntity)."""
    stripped = text.strip()
    if not stripped or ("NoSuchEntity" in stripped and not stripped.startswith("{")):
        return None
    value = _json_file(stripped, source)
    if value == {}:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("PasswordPolicy"), dict):
        raise InputError(source, 'expected {"PasswordPolicy": {...}}')
    p = value["PasswordPolicy"]
    try:
        return model.PasswordPolicy(
            minimum_password_length=int(p.get("MinimumPasswordLength", 8)),
            require_symbols=bool(p.get("RequireSymbols", False)),
            require_numbers=bool(p.get("RequireNumbers", False)),
            require_uppercase_characters=bool(p.get("RequireUppercaseCharacters", False)),
            require_lowercase_characters=bool(p.get("RequireLowercaseCharacters", False)),
            max_password_age=int(p["MaxPasswordAge"]) if p.get("MaxPasswordAge") else None,
            password_reuse_prevention=int(p["PasswordReusePrevention"])
            if p.get("PasswordReusePrevention")
            else None,
            hard_expiry=bool(p.get("HardExpiry", False)),
        )
    except (TypeError, ValueError) as exc:
        raise InputError(source, f"PasswordPolicy: {exc}") from None


def parse_summary(text: str, source: str) -> dict[str, int]:
    value = _json_file(text, source)
    if not isinstance(value, dict) or not isinstance(value.get("SummaryMap"), dict):
        raise InputError(source, 'expected {"SummaryMap": {...}}')
    try:
        return {str(k): int(v) for k, v in value["SummaryMap"].items()}
    except (TypeError, ValueError) as exc:
        raise InputError(source, f"SummaryMap: {exc}") from None


# ---------------------------------------------------------------------------- account


def account_id_of(details: Details) -> str:
    arns = [e.arn for e in details.users] + [e.arn for e in details.groups]
    arns += [e.arn for e in details.roles]
    for arn in arns:
        return arn.split(":")[4]
    for policy in details.policies.values():
        if not policy.aws_managed:
            return policy.arn.split(":")[4]
    return "unknown"


def assemble(
    details: Details,
    *,
    source: str,
    now: dt.datetime,
    report: tuple[model.Credentials | None, dict[str, model.Credentials]] | None,
    password_policy: model.PasswordPolicy | None,
    password_policy_known: bool,
    summary: dict[str, int] | None,
    account_id: str | None = None,
    **live: Any,
) -> model.Account:
    users = details.users
    root = None
    if report is not None:
        root, by_arn = report
        users = tuple(model.User(**{**u.__dict__, "credentials": by_arn.get(u.arn)}) for u in users)
    if account_id is None:
        account_id = account_id_of(details)
        if account_id == "unknown" and root is not None and root.arn.count(":") >= 5:
            account_id = root.arn.split(":")[4]
    return model.Account(
        account_id=account_id,
        source=source,
        now=now,
        users=users,
        groups=details.groups,
        roles=details.roles,
        policies=details.policies,
        root=root,
        password_policy=password_policy,
        password_policy_known=password_policy_known,
        summary=summary,
        **live,
    )


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read: {exc}") from None


def load(
    authorization_details: str,
    *,
    credential_report: str | None = None,
    password_policy: str | None = None,
    account_summary: str | None = None,
    now: dt.datetime,
) -> model.Account:
    """Read the export files; raises InputError."""
    details = parse_details(
        read_documents(_read(authorization_details), authorization_details), authorization_details
    )
    report = None
    if credential_report is not None:
        report = parse_credential_report(_read(credential_report), credential_report)
    policy = None
    if password_policy is not None:
        policy = parse_password_policy(_read(password_policy), password_policy)
    summary = None
    if account_summary is not None:
        summary = parse_summary(_read(account_summary), account_summary)
    return assemble(
        details,
        source="export",
        now=now,
        report=report,
        password_policy=policy,
        password_policy_known=password_policy is not None,
        summary=summary,
    )
