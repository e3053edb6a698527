"""The web console in a real browser: Chromium (Debian's package, driven by Playwright)
against a real Chamberlain server on 127.0.0.1, on SQLite and on PostgreSQL.

Screenshots of each main page land in test-artifacts/console/ (gitignored).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
import sqlalchemy

from chamberlain.console.auth import INCORRECT, THROTTLED

from .conftest import ACCOUNT, Server, init_and_serve, run_cli, stop

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
ROOT_EMAIL = "owner@example.com"
ROOT_PASSWORD = "Root-Passw0rd!Console"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "Start-Passw0rd!2026"


def _missing(what: str) -> str | None:
    """Outside CI a missing browser or checker skips its tests; in CI (CI set) they fail."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the console's browser tests, but {what}")
    return what


pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists()
    and bool(_missing("Debian's chromium is missing (apt-get install chromium)")),
    reason="needs Debian's chromium (apt-get install chromium)",
)


#: Per server data dir: the --database-url arguments and environment its CLI needs.
DATABASES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def console_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    base = tmp_path_factory.mktemp(f"console-{request.param}")
    password_file = base / "root-password"
    password_file.write_text(ROOT_PASSWORD)
    env: dict[str, str] = {}
    database: tuple[str, ...] = ()
    schema = f"chamberlain_console_{uuid.uuid4().hex[:10]}"
    if request.param == "postgresql":
        env = {"CHAMBERLAIN_DATABASE_SCHEMA": schema}
        database = ("--database-url", PG_URL)
    DATABASES[str(base / "data")] = (database, env)
    running = init_and_serve(
        base,
        root_access_key=False,
        init_args=(
            "--root-email",
            ROOT_EMAIL,
            "--root-password-file",
            str(password_file),
            *database,
        ),
        extra=database,
        env=env,
    )
    try:
        yield running
    finally:
        stop(running)
        if request.param == "postgresql":
            engine = sqlalchemy.create_engine(
                PG_URL.replace("postgresql://", "postgresql+psycopg://")
            )
            with engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def shot(page: Any, server: Server, name: str) -> None:
    backend = "postgresql" if "console-postgresql" in str(server.data_dir) else "sqlite"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{backend}.png"), full_page=True)


def totp_codes(seed: str, *offsets: int) -> list[str]:
    otp = pyotp.TOTP(seed)
    now = dt.datetime.now(dt.UTC)
    return [otp.at(now + dt.timedelta(seconds=30 * offset)) for offset in offsets]


def console_user(server: Server, name: str, *, admin: bool = True, reset: bool = False) -> str:
    """A user with a console password (in Administrators when `admin`), made over the API."""
    iam = server.client("iam")
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD, PasswordResetRequired=reset)
    if admin:
        iam.add_user_to_group(UserName=name, GroupName="Administrators")
    return name


