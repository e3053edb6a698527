"""JSON 1.1 (CloudTrail LookupEvents) against botocore's JSON serializer and parser."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import given, settings
from hypothesis import strategies as st

from chamberlain.protocol.json11 import (
    CONTENT_TYPE,
    MEMBER_ERROR_CODES,
    common_error,
    decode_json_request,
    resolve_target,
    serialize_error,
    serialize_output,
    target_service,
)
from chamberlain.protocol.models import service_model
from chamberlain.protocol.wire_errors import ProtocolError

SERIALIZER = create_serializer("json", include_validation=True)
PARSER = create_parser("json")
TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
OP = service_model("cloudtrail").operation_model("LookupEvents")


def encode(params: dict[str, Any]) -> tuple[str, bytes]:
    request = SERIALIZER.serialize_to_request(params, OP)
    assert request["headers"]["Content-Type"] == CONTENT_TYPE
    return request["headers"]["X-Amz-Target"], request["body"]


def test_target_resolves_to_the_operation() -> None:
    assert resolve_target("cloudtrail", TARGET) == "LookupEvents"


def test_smithy_target_resolves_to_the_operation() -> None:
    """The AWS SDK for JavaScript v3 (and every SDK generated from Smithy models) sends
    `X-Amz-Target: CloudTrail_20131101.LookupEvents`: the service shape's name, a period,
    the operation's name (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html);
    botocore sends its model's longer targetPrefix. CloudTrail accepts both."""
    assert resolve_target("cloudtrail", "CloudTrail_20131101.LookupEvents") == "LookupEvents"
    decoded = decode_json_request("cloudtrail", "CloudTrail_20131101.LookupEvents", b"{}")
    assert decoded.operation == "LookupEvents"
    assert target_service("CloudTrail_20131101.LookupEvents", ["cloudtrail"]) == "cloudtrail"
    assert target_service(TARGET, ["cloudtrail"]) == "cloudtrail"
    assert target_service("DynamoDB_20120810.GetItem", ["cloudtrail"]) is None


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "LookupEvents",
        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.NoSuchThing",
        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.lookupevents",
        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131102.LookupEvents",
        "CloudTrail_20131101.",
        "CloudTrail_20131101.NoSuchThing",
        "CloudTrail_20131102.LookupEvents",
        "cloudtrail_20131101.LookupEvents",
        "v20131101.CloudTrail_20131101.LookupEvents",
        "CloudTrail_20131101.LookupEvents.Extra",
    ],
)
def test_unknown_targets(target: str | None) -> None:
    with pytest.raises(ProtocolError) as caught:
        resolve_target("cloudtrail", target)
    assert (caught.value.code, caught.value.http_status) == ("UnknownOperationException", 400)


def test_lookup_events_request_roundtrip() -> None:
    params = {
        "LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": "alice"}],
        "StartTime": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        "EndTime": dt.datetime(2024, 1, 2, 12, 30, 15, tzinfo=dt.UTC),
        "EventCategory": "insight",
        "MaxResults": 50,
        "NextToken": "tok",
    }
    target, body = encode(params)
    assert json.loads(body)["StartTime"] == 1704067200  # epoch seconds on the wire
    decoded = decode_json_request("cloudtrail", target, body)
    assert decoded.operation == "LookupEvents"
    assert decoded.params == params


def test_empty_body_and_iso_timestamps() -> None:
    assert decode_json_request("cloudtrail", TARGET, b"").params == {}
    body = b'{"StartTime": "2024-01-01T00:00:00Z", "EndTime": 1704067200.5}'
    assert decode_json_request("cloudtrail", TARGET, body).params == {
        "StartTime": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        "EndTime": dt.datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=dt.UTC),
    }


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_generated_requests_roundtrip(shapes: Any, data: st.DataObject) -> None:
    params = data.draw(shapes.strategy(OP.input_shape))
    target, body = encode(params)
    assert decode_json_request("cloudtrail", target, body).params == params


OWN_CODES = set(MEMBER_ERROR_CODES[("cloudtrail", "LookupEvents")].values())


def validation(body: dict[str, Any], code: str = "ValidationException") -> str:
    with pytest.raises(ProtocolError) as caught:
        decode_json_request("cloudtrail", TARGET, json.dumps(body).encode())
    assert (caught.value.code, caught.value.http_status) == (code, 400)
    return caught.value.message


