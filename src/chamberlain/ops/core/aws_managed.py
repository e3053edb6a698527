"""AWS managed policies Chamberlain ships: `arn:aws:iam::aws:policy/...`, read-only.

Documents follow AWS's published policies for the services Chamberlain serves (IAM, STS,
CloudTrail); ReadOnlyAccess and ViewOnlyAccess are shortened from
AWS's lists of hundreds of services: they grant the read verbs of the services in
`_READ_SERVICES` (AWS's documents cannot be copied verbatim here: `*:Get*` style actions,
which the console shows, are not valid policy grammar).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AwsManagedPolicy:
    name: str
    path: str
    description: str
    document: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::aws:policy{self.path}{self.name}"

    @property
    def policy_id(self) -> str:
        digest = hashlib.sha256(self.name.encode()).digest()
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        return "ANPA" + "".join(alphabet[b % 32] for b in digest[:17])

    version_id = "v1"
    created = dt.datetime(2015, 2, 6, 18, 39, 46, tzinfo=dt.UTC)


#: Services whose read actions ReadOnlyAccess/ViewOnlyAccess grant (AWS's lists name
#: every AWS service; these are the ones Chamberlain serves plus the common ones).
_READ_SERVICES = (
    "iam",
    "sts",
    "cloudtrail",
    "s3",
    "ec2",
    "lambda",
    "dynamodb",
    "sqs",
    "sns",
    "kms",
    "logs",
    "cloudwatch",
    "rds",
    "ecr",
    "ecs",
    "eks",
)


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=4)


_POLICIES = (
    AwsManagedPolicy(
        "AdministratorAccess",
        "/",
        "Provides full access to AWS services and resources.",
        _doc({"Effect": "Allow", "Action": "*", "Resource": "*"}),
    ),
    AwsManagedPolicy(
        "PowerUserAccess",
        "/",
        "Provides full access to AWS services and resources, but does not allow "
        "management of Users and groups.",
        _doc(
            {
                "Effect": "Allow",
                "NotAction": ["iam:*", "organizations:*", "account:*"],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "iam:CreateServiceLinkedRole",
                    "iam:DeleteServiceLinkedRole",
                    "iam:ListRoles",
                    "organizations:DescribeOrganization",
                    "account:ListRegions",
                    "account:GetAccountInformation",
                ],
                "Resource": "*",
            },
        ),
    ),
    AwsManagedPolicy(
        "ReadOnlyAccess",
        "/",
        "Provides read-only access to AWS services and resources.",
        _doc(
            {
                "Effect": "Allow",
                "Action": [
                    f"{service}:{verb}*"
                    for service in _READ_SERVICES
                    for verb in ("Get", "List", "Describe", "Lookup")
                ]
                + ["iam:GenerateCredentialReport", "iam:GenerateServiceLastAccessedDetails"],
                "Resource": "*",
            }
        ),
    ),
    AwsManagedPolicy(
        "ViewOnlyAccess",
        "/job-function/",
        "This policy grants permissions to view resources and basic metadata across all "
        "AWS services",
        _doc(
            {
                "Effect": "Allow",
                "Action": [
                    f"{service}:{verb}*"
                    for service in _READ_SERVICES
                    for verb in ("List", "Describe")
                ],
                "Resource": "*",
            }
        ),
    ),
    AwsManagedPolicy(
        "IAMFullAccess",
        "/",
        "Provides full access to IAM via the AWS Management Console.",
        _doc(
            {
                "Effect": "Allow",
                "Action": [
                    "iam:*",
                    "organizations:DescribeAccount",
                    "organizations:DescribeOrganization",
                    "organizations:DescribeOrganizationalUnit",
                    "organizations:DescribePolicy",
                    "organizations:ListChildren",
                    "organizations:ListParents",
                    "organizations:ListPoliciesForTarget",
                    "organizations:ListRoots",
                    "organizations:ListPolicies",
                    "organizations:ListTargetsForPolicy",
                ],
                "Resource": "*",
            }
        ),
    ),
    AwsManagedPolicy(
        "IAMReadOnlyAccess",
        "/",
        "Provides read only access to IAM via the AWS Management Console.",
        _doc(
            {
                "Effect": "Allow",
                "Action": [
                    "iam:GenerateCredentialReport",
                    "iam:GenerateServiceLastAccessedDetails",
                    "iam:Get*",
                    "iam:List*",
                    "iam:SimulateCustomPolicy",
                    "iam:SimulatePrincipalPolicy",
                ],
                "Resource": "*",
            }
        ),
    ),
    AwsManagedPolicy(
        "IAMUserChangePassword",
        "/",
        "Provides the ability for an IAM user to change their own password.",
        _doc(
            {
                "Effect": "Allow",
                "Action": ["iam:ChangePassword"],
                "Resource": ["arn:aws:iam::*:user/${aws:username}"],
            },
            {"Effect": "Allow", "Action": ["iam:GetAccountPasswordPolicy"], "Resource": "*"},
        ),
    ),
    AwsManagedPolicy(
        "IAMUserSSHKeys",
        "/",
        "Provides the ability for an IAM user to manage their own SSH keys.",
        _doc(
            {
                "Effect": "Allow",
                "Action": [
                    "iam:DeleteSSHPublicKey",
                    "iam:GetSSHPublicKey",
                    "iam:ListSSHPublicKeys",
                    "iam:UpdateSSHPublicKey",
                    "iam:UploadSSHPublicKey",
                ],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            }
        ),
    ),
    AwsManagedPolicy(
        "AWSCloudTrail_ReadOnlyAccess",
        "/",
        "Provides read only access to AWS CloudTrail.",
        _doc(
            {
                "Effect": "Allow",
                "Action": [
                    "cloudtrail:Get*",
                    "cloudtrail:Describe*",
                    "cloudtrail:List*",
                    "cloudtrail:LookupEvents",
                ],
                "Resource": "*",
            }
        ),
    ),
    AwsManagedPolicy(
        "SecurityAudit",
        "/",
        "The security audit template grants access to read security configuration metadata.",
        _doc(
            {
                "Effect": "Allow",
                "Action": [
                    "iam:GenerateCredentialReport",
                    "iam:GenerateServiceLastAccessedDetails",
                    "iam:Get*",
                    "iam:List*",
                    "iam:SimulateCustomPolicy",
                    "iam:SimulatePrincipalPolicy",
                    "cloudtrail:Describe*",
                    "cloudtrail:Get*",
                    "cloudtrail:List*",
                    "cloudtrail:LookupEvents",
                    "sts:GetCallerIdentity",
                ],
                "Resource": "*",
            }
        ),
    ),
)

AWS_MANAGED: dict[str, AwsManagedPolicy] = {p.arn: p for p in _POLICIES}
