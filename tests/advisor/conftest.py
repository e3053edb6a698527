"""Harness for advisor tests: an account built through ops (as its root user, at chosen
times), read back either live (through ops, read-only) or as the files the aws CLI
writes for an export (policy documents as JSON objects, times as ISO 8601 with +00:00,
the credential report's CSV decoded), then checked.

The export files are written from the same account, so every check runs on the same
data both ways: `advise(mode)` with mode "live" or "export".
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chamberlain.advisor import export, live
from chamberlain.advisor.findings import Finding, Report, run_checks
from chamberlain.crypto.passwords import TEST_PARAMS
from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.crypto.tokens import TokenSealer
from chamberlain.domain import Account
from chamberlain.ops.core.context import Caller, RequestMeta, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.read_model import snapshot
from chamberlain.policy import PrincipalType
from chamberlain.store.memory import MemoryStore

ACCOUNT = "111111111111"
NOW = dt.datetime(2026, 11, 28, 12, 0, 0, tzinfo=dt.UTC)
LONG_AGO = NOW - dt.timedelta(days=200)
_ids = itertools.count()
MODES = ("live", "export")


def days_ago(n: float) -> dt.datetime:
    return NOW - dt.timedelta(days=n)


def cli_shape(value: Any) -> Any:
    """What the aws CLI prints for an API value: times as ISO 8601 (+00:00), policy
    documents (URL-decoded by botocore) as JSON objects."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("PolicyDocument", "AssumeRolePolicyDocument", "Document") and isinstance(
                v, str
            ):
                out[k] = json.loads(v)
            else:
                out[k] = cli_shape(v)
        return out
    if isinstance(value, list):
        return [cli_shape(v) for v in value]
    return value


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def arn(kind: str, name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:{kind}/{name}"


ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


class World:
    """One account and how to look at it."""

    def __init__(self, tmp_path: Path) -> None:
        store = MemoryStore()
        with store.unit_of_work() as uow:
            uow.repo(Account).add(
                Account(ACCOUNT, "root@example.com", "x", created=LONG_AGO - dt.timedelta(days=30))
            )
        key = generate_key()
        self.services = Services(
            store=store,
            secrets=SecretBox(key),
            tokens=TokenSealer(key),
            password_params=TEST_PARAMS,
        )
        self.tmp_path = tmp_path
        self.root = Caller(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, PrincipalType.ROOT)

    def call(self, caller: Caller, service: str, name: str, at: dt.datetime, **params: Any) -> Any:
        meta = RequestMeta(request_id=f"req-{next(_ids)}", now=at)
        return execute(self.services, caller, meta, service, name, params)

    def iam(self, name: str, at: dt.datetime = LONG_AGO, **params: Any) -> Any:
        return self.call(self.root, "iam", name, at, **params)

    def user_caller(self, name: str, key_id: str | None = None) -> Caller:
        user = self.iam("GetUser", UserName=name)["User"]
        return Caller(
            ACCOUNT,
            user["Arn"],
            user["UserId"],
            PrincipalType.USER,
            user_name=name,
            access_key_id=key_id,
        )

    # -------------------------------------------------------------------- builders

    def user(
        self,
        name: str,
        at: dt.datetime = LONG_AGO,
        *,
        policies: tuple[str, ...] = (),
        inline: dict[str, str] | None = None,
        groups: tuple[str, ...] = (),
        boundary: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        params: dict[str, Any] = {"UserName": name}
        if boundary:
            params["PermissionsBoundary"] = boundary
        if tags:
            params["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        self.iam("CreateUser", at, **params)
        for p in policies:
            self.iam("AttachUserPolicy", at, UserName=name, PolicyArn=p)
        for pname, text in (inline or {}).items():
            self.iam("PutUserPolicy", at, UserName=name, PolicyName=pname, PolicyDocument=text)
        for g in groups:
            self.iam("AddUserToGroup", at, UserName=name, GroupName=g)
        return arn("user", name)

    def group(
        self, name: str, *, policies: tuple[str, ...] = (), inline: dict[str, str] | None = None
    ) -> str:
        self.iam("CreateGroup", GroupName=name)
        for p in policies:
            self.iam("AttachGroupPolicy", GroupName=name, PolicyArn=p)
        for pname, text in (inline or {}).items():
            self.iam("PutGroupPolicy", GroupName=name, PolicyName=pname, PolicyDocument=text)
        return arn("group", name)

    def role(
        self,
        name: str,
        trust: str,
        at: dt.datetime = LONG_AGO,
        *,
        policies: tuple[str, ...] = (),
        inline: dict[str, str] | None = None,
        boundary: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        params: dict[str, Any] = {"RoleName": name, "AssumeRolePolicyDocument": trust}
        if boundary:
            params["PermissionsBoundary"] = boundary
        if tags:
            params["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        self.iam("CreateRole", at, **params)
        for p in policies:
            self.iam("AttachRolePolicy", at, RoleName=name, PolicyArn=p)
        for pname, text in (inline or {}).items():
            self.iam("PutRolePolicy", at, RoleName=name, PolicyName=pname, PolicyDocument=text)
        return arn("role", name)

    def policy(self, name: str, text: str) -> str:
        return str(self.iam("CreatePolicy", PolicyName=name, PolicyDocument=text)["Policy"]["Arn"])

    def access_key(self, user: str, at: dt.datetime = LONG_AGO) -> str:
        return str(self.iam("CreateAccessKey", at, UserName=user)["AccessKey"]["AccessKeyId"])

    def use_key(self, user: str, key_id: str, at: dt.datetime) -> None:
        """A call signed with the key at `at` (marks it used, as authn does)."""
        from chamberlain.domain import AccessKey

        with self.services.store.unit_of_work() as uow:
            repo = uow.repo(AccessKey)
            key = repo.get(ACCOUNT, key_id)
            assert key is not None
            import dataclasses

            repo.put(
                dataclasses.replace(
                    key, last_used=at, last_used_service="iam", last_used_region="us-east-1"
                )
            )

    def mfa(self, user: str | None = None, at: dt.datetime = LONG_AGO) -> None:
        """A virtual MFA device enabled for the user (the root user when None)."""
        from chamberlain.crypto import totp

        name = f"mfa-{user or 'root'}"
        device = self.iam("CreateVirtualMFADevice", at, VirtualMFADeviceName=name)
        serial = device["VirtualMFADevice"]["SerialNumber"]
        seed = device["VirtualMFADevice"]["Base32StringSeed"].decode("ascii")
        step = totp.step_at(at)
        params: dict[str, Any] = {
            "SerialNumber": serial,
            "AuthenticationCode1": totp.code_at(seed, step - 1),
            "AuthenticationCode2": totp.code_at(seed, step),
        }
        if user is not None:
            params["UserName"] = user
        self.iam("EnableMFADevice", at, **params)

    def login_profile(self, user: str, at: dt.datetime = LONG_AGO) -> None:
        self.iam("CreateLoginProfile", at, UserName=user, Password="Correct-Horse-9-Battery")

    def update_entity(self, kind: type, key: str, **changes: Any) -> None:
        """Set what sign-ins and sessions record (last use times) in the store, as the
        server does when they happen."""
        import dataclasses

        with self.services.store.unit_of_work() as uow:
            repo = uow.repo(kind)
            entity = repo.get(ACCOUNT, key)
            assert entity is not None
            repo.put(dataclasses.replace(entity, **changes))

    # ------------------------------------------------------------------- checking

    def export_files(
        self, *, report: bool = True, password: bool = True, summary: bool = True
    ) -> dict[str, str | None]:
        snap = snapshot(self.services, ACCOUNT, NOW, usage=False)
        files: dict[str, str | None] = {}
        details = self.tmp_path / "authorization-details.json"
        details.write_text(json.dumps(cli_shape(snap.authorization_details), indent=4))
        files["authorization_details"] = str(details)
        files["credential_report"] = files["password_policy"] = files["account_summary"] = None
        if report:
            path = self.tmp_path / "credential-report.csv"
            path.write_bytes(snap.credential_report)
            files["credential_report"] = str(path)
        if password:
            path = self.tmp_path / "password-policy.json"
            path.write_text(
                ""
                if snap.password_policy is None
                else json.dumps(cli_shape(snap.password_policy), indent=4)
            )
            files["password_policy"] = str(path)
        if summary:
            path = self.tmp_path / "account-summary.json"
            path.write_text(json.dumps(snap.summary, indent=4))
            files["account_summary"] = str(path)
        return files

    def advise(self, mode: str, **export_options: bool) -> Report:
        if mode == "live":
            return run_checks(live.load(self.services, ACCOUNT, NOW))
        files = self.export_files(**export_options)
        account = export.load(
            str(files["authorization_details"]),
            credential_report=files["credential_report"],
            password_policy=files["password_policy"],
            account_summary=files["account_summary"],
            now=NOW,
        )
        return run_checks(account)

    def findings(self, mode: str, check: str, **export_options: bool) -> list[Finding]:
        report = self.advise(mode, **export_options)
        assert check in report.checks_run, report.checks_not_run
        return [f for f in report.findings if f.check == check]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


Builder = Callable[[World], None]
