"""The regions each service's credential scope may name, from botocore's endpoint data.

IAM signs only for us-east-1 (IAM User Guide, "Calling the IAM API using HTTP query
requests", https://docs.aws.amazon.com/IAM/latest/UserGuide/programming.html: one global
endpoint); STS for us-east-1 (the global endpoint) and each region of its regional
endpoints ("AWS STS Regions and endpoints",
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_region-endpoints.html);
CloudTrail in every region ("AWS CloudTrail endpoints and quotas",
https://docs.aws.amazon.com/general/latest/gr/ct.html)."""

from __future__ import annotations

import pytest

from chamberlain.protocol.signing_regions import (
    partition_regions,
    request_region,
    signing_regions,
)


def test_iam_signs_only_for_us_east_1() -> None:
    assert signing_regions("iam") == {"us-east-1"}


def test_sts_signs_for_the_global_endpoint_and_every_regional_one() -> None:
    sts = signing_regions("sts")
    # regions enabled by default and opt-in regions alike have a regional endpoint
    assert {"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "ap-southeast-2"} <= sts
    assert {"af-south-1", "ap-east-1", "me-south-1", "il-central-1"} <= sts
    assert sts == partition_regions()


def test_cloudtrail_signs_for_every_region_of_the_partition() -> None:
    assert signing_regions("cloudtrail") == partition_regions()
    assert len(partition_regions()) >= 30


@pytest.mark.parametrize("service", ["iam", "sts", "cloudtrail"])
@pytest.mark.parametrize(
    "region",
    [
        "cn-north-1",  # another partition's (aws-cn)
        "us-gov-west-1",  # aws-us-gov
        "aws-global",  # an endpoint's name, not a region
        "us-east-1-fips",
        "mars-east-1",
        "US-EAST-1",
        "",
    ],
)
def test_other_regions_are_refused(service: str, region: str) -> None:
    assert region not in signing_regions(service)


def test_unknown_service_has_no_regions() -> None:
    assert signing_regions("no-such-service") == frozenset()


def test_chamberlains_own_signing_name_is_served_in_every_region() -> None:
    """/v1/authorize callers sign for `chamberlain` in whatever region they run in."""
    assert signing_regions("chamberlain") == partition_regions()


def test_request_region_is_the_scope_region_where_the_service_accepts_it() -> None:
    assert request_region("sts", "eu-west-1", "us-east-1") == "eu-west-1"
    assert request_region("cloudtrail", "ap-southeast-2", "us-east-1") == "ap-southeast-2"
    assert request_region("iam", "us-east-1", "eu-west-1") == "us-east-1"
    # refused or absent scopes fall back to the server's own region
    assert request_region("iam", "eu-west-1", "us-east-1") == "us-east-1"
    assert request_region("sts", "mars-east-1", "us-east-1") == "us-east-1"
    assert request_region("sts", None, "us-west-2") == "us-west-2"
