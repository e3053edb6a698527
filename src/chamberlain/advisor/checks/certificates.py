"""Expired server certificates (the seed's "Track - remove unnecessary credentials")."""

from __future__ import annotations

from chamberlain.advisor.checks.common import CIS3, cis
from chamberlain.advisor.engine import Engine
from chamberlain.advisor.findings import Check, Finding, NotRun, check, iso
from chamberlain.advisor.model import Account


@check(
    "expired-server-certificate",
    severity="medium",
    practice="unused-credentials",
    controls=(cis(CIS3, "1.19"),),
    cites="CIS 1.19 'Ensure that all the expired SSL/TLS certificates stored in AWS IAM are "
    "removed'.",
)
def expired_server_certificate(c: Check, account: Account, engine: Engine) -> list[Finding]:
    if account.server_certificates is None:
        raise NotRun("needs the server certificates (not in an authorization-details export)")
    return [
        c.finding(
            cert.arn,
            f"Server certificate {cert.name} expired on {iso(cert.expiration)}.",
            f"aws iam delete-server-certificate --server-certificate-name {cert.name}",
            {"expiration": iso(cert.expiration)},
        )
        for cert in account.server_certificates
        if cert.expiration <= account.now
    ]
