"""The read model from the live store, through ops (read-only: nothing is written)."""

from __future__ import annotations

import datetime as dt

from chamberlain.advisor import export, model
from chamberlain.ops.core.context import Services
from chamberlain.ops.read_model import Snapshot, accounts, snapshot

__all__ = ["accounts", "from_snapshot", "load"]


def from_snapshot(snap: Snapshot, now: dt.datetime) -> model.Account:
    source = f"account {snap.account_id}"
    details = export.parse_details([snap.authorization_details], source)
    report = export.parse_credential_report(snap.credential_report.decode("utf-8"), source)
    policy = None
    if snap.password_policy is not None:
        import json

        policy = export.parse_password_policy(json.dumps(snap.password_policy), source)
    summary = {
        k: int(v) for k, v in snap.summary["SummaryMap"].items() if isinstance(v, int | bool)
    }
    certificates = tuple(
        model.ServerCertificate(c["ServerCertificateName"], c["Arn"], c["Expiration"])
        for c in snap.server_certificates
    )
    audit = model.AuditStatus(
        enabled=snap.audit_enabled,
        intact=snap.audit_problem is None,
        problem=snap.audit_problem,
        root_events_since=tuple(snap.root_calls),
    )
    usage = {arn: model.ServiceUsage(arn, tuple(s)) for arn, s in snap.service_usage.items()}
    return export.assemble(
        details,
        source="live",
        now=now,
        report=report,
        password_policy=policy,
        password_policy_known=True,
        summary=summary,
        account_id=snap.account_id,
        server_certificates=certificates,
        audit=audit,
        service_usage=usage,
    )


def load(services: Services, account_id: str, now: dt.datetime) -> model.Account:
    """Raises LookupError for an unknown account."""
    return from_snapshot(snapshot(services, account_id, now), now)
