"""The console's pages: each reads and changes IAM only through `Page.call`, as the
signed-in principal, and shows AWS's error message when a call fails. The one exception
is the root user's password, which no IAM operation changes: the sign-in service's
`change_root_password` (ops/iam/login.py), recorded as its PasswordUpdated event."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import secrets
import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from chamberlain.console.policy_text import describe_policy
from chamberlain.console.trust_templates import WELL_KNOWN, TemplateError, trust_policy
from chamberlain.console.web import PREFIX, CallFailed, Page, allowed, now, redirect
from chamberlain.ops.core.accounts import generate_root_password
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.iam.login import change_root_password

PAGE_SIZE = 25
#: The password policy the dashboard's one-click fix sets (CIS AWS Foundations v3.0.0
#: 1.8 and 1.9, and v1.2.0 1.5-1.7 and 1.11).
RECOMMENDED_POLICY = {
    "MinimumPasswordLength": 14,
    "RequireSymbols": True,
    "RequireNumbers": True,
    "RequireUppercaseCharacters": True,
    "RequireLowercaseCharacters": True,
    "AllowUsersToChangePassword": True,
    "MaxPasswordAge": 90,
    "PasswordReusePrevention": 24,
}
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def age_days(moment: Any, at: dt.datetime) -> int | None:
    return (at - moment).days if isinstance(moment, dt.datetime) else None


def when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if isinstance(moment, dt.datetime) else "Never"


# ------------------------------------------------------------------------ dashboard


def _findings(page: Page) -> list[dict[str, Any]]:
    from chamberlain.advisor import live
    from chamberlain.advisor.runner import run_checks

    report = run_checks(live.load(page.services, page.principal.account_id, now()))
    found = [f.as_json() for f in report.findings]
    found.sort(key=lambda f: SEVERITY_ORDER.get(f["severity"], 9))
    return found


def _fix(page: Page, finding: dict[str, Any]) -> dict[str, str] | None:
    """The one-click fix of a finding, where there is one: a form action or a link."""
    check = finding["check"]
    if check == "root-access-key" and page.principal.user_name is None:
        return {"action": "/dashboard/fix/root-key", "label": "Delete root access keys"}
    if check == "root-mfa" and page.principal.user_name is None:
        return {"link": "/credentials#mfa", "label": "Enable MFA"}
    if check == "password-policy":
        return {"action": "/dashboard/fix/password-policy", "label": "Set recommended policy"}
    if check in ("credential-unused", "two-active-keys", "access-key-old", "access-key-at-setup"):
        name = finding["resource"].rsplit("/", 1)[-1]
        return {"link": f"/users/{quote(name)}#keys", "label": "Review keys"}
    if check in ("user-console-no-mfa", "privileged-no-mfa"):
        name = finding["resource"].rsplit("/", 1)[-1]
        if page.principal.user_name == name:
            return {"link": "/credentials#mfa", "label": "Enable MFA"}
        return {"link": f"/users/{quote(name)}", "label": "Open user"}
    return None


async def dashboard(page: Page) -> Response:
    summary, error = await page.try_call("GetAccountSummary")
    account = page.principal.account_id
    aliases, _ = await page.try_call("ListAccountAliases")
    alias = (aliases or {}).get("AccountAliases") or []
    base = f"{page.request.url.scheme}://{page.request.url.netloc}"
    sign_in_url = f"{base}/console/signin?account={quote(alias[0] if alias else account)}"
    findings: list[dict[str, Any]] | None = None
    may_audit = await run_in_threadpool(allowed, page, "iam:GetAccountAuthorizationDetails", "*")
    if may_audit:
        findings = await run_in_threadpool(_findings, page)
        for finding in findings:
            finding["fix"] = _fix(page, finding)
    counts = (summary or {}).get("SummaryMap", {})
    return page.render(
        "dashboard.html",
        counts=counts,
        error=error,
        sign_in_url=sign_in_url,
        findings=findings,
        flash=page.flash,
    )


async def fix_root_key(page: Page) -> Response:
    keys, error = await page.try_call("ListAccessKeys")
    for key in (keys or {}).get("AccessKeyMetadata", []):
        _, error = await page.try_call("DeleteAccessKey", {"AccessKeyId": key["AccessKeyId"]})
        if error:
            break
    return redirect(page.with_flash("/", error))


async def fix_password_policy(page: Page) -> Response:
    _, error = await page.try_call("UpdateAccountPasswordPolicy", RECOMMENDED_POLICY)
    return redirect(page.with_flash("/", error))


# ----------------------------------------------------------- my security credentials


def _keys_csv(key_id: str, secret: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Access key ID", "Secret access key"])
    writer.writerow([key_id, secret])
    return "data:text/csv;base64," + base64.b64encode(buffer.getvalue().encode()).decode()


async def _credentials_values(page: Page, user: str | None) -> dict[str, Any]:
    params = {"UserName": user} if user else {}
    keys, keys_error = await page.try_call("ListAccessKeys", params)
    devices, mfa_error = await page.try_call("ListMFADevices", params)
    rows = []
    at = now()
    for key in (keys or {}).get("AccessKeyMetadata", []):
        used, _ = await page.try_call("GetAccessKeyLastUsed", {"AccessKeyId": key["AccessKeyId"]})
        last = (used or {}).get("AccessKeyLastUsed", {})
        rows.append(
            {
                **key,
                "age": age_days(key.get("CreateDate"), at),
                "last_used": when(last.get("LastUsedDate")),
                "service": last.get("ServiceName", ""),
            }
        )
    return {
        "keys": rows,
        "keys_error": keys_error,
        "devices": (devices or {}).get("MFADevices", []),
        "devices_error": mfa_error,
        "when": when,
    }


#: AWS's rules for the root user's password (the account's password policy is for IAM users).
ROOT_PASSWORD_RULES = [
    "8 to 128 characters",
    "At least three of: upper case, lower case, numbers, symbols",
    "Not a common password, nor the account's email address",
]


async def _password_rules(page: Page) -> list[str]:
    if page.principal.user_name is None:
        return ROOT_PASSWORD_RULES
    return await run_in_threadpool(describe_policy, page.services, page.principal.account_id)


async def _credentials_page(page: Page, status: int = 200, **extra: Any) -> Response:
    policy = await _password_rules(page)
    values = await _credentials_values(page, None)
    return page.render("credentials.html", status, policy=policy, **values, **extra)


async def credentials(page: Page) -> Response:
    return await _credentials_page(page, flash=page.flash)


async def change_own_password(page: Page) -> Response:
    """ChangePassword as the signed-in user; for the root user, the console-only change of
    the root password (which ends root's other console sessions: their fingerprint was
    the old password's hash)."""
    error = None
    old, new = page.field("old_password"), page.field("new_password")
    if new != page.field("confirm_password"):
        error = "The new passwords do not match."
    elif page.principal.user_name is None:
        meta = replace(page.meta, request_id=str(uuid.uuid4()), now=now())
        try:
            await run_in_threadpool(
                change_root_password, page.services, page.principal.caller, meta, old, new
            )
        except ServiceError as failed:
            error = failed.message
    else:
        _, error = await page.try_call("ChangePassword", {"OldPassword": old, "NewPassword": new})
    if error is None:
        page.notices.append("Your password has been changed.")
    return await _credentials_page(page, 400 if error else 200, password_error=error)


def _mfa_user(page: Page) -> str | None:
    """The user whose MFA device the request enrols (None: the signed-in principal)."""
    name = page.request.path_params.get("name")
    return name if isinstance(name, str) else None


async def _mfa_page(page: Page, user: str | None, status: int = 200, **extra: Any) -> Response:
    if user is None:
        return await _credentials_page(page, status, **extra)
    return await user_detail(page, name=user, status=status, **extra)


async def start_mfa(page: Page) -> Response:
    """CreateVirtualMFADevice, then show its QR code (once) and ask for two codes; for
    the signed-in principal or, on a user's page, for that user."""
    user = _mfa_user(page)
    base = user or page.principal.user_name or "root"
    name = f"{base}-{secrets.token_hex(3)}"
    output, error = await page.try_call("CreateVirtualMFADevice", {"VirtualMFADeviceName": name})
    if error or output is None:
        return await _mfa_page(page, user, 400, mfa_start_error=error)
    device = output["VirtualMFADevice"]
    enrol = {
        "serial": device["SerialNumber"],
        "qr": "data:image/png;base64," + base64.b64encode(device["QRCodePNG"]).decode(),
        "seed": device["Base32StringSeed"].decode(),
    }
    return await _mfa_page(page, user, enrol=enrol)


async def enable_mfa(page: Page) -> Response:
    user = _mfa_user(page)
    serial = page.field("serial")
    params = {
        "SerialNumber": serial,
        "AuthenticationCode1": page.field("code1").strip(),
        "AuthenticationCode2": page.field("code2").strip(),
    }
    error = None
    try:
        if user is None and page.principal.user_name is None:
            # AWS: root enables its own MFA in the console only
            if not all(
                c.isdigit() and len(c) == 6
                for c in (params["AuthenticationCode1"], params["AuthenticationCode2"])
            ):
                raise CallFailed(
                    "InvalidAuthenticationCode", "Authentication code for device is not valid."
                )
            await page.call_console_only("EnableMFADevice", params)
        else:
            await page.call(
                "EnableMFADevice", {**params, "UserName": user or page.principal.user_name}
            )
    except CallFailed as failed:
        error = failed.message
    if error is None:
        page.notices.append("MFA device assigned.")
    else:  # the seed was shown once: remove the half-made device, start again
        await page.try_call("DeleteVirtualMFADevice", {"SerialNumber": serial})
    return await _mfa_page(page, user, 400 if error else 200, mfa_error=error)


async def deactivate_mfa(page: Page) -> Response:
    serial = page.field("serial")
    user = page.field("user") or None
    error = None
    try:
        if user is None and page.principal.user_name is None:  # root's own: console only
            await page.call_console_only("DeactivateMFADevice", {"SerialNumber": serial})
        else:
            await page.call(
                "DeactivateMFADevice",
                {"SerialNumber": serial, "UserName": user or page.principal.user_name},
            )
    except CallFailed as failed:
        error = failed.message
    if error is None:
        await page.try_call("DeleteVirtualMFADevice", {"SerialNumber": serial})
    return redirect(_back(page, error))


def _back(page: Page, error: str | None) -> str:
    user = page.field("user")
    path = f"/users/{quote(user)}" if user else "/credentials"
    return page.with_flash(path, error)


async def create_key(page: Page) -> Response:
    user = page.field("user") or None
    output, error = await page.try_call("CreateAccessKey", {"UserName": user})
    if error or output is None:
        return redirect(_back(page, error))
    key = output["AccessKey"]
    secret = key["SecretAccessKey"]
    return page.render(
        "key_created.html",
        key_id=key["AccessKeyId"],
        secret=secret,
        csv=_keys_csv(key["AccessKeyId"], secret),
        csv_name=f"{user or 'root'}_accessKeys.csv",
        back=_back(page, None),
    )


async def update_key(page: Page) -> Response:
    user = page.field("user") or None
    key_id = page.field("key")
    if page.field("do") == "delete":
        _, error = await page.try_call("DeleteAccessKey", {"UserName": user, "AccessKeyId": key_id})
    else:
        status = "Active" if page.field("do") == "activate" else "Inactive"
        _, error = await page.try_call(
            "UpdateAccessKey", {"UserName": user, "AccessKeyId": key_id, "Status": status}
        )
    return redirect(_back(page, error))


# ---------------------------------------------------------------------------- users


async def _all(
    page: Page, name: str, member: str, params: dict[str, Any] | None = None
) -> list[Any]:
    items: list[Any] = []
    marker = None
    while True:
        output = await page.call(name, {**(params or {}), "Marker": marker, "MaxItems": 1000})
        items += (output or {}).get(member, [])
        if not (output or {}).get("IsTruncated"):
            return items
        marker = output["Marker"] if output else None


def _paged(page: Page, items: list[Any], name_of: str) -> tuple[list[Any], dict[str, Any]]:
    """The items whose `name_of` member contains the `q` search (any case), the page of
    them that `start` asks for, and what the template's search box and pager need."""
    search = page.request.query_params.get("q", "").strip()
    try:
        start = max(0, int(page.request.query_params.get("start", "0")))
    except ValueError:
        start = 0
    if search:
        items = [i for i in items if search.lower() in str(i.get(name_of, "")).lower()]
    return items[start : start + PAGE_SIZE], {
        "search": search,
        "start": start,
        "total": len(items),
        "next_start": start + PAGE_SIZE if start + PAGE_SIZE < len(items) else None,
        "prev_start": max(0, start - PAGE_SIZE) if start else None,
    }


async def users(page: Page) -> Response:
    try:
        everyone = await _all(page, "ListUsers", "Users")
    except CallFailed as failed:
        search = page.request.query_params.get("q", "")
        return page.render("users.html", 403, error=failed.message, rows=[], search=search)
    shown, paging = _paged(page, everyone, "UserName")
    at = now()
    rows = []
    for user in shown:
        mfa, _ = await page.try_call("ListMFADevices", {"UserName": user["UserName"]})
        keys, _ = await page.try_call("ListAccessKeys", {"UserName": user["UserName"]})
        ages = [
            age_days(k.get("CreateDate"), at)
            for k in (keys or {}).get("AccessKeyMetadata", [])
            if k.get("Status") == "Active"
        ]
        rows.append(
            {
                "name": user["UserName"],
                "created": when(user.get("CreateDate")),
                "last_activity": when(user.get("PasswordLastUsed")),
                "mfa": "—" if mfa is None else ("Yes" if mfa.get("MFADevices") else "No"),
                "key_age": "—" if not ages else f"{max(a or 0 for a in ages)} days",
            }
        )
    return page.render("users.html", rows=rows, **paging)


async def new_user(page: Page) -> Response:
    groups, error = await page.try_call("ListGroups", {"MaxItems": 1000})
    policy = await run_in_threadpool(describe_policy, page.services, page.principal.account_id)
    return page.render(
        "user_new.html", groups=(groups or {}).get("Groups", []), groups_error=error, policy=policy
    )


def _tags(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for index, line in enumerate(x for x in text.splitlines() if x.strip()):
        key, _, value = line.partition("=")
        out += [(f"Tags.member.{index + 1}.Key", key.strip())]
        out += [(f"Tags.member.{index + 1}.Value", value.strip())]
    return out


async def create_user(page: Page) -> Response:
    name = page.field("username").strip()
    params: list[tuple[str, Any]] = [("UserName", name), *_tags(page.field("tags"))]
    path = page.field("path").strip()
    if path:
        params.append(("Path", path))
    errors: list[str] = []
    _, error = await page.try_call("CreateUser", params)
    if error:
        groups, _ = await page.try_call("ListGroups", {"MaxItems": 1000})
        policy = await run_in_threadpool(describe_policy, page.services, page.principal.account_id)
        return page.render(
            "user_new.html",
            400,
            error=error,
            groups=(groups or {}).get("Groups", []),
            policy=policy,
            form=page.form,
        )
    password = None
    if page.field("console") == "yes":
        password = (
            generate_root_password()
            if page.field("password_kind") == "generated"
            else page.field("password")
        )
        _, error = await page.try_call(
            "CreateLoginProfile",
            {
                "UserName": name,
                "Password": password,
                "PasswordResetRequired": page.field("reset") == "yes",
            },
        )
        if error:
            errors.append(f"Console password: {error}")
            password = None
    for group in page.fields("groups"):
        _, error = await page.try_call("AddUserToGroup", {"UserName": name, "GroupName": group})
        if error:
            errors.append(f"Group {group}: {error}")
    return page.render(
        "user_created.html",
        name=name,
        password=password if page.field("password_kind") == "generated" else None,
        errors=errors,
        sign_in_url=f"{page.request.url.scheme}://{page.request.url.netloc}/console/signin"
        f"?account={page.principal.account_id}",
    )


async def user_detail(
    page: Page, name: str | None = None, status: int = 200, **extra: Any
) -> Response:
    name = name or page.request.path_params["name"]
    user, error = await page.try_call("GetUser", {"UserName": name})
    if error or user is None:
        return page.render(
            "user.html", 403 if error and "not authorized" in error else 404, error=error, name=name
        )
    details = user["User"]
    groups, groups_error = await page.try_call("ListGroupsForUser", {"UserName": name})
    attached, attached_error = await page.try_call("ListAttachedUserPolicies", {"UserName": name})
    inline, inline_error = await page.try_call("ListUserPolicies", {"UserName": name})
    profile, profile_error = await page.try_call("GetLoginProfile", {"UserName": name})
    all_groups, _ = await page.try_call("ListGroups", {"MaxItems": 1000})
    values = await _credentials_values(page, name)
    member_of = [g["GroupName"] for g in (groups or {}).get("Groups", [])]
    return page.render(
        "user.html",
        status,
        name=name,
        user=details,
        tags=details.get("Tags", []),
        groups=member_of,
        groups_error=groups_error,
        other_groups=[
            g["GroupName"]
            for g in (all_groups or {}).get("Groups", [])
            if g["GroupName"] not in member_of
        ],
        attached=(attached or {}).get("AttachedPolicies", []),
        attached_error=attached_error,
        inline=(inline or {}).get("PolicyNames", []),
        inline_error=inline_error,
        profile=(profile or {}).get("LoginProfile"),
        profile_error=profile_error
        if profile_error and "cannot be found" not in profile_error
        else None,
        flash=page.flash,
        **values,
        **extra,
    )


async def user_groups(page: Page) -> Response:
    name = page.request.path_params["name"]
    group = page.field("group")
    action = "RemoveUserFromGroup" if page.field("do") == "remove" else "AddUserToGroup"
    _, error = await page.try_call(action, {"UserName": name, "GroupName": group})
    return redirect(page.with_flash(f"/users/{quote(name)}", error))


# ------------------------------------------------------------- groups, roles, policies


async def groups(page: Page) -> Response:
    return await _list_page(page, "ListGroups", "Groups", "User groups", "GroupName")


async def roles(page: Page) -> Response:
    links = [
        ("/roles/new", "Create role", "create-role"),
        ("/instance-profiles", "Instance profiles", "instance-profiles"),
    ]
    return await _list_page(page, "ListRoles", "Roles", "Roles", "RoleName", links)


async def _list_page(
    page: Page,
    action: str,
    member: str,
    title: str,
    name_column: str,
    links: list[tuple[str, str, str]] | None = None,
) -> Response:
    """A table of every entity `action` lists (name, path, creation date)."""
    try:
        rows = await _all(page, action, member)
    except CallFailed as failed:
        return page.render("list.html", 403, title=title, error=failed.message, rows=[])
    return page.render(
        "list.html",
        title=title,
        columns=[name_column, "Path", "CreateDate"],
        rows=rows,
        when=when,
        links=links,
    )


POLICY_SCOPES = {"Local": "Customer managed", "AWS": "AWS managed", "All": "All"}


async def policies(page: Page) -> Response:
    """ListPolicies of a scope, filtered by name and shown a page at a time."""
    scope = page.request.query_params.get("scope", "Local")
    if scope not in POLICY_SCOPES:
        scope = "Local"
    try:
        found = await _all(page, "ListPolicies", "Policies", {"Scope": scope})
    except CallFailed as failed:
        return page.render(
            "policies.html", 403, error=failed.message, rows=[], scope=scope, search=""
        )
    shown, paging = _paged(page, found, "PolicyName")
    return page.render(
        "policies.html", rows=shown, when=when, scopes=POLICY_SCOPES, scope=scope, **paging
    )


# ------------------------------------------------------------------ account settings


async def settings(page: Page) -> Response:
    policy, policy_error = await page.try_call("GetAccountPasswordPolicy")
    if policy_error and "cannot be found" in policy_error:
        policy_error = None
    aliases, alias_error = await page.try_call("ListAccountAliases")
    return page.render(
        "settings.html",
        policy=(policy or {}).get("PasswordPolicy"),
        policy_error=policy_error,
        alias=((aliases or {}).get("AccountAliases") or [None])[0],
        alias_error=alias_error,
        flash=page.flash,
    )


async def save_password_policy(page: Page) -> Response:
    params: dict[str, Any] = {
        "MinimumPasswordLength": page.field("min_length") or None,
        "MaxPasswordAge": page.field("max_age") or None,
        "PasswordReusePrevention": page.field("reuse") or None,
    }
    for flag in (
        "RequireSymbols",
        "RequireNumbers",
        "RequireUppercaseCharacters",
        "RequireLowercaseCharacters",
        "AllowUsersToChangePassword",
        "HardExpiry",
    ):
        params[flag] = page.field(flag) == "on"
    _, error = await page.try_call("UpdateAccountPasswordPolicy", params)
    return redirect(page.with_flash("/settings", error))


async def save_alias(page: Page) -> Response:
    alias = page.field("alias").strip()
    if alias:
        _, error = await page.try_call("CreateAccountAlias", {"AccountAlias": alias})
    else:
        current, error = await page.try_call("ListAccountAliases")
        for old in (current or {}).get("AccountAliases", []):
            _, error = await page.try_call("DeleteAccountAlias", {"AccountAlias": old})
    return redirect(page.with_flash("/settings", error))


# --------------------------------------------------------------------- event history


def _utc_moment(text: str) -> dt.datetime | None:
    """A datetime-local field's value (YYYY-MM-DDTHH:MM, read as UTC); ValueError if
    it is not one."""
    if not text:
        return None
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


async def events(page: Page) -> Response:
    query = page.request.query_params
    name = query.get("attribute", "")
    value = query.get("value", "").strip()
    start_text, end_text = query.get("start", "").strip(), query.get("end", "").strip()
    body: dict[str, Any] = {"MaxResults": 50}
    if name and value:
        body["LookupAttributes"] = [{"AttributeKey": name, "AttributeValue": value}]
    if query.get("next"):
        body["NextToken"] = query["next"]
    error: str | None = None
    try:
        body["StartTime"] = _utc_moment(start_text)
        body["EndTime"] = _utc_moment(end_text)
    except ValueError:
        error = "Start and end must be dates and times (YYYY-MM-DDTHH:MM, UTC)."
    output = None
    if error is None:
        output, error = await run_in_threadpool(
            _lookup, page, {k: v for k, v in body.items() if v is not None}
        )
    rows = (output or {}).get("Events", [])
    filters = {"attribute": name, "value": value, "start": start_text, "end": end_text}
    next_token = (output or {}).get("NextToken")
    return page.render(
        "events.html",
        400 if error else 200,
        rows=rows,
        error=error,
        when=when,
        attributes=["EventName", "Username", "ResourceName", "ResourceType", "EventSource"],
        next_query=urlencode({**filters, "next": next_token}) if next_token else None,
        **filters,
    )


def _lookup(page: Page, body: dict[str, Any]) -> tuple[Any, str | None]:
    from chamberlain.ops.core.dispatch import execute
    from chamberlain.ops.core.errors import ServiceError

    try:
        return execute(
            page.services, page.principal.caller, page.meta, "cloudtrail", "LookupEvents", body
        ), None
    except ServiceError as error:
        return None, error.message


# ------------------------------------------------------------------- policy editor

STARTER_POLICY = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "s3:GetObject",
      "Resource": "*"
    }
  ]
}
"""


async def validate_policy(page: Page) -> Response:
    """The editor's live check (JSON): nothing is written."""
    from starlette.responses import JSONResponse

    from chamberlain.console.policy_check import check_document

    result = check_document(page.field("document"), page.field("kind") or "identity")
    return JSONResponse(result)


