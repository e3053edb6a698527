"""AWS's documented behaviour over the wire (issue #14), with the aws CLI and boto3:
AWS managed policies readable with the caller's own policies, GetCallerIdentity that no
policy can deny, the policy simulator's ResourcePolicy taken as written, and a root user
that lists and deletes its own access keys."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import botocore.exceptions
import pytest
from botocore.config import Config

from .conftest import ACCOUNT, Server, init_and_serve, stop

ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------- a. AWS managed policies are readable


def test_admin_reads_aws_managed_policies_with_the_cli(server: Server) -> None:
    """AWS Managed Policy Reference, "What are AWS managed policies?": available for use
    by all AWS customers (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/
    about-managed-policy-reference.html). An administrator of the account reads them."""
    user = unique("reader")
    iam = server.client("iam")
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn=ADMIN_POLICY)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    reader = server.client_with_keys("iam", key["AccessKeyId"], key["SecretAccessKey"])
    policy = reader.get_policy(PolicyArn=ADMIN_POLICY)["Policy"]
    assert (policy["PolicyName"], policy["DefaultVersionId"]) == ("AdministratorAccess", "v1")
    version = reader.get_policy_version(PolicyArn=ADMIN_POLICY, VersionId="v1")["PolicyVersion"]
    assert version["Document"]["Statement"][0]["Action"] == "*"
    assert reader.list_policy_versions(PolicyArn=ADMIN_POLICY)["Versions"]
    entities = reader.list_entities_for_policy(PolicyArn=ADMIN_POLICY)["PolicyUsers"]
    assert user in [u["UserName"] for u in entities]
    assert reader.list_policy_tags(PolicyArn=ADMIN_POLICY)["Tags"] == []
    job = reader.generate_service_last_accessed_details(Arn=ADMIN_POLICY)["JobId"]
    assert job
    # The full catalogue: a template attaching AmazonS3ReadOnlyAccess works.
    s3_read = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    done = server.aws("iam", "attach-user-policy", "--user-name", user, "--policy-arn", s3_read)
    assert done is None
    got = server.aws("iam", "get-policy", "--policy-arn", s3_read)["Policy"]
    assert got["PolicyName"] == "AmazonS3ReadOnlyAccess"


# ----------------------------------------------------- b. GetCallerIdentity is never denied


def test_get_caller_identity_works_under_an_explicit_deny(server: Server) -> None:
    """STS API Reference, GetCallerIdentity: "If an administrator attaches a policy to
    your identity that explicitly denies access to the sts:GetCallerIdentity action, you
    can still perform this operation."
    (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html)"""
    user = unique("denied")
    iam = server.client("iam")
    iam.create_user(UserName=user)
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*"}
    iam.put_user_policy(
        UserName=user,
        PolicyName="deny-all",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [deny]}),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    sts = server.client_with_keys("sts", key["AccessKeyId"], key["SecretAccessKey"])
    me = sts.get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{user}"
    simulated = iam.simulate_principal_policy(
        PolicySourceArn=me["Arn"], ActionNames=["sts:GetCallerIdentity", "iam:GetUser"]
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in simulated] == ["allowed", "explicitDeny"]


# ---------------------------------------- c, e. the simulator's ResourcePolicy as written


def test_simulate_custom_policy_resource_policy_as_written(server: Server) -> None:
    """IAM API Reference, SimulateCustomPolicy: ResourcePolicy and CallerArn are simulated
    as given; a principal that exists nowhere is valid input. A role's trust policy given
    as ResourcePolicy must allow sts:AssumeRole, in the same account too."""
    ghost = f"arn:aws:iam::{ACCOUNT}:user/{unique('ghost')}"
    allow_all = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    )

    def trust(principal: str) -> str:
        statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    def decide(resource_policy: str) -> str:
        out = server.aws(
            "iam",
            "simulate-custom-policy",
            "--policy-input-list",
            allow_all,
            "--action-names",
            "sts:AssumeRole",
            "--resource-arns",
            f"arn:aws:iam::{ACCOUNT}:role/deploy",
            "--resource-policy",
            resource_policy,
            "--caller-arn",
            ghost,
        )
        decision: str = out["EvaluationResults"][0]["EvalDecision"]
        return decision

    assert decide(trust(ghost)) == "allowed"
    assert decide(trust(f"arn:aws:iam::{ACCOUNT}:user/someone-else")) == "implicitDeny"


# ------------------------------------------------------- i. the root user locked down


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own: these tests change the root user's credentials."""
    running = init_and_serve(tmp_path_factory.mktemp("fidelity"))
    yield running
    stop(running)


def test_root_mfa_cannot_be_enabled_over_the_api(own_server: Server) -> None:
    """IAM User Guide, "Assign MFA devices in the AWS CLI or AWS API": "You cannot enable
    an MFA device for the AWS account root user with the AWS CLI, AWS API ..." — the
    API's EnableMFADevice requires UserName, and a root user's call without it is the
    ValidationError AWS sends (root MFA is enabled in-process: tests/ops/test_mfa.py)."""
    raw = own_server.session("admin-root").client(
        "iam",
        endpoint_url=own_server.endpoint,
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        raw.enable_mfa_device(
            SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/root-account-mfa-device",
            AuthenticationCode1="123456",
            AuthenticationCode2="654321",
        )
    assert refused.value.response["Error"]["Code"] == "ValidationError"


def test_root_user_lists_and_deletes_its_own_access_keys(own_server: Server) -> None:
    """IAM User Guide, "Root user best practices": delete the root user's access keys.
    ListAccessKeys / CreateAccessKey / DeleteAccessKey without UserName act on the
    caller, the root user included (IAM API Reference, ListAccessKeys: "If the UserName
    is not specified, the user name is determined implicitly based on the Amazon Web
    Services access key ID used to sign the request")."""
    root = "admin-root"
    summary = own_server.aws("iam", "get-account-summary", profile=root)["SummaryMap"]
    assert summary["AccountAccessKeysPresent"] == 1
    listed = own_server.aws("iam", "list-access-keys", profile=root)["AccessKeyMetadata"]
    assert len(listed) == 1 and listed[0]["Status"] == "Active"
    first = listed[0]["AccessKeyId"]
    second = own_server.aws("iam", "create-access-key", profile=root)["AccessKey"]
    assert second["AccessKeyId"] != first
    listed = own_server.aws("iam", "list-access-keys", profile=root)["AccessKeyMetadata"]
    assert sorted(k["AccessKeyId"] for k in listed) == sorted([first, second["AccessKeyId"]])
    # The root user deletes the key its CLI profile signs with: it is gone at once.
    assert (
        own_server.aws("iam", "delete-access-key", "--access-key-id", first, profile=root) is None
    )
    gone = own_server.aws("iam", "list-access-keys", profile=root, check=False)
    assert gone.returncode != 0 and "InvalidClientTokenId" in gone.stderr
    again = own_server.client_with_keys("iam", second["AccessKeyId"], second["SecretAccessKey"])
    keys = again.list_access_keys()["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [second["AccessKeyId"]]
    again.delete_access_key(AccessKeyId=second["AccessKeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        again.list_access_keys()
    assert denied.value.response["Error"]["Code"] == "InvalidClientTokenId"
    admin = own_server.client("iam")
    assert admin.get_account_summary()["SummaryMap"]["AccountAccessKeysPresent"] == 0