def test_validation_messages() -> None:
    """LookupEvents' own members fail with CloudTrail's codes, in AWS's constraint words."""
    assert validation({"MaxResults": 51}, "InvalidMaxResultsException") == (
        "1 validation error detected: Value '51' at 'maxResults' failed to satisfy "
        "constraint: Member must have value less than or equal to 50"
    )
    assert validation({"MaxResults": 0}, "InvalidMaxResultsException")
    assert validation({"EventCategory": "Nope"}, "InvalidEventCategoryException")
    empty = [{"AttributeKey": "Username", "AttributeValue": ""}]
    assert validation({"LookupAttributes": empty}, "InvalidLookupAttributesException")
    message = validation(
        {"LookupAttributes": [{"AttributeKey": "Colour"}]}, "InvalidLookupAttributesException"
    )
    assert message == (
        "2 validation errors detected: Value 'Colour' at 'lookupAttributes.1.member."
        "attributeKey' failed to satisfy constraint: Member must satisfy enum value set: "
        "[EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource, "
        "AccessKeyId]; Value null at 'lookupAttributes.1.member.attributeValue' failed to "
        "satisfy constraint: Member must not be null"
    )


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[]",
        b'"x"',
        b"\xff\xfe",
        b'{"MaxResults": "5"}',
        b'{"MaxResults": 5.5}',
        b'{"MaxResults": true}',
        b'{"MaxResults": 99999999999}',
        b'{"LookupAttributes": {"AttributeKey": "Username"}}',
        b'{"LookupAttributes": [null]}',
        b'{"StartTime": "yesterday"}',
        b'{"StartTime": 1e300}',
        b'{"StartTime": true}',
        b'{"NextToken": 5}',
        b'{"NextToken": "a", "NextToken": "b"}',
        b"[" * 100_000,
        b'{"MaxResults": ' + b"9" * 5000 + b"}",
    ],
)
def test_malformed_bodies_are_serialization_exceptions(body: bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_json_request("cloudtrail", TARGET, body)
    assert (caught.value.code, caught.value.http_status) == ("SerializationException", 400)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=64),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "LookupAttributes",
                            "AttributeKey",
                            "AttributeValue",
                            "StartTime",
                            "MaxResults",
                            "NextToken",
                            "EventCategory",
                            "x",
                        ]
                    ),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=10,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_arbitrary_bodies_give_a_result_or_a_protocol_error(body: bytes) -> None:
    try:
        decode_json_request("cloudtrail", TARGET, body)
    except ProtocolError as err:
        assert err.code in {"SerializationException", "ValidationException", *OWN_CODES}


# -------------------------------------------------------------------------- output


def parse(body: bytes, status: int = 200) -> dict[str, Any]:
    response = {"body": body, "headers": {}, "status_code": status}
    parsed = PARSER.parse(response, OP.output_shape if status == 200 else None)
    parsed.pop("ResponseMetadata")
    return parsed


def test_lookup_events_output_roundtrip() -> None:
    output = {
        "Events": [
            {
                "EventId": "e1",
                "EventName": "CreateUser",
                "ReadOnly": "false",
                "EventTime": dt.datetime(2024, 1, 1, 0, 0, 1, tzinfo=dt.UTC),
                "EventSource": "iam.amazonaws.com",
                "Username": "alice",
                "Resources": [{"ResourceType": "AWS::IAM::User", "ResourceName": "bob"}],
                "CloudTrailEvent": json.dumps({"eventVersion": "1.08"}),
            }
        ],
        "NextToken": "next",
    }
    body = serialize_output("cloudtrail", "LookupEvents", output)
    assert json.loads(body)["Events"][0]["EventTime"] == 1704067201
    assert parse(body) == output


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_generated_outputs_roundtrip(shapes: Any, data: st.DataObject) -> None:
    output = data.draw(shapes.strategy(OP.output_shape))
    assert parse(serialize_output("cloudtrail", "LookupEvents", output)) == output


def test_errors_parse_in_botocore() -> None:
    body = serialize_error("InvalidLookupAttributesException", 'Bad <attribute> "x"')
    assert json.loads(body) == {
        "__type": "InvalidLookupAttributesException",
        "message": 'Bad <attribute> "x"',
    }
    parsed = parse(body, 400)
    assert parsed["Error"] == {
        "Code": "InvalidLookupAttributesException",
        "Message": 'Bad <attribute> "x"',
    }


def test_output_type_errors_are_programming_errors() -> None:
    with pytest.raises(TypeError):
        serialize_output("cloudtrail", "LookupEvents", {"NextToken": 5})
    with pytest.raises(ValueError, match="no member"):
        serialize_output("cloudtrail", "LookupEvents", {"Bogus": 1})
    with pytest.raises(TypeError):
        serialize_output(
            "cloudtrail", "LookupEvents", {"Events": [{"EventTime": dt.datetime(2024, 1, 1)}]}
        )


# -------------------------------------------------------------------- common errors


@pytest.mark.parametrize(
    ("raised", "answered"),
    [
        # CloudTrail: "An error occurred (AccessDeniedException) when calling the
        # LookupEvents operation: User: ... is not authorized to perform:
        # cloudtrail:LookupEvents ..." (the model's AccessDeniedException, no status: 400)
        (("AccessDenied", 403), ("AccessDeniedException", 400)),
        # CloudTrail: "(UnrecognizedClientException) when calling the DescribeTrails
        # operation: The security token included in the request is invalid"
        # (prowler-cloud/prowler#1808)
        (("InvalidClientTokenId", 403), ("UnrecognizedClientException", 400)),
        # JSON services' signature failures: com.amazon.coral.service#InvalidSignatureException,
        # 400 (DynamoDB's error handling; teralytics/prometheus-ecs-discovery#7 for ECS)
        (("SignatureDoesNotMatch", 403), ("InvalidSignatureException", 400)),
        (("IncompleteSignature", 400), ("IncompleteSignatureException", 400)),
        (("ExpiredToken", 403), ("ExpiredTokenException", 400)),
        (("MissingAuthenticationToken", 403), ("MissingAuthenticationTokenException", 403)),
        # the service's own errors pass unchanged
        (("InvalidMaxResultsException", 400), ("InvalidMaxResultsException", 400)),
        (("InternalFailure", 500), ("InternalFailure", 500)),
    ],
)
def test_common_errors_take_the_json_services_names(
    raised: tuple[str, int], answered: tuple[str, int]
) -> None:
    assert common_error(*raised) == answered
    # botocore reads the code from __type as it reads CloudTrail's
    parsed = PARSER.parse(
        {"body": serialize_error(answered[0], "m"), "headers": {}, "status_code": answered[1]},
        None,
    )
    assert parsed["Error"] == {"Code": answered[0], "Message": "m"}
