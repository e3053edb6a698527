"""No secret at rest or in logs: every kind of secret the server handles is created through
real API calls (access key secrets, root and console passwords, passwords given to
ChangePassword, rejected ones too, MFA seeds and codes, session credentials, service-specific
credential passwords, a server certificate's private key), then the database files, the
server's log (at debug level), the audit events (LookupEvents and the raw table) and the
error messages clients saw are searched for each secret in many encodings. None is found.

Issue #15: "0 secrets at rest or in logs in 27 secrets x 14 encodings"."""

from __future__ import annotations

import base64
import datetime as dt
import json
import sqlite3
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from chamberlain.crypto.totp import code_at, step_at

from .conftest import ACCOUNT, Server, free_port, run_cli, start_server

ROOT_PASSWORD = "Root-Secret-Passw0rd-Kx81!qZ"
READ_KEYS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["iam:ChangePassword", "iam:GetAccountPasswordPolicy", "sts:*"],
                "Resource": "*",
            }
        ],
    }
)


def encodings(secret: str) -> dict[str, bytes]:
    """The forms a secret could take in a file or a log line (searched case-insensitively,
    which also covers upper- and lower-cased copies)."""
    raw = secret.encode()
    return {
        "raw": raw,
        "base64": base64.b64encode(raw),
        "base64 unpadded": base64.b64encode(raw).rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "base32": base64.b32encode(raw).rstrip(b"="),
        "hex": raw.hex().encode(),
        "url-encoded": urllib.parse.quote(secret, safe="").encode(),
        "form-encoded": urllib.parse.quote_plus(secret).encode(),
        "json-escaped": json.dumps(secret)[1:-1].encode(),
        "json-escaped ascii": json.dumps(secret, ensure_ascii=True)[1:-1].encode(),
        "xml-escaped": escape(secret, {'"': "&quot;", "'": "&apos;"}).encode(),
        "utf-16-le": secret.encode("utf-16-le"),
        "utf-16-be": secret.encode("utf-16-be"),
        "utf-32-le": secret.encode("utf-32-le"),
        "reversed": raw[::-1],
    }


@dataclass
class Secrets:
    """Long secrets (searched in every encoding) and short codes (searched as a value:
    quoted, after '=', between tags), by what they are."""

    long: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    client_errors: list[str] = field(default_factory=list)

    def add(self, name: str, value: str | bytes) -> None:
        text = value.decode() if isinstance(value, bytes) else value
        assert len(text) >= 16, name
        self.long[name] = text


@dataclass
class World:
    server: Server
    secrets: Secrets


def _private_key_and_cert() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secret-scan.example.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem_key, cert.public_bytes(serialization.Encoding.PEM).decode()


def _expect_error(secrets: Secrets, call: object, **kwargs: object) -> None:
    assert callable(call)
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    secrets.client_errors.append(json.dumps(caught.value.response["Error"]))


