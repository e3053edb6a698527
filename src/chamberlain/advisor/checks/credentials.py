"""Access keys and passwords: set-up keys, unused credentials, rotation (the seed's
"Rotation" and "Track - remove unnecessary credentials")."""

from __future__ import annotations

import datetime as dt

from chamberlain.advisor.checks.common import CIS3, cis, days_since, with_report
from chamberlain.advisor.engine import Engine
from chamberlain.advisor.findings import Check, Finding, check, iso
from chamberlain.advisor.model import Account

UNUSED_DAYS = 45  # CIS v3.0.0 1.12
KEY_MAX_AGE = 90  # CIS v3.0.0 1.14
#: "Created at user creation": CIS 1.11 names keys made in the console's create-user
#: flow; a key created within this time of its user counts as such.
AT_SETUP = dt.timedelta(hours=1)


@check(
    "access-key-at-setup",
    severity="low",
    practice="unused-credentials",
    controls=(cis(CIS3, "1.11"),),
    cites="CIS 1.11 'Do not setup access keys during initial user setup for all IAM users "
    "that have a console password' (audit: password_enabled true, access_key_1_active true "
    "and access_key_1_last_used_date N/A).",
)
def access_key_at_setup(c: Check, account: Account, engine: Engine) -> list[Finding]:
    found = []
    for user, cred in with_report(account):
        if not cred.password_enabled:
            continue
        created = cred.created or user.created
        for key in cred.access_keys:
            if key.slot != 1 or not key.active or key.last_used is not None or not key.used_known:
                continue
            if created is None or key.last_rotated is None:
                continue  # unknown times: no finding by guess
            if abs(key.last_rotated - created) <= AT_SETUP:
                found.append(
                    c.finding(
                        user.arn,
                        f"User {user.name}'s first access key was created with the user and "
                        "has never been used.",
                        f"aws iam list-access-keys --user-name {user.name}; aws iam "
                        f"delete-access-key --user-name {user.name} --access-key-id KEY_ID",
                        {
                            "user_creation_time": iso(created),
                            "access_key_1_last_rotated": iso(key.last_rotated),
                            "access_key_1_last_used_date": "N/A",
                        },
                    )
                )
    return found


@check(
    "credential-unused",
    severity="medium",
    practice="unused-credentials",
    controls=(cis(CIS3, "1.12"),),
    cites="CIS 1.12 'Ensure credentials unused for 45 days or greater are disabled': "
    "passwords and active access keys not used in 45 days (or never used and older than "
    "that). AWS: 'Regularly review and remove unused users, roles, permissions, policies, "
    "and credentials'.",
)
def credential_unused(c: Check, account: Account, engine: Engine) -> list[Finding]:
    found = []
    for user, cred in with_report(account):
        if cred.password_enabled:
            last, since = cred.password_last_used, cred.password_last_changed or cred.created
            evidence: dict[str, object] = {
                "credential": "password",
                "password_last_used": iso(last),
            }
            if last is not None:
                age = days_since(account, last)
            elif since is not None:
                age = days_since(account, since)
                evidence["password_last_changed"] = iso(since)
                evidence["password_last_used"] = "no_information"
            else:
                age = None
            if age is not None and age >= UNUSED_DAYS:
                evidence["days"] = age
                found.append(
                    c.finding(
                        user.arn,
                        f"User {user.name}'s password has not been used for {age} days.",
                        f"aws iam delete-login-profile --user-name {user.name}",
                        evidence,
                    )
                )
        for key in cred.access_keys:
            if not key.active:
                continue
            if key.last_used is not None:
                age = days_since(account, key.last_used)
                what = "used"
            elif key.used_known and key.last_rotated is not None:
                age = days_since(account, key.last_rotated)
                what = "created (never used)"
            else:
                continue
            if age >= UNUSED_DAYS:
                found.append(
                    c.finding(
                        user.arn,
                        f"User {user.name}'s access key {key.slot} was last {what} {age} days ago.",
                        f"aws iam update-access-key --user-name {user.name} --access-key-id "
                        "KEY_ID --status Inactive",
                        {
                            "credential": f"access_key_{key.slot}",
                            "days": age,
                            "last_used_date": iso(key.last_used) or "N/A",
                            "last_rotated": iso(key.last_rotated),
                        },
                    )
                )
    return found


@check(
    "access-key-old",
    severity="medium",
    practice="rotation",
    controls=(cis(CIS3, "1.14"),),
    cites="CIS 1.14 'Ensure access keys are rotated every 90 days or less'. AWS: 'Rotate "
    "access keys regularly for use cases that require long-term credentials'.",
)
def access_key_old(c: Check, account: Account, engine: Engine) -> list[Finding]:
    found = []
    for user, cred in with_report(account):
        for key in cred.access_keys:
            if not key.active or key.last_rotated is None:
                continue
            age = days_since(account, key.last_rotated)
            if age > KEY_MAX_AGE:
                found.append(
                    c.finding(
                        user.arn,
                        f"User {user.name}'s access key {key.slot} is {age} days old.",
                        f"aws iam create-access-key --user-name {user.name}; then aws iam "
                        f"delete-access-key --user-name {user.name} --access-key-id OLD_KEY_ID",
                        {
                            "credential": f"access_key_{key.slot}",
                            "days": age,
                            "last_rotated": iso(key.last_rotated),
                        },
                    )
                )
    return found


@check(
    "two-active-keys",
    severity="low",
    practice="rotation",
    controls=(cis(CIS3, "1.13"),),
    cites="CIS 1.13 'Ensure there is only one active access key available for any single "
    "IAM user' (two are for rotation only).",
)
def two_active_keys(c: Check, account: Account, engine: Engine) -> list[Finding]:
    return [
        c.finding(
            user.arn,
            f"User {user.name} has two active access keys.",
            f"aws iam update-access-key --user-name {user.name} --access-key-id KEY_ID "
            "--status Inactive",
            {"active_keys": [k.slot for k in cred.access_keys if k.active]},
        )
        for user, cred in with_report(account)
        if sum(1 for k in cred.access_keys if k.active) >= 2
    ]
