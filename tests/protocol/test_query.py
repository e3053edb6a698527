"""Query-protocol decoding, with botocore's own serializer as the client.

Error wording follows AWS: constraint messages as IAM/STS return them ("1 validation
error detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: ..."),
InvalidAction "Could not find operation X for version Y" (NO_VERSION_SPECIFIED when
absent), MalformedInput for numbers that do not parse, first duplicate wins; these were
checked against recorded AWS STS responses. MalformedQueryString's 404 is from the
"Common Errors" page of the IAM/STS API references.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chamberlain.ops.core import dispatch  # noqa: F401  (registers every operation)
from chamberlain.ops.core.registry import REGISTRY
from chamberlain.protocol.models import service_model
from chamberlain.protocol.query import decode_form, decode_input, decode_query, parse_form
from chamberlain.protocol.wire_errors import ProtocolError

SERIALIZER = create_serializer("query", include_validation=True)
IAM_V = "2010-05-08"
STS_V = "2011-06-15"


def encode(service: str, operation: str, params: dict[str, Any]) -> str:
    """The form body botocore sends for this call."""
    op = service_model(service).operation_model(operation)
    return urlencode(SERIALIZER.serialize_to_request(params, op)["body"])


def roundtrip(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    decoded = decode_form(service, encode(service, operation, params))
    assert decoded.service == service
    assert decoded.operation == operation
    return decoded.params


def error_of(service: str, body: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        decode_form(service, body)
    return caught.value


def form(action: str, version: str, **params: str) -> str:
    return urlencode({"Action": action, "Version": version, **params})


# ------------------------------------------------------------------ botocore round trips

TAGS = [{"Key": "team", "Value": "blue"}, {"Key": "cost:center", "Value": ""}]
POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("iam", "CreateUser", {"UserName": "alice", "Path": "/eng/", "Tags": TAGS}),
    ("iam", "CreateUser", {"UserName": "alice", "Tags": []}),
    ("iam", "PutUserPolicy", {"UserName": "a", "PolicyName": "p", "PolicyDocument": POLICY}),
    (
        "iam",
        "CreateRole",
        {
            "RoleName": "r",
            "AssumeRolePolicyDocument": POLICY,
            "MaxSessionDuration": 43200,
            "PermissionsBoundary": "arn:aws:iam::123456789012:policy/b",
            "Description": "héllo\nworld",
        },
    ),
    ("iam", "TagRole", {"RoleName": "r", "Tags": TAGS}),
    ("iam", "ListUsers", {"Marker": "abc+/=", "MaxItems": 1000, "PathPrefix": "/"}),
    (
        "iam",
        "SimulatePrincipalPolicy",
        {
            "PolicySourceArn": "arn:aws:iam::123456789012:user/a",
            "ActionNames": ["s3:GetObject", "iam:ListUsers"],
            "ResourceArns": ["*"],
            "ContextEntries": [
                {
                    "ContextKeyName": "aws:SourceIp",
                    "ContextKeyValues": ["10.0.0.1", "10.0.0.2"],
                    "ContextKeyType": "ipList",
                },
                {
                    "ContextKeyName": "aws:MultiFactorAuthPresent",
                    "ContextKeyValues": ["true"],
                    "ContextKeyType": "boolean",
                },
            ],
            "MaxItems": 5,
        },
    ),
    (
        "sts",
        "AssumeRole",
        {
            "RoleArn": "arn:aws:iam::123456789012:role/demo",
            "RoleSessionName": "s@1",
            "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
            "Policy": POLICY,
            "DurationSeconds": 900,
            "Tags": [{"Key": "Project", "Value": "x"}],
            "TransitiveTagKeys": ["Project"],
            "ExternalId": "ext-1",
            "SerialNumber": "arn:aws:iam::123456789012:mfa/u",
            "TokenCode": "123456",
        },
    ),
    (
        "iam",
        "UpdateAccountPasswordPolicy",
        {
            "MinimumPasswordLength": 14,
            "RequireSymbols": True,
            "RequireNumbers": False,
            "AllowUsersToChangePassword": True,
            "MaxPasswordAge": 90,
            "PasswordReusePrevention": 24,
            "HardExpiry": False,
        },
    ),
    (
        "iam",
        "CreateOpenIDConnectProvider",
        {
            "Url": "https://token.example.com",
            "ClientIDList": ["sts.amazonaws.com", "app"],
            "ThumbprintList": ["a" * 40, "b" * 40],
        },
    ),
    ("iam", "UploadSSHPublicKey", {"UserName": "u", "SSHPublicKeyBody": "ssh-rsa AAAA x"}),
    ("sts", "GetCallerIdentity", {}),
    ("sts", "GetSessionToken", {"DurationSeconds": 3600}),
]


@pytest.mark.parametrize(("service", "operation", "params"), CASES)
def test_botocore_requests_decode_to_the_same_params(
    service: str, operation: str, params: dict[str, Any]
) -> None:
    assert roundtrip(service, operation, params) == params


def test_blob_member_is_base64_decoded(synthetic: Any) -> None:
    seed = b"\x00\x01\xfe\xff" * 8
    params = {"VirtualMFADeviceName": "m"}
    assert roundtrip("iam", "CreateVirtualMFADevice", params) == params
    # The one IAM blob input: the SAML metadata is a string; blobs appear in outputs, so
    # exercise the blob decoder through a synthetic shape.
    model = synthetic.model({"Data": {"shape": "Blob"}}, {"Blob": {"type": "blob"}})
    op = model.operation_model("Op")
    body = SERIALIZER.serialize_to_request({"Data": seed}, op)["body"]
    assert decode_input(op.input_shape, body.items()) == {"Data": seed}


def _implemented(service: str) -> list[str]:
    """The operations Chamberlain serves (the installed botocore model may have more)."""
    return sorted(name for s, name in REGISTRY if s == service)


def _all_operations() -> list[tuple[str, str]]:
    return [(s, name) for s in ("iam", "sts") for name in _implemented(s)]


@pytest.mark.parametrize(("service", "operation"), _all_operations())
def test_every_operation_decodes_its_required_and_full_examples(
    service: str, operation: str, shapes: Any
) -> None:
    shape = service_model(service).operation_model(operation).input_shape
    if shape is None:
        assert roundtrip(service, operation, {}) == {}
        return
    for full in (False, True):
        params = shapes.example(shape, full=full)
        assert roundtrip(service, operation, params) == params


@st.composite
def _operation_and_input(draw: st.DrawFn, shapes: Any) -> tuple[str, str, dict[str, Any]]:
    service, operation = draw(st.sampled_from(_all_operations()))
    shape = service_model(service).operation_model(operation).input_shape
    params = {} if shape is None else draw(shapes.strategy(shape))
    return service, operation, params


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_inputs_of_every_operation_roundtrip(shapes: Any, data: st.DataObject) -> None:
    service, operation, params = data.draw(_operation_and_input(shapes))
    assert roundtrip(service, operation, params) == params


# --------------------------------------------------------------- Action and Version


def test_missing_action() -> None:
    err = error_of("sts", "Version=2011-06-15")
    assert (err.code, err.http_status, err.sender_fault) == ("MissingAction", 400, True)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Action=NoSuchAction&Version=2011-06-15", "NoSuchAction for version 2011-06-15"),
        ("Action=GetCallerIdentity", "GetCallerIdentity for version NO_VERSION_SPECIFIED"),
        ("Action=GetCallerIdentity&Version=", "GetCallerIdentity for version "),
        ("Action=GetCallerIdentity&Version=2000-01-01", "GetCallerIdentity for version 2000-01-01"),
        ("Action=&Version=2011-06-15", " for version 2011-06-15"),
        ("Action=getcalleridentity&Version=2011-06-15", "getcalleridentity for version 2011-06-15"),
        # the first of duplicated parameters is the one AWS uses
        ("Action=NoSuchAction&Action=GetCallerIdentity&Version=2011-06-15", "NoSuchAction for"),
        ("Action=GetCallerIdentity&Version=2000-01-01&Version=2011-06-15", "version 2000-01-01"),
    ],
)
def test_invalid_action_messages(body: str, message: str) -> None:
    err = error_of("sts", body)
    assert err.code == "InvalidAction"
    assert err.http_status == 400
    assert err.aws_fault_namespace
    assert err.message.startswith("Could not find operation ")
    assert message in err.message


def test_iam_actions_are_not_sts_actions() -> None:
    assert error_of("sts", form("CreateUser", STS_V, UserName="a")).code == "InvalidAction"


def test_duplicates_first_wins_and_unknown_parameters_are_ignored() -> None:
    body = "Action=GetCallerIdentity&Action=Nope&Version=2011-06-15&Version=x&Unknown=1"
    assert decode_form("sts", body).operation == "GetCallerIdentity"
    body = form("GetSessionToken", STS_V) + "&DurationSeconds=900&DurationSeconds=899"
    assert decode_form("sts", body).params == {"DurationSeconds": 900}
    with pytest.raises(ProtocolError, match="'899' at 'durationSeconds'"):
        decode_form(
            "sts", form("GetSessionToken", STS_V) + "&DurationSeconds=899&DurationSeconds=900"
        )


def test_get_query_string_pairs_decode_the_same() -> None:
    pairs = [("Action", "ListUsers"), ("Version", IAM_V), ("MaxItems", "10")]
    assert decode_query("iam", pairs).params == {"MaxItems": 10}
    assert decode_form("iam", "Action=ListUsers&Version=2010-05-08&Marker=%2Fa+b%2F").params == {
        "Marker": "/a b/"
    }


# ----------------------------------------------------------------- validation errors


def validation(service: str, body: str) -> str:
    err = error_of(service, body)
    assert (err.code, err.http_status, err.sender_fault) == ("ValidationError", 400, True)
    assert not err.aws_fault_namespace
    return err.message


def test_missing_required_member() -> None:
    assert validation("iam", form("CreateUser", IAM_V)) == (
        "1 validation error detected: Value null at 'userName' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_several_errors_are_counted_and_joined() -> None:
    message = validation("sts", form("AssumeRole", STS_V))
    assert message == (
        "2 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: "
        "Member must not be null; Value null at 'roleSessionName' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_empty_role_arn_reports_pattern_then_length_like_aws() -> None:
    message = validation("sts", form("AssumeRole", STS_V, RoleArn="", RoleSessionName="ok"))
    assert message == (
        "2 validation errors detected: Value '' at 'roleArn' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E"
        "\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+; Value '' at 'roleArn' "
        "failed to satisfy constraint: Member must have length greater than or equal to 20"
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"RoleSessionName": "a"},
            "Value 'a' at 'roleSessionName' failed to satisfy constraint: "
            "Member must have length greater than or equal to 2",
        ),
        (
            {"RoleSessionName": "b" * 65},
            f"Value '{'b' * 65}' at 'roleSessionName' failed to satisfy constraint: "
            "Member must have length less than or equal to 64",
        ),
        (
            {"RoleSessionName": "bad/name"},
            "Value 'bad/name' at 'roleSessionName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
        ),
        (
            {"DurationSeconds": "899"},
            "Value '899' at 'durationSeconds' failed to satisfy constraint: "
            "Member must have value greater than or equal to 900",
        ),
        (
            {"DurationSeconds": "-2147483648"},
            "Value '-2147483648' at 'durationSeconds' failed to satisfy constraint: "
            "Member must have value greater than or equal to 900",
        ),
        (
            {"DurationSeconds": "2147483647"},
            "Value '2147483647' at 'durationSeconds' failed to satisfy constraint: "
            "Member must have value less than or equal to 43200",
        ),
    ],
)
def test_assume_role_constraint_messages(params: dict[str, str], expected: str) -> None:
    body = {"RoleArn": "arn:aws:iam::123456789012:role/demo", "RoleSessionName": "ok", **params}
    assert validation("sts", form("AssumeRole", STS_V, **body)) == (
        "1 validation error detected: " + expected
    )


def test_length_counts_code_points_and_supplementary_characters_fail_the_java_pattern() -> None:
    # AWS: 2048 emoji are within the 2048 limit but fail the pattern (Java's \u10000 is
    # \u1000 followed by '0', so the class has no supplementary range); 2049 fail both.
    arn = "😀" * 2048
    message = validation("sts", form("AssumeRole", STS_V, RoleArn=arn, RoleSessionName="ok"))
    assert message.startswith("1 validation error detected: ")
    assert message.endswith(
        "Member must satisfy regular expression pattern: [\\u0009\\u000A"
        "\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD"
        "\\u10000-\\u10FFFF]+"
    )
    message = validation(
        "sts", form("AssumeRole", STS_V, RoleArn="😀" * 2049, RoleSessionName="ok")
    )
    assert message.startswith("2 validation errors detected: ")
    assert message.endswith("Member must have length less than or equal to 2048")
    arn = "é" * 2048  # BMP: fine for the pattern and the length
    assert decode_form("sts", form("AssumeRole", STS_V, RoleArn=arn, RoleSessionName="ok"))


def test_enum_violation_lists_the_model_values() -> None:
    message = validation("iam", form("ListPolicies", IAM_V, Scope="Everything"))
    assert message == (
        "1 validation error detected: Value 'Everything' at 'scope' failed to satisfy "
        "constraint: Member must satisfy enum value set: [All, AWS, Local]"
    )


def test_nested_member_paths_and_unicode_tag_pattern() -> None:
    body = (
        form("TagUser", IAM_V, UserName="u")
        + "&Tags.member.1.Key=ok&Tags.member.1.Value=%F0%9F%98%80"
    )
    body += "&Tags.member.2.Value=v"
    message = validation("iam", body)
    assert (
        "Value '😀' at 'tags.1.member.value' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*" in message
    )
    assert "Value null at 'tags.2.member.key' failed to satisfy constraint" in message
    # \p{L} and \p{N} admit letters and digits of any script
    ok = (
        form("TagUser", IAM_V, UserName="u")
        + "&"
        + urlencode({"Tags.member.1.Key": "日本 ж", "Tags.member.1.Value": "٣ é"})
    )
    assert decode_form("iam", ok).params["Tags"] == [{"Key": "日本 ж", "Value": "٣ é"}]


def test_list_length_constraint() -> None:
    pairs = {f"Tags.member.{i}.Key": f"k{i}" for i in range(1, 52)}
    pairs |= {f"Tags.member.{i}.Value": "v" for i in range(1, 52)}
    message = validation("iam", form("TagUser", IAM_V, UserName="u") + "&" + urlencode(pairs))
    assert message.startswith("1 validation error detected: Value '[Tag(key=k1, value=v), ")
    assert message.endswith(
        "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"
    )


def test_sensitive_values_are_not_echoed() -> None:
    body = form("CreateLoginProfile", IAM_V, UserName="u", Password="hunter2\x01")
    message = validation("iam", body)
    assert message == (
        "1 validation error detected: Value at 'password' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"
    )


# ------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    "value", ["", "abc", "900.0", "2147483648", "-2147483649", "1e3", " 900", "٩٠٠", "9" * 5000]
)
def test_numbers_that_do_not_parse_are_malformed_input(value: str) -> None:
    err = error_of("sts", form("GetSessionToken", STS_V, DurationSeconds=value))
    assert (err.code, err.http_status) == ("MalformedInput", 400)
    if value == "":
        assert err.message == "missing value for decimal type"


@pytest.mark.parametrize(("value", "number"), [("+900", 900), ("0900", 900), ("43200", 43200)])
def test_numbers_aws_accepts(value: str, number: int) -> None:
    params = decode_form("sts", form("GetSessionToken", STS_V, DurationSeconds=value)).params
    assert params == {"DurationSeconds": number}


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False), ("TRUE", True)])
def test_booleans(text: str, value: bool) -> None:
    body = form("UpdateAccountPasswordPolicy", IAM_V, RequireSymbols=text)
    assert decode_form("iam", body).params == {"RequireSymbols": value}


@pytest.mark.parametrize("text", ["", "yes", "1", "tru"])
def test_bad_booleans_are_malformed_input(text: str) -> None:
    err = error_of("iam", form("UpdateAccountPasswordPolicy", IAM_V, RequireSymbols=text))
    assert err.code == "MalformedInput"


@pytest.mark.parametrize(
    "suffix",
    [
        "Tags.member.999999999.Key=k&Tags.member.999999999.Value=v",
        "Tags.member.0.Key=k",
        "Tags.member.01.Key=k",
        "Tags.member.-1.Key=k",
        "Tags.member.x.Key=k",
        "Tags.member.99999999999999999999999.Key=k",
        "Tags.member.1.Key=a&Tags.member.3.Key=b",
        "Tags.item.1.Key=k",
        "Tags=notalist",
        "Tags.member.1=scalar",
    ],
)
def test_malformed_lists(suffix: str) -> None:
    err = error_of("iam", form("TagUser", IAM_V, UserName="u") + "&" + suffix)
    assert (err.code, err.http_status) == ("MalformedInput", 400)


@pytest.mark.parametrize(
    "body",
    [
        b"Action=ListUsers&Version=2010-05-08&Marker=\xff\xfe",
        b"Action=ListUsers&Version=2010-05-08&Marker=%FF%FE",
        b"Action=ListUsers&Version=2010-05-08&Marker=%ED%A0%80",  # encoded lone surrogate
        b"Action=ListUsers&Version=2010-05-08&Ma%C3rker=x",
    ],
)
def test_invalid_utf8_is_malformed_query_string(body: bytes) -> None:
    err = error_of("iam", body)
    assert (err.code, err.http_status) == ("MalformedQueryString", 404)


def test_too_many_fields() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_form("&".join(f"a{i}=1" for i in range(20)), max_fields=10)
    assert caught.value.code == "MalformedQueryString"


_KEY_PARTS = st.sampled_from(
    [
        "Tags",
        "member",
        "entry",
        "1",
        "2",
        "0",
        "999999999",
        "Key",
        "Value",
        "UserName",
        "ContextEntries",
        "ContextKeyValues",
        "ContextKeyType",
        "MaxItems",
        "x",
        "",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    operation=st.sampled_from(["TagUser", "SimulateCustomPolicy", "ListUsers", "CreateUser"]),
    pairs=st.lists(
        st.tuples(
            st.lists(_KEY_PARTS, min_size=1, max_size=6).map(".".join),
            st.one_of(st.text(max_size=8), st.sampled_from(["1", "true", "-5", "", "abc"])),
        ),
        max_size=12,
    ),
)
def test_arbitrary_pairs_give_a_result_or_a_protocol_error(
    operation: str, pairs: list[tuple[str, str]]
) -> None:
    full = [("Action", operation), ("Version", IAM_V), *pairs]
    try:
        decode_query("iam", full)
    except ProtocolError as err:
        assert err.code in {"ValidationError", "MalformedInput"}
        assert err.http_status == 400


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_a_result_or_a_protocol_error(body: bytes) -> None:
    try:
        decode_form("iam", b"Action=CreateUser&Version=2010-05-08&" + body)
    except ProtocolError as err:
        assert err.http_status in (400, 404)


def test_percent_encoded_names_decode() -> None:
    body = "Action=ListUsers&Version=2010-05-08&" + quote("MaxItems") + "=7"
    assert decode_form("iam", body).params == {"MaxItems": 7}


# ------------------------------------------------- flattened lists, maps, locationName


def test_flattened_lists_maps_and_location_names_follow_botocore(synthetic: Any) -> None:
    op = synthetic.operation
    body = SERIALIZER.serialize_to_request(synthetic.value, op)["body"]
    # what botocore spells, so the decoder is checked against the real naming rules
    assert body["Flat.1"] == "x"
    assert body["Item.3"] == "r"
    assert body["Renamed.Entry.1.alpha"] == "a1"
    assert body["Plain.entry.2.value"] == 2
    assert body["Nested.entry.1.Data.alpha"] == "deep"
    assert body["FlatM.1.key"] == "fk"
    pairs = [(k, str(v)) for k, v in body.items()]
    assert decode_input(op.input_shape, pairs) == synthetic.value


def test_duplicate_map_keys_are_malformed(synthetic: Any) -> None:
    op = synthetic.operation
    pairs = [
        ("Plain.entry.1.key", "k"),
        ("Plain.entry.1.value", "1"),
        ("Plain.entry.2.key", "k"),
        ("Plain.entry.2.value", "2"),
    ]
    with pytest.raises(ProtocolError, match="Duplicate map key") as caught:
        decode_input(op.input_shape, pairs)
    assert caught.value.code == "MalformedInput"


def test_timestamps_decode_to_aware_utc(synthetic: Any) -> None:
    op = synthetic.operation
    got = decode_input(op.input_shape, [("When", "2024-05-06T09:08:09+02:00")])
    assert got == {"When": dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)}
    with pytest.raises(ProtocolError) as caught:
        decode_input(op.input_shape, [("When", "yesterday")])
    assert caught.value.code == "MalformedInput"