async def new_policy(page: Page) -> Response:
    return page.render("policy_new.html", document=STARTER_POLICY, name="", description="")


async def create_policy(page: Page) -> Response:
    name, document = page.field("name").strip(), page.field("document")
    description = page.field("description").strip() or None
    output, error = await page.try_call(
        "CreatePolicy", {"PolicyName": name, "PolicyDocument": document, "Description": description}
    )
    if error or output is None:
        return page.render(
            "policy_new.html",
            400,
            error=error,
            document=document,
            name=name,
            description=description or "",
        )
    return redirect(f"/policy?arn={quote(output['Policy']['Arn'])}")


async def policy_detail(page: Page, arn: str | None = None, failed: str | None = None) -> Response:
    import contextlib
    import json

    arn = arn if arn is not None else page.request.query_params.get("arn", "")
    policy, error = await page.try_call("GetPolicy", {"PolicyArn": arn})
    if error or policy is None:
        return page.render(
            "policy.html", 403 if error and "not authorized" in error else 404, error=error, arn=arn
        )
    details = policy["Policy"]
    versions, versions_error = await page.try_call("ListPolicyVersions", {"PolicyArn": arn})
    version, _ = await page.try_call(
        "GetPolicyVersion", {"PolicyArn": arn, "VersionId": details["DefaultVersionId"]}
    )
    entities, entities_error = await page.try_call("ListEntitiesForPolicy", {"PolicyArn": arn})
    document = (version or {}).get("PolicyVersion", {}).get("Document", "")
    with contextlib.suppress(ValueError):
        document = json.dumps(json.loads(document), indent=2)
    return page.render(
        "policy.html",
        arn=arn,
        policy=details,
        versions=(versions or {}).get("Versions", []),
        versions_error=versions_error,
        entities=entities or {},
        entities_error=entities_error,
        document=page.field("document") or document,
        flash=failed or page.flash,
        aws_managed=arn.startswith("arn:aws:iam::aws:"),
        when=when,
    )


