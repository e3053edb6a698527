"""The agent's HTTP endpoints: EC2's instance metadata (IMDSv2 only) and the container
credentials provider, answering as EC2 and ECS do so SDKs need no configuration beyond
the endpoint's address.

Every handler only reads the in-memory cache, so they are async and never block.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from chamberlain.agent.credentials import CredentialCache, RoleCredentials
from chamberlain.agent.tokens import ImdsTokens, parse_ttl

TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
CREDENTIALS_PATH = "/latest/meta-data/iam/security-credentials/"
CONTAINER_PATH = "/v1/credentials"


def _time(value: Any) -> str:
    return str(value.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _status(code: int, reason: str) -> PlainTextResponse:
    return PlainTextResponse(f"{code} - {reason}", code)


def _ec2_json(document: dict[str, str]) -> str:
    """JSON laid out as EC2's metadata service lays it out (`"Key" : "value"`)."""
    return json.dumps(document, indent=2, separators=(",", " : "))


def imds_credentials(creds: RoleCredentials) -> dict[str, str]:
    return {
        "Code": "Success",
        "LastUpdated": _time(creds.last_updated),
        "Type": "AWS-HMAC",
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "Token": creds.token,
        "Expiration": _time(creds.expiration),
    }


def imds_info(creds: RoleCredentials) -> dict[str, str]:
    return {
        "Code": "Success",
        "LastUpdated": _time(creds.last_updated),
        "InstanceProfileArn": creds.instance_profile_arn,
        "InstanceProfileId": creds.instance_profile_id,
    }


def container_credentials(creds: RoleCredentials) -> dict[str, str]:
    return {
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "Token": creds.token,
        "Expiration": _time(creds.expiration),
        "RoleArn": creds.role_arn,
        "AccountId": creds.account_id,
    }


class RejectForwarded:
    """Refuse any request that passed through a proxy (it carries X-Forwarded-For), as
    IMDSv2 does: a misconfigured proxy on the host must not relay credentials off it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(
            name.lower() == b"x-forwarded-for" for name, _ in scope["headers"]
        ):
            await _status(403, "Forbidden")(scope, receive, send)
            return
        await self.app(scope, receive, send)


class AgentApi:
    def __init__(
        self, cache: CredentialCache, tokens: ImdsTokens, container_token: str | None
    ) -> None:
        self.cache = cache
        self.tokens = tokens
        self.container_token = container_token

    # -- IMDSv2 ----------------------------------------------------------------------

    async def put_token(self, request: Request) -> Response:
        ttl = parse_ttl(request.headers.get(TTL_HEADER))
        if ttl is None:
            return _status(400, "Bad Request")
        return PlainTextResponse(self.tokens.issue(ttl), headers={TTL_HEADER: str(ttl)})

    def _imds(self, request: Request, body: str | None) -> Response:
        """`body` for a request with a valid token; 401 without one, 404 without body."""
        left = self.tokens.remaining(request.headers.get(TOKEN_HEADER))
        if left is None:
            return _status(401, "Unauthorized")
        if body is None:
            return _status(404, "Not Found")
        return PlainTextResponse(body, headers={TTL_HEADER: str(left)})

    async def meta_data(self, request: Request) -> Response:
        return self._imds(request, "iam/")

    async def iam_index(self, request: Request) -> Response:
        return self._imds(request, "info\nsecurity-credentials/")

    async def iam_info(self, request: Request) -> Response:
        creds = self.cache.current()
        return self._imds(request, _ec2_json(imds_info(creds)) if creds else None)

    async def role_names(self, request: Request) -> Response:
        creds = self.cache.current()
        return self._imds(request, creds.role_name if creds else None)

    async def role_credentials(self, request: Request) -> Response:
        creds = self.cache.current()
        if creds is None or request.path_params["role"] != creds.role_name:
            return self._imds(request, None)
        return self._imds(request, _ec2_json(imds_credentials(creds)))

    # -- container credentials provider -----------------------------------------------

    async def container(self, request: Request) -> Response:
        given = request.headers.get("authorization", "")
        expected = self.container_token or ""
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            return _status(401, "Unauthorized")
        creds = self.cache.current()
        if creds is None:
            return _status(503, "Service Unavailable")
        return Response(json.dumps(container_credentials(creds)), media_type="application/json")


def create_app(
    cache: CredentialCache,
    tokens: ImdsTokens,
    *,
    container_token: str | None = None,
    imds: bool = True,
) -> ASGIApp:
    """The agent's ASGI app. IMDS routes unless `imds` is False; the container route only
    with a `container_token`."""
    api = AgentApi(cache, tokens, container_token)
    routes: list[Route] = []
    if imds:
        routes += [
            Route("/latest/api/token", api.put_token, methods=["PUT"]),
            Route("/latest/meta-data/", api.meta_data, methods=["GET"]),
            Route("/latest/meta-data/iam/", api.iam_index, methods=["GET"]),
            Route("/latest/meta-data/iam/info", api.iam_info, methods=["GET"]),
            Route(CREDENTIALS_PATH, api.role_names, methods=["GET"]),
            Route(CREDENTIALS_PATH + "{role}", api.role_credentials, methods=["GET"]),
        ]
    if container_token:
        routes.append(Route(CONTAINER_PATH, api.container, methods=["GET"]))
    return RejectForwarded(Starlette(routes=routes))
