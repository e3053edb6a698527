"""Managed policies and their versions: create, get, delete, list, versions, tags."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from chamberlain.crypto.passwords import TEST_PARAMS
from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.domain import Account
from chamberlain.ops.core.aws_managed import AWS_MANAGED
from chamberlain.ops.core.context import Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.iam import policies as iam_policies
from chamberlain.policy.validate import IAM_RESOURCE_PATH
from chamberlain.store.sql import SqlStore

from ..conftest import ACCOUNT, LOWER, NOW, meta, migrated_store, root_caller, user_caller
from ..entity_seed import TRUST

Call = Callable[..., Any]
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"


def error_of(call: Call, *args: Any, **params: Any) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        call(*args, **params)
    return info.value


def allow(actions: str | list[str], resource: str = "*", version: str | None = "2012-10-17") -> str:
    doc: dict[str, Any] = {
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]
    }
    if version is not None:
        doc["Version"] = version
    return json.dumps(doc)


def arn_of(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:policy{path}{name}"


def test_create_and_get_policy(iam: Call) -> None:
    doc = allow("s3:GetObject")
    created = iam(
        "CreatePolicy",
        PolicyName="Reader",
        Path="/team/",
        PolicyDocument=doc,
        Description="reads",
        Tags=[{"Key": "k", "Value": "v"}],
    )["Policy"]
    assert created["Arn"] == arn_of("Reader", "/team/")
    assert created["PolicyId"].startswith("ANPA") and created["DefaultVersionId"] == "v1"
    assert (created["AttachmentCount"], created["PermissionsBoundaryUsageCount"]) == (0, 0)
    assert created["IsAttachable"] is True
    assert created["CreateDate"] == created["UpdateDate"] == NOW
    got = iam("GetPolicy", PolicyArn=created["Arn"])["Policy"]
    assert got == created
    assert got["Description"] == "reads" and got["Tags"] == [{"Key": "k", "Value": "v"}]
    version = iam("GetPolicyVersion", PolicyArn=created["Arn"], VersionId="v1")["PolicyVersion"]
    assert version == {
        "Document": doc,
        "VersionId": "v1",
        "IsDefaultVersion": True,
        "CreateDate": NOW,
    }


@pytest.mark.parametrize(
    ("document", "code", "message"),
    [
        (
            allow("s3:*", version="2008-10-17"),
            "MalformedPolicyDocument",
            "Policy document must be version 2012-10-17 or greater.",
        ),
        (
            allow("s3:*", version=None),
            "MalformedPolicyDocument",
            "Policy document must be version 2012-10-17 or greater.",
        ),
        ("[]", "MalformedPolicyDocument", None),
        (
            allow([f"s3:Get{'x' * 20}{i}" for i in range(300)]),
            "LimitExceeded",
            "Cannot exceed quota for PolicySize: 6144",
        ),
    ],
)
def test_create_policy_validates_the_document(
    iam: Call, document: str, code: str, message: str | None
) -> None:
    err = error_of(iam, "CreatePolicy", PolicyName="p", PolicyDocument=document)
    assert err.code == code
    if message is not None:
        assert err.message == message
    assert error_of(iam, "GetPolicy", PolicyArn=arn_of("p")).code == "NoSuchEntity"


def test_policy_names_are_unique(iam: Call) -> None:
    iam("CreatePolicy", PolicyName="p", PolicyDocument=allow("s3:*"))
    err = error_of(
        iam, "CreatePolicy", PolicyName="P", Path="/other/", PolicyDocument=allow("s3:*")
    )
    assert (err.code, err.message) == (
        "EntityAlreadyExists",
        "A policy called P already exists. Duplicate names are not allowed.",
    )


def test_policies_per_account_quota(iam: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iam_policies, "MAX_POLICIES", 2)
    iam("CreatePolicy", PolicyName="a", PolicyDocument=allow("s3:*"))
    iam("CreatePolicy", PolicyName="b", PolicyDocument=allow("s3:*"))
    err = error_of(iam, "CreatePolicy", PolicyName="c", PolicyDocument=allow("s3:*"))
    assert (err.code, err.message) == (
        "LimitExceeded",
        "Cannot exceed quota for PoliciesPerAccount: 2",
    )


def all_pages(iam: Call, **params: Any) -> list[dict[str, Any]]:
    """ListPolicies returns at most 1000 a page; the AWS managed ones are more."""
    out: list[dict[str, Any]] = []
    marker: dict[str, str] = {}
    while True:
        page = iam("ListPolicies", MaxItems=1000, **params, **marker)
        out.extend(page["Policies"])
        if not page.get("IsTruncated"):
            return out
        marker = {"Marker": page["Marker"]}


def test_get_aws_managed_policy_counts_this_account(iam: Call) -> None:
    policy = iam("GetPolicy", PolicyArn=ADMIN)["Policy"]
    assert policy["PolicyName"] == "AdministratorAccess" and policy["Path"] == "/"
    assert policy["DefaultVersionId"] == "v1" and policy["AttachmentCount"] == 0
    iam("CreateUser", UserName="alice")
    iam("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN)
    assert iam("GetPolicy", PolicyArn=ADMIN)["Policy"]["AttachmentCount"] == 1
    version = iam("GetPolicyVersion", PolicyArn=ADMIN, VersionId="v1")["PolicyVersion"]
    assert json.loads(version["Document"])["Statement"][0]["Action"] == "*"


@pytest.mark.parametrize(
    ("arn", "code", "message"),
    [
        (arn_of("nope"), "NoSuchEntity", f"Policy {arn_of('nope')} was not found."),
        (
            "arn:aws:iam::222222222222:policy/theirs",
            "NoSuchEntity",
            "Policy arn:aws:iam::222222222222:policy/theirs was not found.",
        ),
        (
            "arn:aws:iam::aws:policy/Nope",
            "NoSuchEntity",
            "Policy arn:aws:iam::aws:policy/Nope was not found.",
        ),
        ("bogus", "InvalidInput", "ARN bogus is not valid."),
    ],
)
def test_missing_policy(iam: Call, arn: str, code: str, message: str) -> None:
    for op in ("GetPolicy", "DeletePolicy", "ListPolicyVersions", "ListPolicyTags"):
        err = error_of(iam, op, PolicyArn=arn)
        assert (err.code, err.message) == (code, message), op


def test_delete_policy(iam: Call) -> None:
    arn = iam("CreatePolicy", PolicyName="p", PolicyDocument=allow("s3:*"))["Policy"]["Arn"]
    iam("DeletePolicy", PolicyArn=arn)
    assert error_of(iam, "GetPolicy", PolicyArn=arn).code == "NoSuchEntity"
    assert error_of(iam, "GetPolicyVersion", PolicyArn=arn, VersionId="v1").code == "NoSuchEntity"
    iam("CreatePolicy", PolicyName="p", PolicyDocument=allow("s3:*"))


@pytest.mark.parametrize("use", ["attached", "boundary"])
def test_delete_policy_in_use(iam: Call, use: str) -> None:
    arn = iam("CreatePolicy", PolicyName="p", PolicyDocument=allow("s3:*"))["Policy"]["Arn"]
    iam("CreateUser", UserName="alice")
    if use == "attached":
        iam("AttachUserPolicy", UserName="alice", PolicyArn=arn)
    else:
        iam("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=arn)
    err = error_of(iam, "DeletePolicy", PolicyArn=arn)
    assert (err.code, err.message) == (
        "DeleteConflict",
        "Cannot delete a policy attached to entities.",
    )


def test_delete_policy_with_versions(iam: Call) -> None:
    arn = iam("CreatePolicy", PolicyName="p", PolicyDocument=allow("s3:*"))["Policy"]["Arn"]
    iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow("ec2:*"))
    err = error_of(iam, "DeletePolicy", PolicyArn=arn)
    assert (err.code, err.message) == (
        "DeleteConflict",
        "This policy has more than one version. Before you delete a policy, you must delete "
        "the policy's versions. The default version is deleted with the policy.",
    )
    iam("DeletePolicyVersion", PolicyArn=arn, VersionId="v2")
    iam("DeletePolicy", PolicyArn=arn)


@pytest.mark.parametrize(
    ("op", "params"),
    [
        ("DeletePolicy", {}),
        ("CreatePolicyVersion", {"PolicyDocument": allow("s3:*")}),
        ("DeletePolicyVersion", {"VersionId": "v1"}),
        ("SetDefaultPolicyVersion", {"VersionId": "v1"}),
        ("TagPolicy", {"Tags": [{"Key": "a", "Value": "b"}]}),
        ("UntagPolicy", {"TagKeys": ["a"]}),
    ],
)
def test_aws_managed_policies_are_read_only(iam: Call, op: str, params: dict) -> None:
    err = error_of(iam, op, PolicyArn=READ_ONLY, **params)
    assert err.code == "AccessDenied"
    assert err.message == (
        f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: iam:{op} on "
        f"resource: {READ_ONLY} because no resource-based policy allows the iam:{op} action"
    )


# --------------------------------------------------------------------- versions


def test_policy_versions_lifecycle(iam: Call) -> None:
    arn = iam("CreatePolicy", PolicyName="p", PolicyDocument=allow("s3:*"))["Policy"]["Arn"]
    v2 = iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow("ec2:*"))["PolicyVersion"]
    assert v2 == {"VersionId": "v2", "IsDefaultVersion": False, "CreateDate": NOW}
    v3 = iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow("sqs:*"), SetAsDefault=True)
    assert v3["PolicyVersion"]["IsDefaultVersion"] is True
    assert iam("GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    listed = iam("ListPolicyVersions", PolicyArn=arn)
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in listed["Versions"]] == [
        ("v3", True),
        ("v2", False),
        ("v1", False),
    ]
    assert all("Document" not in v for v in listed["Versions"])
    page = iam("ListPolicyVersions", PolicyArn=arn, MaxItems=2)
    rest = iam("ListPolicyVersions", PolicyArn=arn, MaxItems=2, Marker=page["Marker"])
    assert [v["VersionId"] for v in page["Versions"] + rest["Versions"]] == ["v3", "v2", "v1"]
    iam("SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v1")
    assert iam("GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"
    doc = iam("GetPolicyVersion", PolicyArn=arn, VersionId="v2")["PolicyVersion"]["Document"]
    assert doc == allow("ec2:*")
    err = error_of(iam, "DeletePolicyVersion", PolicyArn=arn, VersionId="v1")
    assert (err.code, err.message) == (
        "DeleteConflict",
        "Cannot delete the default version of a policy.",
    )
    iam("DeletePolicyVersion", PolicyArn=arn, VersionId="v3")
    assert [v["VersionId"] for v in iam("ListPolicyVersions", PolicyArn=arn)["Versions"]] == [
        "v2",
        "v1",
    ]
    # numbers are never reused
    v4 = iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow("sns:*"))["PolicyVersion"]
    assert v4["VersionId"] == "v4"


@pytest.mark.parametrize(
    "op", ["GetPolicyVersion", "DeletePolicyVersion", "SetDefaultPolicyVersion"]
)
def test_missing_version(iam: Call, op: str) -> None:
    arn = iam("CreatePolicy", PolicyName="p", PolicyDocument=allow("s3:*"))["Policy"]["Arn"]
    err = error_of(iam, op, PolicyArn=arn, VersionId="v7")
    assert (err.code, err.message) == (
        "NoSuchEntity",
        f"Policy {arn} version v7 does not exist or is not attachable.",
    )


def test_five_versions_at_most(iam: Call) -> None:
    arn = iam("CreatePolicy", PolicyName="p", PolicyDocument=allow("s3:*"))["Policy"]["Arn"]
    for i in range(4):
        iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow(f"s3:Get{i}"))
    err = error_of(iam, "CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow("s3:Put"))
    assert (err.code, err.message) == (
        "LimitExceeded",
        "A managed policy can have up to 5 versions. Before you create a new version, you must "
        "delete an existing version.",
    )
    iam("DeletePolicyVersion", PolicyArn=arn, VersionId="v2")
    iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow("s3:Put"))


def test_create_version_validates_the_document(iam: Call) -> None:
    arn = iam("CreatePolicy", PolicyName="p", PolicyDocument=allow("s3:*"))["Policy"]["Arn"]
    err = error_of(
        iam,
        "CreatePolicyVersion",
        PolicyArn=arn,
        PolicyDocument=allow("s3:*", version="2008-10-17"),
    )
    assert err.code == "MalformedPolicyDocument"
    assert len(iam("ListPolicyVersions", PolicyArn=arn)["Versions"]) == 1


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ("arn:aws:iam:::example_bucket", IAM_RESOURCE_PATH),
        (
            "arn:aws:s3:us-east-1::example_bucket",
            "Resource arn:aws:s3:us-east-1::example_bucket can not contain region information.",
        ),
        ("arn:aws:s3::example_bucket", "The policy failed legacy parsing"),
        ("arn:aws", "Resource vendor must be fully qualified and cannot contain regexes."),
    ],
)
def test_a_refused_document_gets_awss_exact_message(iam: Call, resource: str, message: str) -> None:
    """MalformedPolicyDocument carries AWS's text alone, not the policy error's detail
    (tests/cases/validate_resource.yaml)."""
    err = error_of(iam, "CreatePolicy", PolicyName="p", PolicyDocument=allow("s3:*", resource))
    assert (err.code, err.message) == ("MalformedPolicyDocument", message)
    bad_effect = json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Maybe"}})
    err = error_of(iam, "CreatePolicy", PolicyName="p", PolicyDocument=bad_effect)
    assert (err.code, err.message) == ("MalformedPolicyDocument", "Syntax errors in policy.")


def test_create_policy_reports_the_version_before_the_legacy_parser(iam: Call) -> None:
    """IAM's order (tests/cases/validate_order.yaml): syntax, then the Version
    CreatePolicy demands, then what AWS's legacy parser refuses (an Effect in the wrong
    case)."""
    document = {"Statement": {"Effect": "denY", "Action": "s3:*", "Resource": "*"}}
    err = error_of(iam, "CreatePolicy", PolicyName="p", PolicyDocument=json.dumps(document))
    assert err.message == "Policy document must be version 2012-10-17 or greater."
    document["Version"] = "2012-10-17"
    err = error_of(iam, "CreatePolicy", PolicyName="p", PolicyDocument=json.dumps(document))
    assert err.message == "The policy failed legacy parsing"


# ------------------------------------------------------------------------- list


def test_list_policies_scopes_and_filters(iam: Call) -> None:
    iam("CreatePolicy", PolicyName="zeta", Path="/t/", PolicyDocument=allow("s3:*"))
    alpha = iam("CreatePolicy", PolicyName="alpha", PolicyDocument=allow("s3:*"))["Policy"]["Arn"]
    local = iam("ListPolicies", Scope="Local")["Policies"]
    assert [p["PolicyName"] for p in local] == ["alpha", "zeta"]
    assert all("Description" not in p and "Tags" not in p for p in local)
    aws = all_pages(iam, Scope="AWS")
    assert sorted(p["Arn"] for p in aws) == sorted(AWS_MANAGED)
    everything = all_pages(iam)
    assert len(everything) == len(AWS_MANAGED) + 2
    assert [p["PolicyName"] for p in iam("ListPolicies", PathPrefix="/t/")["Policies"]] == ["zeta"]
    iam("CreateUser", UserName="alice")
    iam("AttachUserPolicy", UserName="alice", PolicyArn=alpha)
    iam("AttachUserPolicy", UserName="alice", PolicyArn=READ_ONLY)
    attached = iam("ListPolicies", OnlyAttached=True)["Policies"]
    assert sorted(p["Arn"] for p in attached) == sorted([alpha, READ_ONLY])
    assert {p["Arn"]: p["AttachmentCount"] for p in attached} == {alpha: 1, READ_ONLY: 1}
    iam("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=ADMIN)
    boundaries = iam("ListPolicies", PolicyUsageFilter="PermissionsBoundary")["Policies"]
    assert [p["Arn"] for p in boundaries] == [ADMIN]
    used = iam("ListPolicies", PolicyUsageFilter="PermissionsPolicy", Scope="Local")["Policies"]
    assert [p["Arn"] for p in used] == [alpha]


def test_list_policies_pagination(iam: Call) -> None:
    for i in range(5):
        iam("CreatePolicy", PolicyName=f"p{i}", PolicyDocument=allow("s3:*"))
    seen: list[str] = []
    marker = None
    while True:
        params: dict[str, Any] = {"Scope": "Local", "MaxItems": 2}
        if marker:
            params["Marker"] = marker
        page = iam("ListPolicies", **params)
        seen += [p["PolicyName"] for p in page["Policies"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert seen == [f"p{i}" for i in range(5)]


# ------------------------------------------------------------------------- tags


def test_policy_tags(iam: Call) -> None:
    arn = iam("CreatePolicy", PolicyName="p", PolicyDocument=allow("s3:*"))["Policy"]["Arn"]
    iam("TagPolicy", PolicyArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    iam("UntagPolicy", PolicyArn=arn, TagKeys=["a"])
    assert iam("ListPolicyTags", PolicyArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    assert iam("ListPolicyTags", PolicyArn=READ_ONLY)["Tags"] == []


def test_policy_authorization(iam: Call, iam_as: Call) -> None:
    iam("CreateUser", UserName="bob")
    bob = user_caller("bob")
    err = error_of(iam_as, bob, "ListPolicies")
    assert err.code == "AccessDenied"
    assert "iam:ListPolicies on resource: policy path / because" in err.message
    err = error_of(iam_as, bob, "CreatePolicy", PolicyName="p", PolicyDocument=allow("s3:*"))
    assert err.code == "AccessDenied" and f"resource: {arn_of('p')}" in err.message
    iam("PutUserPolicy", UserName="bob", PolicyName="x", PolicyDocument=allow("iam:*Polic*"))
    arn = iam_as(bob, "CreatePolicy", PolicyName="p", PolicyDocument=allow("s3:*"))["Policy"]["Arn"]
    assert [p["Arn"] for p in iam_as(bob, "ListPolicies", Scope="Local")["Policies"]] == [arn]
    assert iam_as(bob, "GetPolicy", PolicyArn=arn)["Policy"]["PolicyName"] == "p"
    cond = {"StringEquals": {"aws:ResourceTag/owner": "bob"}}
    doc = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "iam:GetPolicy", "Resource": "*", "Condition": cond}
            ],
        }
    )
    iam("PutUserPolicy", UserName="bob", PolicyName="x", PolicyDocument=doc)
    assert error_of(iam_as, bob, "GetPolicy", PolicyArn=arn).code == "AccessDenied"
    iam("TagPolicy", PolicyArn=arn, Tags=[{"Key": "owner", "Value": "bob"}])
    iam_as(bob, "GetPolicy", PolicyArn=arn)


# ------------------------------------------------------- AWS managed policies' usage


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def any_services(
    request: pytest.FixtureRequest, services: Services, tmp_path: Path
) -> Iterator[Services]:
    """The memory store's services, or a migrated SQL store's, holding ACCOUNT and LOWER."""
    if request.param == "memory":
        with services.store.unit_of_work() as uow:
            uow.repo(Account).add(Account(LOWER, f"root@{LOWER}.example.com", "x", NOW))
        yield services
        return
    with migrated_store(request.param, tmp_path) as store:
        with store.unit_of_work() as uow:
            for account in (ACCOUNT, LOWER):
                uow.repo(Account).add(Account(account, f"root@{account}.example.com", "x", NOW))
        yield Services(store, SecretBox(generate_key()), password_params=TEST_PARAMS)


def root_of(services: Services, account: str = ACCOUNT) -> Call:
    def call(name: str, **params: Any) -> Any:
        return execute(services, root_caller(account), meta(), "iam", name, params)

    return call


def usage(policies: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    return [(p["Arn"], p["AttachmentCount"], p["PermissionsBoundaryUsageCount"]) for p in policies]


def test_aws_managed_policy_counts_and_filters_on_every_store(any_services: Services) -> None:
    """ReadOnlyAccess bounds a user and a role and is attached to a group; ViewOnlyAccess
    only bounds; AdministratorAccess is only attached. The other account's uses of them
    count only there."""
    iam = root_of(any_services)
    mine = iam("CreatePolicy", PolicyName="mine", PolicyDocument=allow("s3:*"))["Policy"]["Arn"]
    iam("CreateUser", UserName="alice", PermissionsBoundary=READ_ONLY)
    iam("CreateRole", RoleName="app", AssumeRolePolicyDocument=TRUST)
    iam("PutRolePermissionsBoundary", RoleName="app", PermissionsBoundary=READ_ONLY)
    iam("CreateGroup", GroupName="devs")
    iam("AttachGroupPolicy", GroupName="devs", PolicyArn=READ_ONLY)
    iam("CreateUser", UserName="bob", PermissionsBoundary=VIEW_ONLY)
    iam("AttachUserPolicy", UserName="bob", PolicyArn=ADMIN)
    iam("AttachRolePolicy", RoleName="app", PolicyArn=mine)
    other = root_of(any_services, LOWER)
    other("CreateUser", UserName="carol", PermissionsBoundary=READ_ONLY)
    for arn in (READ_ONLY, VIEW_ONLY, ADMIN):
        other("AttachUserPolicy", UserName="carol", PolicyArn=arn)

    def counts(arn: str) -> tuple[str, int, int]:
        return usage([iam("GetPolicy", PolicyArn=arn)["Policy"]])[0]

    assert counts(READ_ONLY) == (READ_ONLY, 1, 2)
    assert counts(VIEW_ONLY) == (VIEW_ONLY, 0, 1)
    assert counts(ADMIN) == (ADMIN, 1, 0)
    assert counts(mine) == (mine, 1, 0)
    used = [p for p in all_pages(iam) if p["AttachmentCount"] or p["PermissionsBoundaryUsageCount"]]
    assert sorted(usage(used)) == sorted(
        [(READ_ONLY, 1, 2), (VIEW_ONLY, 0, 1), (ADMIN, 1, 0), (mine, 1, 0)]
    )

    def listed(**params: Any) -> list[tuple[str, int, int]]:
        return usage(iam("ListPolicies", **params)["Policies"])

    attached = [(ADMIN, 1, 0), (mine, 1, 0), (READ_ONLY, 1, 2)]  # by name
    assert listed(OnlyAttached=True) == attached
    assert listed(PolicyUsageFilter="PermissionsPolicy") == attached
    assert listed(OnlyAttached=True, Scope="AWS") == [(ADMIN, 1, 0), (READ_ONLY, 1, 2)]
    assert listed(OnlyAttached=True, Scope="Local") == [(mine, 1, 0)]
    bounding = [(READ_ONLY, 1, 2), (VIEW_ONLY, 0, 1)]
    assert listed(PolicyUsageFilter="PermissionsBoundary") == bounding
    assert listed(PolicyUsageFilter="PermissionsBoundary", Scope="AWS") == bounding
    assert listed(PolicyUsageFilter="PermissionsBoundary", Scope="Local") == []
    assert listed(PolicyUsageFilter="PermissionsBoundary", PathPrefix="/job-function/") == [
        (VIEW_ONLY, 0, 1)
    ]
    first = iam("ListPolicies", OnlyAttached=True, MaxItems=2)
    assert usage(first["Policies"]) == attached[:2] and first["IsTruncated"]
    rest = iam("ListPolicies", OnlyAttached=True, MaxItems=2, Marker=first["Marker"])
    assert usage(rest["Policies"]) == attached[2:] and not rest["IsTruncated"]

    iam("DeleteUserPermissionsBoundary", UserName="alice")
    iam("DetachGroupPolicy", GroupName="devs", PolicyArn=READ_ONLY)
    iam("DeleteUserPermissionsBoundary", UserName="bob")
    assert counts(READ_ONLY) == (READ_ONLY, 0, 1)
    assert listed(OnlyAttached=True, Scope="AWS") == [(ADMIN, 1, 0)]
    assert listed(PolicyUsageFilter="PermissionsBoundary") == [(READ_ONLY, 0, 1)]
    iam("DeleteRolePermissionsBoundary", RoleName="app")
    assert listed(PolicyUsageFilter="PermissionsBoundary") == []
    assert counts(READ_ONLY) == (READ_ONLY, 0, 0)


def _selects(store: SqlStore, call: Callable[[], Any]) -> list[tuple[str, Any]]:
    """The SELECT statements `call()` issues, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", before)
    try:
        call()
    finally:
        event.remove(store.engine, "before_cursor_execute", before)
    return seen