async def policy_new_version(page: Page) -> Response:
    arn = page.field("arn")
    _, error = await page.try_call(
        "CreatePolicyVersion",
        {"PolicyArn": arn, "PolicyDocument": page.field("document"), "SetAsDefault": True},
    )
    if error:
        return await policy_detail(page, arn=arn, failed=error)
    return redirect(f"/policy?arn={quote(arn)}")


async def policy_set_default(page: Page) -> Response:
    arn = page.field("arn")
    _, error = await page.try_call(
        "SetDefaultPolicyVersion", {"PolicyArn": arn, "VersionId": page.field("version")}
    )
    return redirect(page.with_flash(f"/policy?arn={quote(arn)}", error))


# ----------------------------------------------------------------- credential report


async def credential_report(page: Page) -> Response:
    rows: list[list[str]] = []
    download = None
    try:
        output = await page.call("GetCredentialReport")
    except CallFailed as failed:
        if failed.code not in ("ReportNotPresent", "ReportExpired", "ReportInProgress"):
            return page.render("report.html", 403, error=failed.message, rows=[])
        output = None
    if output is not None:
        text = output["Content"].decode("utf-8")
        rows = list(csv.reader(io.StringIO(text)))
        download = "data:text/csv;base64," + base64.b64encode(text.encode()).decode()
    return page.render(
        "report.html",
        header=rows[0] if rows else [],
        rows=rows[1:],
        download=download,
        generated=when(output.get("GeneratedTime")) if output else None,
        flash=page.flash,
    )


