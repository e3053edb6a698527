"""Query-protocol XML output, parsed back by botocore's own parser (and a real client).

The response and error layouts are AWS's (IAM/STS API references, "Common Errors";
ErrorResponse with Type/Code/Message and RequestId as AWS STS sends it).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.model import OperationModel
from botocore.parsers import create_parser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chamberlain.ops.core import dispatch  # noqa: F401  (registers every operation)
from chamberlain.ops.core.registry import REGISTRY
from chamberlain.protocol.models import service_model
from chamberlain.protocol.query import decode_query
from chamberlain.protocol.wire_errors import (
    AWS_FAULT_NAMESPACE,
    ProtocolError,
    error_spec,
    error_specs,
    operation_error_codes,
)
from chamberlain.protocol.xml_out import (
    escape_text,
    format_timestamp,
    serialize_error,
    serialize_operation_response,
    serialize_protocol_error,
    serialize_response,
)

PARSER = create_parser("query")
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


def parse(service: str, operation: str, body: bytes, status: int = 200) -> dict[str, Any]:
    shape = service_model(service).operation_model(operation).output_shape
    parsed = PARSER.parse({"body": body, "headers": {}, "status_code": status}, shape)
    metadata = parsed.pop("ResponseMetadata")
    assert metadata["RequestId"] == "req-1"
    return _unquote_policies(parsed, shape)


def _unquote_policies(value: Any, shape: Any) -> Any:
    """IAM URL-encodes policy documents on the wire; botocore's handler decodes them."""
    if shape is None:
        return value
    if shape.type_name == "string" and shape.name == "policyDocumentType":
        return unquote(value)
    if shape.type_name == "structure" and isinstance(value, dict):
        return {
            k: _unquote_policies(v, shape.members[k]) if k in shape.members else v
            for k, v in value.items()
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [_unquote_policies(v, shape.member) for v in value]
    return value


def _implemented(service: str) -> list[str]:
    """The operations Chamberlain serves (the installed botocore model may have more)."""
    return sorted(name for s, name in REGISTRY if s == service)


def _operations_with_output() -> list[tuple[str, str]]:
    return [
        (s, name)
        for s in ("iam", "sts")
        for name in _implemented(s)
        if service_model(s).operation_model(name).output_shape is not None
    ]


@pytest.mark.parametrize(("service", "operation"), _operations_with_output())
def test_every_output_roundtrips_through_botocore(
    service: str, operation: str, shapes: Any
) -> None:
    shape = service_model(service).operation_model(operation).output_shape
    for full in (False, True):
        output = shapes.example(shape, full=full)
        body = serialize_response(service, operation, output, "req-1")
        assert parse(service, operation, body) == output


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_outputs_roundtrip(shapes: Any, data: st.DataObject) -> None:
    service, operation = data.draw(st.sampled_from(_operations_with_output()))
    shape = service_model(service).operation_model(operation).output_shape
    output = data.draw(shapes.strategy(shape))
    body = serialize_response(service, operation, output, "req-1")
    assert parse(service, operation, body) == output


def test_response_layout() -> None:
    created = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    user = {"Path": "/", "UserName": "a", "UserId": "AIDA", "Arn": "arn", "CreateDate": created}
    body = serialize_response("iam", "GetUser", {"User": user}, "req-1").decode()
    root = ET.fromstring(body)
    assert root.tag == f"{{{IAM_NS}}}GetUserResponse"
    assert [child.tag.split("}")[1] for child in root] == ["GetUserResult", "ResponseMetadata"]
    assert "<CreateDate>2024-01-02T03:04:05Z</CreateDate>" in body
    sts = serialize_response("sts", "GetCallerIdentity", {"Account": "1"}, "r").decode()
    assert sts.startswith(f'<GetCallerIdentityResponse xmlns="{STS_NS}">')


def test_operation_without_output_has_only_response_metadata() -> None:
    body = serialize_response("iam", "DeleteUser", None, "req-1")
    root = ET.fromstring(body)
    assert root.tag == f"{{{IAM_NS}}}DeleteUserResponse"
    assert [child.tag for child in root] == [f"{{{IAM_NS}}}ResponseMetadata"]
    assert parse("iam", "DeleteUser", body) == {}


def test_empty_collections_and_booleans() -> None:
    output = {"Users": [], "IsTruncated": False}
    body = serialize_response("iam", "ListUsers", output, "req-1")
    assert b"<Users/>" in body
    assert b"<IsTruncated>false</IsTruncated>" in body
    assert parse("iam", "ListUsers", body) == output


def test_unknown_members_and_wrong_types_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="no member"):
        serialize_response("iam", "ListUsers", {"Users": [], "Nope": 1}, "r")
    with pytest.raises(TypeError):
        serialize_response("iam", "ListUsers", {"Users": [], "IsTruncated": "yes"}, "r")
    with pytest.raises(TypeError, match="naive"):
        format_timestamp(dt.datetime(2024, 1, 1))