def test_listing_aws_policies_in_use_reads_a_bounded_number_of_times(
    sql_services: Services,
) -> None:
    """ListPolicies Scope=AWS OnlyAttached (or by boundary use) reads the indexes once per
    call: no count per AWS managed policy (over a thousand), no read of the users and
    roles, and as many statements with 50 users and roles bounded as with 5."""
    store = sql_services.store
    assert isinstance(store, SqlStore)
    iam = root_of(sql_services)
    iam("CreateGroup", GroupName="devs")
    iam("AttachGroupPolicy", GroupName="devs", PolicyArn=ADMIN)

    def add(first: int, last: int) -> None:
        for i in range(first, last):
            iam("CreateUser", UserName=f"u{i}", PermissionsBoundary=READ_ONLY)
            iam("AttachUserPolicy", UserName=f"u{i}", PolicyArn=READ_ONLY)
            iam("CreateRole", RoleName=f"r{i}", AssumeRolePolicyDocument=TRUST,
                PermissionsBoundary=VIEW_ONLY)  # fmt: skip

    def measured(**params: Any) -> tuple[list[tuple[str, int, int]], list[tuple[str, Any]]]:
        out: list[dict[str, Any]] = []
        statements = _selects(store, lambda: out.append(iam("ListPolicies", **params)))
        return usage(out[0]["Policies"]), statements

    attached, bounding = {"OnlyAttached": True}, {"PolicyUsageFilter": "PermissionsBoundary"}
    add(0, 5)
    few = measured(Scope="AWS", **attached)
    assert few[0] == [(ADMIN, 1, 0), (READ_ONLY, 5, 5)]
    few_bounding = measured(Scope="AWS", **bounding)
    assert few_bounding[0] == [(READ_ONLY, 5, 5), (VIEW_ONLY, 0, 5)]
    add(5, 50)
    many = measured(Scope="AWS", **attached)
    assert many[0] == [(ADMIN, 1, 0), (READ_ONLY, 50, 50)]
    many_bounding = measured(Scope="AWS", **bounding)
    assert many_bounding[0] == [(READ_ONLY, 50, 50), (VIEW_ONLY, 0, 50)]
    for before, after in ((few, many), (few_bounding, many_bounding)):
        assert len(after[1]) == len(before[1]) <= 8, [s for s, _ in after[1]]
        values = {
            v
            for _, params in after[1]
            for v in (params.values() if isinstance(params, dict) else params or ())
        }
        assert not values & {"user", "role"}  # no user or role read