async def generate_report(page: Page) -> Response:
    _, error = await page.try_call("GenerateCredentialReport")
    return redirect(page.with_flash("/report", error))


# ----------------------------------------------------------------- groups and roles


async def group_detail(page: Page, name: str | None = None, failed: str | None = None) -> Response:
    name = name or page.request.path_params["name"]
    group, error = await page.try_call("GetGroup", {"GroupName": name})
    if error or group is None:
        status = 403 if error and "not authorized" in error else 404
        return page.render("group.html", status, error=error, name=name)
    attached, attached_error = await page.try_call("ListAttachedGroupPolicies", {"GroupName": name})
    inline, _ = await page.try_call("ListGroupPolicies", {"GroupName": name})
    return page.render(
        "group.html",
        name=name,
        group=group["Group"],
        members=[u["UserName"] for u in group.get("Users", [])],
        attached=(attached or {}).get("AttachedPolicies", []),
        attached_error=attached_error,
        inline=(inline or {}).get("PolicyNames", []),
        flash=failed or page.flash,
        when=when,
    )


async def group_policy(page: Page) -> Response:
    name = page.request.path_params["name"]
    action = "DetachGroupPolicy" if page.field("do") == "detach" else "AttachGroupPolicy"
    _, error = await page.try_call(
        action, {"GroupName": name, "PolicyArn": page.field("arn").strip()}
    )
    return redirect(page.with_flash(f"/groups/{quote(name)}", error))


