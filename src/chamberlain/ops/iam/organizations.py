"""IAM operations that depend on AWS-side services a self-hosted installation does not
have, answered as AWS answers an account outside those services:

* AWS Organizations (centralized root access, Organizations access reports): the
  account is in no organization. The root-access operations answer
  OrganizationNotFoundException; an Organizations access report is generated as a job
  that fails with AWS Organizations' "not a member of an organization" error, which
  GetOrganizationsAccessReport reports in ErrorDetails.
* IAM temporary delegation (partner delegation requests): only onboarded AWS Partners
  create requests, and none exist, so every request id is unknown and the lists empty.
  GetHumanReadableSummary summarises only delegation requests.
* Role templates (GetRoleTemplateVersion, AcquireRole): AWS services publish them; there
  are none here.
* UpdateOpenIDConnectProvider: its settings (trusted identity propagation context
  provider, IAM Identity Center association) are not supported, as in
  CreateOpenIDConnectProvider; removing them (never set) succeeds.

Every operation is authorized first, as AWS does.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from chamberlain.domain import OrganizationsAccessReportJob
from chamberlain.ops.core.arns import iam_arn
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import OIDC_PROVIDERS
from chamberlain.ops.core.errors import (
    InvalidInput,
    NoSuchEntity,
    OrganizationNotFoundException,
    ServiceError,
)
from chamberlain.ops.core.registry import Output, Params, Target, operation
from chamberlain.ops.iam.access_keys import reject_unsupported

NOT_IN_ORGANIZATION = "Your account is not a member of an organization."
ORGANIZATIONS_NOT_IN_USE = "AWSOrganizationsNotInUseException"


def _star(ctx: OpContext, params: Params) -> Target:
    return Target("*")


# ------------------------------------------------------- centralized root access


def _no_organization(ctx: OpContext, params: Params) -> Output:
    raise OrganizationNotFoundException(
        "The request was rejected because no organization is associated with your account."
    )


for _name in (
    "EnableOrganizationsRootCredentialsManagement",
    "DisableOrganizationsRootCredentialsManagement",
    "EnableOrganizationsRootSessions",
    "DisableOrganizationsRootSessions",
    "ListOrganizationsFeatures",
):
    operation("iam", _name, resource=_star, read_only=_name.startswith("List"))(_no_organization)


# ------------------------------------------------------ Organizations access report


def _report_target(ctx: OpContext, params: Params) -> Target:
    """The access-report resource; iam:OrganizationsPolicyId when a policy is named."""
    policy_id = params.get("OrganizationsPolicyId")
    context = {"iam:OrganizationsPolicyId": policy_id} if policy_id else {}
    return Target(iam_arn(ctx, "access-report", params["EntityPath"]), context)


@operation("iam", "GenerateOrganizationsAccessReport", resource=_report_target)
def generate_organizations_access_report(ctx: OpContext, params: Params) -> Output:
    job = OrganizationsAccessReportJob(
        account_id=ctx.account_id,
        job_id=str(uuid.uuid4()),
        entity_path=params["EntityPath"],
        created=ctx.now,
        organizations_policy_id=params.get("OrganizationsPolicyId"),
    )
    ctx.uow.repo(OrganizationsAccessReportJob).add(job)
    return {"JobId": job.job_id}


@operation("iam", "GetOrganizationsAccessReport", resource=_star, read_only=True)
def get_organizations_access_report(ctx: OpContext, params: Params) -> Output:
    job_id = params["JobId"]
    job = ctx.uow.repo(OrganizationsAccessReportJob).get(ctx.account_id, job_id)
    if job is None:
        raise NoSuchEntity(f"No report with job ID {job_id} exists.")
    return {
        "JobStatus": "FAILED",
        "JobCreationDate": job.created,
        "JobCompletionDate": job.created,
        "ErrorDetails": {"Message": NOT_IN_ORGANIZATION, "Code": ORGANIZATIONS_NOT_IN_USE},
    }


# ------------------------------------------------------------ delegation requests


def _delegation_target(ctx: OpContext, params: Params) -> Target:
    return Target(iam_arn(ctx, "delegation-request", params["DelegationRequestId"]))


def _unknown_request(request_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The delegation request with id {request_id} cannot be found.")


def _no_such_request(ctx: OpContext, params: Params) -> Output:
    raise _unknown_request(params["DelegationRequestId"])


for _name in (
    "AcceptDelegationRequest",
    "AssociateDelegationRequest",
    "RejectDelegationRequest",
    "UpdateDelegationRequest",
    "SendDelegationToken",
):
    operation("iam", _name, resource=_delegation_target)(_no_such_request)
operation("iam", "GetDelegationRequest", resource=_delegation_target, read_only=True)(
    _no_such_request
)


@operation("iam", "CreateDelegationRequest", resource=_star)
def create_delegation_request(ctx: OpContext, params: Params) -> Output:
    raise InvalidInput(
        "Delegation requests can only be created by accounts onboarded as AWS Partners "
        "for IAM temporary delegation."
    )


@operation("iam", "ListDelegationRequests", resource=_star, read_only=True)
def list_delegation_requests(ctx: OpContext, params: Params) -> Output:
    return {"DelegationRequests": [], "isTruncated": False}


_DELEGATION_ARN = re.compile(r"arn:[\w-]+:iam::\d{12}:delegation-request/(?P<id>[\w-]+)")


def _summary_target(ctx: OpContext, params: Params) -> Target:
    return Target(params["EntityArn"])


@operation("iam", "GetHumanReadableSummary", resource=_summary_target, read_only=True)
def get_human_readable_summary(ctx: OpContext, params: Params) -> Output:
    match = _DELEGATION_ARN.fullmatch(params["EntityArn"])
    if match is None:
        raise InvalidInput(
            "Entity type is not supported: the only supported entity type is delegation-request."
        )
    raise _unknown_request(match["id"])


# ------------------------------------------------------------------ role templates

_TEMPLATE_ARN = re.compile(r"arn:[\w-]+:iam::aws:role-template/[^/\s]+/[\w+=,.-]+:\d+")


def _template_target(ctx: OpContext, params: Params) -> Target:
    return Target(params["TemplateArn"])


def _no_template(arn: str) -> ServiceError:
    if _TEMPLATE_ARN.fullmatch(arn) is None:
        return InvalidInput(f"ARN {arn} is not valid.")
    return NoSuchEntity(f"Role template {arn} does not exist.")


@operation("iam", "GetRoleTemplateVersion", resource=_template_target, read_only=True)
def get_role_template_version(ctx: OpContext, params: Params) -> Output:
    raise _no_template(params["TemplateArn"])


@operation("iam", "AcquireRole", resource=_template_target)
def acquire_role(ctx: OpContext, params: Params) -> Output:
    raise _no_template(params["TemplateArn"])


# ------------------------------------------------------ UpdateOpenIDConnectProvider


def _oidc_target(ctx: OpContext, params: Params) -> Target:
    extra: dict[str, Any] = {}
    if params.get("IdentityCenterInstanceArn"):
        extra["iam:RequestIdentityCenterInstanceArn"] = params["IdentityCenterInstanceArn"]
    return OIDC_PROVIDERS.target(ctx, params["OpenIDConnectProviderArn"], extra=extra)


def _check_update(params: Params) -> None:
    """The combinations AWS's documentation rules out."""
    context = params.get("ContextProvider") is not None
    remove_context = bool(params.get("RemoveContextProvider"))
    center = params.get("IdentityCenterInstanceArn") is not None
    remove_center = bool(params.get("RemoveIdentityCenterInstance"))
    if context and remove_context:
        raise InvalidInput("ContextProvider and RemoveContextProvider are mutually exclusive.")
    if center and remove_center:
        raise InvalidInput(
            "IdentityCenterInstanceArn and RemoveIdentityCenterInstance are mutually exclusive."
        )
    if (context or remove_context) and (center or remove_center):
        raise InvalidInput(
            "A request can change either the context provider or the IAM Identity Center "
            "association, not both."
        )
    if not (context or remove_context or center or remove_center):
        raise InvalidInput(
            "Specify ContextProvider, IdentityCenterInstanceArn, RemoveContextProvider or "
            "RemoveIdentityCenterInstance."
        )


@operation("iam", "UpdateOpenIDConnectProvider", resource=_oidc_target)
def update_open_id_connect_provider(ctx: OpContext, params: Params) -> Output:
    _check_update(params)
    OIDC_PROVIDERS.require(ctx, params["OpenIDConnectProviderArn"])
    reject_unsupported(params, "ContextProvider", "IdentityCenterInstanceArn")
    return None  # nothing to remove: neither setting can be set here
