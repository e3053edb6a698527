"""The regions a SigV4 credential scope may name, per service, as AWS's endpoints accept.

Every AWS endpoint checks the region in the credential scope against its own signing
region and refuses any other (403 SignatureDoesNotMatch, "Credential should be scoped to
a valid region. "). Chamberlain serves every endpoint of a service on one port, so it
accepts the union of its endpoints' signing regions in the `aws` partition, read from
botocore's endpoint data (the same data the SDKs resolve endpoints from):

* IAM: only `us-east-1`. IAM is global; its endpoint `iam.amazonaws.com` signs with
  us-east-1 (IAM User Guide, "Calling the IAM API using HTTP query requests").
* STS: `us-east-1` (the global endpoint `sts.amazonaws.com`) and every region that has a
  regional endpoint `sts.REGION.amazonaws.com` (IAM User Guide, "AWS STS Regions and
  endpoints"): an SDK configured for eu-west-1 signs for eu-west-1.
* CloudTrail: every region of the partition (it is a regional service).

A region outside the partition (another partition's, or a made-up one) is refused.
Chamberlain has no per-account region enablement: opt-in regions (af-south-1, ...) are
served as if every account had enabled them.
"""

from __future__ import annotations

import functools
from typing import Any

from botocore.loaders import create_loader

PARTITION = "aws"


@functools.cache
def _partition() -> dict[str, Any]:
    data = create_loader().load_data("endpoints")
    for partition in data["partitions"]:
        if partition["partition"] == PARTITION:
            return dict(partition)
    raise LookupError(f"botocore has no {PARTITION!r} partition")  # pragma: no cover


@functools.cache
def partition_regions() -> frozenset[str]:
    """The regions of the `aws` partition."""
    return frozenset(_partition()["regions"])


#: Chamberlain's own signing names (the authorization endpoint's): served in every region.
OWN_SERVICES = frozenset({"chamberlain"})


@functools.cache
def signing_regions(service: str) -> frozenset[str]:
    """The regions a request to `service` may be signed for (see the module docstring).

    Each endpoint signs for the region its `credentialScope` names, or else for the
    region it is named after; FIPS and global aliases add no region of their own.
    """
    regions = partition_regions()
    if service in OWN_SERVICES:
        return regions
    endpoints = _partition()["services"].get(service, {}).get("endpoints", {})
    found = {
        (endpoint or {}).get("credentialScope", {}).get("region", name)
        for name, endpoint in endpoints.items()
    }
    return frozenset(found & regions)


def request_region(service: str, scope_region: str | None, default: str) -> str:
    """The region a request is served in: its scope's, when `service` accepts that."""
    if scope_region is not None and scope_region in signing_regions(service):
        return scope_region
    return default


__all__ = ["PARTITION", "partition_regions", "request_region", "signing_regions"]
