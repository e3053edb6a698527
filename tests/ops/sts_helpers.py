"""Helpers for the STS tests: run STS and IAM operations at a given time, build users,
roles and MFA devices, and turn issued credentials into Callers (as authn will)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import dataclass
from typing import Any

from chamberlain.crypto import totp
from chamberlain.domain import Account, MfaDevice
from chamberlain.ops.core.context import Caller, RequestMeta, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.sts.sessions import caller_from_token
from chamberlain.policy import PrincipalType
from chamberlain.protocol.models import find_operation, validate_input
from chamberlain.protocol.xml_out import serialize_response

from .conftest import ACCOUNT, NOW, root_caller

OTHER = "222222222222"
_ids = itertools.count()


def allow(actions: str | list[str], resource: str = "*", condition: Any = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def deny(actions: str | list[str], resource: str = "*", condition: Any = None) -> str:
    statement: dict[str, Any] = {"Effect": "Deny", "Action": actions, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def trust(
    principal: str | list[str],
    actions: str | list[str] = "sts:AssumeRole",
    condition: Any = None,
) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": actions,
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def meta(now: dt.datetime = NOW, region: str = "us-east-1") -> RequestMeta:
    return RequestMeta(request_id=f"sts-{next(_ids)}", now=now, region=region)


@dataclass
class World:
    """One in-memory server: accounts, principals, and calls as anyone at any time."""

    services: Services

    # ------------------------------------------------------------------ calls

    def sts(self, caller: Caller, name: str, *, now: dt.datetime = NOW, **params: Any) -> Any:
        """An STS call with model-valid input whose output serializes (as over the wire)."""
        op = find_operation("sts", name)
        assert op is not None
        assert validate_input(op.input_shape, params) == []
        out = execute(self.services, caller, meta(now), "sts", name, params)
        serialize_response("sts", name, out, "req")
        return out

    def raw_sts(self, caller: Caller, name: str, *, now: dt.datetime = NOW, **params: Any) -> Any:
        """An STS call as a caller not coming over the wire (no model validation)."""
        return execute(self.services, caller, meta(now), "sts", name, params)

    def iam(self, caller: Caller, name: str, *, now: dt.datetime = NOW, **params: Any) -> Any:
        return execute(self.services, caller, meta(now), "iam", name, params)

    def root_iam(self, name: str, account: str = ACCOUNT, **params: Any) -> Any:
        return self.iam(root_caller(account), name, **params)

    def session(self, credentials: dict[str, Any], now: dt.datetime = NOW) -> Caller:
        caller, secret = caller_from_token(
            self.services, credentials["AccessKeyId"], credentials["SessionToken"], now
        )
        assert secret == credentials["SecretAccessKey"]
        return caller

    # ----------------------------------------------------------------- builders

    def add_account(self, account: str = OTHER) -> None:
        with self.services.store.unit_of_work() as uow:
            uow.repo(Account).add(
                Account(
                    account_id=account,
                    email=f"root@{account}.example.com",
                    root_password_hash="x",
                    created=NOW,
                )
            )

    def user(
        self,
        name: str,
        policy: str | None = None,
        *,
        account: str = ACCOUNT,
        tags: list[dict[str, str]] | None = None,
    ) -> Caller:
        params: dict[str, Any] = {"UserName": name}
        if tags:
            params["Tags"] = tags
        user = self.root_iam("CreateUser", account, **params)["User"]
        if policy is not None:
            self.root_iam(
                "PutUserPolicy", account, UserName=name, PolicyName="p", PolicyDocument=policy
            )
        return Caller(
            account_id=account,
            arn=user["Arn"],
            principal_id=user["UserId"],
            type=PrincipalType.USER,
            user_name=name,
            access_key_id="AKIAEXAMPLEEXAMPLE01",
        )

    def role(
        self,
        name: str,
        trust_policy: str,
        policy: str | None = None,
        *,
        account: str = ACCOUNT,
        path: str = "/",
        max_session: int | None = None,
        boundary: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "RoleName": name,
            "AssumeRolePolicyDocument": trust_policy,
            "Path": path,
        }
        if max_session is not None:
            params["MaxSessionDuration"] = max_session
        if boundary is not None:
            params["PermissionsBoundary"] = boundary
        if tags:
            params["Tags"] = tags
        role = self.root_iam("CreateRole", account, **params)["Role"]
        if policy is not None:
            self.root_iam(
                "PutRolePolicy", account, RoleName=name, PolicyName="p", PolicyDocument=policy
            )
        return role

    def mfa(self, user_name: str, *, account: str = ACCOUNT, name: str | None = None) -> tuple:
        """An enabled virtual MFA device of `user_name` (domain.ROOT for the root user):
        (serial number, seed)."""
        serial = f"arn:aws:iam::{account}:mfa/{name or user_name.strip('<>')}"
        seed = totp.new_seed()
        device = MfaDevice(
            account_id=account,
            serial_number=serial,
            seed_encrypted=self.services.secrets.encrypt(seed.encode(), aad=serial.encode()),
            created=NOW,
            user_name=user_name,
            enabled=NOW,
        )
        with self.services.store.unit_of_work() as uow:
            uow.repo(MfaDevice).add(device)
        return serial, seed


def code(seed: str, now: dt.datetime = NOW) -> str:
    return totp.code_at(seed, totp.step_at(now))


def wrong_code(seed: str, now: dt.datetime = NOW) -> str:
    """A well-formed code that no step of the verification window accepts."""
    step = totp.step_at(now)
    window = {totp.code_at(seed, s) for s in (step - 1, step, step + 1)}
    return next(c for c in (f"{n:06d}" for n in range(10**6)) if c not in window)
