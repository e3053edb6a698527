"""POST /v1/authorize in-process (memory store, the real app through Starlette's TestClient):
end users' requests signed by botocore, the calling service's call signed by botocore for
the signing name `chamberlain`. The denial's encoded message is read back through STS
DecodeAuthorizationMessage, as AWS documents it:
https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from starlette.testclient import TestClient
from tests.ops.conftest import ACCOUNT, meta, root_caller

from chamberlain.app import create_app
from chamberlain.ops.audit import records, trail
from chamberlain.ops.core.authorize import DATA_EVENTS_CACHE, AuthorizeQuery, authorize_call
from chamberlain.ops.core.context import Caller, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import NoSuchEntity
from chamberlain.ops.core.group_commit import GroupCommit
from chamberlain.store.sql import SqlStore

ENDPOINT = "http://127.0.0.1"
APP = "https://widgets.example.com"
WIDGET = f"arn:aws:widgets:us-east-1:{ACCOUNT}:widget/w1"

ALICE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadWidgets",
            "Effect": "Allow",
            "Action": ["widgets:Get*", "widgets:DeleteWidget"],
            "Resource": f"arn:aws:widgets:us-east-1:{ACCOUNT}:widget/*",
        },
        {
            "Sid": "NeverDelete",
            "Effect": "Deny",
            "Action": "widgets:DeleteWidget",
            "Resource": "*",
        },
        {
            "Sid": "TaggedOnly",
            "Effect": "Allow",
            "Action": "widgets:PaintWidget",
            "Resource": "*",
            "Condition": {"StringEquals": {"widgets:Color": "blue"}},
        },
    ],
}
SERVICE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "chamberlain:Authorize", "Resource": "*"},
        {"Effect": "Allow", "Action": "sts:DecodeAuthorizationMessage", "Resource": "*"},
    ],
}


def _keys(iam: Callable[..., Any], user: str, policy: dict[str, Any] | None) -> Credentials:
    iam("CreateUser", UserName=user)
    if policy is not None:
        iam(
            "PutUserPolicy",
            UserName=user,
            PolicyName=f"{user}-policy",
            PolicyDocument=json.dumps(policy),
        )
    key = iam("CreateAccessKey", UserName=user)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


class Harness:
    def __init__(self, services: Services, iam: Callable[..., Any]) -> None:
        self.services = services
        self.client = TestClient(create_app(services), base_url=ENDPOINT)
        self.service = _keys(iam, "widget-service", SERVICE_POLICY)
        self.alice = _keys(iam, "alice", ALICE_POLICY)
        self.bob = _keys(iam, "bob", None)
        self.outsider = _keys(iam, "outsider", None)
        self.iam = iam

    def call(self, payload: Any, creds: Credentials | None = None, raw: bytes | None = None) -> Any:
        body = raw if raw is not None else json.dumps(payload).encode()
        request = AWSRequest(
            method="POST",
            url=ENDPOINT + "/v1/authorize",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        SigV4Auth(creds or self.service, "chamberlain", "us-east-1").add_auth(request)
        return self.client.post(
            "/v1/authorize", content=body, headers=dict(request.headers.items())
        )

    def sts(self, creds: Credentials, **params: str) -> Any:
        body = urlencode({"Version": "2011-06-15", **params})
        request = AWSRequest(
            method="POST",
            url=ENDPOINT + "/",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        SigV4Auth(creds, "sts", "us-east-1").add_auth(request)
        return self.client.post("/", content=body.encode(), headers=dict(request.headers.items()))


def end_user_request(
    creds: Credentials, method: str = "GET", path: str = "/widgets/w1", body: bytes = b""
) -> dict[str, Any]:
    """What the app forwards: the end user's request as botocore signed it for `widgets`."""
    request = AWSRequest(method=method, url=APP + path, data=body)
    SigV4Auth(creds, "widgets", "us-east-1").add_auth(request)
    path_only, _, query = path.partition("?")
    return {
        "method": method,
        "path": path_only,
        "query": query,
        # botocore signs the Host from the URL; the app receives it as a header.
        "headers": [["Host", "widgets.example.com"], *([k, v] for k, v in request.headers.items())],
        "bodySha256": hashlib.sha256(body).hexdigest(),
        "service": "widgets",
    }


