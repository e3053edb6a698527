"""IAM's credential report: GenerateCredentialReport and GetCredentialReport.

The report is AWS's CSV: one row for the account root user (`<root_account>`), then one
per IAM user, with AWS's 22 columns and value conventions (`N/A`, `no_information`,
`not_supported`, lowercase booleans, times as `2014-08-14T22:54:25+00:00`).

AWS generates a report at most every four hours: GenerateCredentialReport starts a new
one (State STARTED) unless the last one is younger than that, which it reuses (State
COMPLETE). GetCredentialReport returns the stored report, a snapshot taken when it was
generated; once it is four hours old it has expired. Generation here is synchronous, in
GenerateCredentialReport's own transaction, so no other call ever sees a report being
generated: ReportInProgress, AWS's answer while generation runs, cannot arise.

Value rules not spelled out by AWS's user guide follow what AWS's reports show: an
inactive access key or signing certificate keeps its rotation date (only `*_active`
says it is inactive), and a user whose password was deleted keeps the time it was
last used.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from chamberlain.domain import (
    ROOT,
    AccessKey,
    Account,
    CredentialReport,
    LoginProfile,
    MfaDevice,
    PasswordPolicy,
    SigningCertificate,
    User,
)
from chamberlain.ops.core.arns import account_root_arn
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import ReportExpired, ReportNotPresent, ServiceFailure
from chamberlain.ops.core.registry import Output, Params, Target, operation

T = TypeVar("T")

REPORT_LIFETIME = dt.timedelta(hours=4)
REPORT_FORMAT = "text/csv"
STARTED_DESCRIPTION = "No report exists. Starting a new report generation task"
ROOT_ROW_NAME = "<root_account>"

NOT_APPLICABLE = "N/A"
NO_INFORMATION = "no_information"
NOT_SUPPORTED = "not_supported"

COLUMNS = (
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
)

# AWS sends these two errors with no message at all (botocore shows "Unknown"); a caller
# is better served by the model's documented text.
_NOT_PRESENT_MESSAGE = (
    "The request was rejected because the credential report does not exist. "
    "To generate a credential report, use GenerateCredentialReport."
)
_EXPIRED_MESSAGE = (
    "The request was rejected because the most recent credential report has expired. "
    "To generate a new credential report, use GenerateCredentialReport."
)


# --------------------------------------------------------------------------- values


def timestamp(value: dt.datetime) -> str:
    """AWS's report time format: ISO 8601, UTC, whole seconds, `+00:00`."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def boolean(value: bool) -> str:
    return "true" if value else "false"


def _time_or(value: dt.datetime | None, default: str) -> str:
    return default if value is None else timestamp(value)


def access_key_columns(key: AccessKey | None) -> list[str]:
    """active, last_rotated, last_used_date, last_used_region, last_used_service."""
    if key is None:
        return [boolean(False)] + [NOT_APPLICABLE] * 4
    used = key.last_used is not None
    return [
        boolean(key.status == "Active"),
        timestamp(key.created),
        _time_or(key.last_used, NOT_APPLICABLE),
        (key.last_used_region if used else None) or NOT_APPLICABLE,
        (key.last_used_service if used else None) or NOT_APPLICABLE,
    ]


def certificate_columns(cert: SigningCertificate | None) -> list[str]:
    """active, last_rotated."""
    if cert is None:
        return [boolean(False), NOT_APPLICABLE]
    return [boolean(cert.status == "Active"), timestamp(cert.uploaded)]


def password_columns(
    profile: LoginProfile | None, last_used: dt.datetime | None, max_age: int | None
) -> list[str]:
    """An IAM user's password_enabled, _last_used, _last_changed, _next_rotation."""
    if profile is None:
        return [boolean(False), _time_or(last_used, NOT_APPLICABLE)] + [NOT_APPLICABLE] * 2
    rotation = (
        timestamp(profile.password_set + dt.timedelta(days=max_age)) if max_age else NOT_APPLICABLE
    )
    return [
        boolean(True),
        _time_or(last_used, NO_INFORMATION),
        timestamp(profile.password_set),
        rotation,
    ]


# ---------------------------------------------------------------------------- rows


def _first_two(items: Sequence[T]) -> tuple[T | None, T | None]:
    """Key/certificate 1 and 2: the two oldest (a user has at most two of each)."""
    padded: list[T | None] = [*items[:2], None, None]
    return padded[0], padded[1]