def test_timestamps_are_utc_with_z() -> None:
    tz = dt.timezone(dt.timedelta(hours=5, minutes=30))
    assert format_timestamp(dt.datetime(2024, 1, 1, 5, 30, tzinfo=tz)) == "2024-01-01T00:00:00Z"
    moment = dt.datetime(2011, 7, 15, 23, 28, 33, 359000, tzinfo=dt.UTC)
    assert format_timestamp(moment) == "2011-07-15T23:28:33.359Z"


# ------------------------------------------------------------------------- escaping


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec=None, exclude_categories=()), max_size=40))
def test_any_string_gives_well_formed_xml(text: str) -> None:
    output = {"Account": text, "UserId": "<&>]]>", "Arn": text}
    body = serialize_response("sts", "GetCallerIdentity", output, text)
    ET.fromstring(body)  # well-formed whatever the input
    parsed = PARSER.parse(
        {"body": body, "headers": {}, "status_code": 200},
        service_model("sts").operation_model("GetCallerIdentity").output_shape,
    )
    legal = all(
        c in "\t\n\r" or 0x20 <= ord(c) <= 0xD7FF or 0xE000 <= ord(c) <= 0xFFFD or ord(c) > 0xFFFF
        for c in text
    )
    if legal:
        assert parsed["Account"] == text
        assert (parsed["ResponseMetadata"]["RequestId"] or "") == text
    assert parsed["UserId"] == "<&>]]>"


def test_illegal_characters_become_replacement_characters() -> None:
    assert escape_text("a\x00b\ud800c\uffff\r") == "a\ufffdb\ufffdc\ufffd&#13;"


# --------------------------------------------------------------------------- errors


def parse_error(body: bytes, status: int) -> dict[str, Any]:
    return PARSER.parse({"body": body, "headers": {}, "status_code": status}, None)


