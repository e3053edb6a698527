"""Running a node: the request log, trusted proxies, TLS and graceful shutdown, on a real
server process driven by boto3."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .conftest import ACCOUNT, Server, init_and_serve


def _start(base: Path, toml: str = "", extra: tuple[str, ...] = ()) -> Server:
    return init_and_serve(base, root_access_key=False, toml=toml, extra=extra)


def _stop(server: Server) -> int:
    """SIGTERM; 0 once the server has shut down gracefully (uvicorn then re-raises the
    signal, so the process ends by it, as a service manager expects)."""
    server.process.send_signal(signal.SIGTERM)
    try:
        code = server.process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        server.process.kill()
        raise
    return 0 if code == -signal.SIGTERM else code


def _request_lines(server: Server) -> list[dict[str, Any]]:
    lines = []
    for line in server.log.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("logger") == "chamberlain.requests":
                lines.append(entry)
    return lines


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = _start(tmp_path_factory.mktemp("proxied"), 'trusted_proxies = ["127.0.0.1"]\n')
    yield server
    _stop(server)


def _forwarding(client: Any, headers: dict[str, str]) -> Any:
    def add(request: Any, **_: Any) -> None:
        for name, value in headers.items():
            request.headers[name] = value

    client.meta.events.register("before-send.*.*", add)
    return client


def test_one_json_line_per_request_without_secrets(proxied: Server) -> None:
    iam = proxied.client("iam")
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    iam.get_user(UserName="admin")
    with pytest.raises(ClientError):
        iam.get_user(UserName="nobody-here")
    time.sleep(0.2)
    lines = _request_lines(proxied)
    by_action = {(e["action"], e["outcome"]) for e in lines}
    assert ("GetUser", "Success") in by_action
    assert ("GetUser", "NoSuchEntity") in by_action
    entry = next(e for e in lines if e["action"] == "CreateAccessKey")
    assert entry["principal"] == f"arn:aws:iam::{ACCOUNT}:user/admin"
    assert entry["service"] == "iam" and entry["status"] == 200
    assert entry["request_id"] and entry["latency_ms"] > 0 and entry["source_ip"] == "127.0.0.1"
    text = proxied.log.read_text()
    assert key["SecretAccessKey"] not in text
    assert "Signature=" not in text and "Authorization" not in text


@pytest.mark.parametrize("path", ["/", "/v1/authorize"])
def test_a_client_gone_mid_body_is_one_log_line_not_an_internal_error(
    proxied: Server, path: str
) -> None:
    """A request whose client closes before its body is complete is no bug of ours:
    one request line (outcome ClientDisconnected), no traceback (a log flood otherwise)."""
    import socket

    host, port = proxied.endpoint.removeprefix("http://").split(":")
    before = len(_request_lines(proxied))
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Content-Length: 1000\r\n\r\nAction=GetUser".encode()
        )
        time.sleep(0.2)
    deadline = time.monotonic() + 5
    while len(_request_lines(proxied)) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [e["outcome"] for e in _request_lines(proxied)[before:]] == ["ClientDisconnected"]
    assert "internal error" not in proxied.log.read_text()


def test_a_trusted_proxy_decides_source_ip_and_secure_transport(proxied: Server) -> None:
    iam = proxied.client("iam")
    iam.create_user(UserName="tls-only")
    iam.put_user_policy(
        UserName="tls-only",
        PolicyName="tls",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "iam:GetUser",
                        "Resource": "*",
                        "Condition": {
                            "Bool": {"aws:SecureTransport": "true"},
                            "IpAddress": {"aws:SourceIp": "203.0.113.0/24"},
                        },
                    }
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="tls-only")["AccessKey"]
    plain = proxied.client_with_keys("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as denied:
        plain.get_user()
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    forwarded = _forwarding(
        proxied.client_with_keys("iam", key["AccessKeyId"], key["SecretAccessKey"]),
        {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
    )
    assert forwarded.get_user()["User"]["UserName"] == "tls-only"
    time.sleep(0.2)
    last = [e for e in _request_lines(proxied) if e["principal"] and "tls-only" in e["principal"]]
    assert last[-1]["source_ip"] == "203.0.113.9"


def test_forwarded_headers_are_ignored_without_trusted_proxies(tmp_path: Path) -> None:
    server = _start(tmp_path)
    try:
        sts = _forwarding(server.client("sts"), {"X-Forwarded-For": "203.0.113.9"})
        sts.get_caller_identity()
        time.sleep(0.2)
        assert {e["source_ip"] for e in _request_lines(server)} == {"127.0.0.1"}
    finally:
        assert _stop(server) == 0


def _self_signed(base: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = base / "cert.pem", base / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server = _start(tmp_path, extra=("--tls-cert", str(cert), "--tls-key", str(key)))
    try:
        sts = server.client("sts", verify=str(cert))
        assert sts.get_caller_identity()["Account"] == ACCOUNT
        assert "ready on https://127.0.0.1:" in server.log.read_text()
        with pytest.raises(httpx.HTTPError):
            httpx.get(server.endpoint.replace("https", "http") + "/healthz", timeout=5)
    finally:
        assert _stop(server) == 0


def test_sigterm_lets_in_flight_requests_finish(tmp_path: Path) -> None:
    server = _start(tmp_path)
    iam = server.client("iam")
    for n in range(4):
        iam.create_user(UserName=f"u{n}")
    results: list[str] = []

    def slow_call(n: int) -> None:
        # Password hashing (argon2id) makes each call take a noticeable time.
        try:
            iam.create_login_profile(UserName=f"u{n}", Password=f"A long passw0rd! {n}")
            results.append("ok")
        except Exception as exc:
            results.append(repr(exc))

    threads = [threading.Thread(target=slow_call, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # wait until some calls are in flight
        metrics = httpx.get(server.endpoint + "/metrics", timeout=5).text
        gauge = [
            line for line in metrics.splitlines() if line.startswith("chamberlain_requests_in_")
        ]
        if float(gauge[0].split()[1]) >= 2:  # this scrape and at least one call
            break
    assert _stop(server) == 0
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 4 and "ok" in results, results
    # Calls the server had accepted completed; calls sent after it stopped listening
    # failed to connect, none was cut off half-way.
    for result in results:
        assert result == "ok" or "Could not connect" in result, result
