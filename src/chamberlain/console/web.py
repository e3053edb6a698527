"""The console's request plumbing: sessions from cookies, CSRF, security headers, and
calling operations as the signed-in principal.

Every page handler gets a `Page`: the request, its session, the principal and a `call`
that runs an operation exactly as the API does (the wire model's validation, then
`dispatch.execute` as the principal), so the console can do nothing the principal's
policies do not allow.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chamberlain.console import session as sessions
from chamberlain.console.signin import Principal, session_state
from chamberlain.console.signin import fingerprint as current_fingerprint
from chamberlain.crypto.secrets import SecretBoxError
from chamberlain.ops.core.context import RequestMeta, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.core.registry import Output
from chamberlain.protocol.query import decode_query
from chamberlain.protocol.wire_errors import ProtocolError

log = logging.getLogger("chamberlain.console")
HERE = Path(__file__).parent
PREFIX = "/console"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
}
VERSIONS = {"iam": "2010-05-08", "sts": "2011-06-15"}
_FLASH_AAD = b"chamberlain console flash v1"

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


class SecurityHeaders:
    """Adds the console's security headers (a strict CSP first) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class CallFailed(Exception):
    """An operation failed: AWS's code and message, shown in the page."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


MAX_FORM_BYTES = 256 * 1024
MAX_FORM_FIELDS = 500


async def read_form(request: Request) -> FormData:
    """The URL-encoded form of a POST (the only kind the console's pages send); anything
    else, or too big, reads as an empty form (so its CSRF check fails)."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return FormData()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return FormData()
    try:
        pairs: list[tuple[str, str]] = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        return FormData()
    return FormData([(name, value) for name, value in pairs])


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def is_secure(request: Request) -> bool:
    return request.url.scheme == "https"


def request_meta(request: Request, region: str) -> RequestMeta:
    return RequestMeta(
        request_id=str(uuid.uuid4()),
        now=now(),
        source_ip=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", "")[:1024],
        secure_transport=is_secure(request),
        region=region,
    )


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        sessions.COOKIE,
        value,
        max_age=int(sessions.LIFETIME.total_seconds()),
        path=PREFIX,
        secure=is_secure(request),
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        sessions.COOKIE, path=PREFIX, secure=is_secure(request), httponly=True, samesite="strict"
    )


