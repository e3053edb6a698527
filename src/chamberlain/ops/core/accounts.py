"""Creating accounts: an administration step (the CLI's), not an AWS API operation.

An account is its id and its root user (email + argon2id password hash). Everything
else an account starts with (the Administrators group, the first admin user and its
access key) is created through the ordinary operations, as the root user.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string

from chamberlain.crypto.ids import is_account_id
from chamberlain.crypto.passwords import hash_password
from chamberlain.domain import Account
from chamberlain.ops.core.context import Caller, Services
from chamberlain.ops.core.errors import EntityAlreadyExists, InvalidInput
from chamberlain.policy import PrincipalType

_PASSWORD_ALPHABET = string.ascii_letters + string.digits + "!@#$%^&*()_+-=[]{}"


def generate_root_password() -> str:
    """24 random characters with every class AWS's password policies can require."""
    while True:
        candidate = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(24))
        classes = (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum())
        if all(any(test(c) for c in candidate) for test in classes):
            return candidate


def create_account(
    services: Services, account_id: str, email: str, root_password: str, now: dt.datetime
) -> Account:
    if not is_account_id(account_id):
        raise InvalidInput(f"Account id {account_id!r} is not 12 digits.")
    if "@" not in email or len(email) > 254:
        raise InvalidInput("The root user's email address is not valid.")
    password_hash = hash_password(root_password, services.password_params)
    with services.store.unit_of_work() as uow:
        uow.lock_account(account_id)
        repo = uow.repo(Account)
        if repo.get(account_id, "account") is not None:
            raise EntityAlreadyExists(f"Account {account_id} already exists.")
        if repo.find_by_ref(email.lower()):
            raise EntityAlreadyExists(f"An account with email {email} already exists.")
        account = Account(
            account_id=account_id, email=email, root_password_hash=password_hash, created=now
        )
        repo.add(account)
    return account


def root_caller(account_id: str) -> Caller:
    return Caller(
        account_id=account_id,
        arn=f"arn:aws:iam::{account_id}:root",
        principal_id=account_id,
        type=PrincipalType.ROOT,
    )
