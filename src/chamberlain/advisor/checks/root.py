"""The root user: no access keys, MFA on, not used (the seed's "Root Account")."""

from __future__ import annotations

import datetime as dt

from chamberlain.advisor.checks.common import CIS3, cis, days_since
from chamberlain.advisor.engine import Engine
from chamberlain.advisor.findings import Check, Finding, NotRun, check, iso
from chamberlain.advisor.model import Account

ROOT_USE_DAYS = 90


@check(
    "root-access-key",
    severity="critical",
    practice="root",
    controls=(cis(CIS3, "1.4"),),
    cites="CIS 1.4 'Ensure no 'root' user account access key exists': the root user is the "
    "most privileged user; removing its access keys limits the ways it can be compromised. "
    "AWS: 'Don't create access keys for the root user' (IAM user guide, root user best practices).",
)
def root_access_key(c: Check, account: Account, engine: Engine) -> list[Finding]:
    evidence: dict[str, object]
    if account.root is not None:
        active = [k.slot for k in account.root.access_keys if k.active]
        evidence = {"source": "credential report", "active_keys": active}
    elif account.summary is not None and "AccountAccessKeysPresent" in account.summary:
        active = [1] if account.summary["AccountAccessKeysPresent"] else []
        evidence = {"source": "account summary", "AccountAccessKeysPresent": len(active)}
    else:
        raise NotRun("needs the credential report or the account summary")
    if not active:
        return []
    return [
        c.finding(
            account.root_arn,
            "The root user has an active access key.",
            "aws iam delete-access-key --access-key-id ROOT_ACCESS_KEY_ID (signed in as root)",
            evidence,
        )
    ]


@check(
    "root-mfa",
    severity="critical",
    practice="root",
    controls=(cis(CIS3, "1.5"),),
    cites="CIS 1.5 'Ensure MFA is enabled for the 'root' user account'. AWS: 'Enable "
    "multi-factor authentication (MFA) for the root user' (root user best practices).",
)
def root_mfa(c: Check, account: Account, engine: Engine) -> list[Finding]:
    if account.root is not None:
        has_mfa = account.root.mfa_active
        evidence = {"source": "credential report", "mfa_active": has_mfa}
    elif account.summary is not None and "AccountMFAEnabled" in account.summary:
        has_mfa = bool(account.summary["AccountMFAEnabled"])
        evidence = {"source": "account summary", "AccountMFAEnabled": int(has_mfa)}
    else:
        raise NotRun("needs the credential report or the account summary")
    if has_mfa:
        return []
    return [
        c.finding(
            account.root_arn,
            "The root user has no MFA device.",
            "aws iam create-virtual-mfa-device --virtual-mfa-device-name root-mfa "
            "--outfile root-mfa.png --bootstrap-method QRCodePNG; then aws iam enable-mfa-device "
            "(signed in as root)",
            evidence,
        )
    ]


@check(
    "root-used",
    severity="high",
    practice="root",
    controls=(cis(CIS3, "1.7"),),
    cites="CIS 1.7 'Eliminate use of the 'root' user for administrative and daily tasks' "
    "(audit: password_last_used, access_key_1/2_last_used_date of <root_account> in the "
    "credential report). AWS: 'Don't use the root user for your everyday tasks'.",
)
def root_used(c: Check, account: Account, engine: Engine) -> list[Finding]:
    if account.root is None and account.audit is None:
        raise NotRun("needs the credential report or the live audit trail")
    uses: dict[str, dt.datetime] = {}
    root = account.root
    if root is not None:
        if root.password_last_used is not None:
            uses["password_last_used"] = root.password_last_used
        for key in root.access_keys:
            if key.last_used is not None:
                uses[f"access_key_{key.slot}_last_used_date"] = key.last_used
    if account.audit is not None and account.audit.root_events_since:
        uses["audit_trail_last_call"] = account.audit.root_events_since[0]
    recent = {k: iso(v) for k, v in uses.items() if days_since(account, v) < ROOT_USE_DAYS}
    if not recent:
        return []
    return [
        c.finding(
            account.root_arn,
            f"The root user was used in the last {ROOT_USE_DAYS} days.",
            "Use an IAM user or role with the permissions needed instead, and delete any "
            "root access key: aws iam delete-access-key --access-key-id ROOT_ACCESS_KEY_ID",
            {"used": recent},
        )
    ]
