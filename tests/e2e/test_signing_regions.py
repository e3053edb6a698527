"""SigV4 credential-scope regions against a real server, with boto3 clients configured
for other regions: IAM answers only requests signed for us-east-1; STS those signed for
us-east-1 or a region with a regional STS endpoint; CloudTrail any region of the aws
partition. Anything else is refused as AWS refuses it: 403 SignatureDoesNotMatch,
"Credential should be scoped to a valid region. " (the IAM User Guide's "Troubleshoot
signed requests for AWS APIs",
https://docs.aws.amazon.com/IAM/latest/UserGuide/signature-v4-troubleshooting.html; the
wording and trailing space as STS answers, e.g. apache/airflow#47470). A request's
events and its access key's last use carry the region its scope names."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import Server

REGION_MESSAGE = "Credential should be scoped to a valid region. "
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


def client(server: Server, service: str, region: str, **keys: str) -> Any:
    session = server.session("admin")
    return session.client(
        service, endpoint_url=server.endpoint, region_name=region, config=NO_RETRIES, **keys
    )


def refused(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response  # type: ignore[no-any-return]


@pytest.mark.parametrize("region", ["eu-west-1", "us-west-2", "cn-north-1", "mars-east-1"])
def test_iam_refuses_a_scope_other_than_us_east_1(server: Server, region: str) -> None:
    response = refused(lambda: client(server, "iam", region).list_users())
    assert response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert response["Error"]["Message"] == REGION_MESSAGE
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2", "af-south-1"])
def test_sts_serves_the_global_and_regional_endpoints_regions(server: Server, region: str) -> None:
    identity = client(server, "sts", region).get_caller_identity()
    assert identity["Arn"].endswith(":user/admin")


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1", "mars-east-1"])
def test_sts_refuses_regions_outside_the_partition(server: Server, region: str) -> None:
    response = refused(lambda: client(server, "sts", region).get_caller_identity())
    assert response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert response["Error"]["Message"] == REGION_MESSAGE
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_cloudtrail_serves_every_region_and_refuses_others(server: Server) -> None:
    for region in ("us-east-1", "eu-central-1", "ap-northeast-3", "sa-east-1"):
        assert "Events" in client(server, "cloudtrail", region).lookup_events(MaxResults=1)
    response = refused(lambda: client(server, "cloudtrail", "mars-east-1").lookup_events())
    # a JSON service's name for SignatureDoesNotMatch (see tests/e2e/test_cloudtrail_errors.py)
    assert response["Error"]["Code"] == "InvalidSignatureException"
    assert response["Error"]["Message"] == REGION_MESSAGE
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def _event(server: Server, request_id: str) -> dict[str, Any]:
    trail = client(server, "cloudtrail", "us-east-1")
    pages = trail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "admin"}]
    )
    for page in pages:
        for event in page["Events"]:
            record: dict[str, Any] = json.loads(event["CloudTrailEvent"])
            if record["requestID"] == request_id:
                return record
    raise AssertionError(f"no event for request {request_id}")


def test_events_carry_the_scope_region(server: Server) -> None:
    sts = client(server, "sts", "eu-north-1").get_caller_identity()
    assert _event(server, sts["ResponseMetadata"]["RequestId"])["awsRegion"] == "eu-north-1"
    iam = client(server, "iam", "us-east-1").list_users(MaxItems=1)
    assert _event(server, iam["ResponseMetadata"]["RequestId"])["awsRegion"] == "us-east-1"


def test_access_key_last_used_region_is_the_scope_region(server: Server) -> None:
    iam = client(server, "iam", "us-east-1")
    iam.create_user(UserName="region-keys")
    key = iam.create_access_key(UserName="region-keys")["AccessKey"]
    keys = {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }
    client(server, "sts", "ap-northeast-1", **keys).get_caller_identity()
    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert (used["ServiceName"], used["Region"]) == ("sts", "ap-northeast-1")
    refused(lambda: client(server, "iam", "ap-northeast-1", **keys).list_users())
    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert (used["ServiceName"], used["Region"]) == ("sts", "ap-northeast-1")  # refused: no use