@pytest.fixture
def h(services: Services, iam: Callable[..., Any]) -> Harness:
    return Harness(services, iam)


def ask(action: str, principal: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"principal": principal, "action": action, "resource": WIDGET, **extra}


def test_allowed_names_the_deciding_statement(h: Harness) -> None:
    answer = h.call(ask("widgets:GetWidget", {"request": end_user_request(h.alice)}))
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert out["decision"] == "allowed" and out["allowed"] is True
    assert out["principal"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert out["principal"]["userName"] == "alice"
    assert out["matchedStatements"] == [
        {
            "sourcePolicyId": "alice-policy",
            "sourcePolicyType": "identity-based policy",
            "statementId": "ReadWidgets",
            "effect": "Allow",
            "index": 0,
        }
    ]
    assert "encodedMessage" not in out
    assert answer.headers["x-amzn-RequestId"]


def test_explicit_deny_decodes_through_sts(h: Harness) -> None:
    out = h.call(
        ask("widgets:DeleteWidget", {"request": end_user_request(h.alice, "DELETE")})
    ).json()
    assert out["decision"] == "explicitDeny" and out["allowed"] is False
    assert [m["statementId"] for m in out["matchedStatements"]] == ["NeverDelete"]
    assert out["errorCode"] == "AccessDenied"
    assert out["message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: "
        f"widgets:DeleteWidget on resource: {WIDGET} with an explicit deny in an "
        "identity-based policy"
    )
    decoded = h.sts(
        h.service, Action="DecodeAuthorizationMessage", EncodedMessage=out["encodedMessage"]
    )
    assert decoded.status_code == 200, decoded.text
    text = decoded.text.split("<DecodedMessage>")[1].split("</DecodedMessage>")[0]
    message = json.loads(text.replace("&quot;", '"'))
    assert message["allowed"] is False and message["explicitDeny"] is True
    assert message["context"]["action"] == "widgets:DeleteWidget"
    assert message["context"]["resource"] == WIDGET
    assert message["context"]["principal"]["arn"].endswith(":user/alice")
    assert message["matchedStatements"]["items"][0]["statementId"] == "NeverDelete"


def test_implicit_deny_and_missing_context_keys(h: Harness) -> None:
    out = h.call(ask("widgets:PaintWidget", {"request": end_user_request(h.alice, "POST")})).json()
    assert out["decision"] == "implicitDeny"
    assert out["matchedStatements"] == []
    assert out["missingContextKeys"] == ["widgets:Color"]
    assert out["message"].endswith(
        "because no identity-based policy allows the widgets:PaintWidget action"
    )
    painted = h.call(
        ask(
            "widgets:PaintWidget",
            {"request": end_user_request(h.alice, "POST")},
            context={"widgets:Color": "blue"},
        )
    ).json()
    assert painted["decision"] == "allowed"
    bob = h.call(ask("widgets:GetWidget", {"request": end_user_request(h.bob)})).json()
    assert bob["decision"] == "implicitDeny"


def test_bad_end_user_signature_is_unauthenticated(h: Harness, services: Services) -> None:
    forwarded = end_user_request(h.alice)
    forwarded["path"] = "/widgets/w2"  # not what alice signed
    out = h.call(ask("widgets:GetWidget", {"request": forwarded})).json()
    assert out["decision"] == "unauthenticated"
    assert out["errorCode"] == "SignatureDoesNotMatch"
    assert "principal" not in out
    assert services.group_commit is not None and services.group_commit.flush()  # a read's event
    with services.store.unit_of_work(read_only=True) as uow:
        events = list(uow.events.iterate(ACCOUNT))
    failure, call = (json.loads(e.record) for e in events[-2:])
    # Alice's key failed: recorded in her account as the API records it, credited to no one.
    assert (failure["eventSource"], failure["eventName"]) == ("widgets.amazonaws.com", "GetWidget")
    assert failure["errorCode"] == "SignatureDoesNotMatch"
    assert failure["userIdentity"]["accessKeyId"] == h.alice.access_key
    assert events[-2].principal is None
    assert call["additionalEventData"] == {"decision": "unauthenticated"}
    forwarded = end_user_request(h.alice)
    forwarded["service"] = "gadgets"  # signed for another service
    assert h.call(ask("widgets:GetWidget", {"request": forwarded})).json()["errorCode"] == (
        "SignatureDoesNotMatch"
    )
    forwarded = end_user_request(h.alice)
    forwarded["headers"] = [h for h in forwarded["headers"] if h[0].lower() != "authorization"]
    out = h.call(ask("widgets:GetWidget", {"request": forwarded})).json()
    assert (out["decision"], out["errorCode"]) == ("unauthenticated", "MissingAuthenticationToken")
    forwarded = end_user_request(h.alice, body=b"one")
    forwarded["bodySha256"] = hashlib.sha256(b"two").hexdigest()
    out = h.call(ask("widgets:GetWidget", {"request": forwarded})).json()
    assert out["errorCode"] == "SignatureDoesNotMatch"


def test_session_credentials_are_verified_too(h: Harness) -> None:
    h.iam(
        "CreateRole",
        RoleName="reader",
        AssumeRolePolicyDocument=json.dumps(
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
        ),
    )
    h.iam(
        "PutRolePolicy",
        RoleName="reader",
        PolicyName="read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "widgets:GetWidget", "Resource": "*"}],
            }
        ),
    )
    h.iam(
        "PutUserPolicy",
        UserName="bob",
        PolicyName="assume",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
            }
        ),
    )
    assumed = h.sts(
        h.bob,
        Action="AssumeRole",
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/reader",
        RoleSessionName="bob-session",
    )
    assert assumed.status_code == 200, assumed.text

    def field(name: str) -> str:
        return str(assumed.text).split(f"<{name}>")[1].split(f"</{name}>")[0]

    session = Credentials(field("AccessKeyId"), field("SecretAccessKey"), field("SessionToken"))
    out = h.call(ask("widgets:GetWidget", {"request": end_user_request(session)})).json()
    assert out["decision"] == "allowed", out
    assert out["principal"]["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/bob-session"
    assert out["principal"]["type"] == "AssumedRole"


def test_calling_service_needs_chamberlain_authorize(h: Harness) -> None:
    answer = h.call(ask("widgets:GetWidget", {"request": end_user_request(h.alice)}), h.outsider)
    assert answer.status_code == 403
    assert answer.json() == {
        "__type": "AccessDenied",
        "message": f"User: arn:aws:iam::{ACCOUNT}:user/outsider is not authorized to perform: "
        f"chamberlain:Authorize on resource: arn:aws:iam::{ACCOUNT}:user/alice because no "
        "identity-based policy allows the chamberlain:Authorize action",
    }


def test_principal_arn_needs_authorize_by_arn(h: Harness) -> None:
    alice = f"arn:aws:iam::{ACCOUNT}:user/alice"
    denied = h.call(ask("widgets:GetWidget", {"arn": alice}))
    assert denied.status_code == 403
    assert "chamberlain:AuthorizeByArn" in denied.json()["message"]
    h.iam(
        "PutUserPolicy",
        UserName="widget-service",
        PolicyName="by-arn",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "chamberlain:AuthorizeByArn",
                        "Resource": f"arn:aws:iam::{ACCOUNT}:user/*",
                    }
                ],
            }
        ),
    )
    out = h.call(ask("widgets:GetWidget", {"arn": alice})).json()
    assert out["decision"] == "allowed"
    missing = h.call(ask("widgets:GetWidget", {"arn": f"arn:aws:iam::{ACCOUNT}:user/nobody"}))
    assert (missing.status_code, missing.json()["__type"]) == (404, "NoSuchEntity")
    other = h.call(ask("widgets:GetWidget", {"arn": "arn:aws:iam::999999999999:user/alice"}))
    assert (other.status_code, other.json()["__type"]) == (403, "AccessDenied")


