"""AWS managed policies: the catalogue Chamberlain ships, and reading them.

AWS managed policies are "created and administered by AWS" and "available for use by
all AWS customers" (AWS Managed Policy Reference, "What are AWS managed policies?",
https://docs.aws.amazon.com/aws-managed-policy/latest/reference/about-managed-policy-reference.html):
every account can read and attach them, and no account can change them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chamberlain.ops.core import aws_managed
from chamberlain.ops.core.aws_managed import AWS_MANAGED
from chamberlain.ops.core.errors import ServiceError
from chamberlain.policy import PolicyType, compile_policy, parse_policy

from ..conftest import ACCOUNT, user_caller

Call = Callable[..., Any]
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
IAM_READ = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
ALICE = user_caller("alice")


def error_of(call: Call, *args: Any, **params: Any) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        call(*args, **params)
    return info.value


# ------------------------------------------------------------------- the catalogue


def test_catalogue_is_aws_full_list_from_a_named_package() -> None:
    about = AWS_MANAGED.about
    assert about["source"].startswith("moto ")
    assert about["refresh"] == "python scripts/refresh_managed_policies.py"
    assert len(AWS_MANAGED) == about["kept"] > 1400
    for arn in (ADMIN, S3_READ, "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"):
        assert arn in AWS_MANAGED
    # A document the engine refuses is left out, and said so with the engine's reason.
    for name, reason in about["skipped"].items():
        assert f"arn:aws:iam::aws:policy/{name}" not in AWS_MANAGED
        assert reason


def test_every_shipped_document_compiles() -> None:
    for policy in AWS_MANAGED.values():
        compile_policy(parse_policy(policy.document, PolicyType.IDENTITY), policy.arn)


def test_s3_read_only_is_aws_current_version() -> None:
    policy = AWS_MANAGED[S3_READ]
    document = json.loads(policy.document)
    assert document["Version"] == "2012-10-17"
    [statement] = document["Statement"]
    assert {"s3:Get*", "s3:List*"} <= set(statement["Action"])
    assert policy.version_id != "v1" and policy.updated > policy.created


def test_catalogue_loads_on_first_use_only() -> None:
    catalogue = aws_managed._Catalogue()
    assert "arn:aws:iam::111111111111:policy/Mine" not in catalogue
    assert catalogue.get("arn:aws:iam::111111111111:policy/Mine") is None
    assert catalogue._by_arn is None  # a customer policy's ARN loads nothing
    started = time.perf_counter()
    assert catalogue.get(ADMIN) is not None
    assert time.perf_counter() - started < 2.0
    assert catalogue._by_arn is not None


# ------------------------------------------------------- attaching and using them


def test_template_attaching_s3_read_only_works(iam: Call, iam_as: Call) -> None:
    iam("CreateUser", UserName="alice")
    iam("AttachUserPolicy", UserName="alice", PolicyArn=S3_READ)
    attached = iam("ListAttachedUserPolicies", UserName="alice")["AttachedPolicies"]
    assert attached == [{"PolicyName": "AmazonS3ReadOnlyAccess", "PolicyArn": S3_READ}]
    out = iam(
        "SimulatePrincipalPolicy",
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        ActionNames=["s3:GetObject", "s3:PutObject"],
    )
    decisions = [r["EvalDecision"] for r in out["EvaluationResults"]]
    assert decisions == ["allowed", "implicitDeny"]


# ------------------------------------------------- read by the caller's own policies


READS = [
    ("GetPolicy", {"PolicyArn": ADMIN}),
    ("GetPolicyVersion", {"PolicyArn": ADMIN, "VersionId": "v1"}),
    ("ListPolicyVersions", {"PolicyArn": ADMIN}),
    ("ListEntitiesForPolicy", {"PolicyArn": ADMIN}),
    ("ListPolicyTags", {"PolicyArn": ADMIN}),
    ("GenerateServiceLastAccessedDetails", {"Arn": ADMIN}),
]


@pytest.mark.parametrize(("op", "params"), READS, ids=[r[0] for r in READS])
def test_administrator_reads_aws_managed_policies(
    iam: Call, iam_as: Call, op: str, params: dict[str, Any]
) -> None:
    """An identity policy of the caller's account decides: no resource-based policy of
    account "aws" is needed (it was AccessDenied "no resource-based policy allows")."""
    iam("CreateUser", UserName="alice")
    iam("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN)
    iam_as(ALICE, op, **params)


@pytest.mark.parametrize(("op", "params"), READS, ids=[r[0] for r in READS])
def test_reading_aws_managed_policies_needs_a_permission(
    iam: Call, iam_as: Call, op: str, params: dict[str, Any]
) -> None:
    iam("CreateUser", UserName="alice")
    err = error_of(iam_as, ALICE, op, **params)
    assert err.code == "AccessDenied"
    assert "because no identity-based policy allows" in err.message


def test_explicit_deny_on_aws_managed_policy_is_explicit(iam: Call, iam_as: Call) -> None:
    iam("CreateUser", UserName="alice")
    iam("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN)
    deny = {"Effect": "Deny", "Action": "iam:GetPolicy", "Resource": ADMIN}
    document = json.dumps({"Version": "2012-10-17", "Statement": [deny]})
    iam("PutUserPolicy", UserName="alice", PolicyName="NoAdminRead", PolicyDocument=document)
    err = error_of(iam_as, ALICE, "GetPolicy", PolicyArn=ADMIN)
    assert "with an explicit deny in an identity-based policy" in err.message
    iam_as(ALICE, "GetPolicy", PolicyArn=S3_READ)


def test_aws_managed_policies_still_cannot_be_changed(iam: Call, iam_as: Call) -> None:
    iam("CreateUser", UserName="alice")
    iam("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN)
    statement = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    err = error_of(iam_as, ALICE, "CreatePolicyVersion", PolicyArn=S3_READ, PolicyDocument=document)
    assert err.code == "AccessDenied"
    assert len(iam("ListPolicyVersions", PolicyArn=S3_READ)["Versions"]) == 1


def test_simulator_agrees_that_identity_policies_decide(iam: Call) -> None:
    iam("CreateUser", UserName="alice")
    iam("AttachUserPolicy", UserName="alice", PolicyArn=IAM_READ)
    out = iam(
        "SimulatePrincipalPolicy",
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        ActionNames=["iam:GetPolicy", "iam:ListEntitiesForPolicy", "iam:DeletePolicy"],
        ResourceArns=[ADMIN],
    )
    decisions = [r["EvalDecision"] for r in out["EvaluationResults"]]
    assert decisions == ["allowed", "allowed", "implicitDeny"]
    assert all(r.get("EvalDecisionDetails", {}) == {} for r in out["EvaluationResults"])


def test_data_file_is_what_the_refresh_script_writes(tmp_path: Path) -> None:
    """The catalogue is generated, never edited by hand: with the package version it
    names installed, the refresh script writes the committed file byte for byte."""
    script = Path(__file__).resolve().parents[3] / "scripts" / "refresh_managed_policies.py"
    spec = importlib.util.spec_from_file_location("refresh_managed_policies", script)
    assert spec is not None and spec.loader is not None
    refresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(refresh)
    try:
        installed = f"moto {importlib.metadata.version('moto')}"
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("moto is not installed (requirements.lock installs it)")
    if installed != AWS_MANAGED.about["source"]:
        pytest.skip(f"{installed} installed; run the refresh script to update the data")
    out = tmp_path / "aws_managed_policies.json"
    assert refresh.main([str(out)]) == 0
    assert out.read_bytes() == refresh.OUT.read_bytes()
