"""Service-linked roles: CreateServiceLinkedRole, DeleteServiceLinkedRole,
GetServiceLinkedRoleDeletionStatus (role_protection.py keeps the ordinary role operations
off these roles).

A service-linked role is an ordinary `domain.Role` (GetRole and ListRoles show it) under
the path /aws-service-role/<service principal>/, trusting that principal. Its name is the
one the service defines; neither the name nor whether the service takes a CustomSuffix
can be derived from the principal, so the services AWS documents are in SERVICES and any
other `*.amazonaws.com` principal gets AWSServiceRoleFor + its capitalised labels.

Deletion is a task, as in AWS: DeleteServiceLinkedRole returns its id and the deletion
happens at once; the task fails (and the role stays) while an instance profile still
holds the role, reporting those profiles as the resources using it.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from chamberlain.domain import (
    Attachment,
    InlinePolicy,
    InstanceProfile,
    Role,
    SlrDeletionTask,
    joined,
)
from chamberlain.ops.core.arns import iam_arn
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import ROLES
from chamberlain.ops.core.errors import InvalidInput, NoSuchEntity
from chamberlain.ops.core.policy_usage import adjust_policy_counts, change_boundary
from chamberlain.ops.core.quotas import quota_exceeded
from chamberlain.ops.core.registry import Output, Params, Target, compact, operation
from chamberlain.ops.iam import roles as iam_roles
from chamberlain.ops.iam.role_protection import PATH_PREFIX, is_service_linked

ROLE_NAME_PREFIX = "AWSServiceRoleFor"
MAX_ROLE_NAME = 64
_PRINCIPAL = re.compile(r"(?P<service>[a-z0-9][a-z0-9.-]*)\.amazonaws\.com(?:\.cn)?")
_TASK = re.compile(r"task/aws-service-role/(?P<service>[^/]+)/(?P<role>[\w+=,.@-]+)/(?P<id>[^/]+)")

# Service principal -> (role name, whether the service accepts a CustomSuffix; None when
# no recorded answer says, in which case the suffix is accepted).
SERVICES: dict[str, tuple[str, bool | None]] = {
    "acm.amazonaws.com": ("AWSServiceRoleForCertificateManager", False),
    "appmesh.amazonaws.com": ("AWSServiceRoleForAppMesh", False),
    "autoscaling.amazonaws.com": ("AWSServiceRoleForAutoScaling", True),
    "backup.amazonaws.com": ("AWSServiceRoleForBackup", False),
    "batch.amazonaws.com": ("AWSServiceRoleForBatch", False),
    "cloudtrail.amazonaws.com": ("AWSServiceRoleForCloudTrail", False),
    "config.amazonaws.com": ("AWSServiceRoleForConfig", False),
    "connect.amazonaws.com": ("AWSServiceRoleForAmazonConnect", True),
    # Application Auto Scaling: one role per scalable service (Application Auto Scaling
    # User Guide, "Service-linked roles for Application Auto Scaling", ARN reference).
    "appstream.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_AppStreamFleet",
        None,
    ),
    "cassandra.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_CassandraTable",
        None,
    ),
    "comprehend.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_ComprehendEndpoint",
        None,
    ),
    "custom-resource.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_CustomResource",
        None,
    ),
    "dynamodb.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_DynamoDBTable",
        None,
    ),
    "elasticache.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_ElastiCacheRG",
        None,
    ),
    "kafka.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_KafkaCluster",
        None,
    ),
    "lambda.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_LambdaConcurrency",
        None,
    ),
    "neptune.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_NeptuneCluster",
        None,
    ),
    "rds.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_RDSCluster",
        None,
    ),
    "sagemaker.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
        None,
    ),
    "workspaces.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_WorkSpacesPool",
        None,
    ),
    "ec2.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_EC2SpotFleetRequest",
        False,
    ),
    "ecs.amazonaws.com": ("AWSServiceRoleForECS", False),
    "ecs.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_ECSService",
        None,
    ),
    "eks.amazonaws.com": ("AWSServiceRoleForAmazonEKS", False),
    "eks-fargate.amazonaws.com": ("AWSServiceRoleForAmazonEKSForFargate", False),
    "eks-nodegroup.amazonaws.com": ("AWSServiceRoleForAmazonEKSNodegroup", False),
    "elasticache.amazonaws.com": ("AWSServiceRoleForElastiCache", False),
    "elasticbeanstalk.amazonaws.com": ("AWSServiceRoleForElasticBeanstalk", False),
    "elasticfilesystem.amazonaws.com": ("AWSServiceRoleForAmazonElasticFileSystem", False),
    "elasticloadbalancing.amazonaws.com": ("AWSServiceRoleForElasticLoadBalancing", False),
    "es.amazonaws.com": ("AWSServiceRoleForAmazonElasticsearchService", False),
    "guardduty.amazonaws.com": ("AWSServiceRoleForAmazonGuardDuty", None),
    "kafka.amazonaws.com": ("AWSServiceRoleForKafka", False),
    "lex.amazonaws.com": ("AWSServiceRoleForLexBots", False),
    "lexv2.amazonaws.com": ("AWSServiceRoleForLexV2Bots", True),
    "opensearchservice.amazonaws.com": ("AWSServiceRoleForAmazonOpenSearchService", False),
    "organizations.amazonaws.com": ("AWSServiceRoleForOrganizations", None),
    "ops.apigateway.amazonaws.com": ("AWSServiceRoleForAPIGateway", False),
    "rds.amazonaws.com": ("AWSServiceRoleForRDS", False),
    "redshift.amazonaws.com": ("AWSServiceRoleForRedshift", False),
    "replication.ecr.amazonaws.com": ("AWSServiceRoleForECRReplication", False),
    "spot.amazonaws.com": ("AWSServiceRoleForEC2Spot", None),
    "ssm.amazonaws.com": ("AWSServiceRoleForAmazonSSM", False),
    "sso.amazonaws.com": ("AWSServiceRoleForSSO", False),
    "support.amazonaws.com": ("AWSServiceRoleForSupport", None),
    "trustedadvisor.amazonaws.com": ("AWSServiceRoleForTrustedAdvisor", None),
}

SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"


# ------------------------------------------------------------ for the role operations


# --------------------------------------------------------------------------- naming


def _derived_name(service: str) -> str:
    labels = re.split(r"[.-]", service)
    return ROLE_NAME_PREFIX + "".join(label[:1].upper() + label[1:] for label in labels if label)


def role_name_for(principal: str, suffix: str | None) -> str:
    """The role name AWS gives `principal`'s service-linked role (InvalidInput when the
    principal names no service or the service takes no suffix)."""
    known = SERVICES.get(principal)
    if known is not None:
        name, suffix_allowed = known
    else:
        match = _PRINCIPAL.fullmatch(principal)
        if match is None:
            raise InvalidInput(f"Invalid service principal: {principal}")
        name, suffix_allowed = _derived_name(match["service"]), None
    if suffix:
        if suffix_allowed is False:
            raise InvalidInput(f"Custom suffix is not allowed for {principal}")
        name = f"{name}_{suffix}"
    if len(name) > MAX_ROLE_NAME:
        raise InvalidInput(
            f"The role name {name} is longer than {MAX_ROLE_NAME} characters; use a shorter suffix."
        )
    return name


def _path(principal: str) -> str:
    return f"{PATH_PREFIX}{principal}/"


def _trust_policy(principal: str) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": principal},
        "Action": "sts:AssumeRole",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


# -------------------------------------------------------------------------- create


def _create_target(ctx: OpContext, params: Params) -> Target:
    principal = params["AWSServiceName"]
    try:
        name = role_name_for(principal, params.get("CustomSuffix"))
    except InvalidInput:
        name = ROLE_NAME_PREFIX
    arn = iam_arn(ctx, "role", name, _path(principal))
    return Target(arn, {"iam:AWSServiceName": principal})


@operation("iam", "CreateServiceLinkedRole", resource=_create_target)
def create_service_linked_role(ctx: OpContext, params: Params) -> Output:
    principal = params["AWSServiceName"]
    name = role_name_for(principal, params.get("CustomSuffix"))
    repo = ctx.uow.repo(Role)
    if repo.get(ctx.account_id, name.lower()) is not None:
        raise InvalidInput(
            f"Service role name {name} has been taken in this account, "
            "please try a different suffix."
        )
    if repo.count(ctx.account_id) >= iam_roles.MAX_ROLES:
        raise quota_exceeded("RolesPerAccount", iam_roles.MAX_ROLES)
    path = _path(principal)
    role = iam_roles.new_role(
        ctx, name, path, _trust_policy(principal), description=params.get("Description") or ""
    )
    repo.add(role)
    return {"Role": iam_roles.role_out(role, last_used=False)}


# -------------------------------------------------------------------------- delete


def _profiles_using(ctx: OpContext, role: Role) -> list[str]:
    return [p.arn for p in ctx.uow.repo(InstanceProfile).list(ctx.account_id, ref=role.key)]


def _remove_role(ctx: OpContext, role: Role) -> None:
    """The role with the policies its service put on it (inline and attached)."""
    account, prefix = ctx.account_id, joined("role", role.key, "")
    inline = ctx.uow.repo(InlinePolicy)
    for policy in inline.list(account, key_prefix=prefix):
        inline.delete(account, policy.key)
    attachments = ctx.uow.repo(Attachment)
    for attachment in attachments.list(account, key_prefix=prefix):
        attachments.delete(account, attachment.key)
        adjust_policy_counts(ctx, attachment.policy_arn, attachments=-1)
    ctx.uow.repo(Role).delete(account, role.key)
    change_boundary(ctx, "role", role.name, role.permissions_boundary, None)


@operation("iam", "DeleteServiceLinkedRole", resource=ROLES.resolve)
def delete_service_linked_role(ctx: OpContext, params: Params) -> Output:
    name = params["RoleName"]
    role = ROLES.require(ctx, name)
    if not is_service_linked(role):
        raise NoSuchEntity(f"The role with name {name} is not a service-linked role.")
    task_id = f"task{role.path}{role.name}/{uuid.uuid4()}"
    in_use = _profiles_using(ctx, role)
    if in_use:
        task = SlrDeletionTask(
            account_id=ctx.account_id,
            task_id=task_id,
            role_name=role.name,
            status=FAILED,
            created=ctx.now,
            reason=(
                f"The service-linked role {role.name} is used by instance profiles; "
                "remove it from them and submit the deletion request again."
            ),
            usage_region=ctx.meta.region,
            usage_resources=tuple(in_use),
        )
    else:
        _remove_role(ctx, role)
        task = SlrDeletionTask(
            account_id=ctx.account_id,
            task_id=task_id,
            role_name=role.name,
            status=SUCCEEDED,
            created=ctx.now,
        )
    ctx.uow.repo(SlrDeletionTask).add(task)
    return {"DeletionTaskId": task_id}


# ---------------------------------------------------------------------- task status


def _status_target(ctx: OpContext, params: Params) -> Target:
    match = _TASK.fullmatch(params["DeletionTaskId"])
    if match is None:
        return Target("*")
    path = f"{PATH_PREFIX}{match['service']}/"
    return Target(iam_arn(ctx, "role", match["role"], path))


def _status_out(task: SlrDeletionTask) -> dict[str, Any]:
    out: dict[str, Any] = {"Status": task.status}
    if task.status == FAILED:
        usage = [{"Region": task.usage_region, "Resources": list(task.usage_resources)}]
        out["Reason"] = compact(
            {"Reason": task.reason, "RoleUsageList": usage if task.usage_resources else None}
        )
    return out


@operation("iam", "GetServiceLinkedRoleDeletionStatus", resource=_status_target, read_only=True)
def get_service_linked_role_deletion_status(ctx: OpContext, params: Params) -> Output:
    task_id = params["DeletionTaskId"]
    if _TASK.fullmatch(task_id) is None:
        raise InvalidInput(f"Invalid deletion task id: {task_id}")
    task = ctx.uow.repo(SlrDeletionTask).get(ctx.account_id, task_id)
    if task is None:
        raise NoSuchEntity(f"Deletion task {task_id} cannot be found.")
    return _status_out(task)
