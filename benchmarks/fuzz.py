"""Fuzz Chamberlain: seeded requests from botocore's input shapes, and hostile HTTP.

Run: `python -m benchmarks.fuzz [--seconds N] [--seed N] [--database-url URL]`. Starts a
server on a free 127.0.0.1 port (SQLite in a temporary data directory, or PostgreSQL in a
schema of its own that is dropped afterwards), sends requests for N seconds and prints the
requests sent, the count per HTTP status and the number of 5xx (with a few examples).
The exit status is 1 when any answer was a 5xx.

What is sent (`RequestGenerator`), for every operation Chamberlain serves:
* signed with a real access key: parameters generated from the operation's input shape
  (lengths inside and outside the model's bounds, names and ARNs that exist, policy
  documents, NUL bytes, control characters, long and non-ASCII text, a non-UTF-8 byte),
  sometimes with a parameter added, dropped or repeated;
* unsigned, presigned with garbage, or with a malformed Authorization header (a non-UTF-8
  byte or garbage in the access key id, broken components, a stray session token);
* garbage: random bodies, content types, X-Amz-Target values and methods.
The tests (tests/test_fuzz.py) run the same generator for a bounded time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import socket
import string
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import OperationModel, Shape
from botocore.serialize import create_serializer

from chamberlain.ops.core import dispatch  # noqa: F401  (registers every operation)
from chamberlain.ops.core.registry import REGISTRY
from chamberlain.protocol.models import service_model

ACCOUNT = "123456789012"
REGION = "us-east-1"
VERSIONS = {"iam": "2010-05-08", "sts": "2011-06-15"}
JSON_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"
#: Names the generated calls use: entities `setup` creates, never the signing user "admin"
#: or its group (a fuzzed boundary or detached policy would turn the rest of the run into
#: AccessDenied).
NAMES = ["fuzz", "fuzz-role", "Fuzz", "other"]
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}],
    }
)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
ARNS = [
    f"arn:aws:iam::{ACCOUNT}:policy/fuzz",
    f"arn:aws:iam::{ACCOUNT}:role/fuzz-role",
    f"arn:aws:iam::{ACCOUNT}:user/fuzz",
    f"arn:aws:iam::{ACCOUNT}:mfa/fuzz",
    f"arn:aws:iam::{ACCOUNT}:oidc-provider/example.com",
    f"arn:aws:iam::{ACCOUNT}:saml-provider/fuzz",
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::aws:policy/AdministratorAccess",
]
#: Odd text: NUL, controls, non-ASCII, surrogate-free astral characters, markup, JSON.
ODD = ["\0", "\x01", "\x7f", "é", "日本", "\U0001f600", "<x>&amp;", "%00", "{", "'\"", " ", "*"]


@dataclass(frozen=True)
class Wire:
    """One HTTP request as sent: method, path with query, raw headers, body."""

    method: str
    target: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    kind: str

    def describe(self) -> str:
        return f"{self.kind} {self.method} {self.target[:120]!r} body={self.body[:300]!r}"


def served_operations() -> list[tuple[str, str]]:
    """(service, operation) for every operation Chamberlain serves."""
    return sorted(REGISTRY)


class RequestGenerator:
    """Seeded: the same seed and key give the same sequence of requests."""

    def __init__(self, seed: int, key_id: str, secret: str, host: str) -> None:
        self.rng = random.Random(seed)
        self.creds = Credentials(key_id, secret)
        self.host = host
        self.operations = served_operations()
        self.serializers = {
            "query": create_serializer("query", include_validation=False),
            "json": create_serializer("json", include_validation=False),
        }

    # ----------------------------------------------------------------- values

    def text(self, low: int = 0, high: int = 40) -> str:
        r = self.rng
        alphabet = string.ascii_letters + string.digits + "+=,.@-_/:"
        size = r.randint(low, high)
        out = "".join(r.choice(alphabet) for _ in range(size))
        if r.random() < 0.3:
            at = r.randint(0, len(out))
            out = out[:at] + r.choice(ODD) + out[at:]
        return out

    def string(self, name: str, shape: Shape) -> str:
        r = self.rng
        meta = shape.metadata
        low, high = int(meta.get("min", 0)), int(meta.get("max", 64))
        roll = r.random()
        if shape.enum and roll < 0.6:
            return str(r.choice(shape.enum))
        if "Document" in name and roll < 0.6:
            return r.choice([POLICY, TRUST, "{}", "[]", POLICY[:-3]])
        if ("Arn" in name or name.endswith("ARN")) and roll < 0.6:
            return r.choice(ARNS) + r.choice(["", "", "\0", "x"])
        if "Name" in name and roll < 0.5:
            return r.choice(NAMES) + r.choice(["", "", "", "\0", "é"])
        if roll < 0.1:
            return "x" * r.choice([high, high + 1, 2300, 5000, 70000]) if high else "x" * 2300
        if roll < 0.15:
            return ""
        return self.text(min(low, 40), min(max(high, 1), 60))

    def value(self, name: str, shape: Shape, depth: int = 0) -> Any:
        r = self.rng
        kind = shape.type_name
        if kind == "string":
            return self.string(name, shape)
        if kind in ("integer", "long"):
            meta = shape.metadata
            return r.choice(
                [meta.get("min", 0), meta.get("max", 1000), 0, -1, 1, 3600, 2**31, 2**63, 10**20]
            )
        if kind in ("double", "float"):
            return r.choice([0.0, -1.5, 1e308, 3.0])
        if kind == "boolean":
            return r.random() < 0.5
        if kind == "timestamp":
            return dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
                days=r.randint(-40000, 40000)
            )
        if kind == "blob":
            return bytes(r.getrandbits(8) for _ in range(r.randint(0, 40)))
        if depth > 3:
            return None
        if kind == "list":
            member = shape.member  # type: ignore[attr-defined]
            return [self.value(name, member, depth + 1) for _ in range(r.choice([0, 1, 1, 2, 3]))]
        if kind == "map":
            key, value = shape.key, shape.value  # type: ignore[attr-defined]
            return {
                self.value("Key", key, depth + 1): self.value("Value", value, depth + 1)
                for _ in range(r.randint(0, 2))
            }
        if kind == "structure":
            out: dict[str, Any] = {}
            members = shape.members  # type: ignore[attr-defined]
            required = set(shape.required_members)  # type: ignore[attr-defined]
            for member_name, member in members.items():
                if member_name in required or r.random() < 0.4:
                    if member_name in required and r.random() < 0.05:
                        continue  # a required member left out
                    value = self.value(member_name, member, depth + 1)
                    if value is not None:
                        out[member_name] = value
            return out
        return None

    # --------------------------------------------------------------- requests

    def next(self) -> Wire:
        roll = self.rng.random()
        if roll < 0.72:
            return self.modelled()
        if roll < 0.80:
            return self.unsigned()
        if roll < 0.92:
            return self.bad_authorization()
        if roll < 0.96:
            return self.presigned()
        return self.garbage()

    def _operation(self) -> tuple[str, OperationModel]:
        service, name = self.rng.choice(self.operations)
        return service, service_model(service).operation_model(name)

    def _query_pairs(self, service: str, model: OperationModel) -> list[tuple[str, str]]:
        params = self.value("", model.input_shape) if model.input_shape is not None else {}
        serialized = self.serializers["query"].serialize_to_request(params or {}, model)
        pairs = [(str(k), str(v)) for k, v in serialized["body"].items()]
        pairs = [p for p in pairs if p[0] not in ("Action", "Version")]
        pairs[:0] = [("Action", model.name), ("Version", VERSIONS[service])]
        r = self.rng
        if pairs[2:] and r.random() < 0.1:
            pairs.pop(r.randrange(2, len(pairs)))
        if r.random() < 0.1:
            pairs.append((r.choice([*(p[0] for p in pairs), "Bogus"]), self.text()))
        return pairs

    def _form_body(self, pairs: list[tuple[str, str]]) -> bytes:
        body = urlencode(pairs).encode()
        if self.rng.random() < 0.05:  # a non-UTF-8 byte in one value
            body += b"&" + quote(pairs[-1][0]).encode() + b"=%FF%FE" + self.rng.choice([b"", b"x"])
        return body

    def modelled(self) -> Wire:
        service, model = self._operation()
        if service == "cloudtrail":
            params = self.value("", model.input_shape) if model.input_shape is not None else {}
            serialized = self.serializers["json"].serialize_to_request(params or {}, model)
            body = serialized["body"]
            body = body if isinstance(body, bytes) else str(body).encode()
            headers = {
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"{JSON_TARGET}.{model.name}",
            }
        else:
            body = self._form_body(self._query_pairs(service, model))
            headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        return self._signed(service, body, headers, f"signed {service}:{model.name}")

    def _signed(self, service: str, body: bytes, headers: dict[str, str], kind: str) -> Wire:
        request = AWSRequest(method="POST", url=f"http://{self.host}/", data=body, headers=headers)
        SigV4Auth(self.creds, service, REGION).add_auth(request)
        raw = [
            (k.encode(), v.encode() if isinstance(v, str) else v)
            for k, v in request.headers.items()
        ]
        return Wire("POST", "/", raw, body, kind)

    def unsigned(self) -> Wire:
        service, model = self._operation()
        form = [("Content-Type", "application/x-www-form-urlencoded")]
        if service == "cloudtrail":
            target = f"{JSON_TARGET}.{model.name}"
            headers = [
                (b"Content-Type", b"application/x-amz-json-1.1"),
                (b"X-Amz-Target", target.encode()),
            ]
            return Wire("POST", "/", headers, b"{}", "unsigned cloudtrail")
        body = self._form_body(self._query_pairs(service, model))
        raw = [(k.encode(), v.encode()) for k, v in form]
        return Wire("POST", "/", raw, body, f"unsigned {service}:{model.name}")

    def _garbage_key_id(self) -> bytes:
        r = self.rng
        real = self.creds.access_key.encode()
        return r.choice(
            [
                real[:-1] + b"\xff",
                b"\xff\xfe",
                real + b"\xc3",
                b"AKIA" + bytes(r.randint(0x80, 0xFF) for _ in range(12)),
                b"ASIA" + self.text(16, 16).encode(),
                real.lower(),
                b"x" * r.choice([1, 200, 3000]),
                real + b"\x00",
            ]
        )

    def bad_authorization(self) -> Wire:
        r = self.rng
        service, model = self._operation()
        if service == "cloudtrail":
            service, model = "iam", service_model("iam").operation_model("ListUsers")
        body = self._form_body(self._query_pairs(service, model))
        date = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        key = self._garbage_key_id() if r.random() < 0.7 else self.creds.access_key.encode()
        scope = r.choice(
            [
                f"/{date[:8]}/{REGION}/{service}/aws4_request".encode(),
                b"/2010/us-east-1/iam/aws4_request",
                b"/" + date[:8].encode() + b"/\xff/iam/aws4_request",
                b"",
            ]
        )
        signature = r.choice(
            [b"0" * 64, b"zz", b"", bytes(r.randint(0x80, 0xFF) for _ in range(8))]
        )
        authorization = (
            b"AWS4-HMAC-SHA256 Credential="
            + key
            + scope
            + r.choice([b", SignedHeaders=host;x-amz-date, Signature=", b" Signature=", b","])
            + signature
        )
        headers = [
            (b"Content-Type", b"application/x-www-form-urlencoded"),
            (b"X-Amz-Date", r.choice([date.encode(), b"yesterday", b"\xff"])),
            (b"Authorization", authorization),
        ]
        if r.random() < 0.3:
            headers.append((b"X-Amz-Security-Token", r.choice([b"x", b"\xff\xfe", b"A" * 3000])))
        return Wire("POST", "/", headers, body, f"bad-authorization {service}:{model.name}")

    def presigned(self) -> Wire:
        r = self.rng
        service, model = self._operation()
        if service == "cloudtrail":
            service, model = "sts", service_model("sts").operation_model("GetCallerIdentity")
        pairs = self._query_pairs(service, model)
        query = urlencode(pairs if len(urlencode(pairs)) < 6000 else pairs[:2])  # URL limits
        request = AWSRequest(method="GET", url=f"http://{self.host}/?{query}")
        SigV4QueryAuth(self.creds, service, REGION, expires=r.choice([1, 60, 604800])).add_auth(
            request
        )
        target = request.url.split(self.host, 1)[1]
        if r.random() < 0.5:  # spoil it
            target = target.replace("X-Amz-Credential=", "X-Amz-Credential=%FF", 1)
        if r.random() < 0.2:
            target += "&X-Amz-Expires=" + r.choice(["-1", "99999999999", "x"])
        return Wire("GET", target, [], b"", f"presigned {service}:{model.name}")

    def garbage(self) -> Wire:
        r = self.rng
        body = bytes(r.getrandbits(8) for _ in range(r.randint(0, 300)))
        content_type = r.choice(
            [
                b"application/x-www-form-urlencoded",
                b"application/x-amz-json-1.1",
                b"text/plain",
                b"\xff",
            ]
        )
        headers = [(b"Content-Type", content_type)]
        if r.random() < 0.5:
            target = r.choice([f"{JSON_TARGET}.LookupEvents", JSON_TARGET, "x", "\xff"])
            headers.append((b"X-Amz-Target", target.encode("latin-1")))
        if r.random() < 0.5:
            body = b"Action=" + r.choice([b"ListUsers", b"GetUser", b"\xff", b""]) + b"&" + body
        method = r.choice(["POST", "POST", "GET", "PUT"])
        target = r.choice(["/", "/", "/?Action=ListUsers&Version=2010-05-08", "/?%FF=%FE", "/x"])
        return Wire(method, target, headers, body, "garbage")

    def setup(self) -> Iterator[Wire]:
        """Entities the generated names and ARNs refer to, so calls reach past not-found."""
        calls: list[tuple[str, list[tuple[str, str]]]] = [
            ("CreateUser", [("UserName", "fuzz")]),
            ("CreateGroup", [("GroupName", "fuzz")]),
            ("CreateRole", [("RoleName", "fuzz-role"), ("AssumeRolePolicyDocument", TRUST)]),
            ("CreatePolicy", [("PolicyName", "fuzz"), ("PolicyDocument", POLICY)]),
            ("CreateVirtualMFADevice", [("VirtualMFADeviceName", "fuzz")]),
        ]
        form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        for action, params in calls:
            pairs = [("Action", action), ("Version", VERSIONS["iam"]), *params]
            yield self._signed("iam", urlencode(pairs).encode(), form, f"setup {action}")


# ------------------------------------------------------------------- running

Send = Callable[[Wire], int]


@dataclass
class Tally:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def summary(self) -> str:
        counts = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return f"requests sent: {self.sent}\nstatus counts: {counts}\n5xx: {self.server_errors}"


def run(generator: RequestGenerator, send: Send, seconds: float) -> Tally:
    """Send the set-up requests, then generated ones until `seconds` have passed."""
    tally = Tally()
    for wire in generator.setup():
        send(wire)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        wire = generator.next()
        status = send(wire)
        tally.sent += 1
        tally.statuses[status] += 1
        if status >= 500 and len(tally.failures) < 20:
            tally.failures.append(f"{status} {wire.describe()}")
    return tally


def http_sender(host: str, port: int) -> Send:
    """Send over one keep-alive connection to a real server (reconnecting when needed)."""
    connection: list[HTTPConnection] = []

    def send(wire: Wire) -> int:
        for attempt in range(2):
            if not connection:
                connection.append(HTTPConnection(host, port, timeout=30))
            conn = connection[0]
            try:
                conn.putrequest(wire.method, wire.target, skip_accept_encoding=True)
                for name, value in wire.headers:
                    if name.lower() not in (b"content-length", b"host"):
                        conn.putheader(name, value)
                conn.putheader("Content-Length", str(len(wire.body)))
                conn.endheaders(wire.body)
                response = conn.getresponse()
                response.read()
                if response.getheader("connection", "").lower() == "close":
                    conn.close()
                    connection.clear()
                return response.status
            except (ConnectionError, OSError):
                conn.close()
                connection.clear()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    return send


# ------------------------------------------------------------------- command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_key(credentials: Path, profile: str) -> tuple[str, str]:
    values: dict[str, str] = {}
    section = ""
    for line in credentials.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[] ")
        elif " = " in line and section == profile:
            name, value = line.split(" = ", 1)
            values[name.strip()] = value.strip()
    return values["aws_access_key_id"], values["aws_secret_access_key"]


def drop_schema(database_url: str, schema: str) -> None:
    import sqlalchemy

    from chamberlain.store.sql import normalize_url

    engine = sqlalchemy.create_engine(normalize_url(database_url))
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120, help="how long to send requests")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL URL (default: SQLite in a temp dir)"
    )
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    schema = f"chamberlain_fuzz_{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "CHAMBERLAIN_DATABASE_SCHEMA": schema} if args.database_url else None
    extra = ["--database-url", args.database_url] if args.database_url else []
    cli = [sys.executable, "-m", "chamberlain.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        data, creds, log = base / "data", base / "credentials", base / "server.log"
        init = [*cli, "init", "--data-dir", str(data), "--account-id", ACCOUNT]
        init += ["--admin-user", "admin", "--credentials-file", str(creds), *extra]
        subprocess.run(init, check=True, capture_output=True, env=env)
        port = _free_port()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*cli, "serve", "--data-dir", str(data), "--port", str(port), *extra],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            key_id, secret = _read_key(creds, "chamberlain")
            generator = RequestGenerator(seed, key_id, secret, f"127.0.0.1:{port}")
            tally = run(generator, http_sender("127.0.0.1", port), args.seconds)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            if args.database_url:
                drop_schema(args.database_url, schema)
        store = "PostgreSQL" if args.database_url else "SQLite"
        print(f"store: {store}, seed: {seed}, seconds: {args.seconds:g}")
        print(tally.summary())
        for failure in tally.failures[:10]:
            print("  " + failure)
        if tally.server_errors:
            errors = [line for line in log.read_text().splitlines() if '"level": "error"' in line]
            print("server errors logged:\n" + "\n".join(line[:3000] for line in errors[:5]))
    return 1 if tally.server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
