"""Account aliases and GetAccountSummary."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from chamberlain.domain import (
    ROOT,
    AccessKey,
    Account,
    InlinePolicy,
    MfaDevice,
    OidcProvider,
)
from chamberlain.ops.core.context import Caller, Services
from chamberlain.ops.core.errors import ServiceError
from chamberlain.protocol.models import find_operation, validate_input
from chamberlain.protocol.xml_out import serialize_response

from ..conftest import ACCOUNT, NOW, error, root_caller, user_caller
from ..entity_seed import add_user

Call = Callable[..., Any]
OTHER_ACCOUNT = "222222222222"


@pytest.fixture
def aws(iam_as: Call) -> Call:
    """Run an operation with model-valid input and check the output serializes."""

    def call(name: str, caller: Caller | None = None, **params: Any) -> Any:
        op = find_operation("iam", name)
        assert op is not None
        assert validate_input(op.input_shape, params) == []
        out = iam_as(caller or root_caller(), name, **params)
        serialize_response("iam", name, out, "req")
        return out

    return call






# --------------------------------------------------------------------------- aliases


def test_alias_lifecycle(aws: Call):
    assert aws("ListAccountAliases") == {"AccountAliases": [], "IsTruncated": False}
    aws("CreateAccountAlias", AccountAlias="acme-prod")
    aws("CreateAccountAlias", AccountAlias="acme-prod")  # same alias again: no change
    assert aws("ListAccountAliases")["AccountAliases"] == ["acme-prod"]
    aws("CreateAccountAlias", AccountAlias="acme-main")  # one per account: replaces
    assert aws("ListAccountAliases")["AccountAliases"] == ["acme-main"]
    with pytest.raises(ServiceError) as excinfo:
        aws("DeleteAccountAlias", AccountAlias="acme-prod")
    assert error(excinfo) == ("NoSuchEntity", "The account alias acme-prod cannot be found.")
    aws("DeleteAccountAlias", AccountAlias="acme-main")
    assert aws("ListAccountAliases")["AccountAliases"] == []


def test_alias_is_unique_across_accounts(aws: Call, services: Services):
    with services.store.unit_of_work() as uow:
        uow.repo(Account).add(
            Account(OTHER_ACCOUNT, "other@example.com", "x", NOW, alias="taken-alias")
        )
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateAccountAlias", AccountAlias="taken-alias")
    assert error(excinfo) == (
        "EntityAlreadyExists",
        "The account alias taken-alias already exists.",
    )
    assert excinfo.value.http_status == 409
    assert aws("ListAccountAliases")["AccountAliases"] == []
    # The other account may set its own alias again.
    aws("CreateAccountAlias", caller=root_caller(OTHER_ACCOUNT), AccountAlias="taken-alias")


def test_alias_needs_permission(aws: Call, services: Services):
    add_user(services, "alice")
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateAccountAlias", caller=user_caller("alice"), AccountAlias="acme-prod")
    assert excinfo.value.code == "AccessDenied"
    assert "iam:CreateAccountAlias on resource: *" in excinfo.value.message
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "iam:*AccountAlias*", "Resource": "*"},
            ],
        }
    )
    with services.store.unit_of_work() as uow:
        uow.repo(InlinePolicy).add(InlinePolicy(ACCOUNT, "user", "alice", "p", document))
    aws("CreateAccountAlias", caller=user_caller("alice"), AccountAlias="acme-prod")
    assert aws("ListAccountAliases", caller=user_caller("alice"))["AccountAliases"] == ["acme-prod"]


# --------------------------------------------------------------------------- summary


def test_summary_of_an_empty_account(aws: Call):
    summary = aws("GetAccountSummary")["SummaryMap"]
    op = find_operation("iam", "GetAccountSummary")
    assert op is not None
    keys = op.output_shape.members["SummaryMap"].key.enum
    assert set(summary) == set(keys)  # every key AWS documents, nothing else
    assert summary["Users"] == 0
    assert summary["UsersQuota"] == 5000
    assert summary["GroupsQuota"] == 300
    assert summary["RolesQuota"] == 1000
    assert summary["PoliciesQuota"] == 1500
    assert summary["PolicySizeQuota"] == 6144
    assert summary["UserPolicySizeQuota"] == 2048
    assert summary["GroupPolicySizeQuota"] == 5120
    assert summary["RolePolicySizeQuota"] == 10240
    assert summary["AssumeRolePolicySizeQuota"] == 2048
    assert summary["AccessKeysPerUserQuota"] == 2
    assert summary["VersionsPerPolicyQuota"] == 5
    assert summary["ServerCertificatesQuota"] == 20
    assert summary["AccountAccessKeysPresent"] == 0
    assert summary["AccountMFAEnabled"] == 0
    assert summary["AccountPasswordPresent"] == 1


def test_summary_counts(aws: Call, services: Services):
    add_user(services, "alice")
    add_user(services, "bob")
    aws("CreateAccessKey")  # a root key
    with services.store.unit_of_work() as uow:
        uow.repo(MfaDevice).add(
            MfaDevice(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:mfa/root", b"s", NOW, user_name=ROOT)
        )
        uow.repo(MfaDevice).add(MfaDevice(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:mfa/spare", b"s", NOW))
        uow.repo(OidcProvider).add(
            OidcProvider(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:oidc-provider/x", "x", (), (), NOW)
        )
    summary = aws("GetAccountSummary")["SummaryMap"]
    assert summary["Users"] == 2
    assert summary["AccountAccessKeysPresent"] == 1
    assert (summary["MFADevices"], summary["MFADevicesInUse"]) == (2, 1)
    assert summary["AccountMFAEnabled"] == 1
    assert summary["Providers"] == 1
    with services.store.unit_of_work(read_only=True) as uow:
        assert uow.repo(AccessKey).count(ACCOUNT) == 1


def test_summary_needs_permission(aws: Call, services: Services):
    add_user(services, "alice")
    with pytest.raises(ServiceError) as excinfo:
        aws("GetAccountSummary", caller=user_caller("alice"))
    assert excinfo.value.code == "AccessDenied"


def test_summary_reports_the_global_endpoint_token_version(aws: Call):
    assert aws("GetAccountSummary")["SummaryMap"]["GlobalEndpointTokenVersion"] == 1
    aws("SetSecurityTokenServicePreferences", GlobalEndpointTokenVersion="v2Token")
    assert aws("GetAccountSummary")["SummaryMap"]["GlobalEndpointTokenVersion"] == 2
    aws("SetSecurityTokenServicePreferences", GlobalEndpointTokenVersion="v1Token")
    assert aws("GetAccountSummary")["SummaryMap"]["GlobalEndpointTokenVersion"] == 1
