"""Advisor benchmark: an AWS export of 10,000 users, 2,000 roles and 5,000 customer managed
policies (plus 200 groups), checked offline.

Run: `python -m benchmarks.advisor [--runs N] [--users N] [--roles N] [--policies N]`.
Writes the export files as the aws CLI prints them (get-account-authorization-details as
one document, the credential report CSV, the password policy and the account summary)
to a temporary directory, then runs `chamberlain advise` on them in-process N times and
prints the median wall time of loading and of every check (goal: under 60 s on 2 cores),
and the median CPU time (the checks run on one core; CPU time is what a busy machine
cannot inflate).

The account mixes what real ones hold: service-scoped policies (S3 buckets, DynamoDB
tables, EC2 read), conditions on tags and source IPs, a few administrators, and a
sprinkling of escalation paths (access keys of admins, PassRole to EC2, policy versions,
group membership) so every stage of the graph has work to do.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import random
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from chamberlain.ops.iam.credential_report import COLUMNS

ACCOUNT = "123456789012"
NOW = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
SERVICES = ("s3", "dynamodb", "ec2", "sqs", "sns", "lambda", "kms", "logs", "cloudwatch", "rds")


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def _arn(kind: str, name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:{kind}/{name}"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _service_policy(rng: random.Random, index: int) -> dict[str, Any]:
    service = SERVICES[index % len(SERVICES)]
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": [f"{service}:Get*", f"{service}:List*", f"{service}:Describe*"],
            "Resource": f"arn:aws:{service}:*:{ACCOUNT}:app-{index % 97}/*",
        },
        {
            "Effect": "Allow",
            "Action": f"{service}:Put*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": f"team-{index % 13}"}},
        },
    ]
    if rng.random() < 0.2:
        statements.append(
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
            }
        )
    if rng.random() < 0.3:
        statements.append({"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"})
    return _doc(*statements)


def generate(users: int, roles: int, policies: int, seed: int = 7) -> dict[str, str]:
    """The export files' contents, by name."""
    rng = random.Random(seed)
    created = NOW - dt.timedelta(days=400)
    policy_list: list[dict[str, Any]] = []
    counts: dict[str, int] = defaultdict(int)
    names = [f"policy-{i:05d}" for i in range(policies)]
    for i, name in enumerate(names):
        versions = [
            {
                "Document": _service_policy(rng, i),
                "VersionId": "v2",
                "IsDefaultVersion": True,
                "CreateDate": _iso(created),
            }
        ]
        if i % 500 == 0:  # an old, broader version kept around
            versions.append(
                {
                    "Document": _doc({"Effect": "Allow", "Action": "*", "Resource": "*"}),
                    "VersionId": "v1",
                    "IsDefaultVersion": False,
                    "CreateDate": _iso(created),
                }
            )
        policy_list.append(
            {
                "PolicyName": name,
                "PolicyId": f"ANPA{i:017d}",
                "Arn": _arn("policy", name),
                "Path": "/",
                "DefaultVersionId": "v2",
                "AttachmentCount": 0,
                "PermissionsBoundaryUsageCount": 0,
                "IsAttachable": True,
                "CreateDate": _iso(created),
                "UpdateDate": _iso(created),
                "PolicyVersionList": versions,
            }
        )
    # A few policies that open escalation paths.
    risky = {
        "escalate-keys": _doc(
            {
                "Effect": "Allow",
                "Action": "iam:CreateAccessKey",
                "Resource": _arn("user", "user-00000"),
            }
        ),
        "escalate-passrole": _doc(
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": _arn("role", "role-0000")},
            {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"},
        ),
        "escalate-versions": _doc(
            {
                "Effect": "Allow",
                "Action": "iam:CreatePolicyVersion",
                "Resource": _arn("policy", "escalate-versions"),
            }
        ),
        "escalate-groups": _doc(
            {
                "Effect": "Allow",
                "Action": "iam:AddUserToGroup",
                "Resource": _arn("group", "group-000"),
            }
        ),
        "escalate-assume": _doc(
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": _arn("role", "role-*")}
        ),
    }
    for name, document in risky.items():
        names.append(name)
        policy_list.append(
            {
                "PolicyName": name,
                "PolicyId": f"ANPA{name}",
                "Arn": _arn("policy", name),
                "Path": "/",
                "DefaultVersionId": "v1",
                "AttachmentCount": 0,
                "PermissionsBoundaryUsageCount": 0,
                "IsAttachable": True,
                "CreateDate": _iso(created),
                "UpdateDate": _iso(created),
                "PolicyVersionList": [
                    {
                        "Document": document,
                        "VersionId": "v1",
                        "IsDefaultVersion": True,
                        "CreateDate": _iso(created),
                    }
                ],
            }
        )

    def attach(arns: list[str]) -> list[dict[str, str]]:
        for a in arns:
            counts[a] += 1
        return [{"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in arns]

    groups = []
    for g in range(200):
        arns = (
            [ADMIN]
            if g == 0
            else [_arn("policy", names[rng.randrange(policies)]) for _ in range(3)]
        )
        groups.append(
            {
                "Path": "/",
                "GroupName": f"group-{g:03d}",
                "GroupId": f"AGPA{g:017d}",
                "Arn": _arn("group", f"group-{g:03d}"),
                "CreateDate": _iso(created),
                "GroupPolicyList": [],
                "AttachedManagedPolicies": attach(arns),
            }
        )
    user_list = []
    report_rows = []
    risky_names = list(risky)
    for u in range(users):
        name = f"user-{u:05d}"
        member = [f"group-{rng.randrange(1, 200):03d}" for _ in range(rng.randint(1, 2))]
        if u < 10:
            member = ["group-000"]  # administrators
        arns = [_arn("policy", names[rng.randrange(policies)]) for _ in range(rng.randint(0, 2))]
        if 10 <= u < 60:
            arns.append(_arn("policy", risky_names[u % len(risky_names)]))
        inline = []
        if u % 20 == 0:
            inline.append({"PolicyName": "extra", "PolicyDocument": _service_policy(rng, u)})
        detail: dict[str, Any] = {
            "Path": "/",
            "UserName": name,
            "UserId": f"AIDA{u:017d}",
            "Arn": _arn("user", name),
            "CreateDate": _iso(created),
            "UserPolicyList": inline,
            "GroupList": sorted(set(member)),
            "AttachedManagedPolicies": attach(arns),
            "Tags": [{"Key": "team", "Value": f"team-{u % 13}"}],
        }
        if u % 50 == 0 and u >= 60:
            detail["PermissionsBoundary"] = {
                "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                "PermissionsBoundaryArn": _arn("policy", names[0]),
            }
        user_list.append(detail)
        used = NOW - dt.timedelta(days=rng.randrange(0, 200))
        has_password = u % 3 == 0
        report_rows.append(
            [
                name,
                _arn("user", name),
                _iso(created),
                str(has_password).lower(),
                _iso(used) if has_password else "N/A",
                _iso(created) if has_password else "N/A",
                "N/A",
                str(u % 4 == 0).lower(),
                "true",
                _iso(NOW - dt.timedelta(days=rng.randrange(1, 300))),
                _iso(used),
                "us-east-1",
                "s3",
                str(u % 10 == 0).lower(),
                _iso(created) if u % 10 == 0 else "N/A",
                "N/A",
                "N/A",
                "N/A",
                "false",
                "N/A",
                "false",
                "N/A",
            ]
        )
    role_list = []
    for r in range(roles):
        name = f"role-{r:04d}"
        if r % 3 == 0:
            principal: dict[str, Any] = {"Service": "ec2.amazonaws.com"}
        elif r % 3 == 1:
            principal = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
        else:
            principal = {"AWS": "arn:aws:iam::210987654321:root"}
        trust = _doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})
        arns = (
            [ADMIN]
            if r < 10
            else [_arn("policy", names[rng.randrange(policies)]) for _ in range(rng.randint(1, 3))]
        )
        last_used = (
            {}
            if r % 7 == 0
            else {
                "LastUsedDate": _iso(NOW - dt.timedelta(days=rng.randrange(0, 200))),
                "Region": "us-east-1",
            }
        )
        role_list.append(
            {
                "Path": "/",
                "RoleName": name,
                "RoleId": f"AROA{r:017d}",
                "Arn": _arn("role", name),
                "CreateDate": _iso(created),
                "AssumeRolePolicyDocument": trust,
                "InstanceProfileList": [],
                "RolePolicyList": [],
                "AttachedManagedPolicies": attach(arns),
                "Tags": [],
                "RoleLastUsed": last_used,
            }
        )
    for p in policy_list:
        p["AttachmentCount"] = counts.get(p["Arn"], 0)
    details = {
        "UserDetailList": user_list,
        "GroupDetailList": groups,
        "RoleDetailList": role_list,
        "Policies": policy_list,
    }
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)  # the credential report's 22 columns, as the server writes them
    writer.writerow(
        (
            "<root_account>",
            f"arn:aws:iam::{ACCOUNT}:root",
            _iso(created),
            "not_supported",
            "no_information",
            "not_supported",
            "not_supported",
            "true",
            "false",
            "N/A",
            "N/A",
            "N/A",
            "N/A",
            "false",
            "N/A",
            "N/A",
            "N/A",
            "N/A",
            "false",
            "N/A",
            "false",
            "N/A",
        )
    )
    writer.writerows(report_rows)
    password = {
        "PasswordPolicy": {
            "MinimumPasswordLength": 12,
            "RequireSymbols": True,
            "RequireNumbers": True,
            "RequireUppercaseCharacters": True,
            "RequireLowercaseCharacters": True,
            "AllowUsersToChangePassword": True,
            "ExpirePasswords": False,
        }
    }
    summary = {
        "SummaryMap": {
            "Users": users,
            "Roles": roles,
            "Policies": policies + len(risky),
            "AccountMFAEnabled": 1,
            "AccountAccessKeysPresent": 0,
        }
    }
    return {
        "details.json": json.dumps(details, indent=4),
        "report.csv": out.getvalue().rstrip("\n"),
        "password-policy.json": json.dumps(password, indent=4),
        "summary.json": json.dumps(summary, indent=4),
    }