@dataclass(frozen=True)
class Credentials:
    """Every credential of the account, by owner (lower-cased user name, or ROOT): read
    once per report, not once per user."""

    keys: dict[str, list[AccessKey]]
    certificates: dict[str, list[SigningCertificate]]
    mfa_owners: frozenset[str]
    profiles: dict[str, LoginProfile]

    @classmethod
    def load(cls, ctx: OpContext) -> Credentials:
        uow, account_id = ctx.uow, ctx.account_id
        keys: dict[str, list[AccessKey]] = defaultdict(list)
        for k in sorted(
            uow.repo(AccessKey).list(account_id), key=lambda k: (k.created, k.access_key_id)
        ):
            keys[k.user_name.lower()].append(k)
        certificates: dict[str, list[SigningCertificate]] = defaultdict(list)
        for c in sorted(
            uow.repo(SigningCertificate).list(account_id),
            key=lambda c: (c.uploaded, c.certificate_id),
        ):
            certificates[c.user_name.lower()].append(c)
        # A device has an owner only once enabled (domain.MfaDevice).
        mfa = frozenset(
            d.user_name.lower() for d in uow.repo(MfaDevice).list(account_id) if d.user_name
        )
        profiles = {p.user_name.lower(): p for p in uow.repo(LoginProfile).list(account_id)}
        return cls(keys, certificates, mfa, profiles)

    def columns(self, owner: str) -> tuple[str, list[str]]:
        """(mfa_active, the access key and certificate columns) of a user, or of ROOT."""
        ref = owner.lower()
        columns: list[str] = []
        for key in _first_two(self.keys.get(ref, [])):
            columns += access_key_columns(key)
        for cert in _first_two(self.certificates.get(ref, [])):
            columns += certificate_columns(cert)
        return boolean(ref in self.mfa_owners), columns


def root_row(ctx: OpContext, account: Account, credentials: Credentials) -> list[str]:
    mfa, columns = credentials.columns(ROOT)
    return [
        ROOT_ROW_NAME,
        account_root_arn(ctx),
        timestamp(account.created),
        NOT_SUPPORTED,
        _time_or(account.root_password_last_used, NO_INFORMATION),
        NOT_SUPPORTED,
        NOT_SUPPORTED,
        mfa,
        *columns,
    ]


def user_row(user: User, credentials: Credentials, max_age: int | None) -> list[str]:
    profile = credentials.profiles.get(user.name.lower())
    mfa, columns = credentials.columns(user.name)
    return [
        user.name,
        user.arn,
        timestamp(user.created),
        *password_columns(profile, user.password_last_used, max_age),
        mfa,
        *columns,
    ]


def render_csv(rows: Sequence[Sequence[str]]) -> bytes:
    """Header and rows, `\\n`-separated with no final newline, as AWS's reports are.

    IAM names may contain commas, so fields are quoted when they need it (RFC 4180)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue()[:-1].encode("utf-8")


def build_report(ctx: OpContext) -> bytes:
    account = ctx.uow.repo(Account).get(ctx.account_id, "account")
    if account is None:  # every caller's account exists; a missing one is a server fault
        raise ServiceFailure("The account could not be found.")
    policy = ctx.uow.repo(PasswordPolicy).get(ctx.account_id, "password_policy")
    max_age = policy.max_password_age if policy is not None else None
    credentials = Credentials.load(ctx)
    rows = [root_row(ctx, account, credentials)]
    users = ctx.uow.repo(User).list(ctx.account_id)
    rows += [user_row(user, credentials, max_age) for user in users]
    return render_csv(rows)


# ----------------------------------------------------------------------- operations


def _star(ctx: OpContext, params: Params) -> Target:
    return Target("*")


def _current(ctx: OpContext) -> CredentialReport | None:
    return ctx.uow.repo(CredentialReport).get(ctx.account_id, "credential_report")


def _fresh(report: CredentialReport, now: dt.datetime) -> bool:
    return now - report.generated < REPORT_LIFETIME


@operation("iam", "GenerateCredentialReport", resource=_star)
def generate_credential_report(ctx: OpContext, params: Params) -> Output:
    report = _current(ctx)
    if report is not None and _fresh(report, ctx.now):
        return {"State": "COMPLETE"}
    generated = ctx.now.astimezone(dt.UTC).replace(microsecond=0)
    content = build_report(ctx)
    ctx.uow.repo(CredentialReport).put(CredentialReport(ctx.account_id, generated, content))
    return {"State": "STARTED", "Description": STARTED_DESCRIPTION}


@operation("iam", "GetCredentialReport", resource=_star, read_only=True)
def get_credential_report(ctx: OpContext, params: Params) -> Output:
    report = _current(ctx)
    if report is None:
        raise ReportNotPresent(_NOT_PRESENT_MESSAGE)
    if not _fresh(report, ctx.now):
        raise ReportExpired(_EXPIRED_MESSAGE)
    return {
        "Content": report.content,
        "ReportFormat": REPORT_FORMAT,
        "GeneratedTime": report.generated,
    }