def make_secrets(server: Server, secrets: Secrets) -> None:
    iam, sts = server.client("iam"), server.client("sts")
    creds = server.credentials.read_text()
    for line in creds.splitlines():
        if line.startswith("aws_secret_access_key"):
            secrets.add(f"init {len(secrets.long)}", line.split("=", 1)[1].strip())
    secrets.add("root password", ROOT_PASSWORD)

    iam.create_user(UserName="holder")
    iam.put_user_policy(UserName="holder", PolicyName="self", PolicyDocument=READ_KEYS)
    key = iam.create_access_key(UserName="holder")["AccessKey"]
    secrets.add("holder access key", key["SecretAccessKey"])
    second = iam.create_access_key(UserName="holder")["AccessKey"]
    secrets.add("second access key", second["SecretAccessKey"])
    iam.delete_access_key(UserName="holder", AccessKeyId=second["AccessKeyId"])

    # Console passwords: created, updated, changed by the user, and rejected ones.
    first, updated, changed = (
        "Console-Passw0rd-First-7Hq!",
        "Console-Passw0rd-Updated-3Lz!",
        "Console-Passw0rd-Changed-9Rw!",
    )
    iam.create_login_profile(UserName="holder", Password=first)
    iam.update_login_profile(UserName="holder", Password=updated)
    holder_iam = server.client_with_keys("iam", key["AccessKeyId"], key["SecretAccessKey"])
    wrong_old = "Wrong-Old-Passw0rd-Guess-5Tt!"
    _expect_error(secrets, holder_iam.change_password, OldPassword=wrong_old, NewPassword=changed)
    holder_iam.change_password(OldPassword=updated, NewPassword=changed)
    iam.update_account_password_policy(MinimumPasswordLength=40)
    too_short = "Too-Short-For-Policy-Passw0rd-1!"
    _expect_error(secrets, iam.create_login_profile, UserName="admin", Password=too_short)
    iam.delete_account_password_policy()
    for name, value in [
        ("console password", first),
        ("updated console password", updated),
        ("changed console password", changed),
        ("wrong old password", wrong_old),
        ("rejected password", too_short),
    ]:
        secrets.add(name, value)

    # MFA: the seed, the codes that enable the device, and a session token's code.
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="scan")["VirtualMFADevice"]
    seed = device["Base32StringSeed"].decode()
    secrets.add("MFA seed", seed)
    raw_seed = base64.b32decode(seed + "=" * (-len(seed) % 8))
    secrets.add("MFA seed bytes (hex)", raw_seed.hex())
    secrets.add("MFA seed bytes (base64)", base64.b64encode(raw_seed).decode())
    step = step_at(dt.datetime.now(dt.UTC))
    codes = [code_at(seed, step - 1), code_at(seed, step), code_at(seed, step + 1)]
    iam.enable_mfa_device(
        UserName="holder",
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=codes[0],
        AuthenticationCode2=codes[1],
    )
    holder_sts = server.client_with_keys("sts", key["AccessKeyId"], key["SecretAccessKey"])
    session = holder_sts.get_session_token(SerialNumber=device["SerialNumber"], TokenCode=codes[2])
    for n, code in enumerate(codes):
        secrets.codes[f"MFA code {n}"] = code
    secrets.add("MFA session secret", session["Credentials"]["SecretAccessKey"])
    secrets.add("MFA session token", session["Credentials"]["SessionToken"])

    # Session credentials from GetSessionToken and AssumeRole.
    plain = sts.get_session_token()["Credentials"]
    secrets.add("session secret", plain["SecretAccessKey"])
    secrets.add("session token", plain["SessionToken"])
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName="scanned", AssumeRolePolicyDocument=json.dumps(trust))
    role = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/scanned", RoleSessionName="scan")
    secrets.add("role session secret", role["Credentials"]["SecretAccessKey"])
    secrets.add("role session token", role["Credentials"]["SessionToken"])
    # A session's credentials used for a call: they pass through authentication.
    used = server.client_with_keys(
        "sts",
        role["Credentials"]["AccessKeyId"],
        role["Credentials"]["SecretAccessKey"],
        role["Credentials"]["SessionToken"],
    )
    used.get_caller_identity()

    # Service-specific credentials: created and reset.
    made = iam.create_service_specific_credential(
        UserName="holder", ServiceName="codecommit.amazonaws.com"
    )["ServiceSpecificCredential"]
    secrets.add("service password", made["ServicePassword"])
    reset = iam.reset_service_specific_credential(
        UserName="holder", ServiceSpecificCredentialId=made["ServiceSpecificCredentialId"]
    )["ServiceSpecificCredential"]
    secrets.add("reset service password", reset["ServicePassword"])

    # A server certificate's private key (accepted by UploadServerCertificate).
    pem_key, pem_cert = _private_key_and_cert()
    iam.upload_server_certificate(
        ServerCertificateName="scan", CertificateBody=pem_cert, PrivateKey=pem_key
    )
    body = "".join(pem_key.strip().splitlines()[1:-1])
    secrets.add("private key PEM", pem_key)
    secrets.add("private key base64 (start)", body[:64])
    secrets.add("private key base64 (end)", body[-64:])
    der = base64.b64decode(body)
    secrets.add("private key DER (hex, middle)", der[100:160].hex())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base: Path = tmp_path_factory.mktemp("secrets")
    data_dir, credentials = base / "data", base / "credentials"
    password_file = base / "root-password"
    password_file.write_text(ROOT_PASSWORD)
    done = run_cli(
        "init",
        "--data-dir",
        str(data_dir),
        "--account-id",
        ACCOUNT,
        "--admin-user",
        "admin",
        "--credentials-file",
        str(credentials),
        "--profile",
        "admin",
        "--root-access-key",
        "--root-password-file",
        str(password_file),
    )
    assert done.returncode == 0, done.stderr
    password_file.unlink()
    port = free_port()
    log = base / "server.log"
    process = start_server(data_dir, port, log, env={"CHAMBERLAIN_LOG_LEVEL": "debug"})
    server = Server(f"http://127.0.0.1:{port}", data_dir, credentials, process, log)
    secrets = Secrets()
    secrets.client_errors.append(done.stdout + done.stderr)
    try:
        make_secrets(server, secrets)
        yield World(server, secrets)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _found(secrets: Secrets, haystack: bytes) -> list[str]:
    text = haystack.lower()
    hits = [
        f"{name} ({encoding})"
        for name, secret in secrets.long.items()
        for encoding, needle in encodings(secret).items()
        if needle.lower() in text
    ]
    for name, code in secrets.codes.items():
        for form in (f'"{code}"', f"={code}&", f"={code}\n", f">{code}<", f"'{code}'"):
            if form.encode() in text:
                hits.append(f"{name} ({form})")
    return hits


