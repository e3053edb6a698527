"""One account's IAM state read in one read-only unit of work, for the advisor.

Returns what the corresponding IAM operations return (GetAccountAuthorizationDetails
unpaginated, the credential report's CSV, GetAccountPasswordPolicy, GetAccountSummary,
ListServerCertificates), so the advisor reads a live account and an AWS export through the
same parser. Nothing is written: the credential report is built, not stored, and no
audit event is recorded (the operations' handlers run without the dispatcher).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from chamberlain.crypto.secrets import SecretBox, decode_keyfile
from chamberlain.domain import Account, Role, ServerCertificate, User
from chamberlain.ops.audit import records as audit
from chamberlain.ops.audit import trail as audit_trail
from chamberlain.ops.core.accounts import root_caller
from chamberlain.ops.core.context import OpContext, RequestMeta, Services
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.iam.account import get_account_summary
from chamberlain.ops.iam.auth_details import get_account_authorization_details
from chamberlain.ops.iam.credential_report import build_report
from chamberlain.ops.iam.login import account_policy, render_policy
from chamberlain.ops.iam.service_last_accessed import _build_report as service_report
from chamberlain.store.events import PRINCIPAL_SERVICE, principal_service
from chamberlain.store.sql import SqlStore

_ALL = 2**31 - 1  # MaxItems: every entity on one page
_SERVICES = ("iam", "sts", "cloudtrail")


@dataclass(frozen=True)
class Snapshot:
    account_id: str
    authorization_details: dict[str, Any]
    credential_report: bytes
    password_policy: dict[str, Any] | None  # GetAccountPasswordPolicy's output; None: none
    summary: dict[str, Any]
    server_certificates: list[dict[str, Any]]
    audit_enabled: bool
    audit_problem: str | None
    root_calls: list[dt.datetime]  # the root user's latest call to each service, if any
    service_usage: dict[str, list[tuple[str, dt.datetime | None]]] = field(default_factory=dict)


def open_services(
    database_url: str, schema: str | None, keyfile_text: str, *, audit: bool
) -> Services:
    """The store and key a running server uses, opened for reading (no migration)."""
    keys = decode_keyfile(keyfile_text)
    return Services(
        store=SqlStore(database_url, schema=schema),
        secrets=SecretBox(keys[0], keys[1:]),
        audit=audit,
    )


def accounts(services: Services) -> list[str]:
    return sorted(services.store.accounts())


def _usage(ctx: OpContext, arn: str) -> list[tuple[str, dt.datetime | None]]:
    report = service_report(ctx, arn, "SERVICE_LEVEL")
    out: list[tuple[str, dt.datetime | None]] = []
    for service in report["services"]:
        last = service.get("LastAuthenticated")
        out.append((service["ServiceNamespace"], dt.datetime.fromisoformat(last) if last else None))
    return out


def _root_calls(ctx: OpContext) -> list[dt.datetime]:
    root_arn = f"arn:aws:iam::{ctx.account_id}:root"
    found: list[dt.datetime] = []
    for namespace in _SERVICES:
        value = principal_service(root_arn, audit.event_source(namespace))
        hits = ctx.uow.events.lookup(
            ctx.account_id, attribute=(PRINCIPAL_SERVICE, value), end=ctx.now, limit=1
        )
        found += [hit.event_time for hit in hits]
    return sorted(found, reverse=True)


def snapshot(
    services: Services, account_id: str, now: dt.datetime, *, usage: bool = True
) -> Snapshot:
    """Read the account; raises LookupError if it does not exist."""
    meta = RequestMeta(request_id=str(uuid.uuid4()), now=now)
    with services.store.unit_of_work(read_only=True) as uow:
        if uow.repo(Account).get(account_id, "account") is None:
            raise LookupError(f"account {account_id} does not exist")
        ctx = OpContext(caller=root_caller(account_id), meta=meta, uow=uow, services=services)
        details = get_account_authorization_details(ctx, {"MaxItems": _ALL})
        assert details is not None
        details.pop("IsTruncated", None)
        policy = account_policy(uow, account_id)
        summary = get_account_summary(ctx, {})
        assert summary is not None
        certificates = [
            {"ServerCertificateName": c.name, "Arn": c.arn, "Expiration": c.expiration}
            for c in uow.repo(ServerCertificate).list(account_id)
        ]
        usage_by_arn: dict[str, list[tuple[str, dt.datetime | None]]] = {}
        if usage:
            principals = [u.arn for u in uow.repo(User).list(account_id)]
            principals += [r.arn for r in uow.repo(Role).list(account_id)]
            for arn in principals:
                try:
                    usage_by_arn[arn] = _usage(ctx, arn)
                except ServiceError:  # deleted between the two reads: nothing to say
                    continue
        root_calls = _root_calls(ctx)
        report = build_report(ctx)
        _, problem = audit_trail.verify_account(uow.events, services.secrets, account_id)
    return Snapshot(
        account_id=account_id,
        authorization_details=details,
        credential_report=report,
        password_policy=None if policy is None else {"PasswordPolicy": render_policy(policy)},
        summary=summary,
        server_certificates=certificates,
        audit_enabled=services.audit,
        audit_problem=None if problem is None else str(problem),
        root_calls=root_calls,
        service_usage=usage_by_arn,
    )
