"""Console pages in-process: each reads and writes through the operations as the
signed-in principal."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from typing import Any

from chamberlain.console.signin import user_caller
from chamberlain.crypto import totp
from chamberlain.domain import User
from chamberlain.ops.core.accounts import root_caller
from chamberlain.ops.core.context import RequestMeta
from chamberlain.ops.core.dispatch import execute

from .conftest import ACCOUNT, Console
from .test_signin import PASSWORD, iam, make_user


def test_dashboard_counts_and_sign_in_url(console: Console) -> None:
    console.sign_in_root()
    page = console.client.get("/console/")
    assert re.search(r'id="count-users">1<', page.text)
    assert re.search(r'id="count-groups">1<', page.text)
    assert f"/console/signin?account={ACCOUNT}" in page.text
    iam(console.services, "CreateAccountAlias", AccountAlias="acme-prod")
    assert "/console/signin?account=acme-prod" in console.client.get("/console/").text


def test_findings_most_severe_first_and_password_policy_fix(console: Console) -> None:
    console.sign_in_root()
    page = console.client.get("/console/")
    severities = re.findall(r'<span class="severity">(\w+)</span>', page.text)
    order = ["critical", "high", "medium", "low"]
    assert severities == sorted(severities, key=order.index)
    assert 'data-check="password-policy"' in page.text
    answer = console.post("/console/dashboard/fix/password-policy", {}, page="/console/")
    assert answer.status_code == 303
    policy = iam(console.services, "GetAccountPasswordPolicy")["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 14
    assert policy["PasswordReusePrevention"] == 24
    assert 'data-check="password-policy"' not in console.client.get("/console/").text


def test_root_key_fix_deletes_root_keys(console: Console) -> None:
    meta = RequestMeta(request_id="t", now=dt.datetime.now(dt.UTC).replace(microsecond=0))
    execute(console.services, root_caller(ACCOUNT), meta, "iam", "CreateAccessKey", {})
    console.sign_in_root()
    page = console.client.get("/console/")
    assert 'data-check="root-access-key"' in page.text
    answer = console.post("/console/dashboard/fix/root-key", {}, page="/console/")
    assert answer.status_code == 303
    assert iam(console.services, "ListAccessKeys")["AccessKeyMetadata"] == []
    assert 'data-check="root-access-key"' not in console.client.get("/console/").text


def test_create_user_with_generated_password_tags_and_group(console: Console) -> None:
    console.sign_in_root()
    answer = console.post(
        "/console/users/new",
        {
            "username": "hannah",
            "console": "yes",
            "password_kind": "generated",
            "reset": "yes",
            "groups": "Administrators",
            "tags": "team=data\ncost-centre = 42",
        },
    )
    assert answer.status_code == 200
    password = re.search(r'id="generated-password">([^<]+)<', answer.text)
    assert password
    user = iam(console.services, "GetUser", UserName="hannah")["User"]
    assert user["Tags"] == [{"Key": "team", "Value": "data"}, {"Key": "cost-centre", "Value": "42"}]
    groups = iam(console.services, "ListGroupsForUser", UserName="hannah")["Groups"]
    assert [g["GroupName"] for g in groups] == ["Administrators"]
    console.client.cookies.clear()
    signed = console.sign_in_user("hannah", html.unescape(password.group(1)))
    assert signed.headers["location"] == "/console/signin/password"


def test_create_user_shows_awss_validation_error(console: Console) -> None:
    console.sign_in_root()
    answer = console.post(
        "/console/users/new", {"username": "bad name!"}, page="/console/users/new"
    )
    assert answer.status_code == 400
    # IAM's own sentence for a bad name (protocol/iam_messages.py)
    assert "The specified value for userName is invalid." in answer.text


def test_users_search_and_paging(console: Console) -> None:
    for index in range(30):
        iam(console.services, "CreateUser", UserName=f"dev-{index:02d}")
    console.sign_in_root()
    first = console.client.get("/console/users")
    assert "31 user(s)" in first.text
    assert 'id="next-page"' in first.text
    second = console.client.get("/console/users?start=25")
    assert "dev-29" in second.text and "dev-00" not in second.text
    found = console.client.get("/console/users?q=DEV-1")
    assert "10 user(s)" in found.text


def test_user_page_shows_groups_and_credentials(console: Console) -> None:
    make_user(console.services, "ivan")
    iam(console.services, "AddUserToGroup", UserName="ivan", GroupName="Administrators")
    iam(console.services, "CreateAccessKey", UserName="ivan")
    console.sign_in_root()
    page = console.client.get("/console/users/ivan")
    assert page.status_code == 200
    assert "Administrators" in page.text
    assert "data-key=" in page.text
    missing = console.client.get("/console/users/nobody")
    assert missing.status_code == 404
    assert "The user with name nobody cannot be found." in missing.text


def test_account_settings_alias_and_policy(console: Console) -> None:
    console.sign_in_root()
    answer = console.post(
        "/console/settings/alias", {"alias": "Bad_Alias"}, page="/console/settings"
    )
    assert "error=" in answer.headers["location"]
    console.post("/console/settings/alias", {"alias": "good-alias"}, page="/console/settings")
    assert iam(console.services, "ListAccountAliases")["AccountAliases"] == ["good-alias"]
    console.post(
        "/console/settings/password-policy",
        {"min_length": "12", "RequireSymbols": "on", "max_age": "60"},
        page="/console/settings",
    )
    policy = iam(console.services, "GetAccountPasswordPolicy")["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 12
    assert policy["RequireSymbols"] is True and policy["RequireNumbers"] is False
    assert policy["MaxPasswordAge"] == 60


def test_credential_report_generate_then_view(console: Console) -> None:
    console.sign_in_root()
    assert 'id="no-report"' in console.client.get("/console/report").text
    console.post("/console/report", {}, page="/console/report")
    page = console.client.get("/console/report")
    assert 'id="report-table"' in page.text
    assert "&lt;root_account&gt;" in page.text
    assert "data:text/csv;base64," in page.text


def test_event_history_lists_console_logins(console: Console) -> None:
    console.sign_in_root()
    page = console.client.get("/console/events?attribute=EventName&value=ConsoleLogin")
    assert page.status_code == 200
    assert page.text.count("<td>ConsoleLogin</td>") == 1


def test_user_changes_own_password_and_stays_signed_in(console: Console) -> None:
    make_user(console.services, "judy")
    iam(console.services, "UpdateAccountPasswordPolicy", AllowUsersToChangePassword=True)
    console.sign_in_user("judy", PASSWORD)
    answer = console.post(
        "/console/credentials/password",
        {
            "old_password": PASSWORD,
            "new_password": "Fresh-Passw0rd-2027",
            "confirm_password": "Fresh-Passw0rd-2027",
        },
        page="/console/credentials",
    )
    assert answer.status_code == 200
    assert "Your password has been changed." in answer.text
    assert console.client.get("/console/", follow_redirects=False).status_code == 200


def test_a_failed_action_shows_awss_message_after_the_redirect(console: Console) -> None:
    console.sign_in_root()
    answer = console.post(
        "/console/keys/update",
        {"key": "AKIAIOSFODNN7EXAMPLE", "do": "deactivate"},
        page="/console/credentials",
    )
    assert answer.status_code == 303
    page = console.client.get(answer.headers["location"].removeprefix("http://127.0.0.1"))
    assert "The Access Key with id AKIAIOSFODNN7EXAMPLE cannot be found." in page.text


def test_a_link_cannot_put_its_own_message_in_a_page(console: Console) -> None:
    console.sign_in_root()
    page = console.client.get("/console/credentials?error=Your+account+is+locked,+call+555")
    assert "call 555" not in page.text
    assert 'id="credentials-error"' not in page.text


TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    '"Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}'
)


def test_group_page_attaches_and_detaches_policies(console: Console) -> None:
    console.sign_in_root()
    page = console.client.get("/console/groups/Administrators")
    assert "AdministratorAccess" in page.text
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    console.post(
        "/console/groups/Administrators/policies",
        {"arn": arn, "do": "attach"},
        page="/console/groups/Administrators",
    )
    attached = iam(console.services, "ListAttachedGroupPolicies", GroupName="Administrators")
    assert arn in [p["PolicyArn"] for p in attached["AttachedPolicies"]]
    bad = console.post(
        "/console/groups/Administrators/policies",
        {"arn": "arn:aws:iam::aws:policy/NoSuchPolicy", "do": "attach"},
        page="/console/groups/Administrators",
    )
    shown = console.client.get(bad.headers["location"].removeprefix("http://127.0.0.1"))
    assert "does not exist or is not attachable" in shown.text


def test_role_trust_policy_edit_and_session_revocation(console: Console) -> None:
    iam(console.services, "CreateRole", RoleName="deployer", AssumeRolePolicyDocument=TRUST)
    console.sign_in_root()
    page = console.client.get("/console/roles/deployer")
    assert "sts:AssumeRole" in page.text
    wrong = console.post(
        "/console/roles/deployer/trust",
        {"document": TRUST.replace("sts:AssumeRole", "s3:GetObject")},
        page="/console/roles/deployer",
    )
    assert wrong.status_code == 200
    assert "Trust Policy statement actions can only be" in wrong.text
    revoked = console.post("/console/roles/deployer/revoke", {}, page="/console/roles/deployer")
    assert "Sessions issued before now are revoked." in revoked.text
    names = iam(console.services, "ListRolePolicies", RoleName="deployer")["PolicyNames"]
    assert names == ["AWSRevokeOlderSessions"]


def test_policy_simulator_shows_the_decision_and_statement(console: Console) -> None:
    console.sign_in_root()
    assert console.client.get("/console/simulator").status_code == 200
    answer = console.post(
        "/console/simulator",
        {
            "source": f"arn:aws:iam::{ACCOUNT}:user/admin",
            "actions": "iam:ListUsers\ns3:GetObject",
            "resources": "*",
        },
        page="/console/simulator",
    )
    assert answer.status_code == 200
    assert answer.text.count('"decision-allowed">allowed</td>') == 2
    assert "AdministratorAccess" in answer.text


IP_POLICY = """{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
   "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
]}"""
BOUNDARY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
)


def test_policy_simulator_with_pasted_policies_boundary_and_context(console: Console) -> None:
    console.sign_in_root()

    def simulate(**fields: Any) -> Any:
        form = {"mode": "custom", "actions": "s3:GetObject\ns3:PutObject", "resources": "*"}
        return console.post("/console/simulator", {**form, **fields}, page="/console/simulator")

    rows = {"ctx_key": "aws:SourceIp", "ctx_type": "ip", "ctx_values": "10.1.2.3"}
    inside = simulate(policies=IP_POLICY, boundary=BOUNDARY, **rows)
    assert inside.status_code == 200, inside.text[:3000]
    results = re.findall(r'<td>(s3:\w+)</td><td>\*</td>\s*<td class="decision-(\w+)"', inside.text)
    assert results == [("s3:GetObject", "allowed"), ("s3:PutObject", "denied")]
    assert "<li>PolicyInputList.1 (" in inside.text
    assert 'value="10.1.2.3"' in inside.text  # the form keeps its entries
    outside = simulate(policies=IP_POLICY, **{**rows, "ctx_values": "192.0.2.1"})
    assert re.findall(r'class="decision-(\w+)"', outside.text) == ["denied", "denied"]
    missing = simulate(policies=f"[{IP_POLICY}, {BOUNDARY}]")
    assert re.findall(r'class="decision-(\w+)"', missing.text) == ["allowed", "allowed"]
    fenced = simulate(
        policies=IP_POLICY,
        boundary=BOUNDARY.replace("s3:*", "s3:PutObject"),
        **rows,
    )
    assert re.findall(r'class="decision-(\w+)"', fenced.text) == ["denied", "denied"]
    assert "Permissions boundary: does not allow" in fenced.text
    broken = simulate(policies='{"Version": "2012-10-17"')
    assert broken.status_code == 400
    assert 'id="simulator-error"' in broken.text


def test_policy_simulator_is_denied_without_permission(console: Console) -> None:
    make_user(console.services, "nobody")
    console.sign_in_user("nobody", PASSWORD)
    denied = console.post(
        "/console/simulator",
        {"mode": "custom", "policies": BOUNDARY, "actions": "s3:GetObject", "resources": "*"},
        page="/console/simulator",
    )
    assert denied.status_code == 400
    assert "is not authorized to perform: iam:SimulateCustomPolicy" in denied.text


# ----------------------------------------------- MFA for other users, root password


def allowed_user(console: Console, name: str, actions: list[str]) -> None:
    """A user with a console password, allowed only `actions` (on any resource)."""
    make_user(console.services, name)
    allow = {"Effect": "Allow", "Action": actions, "Resource": "*"}
    document = {"Version": "2012-10-17", "Statement": [allow]}
    iam(
        console.services,
        "PutUserPolicy",
        UserName=name,
        PolicyName="allowed",
        PolicyDocument=json.dumps(document),
    )


def _enrolment(answer_text: str) -> tuple[str, str]:
    seed = re.search(r'id="mfa-seed">([A-Z2-7=]+)<', answer_text)
    serial = re.search(r'name="serial" value="([^"]+)"', answer_text)
    assert seed and serial, answer_text[:2000]
    return seed.group(1), html.unescape(serial.group(1))


def _two_codes(seed: str) -> dict[str, str]:
    step = totp.step_at(dt.datetime.now(dt.UTC))
    return {"code1": totp.code_at(seed, step - 1), "code2": totp.code_at(seed, step)}


def test_an_administrator_enrols_and_removes_another_users_mfa(console: Console) -> None:
    make_user(console.services, "kim")
    console.sign_in_root()
    started = console.post("/console/users/kim/mfa/start", {}, page="/console/users/kim")
    assert started.status_code == 200
    assert 'id="mfa-qr"' in started.text and "kim's authenticator app" in started.text
    seed, serial = _enrolment(started.text)
    assert ":mfa/kim-" in serial
    token = re.search(r'name="csrf" value="([^"]+)"', started.text)
    assert token
    wrong = console.client.post(
        "/console/users/kim/mfa/enable",
        data={"csrf": token.group(1), "serial": serial, "code1": "000000", "code2": "000000"},
    )
    assert wrong.status_code == 400
    assert "Authentication code for device is not valid." in wrong.text
    assert iam(console.services, "ListVirtualMFADevices")["VirtualMFADevices"] == []
    seed, serial = _enrolment(
        console.post("/console/users/kim/mfa/start", {}, page="/console/users/kim").text
    )
    enabled = console.post(
        "/console/users/kim/mfa/enable",
        {"serial": serial, **_two_codes(seed)},
        page="/console/users/kim",
    )
    assert enabled.status_code == 200, enabled.text[:2000]
    assert "MFA device assigned." in enabled.text
    [device] = iam(console.services, "ListMFADevices", UserName="kim")["MFADevices"]
    assert device["SerialNumber"] == serial
    removed = console.post(
        "/console/credentials/mfa/deactivate",
        {"serial": serial, "user": "kim"},
        page="/console/users/kim",
    )
    assert removed.headers["location"] == "/console/users/kim"
    assert iam(console.services, "ListMFADevices", UserName="kim")["MFADevices"] == []
    assert iam(console.services, "ListVirtualMFADevices")["VirtualMFADevices"] == []


def test_enrolling_anothers_mfa_needs_enable_permission_on_that_user(console: Console) -> None:
    make_user(console.services, "kim")
    mfa = ["iam:CreateVirtualMFADevice", "iam:DeleteVirtualMFADevice"]
    allowed_user(console, "lee", ["iam:Get*", "iam:List*", *mfa])
    console.sign_in_user("lee", PASSWORD)
    seed, serial = _enrolment(
        console.post("/console/users/kim/mfa/start", {}, page="/console/users/kim").text
    )
    denied = console.post(
        "/console/users/kim/mfa/enable",
        {"serial": serial, **_two_codes(seed)},
        page="/console/users/kim",
    )
    assert denied.status_code == 400
    assert (
        f"User: arn:aws:iam::{ACCOUNT}:user/lee is not authorized to perform: "
        f"iam:EnableMFADevice on resource: arn:aws:iam::{ACCOUNT}:user/kim" in denied.text
    )
    assert iam(console.services, "ListMFADevices", UserName="kim")["MFADevices"] == []


def test_root_changes_its_password_and_its_other_sessions_end(console: Console) -> None:
    from starlette.testclient import TestClient

    from chamberlain.app import create_app

    from .conftest import BASE, ROOT_PASSWORD

    other = Console(TestClient(create_app(console.services), base_url=BASE), console.services)
    other.sign_in_root()
    console.sign_in_root()
    page = console.client.get("/console/credentials")
    assert "Root user password" in page.text and "8 to 128 characters" in page.text
    new = "Another-R00t!Passphrase"
    wrong = console.post(
        "/console/credentials/password",
        {"old_password": "not-it", "new_password": new, "confirm_password": new},
        page="/console/credentials",
    )
    assert wrong.status_code == 400 and "The old password is incorrect." in wrong.text
    weak = console.post(
        "/console/credentials/password",
        {"old_password": ROOT_PASSWORD, "new_password": "short", "confirm_password": "short"},
        page="/console/credentials",
    )
    assert weak.status_code == 400 and 'id="password-error"' in weak.text
    done = console.post(
        "/console/credentials/password",
        {"old_password": ROOT_PASSWORD, "new_password": new, "confirm_password": new},
        page="/console/credentials",
    )
    assert done.status_code == 200 and "Your password has been changed." in done.text
    assert console.client.get("/console/", follow_redirects=False).status_code == 200
    ended = other.client.get("/console/", follow_redirects=False)
    assert ended.headers["location"].endswith("/console/signin?ended=1")
    console.client.cookies.clear()
    assert console.sign_in_root(ROOT_PASSWORD).status_code == 401
    assert console.sign_in_root(new).status_code == 303
    events = _events(console)
    assert not [e for e in events if e["eventName"] == "ChangePassword"]
    changes = [e for e in events if e["eventName"] == "PasswordUpdated"]
    # refusals' events go through the group-commit writer: compare regardless of order
    assert sorted(e["responseElements"]["PasswordUpdated"] for e in changes) == [
        "Failure",
        "Failure",
        "Success",
    ]
    assert {(e["eventSource"], e["userIdentity"]["type"]) for e in changes} == {
        ("signin.amazonaws.com", "Root")
    }
    [changed] = [e for e in changes if e["responseElements"]["PasswordUpdated"] == "Success"]
    assert changed["userAgent"] == "testclient"
    text = json.dumps(events)
    assert new not in text and ROOT_PASSWORD not in text and "RootUser" not in text


def _events(console: Console) -> list[dict[str, Any]]:
    with console.services.store.unit_of_work(read_only=True) as uow:
        events = uow.events.lookup(ACCOUNT, limit=1000)
    return [json.loads(e.record) for e in sorted(events, key=lambda e: e.seq)]


# --------------------------------------------------- event history, policies list


def test_event_history_time_range_and_paging(console: Console) -> None:
    console.sign_in_root()
    for index in range(55):
        iam(console.services, "CreateGroup", GroupName=f"team-{index}")
    now = dt.datetime.now(dt.UTC)
    hour_ago = (now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    later = (now + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    found = console.client.get(
        f"/console/events?attribute=EventName&value=CreateGroup&start={hour_ago}&end={later}"
    )
    assert found.status_code == 200
    assert found.text.count("<td>CreateGroup</td>") == 50
    older = re.search(r'href="/console/events\?([^"]+)" id="older-events"', found.text)
    assert older
    rest = console.client.get("/console/events?" + html.unescape(older.group(1)))
    assert rest.text.count("<td>CreateGroup</td>") == 6  # with the account's Administrators
    assert 'id="older-events"' not in rest.text
    before = console.client.get(f"/console/events?end={hour_ago}")
    assert "No events." in before.text
    backwards = console.client.get(f"/console/events?start={later}&end={hour_ago}")
    assert backwards.status_code == 400
    assert "Start time must not be after end time." in backwards.text
    nonsense = console.client.get("/console/events?start=yesterday")
    assert nonsense.status_code == 400 and "YYYY-MM-DDTHH:MM" in nonsense.text


def test_policies_filter_by_name_and_scope_with_paging(console: Console) -> None:
    document = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
    )
    for index in range(30):
        name = f"Bucket{index:02d}"
        iam(console.services, "CreatePolicy", PolicyName=name, PolicyDocument=document)
    iam(console.services, "CreatePolicy", PolicyName="Other", PolicyDocument=document)
    console.sign_in_root()
    local = console.client.get("/console/policies")
    assert "31 policies" in local.text and 'id="next-page"' in local.text
    assert "Bucket00" in local.text and "Bucket29" not in local.text
    second = console.client.get("/console/policies?scope=Local&start=25")
    assert "Bucket29" in second.text and "Bucket00" not in second.text
    found = console.client.get("/console/policies?q=bucket1")
    assert "10 policies" in found.text and "Other" not in found.text
    aws = console.client.get("/console/policies?scope=AWS&q=iamreadonly")
    assert "1 policy<" in aws.text and ">IAMReadOnlyAccess</a>" in aws.text
    assert "Bucket" not in aws.text


# ------------------------------------------------------------------ access advisor


def test_access_advisor_shows_the_services_and_actions_a_user_used(console: Console) -> None:
    allowed_user(console, "nina", ["iam:ListUsers", "iam:GetUser", "sts:GetCallerIdentity"])
    with console.services.store.unit_of_work(read_only=True) as uow:
        user = uow.repo(User).get(ACCOUNT, "nina")
    assert user is not None
    meta = RequestMeta(request_id="n", now=dt.datetime.now(dt.UTC).replace(microsecond=0))
    nina = user_caller(user)
    execute(console.services, nina, meta, "iam", "ListUsers", {})
    console.services.group_commit.flush()
    console.sign_in_root()
    page = console.client.get("/console/users/nina")
    assert 'href="/console/users/nina/access-advisor"' in page.text
    advisor = console.client.get("/console/users/nina/access-advisor")
    assert advisor.status_code == 200, advisor.text[:1500]
    iam_row = re.search(r'<tr data-service="iam">(.*?)</tr>', advisor.text, re.S)
    sts_row = re.search(r'<tr data-service="sts">(.*?)</tr>', advisor.text, re.S)
    assert iam_row and sts_row
    assert "<code>ListUsers</code>" in iam_row.group(1)
    assert "GetUser</code>" not in iam_row.group(1)  # allowed, never called
    assert "Not accessed in the tracking period" in sts_row.group(1)
    # a role's page has its advisor too
    iam(console.services, "CreateRole", RoleName="ops", AssumeRolePolicyDocument=TRUST)
    assert console.client.get("/console/roles/ops/access-advisor").status_code == 200


def test_access_advisor_shows_access_denied(console: Console) -> None:
    allowed_user(console, "lee", ["iam:Get*", "iam:List*"])
    console.sign_in_user("lee", PASSWORD)
    denied = console.client.get("/console/users/admin/access-advisor")
    assert denied.status_code == 403
    assert "iam:GenerateServiceLastAccessedDetails on resource" in denied.text


# ------------------------------------------------- creating roles, instance profiles


def test_create_a_role_for_a_service_with_a_policy(console: Console) -> None:
    console.sign_in_root()
    form = console.client.get("/console/roles/new")
    assert form.status_code == 200 and 'data-kind="trust"' in form.text
    created = console.post(
        "/console/roles/new",
        {
            "kind": "service",
            "trust_service": "ec2.amazonaws.com",
            "name": "web-server",
            "description": "Front end",
            "max_hours": "4",
            "policies": "arn:aws:iam::aws:policy/ReadOnlyAccess\n",
        },
        page="/console/roles/new",
    )
    assert created.status_code == 303
    assert created.headers["location"] == "/console/roles/web-server"
    role = iam(console.services, "GetRole", RoleName="web-server")["Role"]
    trust = json.loads(role["AssumeRolePolicyDocument"])
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert role["MaxSessionDuration"] == 4 * 3600 and role["Description"] == "Front end"
    attached = iam(console.services, "ListAttachedRolePolicies", RoleName="web-server")
    assert [p["PolicyName"] for p in attached["AttachedPolicies"]] == ["ReadOnlyAccess"]


def test_create_role_shows_template_and_aws_errors(console: Console) -> None:
    console.sign_in_root()
    bad_template = console.post(
        "/console/roles/new",
        {"kind": "account", "trust_account": "42", "name": "x"},
        page="/console/roles/new",
    )
    assert bad_template.status_code == 400
    assert "The account ID must be 12 digits." in bad_template.text
    assert 'value="42"' in bad_template.text  # the form keeps what was typed
    bad_json = console.post(
        "/console/roles/new",
        {
            "kind": "custom",
            "document": TRUST.replace("sts:AssumeRole", "s3:GetObject"),
            "name": "y",
        },
        page="/console/roles/new",
    )
    assert bad_json.status_code == 400
    assert "Trust Policy statement actions can only be" in bad_json.text
    iam(console.services, "CreateRole", RoleName="taken", AssumeRolePolicyDocument=TRUST)
    taken = console.post(
        "/console/roles/new",
        {"kind": "custom", "document": TRUST, "name": "taken"},
        page="/console/roles/new",
    )
    assert taken.status_code == 400
    assert "Role with name taken already exists." in taken.text


def test_create_role_is_denied_without_permission(console: Console) -> None:
    allowed_user(console, "lee", ["iam:Get*", "iam:List*"])
    console.sign_in_user("lee", PASSWORD)
    denied = console.post(
        "/console/roles/new", {"kind": "account", "name": "sneaky"}, page="/console/roles/new"
    )
    assert denied.status_code == 400
    assert f"iam:CreateRole on resource: arn:aws:iam::{ACCOUNT}:role/sneaky" in denied.text


def test_instance_profile_create_add_remove_and_delete(console: Console) -> None:
    iam(console.services, "CreateRole", RoleName="app", AssumeRolePolicyDocument=TRUST)
    console.sign_in_root()
    made = console.post("/console/instance-profiles", {"name": "app-hosts"})
    assert made.headers["location"] == "/console/instance-profiles/app-hosts"
    page = "/console/instance-profiles/app-hosts"
    console.post(page, {"do": "add", "role": "app"})
    profile = iam(console.services, "GetInstanceProfile", InstanceProfileName="app-hosts")
    assert [r["RoleName"] for r in profile["InstanceProfile"]["Roles"]] == ["app"]
    assert (
        'href="/console/instance-profiles/app-hosts"'
        in console.client.get("/console/roles/app").text
    )
    listed = console.client.get("/console/instance-profiles")
    assert "app-hosts" in listed.text and 'href="/console/roles/app"' in listed.text
    again = console.post("/console/instance-profiles", {"name": "app-hosts"})
    assert again.status_code == 400 and "Instance Profile app-hosts already exists." in again.text
    console.post(page, {"do": "remove", "role": "app"})
    profile = iam(console.services, "GetInstanceProfile", InstanceProfileName="app-hosts")
    assert profile["InstanceProfile"]["Roles"] == []
    console.post(page, {"do": "add", "role": "app"})
    deleted = console.post(page, {"do": "delete", "role": "app"})
    assert deleted.headers["location"] == "/console/instance-profiles"
    assert iam(console.services, "ListInstanceProfiles")["InstanceProfiles"] == []
    assert iam(console.services, "GetRole", RoleName="app")["Role"]["RoleName"] == "app"