def run_once(directory: Path) -> tuple[float, float, dict[str, float], int]:
    from chamberlain.advisor import export
    from chamberlain.advisor.runner import run_checks

    started, cpu = time.perf_counter(), time.process_time()
    account = export.load(
        str(directory / "details.json"),
        credential_report=str(directory / "report.csv"),
        password_policy=str(directory / "password-policy.json"),
        account_summary=str(directory / "summary.json"),
        now=NOW,
    )
    loaded = time.perf_counter()
    phases: dict[str, float] = {"load export": loaded - started}
    marks: list[tuple[str, float]] = []
    report = run_checks(account, progress=lambda c: marks.append((c, time.perf_counter())))
    finished = time.perf_counter()
    for (check, at), (_, following) in zip(marks, [*marks[1:], ("", finished)], strict=True):
        phases[check] = following - at
    return finished - started, time.process_time() - cpu, phases, len(report.findings)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--roles", type=int, default=2_000)
    parser.add_argument("--policies", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for name, text in generate(args.users, args.roles, args.policies).items():
            (directory / name).write_text(text)
        size = (directory / "details.json").stat().st_size
        print(
            f"export: {args.users} users, {args.roles} roles, {args.policies} policies, "
            f"200 groups; authorization details {size / 1e6:.1f} MB"
        )
        totals: list[float] = []
        cpus: list[float] = []
        per_phase: dict[str, list[float]] = defaultdict(list)
        findings = 0
        for run in range(args.runs):
            total, cpu, phases, findings = run_once(directory)
            totals.append(total)
            cpus.append(cpu)
            for phase, seconds in phases.items():
                per_phase[phase].append(seconds)
            print(f"run {run + 1}: {total:.1f} s wall, {cpu:.1f} s CPU, {findings} findings")
        print(f"{'phase':<28} median s")
        for phase, values in per_phase.items():
            print(f"{phase:<28} {statistics.median(values):8.2f}")
        median = statistics.median(totals)
        print(f"{'total':<28} {median:8.2f}  (median of {args.runs} runs; goal < 60 s)")
        print(f"{'total CPU':<28} {statistics.median(cpus):8.2f}  (one core)")


if __name__ == "__main__":
    main()
