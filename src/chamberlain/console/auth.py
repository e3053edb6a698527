"""Sign-in, the MFA step, the forced password change and sign-out.

Every attempt that names a known account is a `ConsoleLogin` event in that account's
trail, in CloudTrail's shape (AWS CloudTrail User Guide, "AWS Management Console sign-in
events": responseElements.ConsoleLogin Success/Failure, additionalEventData.MFAUsed,
errorMessage "Failed authentication"; an unknown user name is recorded as
HIDDEN_DUE_TO_SECURITY_REASONS). Failures are aggregated (ops/core/auth_failures.py): a
ConsoleLogin Failure event for the first of each principal's and source's 5-minute
window, then one AuthenticationFailureSummary with the window's count.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from chamberlain.console import revocation, throttle
from chamberlain.console import session as sessions
from chamberlain.console.signin import (
    Outcome,
    Principal,
    check_mfa_code,
    check_root,
    check_user,
    dummy_verify,
    fingerprint,
    load_principal,
    resolve_account,
)
from chamberlain.console.web import (
    CSRF_MESSAGE,
    PREFIX,
    VERSIONS,
    clear_session_cookie,
    is_secure,
    now,
    read_form,
    redirect,
    render,
    request_meta,
    set_session_cookie,
)
from chamberlain.ops.audit import records as audit
from chamberlain.ops.core import auth_failures
from chamberlain.ops.core.context import RequestMeta, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import ServiceError
from chamberlain.protocol.query import decode_query
from chamberlain.protocol.wire_errors import ProtocolError


def login_to(request: Request) -> str:
    """additionalEventData.LoginTo: the console's address as the browser used it."""
    return f"{request.url.scheme}://{request.url.netloc}{PREFIX}/"


#: What AWS's sign-in page says for a wrong account, name or password (never which).
INCORRECT = "Your authentication information is incorrect. Please try again."
THROTTLED = "Too many failed sign-in attempts. Wait a while, then try again."
HARD_EXPIRED = (
    "Your password has expired and the account's password policy does not let you choose "
    "a new one. Ask your administrator to reset it."
)
WRONG_CODE = "Your authentication information is incorrect. Please try again."


