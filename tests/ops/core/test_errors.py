"""ops/core/errors.py against botocore's IAM and STS models: every class whose wire code a
model declares carries that model's HTTP status and fault."""

from __future__ import annotations

import pytest

from chamberlain.ops.core import errors
from chamberlain.protocol.wire_errors import error_spec

SERVICES = ("iam", "sts")
CLASSES = sorted(
    {
        value
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, errors.ServiceError)
        and value is not errors.ServiceError
    },
    key=lambda cls: (cls.code, cls.__name__),
)
MODELED = [
    (service, cls)
    for cls in CLASSES
    for service in SERVICES
    if error_spec(service, cls.code) is not None
]


@pytest.mark.parametrize(("service", "cls"), MODELED, ids=[f"{s}-{c.__name__}" for s, c in MODELED])
def test_status_and_fault_agree_with_the_model(service: str, cls: type[errors.ServiceError]):
    spec = error_spec(service, cls.code)
    assert spec is not None
    assert (cls.http_status, cls.sender_fault) == (spec.http_status, spec.sender_fault)


def test_the_model_knows_most_codes() -> None:
    """Guards the test above against passing vacuously (a model that failed to load or a
    lookup that never matches)."""
    modeled = {cls for _, cls in MODELED}
    assert len(modeled) >= 30
    for cls in (
        errors.NoSuchEntity,
        errors.FeatureEnabled,
        errors.FeatureDisabled,
        errors.OrganizationNotFoundException,
        errors.ServiceNotSupported,
        errors.RegionDisabled,
        errors.InvalidAuthorizationMessage,
    ):
        assert cls in modeled, cls.code


def test_new_shared_classes() -> None:
    assert (errors.FeatureEnabled.code, errors.FeatureEnabled.http_status) == (
        "FeatureEnabled",
        409,
    )
    assert (errors.FeatureDisabled.code, errors.FeatureDisabled.http_status) == (
        "FeatureDisabled",
        404,
    )
    org = errors.OrganizationNotFoundException
    assert (org.code, org.http_status, org.sender_fault) == (
        "OrganizationNotFoundException",
        400,
        True,
    )


def test_region_disabled_uses_the_sts_wire_code() -> None:
    """STS's model gives RegionDisabledException no shorter code: that is the wire code."""
    assert errors.RegionDisabled.code == "RegionDisabledException"
    assert errors.RegionDisabled.http_status == 403