def render(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = templates.get_template(template).render(prefix=PREFIX, **values)
    return HTMLResponse(html, status_code=status)


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(PREFIX + path, status_code=303)


def pairs_of(params: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> list[tuple[str, str]]:
    items = params.items() if isinstance(params, Mapping) else params
    out: list[tuple[str, str]] = []
    for name, value in items:
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        out.append((name, str(value)))
    return out


@dataclass
class Page:
    """One signed-in request."""

    request: Request
    services: Services
    region: str
    session: sessions.Session
    principal: Principal
    meta: RequestMeta
    form: FormData | None = None
    notices: list[str] = field(default_factory=list)

    @property
    def caller_name(self) -> str:
        return "root" if self.principal.user_name is None else self.principal.user_name

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else default

    def fields(self, name: str) -> list[str]:
        if self.form is None:
            return []
        return [v for v in self.form.getlist(name) if isinstance(v, str)]

    async def call(
        self,
        name: str,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
        service: str = "iam",
    ) -> Output:
        """Run `service:name` as the signed-in principal; CallFailed carries AWS's error."""
        query = [("Action", name), ("Version", VERSIONS.get(service, "")), *pairs_of(params)]
        try:
            decoded = decode_query(service, query)
            return await run_in_threadpool(
                execute,
                self.services,
                self.principal.caller,
                replace(self.meta, request_id=str(uuid.uuid4()), now=now()),
                service,
                decoded.operation,
                decoded.params,
            )
        except (ServiceError, ProtocolError) as error:
            raise CallFailed(error.code, error.message) from None

    async def call_console_only(self, name: str, params: dict[str, Any]) -> Output:
        """Run an operation with params the API's model would refuse: what AWS lets only
        its console do (the root user enabling its own MFA device: EnableMFADevice
        without UserName). Authorization and the handler's checks still run."""
        try:
            return await run_in_threadpool(
                execute,
                self.services,
                self.principal.caller,
                replace(self.meta, request_id=str(uuid.uuid4()), now=now()),
                "iam",
                name,
                params,
            )
        except ServiceError as error:
            raise CallFailed(error.code, error.message) from None

    async def try_call(
        self,
        name: str,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
        service: str = "iam",
    ) -> tuple[Output, str | None]:
        """(output, None) or (None, AWS's error message)."""
        try:
            return await self.call(name, params, service), None
        except CallFailed as failed:
            return None, failed.message

    def with_flash(self, path: str, error: str | None) -> str:
        """`path` carrying `error` to the page it redirects to, sealed so that no one
        can make the console show a message of their choosing through a link."""
        if not error:
            return path
        sealed = self.services.secrets.encrypt(error.encode(), aad=_FLASH_AAD)
        token = base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()
        return f"{path}{'&' if '?' in path else '?'}error={token}"

    @property
    def flash(self) -> str | None:
        """The error a redirect carried here (see `with_flash`), if genuine."""
        token = self.request.query_params.get("error", "")
        if not token or len(token) > 4096:
            return None
        try:
            blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            return self.services.secrets.decrypt(blob, aad=_FLASH_AAD).decode()
        except (binascii.Error, ValueError, SecretBoxError):
            return None

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return render(
            template,
            status,
            page=self,
            csrf=self.session.csrf,
            who=self.caller_name,
            account_id=self.principal.account_id,
            is_root=self.principal.user_name is None,
            notices=self.notices,
            **values,
        )


Handler = Callable[[Page], Awaitable[Response]]


def signed_in(
    services: Services, region: str
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wraps a page handler: a live session at stage OK whose fingerprint still matches,
    and for a POST a form whose CSRF token is the session's. Re-seals the cookie (the idle
    timer) on every answer, with a fresh fingerprint after a change the session made."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            meta = request_meta(request, region)
            session = sessions.open_cookie(
                services.secrets, request.cookies.get(sessions.COOKIE), meta.now
            )
            if session is None:
                response: Response = redirect("/signin")
                clear_session_cookie(response, request)
                return response
            if session.stage == sessions.MFA:
                return redirect("/signin/mfa")
            if session.stage == sessions.CHANGE_PASSWORD:
                return redirect("/signin/password")
            state = await run_in_threadpool(
                session_state, services, session.account_id, session.user_name, session.sid
            )
            if state is None or state[1] != session.fingerprint:
                response = redirect("/signin?ended=1")
                clear_session_cookie(response, request)
                return response
            principal = state[0]
            form = None
            if request.method == "POST":
                form = await read_form(request)
                token = form.get("csrf")
                if not sessions.same_token(session.csrf, token if isinstance(token, str) else None):
                    return render("error.html", 403, message=CSRF_MESSAGE)
            page = Page(request, services, region, session, principal, meta, form)
            try:
                response = await handler(page)
            except Exception:  # never a bare 500: log it, show a page without details
                log.exception(
                    "console page %s failed (request %s)", request.url.path, meta.request_id
                )
                return render("error.html", 500, message=INTERNAL_ERROR)
            touched = session.touched(now())
            if request.method == "POST":  # the session's own change keeps it signed in
                fresh = await run_in_threadpool(
                    current_fingerprint, services, session.account_id, session.user_name
                )
                if fresh is None:
                    clear_session_cookie(response, request)
                    return response
                touched = replace(touched, fingerprint=fresh)
            set_session_cookie(response, request, sessions.seal(services.secrets, touched))
            return response

        return endpoint

    return wrap


INTERNAL_ERROR = "An internal error occurred. Try again later."
CSRF_MESSAGE = "The form was not sent by this console session (missing or wrong CSRF token)."


def allowed(page: Page, action: str, resource: str) -> bool:
    """Would the engine allow the principal `action` on `resource`? (For what a page
    offers, never instead of the operation's own authorization.)"""
    from chamberlain.ops.core import authz
    from chamberlain.ops.core.context import OpContext

    if page.principal.caller.is_root:
        return True
    with page.services.store.unit_of_work(read_only=True) as uow:
        ctx = OpContext(page.principal.caller, page.meta, uow, page.services)
        return authz.decide(ctx, action, resource).allowed
