"""A small client for Chamberlain's `POST /v1/authorize` (docs/authorize.md), sync and
async. The calls are SigV4-signed with botocore for the signing name `chamberlain`, with
the calling service's own credentials (an IAM user's key or a role session)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.session
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials

SIGNING_NAME = "chamberlain"
PATH = "/v1/authorize"
DEFAULT_TIMEOUT = 5.0

ContextValue = str | bool | int | float | list[str | bool | int | float]


class ChamberlainError(Exception):
    """Chamberlain refused the call itself (bad input, the calling service's signature or
    permission), or could not be reached (`status` 0)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Answer:
    """Chamberlain's answer. `decision` is "allowed", "explicitDeny", "implicitDeny" or
    "unauthenticated" (the principal's signature or token failed: `error_code` says how)."""

    decision: str
    allowed: bool
    principal: Mapping[str, Any] | None = None
    matched_statements: list[Mapping[str, Any]] = field(default_factory=list)
    missing_context_keys: list[str] = field(default_factory=list)
    error_code: str | None = None
    message: str | None = None
    encoded_message: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Answer:
        return cls(
            decision=str(data["decision"]),
            allowed=bool(data["allowed"]),
            principal=data.get("principal"),
            matched_statements=list(data.get("matchedStatements", [])),
            missing_context_keys=list(data.get("missingContextKeys", [])),
            error_code=data.get("errorCode"),
            message=data.get("message"),
            encoded_message=data.get("encodedMessage"),
        )


def forwarded_request(
    *,
    method: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    service: str,
) -> dict[str, Any]:
    """The `principal.request` member for an end user's request as the app received it:
    `path` and `query` exactly as sent (percent-encoded), every header, the body's hash,
    and the signing name the end user signed for."""
    return {
        "method": method,
        "path": path,
        "query": query,
        "headers": [[name, value] for name, value in headers],
        "bodySha256": hashlib.sha256(body).hexdigest(),
        "service": service,
    }


def _payload(
    action: str,
    resource: str,
    request: Mapping[str, Any] | None,
    principal_arn: str | None,
    context: Mapping[str, ContextValue] | None,
) -> bytes:
    if (request is None) == (principal_arn is None):
        raise ValueError("give exactly one of request and principal_arn")
    principal = {"request": dict(request)} if request is not None else {"arn": principal_arn}
    document: dict[str, Any] = {"principal": principal, "action": action, "resource": resource}
    if context:
        document["context"] = dict(context)
    return json.dumps(document, separators=(",", ":")).encode()


class _Signer:
    def __init__(
        self, endpoint_url: str, credentials: Credentials | ReadOnlyCredentials | None, region: str
    ) -> None:
        self.url = endpoint_url.rstrip("/") + PATH
        if credentials is None:
            credentials = botocore.session.Session().get_credentials()
            if credentials is None:
                raise ValueError("no AWS credentials found for the calling service")
        self.credentials = credentials
        self.region = region

    def headers(self, body: bytes) -> dict[str, str]:
        creds = self.credentials
        frozen = creds.get_frozen_credentials() if isinstance(creds, Credentials) else creds
        request = AWSRequest(
            method="POST", url=self.url, data=body, headers={"Content-Type": "application/json"}
        )
        SigV4Auth(frozen, SIGNING_NAME, self.region).add_auth(request)
        return dict(request.headers.items())


def _answer(response: httpx.Response) -> Answer:
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code == 200 and isinstance(data, dict):
        return Answer.from_json(data)
    if isinstance(data, dict) and "__type" in data:
        raise ChamberlainError(
            str(data["__type"]), str(data.get("message", "")), response.status_code
        )
    raise ChamberlainError(
        "UnexpectedResponse", f"HTTP {response.status_code} from Chamberlain", response.status_code
    )


class AuthorizeClient:
    """Synchronous: `AuthorizeClient(url).authorize(action=..., resource=..., request=...)`.
    Without `credentials`, botocore's default chain (environment, profile, ...) is used."""

    def __init__(
        self,
        endpoint_url: str,
        credentials: Credentials | ReadOnlyCredentials | None = None,
        region: str = "us-east-1",
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._signer = _Signer(endpoint_url, credentials, region)
        self._http = httpx.Client(timeout=timeout)

    def authorize(
        self,
        *,
        action: str,
        resource: str,
        request: Mapping[str, Any] | None = None,
        principal_arn: str | None = None,
        context: Mapping[str, ContextValue] | None = None,
    ) -> Answer:
        body = _payload(action, resource, request, principal_arn, context)
        try:
            response = self._http.post(
                self._signer.url, content=body, headers=self._signer.headers(body)
            )
        except httpx.HTTPError as exc:
            raise ChamberlainError("ChamberlainUnavailable", str(exc), 0) from exc
        return _answer(response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AuthorizeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncAuthorizeClient:
    """The same for asyncio apps (what the ASGI middleware uses)."""

    def __init__(
        self,
        endpoint_url: str,
        credentials: Credentials | ReadOnlyCredentials | None = None,
        region: str = "us-east-1",
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._signer = _Signer(endpoint_url, credentials, region)
        self._http = httpx.AsyncClient(timeout=timeout)

    async def authorize(
        self,
        *,
        action: str,
        resource: str,
        request: Mapping[str, Any] | None = None,
        principal_arn: str | None = None,
        context: Mapping[str, ContextValue] | None = None,
    ) -> Answer:
        body = _payload(action, resource, request, principal_arn, context)
        try:
            response = await self._http.post(
                self._signer.url, content=body, headers=self._signer.headers(body)
            )
        except httpx.HTTPError as exc:
            raise ChamberlainError("ChamberlainUnavailable", str(exc), 0) from exc
        return _answer(response)

    async def aclose(self) -> None:
        await self._http.aclose()