def test_enough_secrets_and_encodings(world: World) -> None:
    assert len(world.secrets.long) + len(world.secrets.codes) >= 27
    assert len(encodings("x" * 16)) >= 14


def test_the_scan_finds_a_planted_secret(world: World) -> None:
    """The scan is not vacuous: each encoding of a secret is found in a haystack."""
    planted = Secrets(long={"planted": "Planted-Secret-Value-123!"})
    for encoding, needle in encodings("Planted-Secret-Value-123!").items():
        assert _found(planted, b"prefix " + needle.upper() + b" suffix"), encoding
    assert _found(Secrets(codes={"c": "123456"}), b'{"code": "123456"}')


def test_no_secret_in_the_database_files(world: World) -> None:
    files = [p for p in world.server.data_dir.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".db") for p in files)
    for path in files:
        assert _found(world.secrets, path.read_bytes()) == [], path.name


def test_no_secret_in_the_server_log(world: World) -> None:
    log = world.server.log.read_bytes()
    assert b'"action": "CreateAccessKey"' in log  # the log has the calls
    assert _found(world.secrets, log) == []


def test_no_secret_in_error_messages(world: World) -> None:
    assert len(world.secrets.client_errors) >= 3
    assert _found(world.secrets, "\n".join(world.secrets.client_errors).encode()) == []


def test_no_secret_in_audit_events(world: World) -> None:
    trail = world.server.client("cloudtrail")
    events = [
        event
        for page in trail.get_paginator("lookup_events").paginate()
        for event in page["Events"]
    ]
    names = {event["EventName"] for event in events}
    assert {"CreateAccessKey", "ChangePassword", "EnableMFADevice", "GetSessionToken"} <= names
    assert _found(world.secrets, json.dumps(events, default=str).encode()) == []
    with sqlite3.connect(world.server.data_dir / "chamberlain.db") as db:
        rows = db.execute("SELECT * FROM events").fetchall()
        index = db.execute("SELECT * FROM event_attributes").fetchall()
    assert len(rows) >= len(events)
    assert _found(world.secrets, repr(rows).encode() + repr(index).encode()) == []