@pytest.mark.parametrize("sender", [True, False])
def test_error_response_parses_into_code_message_type(sender: bool) -> None:
    body = serialize_error(
        "iam",
        "NoSuchEntity",
        "The user with name <bob> cannot be found.",
        "req-9",
        sender_fault=sender,
    )
    root = ET.fromstring(body)
    assert root.tag == f"{{{IAM_NS}}}ErrorResponse"
    parsed = parse_error(body, 404)
    assert parsed["Error"] == {
        "Type": "Sender" if sender else "Receiver",
        "Code": "NoSuchEntity",
        "Message": "The user with name <bob> cannot be found.",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_protocol_errors_use_the_aws_fault_namespace_when_aws_does() -> None:
    try:
        decode_query("sts", [("Action", "Nope"), ("Version", "2011-06-15")])
    except ProtocolError as err:
        body = serialize_protocol_error("sts", err, "r")
    root = ET.fromstring(body)
    assert root.tag == f"{{{AWS_FAULT_NAMESPACE}}}ErrorResponse"
    assert parse_error(body, 400)["Error"]["Code"] == "InvalidAction"
    validation = ProtocolError("ValidationError", "1 validation error detected: x")
    assert ET.fromstring(serialize_protocol_error("sts", validation, "r")).tag == (
        f"{{{STS_NS}}}ErrorResponse"
    )


# ------------------------------------------------------- flattened lists and locationName


def test_flattened_lists_maps_and_location_names_parse_in_botocore(synthetic: Any) -> None:
    op: OperationModel = synthetic.operation
    body = serialize_operation_response(op, "https://example.com/doc/", synthetic.value, "req-1")
    text = body.decode()
    assert "<Item>p</Item>" in text
    assert "<Renamed>" in text and "<Entry>" in text and "<alpha>a1</alpha>" in text
    assert "<Data>" in text and "<Name>n</Name>" in text
    parsed = PARSER.parse({"body": body, "headers": {}, "status_code": 200}, op.output_shape)
    parsed.pop("ResponseMetadata")
    assert parsed == synthetic.value


# ------------------------------------------------------------- a real botocore client


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


Handler = Callable[[str, dict[str, Any]], dict[str, Any] | None]


def _client(service: str, handler: Handler) -> Any:
    """A stock botocore client whose HTTP exchange is answered by our wire layer."""
    session = botocore.session.get_session()
    client = session.create_client(
        service,
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLEEXAMPLE00",
        aws_secret_access_key="secret",
    )

    def send(request: Any, **_: Any) -> AWSResponse:
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        try:
            decoded = decode_query(service, parse_qsl(body.decode(), keep_blank_values=True))
            output = handler(decoded.operation, decoded.params)
            payload = serialize_response(service, decoded.operation, output, "req-1")
            status = 200
        except ProtocolError as err:
            payload = serialize_protocol_error(service, err, "req-1")
            status = err.http_status
        return AWSResponse(request.url, status, {"Content-Type": "text/xml"}, _Raw(payload))

    client.meta.events.register("before-send", send)
    return client


def test_unmodified_botocore_client_round_trip() -> None:
    created = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    seen: list[tuple[str, dict[str, Any]]] = []

    def handler(operation: str, params: dict[str, Any]) -> dict[str, Any] | None:
        seen.append((operation, params))
        if operation == "CreateUser":
            user = {
                "Path": "/",
                "UserName": params["UserName"],
                "UserId": "AIDAX",
                "Arn": f"arn:aws:iam::123456789012:user/{params['UserName']}",
                "CreateDate": created,
                "Tags": params.get("Tags", []),
            }
            return {"User": user}
        if operation == "GetUser":
            spec = error_spec("iam", "NoSuchEntity")
            assert spec is not None
            raise ProtocolError(
                spec.code,
                "The user with name x cannot be found.",
                spec.http_status,
                spec.sender_fault,
            )
        return None

    client = _client("iam", handler)
    tags = [{"Key": "k", "Value": "v"}]
    response = client.create_user(UserName="alice", Tags=tags)
    assert response["User"]["UserName"] == "alice"
    assert response["User"]["CreateDate"] == created
    assert response["User"]["Tags"] == tags
    assert response["ResponseMetadata"]["RequestId"] == "req-1"
    assert seen[0] == ("CreateUser", {"UserName": "alice", "Tags": tags})

    assert client.delete_user(UserName="alice")["ResponseMetadata"]["HTTPStatusCode"] == 200

    with pytest.raises(client.exceptions.NoSuchEntityException) as caught:
        client.get_user(UserName="x")
    error = caught.value.response
    assert error["Error"]["Code"] == "NoSuchEntity"
    assert error["Error"]["Message"] == "The user with name x cannot be found."
    assert error["Error"]["Type"] == "Sender"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_unmodified_sts_client_sees_validation_errors() -> None:
    client = _client("sts", lambda op, params: None)
    with pytest.raises(ClientError) as caught:
        client.assume_role(RoleArn="arn:aws:iam::123456789012:role/demo", RoleSessionName="a/b")
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Message"].startswith("1 validation error detected: Value 'a/b' at ")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# ------------------------------------------------------------------- modeled errors


@pytest.mark.parametrize(
    ("code", "status", "sender"),
    [
        ("NoSuchEntity", 404, True),
        ("EntityAlreadyExists", 409, True),
        ("LimitExceeded", 409, True),
        ("DeleteConflict", 409, True),
        ("MalformedPolicyDocument", 400, True),
        ("InvalidInput", 400, True),
        ("ServiceFailure", 500, False),
        ("ConcurrentModification", 409, True),
        ("UnmodifiableEntity", 400, True),
        ("PolicyEvaluation", 500, False),
        ("ReportExpired", 410, True),
    ],
)
def test_iam_error_specs_come_from_the_model(code: str, status: int, sender: bool) -> None:
    spec = error_spec("iam", code)
    assert spec is not None
    assert (spec.http_status, spec.sender_fault) == (status, sender)


def test_sts_and_cloudtrail_error_specs() -> None:
    expired = error_spec("sts", "ExpiredTokenException")
    assert expired is not None and expired.http_status == 400
    assert error_spec("sts", "PackedPolicyTooLarge") is not None
    lookup = error_spec("cloudtrail", "InvalidLookupAttributesException")
    assert lookup is not None and (lookup.http_status, lookup.sender_fault) == (400, True)
    assert error_spec("iam", "NoSuchThing") is None
    assert "NoSuchEntity" in operation_error_codes("iam", "GetUser")
    assert all(spec.code == code for code, spec in error_specs("iam").items())
