"""chamberlain.middleware's clients against a real Chamberlain server (sync and async)."""

from __future__ import annotations

import asyncio
import json

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from tests.e2e.conftest import ACCOUNT, Server, free_port

from chamberlain.middleware import (
    AsyncAuthorizeClient,
    AuthorizeClient,
    ChamberlainError,
    forwarded_request,
)

ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
REPORT = f"arn:aws:reports:us-east-1:{ACCOUNT}:report/r1"


def _keys(chamberlain: Server, user: str, *statements: dict[str, str]) -> Credentials:
    iam = chamberlain.client("iam")
    iam.create_user(UserName=user)
    if statements:
        document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=document)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture(scope="module")
def keys(chamberlain: Server) -> dict[str, Credentials]:
    return {
        "service": _keys(
            chamberlain,
            "report-service",
            {"Effect": "Allow", "Action": "chamberlain:Authorize", "Resource": ALICE},
        ),
        "alice": _keys(
            chamberlain,
            "alice",
            {"Effect": "Allow", "Action": "reports:ReadReport", "Resource": REPORT},
        ),
    }


def alice_request(creds: Credentials) -> dict[str, object]:
    request = AWSRequest(method="GET", url="https://reports.example.com/reports/r1?format=csv")
    SigV4Auth(creds, "reports", "us-east-1").add_auth(request)
    headers = [("Host", "reports.example.com"), *request.headers.items()]
    return forwarded_request(
        method="GET",
        path="/reports/r1",
        query="format=csv",
        headers=headers,
        body=b"",
        service="reports",
    )


def test_sync_client_forwarded_request(chamberlain: Server, keys: dict[str, Credentials]) -> None:
    with AuthorizeClient(chamberlain.endpoint, keys["service"]) as client:
        answer = client.authorize(
            action="reports:ReadReport", resource=REPORT, request=alice_request(keys["alice"])
        )
        assert answer.allowed and answer.decision == "allowed"
        assert answer.principal is not None and answer.principal["arn"] == ALICE
        other = client.authorize(
            action="reports:DeleteReport", resource=REPORT, request=alice_request(keys["alice"])
        )
        assert (other.decision, other.error_code) == ("implicitDeny", "AccessDenied")
        assert other.encoded_message


def test_sync_client_errors(chamberlain: Server, keys: dict[str, Credentials]) -> None:
    with AuthorizeClient(chamberlain.endpoint, keys["service"]) as client:
        with pytest.raises(ChamberlainError) as denied:
            client.authorize(action="reports:ReadReport", resource=REPORT, principal_arn=ALICE)
        assert (denied.value.code, denied.value.status) == ("AccessDenied", 403)
        assert "chamberlain:AuthorizeByArn" in denied.value.message
        with pytest.raises(ValueError):
            client.authorize(action="reports:ReadReport", resource=REPORT)
    with AuthorizeClient(f"http://127.0.0.1:{free_port()}", keys["service"]) as nowhere:
        with pytest.raises(ChamberlainError) as unreachable:
            nowhere.authorize(action="reports:ReadReport", resource=REPORT, principal_arn=ALICE)
        assert (unreachable.value.code, unreachable.value.status) == ("ChamberlainUnavailable", 0)


def test_async_client(chamberlain: Server, keys: dict[str, Credentials]) -> None:
    async def ask() -> str:
        client = AsyncAuthorizeClient(chamberlain.endpoint, keys["service"])
        try:
            answer = await client.authorize(
                action="reports:ReadReport", resource=REPORT, request=alice_request(keys["alice"])
            )
        finally:
            await client.aclose()
        return answer.decision

    assert asyncio.run(ask()) == "allowed"
