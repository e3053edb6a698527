"""Metrics of what a node decides and keeps: authorization decisions by outcome and
source, the audit writer's backlog and losses, the caches' hits and misses. In-process
(memory store, the real app through Starlette's TestClient, requests signed by botocore)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.testclient import TestClient

from chamberlain.app import create_app
from chamberlain.cli import provision_account
from chamberlain.crypto.passwords import TEST_PARAMS
from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.crypto.tokens import TokenSealer
from chamberlain.ops.core.accounts import root_caller
from chamberlain.ops.core.context import RequestMeta, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.store.memory import MemoryStore
from chamberlain.store.sql import SqlStore
from chamberlain.telemetry import NodeFigures, Telemetry

ACCOUNT = "123456789012"
ENDPOINT = "http://127.0.0.1"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


class Node:
    def __init__(self, tmp: Path) -> None:
        key = generate_key()
        self.services = Services(
            store=MemoryStore(),
            secrets=SecretBox(key),
            tokens=TokenSealer(key),
            password_params=TEST_PARAMS,
        )
        creds = tmp / "credentials"
        provision_account(
            self.services,
            account_id=ACCOUNT,
            admin_user="admin",
            credentials_file=creds,
            profile="admin",
            root_access_key=False,
            email=None,
            root_password="S3cure!Passw0rd#",
        )
        text = creds.read_text()
        lines = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)
        self.admin = Credentials(lines["aws_access_key_id"], lines["aws_secret_access_key"])
        self.client = TestClient(create_app(self.services), base_url=ENDPOINT)

    def root(self, name: str, **params: Any) -> Any:
        meta = RequestMeta(request_id="r", now=dt.datetime.now(dt.UTC).replace(microsecond=0))
        return execute(self.services, root_caller(ACCOUNT), meta, "iam", name, params)

    def user(self, name: str, policy: dict[str, Any] | None = None) -> Credentials:
        self.root("CreateUser", UserName=name)
        if policy is not None:
            document = json.dumps({"Version": "2012-10-17", "Statement": [policy]})
            self.root("PutUserPolicy", UserName=name, PolicyName="p", PolicyDocument=document)
        key = self.root("CreateAccessKey", UserName=name)["AccessKey"]
        return Credentials(key["AccessKeyId"], key["SecretAccessKey"])

    def iam(self, creds: Credentials, action: str, **params: str) -> int:
        body = urlencode({"Action": action, "Version": "2010-05-08", **params})
        request = AWSRequest(
            method="POST",
            url=ENDPOINT + "/",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        SigV4Auth(creds, "iam", "us-east-1").add_auth(request)
        reply = self.client.post("/", content=body, headers=dict(request.headers.items()))
        return reply.status_code

    def authorize(self, creds: Credentials, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload).encode()
        request = AWSRequest(
            method="POST",
            url=ENDPOINT + "/v1/authorize",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        SigV4Auth(creds, "chamberlain", "us-east-1").add_auth(request)
        reply = self.client.post(
            "/v1/authorize", content=body, headers=dict(request.headers.items())
        )
        assert reply.status_code == 200, reply.text
        return reply.json()  # type: ignore[no-any-return]

    def metrics(self) -> dict[str, float]:
        """Every sample of the exposition: `name{labels}` -> value."""
        text = self.client.get("/metrics").text
        return {
            m.group(1): float(m.group(2))
            for m in re.finditer(r"^(chamberlain_\S+) (\S+)$", text, re.MULTILINE)
        }


@pytest.fixture
def node(tmp_path: Path) -> Node:
    return Node(tmp_path)


def _decisions(samples: dict[str, float], source: str, outcome: str) -> float:
    name = f'chamberlain_authorization_decisions_total{{outcome="{outcome}",source="{source}"}}'
    return samples.get(name, 0.0)


def test_decisions_are_counted_by_outcome_and_source(node: Node) -> None:
    bob = node.user("bob")  # no policy: implicitly denied
    carol = node.user("carol", {"Effect": "Deny", "Action": "iam:*", "Resource": "*"})
    assert node.iam(node.admin, "ListUsers") == 200
    assert node.iam(node.admin, "GetUser", UserName="bob") == 200
    assert node.iam(bob, "ListUsers") == 403
    assert node.iam(carol, "ListUsers") == 403
    assert node.iam(carol, "ListGroups") == 403
    simulated = node.iam(
        node.admin,
        "SimulatePrincipalPolicy",
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/carol",
        **{"ActionNames.member.1": "iam:ListUsers", "ActionNames.member.2": "s3:GetObject"},
    )
    assert simulated == 200
    asked = {"action": "widgets:GetWidget", "resource": "arn:aws:widgets:::w"}
    bob_arn = {"arn": f"arn:aws:iam::{ACCOUNT}:user/bob"}
    assert node.authorize(node.admin, {**asked, "principal": bob_arn})["decision"] == (
        "implicitDeny"
    )
    admin_arn = {"arn": f"arn:aws:iam::{ACCOUNT}:user/admin"}
    assert node.authorize(node.admin, {**asked, "principal": admin_arn})["allowed"]
    samples = node.metrics()
    # the API's own: ListUsers, GetUser, SimulatePrincipalPolicy allowed; 1 + 2 denied
    assert _decisions(samples, "api", "allowed") == 3
    assert _decisions(samples, "api", "implicitDeny") == 1
    assert _decisions(samples, "api", "explicitDeny") == 2
    # each simulated action: carol's explicit deny of iam:*, no allow of s3:GetObject
    assert _decisions(samples, "simulator", "explicitDeny") == 1
    assert _decisions(samples, "simulator", "implicitDeny") == 1
    assert _decisions(samples, "authorize", "implicitDeny") == 1
    assert _decisions(samples, "authorize", "allowed") == 1
    # /v1/authorize calls are requests like any other in the request metrics
    key = 'chamberlain_requests_total{action="Authorize",outcome="Success",service="chamberlain"}'
    assert samples[key] == 2


def test_cache_lookups_and_audit_writer_figures(node: Node) -> None:
    for _ in range(3):
        assert node.iam(node.admin, "ListUsers") == 200
    writer = node.services.group_commit
    assert writer is not None and writer.flush()
    samples = node.metrics()
    hits = samples['chamberlain_cache_lookups_total{cache="access_keys",result="hit"}']
    misses = samples['chamberlain_cache_lookups_total{cache="access_keys",result="miss"}']
    # each call looked its key up once: the first read it, the others found it current
    # (noting a key's last use changes no generation)
    assert (hits, misses) == (2, 1)
    assert samples['chamberlain_cache_lookups_total{cache="principal_policies",result="hit"}'] >= 1
    assert samples["chamberlain_audit_writer_pending"] == 0  # all flushed
    assert samples["chamberlain_audit_writer_lost_total"] == 0


def test_sync_copies_the_node_figures_as_increases() -> None:
    pending, lost = [7], [2]
    lookups = {("access_keys", True): 5, ("access_keys", False): 1}
    telemetry = Telemetry(figures=NodeFigures(lambda: pending[0], lambda: lost[0], lambda: lookups))
    text = telemetry.exposition().decode()
    assert "chamberlain_audit_writer_pending 7.0" in text
    assert "chamberlain_audit_writer_lost_total 2.0" in text
    pending[0], lost[0] = 0, 5
    lookups[("access_keys", True)] = 9
    text = telemetry.exposition().decode()
    assert "chamberlain_audit_writer_pending 0.0" in text
    assert "chamberlain_audit_writer_lost_total 5.0" in text
    assert 'chamberlain_cache_lookups_total{cache="access_keys",result="hit"} 9.0' in text
    assert 'chamberlain_cache_lookups_total{cache="access_keys",result="miss"} 1.0' in text


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}" if request.param == "sqlite" else PG_URL
    store = SqlStore(url)
    yield store
    store.close()


def test_the_pool_gauge_is_read_at_the_scrape_in_one_process(sql_store: SqlStore) -> None:
    telemetry = Telemetry(sql_store.pool_status)
    with sql_store.engine.connect() as first, sql_store.engine.connect() as second:
        first.exec_driver_sql("SELECT 1")
        second.exec_driver_sql("SELECT 1")
        text = telemetry.exposition().decode()
        assert 'chamberlain_db_pool_connections{state="in_use"} 2.0' in text
        assert 'chamberlain_db_pool_connections{state="idle"} 0.0' in text
    text = telemetry.exposition().decode()  # within SYNC_EVERY_S: a scrape syncs anyway
    assert 'chamberlain_db_pool_connections{state="in_use"} 0.0' in text
    assert 'chamberlain_db_pool_connections{state="idle"} 2.0' in text
    assert "pid=" not in text


def test_no_pool_gauge_without_a_pool() -> None:
    assert "chamberlain_db_pool_connections" not in Telemetry().exposition().decode()