def test_calling_service_signature_is_checked(h: Harness) -> None:
    payload = json.dumps(ask("widgets:GetWidget", {"request": end_user_request(h.alice)})).encode()
    request = AWSRequest(method="POST", url=ENDPOINT + "/v1/authorize", data=payload)
    SigV4Auth(h.service, "iam", "us-east-1").add_auth(request)  # wrong signing name
    answer = h.client.post("/v1/authorize", content=payload, headers=dict(request.headers.items()))
    assert (answer.status_code, answer.json()["__type"]) == (403, "SignatureDoesNotMatch")
    unsigned = h.client.post("/v1/authorize", content=payload)
    assert (unsigned.status_code, unsigned.json()["__type"]) == (403, "MissingAuthenticationToken")


_BY_ARN = {"principal": {"arn": f"arn:aws:iam::{ACCOUNT}:user/alice"}, "action": "a:b"}
_REQUEST = {
    "method": "GET",
    "path": "/",
    "headers": [["a", "b"]],
    "bodySha256": "0" * 64,
    "service": "x",
}
_BAD: list[Any] = [
    b"not json",
    b"\xff\xfe",
    [],
    {"action": "widgets:GetWidget", "resource": "*"},
    {"principal": {}, "action": "widgets:GetWidget", "resource": "*"},
    {"principal": {"arn": "x", "request": {}}, "action": "a:b", "resource": "*"},
    {**_BY_ARN, "action": "GetWidget", "resource": "*"},
    {**_BY_ARN, "resource": ""},
    {**_BY_ARN, "resource": "*", "extra": 1},
    {**_BY_ARN, "resource": "*", "context": {"nocolon": "x"}},
    {**_BY_ARN, "resource": "*", "context": {"a:b": {"x": 1}}},
    {**_BY_ARN, "resource": "*", "context": {"aws:PrincipalArn": "x"}},
    {**_BY_ARN, "resource": "*", "context": {"aws:PrincipalTag/team": "x"}},
    {"principal": {"arn": "not-an-arn"}, "action": "a:b", "resource": "*"},
    {"principal": {"request": {"method": "GET"}}, "action": "a:b", "resource": "*"},
    {"principal": {"request": {**_REQUEST, "headers": [["a"]]}}, "action": "a:b", "resource": "*"},
    {"principal": {"request": {**_REQUEST, "bodySha256": "00"}}, "action": "a:b", "resource": "*"},
    {"principal": {"request": {**_REQUEST, "path": "nope"}}, "action": "a:b", "resource": "*"},
    {"principal": {"request": {**_REQUEST, "extra": 1}}, "action": "a:b", "resource": "*"},
]


