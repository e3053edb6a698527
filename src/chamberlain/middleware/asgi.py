"""ASGI middleware: every request to the app must be SigV4-signed by a principal of the
Chamberlain account, and allowed the action its route maps to.

    app = Starlette(routes=...)
    app.add_middleware(
        ChamberlainMiddleware,
        client=AsyncAuthorizeClient("http://chamberlain:8480", service_credentials),
        signing_name="widgets",
        rules=[Rule("GET", "/widgets/{widget_id}", "widgets:GetWidget",
                    "arn:aws:widgets:us-east-1:123456789012:widget/{widget_id}")],
        public=["/health"],
    )

For each request the middleware finds the first rule whose method and path template
(Starlette's syntax) match, fills the resource template with the path parameters, and
forwards the request's signature material (method, raw path and query, headers, the
body's SHA-256) to Chamberlain, which verifies the signature itself and decides. The
app's clients sign for `signing_name` (e.g. boto3's SigV4Auth(credentials, "widgets",
region)). Answers: 401 for a missing or bad signature, 403 when denied or when no rule
matches, 503 when Chamberlain cannot answer; each a JSON `{"__type", "message"}`. An
allowed request reaches the app with `scope["state"]["chamberlain_principal"]` (the
principal: arn, accountId, type, userId, userName) and `..._principal_arn`, i.e.
`request.state.chamberlain_principal_arn` in Starlette.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import compile_path

from chamberlain.middleware.client import (
    AsyncAuthorizeClient,
    ChamberlainError,
    ContextValue,
    forwarded_request,
)

log = logging.getLogger("chamberlain.middleware")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: Extra condition keys for a request, from its scope and path parameters.
ContextHook = Callable[[Scope, Mapping[str, str]], Mapping[str, ContextValue]]
DEFAULT_MAX_BODY = 10 * 1024 * 1024


@dataclass(frozen=True)
class Rule:
    """`method` ("*" for any) and `path` (a Starlette template such as
    "/widgets/{widget_id}") map to `action` on `resource` (a template filled with the path
    parameters); `context` may add condition keys."""

    method: str
    path: str
    action: str
    resource: str
    context: ContextHook | None = None
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex, _, _ = compile_path(self.path)
        object.__setattr__(self, "_regex", regex)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method != "*" and self.method.upper() != method:
            return None
        found = self._regex.match(path)
        return None if found is None else found.groupdict()


async def _reply(send: Send, status: int, code: str, message: str, **extra: str) -> None:
    body = json.dumps({"__type": code, "message": message, **extra}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ChamberlainMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        client: AsyncAuthorizeClient,
        signing_name: str,
        rules: Sequence[Rule],
        public: Sequence[str] = (),
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.app = app
        self.client = client
        self.signing_name = signing_name
        self.rules = tuple(rules)
        self.public = frozenset(public)
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public:
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        for rule in self.rules:
            params = rule.match(method, path)
            if params is not None:
                break
        else:
            await _reply(send, 403, "AccessDenied", f"No authorization rule for {method} {path}.")
            return
        body, complete = await self._body(receive)
        if not complete:
            await _reply(send, 413, "RequestEntityTooLarge", "Request body is too large.")
            return
        context: dict[str, ContextValue] = self._context(scope)
        if rule.context is not None:
            context.update(rule.context(scope, params))
        try:
            answer = await self.client.authorize(
                action=rule.action,
                resource=rule.resource.format(**params),
                request=self._forwarded(scope, body),
                context=context,
            )
        except ChamberlainError as exc:
            if exc.status == 400:  # what the client sent cannot be checked (too many headers...)
                await _reply(send, 400, "InvalidRequest", exc.message)
                return
            log.error("Chamberlain did not answer (%s): %s", exc.code, exc.message)
            await _reply(send, 503, "ServiceUnavailable", "Authorization is unavailable.")
            return
        if answer.decision == "unauthenticated":
            await _reply(
                send, 401, answer.error_code or "InvalidClientTokenId", answer.message or ""
            )
            return
        if not answer.allowed:
            await _reply(
                send,
                403,
                "AccessDenied",
                answer.message or "Access denied.",
                encodedMessage=answer.encoded_message or "",
            )
            return
        state = scope.setdefault("state", {})
        state["chamberlain_principal"] = dict(answer.principal or {})
        state["chamberlain_principal_arn"] = (answer.principal or {}).get("arn", "")
        await self.app(scope, _replay(body, receive), send)

    async def _body(self, receive: Receive) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return b"", False
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), True

    def _forwarded(self, scope: Scope, body: bytes) -> dict[str, Any]:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        return forwarded_request(
            method=scope["method"],
            path=raw_path.decode("latin-1"),
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body=body,
            service=self.signing_name,
        )

    @staticmethod
    def _context(scope: Scope) -> dict[str, ContextValue]:
        """The end user's network facts (Chamberlain only sees the app's)."""
        context: dict[str, ContextValue] = {"aws:SecureTransport": scope.get("scheme") == "https"}
        client = scope.get("client")
        if client:
            context["aws:SourceIp"] = client[0]
        for name, value in scope["headers"]:
            if name == b"user-agent":
                context["aws:UserAgent"] = value.decode("latin-1")[:1000]
        return context


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then the real channel."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
