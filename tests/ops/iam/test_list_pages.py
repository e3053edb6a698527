"""Keyset pages of ListPolicies, ListEntitiesForPolicy and ListAttached*Policies: walking
the pages (any MaxItems, any filter) gives exactly the one-shot listing, on the memory
store and on SQLite; and a page reads about MaxItems entities wherever it starts."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.ops.conftest import ACCOUNT, NOW, root_caller
from tests.ops.entity_seed import TRUST

from chamberlain.crypto.passwords import TEST_PARAMS
from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.domain import Account
from chamberlain.ops.core.context import RequestMeta, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.store import codec
from chamberlain.store.memory import MemoryStore
from chamberlain.store.sql import SqlStore

DOCUMENT = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)
AWS_READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
_ids = itertools.count()


def _services(store: Any) -> Services:
    with store.unit_of_work() as uow:
        uow.repo(Account).add(
            Account(
                account_id=ACCOUNT, email="root@example.com", root_password_hash="x", created=NOW
            )
        )
    return Services(store=store, secrets=SecretBox(generate_key()), password_params=TEST_PARAMS)


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def account(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Any]]:
    """An account with 40 customer policies (mixed case, two paths), 30 users and 6
    groups with attachments, 4 roles using a policy as their boundary."""
    if request.param == "memory":
        store: Any = MemoryStore()
    else:
        store = SqlStore(f"sqlite:///{tmp_path_factory.mktemp('pages') / 'db.sqlite'}")
        store.migrate()
    services = _services(store)

    def iam(name: str, **params: Any) -> Any:
        meta = RequestMeta(request_id=f"req-{next(_ids)}", now=NOW)
        return execute(services, root_caller(), meta, "iam", name, params)

    arns = []
    for i in range(40):
        name = f"{'Pol' if i % 3 else 'pol'}-{i:02d}{'x' * (i % 4)}"
        path = "/team/" if i % 2 else "/"
        arns.append(
            iam("CreatePolicy", PolicyName=name, Path=path, PolicyDocument=DOCUMENT)["Policy"][
                "Arn"
            ]
        )
    shared = arns[0]
    for i in range(30):
        user = f"{'User' if i % 2 else 'user'}{i:02d}"
        iam("CreateUser", UserName=user, Path="/ops/" if i % 3 == 0 else "/")
        iam("AttachUserPolicy", UserName=user, PolicyArn=shared)
        if i < 4:
            for arn in arns[1:9]:
                iam("AttachUserPolicy", UserName=user, PolicyArn=arn)
            iam("AttachUserPolicy", UserName=user, PolicyArn=AWS_READ_ONLY)
    for i in range(6):
        iam("CreateGroup", GroupName=f"group{i}")
        iam("AttachGroupPolicy", GroupName=f"group{i}", PolicyArn=shared)
    for i in range(4):
        iam(
            "CreateRole",
            RoleName=f"role{i}",
            AssumeRolePolicyDocument=TRUST,
            PermissionsBoundary=shared if i % 2 else AWS_READ_ONLY,
        )
    iam.services = services  # type: ignore[attr-defined]
    iam.shared = shared  # type: ignore[attr-defined]
    yield iam
    store.close()


def _walk(
    iam: Callable[..., Any], name: str, members: tuple[str, ...], page: int, **params: Any
) -> list[Any]:
    """Every item of every page, following the markers."""
    items: list[Any] = []
    marker = None
    for _ in range(1000):
        out = iam(name, MaxItems=page, **({"Marker": marker} if marker else {}), **params)
        got = [x for m in members for x in out.get(m, [])]
        assert len(got) <= page
        items.extend(got)
        if not out["IsTruncated"]:
            assert "Marker" not in out
            return items
        assert got, "a truncated page has items"
        marker = out["Marker"]
    raise AssertionError("no last page")


POLICY_FILTERS = st.fixed_dictionaries(
    {},
    optional={
        "Scope": st.sampled_from(["All", "Local", "AWS"]),
        "PathPrefix": st.sampled_from(["/", "/team/", "/nowhere/"]),
        "OnlyAttached": st.booleans(),
        "PolicyUsageFilter": st.sampled_from(["PermissionsPolicy", "PermissionsBoundary"]),
    },
)
SLOW = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SLOW
@given(page=st.integers(1, 60), filters=POLICY_FILTERS)
def test_policy_pages_walk_to_the_whole_list(
    account: Callable[..., Any], page: int, filters: dict[str, Any]
) -> None:
    if (
        filters.get("Scope", "All") != "Local"
        and not filters.get("OnlyAttached")
        and "PolicyUsageFilter" not in filters
    ):
        page = max(page, 40)  # ~1,000 AWS managed policies: keep the walk short
    whole = account("ListPolicies", MaxItems=1000, **filters)
    if whole["IsTruncated"]:  # more than 1000 (Scope All/AWS): walk from the start anyway
        whole["Policies"] = _walk(account, "ListPolicies", ("Policies",), 1000, **filters)
    walked = _walk(account, "ListPolicies", ("Policies",), page, **filters)
    assert walked == whole["Policies"]
    keys = [(p["PolicyName"].lower(), p["Arn"]) for p in walked]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_policy_listing_keeps_its_usage_counts(account: Callable[..., Any]) -> None:
    local = {p["Arn"]: p for p in _walk(account, "ListPolicies", ("Policies",), 7, Scope="Local")}
    assert local[account.shared]["AttachmentCount"] == 36  # 30 users, 6 groups
    assert local[account.shared]["PermissionsBoundaryUsageCount"] == 2
    attached = _walk(account, "ListPolicies", ("Policies",), 5, Scope="AWS", OnlyAttached=True)
    assert [
        (p["Arn"], p["AttachmentCount"], p["PermissionsBoundaryUsageCount"]) for p in attached
    ] == [(AWS_READ_ONLY, 4, 2)]
    bounds = _walk(
        account, "ListPolicies", ("Policies",), 1, PolicyUsageFilter="PermissionsBoundary"
    )
    assert sorted(p["Arn"] for p in bounds) == sorted([account.shared, AWS_READ_ONLY])


ENTITY_MEMBERS = ("PolicyGroups", "PolicyUsers", "PolicyRoles")


@SLOW
@given(
    page=st.integers(1, 45),
    filters=st.fixed_dictionaries(
        {},
        optional={
            "EntityFilter": st.sampled_from(["User", "Group", "Role"]),
            "PathPrefix": st.sampled_from(["/", "/ops/"]),
            "PolicyUsageFilter": st.sampled_from(["PermissionsPolicy", "PermissionsBoundary"]),
        },
    ),
)
def test_entity_pages_walk_to_the_whole_list(
    account: Callable[..., Any], page: int, filters: dict[str, Any]
) -> None:
    whole = account("ListEntitiesForPolicy", PolicyArn=account.shared, MaxItems=1000, **filters)
    assert not whole["IsTruncated"]
    expected = [x for m in ENTITY_MEMBERS for x in whole[m]]
    walked = _walk(
        account, "ListEntitiesForPolicy", ENTITY_MEMBERS, page, PolicyArn=account.shared, **filters
    )
    assert sorted(map(json.dumps, walked)) == sorted(map(json.dumps, expected))
    assert len(walked) == len(expected)


def test_entities_of_a_policy_in_aws_order(account: Callable[..., Any]) -> None:
    out = account(
        "ListEntitiesForPolicy", PolicyArn=account.shared, PolicyUsageFilter="PermissionsPolicy"
    )
    assert [g["GroupName"] for g in out["PolicyGroups"]] == [f"group{i}" for i in range(6)]
    assert len(out["PolicyUsers"]) == 30 and out["PolicyRoles"] == []
    users = _walk(
        account,
        "ListEntitiesForPolicy",
        ("PolicyUsers",),
        4,
        PolicyArn=account.shared,
        EntityFilter="User",
        PathPrefix="/ops/",
    )
    assert [u["UserName"].lower() for u in users] == [f"user{i:02d}" for i in range(0, 30, 3)]


@pytest.mark.parametrize("page", [1, 2, 3, 10])
def test_attached_policy_pages(account: Callable[..., Any], page: int) -> None:
    whole = account("ListAttachedUserPolicies", UserName="user00")
    assert len(whole["AttachedPolicies"]) == 10
    assert (
        _walk(account, "ListAttachedUserPolicies", ("AttachedPolicies",), page, UserName="user00")
        == (whole["AttachedPolicies"])
    )
    team = _walk(
        account,
        "ListAttachedUserPolicies",
        ("AttachedPolicies",),
        page,
        UserName="user00",
        PathPrefix="/team/",
    )
    assert {p["PolicyName"] for p in team} == {"Pol-01x", "pol-03xxx", "Pol-05x", "Pol-07xxx"}


def test_a_page_reads_about_max_items_wherever_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.migrate()
    services = _services(store)

    def iam(name: str, **params: Any) -> Any:
        meta = RequestMeta(request_id=f"req-{next(_ids)}", now=NOW + dt.timedelta(seconds=1))
        return execute(services, root_caller(), meta, "iam", name, params)

    arn = iam("CreatePolicy", PolicyName="shared", PolicyDocument=DOCUMENT)["Policy"]["Arn"]
    other = iam("CreatePolicy", PolicyName="other", PolicyDocument=DOCUMENT)["Policy"]["Arn"]
    for i in range(300):
        iam("CreatePolicy", PolicyName=f"p{i:03d}", PolicyDocument=DOCUMENT)
        iam("CreateGroup", GroupName=f"g{i:03d}")
        iam("AttachGroupPolicy", GroupName=f"g{i:03d}", PolicyArn=arn)
        # users bounded by the policy, roles by another (which no page of it reads)
        iam("CreateUser", UserName=f"u{i:03d}", PermissionsBoundary=arn)
        iam("CreateRole", RoleName=f"r{i:03d}", AssumeRolePolicyDocument=TRUST)
        iam("PutRolePermissionsBoundary", RoleName=f"r{i:03d}", PermissionsBoundary=other)
    decoded = [0]
    real_decode = codec.decode

    def counting(cls: type, data: str) -> Any:
        decoded[0] += 1
        return real_decode(cls, data)

    monkeypatch.setattr(codec, "decode", counting)

    def reads(name: str, **params: Any) -> list[int]:
        """Entities decoded by the first page and by the page after 250 items."""
        counts = []
        for marker in (None, iam(name, MaxItems=250, **params)["Marker"]):
            decoded[0] = 0
            iam(name, MaxItems=10, **({"Marker": marker} if marker else {}), **params)
            counts.append(decoded[0])
        return counts

    first, late = reads("ListPolicies", Scope="Local")
    assert first <= late <= first + 1 < 30  # + the marker's own policy, read by name
    first, late = reads("ListEntitiesForPolicy", PolicyArn=arn, EntityFilter="Group")
    assert first == late and first < 50
    # boundaries included (the default): both indexes by the policy, a page of each
    for filters in ({}, {"PolicyUsageFilter": "PermissionsBoundary"}, {"EntityFilter": "User"}):
        first, late = reads("ListEntitiesForPolicy", PolicyArn=arn, **filters)
        assert first == late and first < 50, filters
    first, late = reads("ListEntitiesForPolicy", PolicyArn=other, EntityFilter="Role")
    assert first == late and first < 50
    store.close()


def test_the_boundary_index_follows_renames_changes_and_deletes(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.migrate()
    services = _services(store)

    def iam(name: str, **params: Any) -> Any:
        meta = RequestMeta(request_id=f"req-{next(_ids)}", now=NOW)
        return execute(services, root_caller(), meta, "iam", name, params)

    def bounded(arn: str) -> list[str]:
        out = iam("ListEntitiesForPolicy", PolicyArn=arn, PolicyUsageFilter="PermissionsBoundary")
        return [u["UserName"] for u in out["PolicyUsers"]] + [
            r["RoleName"] for r in out["PolicyRoles"]
        ]

    a = iam("CreatePolicy", PolicyName="a", PolicyDocument=DOCUMENT)["Policy"]["Arn"]
    b = iam("CreatePolicy", PolicyName="b", PolicyDocument=DOCUMENT)["Policy"]["Arn"]
    iam("CreateUser", UserName="Ann", PermissionsBoundary=a)
    iam("CreateRole", RoleName="Ops", AssumeRolePolicyDocument=TRUST, PermissionsBoundary=a)
    assert bounded(a) == ["Ann", "Ops"]
    iam("UpdateUser", UserName="Ann", NewUserName="Zed")
    iam("PutRolePermissionsBoundary", RoleName="Ops", PermissionsBoundary=b)
    assert (bounded(a), bounded(b)) == (["Zed"], ["Ops"])
    iam("DeleteUserPermissionsBoundary", UserName="Zed")
    iam("DeleteRole", RoleName="Ops")
    assert (bounded(a), bounded(b)) == ([], [])
    iam("CreateUser", UserName="Ann", PermissionsBoundary=b)
    iam("DeleteUser", UserName="Ann")
    assert bounded(b) == []
    store.close()
