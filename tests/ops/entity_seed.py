"""Entities written straight into the store, for ops tests that need users, groups, roles
and policies without going through the operations that create them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from chamberlain.crypto.ids import Prefix, new_unique_id
from chamberlain.domain import (
    Attachment,
    BoundaryUse,
    Group,
    InlinePolicy,
    InstanceProfile,
    ManagedPolicy,
    Membership,
    PolicyVersion,
    Role,
    Tags,
    User,
)
from chamberlain.ops.core.context import Caller, Services

from .conftest import ACCOUNT, NOW, user_caller

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def add_user(
    services: Services, name: str, statements: Sequence[dict[str, Any]] = ()
) -> Caller:
    """User `name` with an inline policy of `statements` (none when empty): its caller."""
    with services.store.unit_of_work() as uow:
        uow.repo(User).add(
            User(
                ACCOUNT,
                new_unique_id(Prefix.USER),
                name,
                "/",
                f"arn:aws:iam::{ACCOUNT}:user/{name}",
                NOW,
            )
        )
        if statements:
            document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
            uow.repo(InlinePolicy).add(InlinePolicy(ACCOUNT, "user", name, "p", document))
    return user_caller(name)


class Seed:
    def __init__(self, services: Services) -> None:
        self.store = services.store
        self._n = 0

    def _put(self, *entities: Any) -> None:
        with self.store.unit_of_work() as uow:
            for entity in entities:
                uow.repo(type(entity)).put(entity)

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n:017d}"

    def user(
        self, name: str, *, path: str = "/", boundary: str | None = None, tags: Tags = ()
    ) -> User:
        user = User(
            account_id=ACCOUNT,
            user_id=self._id("AIDA"),
            name=name,
            path=path,
            arn=f"arn:aws:iam::{ACCOUNT}:user{path}{name}",
            created=NOW,
            permissions_boundary=boundary,
            tags=tags,
        )
        self._put(user)
        if boundary:  # the boundaries' index, as ops/core/policy_usage.py keeps it
            self._put(BoundaryUse(ACCOUNT, "user", name, boundary))
        return user

    def group(self, name: str, *, path: str = "/") -> Group:
        group = Group(
            account_id=ACCOUNT,
            group_id=self._id("AGPA"),
            name=name,
            path=path,
            arn=f"arn:aws:iam::{ACCOUNT}:group{path}{name}",
            created=NOW,
        )
        self._put(group)
        return group

    def member(self, group: str, user: str) -> None:
        self._put(Membership(account_id=ACCOUNT, group_name=group, user_name=user))

    def role(self, name: str, *, boundary: str | None = None, **fields: Any) -> Role:
        role = Role(
            account_id=ACCOUNT,
            role_id=self._id("AROA"),
            name=name,
            path="/",
            arn=f"arn:aws:iam::{ACCOUNT}:role/{name}",
            assume_role_policy=TRUST,
            created=NOW,
            permissions_boundary=boundary,
            **fields,
        )
        self._put(role)
        if boundary:
            self._put(BoundaryUse(ACCOUNT, "role", name, boundary))
        return role

    def instance_profile(self, name: str, role: str) -> InstanceProfile:
        profile = InstanceProfile(
            account_id=ACCOUNT,
            instance_profile_id=self._id("AIPA"),
            name=name,
            path="/",
            arn=f"arn:aws:iam::{ACCOUNT}:instance-profile/{name}",
            created=NOW,
            role_names=(role,),
        )
        self._put(profile)
        return profile

    def inline(self, kind: str, name: str, policy_name: str, document: str) -> None:
        self._put(
            InlinePolicy(
                account_id=ACCOUNT,
                principal_kind=kind,
                principal_name=name,
                policy_name=policy_name,
                document=document,
            )
        )

    def managed(self, name: str, *documents: str, attachments: int = 0, boundaries: int = 0) -> str:
        """A customer managed policy whose last document is the default version."""
        arn = f"arn:aws:iam::{ACCOUNT}:policy/{name}"
        versions = [
            PolicyVersion(
                account_id=ACCOUNT,
                policy_arn=arn,
                version_id=f"v{i}",
                document=doc,
                created=NOW,
            )
            for i, doc in enumerate(documents, 1)
        ]
        self._put(
            ManagedPolicy(
                account_id=ACCOUNT,
                policy_id=self._id("ANPA"),
                name=name,
                path="/",
                arn=arn,
                default_version_id=f"v{len(documents)}",
                created=NOW,
                updated=NOW,
                attachment_count=attachments,
                boundary_usage_count=boundaries,
                next_version=len(documents) + 1,
            ),
            *versions,
        )
        return arn

    def attach(self, kind: str, name: str, arn: str) -> None:
        self._put(
            Attachment(account_id=ACCOUNT, principal_kind=kind, principal_name=name, policy_arn=arn)
        )
