"""The account password policy (the seed's "Passwords")."""

from __future__ import annotations

from chamberlain.advisor.checks.common import CIS3, CIS12, cis
from chamberlain.advisor.engine import Engine
from chamberlain.advisor.findings import Check, Finding, NotRun, check
from chamberlain.advisor.model import Account

MIN_LENGTH = 14  # CIS v3.0.0 1.8
REUSE = 24  # CIS v3.0.0 1.9
MAX_AGE = 90  # CIS v1.2.0 1.11

FIX = (
    "aws iam update-account-password-policy --minimum-password-length 14 "
    "--password-reuse-prevention 24 --require-uppercase-characters "
    "--require-lowercase-characters --require-numbers --require-symbols --max-password-age 90 "
    "--allow-users-to-change-password"
)


@check(
    "password-policy",
    severity="medium",
    practice="passwords",
    controls=(
        cis(CIS3, "1.8"),
        cis(CIS3, "1.9"),
        cis(CIS12, "1.5"),
        cis(CIS12, "1.6"),
        cis(CIS12, "1.7"),
        cis(CIS12, "1.8"),
        cis(CIS12, "1.11"),
    ),
    cites="CIS v3.0.0 1.8 'Ensure IAM password policy requires minimum length of 14 or "
    "greater', 1.9 'Ensure IAM password policy prevents password reuse' (24); CIS v1.2.0 "
    "1.5-1.8 'requires at least one uppercase letter / lowercase letter / symbol / number', "
    "1.11 'expires passwords within 90 days or less'.",
)
def password_policy(c: Check, account: Account, engine: Engine) -> list[Finding]:
    if not account.password_policy_known:
        raise NotRun("needs the password policy (--password-policy)")
    policy = account.password_policy
    resource = account.root_arn
    if policy is None:
        return [
            c.finding(resource, "The account has no password policy.", FIX, {"weakness": "none"})
        ]
    weaknesses: list[tuple[str, str, dict[str, object]]] = []
    if policy.minimum_password_length < MIN_LENGTH:
        weaknesses.append(
            (
                "length",
                f"The minimum password length is {policy.minimum_password_length}, "
                f"below {MIN_LENGTH}.",
                {"MinimumPasswordLength": policy.minimum_password_length},
            )
        )
    if (policy.password_reuse_prevention or 0) < REUSE:
        weaknesses.append(
            (
                "reuse",
                f"Password reuse prevention remembers {policy.password_reuse_prevention or 0} "
                f"passwords, below {REUSE}.",
                {"PasswordReusePrevention": policy.password_reuse_prevention},
            )
        )
    for flag, name in (
        ("require_uppercase_characters", "an uppercase letter"),
        ("require_lowercase_characters", "a lowercase letter"),
        ("require_symbols", "a symbol"),
        ("require_numbers", "a number"),
    ):
        if not getattr(policy, flag):
            weaknesses.append((flag, f"Passwords need not contain {name}.", {flag: False}))
    if policy.max_password_age is None or policy.max_password_age > MAX_AGE:
        weaknesses.append(
            (
                "expiry",
                f"Passwords do not expire within {MAX_AGE} days.",
                {"MaxPasswordAge": policy.max_password_age},
            )
        )
    return [
        c.finding(resource, message, FIX, {"weakness": weakness, **evidence})
        for weakness, message, evidence in weaknesses
    ]