@pytest.mark.parametrize("payload", _BAD)
def test_bad_input_is_a_400_validation_error(h: Harness, payload: bytes) -> None:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    answer = h.call(None, raw=raw)
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert error["__type"] == "ValidationError"
    assert error["message"]


def test_audited_as_management_event_then_data_event_when_the_account_opts_in(
    h: Harness, services: Services
) -> None:
    def last_record() -> dict[str, Any]:
        # a decision's event is a read's: committed by the group-commit writer
        assert services.group_commit is not None and services.group_commit.flush()
        with services.store.unit_of_work(read_only=True) as uow:
            event = uow.events.last(ACCOUNT)
            assert event is not None
            return json.loads(event.record)  # type: ignore[no-any-return]

    h.call(ask("widgets:GetWidget", {"request": end_user_request(h.alice)}))
    record = last_record()
    assert (record["eventSource"], record["eventName"]) == (
        "chamberlain.amazonaws.com",
        "Authorize",
    )
    assert record["eventCategory"] == "Management"
    assert record["userIdentity"]["userName"] == "widget-service"
    assert record["requestParameters"]["principalArn"].endswith(":user/alice")
    assert record["additionalEventData"] == {"decision": "allowed"}
    assert "Signature" not in json.dumps(record)

    h.iam("PutAccountProperties", Properties={"chamberlain/AuthorizeDataEvents": "true"})
    h.call(ask("widgets:DeleteWidget", {"request": end_user_request(h.alice, "DELETE")}))
    record = last_record()
    assert (record["eventSource"], record["eventName"]) == ("widgets.amazonaws.com", "DeleteWidget")
    assert record["eventCategory"] == "Data" and record["managementEvent"] is False
    assert record["userIdentity"]["userName"] == "alice"
    assert record["errorCode"] == "AccessDenied"
    assert record["additionalEventData"]["authorizedBy"].endswith(":user/widget-service")
    assert record["resources"] == [{"ARN": WIDGET, "accountId": ACCOUNT}]


