"""The HTTP app in-process on a real SQLite database, fed the seeded fuzz generator of
benchmarks/fuzz.py (every served operation's input shape, signed with a real key; unsigned,
presigned, malformed and garbage requests) for a bounded time: no answer is a 5xx.
CHAMBERLAIN_FUZZ_SECONDS=N runs N seconds instead of the default; CHAMBERLAIN_FUZZ_SEED
picks the seed (default 15: the same requests on every run, as many as the time allows;
`python -m benchmarks.fuzz` draws a new seed each run). The three inputs that gave 500s
before (issue #15) are checked on their own too."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from benchmarks.fuzz import RequestGenerator, Wire, run
from botocore.credentials import Credentials
from starlette.testclient import TestClient

from chamberlain.app import create_app
from chamberlain.cli import provision_account
from chamberlain.crypto.passwords import TEST_PARAMS
from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.crypto.tokens import TokenSealer
from chamberlain.ops.core.context import Services
from chamberlain.store.sql import SqlStore

from .test_app import signed_post

ACCOUNT = "123456789012"
HOST = "127.0.0.1"
SECONDS = float(os.environ.get("CHAMBERLAIN_FUZZ_SECONDS", "20"))


@dataclass
class Harness:
    client: TestClient
    creds: Credentials
    services: Services


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    base = tmp_path_factory.mktemp("fuzz")
    key = generate_key()
    store = SqlStore(f"sqlite:///{base / 'chamberlain.db'}")
    store.migrate()
    services = Services(
        store=store, secrets=SecretBox(key), tokens=TokenSealer(key), password_params=TEST_PARAMS
    )
    creds_file: Path = base / "credentials"
    provision_account(
        services,
        account_id=ACCOUNT,
        admin_user="admin",
        credentials_file=creds_file,
        profile="admin",
        root_access_key=False,
        email=None,
        root_password="S3cure!Passw0rd#",
    )
    lines = dict(
        line.split(" = ", 1) for line in creds_file.read_text().splitlines() if " = " in line
    )
    creds = Credentials(lines["aws_access_key_id"], lines["aws_secret_access_key"])
    yield Harness(TestClient(create_app(services), base_url=f"http://{HOST}"), creds, services)
    store.close()


def send_in_process(client: TestClient) -> Any:
    def send(wire: Wire) -> int:
        reply = client.request(wire.method, wire.target, headers=wire.headers, content=wire.body)
        return int(reply.status_code)

    return send


def test_fuzzed_requests_never_get_a_5xx(harness: Harness) -> None:
    seed = int(os.environ.get("CHAMBERLAIN_FUZZ_SEED", "15"))
    generator = RequestGenerator(seed, harness.creds.access_key, harness.creds.secret_key, HOST)
    tally = run(generator, send_in_process(harness.client), SECONDS)
    assert tally.sent > 100, tally.summary()
    assert tally.statuses[200] > 0, "the generator reaches operations that succeed"
    assert tally.server_errors == 0, f"seed {seed}\n{tally.summary()}\n" + "\n".join(tally.failures)


def _error_code(reply: Any) -> str | None:
    return ET.fromstring(reply.content).findtext(".//{*}Error/{*}Code")


@pytest.mark.parametrize("key_id", [b"AKIA\xff\xfe", b"\xc3", b"AKIAIOSFODNN7EXAMPL\xff"])
def test_a_non_utf8_access_key_id_is_an_invalid_token(harness: Harness, key_id: bytes) -> None:
    """AWS answers an access key id it does not know with 403 InvalidClientTokenId; the
    id never reaches the database driver (it used to fail there: a 500)."""
    authorization = (
        b"AWS4-HMAC-SHA256 Credential=" + key_id + b"/20261207/us-east-1/iam/aws4_request, "
        b"SignedHeaders=host;x-amz-date, Signature=" + b"0" * 64
    )
    headers = [
        (b"Content-Type", b"application/x-www-form-urlencoded"),
        (b"X-Amz-Date", b"20261207T120000Z"),
        (b"Authorization", authorization),
    ]
    reply = harness.client.post(
        "/", headers=headers, content=b"Action=ListUsers&Version=2010-05-08"
    )
    assert reply.status_code == 403, reply.text
    assert _error_code(reply) == "InvalidClientTokenId"


def test_a_non_utf8_byte_in_the_credential_scope_is_a_signature_error(harness: Harness) -> None:
    """A real key with a scope AWS cannot read: the error quotes it (as U+FFFD), and the
    failed attempt is recorded in the key owner's trail."""
    key = harness.creds.access_key.encode()
    authorization = (
        b"AWS4-HMAC-SHA256 Credential=" + key + b"/20261207/\xff/iam/aws4_request, "
        b"SignedHeaders=host;x-amz-date, Signature=" + b"0" * 64
    )
    headers = [
        (b"Content-Type", b"application/x-www-form-urlencoded"),
        (b"X-Amz-Date", b"20261207T120000Z"),
        (b"Authorization", authorization),
    ]
    reply = harness.client.post(
        "/", headers=headers, content=b"Action=ListUsers&Version=2010-05-08"
    )
    assert 400 <= reply.status_code < 500, reply.text
    assert _error_code(reply) in ("SignatureDoesNotMatch", "IncompleteSignature")


def test_a_virtual_mfa_device_name_longer_than_aws_allows_is_a_validation_error(
    harness: Harness,
) -> None:
    """AWS's API reference (CreateVirtualMFADevice, VirtualMFADeviceName): "Length
    Constraints: Minimum length of 1. Maximum length of 226." A longer name used to reach
    the QR code library and overflow it (a 500)."""
    pairs = [("Action", "CreateVirtualMFADevice"), ("Version", "2010-05-08")]
    reply = signed_post(
        harness.client, harness.creds, "iam", [*pairs, ("VirtualMFADeviceName", "x" * 2300)]
    )
    assert reply.status_code == 400, reply.text
    assert _error_code(reply) == "ValidationError"
    message = ET.fromstring(reply.content).findtext(".//{*}Error/{*}Message") or ""
    assert message.endswith(
        "at 'virtualMFADeviceName' failed to satisfy constraint: Member must have length "
        "less than or equal to 226"
    )
    ok = signed_post(
        harness.client, harness.creds, "iam", [*pairs, ("VirtualMFADeviceName", "y" * 226)]
    )
    assert ok.status_code == 200, ok.text
