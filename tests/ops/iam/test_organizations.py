"""Operations answered as AWS answers an account outside AWS Organizations, partner
delegation and role templates; and UpdateOpenIDConnectProvider."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest

from chamberlain.ops.core.context import Caller, Services
from chamberlain.ops.core.errors import OrganizationNotFoundException, ServiceError
from chamberlain.protocol.models import find_operation, validate_input
from chamberlain.protocol.xml_out import serialize_response

from ..conftest import ACCOUNT, NOW, root_caller, user_caller
from ..entity_seed import Seed, allow, policy

Call = Callable[..., Any]
ROOT_ACCESS_OPERATIONS = (
    "EnableOrganizationsRootCredentialsManagement",
    "DisableOrganizationsRootCredentialsManagement",
    "EnableOrganizationsRootSessions",
    "DisableOrganizationsRootSessions",
    "ListOrganizationsFeatures",
)
REQUEST_ID = "dr-0123456789abcdef"
ENTITY_PATH = "o-a1b2c3d4e5/r-f6g7h8i9j0example/123456789012"
TEMPLATE = "arn:aws:iam::aws:role-template/ec2.amazonaws.com/Ec2Instance:1"
OIDC_URL = "https://token.example.com"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.example.com"


@pytest.fixture
def aws(iam_as: Call) -> Call:
    """Run an operation with model-valid input and check that the output serializes."""

    def call(name: str, caller: Caller | None = None, **params: Any) -> Any:
        op = find_operation("iam", name)
        assert op is not None
        assert validate_input(op.input_shape, params) == []
        out = iam_as(caller or root_caller(), name, **params)
        serialize_response("iam", name, out, "req")
        return out

    return call


@pytest.fixture(scope="module")
def iam_client() -> Any:
    return botocore.session.get_session().create_client(
        "iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )


def error(call: Call, *args: Any, **params: Any) -> tuple[str, int, str]:
    with pytest.raises(ServiceError) as info:
        call(*args, **params)
    return info.value.code, info.value.http_status, info.value.message


# ------------------------------------------------------------ centralized root access


@pytest.mark.parametrize("name", ROOT_ACCESS_OPERATIONS)
def test_root_access_features_need_an_organization(aws: Call, iam_client: Any, name: str) -> None:
    with pytest.raises(OrganizationNotFoundException) as info:  # the shared class
        aws(name)
    exc = info.value
    assert (exc.code, exc.http_status, exc.sender_fault) == (
        "OrganizationNotFoundException",
        400,
        True,
    )
    assert exc.message == (
        "The request was rejected because no organization is associated with your account."
    )
    # botocore maps the wire code to the model's modeled exception.
    assert iam_client.exceptions.from_code(exc.code) is (
        iam_client.exceptions.OrganizationNotFoundException
    )


# ----------------------------------------------------------- Organizations report


def test_organizations_access_report_fails_outside_an_organization(aws: Call) -> None:
    job_id = aws("GenerateOrganizationsAccessReport", EntityPath=ENTITY_PATH)["JobId"]
    assert re.fullmatch(r"[0-9a-f-]{36}", job_id)
    assert aws("GetOrganizationsAccessReport", JobId=job_id) == {
        "JobStatus": "FAILED",
        "JobCreationDate": NOW,
        "JobCompletionDate": NOW,
        "ErrorDetails": {
            "Message": "Your account is not a member of an organization.",
            "Code": "AWSOrganizationsNotInUseException",
        },
    }
    unknown = "00000000-0000-0000-0000-000000000000"
    assert error(aws, "GetOrganizationsAccessReport", JobId=unknown) == (
        "NoSuchEntity",
        404,
        f"No report with job ID {unknown} exists.",
    )


# ------------------------------------------------------------ delegation requests


@pytest.mark.parametrize(
    "name",
    [
        "AcceptDelegationRequest",
        "AssociateDelegationRequest",
        "GetDelegationRequest",
        "RejectDelegationRequest",
        "UpdateDelegationRequest",
        "SendDelegationToken",
    ],
)
def test_no_delegation_request_exists(aws: Call, name: str) -> None:
    assert error(aws, name, DelegationRequestId=REQUEST_ID) == (
        "NoSuchEntity",
        404,
        f"The delegation request with id {REQUEST_ID} cannot be found.",
    )


def test_delegation_request_listing_creation_and_summary(aws: Call) -> None:
    assert aws("ListDelegationRequests") == {"DelegationRequests": [], "isTruncated": False}
    code, status, message = error(
        aws,
        "CreateDelegationRequest",
        Description="Set up monitoring",
        Permissions={"PolicyTemplateArn": "arn:aws:iam::aws:policy-template/Partner"},
        RequestorWorkflowId="workflow-1",
        NotificationChannel="arn:aws:sns:us-east-1:123456789012:topic",
        SessionDuration=3600,
    )
    assert (code, status) == ("InvalidInput", 400)
    assert "onboarded as AWS Partners" in message
    request_arn = f"arn:aws:iam::{ACCOUNT}:delegation-request/{REQUEST_ID}"
    assert error(aws, "GetHumanReadableSummary", EntityArn=request_arn) == (
        "NoSuchEntity",
        404,
        f"The delegation request with id {REQUEST_ID} cannot be found.",
    )
    code, _, message = error(
        aws, "GetHumanReadableSummary", EntityArn=f"arn:aws:iam::{ACCOUNT}:role/admin"
    )
    assert code == "InvalidInput" and "delegation-request" in message


# ----------------------------------------------------------------- role templates


@pytest.mark.parametrize(
    "name,member", [("GetRoleTemplateVersion", "TemplateArn"), ("AcquireRole", "TemplateArn")]
)
def test_no_role_templates(aws: Call, name: str, member: str) -> None:
    assert error(aws, name, **{member: TEMPLATE}) == (
        "NoSuchEntity",
        404,
        f"Role template {TEMPLATE} does not exist.",
    )
    bad = f"arn:aws:iam::{ACCOUNT}:role/not-a-template"
    assert error(aws, name, **{member: bad}) == ("InvalidInput", 400, f"ARN {bad} is not valid.")


# ------------------------------------------------------- UpdateOpenIDConnectProvider


def test_update_open_id_connect_provider(aws: Call) -> None:
    aws("CreateOpenIDConnectProvider", Url=OIDC_URL, ClientIDList=["app"])
    aws(
        "UpdateOpenIDConnectProvider", OpenIDConnectProviderArn=OIDC_ARN, RemoveContextProvider=True
    )
    aws(
        "UpdateOpenIDConnectProvider",
        OpenIDConnectProviderArn=OIDC_ARN,
        RemoveIdentityCenterInstance=True,
    )
    context = {"SubjectSourceKey": "sub"}
    assert error(
        aws,
        "UpdateOpenIDConnectProvider",
        OpenIDConnectProviderArn=OIDC_ARN,
        ContextProvider=context,
    ) == ("InvalidInput", 400, "The parameter ContextProvider is not supported.")
    center = "arn:aws:sso:::instance/ssoins-1234567890abcdef"
    assert error(
        aws,
        "UpdateOpenIDConnectProvider",
        OpenIDConnectProviderArn=OIDC_ARN,
        IdentityCenterInstanceArn=center,
    ) == ("InvalidInput", 400, "The parameter IdentityCenterInstanceArn is not supported.")
    unknown = f"arn:aws:iam::{ACCOUNT}:oidc-provider/other.example.com"
    assert error(
        aws,
        "UpdateOpenIDConnectProvider",
        OpenIDConnectProviderArn=unknown,
        RemoveContextProvider=True,
    ) == ("NoSuchEntity", 404, f"OpenIDConnect Provider not found for arn {unknown}")


@pytest.mark.parametrize(
    "params,fragment",
    [
        (
            {"ContextProvider": {"SubjectSourceKey": "sub"}, "RemoveContextProvider": True},
            "mutually exclusive",
        ),
        (
            {
                "IdentityCenterInstanceArn": "arn:aws:sso:::instance/x",
                "RemoveIdentityCenterInstance": True,
            },
            "mutually exclusive",
        ),
        ({"RemoveContextProvider": True, "RemoveIdentityCenterInstance": True}, "not both"),
        ({}, "Specify ContextProvider"),
    ],
)
def test_update_open_id_connect_provider_combinations(
    aws: Call, params: dict, fragment: str
) -> None:
    aws("CreateOpenIDConnectProvider", Url=OIDC_URL, ClientIDList=["app"])
    code, _, message = error(
        aws, "UpdateOpenIDConnectProvider", OpenIDConnectProviderArn=OIDC_ARN, **params
    )
    assert code == "InvalidInput" and fragment in message


# -------------------------------------------------------------------- authorization


def test_authorized_before_answering(aws: Call, services: Services) -> None:
    seed = Seed(services)
    seed.user("nobody")
    seed.user("ops")
    seed.inline(
        "user",
        "ops",
        "ops",
        policy(
            allow(["iam:ListOrganizationsFeatures", "iam:ListDelegationRequests"]),
            allow("iam:GetDelegationRequest", f"arn:aws:iam::{ACCOUNT}:delegation-request/*"),
            allow(
                "iam:GenerateOrganizationsAccessReport", f"arn:aws:iam::{ACCOUNT}:access-report/*"
            ),
        ),
    )
    nobody, ops = user_caller("nobody"), user_caller("ops")
    code, status, message = error(aws, "ListOrganizationsFeatures", nobody)
    assert (code, status) == ("AccessDenied", 403)
    assert "iam:ListOrganizationsFeatures on resource: *" in message
    assert error(aws, "ListOrganizationsFeatures", ops)[0] == "OrganizationNotFoundException"
    assert (
        error(aws, "GetDelegationRequest", nobody, DelegationRequestId=REQUEST_ID)[0]
        == "AccessDenied"
    )
    assert (
        error(aws, "GetDelegationRequest", ops, DelegationRequestId=REQUEST_ID)[0] == "NoSuchEntity"
    )
    assert aws("ListDelegationRequests", ops)["DelegationRequests"] == []
    assert error(aws, "GenerateOrganizationsAccessReport", nobody, EntityPath=ENTITY_PATH)[0] == (
        "AccessDenied"
    )
    assert aws("GenerateOrganizationsAccessReport", ops, EntityPath=ENTITY_PATH)["JobId"]
    assert error(aws, "GetRoleTemplateVersion", ops, TemplateArn=TEMPLATE)[0] == "AccessDenied"
    assert (
        error(
            aws,
            "UpdateOpenIDConnectProvider",
            ops,
            OpenIDConnectProviderArn=OIDC_ARN,
            RemoveContextProvider=True,
        )[0]
        == "AccessDenied"
    )


def test_access_report_policy_id_condition(aws: Call, services: Services) -> None:
    """iam:OrganizationsPolicyId carries the OrganizationsPolicyId the report is for."""
    seed = Seed(services)
    seed.user("auditor")
    statement = {
        "Effect": "Allow",
        "Action": "iam:GenerateOrganizationsAccessReport",
        "Resource": "*",
        "Condition": {"StringEquals": {"iam:OrganizationsPolicyId": "p-allowed1"}},
    }
    seed.inline("user", "auditor", "reports", policy(statement))
    auditor = user_caller("auditor")
    assert aws("GenerateOrganizationsAccessReport", auditor, EntityPath=ENTITY_PATH,
               OrganizationsPolicyId="p-allowed1")["JobId"]  # fmt: skip
    for other in ({"OrganizationsPolicyId": "p-other123"}, {}):
        code = error(aws, "GenerateOrganizationsAccessReport", auditor, EntityPath=ENTITY_PATH,
                     **other)[0]  # fmt: skip
        assert code == "AccessDenied"
