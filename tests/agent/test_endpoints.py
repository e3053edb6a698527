"""The agent's HTTP endpoints, as EC2's IMDSv2 and the container provider answer."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from chamberlain.agent.credentials import CredentialCache
from chamberlain.agent.server import create_app
from chamberlain.agent.tokens import ImdsTokens

from .helpers import ACCOUNT, ROLE, ManualClock, ScriptedSource

CREDS = "/latest/meta-data/iam/security-credentials/"
TTL = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN = "X-aws-ec2-metadata-token"
CONTAINER_TOKEN = "container-secret-token"


class Agent:
    def __init__(self, *, imds: bool = True, container: bool = True) -> None:
        self.clock = ManualClock()
        self.source = ScriptedSource(self.clock, lifetime=3600)
        self.cache = CredentialCache(self.source, clock=self.clock)
        self.cache.refresh()
        app = create_app(
            self.cache,
            ImdsTokens(self.clock),
            container_token=CONTAINER_TOKEN if container else None,
            imds=imds,
        )
        self.http = TestClient(app)

    def token(self, ttl: int = 21600) -> str:
        response = self.http.put("/latest/api/token", headers={TTL: str(ttl)})
        assert response.status_code == 200
        assert response.headers[TTL] == str(ttl)
        return response.text

    def get(self, path: str, token: str | None = None, **headers: str):
        if token is not None:
            headers[TOKEN] = token
        return self.http.get(path, headers=headers)


@pytest.fixture
def agent() -> Agent:
    return Agent()


@pytest.mark.parametrize("ttl", [None, "0", "21601", "ten"])
def test_token_needs_a_valid_ttl(agent: Agent, ttl: str | None) -> None:
    headers = {TTL: ttl} if ttl is not None else {}
    assert agent.http.put("/latest/api/token", headers=headers).status_code == 400


def test_token_is_put_only(agent: Agent) -> None:
    assert agent.http.get("/latest/api/token", headers={TTL: "60"}).status_code == 405


@pytest.mark.parametrize(
    "path", [CREDS, CREDS + ROLE, "/latest/meta-data/iam/info", "/latest/meta-data/"]
)
def test_metadata_needs_a_live_token(agent: Agent, path: str) -> None:
    assert agent.get(path).status_code == 401  # IMDSv1: refused
    assert agent.get(path, "forged").status_code == 401
    token = agent.token(ttl=60)
    assert agent.get(path, token).status_code == 200
    agent.clock.advance(60)
    assert agent.get(path, token).status_code == 401


def test_role_credentials_as_ec2_serves_them(agent: Agent) -> None:
    token = agent.token()
    listing = agent.get(CREDS, token)
    assert listing.text == ROLE
    assert listing.headers["content-type"].startswith("text/plain")
    agent.clock.advance(100)
    response = agent.get(CREDS + ROLE, token)
    assert response.status_code == 200
    assert response.headers[TTL] == str(21600 - 100)
    body = json.loads(response.text)
    assert list(body) == [
        "Code",
        "LastUpdated",
        "Type",
        "AccessKeyId",
        "SecretAccessKey",
        "Token",
        "Expiration",
    ]
    assert body == {
        "Code": "Success",
        "LastUpdated": "2025-03-01T12:00:00Z",
        "Type": "AWS-HMAC",
        "AccessKeyId": f"ASIA{1:016d}",
        "SecretAccessKey": "secret-1",
        "Token": "token-1",
        "Expiration": "2025-03-01T13:00:00Z",
    }
    assert '"Code" : "Success",\n' in response.text  # EC2's layout
    assert agent.get(CREDS + "other-role", token).status_code == 404


def test_instance_profile_info(agent: Agent) -> None:
    body = json.loads(agent.get("/latest/meta-data/iam/info", agent.token()).text)
    assert body == {
        "Code": "Success",
        "LastUpdated": "2025-03-01T12:00:00Z",
        "InstanceProfileArn": f"arn:aws:iam::{ACCOUNT}:instance-profile/web",
        "InstanceProfileId": "AIPAEXAMPLEPROFILE01",
    }
    index = agent.get("/latest/meta-data/iam/", agent.token())
    assert index.text == "info\nsecurity-credentials/"


def test_serves_the_refreshed_credentials(agent: Agent) -> None:
    token = agent.token()
    agent.clock.advance(40 * 60)
    agent.cache.tick()
    body = json.loads(agent.get(CREDS + ROLE, token).text)
    assert body["AccessKeyId"] == f"ASIA{2:016d}"
    assert body["LastUpdated"] == "2025-03-01T12:40:00Z"


def test_no_credentials_once_expired(agent: Agent) -> None:
    token = agent.token()
    agent.source.failure = ConnectionError("server down")
    agent.clock.advance(3600)
    assert agent.get(CREDS, token).status_code == 404
    assert agent.get(CREDS + ROLE, token).status_code == 404
    response = agent.http.get("/v1/credentials", headers={"Authorization": CONTAINER_TOKEN})
    assert response.status_code == 503


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/latest/api/token"), ("GET", CREDS + ROLE), ("GET", "/v1/credentials")],
)
def test_proxied_requests_are_refused(agent: Agent, method: str, path: str) -> None:
    token = agent.token()
    headers = {
        TTL: "60",
        TOKEN: token,
        "Authorization": CONTAINER_TOKEN,
        "X-Forwarded-For": "203.0.113.9",
    }
    assert agent.http.request(method, path, headers=headers).status_code == 403


def test_container_credentials(agent: Agent) -> None:
    response = agent.http.get("/v1/credentials", headers={"Authorization": CONTAINER_TOKEN})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "AccessKeyId": f"ASIA{1:016d}",
        "SecretAccessKey": "secret-1",
        "Token": "token-1",
        "Expiration": "2025-03-01T13:00:00Z",
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/{ROLE}",
        "AccountId": ACCOUNT,
    }


@pytest.mark.parametrize(
    "authorization", [None, "", "wrong", CONTAINER_TOKEN + "x", "é".encode("latin-1")]
)
def test_container_needs_the_token(agent: Agent, authorization: str | bytes | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    assert agent.http.get("/v1/credentials", headers=headers).status_code == 401


def test_endpoints_can_be_turned_off() -> None:
    no_container = Agent(container=False)
    assert no_container.http.get("/v1/credentials").status_code == 404
    container_only = Agent(imds=False)
    put = container_only.http.put("/latest/api/token", headers={TTL: "60"})
    assert put.status_code == 404
    ok = container_only.http.get("/v1/credentials", headers={"Authorization": CONTAINER_TOKEN})
    assert ok.status_code == 200
