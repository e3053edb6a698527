"""Every check: an account that trips it and a close one that does not, read live and
as an export. Thresholds: CIS AWS Foundations Benchmark v3.0.0 section 1 (and v1.2.0 for
the password character classes and expiry); AWS's IAM user guide, "Getting credential
reports" for the report's values (https://docs.aws.amazon.com/IAM/latest/UserGuide/
id_credentials_getting-report.html)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chamberlain.domain import Account, Role, User

from .conftest import (
    ACCOUNT,
    ADMIN,
    LONG_AGO,
    MODES,
    NOW,
    World,
    allow,
    arn,
    days_ago,
    doc,
)

ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
TRUST_ACCOUNT = doc(
    {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "sts:AssumeRole",
    }
)
mode = pytest.mark.parametrize("mode", MODES)


def resources(world: World, mode: str, check: str, **options: bool) -> list[str]:
    return sorted(f.resource for f in world.findings(mode, check, **options))


# ----------------------------------------------------------------------------- root


@mode
def test_root_access_key(world: World, mode: str) -> None:
    world.iam("CreateAccessKey")  # no UserName: the root user's own key
    assert resources(world, mode, "root-access-key") == [ROOT_ARN]


@mode
def test_root_access_key_inactive_is_fine(world: World, mode: str) -> None:
    key = world.iam("CreateAccessKey")["AccessKey"]["AccessKeyId"]
    world.iam("UpdateAccessKey", AccessKeyId=key, Status="Inactive")
    assert resources(world, mode, "root-access-key") == []


def test_root_access_key_from_the_summary_alone(world: World) -> None:
    world.iam("CreateAccessKey")
    [finding] = world.findings("export", "root-access-key", report=False)
    assert finding.evidence == {"source": "account summary", "AccountAccessKeysPresent": 1}


def test_root_checks_not_run_without_report_or_summary(world: World) -> None:
    report = world.advise("export", report=False, summary=False)
    not_run = dict(report.checks_not_run)
    assert "credential report" in not_run["root-access-key"]
    assert "root-mfa" in not_run and "user-console-no-mfa" in not_run
    assert "root-access-key" not in report.checks_run


@mode
def test_root_mfa(world: World, mode: str) -> None:
    [finding] = world.findings(mode, "root-mfa")
    assert finding.severity == "critical" and finding.controls == (
        "CIS AWS Foundations v3.0.0 1.5",
    )
    world.mfa(None)
    assert resources(world, mode, "root-mfa") == []


@mode
def test_root_used_recently(world: World, mode: str) -> None:
    world.update_entity(Account, "account", root_password_last_used=days_ago(10))
    [finding] = world.findings(mode, "root-used")
    assert "password_last_used" in finding.evidence["used"]


@mode
def test_root_used_long_ago_is_fine(world: World, mode: str) -> None:
    world.update_entity(Account, "account", root_password_last_used=days_ago(100))
    assert resources(world, mode, "root-used") == []


def test_root_used_seen_in_the_audit_trail(world: World) -> None:
    world.iam("ListUsers", at=days_ago(5))  # a call the trail records as the root user's
    [finding] = world.findings("live", "root-used")
    assert "audit_trail_last_call" in finding.evidence["used"]


# ------------------------------------------------------------------------ passwords


@mode
def test_password_policy_missing(world: World, mode: str) -> None:
    [finding] = world.findings(mode, "password-policy")
    assert finding.evidence == {"weakness": "none"}


@mode
def test_password_policy_weak_one_finding_per_weakness(world: World, mode: str) -> None:
    world.iam(
        "UpdateAccountPasswordPolicy",
        MinimumPasswordLength=8,
        RequireSymbols=True,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
        MaxPasswordAge=90,
        PasswordReusePrevention=24,
    )
    [finding] = world.findings(mode, "password-policy")
    assert finding.evidence == {"weakness": "length", "MinimumPasswordLength": 8}
    world.iam("UpdateAccountPasswordPolicy", MinimumPasswordLength=14)
    weaknesses = {f.evidence["weakness"] for f in world.findings(mode, "password-policy")}
    assert weaknesses == {
        "reuse",
        "require_uppercase_characters",
        "require_lowercase_characters",
        "require_symbols",
        "require_numbers",
        "expiry",
    }


@mode
def test_password_policy_strong(world: World, mode: str) -> None:
    world.iam(
        "UpdateAccountPasswordPolicy",
        MinimumPasswordLength=14,
        RequireSymbols=True,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
        MaxPasswordAge=90,
        PasswordReusePrevention=24,
    )
    assert world.findings(mode, "password-policy") == []


def test_password_policy_not_run_without_its_file(world: World) -> None:
    report = world.advise("export", password=False)
    assert dict(report.checks_not_run)["password-policy"].startswith("needs the password policy")


# ------------------------------------------------------------------------------ MFA


@mode
def test_user_console_no_mfa(world: World, mode: str) -> None:
    world.user("alice")
    world.login_profile("alice")
    world.user("bob")
    world.login_profile("bob")
    world.mfa("bob")
    world.user("carol")  # no password: not a console user
    assert resources(world, mode, "user-console-no-mfa") == [arn("user", "alice")]


@mode
def test_privileged_user_without_mfa(world: World, mode: str) -> None:
    world.group("admins", policies=(ADMIN,))
    world.user("alice", groups=("admins",))
    world.user("bob", groups=("admins",))
    world.mfa("bob")
    world.user("iamadmin", inline={"p": doc(allow("iam:AttachUserPolicy"))})
    world.user("reader", inline={"p": doc(allow("iam:Get*"))})
    found = {f.resource: f.evidence["privilege"] for f in world.findings(mode, "privileged-no-mfa")}
    assert found == {
        arn("user", "alice"): "full administrator",
        arn("user", "iamadmin"): "IAM administrator (iam:AttachUserPolicy)",
    }


@mode
def test_privileged_role_assumable_without_mfa(world: World, mode: str) -> None:
    world.role("open", TRUST_ACCOUNT, policies=(ADMIN,))
    mfa_trust = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    )
    world.role("guarded", mfa_trust, policies=(ADMIN,))
    service = doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    )
    world.role("machine", service, policies=(ADMIN,))
    world.role("small", TRUST_ACCOUNT, inline={"p": doc(allow("s3:GetObject"))})
    assert resources(world, mode, "privileged-no-mfa") == [arn("role", "open")]


# ---------------------------------------------------------------------- credentials


@mode
def test_access_key_at_setup(world: World, mode: str) -> None:
    world.user("alice", at=days_ago(30))
    world.login_profile("alice", at=days_ago(30))
    world.access_key("alice", at=days_ago(30))
    world.user("bob", at=days_ago(30))
    world.login_profile("bob", at=days_ago(30))
    world.access_key("bob", at=days_ago(20))  # made later, when needed
    world.user("carol", at=days_ago(30))
    world.login_profile("carol", at=days_ago(30))
    key = world.access_key("carol", at=days_ago(30))
    world.use_key("carol", key, days_ago(29))  # used: it was wanted
    assert resources(world, mode, "access-key-at-setup") == [arn("user", "alice")]


@mode
def test_credential_unused(world: World, mode: str) -> None:
    world.user("stale", at=days_ago(100))
    world.use_key("stale", world.access_key("stale", at=days_ago(100)), days_ago(50))
    world.user("fresh", at=days_ago(100))
    world.use_key("fresh", world.access_key("fresh", at=days_ago(100)), days_ago(10))
    world.user("never", at=days_ago(60))
    world.access_key("never", at=days_ago(60))
    world.user("new", at=days_ago(10))
    world.access_key("new", at=days_ago(10))
    world.user("console", at=days_ago(100))
    world.login_profile("console", at=days_ago(100))
    world.user("signedin", at=days_ago(100))
    world.login_profile("signedin", at=days_ago(100))
    world.update_entity(User, "signedin", password_last_used=days_ago(3))
    found = {
        (f.resource, f.evidence["credential"]) for f in world.findings(mode, "credential-unused")
    }
    assert found == {
        (arn("user", "stale"), "access_key_1"),
        (arn("user", "never"), "access_key_1"),
        (arn("user", "console"), "password"),
    }


@mode
def test_access_key_old(world: World, mode: str) -> None:
    world.user("old")
    world.access_key("old", at=days_ago(100))
    world.user("young")
    world.access_key("young", at=days_ago(80))
    world.user("inactive")
    key = world.access_key("inactive", at=days_ago(100))
    world.iam("UpdateAccessKey", UserName="inactive", AccessKeyId=key, Status="Inactive")
    assert resources(world, mode, "access-key-old") == [arn("user", "old")]


@mode
def test_two_active_keys(world: World, mode: str) -> None:
    world.user("two")
    world.access_key("two")
    world.access_key("two")
    world.user("rotated")
    old = world.access_key("rotated")
    world.access_key("rotated")
    world.iam("UpdateAccessKey", UserName="rotated", AccessKeyId=old, Status="Inactive")
    assert resources(world, mode, "two-active-keys") == [arn("user", "two")]


# --------------------------------------------------------------------------- groups


@mode
def test_user_direct_policy(world: World, mode: str) -> None:
    readonly = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    world.group("readers", policies=(readonly,))
    world.user("direct", policies=(readonly,))
    world.user("inline", inline={"p": doc(allow("s3:GetObject"))})
    world.user("grouped", groups=("readers",))
    assert resources(world, mode, "user-direct-policy") == [
        arn("user", "direct"),
        arn("user", "inline"),
    ]


# ------------------------------------------------------------------ least privilege


@mode
def test_admin_policy(world: World, mode: str) -> None:
    star = world.policy("Star", doc(allow("*")))
    almost = world.policy(
        "AllButOne",
        doc({"Effect": "Allow", "NotAction": "route53domains:TransferDomain", "Resource": "*"}),
    )
    iam_only = world.policy("IamStar", doc(allow("iam:*")))
    world.role(
        "a", TRUST_ACCOUNT, policies=(star, iam_only, "arn:aws:iam::aws:policy/PowerUserAccess")
    )
    world.group("g", policies=(almost,))
    world.policy("Unattached", doc(allow("*")))
    world.user("u", inline={"everything": doc(allow("*"))})
    assert resources(world, mode, "admin-policy") == sorted([almost, star, arn("user", "u")])


# ------------------------------------------------------------------------ delegation


@mode
def test_role_trust_broad(world: World, mode: str) -> None:
    other = "arn:aws:iam::222222222222:root"
    world.role(
        "everyone", doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})
    )
    world.role(
        "partner", doc({"Effect": "Allow", "Principal": {"AWS": other}, "Action": "sts:AssumeRole"})
    )
    world.role(
        "partner-ext",
        doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": other},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "x-123"}},
            }
        ),
    )
    world.role("local", TRUST_ACCOUNT)
    world.role(
        "google",
        doc(
            {
                "Effect": "Allow",
                "Principal": {"Federated": "accounts.google.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
            }
        ),
    )
    world.role(
        "google-aud",
        doc(
            {
                "Effect": "Allow",
                "Principal": {"Federated": "accounts.google.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {"accounts.google.com:aud": "app-1"}},
            }
        ),
    )
    assert resources(world, mode, "role-trust-broad") == [
        arn("role", "everyone"),
        arn("role", "google"),
        arn("role", "partner"),
    ]


# ----------------------------------------------------------------------------- roles


@mode
def test_unused_role(world: World, mode: str) -> None:
    world.role("idle", TRUST_ACCOUNT, at=days_ago(200))
    world.role("stale", TRUST_ACCOUNT, at=days_ago(200))
    world.update_entity(Role, "stale", last_used=days_ago(95))
    world.role("busy", TRUST_ACCOUNT, at=days_ago(200))
    world.update_entity(Role, "busy", last_used=days_ago(5))
    world.role("new", TRUST_ACCOUNT, at=days_ago(20))
    assert resources(world, mode, "unused-role") == [arn("role", "idle"), arn("role", "stale")]


def test_unused_role_unknown_last_use_is_no_finding(world: World) -> None:
    """An export without RoleLastUsed (older CLI output) says nothing about use."""
    import json

    world.role("idle", TRUST_ACCOUNT, at=days_ago(200))
    files = world.export_files()
    path = str(files["authorization_details"])
    data = json.loads(Path(path).read_text())
    for role in data["RoleDetailList"]:
        role.pop("RoleLastUsed")
    Path(path).write_text(json.dumps(data))
    from chamberlain.advisor import export
    from chamberlain.advisor.findings import run_checks

    report = run_checks(export.load(path, now=NOW))
    assert [f for f in report.findings if f.check == "unused-role"] == []


# ------------------------------------------------------------------- live-only checks


def test_unused_permissions_live(world: World) -> None:
    policy = doc(allow(["iam:*", "sts:GetCallerIdentity"]))
    world.user("idle", at=days_ago(200), inline={"p": policy})
    world.user("busy", at=days_ago(200), inline={"p": policy})
    world.call(world.user_caller("busy"), "iam", "ListUsers", days_ago(3))
    world.user("young", at=days_ago(10), inline={"p": policy})
    found = {f.resource: f.evidence for f in world.findings("live", "unused-permissions")}
    assert set(found) == {arn("user", "idle"), arn("user", "busy")}
    assert found[arn("user", "idle")]["unused_services"] == ["iam", "sts"]
    assert found[arn("user", "busy")]["unused_services"] == ["sts"]
    assert found[arn("user", "busy")]["policy_that_would_remain"]["Statement"][0]["Action"] == [
        "iam:*"
    ]


def test_unused_permissions_not_run_on_export(world: World) -> None:
    assert "unused-permissions" in dict(world.advise("export").checks_not_run)


def _certificate(days_valid: int) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web.example.com")])
    start = LONG_AGO - dt.timedelta(days=10)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days_valid))
        .sign(key, hashes.SHA256())
    )
    body = cert.public_bytes(serialization.Encoding.PEM).decode()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return body, private


def test_expired_server_certificate_live(world: World) -> None:
    for name, days in (("expired", 100), ("valid", 400)):
        body, key = _certificate(days)
        world.iam(
            "UploadServerCertificate",
            ServerCertificateName=name,
            CertificateBody=body,
            PrivateKey=key,
        )
    [finding] = world.findings("live", "expired-server-certificate")
    assert finding.resource == f"arn:aws:iam::{ACCOUNT}:server-certificate/expired"
    assert "expired-server-certificate" in dict(world.advise("export").checks_not_run)


def test_audit_off_live(world: World) -> None:
    assert world.findings("live", "audit-off") == []
    world.services.audit = False
    [finding] = world.findings("live", "audit-off")
    assert finding.evidence == {"enabled": False}
    assert "audit-off" in dict(world.advise("export").checks_not_run)


def test_audit_trail_that_fails_verification(world: World) -> None:
    import dataclasses

    world.user("alice")
    store = world.services.store
    events = store._log[0][ACCOUNT]  # the stored trail, changed behind the server's back
    events[0] = dataclasses.replace(events[0], record=events[0].record.replace("alice", "mallory"))
    [finding] = world.findings("live", "audit-off")
    assert "verification" in finding.message


def test_checks_run_in_the_order_of_the_issue(world: World) -> None:
    """Every check of issue 16's table, with its exact id, runs live."""
    report = world.advise("live")
    assert report.checks_run == (
        "root-access-key",
        "root-mfa",
        "root-used",
        "password-policy",
        "user-console-no-mfa",
        "privileged-no-mfa",
        "access-key-at-setup",
        "credential-unused",
        "access-key-old",
        "two-active-keys",
        "user-direct-policy",
        "admin-policy",
        "privilege-escalation",
        "role-trust-broad",
        "unused-role",
        "unused-permissions",
        "expired-server-certificate",
        "audit-off",
    )
    assert report.checks_not_run == ()


def test_json_for_the_console(world: World) -> None:
    from chamberlain.advisor.api import live_findings

    world.iam("CreateAccessKey")
    document = live_findings(world.services, ACCOUNT, NOW)
    assert document["account"] == ACCOUNT and document["source"] == "live"
    assert document["generated_at"] == "2026-11-28T12:00:00Z"
    assert document["checks_not_run"] == []
    [root_key] = [f for f in document["findings"] if f["check"] == "root-access-key"]
    assert root_key == {
        "check": "root-access-key",
        "severity": "critical",
        "practice": "root",
        "resource": ROOT_ARN,
        "message": "The root user has an active access key.",
        "remediation": "aws iam delete-access-key --access-key-id ROOT_ACCESS_KEY_ID "
        "(signed in as root)",
        "controls": ["CIS AWS Foundations v3.0.0 1.4"],
        "evidence": {"source": "credential report", "active_keys": [1]},
    }
