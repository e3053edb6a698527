"""Helpers the checks share."""

from __future__ import annotations

import datetime as dt

from chamberlain.advisor.findings import NotRun
from chamberlain.advisor.model import Account, Credentials, User

CIS3 = "CIS AWS Foundations v3.0.0"
CIS12 = "CIS AWS Foundations v1.2.0"

NO_REPORT = "needs the credential report (--credential-report)"


def cis(version: str, number: str) -> str:
    return f"{version} {number}"


def days_since(account: Account, moment: dt.datetime) -> int:
    return (account.now - moment).days


def with_report(account: Account) -> list[tuple[User, Credentials]]:
    """Users with their credential report rows; NotRun without a report."""
    if account.root is None and not any(u.credentials for u in account.users):
        raise NotRun(NO_REPORT)
    return [(u, u.credentials) for u in account.users if u.credentials is not None]