def sign_in_user(page: Any, server: Server, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{server.endpoint}/console/signin?account={ACCOUNT}")
    form = page.locator("#user-form")
    form.get_by_label("IAM user name").fill(name)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()


def sign_in_root(page: Any, server: Server) -> None:
    page.goto(f"{server.endpoint}/console/signin")
    form = page.locator("#root-form")
    form.get_by_label("Root user email address").fill(ROOT_EMAIL)
    form.get_by_label("Password").fill(ROOT_PASSWORD)
    form.get_by_role("button", name="Sign in").click()


def enrol_mfa(page: Any, server: Server | None = None) -> str:
    """On My security credentials: assign a device with two consecutive codes."""
    page.get_by_role("button", name="Assign MFA device").click()
    sync_api.expect(page.locator("#mfa-qr")).to_be_visible()
    if server is not None:
        shot(page, server, "mfa-enrol")
    seed = page.locator("#mfa-seed").inner_text().strip()
    first, second = totp_codes(seed, -2, -1)  # the current code stays fresh for sign-in
    page.get_by_label("MFA code 1").fill(first)
    page.get_by_label("MFA code 2 (the next code)").fill(second)
    page.get_by_role("button", name="Add MFA").click()
    sync_api.expect(page.get_by_text("MFA device assigned.", exact=True)).to_be_visible()
    return seed


def test_root_signs_in_enables_mfa_and_the_finding_goes_away(
    page: Any, console_server: Server
) -> None:
    expect = sync_api.expect
    page.goto(f"{console_server.endpoint}/console/signin")
    shot(page, console_server, "signin")
    sign_in_root(page, console_server)
    expect(page.locator("#whoami")).to_have_text(f"root @ {ACCOUNT}")
    finding = page.locator('[data-check="root-mfa"]')
    expect(finding).to_be_visible()
    # most severe first
    assert page.locator(".finding .severity").first.text_content() == "critical"
    shot(page, console_server, "dashboard")
    finding.get_by_role("link", name="Enable MFA").click()
    seed = enrol_mfa(page, console_server)
    shot(page, console_server, "credentials")
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("#findings")).to_be_visible()
    expect(page.locator('[data-check="root-mfa"]')).to_have_count(0)
    # signing in again takes the code
    page.get_by_role("button", name="Sign out").click()
    sign_in_root(page, console_server)
    page.get_by_label("MFA code from your authenticator app").fill(totp_codes(seed, 0)[0])
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#whoami")).to_have_text(f"root @ {ACCOUNT}")
    # both sign-ins are ConsoleLogin events, the second with MFA
    page.goto(f"{console_server.endpoint}/console/events?attribute=EventName&value=ConsoleLogin")
    rows = page.locator("#events-table tbody tr")
    expect(rows).to_have_count(2)
    newest = page.locator("#events-table pre").first.text_content() or ""
    assert '"MFAUsed":"Yes"' in newest and '"ConsoleLogin":"Success"' in newest
    shot(page, console_server, "events")


