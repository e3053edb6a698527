"""/healthz, /readyz and /metrics, in-process, on the memory store and on SQLite."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from chamberlain.app import create_app
from chamberlain.crypto.passwords import TEST_PARAMS
from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.ops.core.context import Services
from chamberlain.store.memory import MemoryStore
from chamberlain.store.sql import SqlStore


def _client(store: object) -> TestClient:
    services = Services(store=store, secrets=SecretBox(generate_key()), password_params=TEST_PARAMS)  # type: ignore[arg-type]
    return TestClient(create_app(services), base_url="http://127.0.0.1")


def test_healthz_needs_no_signature() -> None:
    reply = _client(MemoryStore()).get("/healthz")
    assert (reply.status_code, reply.json()) == (200, {"status": "ok"})


def test_readyz_checks_the_schema_revision(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    client = _client(store)
    before = client.get("/readyz")  # no migration has run: not ready
    assert before.status_code == 503
    assert before.json()["status"] == "not ready"
    assert before.json()["schema_revision"] is None
    store.migrate()
    after = client.get("/readyz")
    assert after.status_code == 200, after.text
    assert after.json()["schema_revision"] == after.json()["code_revision"] is not None
    store.close()


def test_readyz_says_when_the_database_is_unreachable() -> None:
    store = SqlStore("postgresql://nobody@127.0.0.1:1/none")
    reply = _client(store).get("/readyz")
    assert (reply.status_code, reply.json()["database"]) == (503, "unreachable")


def test_metrics_count_api_calls_by_action_and_outcome() -> None:
    client = _client(MemoryStore())
    client.post("/", data={"Action": "ListUsers", "Version": "2010-05-08"})  # unsigned
    client.get("/healthz")  # not an API call: not counted
    text = client.get("/metrics").text
    assert "# TYPE chamberlain_requests_total counter" in text
    line = (
        'chamberlain_requests_total{action="ListUsers",outcome="MissingAuthenticationToken",'
        'service="iam"} 1.0'
    )
    assert line in text
    assert 'chamberlain_request_duration_seconds_count{service="iam"} 1.0' in text
    assert "healthz" not in text
