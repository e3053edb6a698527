"""Inline policies of users, groups and roles."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from chamberlain.domain import InlinePolicy
from chamberlain.ops.core.context import Services
from chamberlain.ops.core.errors import ServiceError
from chamberlain.policy.validate import policy_size

from ..conftest import ACCOUNT, user_caller
from ..entity_seed import Seed

Call = Callable[..., Any]
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
# Operation word, name parameter, how to create one, aggregate size quota
PRINCIPALS = [
    ("User", "UserName", ("CreateUser", {}), 2048),
    ("Group", "GroupName", ("CreateGroup", {}), 5120),
    ("Role", "RoleName", ("CreateRole", {"AssumeRolePolicyDocument": TRUST}), 10240),
]


def error_of(call: Call, *args: Any, **params: Any) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        call(*args, **params)
    return info.value


def allow(actions: str | list[str], resource: str = "*") -> str:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=2)


def doc_of_size(size: int) -> str:
    """An identity policy of exactly `size` characters as AWS counts them."""
    empty = policy_size(allow("s3:"))
    text = allow("s3:" + "a" * (size - empty))
    assert policy_size(text) == size
    return text


def create(iam: Call, how: tuple[str, dict], param: str, name: str) -> None:
    op, params = how
    iam(op, **{param: name}, **params)


@pytest.mark.parametrize(("word", "param", "how", "limit"), PRINCIPALS)
def test_put_get_list_delete(iam: Call, word: str, param: str, how: tuple, limit: int) -> None:
    create(iam, how, param, "Owner")
    doc = allow("s3:GetObject")
    iam(f"Put{word}Policy", **{param: "owner"}, PolicyName="b", PolicyDocument=doc)
    iam(f"Put{word}Policy", **{param: "owner"}, PolicyName="a", PolicyDocument=allow("s3:*"))
    got = iam(f"Get{word}Policy", **{param: "OWNER"}, PolicyName="b")
    assert got == {f"{word}Name": "Owner", "PolicyName": "b", "PolicyDocument": doc}
    assert iam(f"List{word}Policies", **{param: "owner"})["PolicyNames"] == ["a", "b"]
    page = iam(f"List{word}Policies", **{param: "owner"}, MaxItems=1)
    assert page["PolicyNames"] == ["a"] and page["IsTruncated"]
    rest = iam(f"List{word}Policies", **{param: "owner"}, MaxItems=1, Marker=page["Marker"])
    assert rest["PolicyNames"] == ["b"] and not rest["IsTruncated"]
    replaced = allow("sqs:*")
    iam(f"Put{word}Policy", **{param: "owner"}, PolicyName="b", PolicyDocument=replaced)
    assert iam(f"Get{word}Policy", **{param: "owner"}, PolicyName="b")["PolicyDocument"] == replaced
    iam(f"Delete{word}Policy", **{param: "owner"}, PolicyName="b")
    assert iam(f"List{word}Policies", **{param: "owner"})["PolicyNames"] == ["a"]


@pytest.mark.parametrize(("word", "param", "how", "limit"), PRINCIPALS)
def test_not_found(iam: Call, word: str, param: str, how: tuple, limit: int) -> None:
    kind = word.lower()
    for op, extra in [
        (f"Put{word}Policy", {"PolicyName": "p", "PolicyDocument": allow("s3:*")}),
        (f"Get{word}Policy", {"PolicyName": "p"}),
        (f"Delete{word}Policy", {"PolicyName": "p"}),
        (f"List{word}Policies", {}),
    ]:
        err = error_of(iam, op, **{param: "ghost"}, **extra)
        assert (err.code, err.message) == (
            "NoSuchEntity",
            f"The {kind} with name ghost cannot be found.",
        ), op
    create(iam, how, param, "owner")
    for op in (f"Get{word}Policy", f"Delete{word}Policy"):
        err = error_of(iam, op, **{param: "owner"}, PolicyName="nope")
        assert (err.code, err.message) == (
            "NoSuchEntity",
            f"The {kind} policy with name nope cannot be found.",
        ), op


@pytest.mark.parametrize(("word", "param", "how", "limit"), PRINCIPALS)
def test_aggregate_size_quota(iam: Call, word: str, param: str, how: tuple, limit: int) -> None:
    create(iam, how, param, "owner")
    half = limit // 2
    iam(f"Put{word}Policy", **{param: "owner"}, PolicyName="one", PolicyDocument=doc_of_size(half))
    iam(f"Put{word}Policy", **{param: "owner"}, PolicyName="two", PolicyDocument=doc_of_size(half))
    err = error_of(
        iam,
        f"Put{word}Policy",
        **{param: "owner"},
        PolicyName="three",
        PolicyDocument=doc_of_size(100),
    )
    assert (err.code, err.message) == (
        "LimitExceeded",
        f"Maximum policy size of {limit} bytes exceeded for {word.lower()} owner",
    )
    # Replacing a policy counts only its new text.
    iam(
        f"Put{word}Policy",
        **{param: "owner"},
        PolicyName="two",
        PolicyDocument=doc_of_size(half - 100),
    )
    iam(f"Put{word}Policy", **{param: "owner"}, PolicyName="three", PolicyDocument=doc_of_size(100))
    assert iam(f"List{word}Policies", **{param: "owner"})["PolicyNames"] == ["one", "three", "two"]


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}),
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}
                ],
            }
        ),
    ],
)
def test_malformed_documents(iam: Call, document: str) -> None:
    iam("CreateUser", UserName="alice")
    err = error_of(iam, "PutUserPolicy", UserName="alice", PolicyName="p", PolicyDocument=document)
    assert err.code == "MalformedPolicyDocument" and err.http_status == 400
    assert iam("ListUserPolicies", UserName="alice")["PolicyNames"] == []


def test_inline_policy_operations_are_authorized_on_the_principal(iam: Call, iam_as: Call) -> None:
    iam("CreateUser", UserName="bob")
    iam("CreateRole", RoleName="app", Path="/svc/", AssumeRolePolicyDocument=TRUST)
    bob = user_caller("bob")
    err = error_of(iam_as, bob, "ListRolePolicies", RoleName="app")
    assert err.code == "AccessDenied"
    assert f"on resource: arn:aws:iam::{ACCOUNT}:role/svc/app" in err.message
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/svc/*"
    iam(
        "PutUserPolicy",
        UserName="bob",
        PolicyName="p",
        PolicyDocument=allow("iam:*RolePolic*", role_arn),
    )
    iam_as(bob, "PutRolePolicy", RoleName="app", PolicyName="x", PolicyDocument=allow("s3:*"))
    assert iam_as(bob, "ListRolePolicies", RoleName="app")["PolicyNames"] == ["x"]
    assert error_of(iam_as, bob, "ListUserPolicies", UserName="bob").code == "AccessDenied"


def test_service_linked_role_inline_policies_are_only_modifiable_by_aws(
    iam: Call, services: Services
) -> None:
    role = "AWSServiceRoleForElasticBeanstalk"
    iam("CreateServiceLinkedRole", AWSServiceName="elasticbeanstalk.amazonaws.com")
    Seed(services).inline("role", role, "service", allow("s3:GetObject"))
    protected = (
        f"Cannot perform the operation on the protected role '{role}' "
        "- this role is only modifiable by AWS"
    )
    for op, params in (
        ("PutRolePolicy", {"PolicyName": "mine", "PolicyDocument": allow("s3:*")}),
        ("PutRolePolicy", {"PolicyName": "service", "PolicyDocument": allow("s3:*")}),
        ("DeleteRolePolicy", {"PolicyName": "service"}),
    ):
        err = error_of(iam, op, RoleName=role, **params)
        assert (err.code, err.http_status, err.message) == ("UnmodifiableEntity", 400, protected)
    # Reading is allowed, and nothing changed.
    assert iam("ListRolePolicies", RoleName=role)["PolicyNames"] == ["service"]
    got = iam("GetRolePolicy", RoleName=role, PolicyName="service")
    assert got["PolicyDocument"] == allow("s3:GetObject")
    # The role's own deletion still takes its policies with it.
    iam("DeleteServiceLinkedRole", RoleName=role)
    with services.store.unit_of_work(read_only=True) as uow:
        assert uow.repo(InlinePolicy).list(ACCOUNT) == []