def test_new_user_in_a_group_changes_password_and_enrols_mfa(
    page: Any, console_server: Server
) -> None:
    expect = sync_api.expect
    console_user(console_server, "people-admin")
    sign_in_user(page, console_server, "people-admin")
    page.get_by_role("link", name="Users").click()
    page.get_by_role("link", name="Create user").click()
    page.get_by_label("User name").fill("newhire")
    page.get_by_label("Provide access to the console").check()
    page.get_by_role("radio", name="Custom password").check()
    page.locator("#password").fill(PASSWORD)
    page.get_by_label("User must create a new password at next sign-in").check()
    page.get_by_label("Administrators").check()
    page.get_by_label("Tags").fill("team=platform")
    shot(page, console_server, "user-create")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("heading", name="User newhire created")).to_be_visible()
    page.get_by_role("link", name="View user").click()
    expect(page.locator("#user-groups")).to_contain_text("Administrators")
    expect(page.get_by_text("must be changed at next sign-in")).to_be_visible()
    shot(page, console_server, "user")
    page.get_by_role("link", name="Users").click()
    expect(page.locator("#users-table")).to_contain_text("newhire")
    shot(page, console_server, "users")
    page.get_by_role("button", name="Sign out").click()

    sign_in_user(page, console_server, "newhire")
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    page.get_by_label("Old password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("Brand-New-Passw0rd!")
    page.get_by_label("Retype new password").fill("Brand-New-Passw0rd!")
    page.get_by_role("button", name="Confirm password change").click()
    expect(page.locator("#whoami")).to_have_text(f"newhire @ {ACCOUNT}")
    page.locator("#whoami").click()
    enrol_mfa(page)
    devices = console_server.client("iam").list_mfa_devices(UserName="newhire")["MFADevices"]
    assert len(devices) == 1
    profile = console_server.client("iam").get_login_profile(UserName="newhire")["LoginProfile"]
    assert profile["PasswordResetRequired"] is False


def test_key_rotation_shows_the_secret_once(page: Any, console_server: Server) -> None:
    expect = sync_api.expect
    console_user(console_server, "rotator")
    sign_in_user(page, console_server, "rotator")
    page.locator("#whoami").click()
    page.get_by_role("button", name="Create access key").click()
    key_id = page.locator("#new-key-id").inner_text()
    secret = page.locator("#new-key-secret").inner_text()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download .csv file").click()
    rows = list(csv.reader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert rows == [["Access key ID", "Secret access key"], [key_id, secret]]
    shot(page, console_server, "key-created")
    me = console_server.client_with_keys("sts", key_id, secret).get_caller_identity()
    assert me["Arn"].endswith(":user/rotator")
    page.get_by_role("link", name="Done").click()
    # the secret is never shown again
    expect(page.locator(f'[data-key="{key_id}"]')).to_be_visible()
    assert secret not in page.content()
    # rotate: a second key, then the first deactivated and deleted
    page.get_by_role("button", name="Create access key").click()
    second = page.locator("#new-key-id").inner_text()
    page.get_by_role("link", name="Done").click()
    first_row = page.locator(f'[data-key="{key_id}"]')
    first_row.get_by_role("button", name="Deactivate").click()
    expect(page.locator(f'[data-key="{key_id}"]')).to_contain_text("Inactive")
    page.locator(f'[data-key="{key_id}"]').get_by_role("button", name="Delete").click()
    expect(page.locator(f'[data-key="{key_id}"]')).to_have_count(0)
    expect(page.locator(f'[data-key="{second}"]')).to_contain_text("Active")
    keys = console_server.client("iam").list_access_keys(UserName="rotator")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [second]


def test_user_without_permission_sees_access_denied(page: Any, console_server: Server) -> None:
    console_user(console_server, "intern", admin=False)
    sign_in_user(page, console_server, "intern")
    page.get_by_role("link", name="Users").click()
    denied = page.locator("#access-denied")
    sync_api.expect(denied).to_have_text(
        f"User: arn:aws:iam::{ACCOUNT}:user/intern is not authorized to perform: "
        f"iam:ListUsers on resource: arn:aws:iam::{ACCOUNT}:user/ because no "
        "identity-based policy allows the iam:ListUsers action"
    )
    shot(page, console_server, "access-denied")


def test_a_forged_csrf_token_is_refused(page: Any, console_server: Server) -> None:
    console_user(console_server, "csrf-target")
    sign_in_user(page, console_server, "csrf-target")
    page.get_by_role("link", name="Account settings").click()
    page.locator('form[action$="/settings/alias"] input[name=csrf]').evaluate(
        "element => { element.value = 'forged'; }"
    )
    page.get_by_label("Alias (empty: remove)").fill("forged-alias")
    page.get_by_role("button", name="Save alias").click()
    sync_api.expect(page.get_by_role("heading", name="Request refused")).to_be_visible()
    aliases = console_server.client("iam").list_account_aliases()["AccountAliases"]
    assert aliases == []
    # a request from outside the page (no token at all) is refused too
    answer = page.request.post(
        f"{console_server.endpoint}/console/settings/alias", form={"alias": "forged-alias"}
    )
    assert answer.status == 403


def test_repeated_wrong_passwords_lock_the_user_out(page: Any, console_server: Server) -> None:
    """Five wrong passwords in the browser, then even the right one is refused; another
    user signing in from the same address is not locked by this user's count."""
    console_user(console_server, "lockout-target")
    for _ in range(5):
        sign_in_user(page, console_server, "lockout-target", "Wrong-Passw0rd!2026")
        sync_api.expect(page.get_by_text(INCORRECT)).to_be_visible()
    sign_in_user(page, console_server, "lockout-target")
    sync_api.expect(page.get_by_text(THROTTLED)).to_be_visible()
    assert page.locator("#whoami").count() == 0
    shot(page, console_server, "lockout")
    console_user(console_server, "lockout-bystander")
    sign_in_user(page, console_server, "lockout-bystander")
    sync_api.expect(page.locator("#whoami")).to_be_visible()


BAD_POLICY = """{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
    {"Effect": "Allw", "Action": "s3:PutObject", "Resource": "*"}
  ]
}"""


def test_policy_editor_shows_the_problem_then_saves_the_fix(
    page: Any, console_server: Server
) -> None:
    expect = sync_api.expect
    console_user(console_server, "policy-author")
    sign_in_user(page, console_server, "policy-author")
    page.get_by_role("link", name="Policies").click()
    page.get_by_role("link", name="Create policy").click()
    expect(page.locator("#validation")).to_have_text("No problems found.")
    page.get_by_label("Policy name").fill("ReadWriteObjects")
    editor = page.get_by_label("Policy document (JSON)")
    editor.fill(BAD_POLICY)
    expect(page.locator("#validation")).to_contain_text(
        "Line 5, column 5: Syntax errors in policy."
    )
    shot(page, console_server, "policy-editor")
    # the server refuses it too, with IAM's message
    page.get_by_role("button", name="Create policy").click()
    expect(page.locator("#policy-error")).to_contain_text("Syntax errors in policy.")
    page.get_by_label("Policy document (JSON)").fill(BAD_POLICY.replace("Allw", "Allow"))
    expect(page.locator("#validation")).to_have_text("No problems found.")
    page.get_by_role("button", name="Create policy").click()
    expect(page.get_by_role("heading", name="Policy ReadWriteObjects")).to_be_visible()
    expect(page.locator("#default-version")).to_have_text("v1")
    # a new version through the same editor; a JSON slip is located by line and column
    page.get_by_label("Policy document (JSON)").fill('{"Version": "2012-10-17",\n"Statement": [}')
    expect(page.locator("#validation")).to_contain_text("Line 2, column 15:")
    page.get_by_label("Policy document (JSON)").fill(
        BAD_POLICY.replace("Allw", "Deny").replace("s3:PutObject", "s3:DeleteObject")
    )
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#default-version")).to_have_text("v2")
    arn = f"arn:aws:iam::{ACCOUNT}:policy/ReadWriteObjects"
    version = console_server.client("iam").get_policy_version(PolicyArn=arn, VersionId="v2")
    assert "s3:DeleteObject" in str(version["PolicyVersion"]["Document"])


def test_pages_fit_a_phone_screen(browser: Any, console_server: Server) -> None:
    """Usable at 375 px wide: no page scrolls sideways (wide tables scroll in their box)."""
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    try:
        console_user(console_server, "on-the-go")
        sign_in_user(page, console_server, "on-the-go")
        sync_api.expect(page.locator("#whoami")).to_be_visible()
        for path in (
            *("/", "/users", "/credentials", "/policies", "/settings", "/report", "/events"),
            *("/roles/new", "/simulator", "/instance-profiles", "/users/admin/access-advisor"),
        ):
            page.goto(f"{console_server.endpoint}/console{path}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, f"{path} is {width}px wide"
        page.goto(f"{console_server.endpoint}/console/")
        shot(page, console_server, "dashboard-375px")
    finally:
        context.close()


AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
MAIN_PAGES = {
    "dashboard": "/",
    "users": "/users",
    "user-new": "/users/new",
    "groups": "/groups",
    "group": "/groups/Administrators",
    "roles": "/roles",
    "policies": "/policies",
    "policy-new": "/policies/new",
    "settings": "/settings",
    "report": "/report",
    "events": "/events",
    "simulator": "/simulator",
    "my-credentials": "/credentials",
    "role-new": "/roles/new",
    "instance-profiles": "/instance-profiles",
    "access-advisor": "/users/admin/access-advisor",
}


def test_every_page_renders_for_an_administrator(page: Any, console_server: Server) -> None:
    console_user(console_server, "page-tour")
    sign_in_user(page, console_server, "page-tour")
    sync_api.expect(page.locator("#whoami")).to_be_visible()
    for name, path in MAIN_PAGES.items():
        answer = page.goto(f"{console_server.endpoint}/console{path}")
        assert answer is not None and answer.status == 200, path
        assert page.locator(".error").count() == 0, (
            f"{path}: {page.locator('.error').all_inner_texts()}"
        )
        shot(page, console_server, f"page-{name}")


@pytest.mark.skipif(
    not AXE.exists() and bool(_missing("axe-core is missing (npm ci --prefix tests/e2e/axe)")),
    reason="needs axe-core: npm ci --prefix tests/e2e/axe",
)
def test_no_serious_accessibility_violations(browser: Any, console_server: Server) -> None:
    """axe-core (served from disk, injected with the page's CSP bypassed for the checker
    only) finds no serious or critical violation on the sign-in page or any main page."""
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    try:
        problems: dict[str, list[str]] = {}

        def audit(name: str) -> None:
            page.add_script_tag(path=str(AXE))
            found = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']}))"
                ".violations.filter(v => v.impact === 'serious' || v.impact === 'critical')"
                ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
            )
            if found:
                problems[name] = found

        page.goto(f"{console_server.endpoint}/console/signin")
        audit("signin")
        console_user(console_server, "a11y-check")
        sign_in_user(page, console_server, "a11y-check")
        sync_api.expect(page.locator("#whoami")).to_be_visible()
        for name, path in MAIN_PAGES.items():
            page.goto(f"{console_server.endpoint}/console{path}")
            audit(name)
        assert problems == {}
    finally:
        context.close()


# ------------------------------------------------------------- later additions


def test_an_administrator_enrols_another_users_mfa_and_removes_it(
    page: Any, console_server: Server
) -> None:
    expect = sync_api.expect
    console_user(console_server, "mfa-admin")
    console_user(console_server, "mfa-target", admin=False)
    sign_in_user(page, console_server, "mfa-admin")
    page.goto(f"{console_server.endpoint}/console/users/mfa-target")
    enrol_mfa(page)  # on the user's page, for that user
    iam = console_server.client("iam")
    [device] = iam.list_mfa_devices(UserName="mfa-target")["MFADevices"]
    page.locator("#mfa-table").get_by_role("button", name="Remove").click()
    expect(page.locator("#mfa-table")).to_contain_text("No MFA device assigned.")
    assert iam.list_mfa_devices(UserName="mfa-target")["MFADevices"] == []
    serials = [d["SerialNumber"] for d in iam.list_virtual_mfa_devices()["VirtualMFADevices"]]
    assert device["SerialNumber"] not in serials


def test_create_a_role_from_a_template_with_an_instance_profile(
    page: Any, console_server: Server
) -> None:
    expect = sync_api.expect
    console_user(console_server, "role-maker")
    sign_in_user(page, console_server, "role-maker")
    page.get_by_role("link", name="Roles").click()
    page.get_by_role("link", name="Create role").click()
    page.get_by_role("radio", name="An AWS service").check()
    page.get_by_label("Service principal").fill("ec2.amazonaws.com")
    page.get_by_label("Role name").fill("web-hosts")
    page.get_by_label("Maximum session duration (hours)").select_option("2")
    shot(page, console_server, "role-create")
    page.get_by_role("button", name="Create role").click()
    expect(page.get_by_role("heading", name="Role web-hosts")).to_be_visible()
    role = console_server.client("iam").get_role(RoleName="web-hosts")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"
    }
    assert role["MaxSessionDuration"] == 7200
    page.locator("#role-profiles").get_by_role("link", name="instance profiles").click()
    page.get_by_label("Instance profile name").fill("web-hosts-profile")
    page.get_by_role("button", name="Create instance profile").click()
    expect(page.get_by_role("heading", name="Instance profile web-hosts-profile")).to_be_visible()
    page.get_by_label("Add role").select_option("web-hosts")
    page.get_by_role("button", name="Add role").click()
    expect(page.locator("#profile-roles")).to_contain_text("web-hosts")
    shot(page, console_server, "instance-profile")
    page.locator("#profile-roles").get_by_role("link", name="web-hosts").click()
    expect(page.locator("#role-profiles")).to_contain_text("web-hosts-profile")
    page.get_by_role("link", name="Access advisor (services last accessed)").click()
    expect(page.get_by_role("heading", name="Access advisor: role web-hosts")).to_be_visible()
    page.goto(f"{console_server.endpoint}/console/instance-profiles/web-hosts-profile")
    page.get_by_role("button", name="Delete instance profile").click()
    expect(page.get_by_role("heading", name="Instance profiles")).to_be_visible()
    profiles = console_server.client("iam").list_instance_profiles()["InstanceProfiles"]
    assert "web-hosts-profile" not in [p["InstanceProfileName"] for p in profiles]


def test_access_advisor_shows_what_a_user_used(page: Any, console_server: Server) -> None:
    expect = sync_api.expect
    console_user(console_server, "advised")
    iam = console_server.client("iam")
    key = iam.create_access_key(UserName="advised")["AccessKey"]
    own = console_server.client_with_keys("iam", key["AccessKeyId"], key["SecretAccessKey"])
    own.tag_user(
        UserName="advised", Tags=[{"Key": "team", "Value": "ops"}]
    )  # a write: recorded at once
    sign_in_user(page, console_server, "advised")
    page.goto(f"{console_server.endpoint}/console/users/advised")
    page.get_by_role("link", name="Access advisor (services last accessed)").click()
    row = page.locator('#advisor-table tr[data-service="iam"]')
    expect(row).to_contain_text("TagUser")
    expect(page.locator('#advisor-table tr[data-service="cloudtrail"]')).to_contain_text(
        "Not accessed in the tracking period"
    )
    shot(page, console_server, "access-advisor")


def test_simulator_with_a_pasted_policy_and_a_context_entry(
    page: Any, console_server: Server
) -> None:
    expect = sync_api.expect
    console_user(console_server, "simulating")
    sign_in_user(page, console_server, "simulating")
    page.get_by_role("link", name="Policy simulator").click()
    page.get_by_role("radio", name="Only the policies pasted below").check()
    page.get_by_label("Identity policies (one JSON document, or a JSON array of documents)").fill(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",'
        ' "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}'
    )
    page.get_by_label("Actions (one a line, e.g. s3:GetObject)").fill("s3:GetObject")
    page.get_by_label("Key 1").fill("aws:SourceIp")
    page.get_by_label("Type 1").select_option("ip")
    page.get_by_label("Values 1").fill("10.9.8.7")
    page.get_by_role("button", name="Run simulation").click()
    results = page.locator("#simulator-results")
    expect(results).to_contain_text("allowed")
    expect(results).to_contain_text("PolicyInputList.1")
    shot(page, console_server, "simulator-custom")
    page.get_by_label("Values 1").fill("192.0.2.1")
    page.get_by_role("button", name="Run simulation").click()
    expect(page.locator("#simulator-results")).to_contain_text("implicitDeny")


def test_event_history_by_time_range_and_policies_by_name(
    page: Any, console_server: Server
) -> None:
    expect = sync_api.expect
    console_user(console_server, "historian")
    sign_in_user(page, console_server, "historian")
    page.get_by_role("link", name="Event history").click()
    now = dt.datetime.now(dt.UTC)
    page.get_by_label("Lookup attribute").select_option("Username")
    page.get_by_label("Value").fill("historian")
    page.get_by_label("From (UTC)").fill((now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("To (UTC)").fill((now + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#events-table")).to_contain_text("ConsoleLogin")
    shot(page, console_server, "events-time-range")
    page.get_by_label("From (UTC)").fill((now + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("To (UTC)").fill((now + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#events-table")).to_contain_text("No events.")
    page.get_by_role("link", name="Policies").click()
    page.get_by_label("Type").select_option("AWS")
    page.get_by_label("Policy name contains").fill("IAMReadOnly")
    page.get_by_role("button", name="Filter").click()
    table = page.locator("#policies-table")
    expect(table.locator("caption")).to_have_text("1 policy")
    expect(table).to_contain_text("IAMReadOnlyAccess")
    shot(page, console_server, "policies-filtered")


def test_root_changes_its_password_and_its_other_session_ends(
    browser: Any, console_server: Server, tmp_path: Path
) -> None:
    """In an account of its own (the module's root user may have MFA by now)."""
    expect = sync_api.expect
    account = f"5{uuid.uuid4().int % 10**11:011d}"
    email = f"root-{account}@example.com"
    password_file = tmp_path / "root-password"
    password_file.write_text(ROOT_PASSWORD)
    database, env = DATABASES[str(console_server.data_dir)]
    done = run_cli(
        *("account", "create", "--data-dir", str(console_server.data_dir), *database),
        *("--account-id", account, "--admin-user", "admin"),
        *("--credentials-file", str(tmp_path / "credentials"), "--profile", "other"),
        *("--root-email", email, "--root-password-file", str(password_file)),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    first, second = browser.new_context(), browser.new_context()
    try:
        pages = [first.new_page(), second.new_page()]
        for opened in pages:
            opened.goto(f"{console_server.endpoint}/console/signin")
            form = opened.locator("#root-form")
            form.get_by_label("Root user email address").fill(email)
            form.get_by_label("Password").fill(ROOT_PASSWORD)
            form.get_by_role("button", name="Sign in").click()
            expect(opened.locator("#whoami")).to_have_text(f"root @ {account}")
        mine = pages[0]
        mine.locator("#whoami").click()
        expect(mine.get_by_role("heading", name="Root user password")).to_be_visible()
        expect(mine.locator(".policy")).to_contain_text("8 to 128 characters")
        mine.get_by_label("Current password").fill(ROOT_PASSWORD)
        mine.get_by_label("New password", exact=True).fill("Changed-R00t!Password")
        mine.get_by_label("Retype new password").fill("Changed-R00t!Password")
        mine.get_by_role("button", name="Change password").click()
        expect(mine.get_by_text("Your password has been changed.")).to_be_visible()
        shot(mine, console_server, "root-password")
        mine.get_by_role("link", name="Dashboard").click()
        expect(mine.locator("#whoami")).to_have_text(f"root @ {account}")
        pages[1].reload()
        expect(pages[1].get_by_text("Your session ended. Sign in again.")).to_be_visible()
    finally:
        first.close()
        second.close()


def test_sign_out_revokes_a_copied_session_cookie(browser: Any, console_server: Server) -> None:
    expect = sync_api.expect
    console_user(console_server, "leaver")
    context = browser.new_context()
    thief = browser.new_context()
    try:
        page = context.new_page()
        sign_in_user(page, console_server, "leaver")
        expect(page.locator("#whoami")).to_be_visible()
        copied = [c for c in context.cookies() if c["name"] == "chamberlain-console"]
        assert copied
        thief.add_cookies(copied)
        stolen = thief.new_page()
        stolen.goto(f"{console_server.endpoint}/console/")
        expect(stolen.locator("#whoami")).to_have_text(f"leaver @ {ACCOUNT}")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        thief.clear_cookies()
        thief.add_cookies(copied)
        stolen.goto(f"{console_server.endpoint}/console/")
        expect(stolen.get_by_text("Your session ended. Sign in again.")).to_be_visible()
    finally:
        context.close()
        thief.close()