def _revoke_policy(at: dt.datetime) -> str:
    """The inline policy AWS's console adds to revoke a role's active sessions: deny
    everything to sessions issued before now."""
    import json

    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": ["*"],
                    "Resource": ["*"],
                    "Condition": {
                        "DateLessThan": {"aws:TokenIssueTime": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
                    },
                }
            ],
        }
    )


REVOKE_POLICY_NAME = "AWSRevokeOlderSessions"


async def role_detail(page: Page, name: str | None = None, failed: str | None = None) -> Response:
    import contextlib
    import json

    name = name or page.request.path_params["name"]
    role, error = await page.try_call("GetRole", {"RoleName": name})
    if error or role is None:
        status = 403 if error and "not authorized" in error else 404
        return page.render("role.html", status, error=error, name=name)
    details = role["Role"]
    attached, attached_error = await page.try_call("ListAttachedRolePolicies", {"RoleName": name})
    inline, _ = await page.try_call("ListRolePolicies", {"RoleName": name})
    profiles, _ = await page.try_call("ListInstanceProfilesForRole", {"RoleName": name})
    trust = details.get("AssumeRolePolicyDocument", "")
    with contextlib.suppress(ValueError):
        trust = json.dumps(json.loads(trust), indent=2)
    return page.render(
        "role.html",
        name=name,
        role=details,
        document=page.field("document") or trust,
        attached=(attached or {}).get("AttachedPolicies", []),
        attached_error=attached_error,
        inline=(inline or {}).get("PolicyNames", []),
        profiles=[p["InstanceProfileName"] for p in (profiles or {}).get("InstanceProfiles", [])],
        last_used=details.get("RoleLastUsed", {}),
        flash=failed or page.flash,
        when=when,
    )