def test_wrong_method_and_oversized_body_are_json_errors(h: Harness) -> None:
    wrong = h.client.get("/v1/authorize")
    assert (wrong.status_code, wrong.json()["__type"]) == (405, "MethodNotAllowed")
    huge = h.client.post("/v1/authorize", content=b"x" * (1024 * 1024 + 1))
    assert (huge.status_code, huge.json()["__type"]) == (413, "RequestEntityTooLarge")


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
_members = st.fixed_dictionaries(
    {},
    optional={
        "principal": st.one_of(
            _json_values,
            st.fixed_dictionaries({"arn": _json_values}),
            st.fixed_dictionaries(
                {},
                optional={
                    "request": st.fixed_dictionaries(
                        {},
                        optional={
                            name: _json_values
                            for name in ("method", "path", "query", "headers", "bodySha256")
                        }
                        | {"service": st.sampled_from(["widgets", "", "X"])},
                    )
                },
            ),
        ),
        "action": st.sampled_from(["widgets:GetWidget", "a:*", ":", ""]) | _json_values,
        "resource": st.sampled_from(["*", "arn:aws:s3:::b", ""]) | _json_values,
        "context": _json_values,
    },
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=_members)
def test_any_json_gets_an_answer_or_a_json_error_never_a_500(h: Harness, document: Any) -> None:
    answer = h.call(document)
    assert answer.status_code in (200, 400, 403, 404), answer.text
    body = answer.json()
    assert "decision" in body if answer.status_code == 200 else body["__type"] and body["message"]


def test_presigned_url_of_the_end_user(h: Harness) -> None:
    request = AWSRequest(method="GET", url=APP + "/widgets/w1?view=full")
    SigV4QueryAuth(h.alice, "widgets", "us-east-1", expires=300).add_auth(request)
    presigned = request.prepare().url
    path, _, query = presigned.removeprefix(APP).partition("?")
    forwarded = {
        "method": "GET",
        "path": path,
        "query": query,
        "headers": [["Host", "widgets.example.com"]],
        "bodySha256": hashlib.sha256(b"").hexdigest(),
        "service": "widgets",
    }
    out = h.call(ask("widgets:GetWidget", {"request": forwarded})).json()
    assert out["decision"] == "allowed", out
    forwarded["query"] = query.replace("view=full", "view=raw")
    assert h.call(ask("widgets:GetWidget", {"request": forwarded})).json()["errorCode"] == (
        "SignatureDoesNotMatch"
    )


# ------------------------------------------------- audit batching and the setting's cache


def _service_and_alice(services: Services) -> Caller:
    """The account's root (the calling service: allowed everything) and user alice with
    ALICE_POLICY; returns the service."""
    caller = root_caller()
    execute(services, caller, meta(), "iam", "CreateUser", {"UserName": "alice"})
    execute(services, caller, meta(), "iam", "PutUserPolicy", {"UserName": "alice",
            "PolicyName": "p", "PolicyDocument": json.dumps(ALICE_POLICY)})  # fmt: skip
    return caller


def _by_arn(action: str, name: str = "alice") -> AuthorizeQuery:
    return AuthorizeQuery(action, WIDGET, principal_arn=f"arn:aws:iam::{ACCOUNT}:user/{name}")