def _form_value(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


class SignIn:
    def __init__(self, services: Services, region: str) -> None:
        self.services = services
        self.region = region

    # ----------------------------------------------------------------- the form

    def _form(self, request: Request, status: int = 200, **values: object) -> Response:
        token = request.cookies.get(sessions.SIGNIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        defaults: dict[str, object] = {
            "account": request.query_params.get("account", ""),
            "ended": request.query_params.get("ended") == "1",
        }
        response = render("signin.html", status, csrf=token, **{**defaults, **values})
        response.set_cookie(
            sessions.SIGNIN_CSRF_COOKIE,
            token,
            path=PREFIX,
            secure=is_secure(request),
            httponly=True,
            samesite="strict",
        )
        return response

    async def show(self, request: Request) -> Response:
        return self._form(request)

    async def submit(self, request: Request) -> Response:
        form = await read_form(request)
        expected = request.cookies.get(sessions.SIGNIN_CSRF_COOKIE, "")
        if not expected or not sessions.same_token(expected, _form_value(form, "csrf")):
            return render("error.html", 403, message=CSRF_MESSAGE)
        meta = request_meta(request, self.region)
        kind = _form_value(form, "kind")
        password = _form_value(form, "password")
        if kind == "root":
            email = _form_value(form, "email")
            who = ("", email.lower())
            if not await self._allowed(meta, *who):
                return self._form(request, 429, error=THROTTLED, kind=kind, email=email)
            outcome = await run_in_threadpool(check_root, self.services, email, password, meta.now)
            values: dict[str, object] = {"kind": kind, "email": email}
        else:
            account_text = _form_value(form, "account")
            user_name = _form_value(form, "username")
            values = {"kind": "user", "account": account_text, "username": user_name}
            account_id = await run_in_threadpool(resolve_account, self.services, account_text)
            who = (account_id or "", user_name.lower())
            if not await self._allowed(meta, *who):
                return self._form(request, 429, error=THROTTLED, **values)
            if account_id is None:
                await run_in_threadpool(dummy_verify, self.services, password)
                outcome = Outcome(ok=False)
            else:
                outcome = await run_in_threadpool(
                    check_user, self.services, account_id, user_name, password, meta.now
                )
        if not outcome.ok or outcome.principal is None:
            await self._failed(
                meta, outcome.principal, who, mfa_used=False, target=login_to(request)
            )
            message = HARD_EXPIRED if outcome.expired_hard else INCORRECT
            return self._form(request, 401, error=message, **values)
        principal = outcome.principal
        digest = await run_in_threadpool(
            fingerprint, self.services, principal.account_id, principal.user_name
        )
        if outcome.has_mfa:
            pending = sessions.new_session(
                principal.account_id,
                principal.user_name,
                digest or "",
                meta.now,
                stage=sessions.MFA,
                must_change=outcome.must_change,
            )
            response: Response = redirect("/signin/mfa")
        else:
            await self._succeeded(meta, principal, who, mfa_used=False, target=login_to(request))
            stage = sessions.CHANGE_PASSWORD if outcome.must_change else sessions.OK
            pending = sessions.new_session(
                principal.account_id, principal.user_name, digest or "", meta.now, stage=stage
            )
            response = redirect("/signin/password" if outcome.must_change else "/")
        set_session_cookie(response, request, sessions.seal(self.services.secrets, pending))
        response.delete_cookie(sessions.SIGNIN_CSRF_COOKIE, path=PREFIX)
        return response

    # ------------------------------------------------------------------ MFA step

    def _pending(self, request: Request, stage: str) -> sessions.Session | None:
        found = sessions.open_cookie(
            self.services.secrets, request.cookies.get(sessions.COOKIE), now()
        )
        return found if found is not None and found.stage == stage else None

    async def mfa(self, request: Request) -> Response:
        pending = self._pending(request, sessions.MFA)
        if pending is None:
            return redirect("/signin")
        if request.method == "GET":
            return render("signin_mfa.html", csrf=pending.csrf)
        form = await read_form(request)
        if not sessions.same_token(pending.csrf, _form_value(form, "csrf")):
            return render("error.html", 403, message=CSRF_MESSAGE)
        meta = request_meta(request, self.region)
        principal = await run_in_threadpool(
            load_principal, self.services, pending.account_id, pending.user_name
        )
        if principal is None:
            return redirect("/signin")
        who = (principal.account_id, (principal.user_name or "").lower())
        if not await self._allowed(meta, *who):
            return render("signin_mfa.html", 429, csrf=pending.csrf, error=THROTTLED)
        code = _form_value(form, "code")
        ok = await run_in_threadpool(check_mfa_code, self.services, meta, principal, code)
        if not ok:
            await self._failed(meta, principal, who, mfa_used=True, target=login_to(request))
            return render("signin_mfa.html", 401, csrf=pending.csrf, error=WRONG_CODE)
        await self._succeeded(meta, principal, who, mfa_used=True, target=login_to(request))
        stage = sessions.CHANGE_PASSWORD if pending.must_change else sessions.OK
        digest = await run_in_threadpool(
            fingerprint, self.services, principal.account_id, principal.user_name
        )
        signed = replace(
            sessions.new_session(
                principal.account_id, principal.user_name, digest or "", meta.now, stage=stage
            ),
            mfa=True,
        )
        response = redirect("/signin/password" if pending.must_change else "/")
        set_session_cookie(response, request, sessions.seal(self.services.secrets, signed))
        return response

    # --------------------------------------------------- forced password change

    async def change_password(self, request: Request) -> Response:
        pending = self._pending(request, sessions.CHANGE_PASSWORD)
        if pending is None or pending.user_name is None:
            return redirect("/signin")
        policy = await run_in_threadpool(self._policy_text, pending.account_id)
        if request.method == "GET":
            return render("signin_password.html", csrf=pending.csrf, policy=policy)
        form = await read_form(request)
        if not sessions.same_token(pending.csrf, _form_value(form, "csrf")):
            return render("error.html", 403, message=CSRF_MESSAGE)
        meta = request_meta(request, self.region)
        principal = await run_in_threadpool(
            load_principal, self.services, pending.account_id, pending.user_name
        )
        if principal is None:
            return redirect("/signin")
        new = _form_value(form, "new_password")
        if new != _form_value(form, "confirm_password"):
            return render(
                "signin_password.html",
                400,
                csrf=pending.csrf,
                policy=policy,
                error="The new passwords do not match.",
            )
        params = [
            ("Action", "ChangePassword"),
            ("Version", VERSIONS["iam"]),
            ("OldPassword", _form_value(form, "old_password")),
            ("NewPassword", new),
        ]
        try:
            decoded = decode_query("iam", params)
            await run_in_threadpool(
                execute,
                self.services,
                principal.caller,
                meta,
                "iam",
                decoded.operation,
                decoded.params,
            )
        except (ServiceError, ProtocolError) as error:
            return render(
                "signin_password.html", 400, csrf=pending.csrf, policy=policy, error=error.message
            )
        digest = await run_in_threadpool(
            fingerprint, self.services, principal.account_id, principal.user_name
        )
        signed = replace(
            sessions.new_session(principal.account_id, principal.user_name, digest or "", meta.now),
            mfa=pending.mfa,
        )
        response = redirect("/")
        set_session_cookie(response, request, sessions.seal(self.services.secrets, signed))
        return response

    def _policy_text(self, account_id: str) -> list[str]:
        from chamberlain.console.policy_text import describe_policy

        return describe_policy(self.services, account_id)

    # ------------------------------------------------------------------ sign-out

    async def sign_out(self, request: Request) -> Response:
        session = sessions.open_cookie(
            self.services.secrets, request.cookies.get(sessions.COOKIE), now()
        )
        form = await read_form(request)
        if session is not None:
            if not sessions.same_token(session.csrf, _form_value(form, "csrf")):
                return render("error.html", 403, message=CSRF_MESSAGE)
            await run_in_threadpool(revocation.revoke, self.services, session, now())
        response = redirect("/signin")
        clear_session_cookie(response, request)
        return response

    # ------------------------------------------------------------ events, limits

    async def _allowed(self, meta: RequestMeta, account_id: str, principal: str) -> bool:
        return await run_in_threadpool(
            throttle.check_sign_in_allowed,
            self.services,
            account_id,
            principal,
            meta.source_ip,
            meta.now,
        )

    async def _failed(
        self,
        meta: RequestMeta,
        principal: Principal | None,
        who: tuple[str, str],
        *,
        mfa_used: bool,
        target: str,
    ) -> None:
        await run_in_threadpool(
            throttle.record_sign_in_failure,
            self.services,
            who[0],
            who[1],
            meta.source_ip,
            meta.now,
        )
        if principal is not None:  # counted; recorded as the first of its window
            await run_in_threadpool(
                partial(
                    auth_failures.sign_in_failed,
                    self.services,
                    meta,
                    principal.caller,
                    mfa_used=mfa_used,
                    login_to=target,
                )
            )

    async def _succeeded(
        self,
        meta: RequestMeta,
        principal: Principal,
        who: tuple[str, str],
        *,
        mfa_used: bool,
        target: str,
    ) -> None:
        await run_in_threadpool(
            throttle.record_sign_in_success,
            self.services,
            who[0],
            who[1],
            meta.source_ip,
            meta.now,
        )
        if self.services.audit:
            await run_in_threadpool(self._event, meta, principal, True, mfa_used, target)

    def _event(
        self, meta: RequestMeta, principal: Principal, success: bool, mfa: bool, target: str
    ) -> None:
        audit.record_sign_in(
            self.services,
            meta,
            identity=principal.caller,
            success=success,
            mfa_used=mfa,
            login_to=target,
        )
