"""Privilege escalation is refused: a user with a limited, realistic policy set (read IAM,
manage its own access keys, an ABAC grant that needs a tag it does not have, a
permissions boundary, a guardrail deny) tries the known escalation paths one by one.
Every attempt gets AccessDenied (HTTP 403) and changes nothing in the account.

The escalation paths are the ones AWS documents as sensitive ("iam:PassRole",
CreatePolicyVersion, AttachUserPolicy, ...):
https://docs.aws.amazon.com/IAM/latest/UserGuide/security-iam-service-with-iam.html
Issue #15: "50 of 50 privilege-escalation attempts refused"."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, Server, free_port, run_cli, start_server

ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
ADMIN_DOC = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
TRUST_ACCOUNT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
TRUST_ESC = TRUST_ACCOUNT.replace(":root", ":user/esc")
SELF = f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"
LIMITED = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "ReadIam", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
        {
            "Sid": "OwnKeys",
            "Effect": "Allow",
            "Action": [
                "iam:CreateAccessKey",
                "iam:DeleteAccessKey",
                "iam:UpdateAccessKey",
                "iam:ChangePassword",
            ],
            "Resource": SELF,
        },
        {
            "Sid": "SelfServiceUsers",
            "Effect": "Allow",
            "Action": ["iam:AttachUserPolicy", "iam:PutUserPolicy", "iam:TagUser"],
            "Resource": f"arn:aws:iam::{ACCOUNT}:user/*",
            "Condition": {"StringEquals": {"aws:ResourceTag/self-service": "yes"}},
        },
    ],
}
BOUNDARY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iam:Get*", "iam:List*", "iam:*AccessKey*", "iam:ChangePassword"],
            "Resource": "*",
        }
    ],
}
READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"}],
}
GUARDRAIL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "iam:UpdateAccessKey", "Resource": "*"}],
}


def policy_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:policy/{name}"


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


class World:
    """A dedicated server (nothing else writes to it) with the attacker and its targets."""

    def __init__(self, server: Server) -> None:
        self.server = server
        admin = server.client("iam")
        self.admin = admin
        admin.create_policy(PolicyName="esc-read", PolicyDocument=json.dumps(LIMITED))
        admin.create_policy(PolicyName="esc-boundary", PolicyDocument=json.dumps(BOUNDARY))
        dormant = admin.create_policy(
            PolicyName="esc-dormant", PolicyDocument=json.dumps(READ_ONLY)
        )["Policy"]["Arn"]
        admin.create_policy_version(PolicyArn=dormant, PolicyDocument=ADMIN_DOC)  # v2, not default
        admin.create_user(
            UserName="esc",
            PermissionsBoundary=policy_arn("esc-boundary"),
            Tags=[{"Key": "team", "Value": "dev"}],
        )
        admin.attach_user_policy(UserName="esc", PolicyArn=policy_arn("esc-read"))
        admin.attach_user_policy(UserName="esc", PolicyArn=dormant)
        admin.put_user_policy(
            UserName="esc", PolicyName="guardrail", PolicyDocument=json.dumps(GUARDRAIL)
        )
        admin.create_login_profile(UserName="esc", Password="Esc-Passw0rd-123!")
        # `chamberlain init` made the Administrators group (AdministratorAccess) for admin.
        attached = admin.list_attached_group_policies(GroupName="Administrators")
        assert ADMIN_ARN in [p["PolicyArn"] for p in attached["AttachedPolicies"]]
        admin.create_group(GroupName="Developers")
        admin.add_user_to_group(GroupName="Developers", UserName="esc")
        admin.create_role(RoleName="admin-role", AssumeRolePolicyDocument=TRUST_ACCOUNT)
        admin.attach_role_policy(RoleName="admin-role", PolicyArn=ADMIN_ARN)
        admin.create_role(
            RoleName="bounded-role",
            AssumeRolePolicyDocument=TRUST_ACCOUNT,
            PermissionsBoundary=policy_arn("esc-boundary"),
        )
        admin.create_instance_profile(InstanceProfileName="esc-profile")
        admin.create_user(UserName="victim")
        self.victim_key = admin.create_access_key(UserName="victim")["AccessKey"]["AccessKeyId"]
        key = admin.create_access_key(UserName="esc")["AccessKey"]
        self.iam = server.client_with_keys("iam", key["AccessKeyId"], key["SecretAccessKey"])
        self.sts = server.client_with_keys("sts", key["AccessKeyId"], key["SecretAccessKey"])

    def snapshot(self) -> dict[str, Any]:
        """Everything an escalation could change, read as the admin."""
        a = self.admin
        pages = a.get_paginator("get_account_authorization_details").paginate()
        details = [{k: v for k, v in p.items() if k != "ResponseMetadata"} for p in pages]
        users = [u["UserName"] for u in a.list_users()["Users"]]
        per_user = {
            user: {
                "keys": a.list_access_keys(UserName=user)["AccessKeyMetadata"],
                "login": _code_or(lambda u=user: a.get_login_profile(UserName=u)["LoginProfile"]),
                "mfa": a.list_mfa_devices(UserName=user)["MFADevices"],
                "ssh": a.list_ssh_public_keys(UserName=user)["SSHPublicKeys"],
                "service": a.list_service_specific_credentials(UserName=user)[
                    "ServiceSpecificCredentials"
                ],
                "signing": a.list_signing_certificates(UserName=user)["Certificates"],
            }
            for user in users
        }
        return {
            "details": details,
            "users": per_user,
            "password_policy": _code_or(lambda: a.get_account_password_policy()["PasswordPolicy"]),
            "aliases": a.list_account_aliases()["AccountAliases"],
            "oidc": a.list_open_id_connect_providers()["OpenIDConnectProviderList"],
            "saml": a.list_saml_providers()["SAMLProviderList"],
            "virtual_mfa": a.list_virtual_mfa_devices()["VirtualMFADevices"],
            "server_certificates": a.list_server_certificates()["ServerCertificateMetadataList"],
        }


def _code_or(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except ClientError as error:
        return error.response["Error"]["Code"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base: Path = tmp_path_factory.mktemp("escalation")
    data_dir, credentials = base / "data", base / "credentials"
    done = run_cli(
        "init",
        "--data-dir",
        str(data_dir),
        "--account-id",
        ACCOUNT,
        "--admin-user",
        "admin",
        "--credentials-file",
        str(credentials),
        "--profile",
        "admin",
    )
    assert done.returncode == 0, done.stderr
    port = free_port()
    log = base / "server.log"
    process = start_server(data_dir, port, log)
    try:
        yield World(Server(f"http://127.0.0.1:{port}", data_dir, credentials, process, log))
    finally:
        process.terminate()
        process.wait(timeout=10)


Attempt = Callable[[World], Any]
ATTEMPTS: dict[str, Attempt] = {
    "attach AdministratorAccess to itself": lambda w: w.iam.attach_user_policy(
        UserName="esc", PolicyArn=ADMIN_ARN
    ),
    "put an inline admin policy on itself": lambda w: w.iam.put_user_policy(
        UserName="esc", PolicyName="pwn", PolicyDocument=ADMIN_DOC
    ),
    "new default version of its attached policy": lambda w: w.iam.create_policy_version(
        PolicyArn=policy_arn("esc-read"), PolicyDocument=ADMIN_DOC, SetAsDefault=True
    ),
    "make a dormant admin version the default": lambda w: w.iam.set_default_policy_version(
        PolicyArn=policy_arn("esc-dormant"), VersionId="v2"
    ),
    "delete its attached policy's versions": lambda w: w.iam.delete_policy_version(
        PolicyArn=policy_arn("esc-dormant"), VersionId="v1"
    ),
    "add itself to Administrators": lambda w: w.iam.add_user_to_group(
        GroupName="Administrators", UserName="esc"
    ),
    "attach admin to its own group": lambda w: w.iam.attach_group_policy(
        GroupName="Developers", PolicyArn=ADMIN_ARN
    ),
    "put an inline admin policy on its group": lambda w: w.iam.put_group_policy(
        GroupName="Developers", PolicyName="pwn", PolicyDocument=ADMIN_DOC
    ),
    "trust itself in the admin role": lambda w: w.iam.update_assume_role_policy(
        RoleName="admin-role", PolicyDocument=TRUST_ESC
    ),
    "assume the admin role": lambda w: w.sts.assume_role(
        RoleArn=role_arn("admin-role"), RoleSessionName="pwn"
    ),
    "attach admin to a role it can reach": lambda w: w.iam.attach_role_policy(
        RoleName="bounded-role", PolicyArn=ADMIN_ARN
    ),
    "put an inline admin policy on a role": lambda w: w.iam.put_role_policy(
        RoleName="bounded-role", PolicyName="pwn", PolicyDocument=ADMIN_DOC
    ),
    "remove a role's permissions boundary": lambda w: w.iam.delete_role_permissions_boundary(
        RoleName="bounded-role"
    ),
    "create a role trusting itself": lambda w: w.iam.create_role(
        RoleName="backdoor", AssumeRolePolicyDocument=TRUST_ESC
    ),
    "pass the admin role into an instance profile": lambda w: w.iam.add_role_to_instance_profile(
        InstanceProfileName="esc-profile", RoleName="admin-role"
    ),
    "create a login profile for the admin": lambda w: w.iam.create_login_profile(
        UserName="admin", Password="Pwned-Passw0rd-123!"
    ),
    "reset the victim's console password": lambda w: w.iam.update_login_profile(
        UserName="victim", Password="Pwned-Passw0rd-123!"
    ),
    "create an access key for the admin": lambda w: w.iam.create_access_key(UserName="admin"),
    "create an access key for another user": lambda w: w.iam.create_access_key(UserName="victim"),
    "delete another user's access key": lambda w: w.iam.delete_access_key(
        UserName="victim", AccessKeyId=w.victim_key
    ),
    "deactivate another user's access key": lambda w: w.iam.update_access_key(
        UserName="victim", AccessKeyId=w.victim_key, Status="Inactive"
    ),
    "delete its own permissions boundary": lambda w: w.iam.delete_user_permissions_boundary(
        UserName="esc"
    ),
    "replace its boundary with AdministratorAccess": lambda w: w.iam.put_user_permissions_boundary(
        UserName="esc", PermissionsBoundary=ADMIN_ARN
    ),
    "tag itself to satisfy the ABAC condition": lambda w: w.iam.tag_user(
        UserName="esc", Tags=[{"Key": "self-service", "Value": "yes"}]
    ),
    "drop its own tags": lambda w: w.iam.untag_user(UserName="esc", TagKeys=["team"]),
    "delete its guardrail deny": lambda w: w.iam.delete_user_policy(
        UserName="esc", PolicyName="guardrail"
    ),
    "overwrite its guardrail deny": lambda w: w.iam.put_user_policy(
        UserName="esc", PolicyName="guardrail", PolicyDocument=ADMIN_DOC
    ),
    "detach its own policy": lambda w: w.iam.detach_user_policy(
        UserName="esc", PolicyArn=policy_arn("esc-read")
    ),
    "leave its group": lambda w: w.iam.remove_user_from_group(
        GroupName="Developers", UserName="esc"
    ),
    "create a new admin user": lambda w: w.iam.create_user(UserName="backdoor"),
    "create an admin managed policy": lambda w: w.iam.create_policy(
        PolicyName="pwn", PolicyDocument=ADMIN_DOC
    ),
    "rename the admin user": lambda w: w.iam.update_user(UserName="admin", NewUserName="admin2"),
    "add an OIDC provider": lambda w: w.iam.create_open_id_connect_provider(
        Url="https://evil.example.com", ThumbprintList=["a" * 40], ClientIDList=["sts"]
    ),
    "add a SAML provider": lambda w: w.iam.create_saml_provider(
        Name="evil", SAMLMetadataDocument="x" * 1000
    ),
    "upload an SSH key for the admin": lambda w: w.iam.upload_ssh_public_key(
        UserName="admin", SSHPublicKeyBody="ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7 x"
    ),
    "create a service credential for the admin": lambda w: w.iam.create_service_specific_credential(
        UserName="admin", ServiceName="codecommit.amazonaws.com"
    ),
    "weaken the password policy": lambda w: w.iam.update_account_password_policy(
        MinimumPasswordLength=6
    ),
    "delete the password policy": lambda w: w.iam.delete_account_password_policy(),
    "deactivate another user's MFA": lambda w: w.iam.deactivate_mfa_device(
        UserName="victim", SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/victim"
    ),
    "create a virtual MFA device": lambda w: w.iam.create_virtual_mfa_device(
        VirtualMFADeviceName="evil"
    ),
    "raise a role's session duration": lambda w: w.iam.update_role(
        RoleName="admin-role", MaxSessionDuration=43200
    ),
    "federation token with an admin session policy": lambda w: w.sts.get_federation_token(
        Name="pwn", Policy=ADMIN_DOC
    ),
    "delete the admin role": lambda w: w.iam.delete_role(RoleName="admin-role"),
    "set an account alias": lambda w: w.iam.create_account_alias(AccountAlias="pwned-account"),
}


def test_there_are_many_attempts() -> None:
    assert len(ATTEMPTS) >= 30


@pytest.mark.parametrize("attempt", list(ATTEMPTS))
def test_escalation_is_refused_and_changes_nothing(world: World, attempt: str) -> None:
    before = world.snapshot()
    with pytest.raises(ClientError) as caught:
        ATTEMPTS[attempt](world)
    response = caught.value.response
    assert response["Error"]["Code"] == "AccessDenied", response["Error"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "esc" in response["Error"]["Message"]  # AWS names the caller
    assert world.snapshot() == before


def test_the_user_can_do_what_it_is_allowed(world: World) -> None:
    """The refusals above are the policies at work, not a user that can do nothing."""
    assert world.iam.get_user(UserName="admin")["User"]["UserName"] == "admin"
    key = world.iam.create_access_key(UserName="esc")["AccessKey"]["AccessKeyId"]
    world.iam.delete_access_key(UserName="esc", AccessKeyId=key)
