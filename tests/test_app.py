"""The HTTP layer in-process (memory store): hostile input never yields a 500 or a
half-done write, every response has a request id, and errors are AWS's XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from chamberlain.app import create_app
from chamberlain.cli import provision_account
from chamberlain.crypto.passwords import TEST_PARAMS
from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.ops.core.context import Services
from chamberlain.protocol.models import service_model
from chamberlain.store.memory import MemoryStore

ACCOUNT = "123456789012"
ENDPOINT = "http://127.0.0.1"


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, Credentials, Services]:
    services = Services(
        store=MemoryStore(), secrets=SecretBox(generate_key()), password_params=TEST_PARAMS
    )
    creds_file: Path = tmp_path_factory.mktemp("app") / "credentials"
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
    return TestClient(create_app(services), base_url=ENDPOINT), creds, services


def signed_post(client: TestClient, creds: Credentials, service: str, pairs: list) -> Any:
    body = urlencode(pairs)
    request = AWSRequest(
        method="POST",
        url=ENDPOINT + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(creds, service, "us-east-1").add_auth(request)
    return client.post("/", content=body.encode(), headers=dict(request.headers.items()))


def test_request_id_on_success_and_error(harness: Any) -> None:
    client, creds, _ = harness
    ok = signed_post(client, creds, "iam", [("Action", "ListUsers"), ("Version", "2010-05-08")])
    assert ok.status_code == 200
    assert ok.headers["x-amzn-RequestId"]
    bad = signed_post(client, creds, "iam", [("Action", "Nope"), ("Version", "2010-05-08")])
    assert bad.status_code == 400
    assert "<Code>InvalidAction</Code>" in bad.text
    assert bad.headers["x-amzn-RequestId"] != ok.headers["x-amzn-RequestId"]


IAM_OPS = sorted(service_model("iam").operation_names)
text = st.text(max_size=40) | st.sampled_from(["", "a", "-1", "99999999999", "/", "{}", "*"])


@st.composite
def hostile_pairs(draw: st.DrawFn) -> list[tuple[str, str]]:
    operation = draw(st.sampled_from(IAM_OPS))
    shape = service_model("iam").operation_model(operation).input_shape
    members = list(shape.members) if shape is not None else []
    names = st.sampled_from([*members, "Bogus", "Tags.member.1.Key"]) if members else text
    pairs = [("Action", operation), ("Version", "2010-05-08")]
    pairs += draw(st.lists(st.tuples(names, text), max_size=6))
    return pairs


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(pairs=hostile_pairs())
def test_hostile_requests_never_fail_the_server(harness: Any, pairs: list) -> None:
    client, creds, _ = harness
    response = signed_post(client, creds, "iam", pairs)
    assert response.status_code < 500, response.text
    root = ET.fromstring(response.content)
    assert root.tag.endswith("Response")


def test_failed_operation_leaves_nothing_behind(harness: Any) -> None:
    client, creds, _ = harness
    pairs = [
        ("Action", "CreateUser"),
        ("Version", "2010-05-08"),
        ("UserName", "half"),
        ("Tags.member.1.Key", "k"),
        ("Tags.member.1.Value", "v"),
        ("Tags.member.2.Key", "K"),
        ("Tags.member.2.Value", "v"),  # duplicate key
    ]
    response = signed_post(client, creds, "iam", pairs)
    assert response.status_code == 400
    again = signed_post(
        client,
        creds,
        "iam",
        [("Action", "GetUser"), ("Version", "2010-05-08"), ("UserName", "half")],
    )
    assert again.status_code == 404
