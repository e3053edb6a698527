"""CloudTrail (JSON 1.1) answers the errors common to every service under the names its
JSON protocol uses, as boto3 sees them from a real server: a denied LookupEvents is an
AccessDeniedException ("An error occurred (AccessDeniedException) when calling the
LookupEvents operation: User: ... is not authorized to perform: cloudtrail:LookupEvents
because no identity-based policy allows the cloudtrail:LookupEvents action"), an unknown
key an UnrecognizedClientException (prowler-cloud/prowler#1808, on DescribeTrails), a
bad signature an InvalidSignatureException; IAM and STS keep their query-protocol codes."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, Server


def refused(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    error = response["Error"]
    return error["Code"], error["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_denied_lookup_events_is_access_denied_exception(server: Server) -> None:
    iam = server.client("iam")
    iam.create_user(UserName="trail-reader-denied")
    key = iam.create_access_key(UserName="trail-reader-denied")["AccessKey"]
    trail = server.client_with_keys("cloudtrail", key["AccessKeyId"], key["SecretAccessKey"])
    code, message, status = refused(lambda: trail.lookup_events(MaxResults=1))
    assert (code, status) == ("AccessDeniedException", 400)
    # (AWS names no resource for LookupEvents, which has none; the wording is ops' concern)
    assert message.startswith(
        f"User: arn:aws:iam::{ACCOUNT}:user/trail-reader-denied is not authorized to perform: "
        "cloudtrail:LookupEvents"
    )
    assert message.endswith(
        "because no identity-based policy allows the cloudtrail:LookupEvents action"
    )
    # the same user's IAM call keeps IAM's code
    iam_as_user = server.client_with_keys("iam", key["AccessKeyId"], key["SecretAccessKey"])
    assert refused(lambda: iam_as_user.list_users())[::2] == ("AccessDenied", 403)


def test_unknown_key_and_bad_signature(server: Server) -> None:
    unknown = server.client_with_keys("cloudtrail", "AKIAIOSFODNN7EXAMPLE", "x" * 40)
    code, message, status = refused(lambda: unknown.lookup_events())
    assert (code, status) == ("UnrecognizedClientException", 400)
    assert message == "The security token included in the request is invalid."
    key_id = server.session().get_credentials().access_key
    bad = server.client_with_keys("cloudtrail", key_id, "0" * 40)
    code, message, status = refused(lambda: bad.lookup_events())
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message.startswith("The request signature we calculated does not match")
    sts = server.client_with_keys("sts", key_id, "0" * 40)
    assert refused(lambda: sts.get_caller_identity())[::2] == ("SignatureDoesNotMatch", 403)