@pytest.mark.parametrize("data_events", [False, True])
def test_decisions_events_are_chained_in_batches_in_order_with_reads(
    sql_services: Services, monkeypatch: pytest.MonkeyPatch, data_events: bool
) -> None:
    """Decisions (allowed, denied, refused) interleaved with API reads: every event lands
    once, in the order the calls were answered, the chain verifies, and each batch read
    the chain's head once and inserted its events in one statement (not per event)."""
    services = sql_services
    service = _service_and_alice(services)
    if data_events:
        execute(services, service, meta(), "iam", "PutAccountProperties",
                {"Properties": {"chamberlain/AuthorizeDataEvents": "true"}})  # fmt: skip
    heads: list[str] = []
    batches: list[int] = []
    singles: list[str] = []
    chain_head, append_pending, append = (
        records._chain_head,
        records.append_pending,
        records.append,
    )

    def counted_head(uow: Any, account_id: str) -> tuple[int, str]:
        heads.append(account_id)
        return chain_head(uow, account_id)

    def counted_batch(uow: Any, batch: Any) -> None:
        batches.append(len(batch))
        append_pending(uow, batch)

    def counted_single(uow: Any, secrets: Any, account_id: str, *args: Any) -> Any:
        singles.append(account_id)
        return append(uow, secrets, account_id, *args)

    monkeypatch.setattr(records, "_chain_head", counted_head)
    monkeypatch.setattr(records, "append_pending", counted_batch)
    monkeypatch.setattr(records, "append", counted_single)
    assert isinstance(services.store, SqlStore)
    inserts: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO EVENTS"):
            inserts.append(statement)

    event.listen(services.store.engine, "before_cursor_execute", count)
    # long enough for the calls to share a batch, even on a busy machine
    services.group_commit = GroupCommit(services.store, max_delay=1.0)
    expected: list[tuple[str, str]] = []
    for n in range(12):
        request = meta()
        if n % 3 == 2:  # an API read in between: its event takes its turn
            execute(services, service, request, "iam", "GetUser", {"UserName": "alice"})
            expected.append((request.request_id, "GetUser"))
            continue
        action = "widgets:GetWidget" if n % 2 else "widgets:DeleteWidget"
        _, answer = authorize_call(services, service, request, _by_arn(action))
        assert answer["decision"] == ("allowed" if n % 2 else "explicitDeny")
        expected.append((request.request_id, action.split(":")[1] if data_events else "Authorize"))
    refused = meta()
    with pytest.raises(NoSuchEntity):
        authorize_call(services, service, refused, _by_arn("widgets:GetWidget", "nobody"))
    expected.append((refused.request_id, "Authorize"))
    assert services.group_commit.flush()
    services.group_commit.close()
    event.remove(services.store.engine, "before_cursor_execute", count)

    assert singles == []  # no event appended one at a time
    assert sum(batches) == len(expected)
    assert heads == [ACCOUNT] * len(batches)  # one head read per batch (one account)
    assert len(inserts) == len(batches)  # one multi-row insert per batch
    result = trail.verify(services.store, services.secrets)
    assert result.problems == ()
    with services.store.unit_of_work(read_only=True) as uow:
        trail_events = [json.loads(e.record) for e in uow.events.iterate(ACCOUNT)]
    got = [(r["requestID"], r["eventName"]) for r in trail_events]
    assert got[-len(expected) :] == expected
    if data_events:
        decisions = [r for r in trail_events[-len(expected) :] if r["eventName"] != "GetUser"]
        assert [r["eventCategory"] for r in decisions[:-1]] == ["Data"] * (len(decisions) - 1)
        assert decisions[-1]["errorCode"] == "NoSuchEntity"  # the management event


def test_data_events_setting_is_cached_per_node_under_the_accounts_generation(
    sql_services: Services,
) -> None:
    """Two nodes on one database: each reads the setting once while the account's
    generation stands (a write to one user does not move it), and a change made on either
    node takes effect at the very next call on both."""
    node_a = sql_services
    node_b = Services(node_a.store, node_a.secrets, node_a.tokens,
                      password_params=node_a.password_params)  # fmt: skip
    service = _service_and_alice(node_a)

    def category(node: Services) -> str:
        request = meta()
        authorize_call(node, service, request, _by_arn("widgets:GetWidget"))
        with node.store.unit_of_work(read_only=True) as uow:
            last = uow.events.last(ACCOUNT)
            assert last is not None
            record = json.loads(last.record)
        assert record["requestID"] == request.request_id
        return str(record["eventCategory"])

    def lookups(node: Services) -> tuple[int, int]:
        return (node.cache_stats[(DATA_EVENTS_CACHE, True)],
                node.cache_stats[(DATA_EVENTS_CACHE, False)])  # fmt: skip

    def put(node: Services, value: str) -> None:
        execute(node, service, meta(), "iam", "PutAccountProperties",
                {"Properties": {"chamberlain/AuthorizeDataEvents": value}})  # fmt: skip

    assert [category(node_a), category(node_b), category(node_a)] == ["Management"] * 3
    assert lookups(node_a) == (1, 1) and lookups(node_b) == (0, 1)
    execute(node_b, service, meta(), "iam", "CreateUser", {"UserName": "bob"})  # bob's scope
    assert category(node_a) == "Management" and lookups(node_a) == (2, 1)

    put(node_b, "true")  # on the other node
    assert category(node_a) == "Data" and lookups(node_a) == (2, 2)
    assert category(node_a) == "Data" and lookups(node_a) == (3, 2)
    assert category(node_b) == "Data"
    put(node_a, "false")  # on this node
    assert category(node_a) == "Management"
    assert category(node_b) == "Management"
    assert trail.verify(node_a.store, node_a.secrets).problems == ()
