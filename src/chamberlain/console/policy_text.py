"""The account's password policy in words, shown wherever a password is chosen."""

from __future__ import annotations

from chamberlain.ops.core.context import Services
from chamberlain.ops.iam.login import (
    DEFAULT_CHARACTER_CLASSES,
    DEFAULT_MINIMUM_LENGTH,
    account_policy,
)


def describe_policy(services: Services, account_id: str) -> list[str]:
    with services.store.unit_of_work(read_only=True) as uow:
        policy = account_policy(uow, account_id)
    if policy is None:
        return [
            f"At least {DEFAULT_MINIMUM_LENGTH} characters",
            f"At least {DEFAULT_CHARACTER_CLASSES} of: upper case, lower case, numbers, symbols",
            "Not a common password, nor the account's name or email",
        ]
    rules = [f"At least {policy.minimum_password_length} characters"]
    for needed, text in (
        (policy.require_uppercase_characters, "At least one upper case letter (A-Z)"),
        (policy.require_lowercase_characters, "At least one lower case letter (a-z)"),
        (policy.require_numbers, "At least one number"),
        (policy.require_symbols, "At least one symbol: ! @ # $ % ^ & * ( ) _ + - = [ ] { } | '"),
    ):
        if needed:
            rules.append(text)
    if policy.password_reuse_prevention:
        rules.append(f"Not one of your last {policy.password_reuse_prevention} passwords")
    if policy.max_password_age:
        rules.append(f"Expires after {policy.max_password_age} days")
    rules.append("Not a common password")
    return rules
