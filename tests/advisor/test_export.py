"""Reading AWS exports as the aws CLI writes them.

Shapes: the CLI example of `aws iam get-account-authorization-details` in AWS's code
library (https://docs.aws.amazon.com/code-library/latest/ug/
iam_example_iam_GetAccountAuthorizationDetails_section.html), with times as ISO 8601
and policy documents as JSON objects (botocore URL-decodes them; the API's note: "Policies
returned by this operation are URL-encoded compliant with RFC 3986"); with --no-paginate
each page carries IsTruncated and Marker. The credential report: AWS's columns and
values (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
from pathlib import Path

import pytest

from chamberlain.advisor import export
from chamberlain.advisor.findings import run_checks

NOW = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
ACCOUNT = "123456789012"
TRUST_EC2 = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "",
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
ADMIN_DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}

USERS_PAGE = {
    "UserDetailList": [
        {
            "UserName": "Alice",
            "GroupList": ["Admins"],
            "CreateDate": "2013-10-14T18:32:24Z",
            "UserId": "AIDA1234567890EXAMPLE",
            "UserPolicyList": [],
            "Path": "/",
            "AttachedManagedPolicies": [],
            "Arn": f"arn:aws:iam::{ACCOUNT}:user/Alice",
        },
        {
            "UserName": "Bob",
            "GroupList": [],
            "CreateDate": "2013-10-14T18:32:25Z",
            "UserId": "AIDA1234567890EXAMPLF",
            "UserPolicyList": [
                {
                    "PolicyName": "DescribeRegions",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Action": "ec2:DescribeRegions", "Resource": "*", "Effect": "Allow"}
                        ],
                    },
                }
            ],
            "Path": "/",
            "AttachedManagedPolicies": [],
            "Arn": f"arn:aws:iam::{ACCOUNT}:user/Bob",
        },
    ],
    "IsTruncated": True,
    "Marker": "EXAMPLEkakv9BCuUNFDtxWSyfzetYwEx2ADc8dnzfvERF5S6YMvXKx41t6gCl/eeaCX3Jo94/"
    "bKqezEAg8TEVS99EKFLxm3jtbpl25FDWEXAMPLE",
}
REST_PAGE = {
    "UserDetailList": [],
    "GroupDetailList": [
        {
            "GroupId": "AIDA1234567890EXAMPLE",
            "AttachedManagedPolicies": [
                {
                    "PolicyName": "AdministratorAccess",
                    "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
                }
            ],
            "GroupName": "Admins",
            "Path": "/",
            "Arn": f"arn:aws:iam::{ACCOUNT}:group/Admins",
            "CreateDate": "2013-10-14T18:32:24Z",
            "GroupPolicyList": [],
        }
    ],
    "RoleDetailList": [
        {
            "AssumeRolePolicyDocument": TRUST_EC2,
            "RoleId": "AROA1234567890EXAMPLE",
            "CreateDate": "2014-07-30T17:09:20Z",
            "InstanceProfileList": [
                {
                    "InstanceProfileId": "AIPA1234567890EXAMPLE",
                    "Roles": [
                        {
                            "AssumeRolePolicyDocument": TRUST_EC2,
                            "RoleId": "AROA1234567890EXAMPLE",
                            "CreateDate": "2014-07-30T17:09:20Z",
                            "RoleName": "EC2role",
                            "Path": "/",
                            "Arn": f"arn:aws:iam::{ACCOUNT}:role/EC2role",
                        }
                    ],
                    "CreateDate": "2014-07-30T17:09:20Z",
                    "InstanceProfileName": "EC2role",
                    "Path": "/",
                    "Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/EC2role",
                }
            ],
            "RoleName": "EC2role",
            "Path": "/",
            "AttachedManagedPolicies": [
                {"PolicyName": "Star", "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/Star"}
            ],
            "RolePolicyList": [],
            "Arn": f"arn:aws:iam::{ACCOUNT}:role/EC2role",
            "RoleLastUsed": {"LastUsedDate": "2026-11-20T10:00:00+00:00", "Region": "us-east-1"},
        }
    ],
    "Policies": [
        {
            "PolicyName": "Star",
            "CreateDate": "2015-02-06T19:58:34Z",
            "AttachmentCount": 1,
            "IsAttachable": True,
            "PolicyId": "ANPA1234567890EXAMPLE",
            "DefaultVersionId": "v2",
            # The API's URL-encoded form is read too.
            "PolicyVersionList": [
                {
                    "CreateDate": "2015-02-06T19:58:34Z",
                    "VersionId": "v2",
                    "Document": urllib.parse.quote(json.dumps(ADMIN_DOC)),
                    "IsDefaultVersion": True,
                },
                {
                    "CreateDate": "2015-02-06T19:58:34Z",
                    "VersionId": "v1",
                    "Document": {"Version": "2012-10-17", "Statement": []},
                    "IsDefaultVersion": False,
                },
            ],
            "Path": "/",
            "Arn": f"arn:aws:iam::{ACCOUNT}:policy/Star",
            "UpdateDate": "2015-02-06T19:58:34Z",
            "PermissionsBoundaryUsageCount": 0,
        }
    ],
    "IsTruncated": False,
}
REPORT = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"
    f"<root_account>,arn:aws:iam::{ACCOUNT}:root,2013-10-14T18:00:00+00:00,not_supported,"
    "2026-11-25T09:00:00+00:00,not_supported,not_supported,false,true,2014-01-01T00:00:00+00:00,"
    "N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
    f"Alice,arn:aws:iam::{ACCOUNT}:user/Alice,2013-10-14T18:32:24+00:00,true,no_information,"
    "2013-10-14T18:40:00+00:00,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,"
    "false,N/A\n"
    f"Bob,arn:aws:iam::{ACCOUNT}:user/Bob,2013-10-14T18:32:25+00:00,false,N/A,N/A,N/A,false,true,"
    "2026-11-01T00:00:00+00:00,2026-11-27T00:00:00+00:00,us-east-1,ec2,false,N/A,N/A,N/A,N/A,"
    "false,N/A,false,N/A"
)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("layout", ["list", "concatenated", "merged"])
def test_pages_in_every_layout(tmp_path: Path, layout: str) -> None:
    if layout == "list":
        text = json.dumps([USERS_PAGE, REST_PAGE], indent=4)
    elif layout == "concatenated":
        text = json.dumps(USERS_PAGE, indent=4) + "\n" + json.dumps(REST_PAGE, indent=4) + "\n"
    else:  # what the CLI prints when it follows the pages itself
        merged = {
            k: USERS_PAGE.get(k, []) + REST_PAGE.get(k, [])  # type: ignore[operator]
            for k in export.DETAIL_LISTS
        }
        text = json.dumps(merged, indent=4)
    details = write(tmp_path, "details.json", text)
    report = write(tmp_path, "report.csv", REPORT)
    account = export.load(details, credential_report=report, now=NOW)
    assert account.account_id == ACCOUNT
    assert [u.name for u in account.users] == ["Alice", "Bob"]
    assert account.users[0].groups == ("Admins",)
    assert account.users[1].credentials is not None
    assert account.users[1].credentials.access_keys[0].last_used == dt.datetime(
        2026, 11, 27, tzinfo=dt.UTC
    )
    assert account.roles[0].instance_profiles == ("EC2role",)
    star = account.policies[f"arn:aws:iam::{ACCOUNT}:policy/Star"]
    assert json.loads(star.document) == ADMIN_DOC
    assert star.other_versions[0][0] == "v1"
    # AWS managed policies an export leaves out are filled in from Chamberlain's copies.
    assert "arn:aws:iam::aws:policy/AdministratorAccess" in account.policies


def test_an_aws_export_checked(tmp_path: Path) -> None:
    details = write(tmp_path, "details.json", json.dumps([USERS_PAGE, REST_PAGE]))
    report = write(tmp_path, "report.csv", REPORT)
    result = run_checks(export.load(details, credential_report=report, now=NOW))
    found = {(f.check, f.resource.rsplit(":", 1)[-1]) for f in result.findings}
    assert ("root-access-key", "root") in found
    assert ("root-used", "root") in found  # password used three days ago
    assert ("user-console-no-mfa", "user/Alice") in found
    assert ("privileged-no-mfa", "user/Alice") in found
    assert ("admin-policy", "policy/Star") in found
    assert ("user-direct-policy", "user/Bob") in found
    assert ("credential-unused", "user/Alice") in found  # no_information, set years ago
    assert not any(c == "credential-unused" and r == "user/Bob" for c, r in found)
    assert "password-policy" in dict(result.checks_not_run)


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("details.json", "{not json", "not JSON"),
        ("details.json", "", "empty"),
        ("details.json", '{"Users": []}', "none of UserDetailList"),
        (
            "details.json",
            '{"UserDetailList": [{"Arn": "x"}]}',
            "UserDetailList[0]: missing 'UserName'",
        ),
        (
            "details.json",
            '{"RoleDetailList": [{"RoleName": "r", "Arn": "a", "AssumeRolePolicyDocument": "{"}]}',
            "RoleDetailList[0]",
        ),
        ("details.json", "[1, 2]", "expected JSON objects"),
    ],
)
def test_bad_authorization_details(tmp_path: Path, name: str, text: str, problem: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(export.InputError) as exc:
        export.load(path, now=NOW)
    assert str(exc.value).startswith(f"{path}: ")
    assert problem in str(exc.value)


def test_bad_credential_report(tmp_path: Path) -> None:
    details = write(tmp_path, "details.json", json.dumps(USERS_PAGE))
    report = write(tmp_path, "report.csv", "user,arn\nx,y")
    with pytest.raises(
        export.InputError, match="not a credential report: no column user_creation_time"
    ):
        export.load(details, credential_report=report, now=NOW)
    report = write(tmp_path, "report.csv", REPORT.replace("true,2026-11-01", "maybe,2026-11-01"))
    with pytest.raises(export.InputError, match="row 4: access_key_1_active must be true or false"):
        export.load(details, credential_report=report, now=NOW)


def test_password_policy_files(tmp_path: Path) -> None:
    details = write(tmp_path, "details.json", json.dumps(USERS_PAGE))
    no_policy = (
        "An error occurred (NoSuchEntity) when calling the GetAccountPasswordPolicy operation: "
        f"The Password Policy with domain name {ACCOUNT} cannot be found."
    )
    for text in ("", no_policy, "{}"):
        account = export.load(details, password_policy=write(tmp_path, "pp.json", text), now=NOW)
        assert account.password_policy_known and account.password_policy is None
    policy = {
        "PasswordPolicy": {
            "MinimumPasswordLength": 14,
            "RequireSymbols": True,
            "RequireNumbers": True,
            "RequireUppercaseCharacters": True,
            "RequireLowercaseCharacters": True,
            "AllowUsersToChangePassword": True,
            "ExpirePasswords": True,
            "MaxPasswordAge": 90,
            "PasswordReusePrevention": 24,
            "HardExpiry": False,
        }
    }
    account = export.load(
        details, password_policy=write(tmp_path, "pp.json", json.dumps(policy)), now=NOW
    )
    assert (
        account.password_policy is not None
        and account.password_policy.password_reuse_prevention == 24
    )
    with pytest.raises(export.InputError, match=re.escape('expected {"PasswordPolicy"')):
        export.load(details, password_policy=write(tmp_path, "pp.json", "[]"), now=NOW)


def test_account_summary_file(tmp_path: Path) -> None:
    details = write(tmp_path, "details.json", json.dumps(USERS_PAGE))
    summary = {"SummaryMap": {"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 0, "Users": 2}}
    account = export.load(
        details, account_summary=write(tmp_path, "s.json", json.dumps(summary)), now=NOW
    )
    result = run_checks(account)
    assert "root-mfa" in result.checks_run and "root-access-key" in result.checks_run
    assert not [f for f in result.findings if f.check.startswith("root-")]
    with pytest.raises(export.InputError, match="SummaryMap"):
        export.load(details, account_summary=write(tmp_path, "s.json", '{"x": 1}'), now=NOW)
