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


def _model_only(service: str) -> list[str]:
    from chamberlain.ops.core.registry import REGISTRY

    served = {name for s, name in REGISTRY if s == service}
    return sorted(set(service_model(service).operation_names) - served)


@pytest.mark.parametrize(("service", "version"), [("iam", "2010-05-08"), ("sts", "2011-06-15")])
def test_an_operation_only_the_model_has_is_an_unknown_action(
    harness: Any, service: str, version: str
) -> None:
    """A newer botocore model may name operations Chamberlain does not serve: the client gets
    AWS's answer for an unknown action (400 InvalidAction), never a 500, whatever the input."""
    client, creds, _ = harness
    missing = _model_only(service)
    if not missing:
        pytest.skip(f"Chamberlain implements every {service} operation of this botocore model")
    reply = signed_post(client, creds, service, [("Action", missing[0]), ("Version", version)])
    assert reply.status_code == 400, reply.text
    error = ET.fromstring(reply.text).find(".//{*}Error")
    assert error is not None
    assert error.findtext("{*}Code") == "InvalidAction"
    message = f"Could not find operation {missing[0]} for version {version}"
    assert error.findtext("{*}Message") == message


def test_a_cloudtrail_operation_only_the_model_has_is_an_unknown_operation(harness: Any) -> None:
    client, creds, _ = harness
    missing = _model_only("cloudtrail")
    assert missing, "CloudTrail's model has operations beyond LookupEvents"
    target = f"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.{missing[0]}"
    request = AWSRequest(
        method="POST",
        url=ENDPOINT + "/",
        data=b"{}",
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    SigV4Auth(creds, "cloudtrail", "us-east-1").add_auth(request)
    reply = client.post("/", content=b"{}", headers=dict(request.headers.items()))
    assert reply.status_code == 400, reply.text
    assert reply.json()["__type"] == "UnknownOperationException"
    assert reply.json()["message"] == f"Unknown operation: {target}"


def test_settle_heap_loads_what_a_node_keeps_and_freezes_it() -> None:
    """In a process of its own (a test's heap is not a server's): after settle_heap the
    botocore models and AWS's managed policies are in the permanent generation, which no
    collection walks, and a later full collection is short."""
    import subprocess
    import sys

    script = (
        "import gc, time\n"
        "from chamberlain.app import settle_heap\n"
        "assert gc.get_freeze_count() == 0\n"
        "settle_heap()\n"
        "frozen = gc.get_freeze_count()\n"
        "start = time.perf_counter(); gc.collect(); took = time.perf_counter() - start\n"
        "print(frozen, took)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    frozen, took = int(out[0]), float(out[1])
    assert frozen > 50_000  # the models, the policies, the modules: ~126,000 objects
    assert took < 0.01  # before: tens of milliseconds
