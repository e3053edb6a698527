"""examples/protected_app.py against a real Chamberlain server: clients sign with botocore's
SigV4Auth for the app's signing name ("widgets"), the middleware forwards their
signature material to POST /v1/authorize, and the app answers or refuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from examples.protected_app import create_app
from tests.e2e.conftest import ACCOUNT, Server
from tests.middleware.conftest import AppServer

WIDGETS = f"arn:aws:widgets:us-east-1:{ACCOUNT}:widget/*"


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _user(iam: Any, name: str, policy: str | None) -> Credentials:
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


class Users:
    def __init__(self, chamberlain: Server) -> None:
        iam = chamberlain.client("iam")
        self.service = _user(
            iam,
            "widget-service",
            _policy({"Effect": "Allow", "Action": "chamberlain:Authorize", "Resource": "*"}),
        )
        self.no_permission = _user(iam, "stray-service", None)
        self.alice = _user(
            iam,
            "alice",
            _policy(
                {"Effect": "Allow", "Action": "widgets:*", "Resource": WIDGETS},
                {
                    "Sid": "KeepWidgets",
                    "Effect": "Deny",
                    "Action": "widgets:DeleteWidget",
                    "Resource": "*",
                },
            ),
        )
        self.bob = _user(iam, "bob", None)


@pytest.fixture(scope="module")
def users(chamberlain: Server) -> Users:
    return Users(chamberlain)


@pytest.fixture(scope="module")
def app(chamberlain: Server, users: Users) -> Iterator[AppServer]:
    with AppServer(create_app(chamberlain.endpoint, ACCOUNT, users.service)) as served:
        yield served


def call(
    app: AppServer,
    creds: Credentials | None,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    sign_path: str | None = None,
) -> httpx.Response:
    """A request to the app, SigV4-signed by botocore as any AWS SDK signs it."""
    headers: dict[str, str] = {"Content-Type": "application/json"} if body else {}
    if creds is not None:
        request = AWSRequest(
            method=method, url=app.url + (sign_path or path), data=body, headers=headers
        )
        SigV4Auth(creds, "widgets", "us-east-1").add_auth(request)
        headers = dict(request.headers.items())
    return httpx.request(method, app.url + path, content=body, headers=headers, timeout=10)


def test_allowed_user_reaches_the_app_as_themselves(app: AppServer, users: Users) -> None:
    answer = call(app, users.alice, "GET", "/widgets/w1?colour=blue")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"widget": "w1", "caller": f"arn:aws:iam::{ACCOUNT}:user/alice"}


def test_the_signed_body_reaches_the_app(app: AppServer, users: Users) -> None:
    body = json.dumps({"colour": "blue"}).encode()
    answer = call(app, users.alice, "PUT", "/widgets/w2", body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"widget": "w2", "stored": {"colour": "blue"}}


def test_explicit_deny_is_403_and_its_message_decodes(
    app: AppServer, users: Users, chamberlain: Server
) -> None:
    answer = call(app, users.alice, "DELETE", "/widgets/w1")
    assert answer.status_code == 403
    error = answer.json()
    assert error["__type"] == "AccessDenied"
    assert error["message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: "
        f"widgets:DeleteWidget on resource: arn:aws:widgets:us-east-1:{ACCOUNT}:widget/w1 "
        "with an explicit deny in an identity-based policy"
    )
    decoded = chamberlain.aws(
        "sts", "decode-authorization-message", "--encoded-message", error["encodedMessage"]
    )
    message = json.loads(decoded["DecodedMessage"])
    assert message["explicitDeny"] is True
    assert message["matchedStatements"]["items"][0]["statementId"] == "KeepWidgets"
    assert message["context"]["action"] == "widgets:DeleteWidget"


def test_user_without_permission_is_403(app: AppServer, users: Users) -> None:
    answer = call(app, users.bob, "GET", "/widgets/w1")
    assert answer.status_code == 403
    assert (
        "because no identity-based policy allows the widgets:GetWidget action"
        in (answer.json()["message"])
    )


def test_bad_or_missing_signature_is_401(app: AppServer, users: Users) -> None:
    forged = Credentials(users.alice.access_key, "not-the-secret-key-of-alice-000000000000")
    answer = call(app, forged, "GET", "/widgets/w1")
    assert (answer.status_code, answer.json()["__type"]) == (401, "SignatureDoesNotMatch")
    replayed = call(app, users.alice, "GET", "/widgets/w9", sign_path="/widgets/w1")
    assert (replayed.status_code, replayed.json()["__type"]) == (401, "SignatureDoesNotMatch")
    unsigned = call(app, None, "GET", "/widgets/w1")
    assert (unsigned.status_code, unsigned.json()["__type"]) == (
        401,
        "MissingAuthenticationToken",
    )


def test_public_and_unmapped_routes(app: AppServer, users: Users) -> None:
    assert call(app, None, "GET", "/health").json() == {"ok": True}
    unmapped = call(app, users.alice, "GET", "/gadgets/g1")
    assert (unmapped.status_code, unmapped.json()["__type"]) == (403, "AccessDenied")


def test_app_whose_key_lacks_chamberlain_authorize_fails_closed(
    chamberlain: Server, users: Users
) -> None:
    with AppServer(create_app(chamberlain.endpoint, ACCOUNT, users.no_permission)) as stray:
        answer = call(stray, users.alice, "GET", "/widgets/w1")
    assert (answer.status_code, answer.json()["__type"]) == (503, "ServiceUnavailable")
