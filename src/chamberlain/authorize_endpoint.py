"""HTTP for `POST /v1/authorize` (docs/authorize.md): the calling service's SigV4
signature (signing name `chamberlain`) is verified like any API request's, the JSON body
is decoded by protocol/authorize_json.py, and ops/authorize.py answers. Every error is
JSON `{"__type": code, "message": ...}` with its status; never a 500 for bad input."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Protocol

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from chamberlain.http_body import read_body
from chamberlain.offload import run_blocking
from chamberlain.ops.core.authn import KeyAuthenticationFailed, SignedRequest
from chamberlain.ops.core.authorize import (
    SIGNING_NAME,
    AuthorizeQuery,
    ServiceSignature,
    authorize_call,
)
from chamberlain.ops.core.context import RequestMeta, Services
from chamberlain.ops.core.errors import ServiceError
from chamberlain.protocol import authorize_json
from chamberlain.protocol.signing_regions import signing_regions
from chamberlain.protocol.wire_errors import ProtocolError
from chamberlain.telemetry import note_decisions

log = logging.getLogger("chamberlain")
JSON = "application/json"


def _response(body: bytes, status: int, request_id: str) -> Response:
    return Response(body, status, media_type=JSON, headers={"x-amzn-RequestId": request_id})


def _error(code: str, message: str, status: int, request_id: str) -> Response:
    return _response(authorize_json.serialize_error(code, message), status, request_id)


def _query(decoded: authorize_json.AuthorizeInput) -> AuthorizeQuery:
    forwarded = decoded.forwarded
    if forwarded is None:
        return AuthorizeQuery(
            decoded.action, decoded.resource, decoded.context, principal_arn=decoded.principal_arn
        )
    signed = None
    if forwarded.signing_input is not None:
        signed = SignedRequest(
            access_key_id=forwarded.access_key_id,
            signature=forwarded.signature,
            signing_input=forwarded.signing_input,
            expires=forwarded.expires,
            security_token=forwarded.security_token,
        )
    return AuthorizeQuery(
        decoded.action,
        decoded.resource,
        decoded.context,
        signed=signed,
        signing_name=forwarded.service,
        signature_error=forwarded.signature_error,
    )


class Authenticator(Protocol):
    """What the endpoint needs of the API app (app.QueryApi): the same signature parsing
    and failed-attempt auditing as every API call."""

    region: str
    services: Services

    def signed(
        self, request: Request, body: bytes, service: str, meta: RequestMeta
    ) -> tuple[SignedRequest, RequestMeta]: ...

    async def authentication_failed(
        self, failed: KeyAuthenticationFailed, meta: RequestMeta, service: str, operation: str
    ) -> ServiceError: ...


class AuthorizeEndpoint:
    #: Routed so that a wrong method gets a JSON error too (405), not Starlette's text.
    METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def __init__(self, api: Authenticator) -> None:
        self.api = api

    async def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        info = {"service": "chamberlain", "action": "Authorize"}  # the request log's
        request.state.telemetry = info
        try:
            if request.method != "POST":
                raise ProtocolError(
                    "MethodNotAllowed", f"{request.method} is not allowed; use POST.", 405
                )
            body = await read_body(request)
            now = dt.datetime.now(dt.UTC)
            meta = RequestMeta(
                request_id=request_id,
                now=now.replace(microsecond=0),
                source_ip=request.client.host if request.client else "",
                user_agent=request.headers.get("user-agent", ""),
                secure_transport=request.scope.get("scheme") == "https",
                region=self.api.region,
            )
            signed, meta = self.api.signed(request, body, SIGNING_NAME, meta)
            service = ServiceSignature(signed, now, signing_regions(SIGNING_NAME))
            try:
                # the calling service's signature, the end user's and the decision: one
                # hop to a worker thread, one read-only transaction (the body is decoded
                # once the calling service is authenticated)
                caller, answer = await run_blocking(
                    authorize_call,
                    self.api.services,
                    service,
                    meta,
                    lambda: _query(authorize_json.parse(body)),
                )
            except KeyAuthenticationFailed as failed:
                raise await self.api.authentication_failed(
                    failed, meta, SIGNING_NAME, "Authorize"
                ) from None
            info["principal"] = caller.arn
            note_decisions(request, "authorize", [answer["decision"]])
            return _response(authorize_json.serialize(answer), 200, request_id)
        except ProtocolError as exc:
            info["outcome"] = exc.code
            return _error(exc.code, exc.message, exc.http_status, request_id)
        except ServiceError as exc:
            info["outcome"] = exc.code
            return _error(exc.code, exc.message, exc.http_status, request_id)
        except ClientDisconnect:  # the client went away mid-body: nothing to answer
            info["outcome"] = "ClientDisconnected"
            return Response(status_code=400)
        except Exception:
            info["outcome"] = "InternalFailure"
            log.exception("internal error serving request %s", request_id)
            return _error(
                "InternalFailure", "An internal error occurred. Try again later.", 500, request_id
            )