async def role_trust(page: Page) -> Response:
    name = page.request.path_params["name"]
    _, error = await page.try_call(
        "UpdateAssumeRolePolicy", {"RoleName": name, "PolicyDocument": page.field("document")}
    )
    if error:
        return await role_detail(page, name=name, failed=error)
    return redirect(f"/roles/{quote(name)}")


async def role_revoke(page: Page) -> Response:
    name = page.request.path_params["name"]
    _, error = await page.try_call(
        "PutRolePolicy",
        {
            "RoleName": name,
            "PolicyName": REVOKE_POLICY_NAME,
            "PolicyDocument": _revoke_policy(now()),
        },
    )
    if error is None:
        page.notices.append("Sessions issued before now are revoked.")
        return await role_detail(page, name=name)
    return redirect(page.with_flash(f"/roles/{quote(name)}", error))


# ------------------------------------------------- creating roles, instance profiles

STARTER_TRUST = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": {"Service": "ec2.amazonaws.com"},
      "Action": "sts:AssumeRole"
    }
  ]
}
"""


async def _role_form(page: Page, status: int = 200, **values: Any) -> Response:
    providers, _ = await page.try_call("ListOpenIDConnectProviders")
    known = [p["Arn"] for p in (providers or {}).get("OpenIDConnectProviderList", [])]
    defaults = {"kind": "account", "document": STARTER_TRUST, "max_hours": "1"}
    return page.render(
        "role_new.html",
        status,
        providers=known + list(WELL_KNOWN),
        form={**defaults, **{k: v for k, v in (page.form or {}).items() if isinstance(v, str)}},
        **values,
    )


async def new_role(page: Page) -> Response:
    return await _role_form(page)


async def create_role(page: Page) -> Response:
    """CreateRole with the trust policy the form's template (or pasted JSON) makes,
    then AttachRolePolicy for each policy ARN given."""
    try:
        document = trust_policy(page.field("kind"), page.field, page.principal.account_id)
    except TemplateError as problem:
        return await _role_form(page, 400, error=str(problem))
    name = page.field("name").strip()
    try:
        hours = int(page.field("max_hours") or "1")
    except ValueError:
        hours = 0
    params: dict[str, Any] = {
        "RoleName": name,
        "AssumeRolePolicyDocument": document,
        "Description": page.field("description").strip() or None,
        "Path": page.field("path").strip() or None,
        "MaxSessionDuration": hours * 3600,
    }
    _, error = await page.try_call("CreateRole", params)
    if error:
        return await _role_form(page, 400, error=error)
    problems = []
    for arn in (line.strip() for line in page.field("policies").splitlines()):
        if arn:
            _, failed = await page.try_call(
                "AttachRolePolicy", {"RoleName": name, "PolicyArn": arn}
            )
            if failed:
                problems.append(failed)
    return redirect(page.with_flash(f"/roles/{quote(name)}", " ".join(problems) or None))


async def instance_profiles(page: Page) -> Response:
    error = None
    if page.request.method == "POST":
        name = page.field("name").strip()
        _, error = await page.try_call(
            "CreateInstanceProfile",
            {"InstanceProfileName": name, "Path": page.field("path") or None},
        )
        if error is None:
            return redirect(f"/instance-profiles/{quote(name)}")
    try:
        rows = await _all(page, "ListInstanceProfiles", "InstanceProfiles")
    except CallFailed as failed:
        return page.render("instance_profiles.html", 403, denied=failed.message, rows=[])
    return page.render(
        "instance_profiles.html", 400 if error else 200, rows=rows, error=error, when=when
    )


async def instance_profile(page: Page) -> Response:
    name = page.request.path_params["name"]
    found, error = await page.try_call("GetInstanceProfile", {"InstanceProfileName": name})
    if error or found is None:
        return page.render("instance_profile.html", _error_status(error), error=error, name=name)
    profile = found["InstanceProfile"]
    members = [r["RoleName"] for r in profile.get("Roles", [])]
    roles, _ = await page.try_call("ListRoles", {"MaxItems": 1000})
    return page.render(
        "instance_profile.html",
        name=name,
        profile=profile,
        members=members,
        # a profile holds one role at most: roles to add only while it has none
        other_roles=[] if members else [r["RoleName"] for r in (roles or {}).get("Roles", [])],
        flash=page.flash,
        when=when,
    )


async def instance_profile_change(page: Page) -> Response:
    """Add or remove the role, or delete the profile (removing its role first, as
    AWS's console does)."""
    name = page.request.path_params["name"]
    do, role = page.field("do"), page.field("role")
    params = {"InstanceProfileName": name, "RoleName": role}
    if do == "add":
        _, error = await page.try_call("AddRoleToInstanceProfile", params)
    elif do == "remove":
        _, error = await page.try_call("RemoveRoleFromInstanceProfile", params)
    else:
        error = None
        if role:
            _, error = await page.try_call("RemoveRoleFromInstanceProfile", params)
        if error is None:
            _, error = await page.try_call("DeleteInstanceProfile", {"InstanceProfileName": name})
            if error is None:
                return redirect("/instance-profiles")
    return redirect(page.with_flash(f"/instance-profiles/{quote(name)}", error))


# -------------------------------------------------------------------- access advisor

ADVISOR_KINDS = {"users": ("GetUser", "UserName", "User"), "roles": ("GetRole", "RoleName", "Role")}


async def access_advisor(page: Page) -> Response:
    """Service last accessed for a user or a role: GenerateServiceLastAccessedDetails
    (action level: IAM's actions one by one), then GetServiceLastAccessedDetails."""
    kind = page.request.url.path.removeprefix(PREFIX).split("/")[1]
    read, member, output_member = ADVISOR_KINDS[kind]
    name = page.request.path_params["name"]
    values: dict[str, Any] = {"kind": kind, "name": name, "when": when}
    entity, error = await page.try_call(read, {member: name})
    if error or entity is None:
        return page.render("access_advisor.html", _error_status(error), error=error, **values)
    arn = entity[output_member]["Arn"]
    job, error = await page.try_call(
        "GenerateServiceLastAccessedDetails", {"Arn": arn, "Granularity": "ACTION_LEVEL"}
    )
    details = None
    if job is not None:
        details, error = await page.try_call(
            "GetServiceLastAccessedDetails", {"JobId": job["JobId"], "MaxItems": 1000}
        )
    if error or details is None:
        return page.render("access_advisor.html", _error_status(error), error=error, **values)
    services = sorted(
        details.get("ServicesLastAccessed", []),
        key=lambda s: (s.get("LastAuthenticated") is None, s.get("ServiceName", "")),
    )
    return page.render(
        "access_advisor.html",
        services=services,
        generated=when(details.get("JobCompletionDate")),
        arn=arn,
        **values,
    )


def _error_status(error: str | None) -> int:
    return 403 if error and "not authorized" in error else 404


# ------------------------------------------------------------------ policy simulator


CONTEXT_TYPES = (
    "string",
    "stringList",
    "numeric",
    "numericList",
    "boolean",
    "booleanList",
    "ip",
    "ipList",
    "binary",
    "binaryList",
    "date",
    "dateList",
)
#: Context entry rows on the simulator's form.
CONTEXT_ROWS = 3


def _lines(text: str) -> list[str]:
    return [item.strip() for item in text.replace(",", "\n").splitlines() if item.strip()]


def _documents(text: str) -> list[str]:
    """The policies pasted in one box: one JSON document, or a JSON array of documents
    (anything else goes to the operation as it is, which answers with IAM's error)."""
    import json

    if not text.strip():
        return []
    try:
        parsed = json.loads(text)
    except ValueError:
        return [text]
    if isinstance(parsed, list) and parsed:
        return [json.dumps(item, indent=2) for item in parsed]
    return [text]


def _members(name: str, items: list[str]) -> list[tuple[str, Any]]:
    return [(f"{name}.member.{i + 1}", item) for i, item in enumerate(items)]


def _context_entries(page: Page) -> tuple[list[tuple[str, Any]], list[dict[str, str]]]:
    """ContextEntries from the form's rows (key, type, values: comma-separated for a
    list type), and the rows to show again."""
    keys, kinds, values = page.fields("ctx_key"), page.fields("ctx_type"), page.fields("ctx_values")
    params: list[tuple[str, Any]] = []
    rows: list[dict[str, str]] = []
    for key, kind, text in zip(keys, kinds, values, strict=False):
        rows.append({"key": key, "type": kind, "values": text})
        if not key.strip():
            continue
        entry = f"ContextEntries.member.{sum(1 for r in rows if r['key'].strip())}"
        split = [v.strip() for v in text.split(",")] if kind.endswith("List") else [text.strip()]
        params += [(f"{entry}.ContextKeyName", key.strip()), (f"{entry}.ContextKeyType", kind)]
        params += _members(f"{entry}.ContextKeyValues", split)
    rows += [{"key": "", "type": "string", "values": ""}] * (CONTEXT_ROWS - len(rows))
    return params, rows


def _statement(matched: dict[str, Any]) -> str:
    start = matched.get("StartPosition", {}).get("Line", "?")
    end = matched.get("EndPosition", {}).get("Line", start)
    lines = f"line {start}" if start == end else f"lines {start}-{end}"
    return f"{matched.get('SourcePolicyId', '')} ({matched.get('SourcePolicyType', '')}), {lines}"


async def simulator(page: Page) -> Response:
    """SimulatePrincipalPolicy (a user, group or role, plus any pasted policies) or
    SimulateCustomPolicy (pasted policies only), with a boundary, a resource policy and
    context entries; each result with the statements that decided it."""
    users_out, _ = await page.try_call("ListUsers", {"MaxItems": 1000})
    roles_out, _ = await page.try_call("ListRoles", {"MaxItems": 1000})
    values: dict[str, Any] = {
        "principals": [u["Arn"] for u in (users_out or {}).get("Users", [])]
        + [r["Arn"] for r in (roles_out or {}).get("Roles", [])],
        "types": CONTEXT_TYPES,
    }
    if page.request.method == "GET" or page.form is None:
        blank = [{"key": "", "type": "string", "values": ""}] * CONTEXT_ROWS
        return page.render(
            "simulator.html", mode="principal", form={"resources": "*"}, rows=blank, **values
        )
    mode = "custom" if page.field("mode") == "custom" else "principal"
    context, rows = _context_entries(page)
    params: list[tuple[str, Any]] = []
    if mode == "principal":
        params.append(("PolicySourceArn", page.field("source").strip()))
    params += _members("PolicyInputList", _documents(page.field("policies")))
    params += _members("PermissionsBoundaryPolicyInputList", _documents(page.field("boundary")))
    params += _members("ActionNames", _lines(page.field("actions")))
    params += _members("ResourceArns", _lines(page.field("resources")))
    for member, name in (
        ("ResourcePolicy", "resource_policy"),
        ("CallerArn", "caller"),
        ("ResourceOwner", "owner"),
    ):
        if page.field(name).strip():
            params.append((member, page.field(name).strip()))
    params += context
    operation = "SimulatePrincipalPolicy" if mode == "principal" else "SimulateCustomPolicy"
    output, error = await page.try_call(operation, params)
    results = []
    for result in (output or {}).get("EvaluationResults", []):
        boundary = result.get("PermissionsBoundaryDecisionDetail")
        results.append(
            {
                "action": result.get("EvalActionName"),
                "resource": result.get("EvalResourceName"),
                "decision": result.get("EvalDecision"),
                "statements": [_statement(m) for m in result.get("MatchedStatements", [])],
                "missing": result.get("MissingContextValues", []),
                "boundary": None
                if boundary is None
                else boundary.get("AllowedByPermissionsBoundary"),
            }
        )
    form = {k: v for k, v in page.form.items() if isinstance(v, str)}
    return page.render(
        "simulator.html",
        400 if error else 200,
        error=error,
        mode=mode,
        form=form,
        rows=rows,
        results=results,
        **values,
    )
