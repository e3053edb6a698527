"""Service-linked roles: names, paths and trust, suffixes, deletion tasks, protection."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from chamberlain.crypto.ids import Prefix, is_unique_id
from chamberlain.domain import Role
from chamberlain.ops.core.context import Caller, Services
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.iam import roles as iam_roles
from chamberlain.ops.iam.role_protection import is_service_linked, require_modifiable
from chamberlain.protocol.models import find_operation, validate_input
from chamberlain.protocol.xml_out import serialize_response

from ..conftest import ACCOUNT, NOW, root_caller, user_caller
from ..entity_seed import Seed, allow, policy

Call = Callable[..., Any]
EB = "elasticbeanstalk.amazonaws.com"
EB_ROLE = "AWSServiceRoleForElasticBeanstalk"
EB_ARN = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/{EB}/{EB_ROLE}"


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


def error(call: Call, *args: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ServiceError) as info:
        call(*args, **params)
    return info.value.code, info.value.message


# -------------------------------------------------------------------------- create


def test_create_names_places_and_trusts_the_service(aws: Call) -> None:
    role = aws("CreateServiceLinkedRole", AWSServiceName=EB, Description="Beanstalk")["Role"]
    assert role["RoleName"] == EB_ROLE
    assert role["Path"] == f"/aws-service-role/{EB}/"
    assert role["Arn"] == EB_ARN
    assert is_unique_id(role["RoleId"], Prefix.ROLE)
    assert role["Description"] == "Beanstalk"
    assert role["MaxSessionDuration"] == 3600
    assert role["CreateDate"] == NOW
    assert json.loads(role["AssumeRolePolicyDocument"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": EB}, "Action": "sts:AssumeRole"}
        ],
    }
    # An ordinary role: GetRole and ListRoles show it.
    shown = aws("GetRole", RoleName=EB_ROLE)["Role"]
    assert shown["Arn"] == EB_ARN and shown["RoleLastUsed"] == {}
    listed = aws("ListRoles", PathPrefix="/aws-service-role/")["Roles"]
    assert [r["RoleName"] for r in listed] == [EB_ROLE]


def test_role_names_are_the_services_own(aws: Call) -> None:
    names = {
        "ecs.amazonaws.com": "AWSServiceRoleForECS",
        "eks.amazonaws.com": "AWSServiceRoleForAmazonEKS",
        "spot.amazonaws.com": "AWSServiceRoleForEC2Spot",
        "my-service.amazonaws.com": "AWSServiceRoleForMyService",  # not in the table
    }
    for principal, name in names.items():
        assert aws("CreateServiceLinkedRole", AWSServiceName=principal)["Role"]["RoleName"] == name
    assert error(aws, "CreateServiceLinkedRole", AWSServiceName="example.com") == (
        "InvalidInput",
        "Invalid service principal: example.com",
    )


def test_custom_suffix(aws: Call) -> None:
    autoscaling = "autoscaling.amazonaws.com"
    role = aws("CreateServiceLinkedRole", AWSServiceName=autoscaling, CustomSuffix="debug")
    assert role["Role"]["RoleName"] == "AWSServiceRoleForAutoScaling_debug"
    assert role["Role"]["Path"] == f"/aws-service-role/{autoscaling}/"
    aws("CreateServiceLinkedRole", AWSServiceName=autoscaling)
    assert error(aws, "CreateServiceLinkedRole", AWSServiceName=EB, CustomSuffix="x") == (
        "InvalidInput",
        f"Custom suffix is not allowed for {EB}",
    )
    code, message = error(
        aws, "CreateServiceLinkedRole", AWSServiceName=autoscaling, CustomSuffix="s" * 40
    )
    assert code == "InvalidInput" and "longer than 64" in message


def test_name_taken_and_quota(aws: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    aws("CreateServiceLinkedRole", AWSServiceName=EB)
    assert error(aws, "CreateServiceLinkedRole", AWSServiceName=EB) == (
        "InvalidInput",
        f"Service role name {EB_ROLE} has been taken in this account, "
        "please try a different suffix.",
    )
    monkeypatch.setattr(iam_roles, "MAX_ROLES", 1)
    assert error(aws, "CreateServiceLinkedRole", AWSServiceName="ecs.amazonaws.com") == (
        "LimitExceeded",
        "Cannot exceed quota for RolesPerAccount: 1",
    )


# -------------------------------------------------------------------------- delete


def test_delete_runs_a_task_that_succeeds(aws: Call, services: Services) -> None:
    aws("CreateServiceLinkedRole", AWSServiceName=EB)
    seed = Seed(services)
    arn = seed.managed("ServicePolicy", policy(allow("s3:GetObject")), attachments=1)
    seed.attach("role", EB_ROLE, arn)
    seed.inline("role", EB_ROLE, "inline", policy(allow("s3:ListBucket")))

    task_id = aws("DeleteServiceLinkedRole", RoleName=EB_ROLE)["DeletionTaskId"]
    pattern = rf"task/aws-service-role/{re.escape(EB)}/{EB_ROLE}/[0-9a-f-]{{36}}"
    assert re.fullmatch(pattern, task_id)
    assert aws("GetServiceLinkedRoleDeletionStatus", DeletionTaskId=task_id) == {
        "Status": "SUCCEEDED"
    }
    assert error(aws, "GetRole", RoleName=EB_ROLE) == (
        "NoSuchEntity",
        f"The role with name {EB_ROLE} cannot be found.",
    )
    # The service's policies went with the role.
    assert aws("GetPolicy", PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    assert aws("ListEntitiesForPolicy", PolicyArn=arn)["PolicyRoles"] == []


def test_delete_fails_while_an_instance_profile_uses_the_role(
    aws: Call, services: Services
) -> None:
    aws("CreateServiceLinkedRole", AWSServiceName=EB)
    profile = Seed(services).instance_profile("web", EB_ROLE)
    task_id = aws("DeleteServiceLinkedRole", RoleName=EB_ROLE)["DeletionTaskId"]
    status = aws("GetServiceLinkedRoleDeletionStatus", DeletionTaskId=task_id)
    assert status["Status"] == "FAILED"
    assert EB_ROLE in status["Reason"]["Reason"]
    assert status["Reason"]["RoleUsageList"] == [
        {"Region": "us-east-1", "Resources": [profile.arn]}
    ]
    assert aws("GetRole", RoleName=EB_ROLE)["Role"]["Arn"] == EB_ARN


def test_delete_errors(aws: Call, services: Services) -> None:
    assert error(aws, "DeleteServiceLinkedRole", RoleName="nobody") == (
        "NoSuchEntity",
        "The role with name nobody cannot be found.",
    )
    Seed(services).role("plain")
    assert error(aws, "DeleteServiceLinkedRole", RoleName="plain") == (
        "NoSuchEntity",
        "The role with name plain is not a service-linked role.",
    )
    assert aws("GetRole", RoleName="plain")["Role"]["RoleName"] == "plain"


def test_deletion_status_errors(aws: Call) -> None:
    assert error(aws, "GetServiceLinkedRoleDeletionStatus", DeletionTaskId="bogus") == (
        "InvalidInput",
        "Invalid deletion task id: bogus",
    )
    unknown = f"task/aws-service-role/{EB}/{EB_ROLE}/00000000-0000-0000-0000-000000000000"
    assert error(aws, "GetServiceLinkedRoleDeletionStatus", DeletionTaskId=unknown) == (
        "NoSuchEntity",
        f"Deletion task {unknown} cannot be found.",
    )


# ----------------------------------------------------------------------- protection


def test_is_service_linked_and_require_modifiable(aws: Call, services: Services) -> None:
    aws("CreateServiceLinkedRole", AWSServiceName=EB)
    plain = Seed(services).role("plain")
    with services.store.unit_of_work(read_only=True) as uow:
        linked = uow.repo(Role).get(ACCOUNT, EB_ROLE.lower())
    assert linked is not None
    assert is_service_linked(linked) and not is_service_linked(plain)
    assert require_modifiable(plain) is plain
    with pytest.raises(ServiceError) as info:
        require_modifiable(linked)
    assert (info.value.code, info.value.http_status, info.value.message) == (
        "UnmodifiableEntity",
        400,
        f"Cannot perform the operation on the protected role '{EB_ROLE}' "
        "- this role is only modifiable by AWS",
    )


# -------------------------------------------------------------------- authorization


def test_authorization_for_a_user(aws: Call, services: Services) -> None:
    seed = Seed(services)
    seed.user("nobody")
    seed.user("admin")
    seed.inline(
        "user",
        "admin",
        "slr",
        policy(
            allow(
                "iam:CreateServiceLinkedRole",
                f"arn:aws:iam::*:role/aws-service-role/{EB}/*",
                Condition={"StringLike": {"iam:AWSServiceName": EB}},
            ),
            allow(
                ["iam:DeleteServiceLinkedRole", "iam:GetServiceLinkedRoleDeletionStatus"],
                "arn:aws:iam::*:role/aws-service-role/*",
            ),
        ),
    )

    nobody, admin = user_caller("nobody"), user_caller("admin")
    code, message = error(aws, "CreateServiceLinkedRole", nobody, AWSServiceName=EB)
    assert code == "AccessDenied"
    assert message.startswith(
        f"User: {nobody.arn} is not authorized to perform: iam:CreateServiceLinkedRole "
        f"on resource: {EB_ARN}"
    )
    code, _ = error(aws, "CreateServiceLinkedRole", admin, AWSServiceName="ecs.amazonaws.com")
    assert code == "AccessDenied"
    aws("CreateServiceLinkedRole", admin, AWSServiceName=EB)
    assert error(aws, "DeleteServiceLinkedRole", nobody, RoleName=EB_ROLE)[0] == "AccessDenied"
    task_id = aws("DeleteServiceLinkedRole", admin, RoleName=EB_ROLE)["DeletionTaskId"]
    assert (
        error(aws, "GetServiceLinkedRoleDeletionStatus", nobody, DeletionTaskId=task_id)[0]
        == "AccessDenied"
    )
    status = aws("GetServiceLinkedRoleDeletionStatus", admin, DeletionTaskId=task_id)
    assert status == {"Status": "SUCCEEDED"}


@pytest.mark.parametrize(
    ("principal", "name"),
    [
        # Application Auto Scaling User Guide, "Custom resources and Application Auto
        # Scaling" (https://docs.aws.amazon.com/autoscaling/application/userguide/
        # services-that-can-integrate-custom.html).
        (
            "custom-resource.application-autoscaling.amazonaws.com",
            "AWSServiceRoleForApplicationAutoScaling_CustomResource",
        ),
        # "Amazon Comprehend and Application Auto Scaling" (services-that-can-integrate-
        # comprehend.html).
        (
            "comprehend.application-autoscaling.amazonaws.com",
            "AWSServiceRoleForApplicationAutoScaling_ComprehendEndpoint",
        ),
        (
            "ec2.application-autoscaling.amazonaws.com",
            "AWSServiceRoleForApplicationAutoScaling_EC2SpotFleetRequest",
        ),
    ],
)
def test_service_linked_role_names_are_each_services_documented_name(
    aws: Call, principal: str, name: str
) -> None:
    role = aws("CreateServiceLinkedRole", AWSServiceName=principal)["Role"]
    assert role["RoleName"] == name
    assert role["Path"] == f"/aws-service-role/{principal}/"
