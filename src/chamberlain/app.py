"""Composition root: settings -> store -> services -> routes. Nothing else wires.

One port serves IAM and STS (AWS query protocol, told apart by the Version parameter);
every request is SigV4-verified, decoded from the botocore model, run through the
operations layer, and answered in AWS's XML with a unique request id.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route

from chamberlain import health
from chamberlain.authorize_endpoint import AuthorizeEndpoint
from chamberlain.config import Settings
from chamberlain.console import console_app
from chamberlain.crypto.secrets import SecretBox, decode_keyfile
from chamberlain.crypto.sigv4 import SignatureError
from chamberlain.crypto.tokens import TokenSealer
from chamberlain.http_body import read_body
from chamberlain.offload import run_blocking
from chamberlain.ops.core import auth_failures
from chamberlain.ops.core.authn import (
    KeyAuthenticationFailed,
    SignedRequest,
    authenticate_in,
    signature_error,
)
from chamberlain.ops.core.aws_managed import AWS_MANAGED
from chamberlain.ops.core.context import Caller, RequestMeta, Services
from chamberlain.ops.core.dispatch import UnknownOperation, execute_request
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.core.group_commit import GroupCommit
from chamberlain.ops.core.registry import Output, lookup
from chamberlain.policy import PrincipalType
from chamberlain.protocol import json11, signing_regions, sigv4_fields
from chamberlain.protocol.models import SERVICES, find_operation, service_model
from chamberlain.protocol.query import decode_query, parse_form
from chamberlain.protocol.wire_errors import ProtocolError, unknown_action
from chamberlain.protocol.xml_out import (
    serialize_error,
    serialize_response,
)
from chamberlain.store.api import UnitOfWork
from chamberlain.store.sql import SqlStore
from chamberlain.telemetry import NodeFigures, RequestTelemetry, Telemetry, note_decisions

log = logging.getLogger("chamberlain")

VERSIONS = {"2010-05-08": "iam", "2011-06-15": "sts"}
#: STS operations a caller makes without AWS credentials (its proof is the token).
UNSIGNED = {("sts", "AssumeRoleWithWebIdentity"), ("sts", "AssumeRoleWithSAML")}
XML = "text/xml"
JSON = "application/x-amz-json-1.1"
#: Services on the JSON 1.1 protocol (told apart by their X-Amz-Target prefixes).
JSON_SERVICES = ("cloudtrail",)
#: How often a node writes the summaries of ended windows of failed authentications and
#: prunes expired throttle counters (any node may; each window is summarized once).
SWEEP_EVERY_S = 30.0


def build_services(settings: Settings, *, migrate: bool = True) -> Services:
    store = SqlStore(settings.database_url, schema=settings.database_schema)
    if migrate:
        store.migrate()
    keys = decode_keyfile(settings.secrets_file.read_text())
    return Services(
        store=store,
        secrets=SecretBox(keys[0], keys[1:]),
        tokens=TokenSealer(keys[0], keys[1:]),  # HKDF keeps the two uses' keys apart
        audit=settings.audit,
    )


#: The caller of an unsigned federation request, before its token is checked.
ANONYMOUS = Caller(account_id="", arn="", principal_id="", type=PrincipalType.ANONYMOUS)


def _is_signed(request: Request) -> bool:
    return "authorization" in request.headers or "X-Amz-Signature" in request.query_params


def _xml(body: bytes, status: int, request_id: str) -> Response:
    return Response(body, status, media_type=XML, headers={"x-amzn-RequestId": request_id})


def _json(body: bytes, status: int, request_id: str) -> Response:
    return Response(body, status, media_type=JSON, headers={"x-amzn-RequestId": request_id})


def _error_response(
    service: str,
    code: str,
    message: str,
    status: int,
    sender: bool,
    request_id: str,
    *,
    aws_fault: bool = False,
) -> Response:
    if service in JSON_SERVICES:
        code, status = json11.common_error(code, status)
        return _json(json11.serialize_error(code, message), status, request_id)
    body = serialize_error(
        service, code, message, request_id, sender_fault=sender, aws_fault_namespace=aws_fault
    )
    return _xml(body, status, request_id)


@dataclass(frozen=True)
class _Call:
    """A request read off the wire: its verified signature (None for an unsigned
    federation call), its metadata, the operation's name, and how to decode its input
    (after authentication, so an unauthenticated caller learns nothing of the model)."""

    signed: SignedRequest | None
    meta: RequestMeta
    name: str
    decode: Callable[[], tuple[str, dict[str, Any]]]


def _failure(
    exc: Exception, service: str, request: Request, request_id: str, info: dict[str, str]
) -> Response:
    """AWS's error answer for whatever stopped a call; only a bug is a 500 (and logged)."""
    if isinstance(exc, UnknownOperation):
        # In the installed botocore model but not implemented here: the client gets the
        # same answer as for an action the service does not have.
        log.info("unimplemented operation %s (request %s)", exc.args[0], request_id)
        exc = unknown_action(service, exc.args[0].partition(":")[2])
    if isinstance(exc, ProtocolError):
        info["outcome"] = exc.code
        return _error_response(
            service,
            exc.code,
            exc.message,
            exc.http_status,
            exc.sender_fault,
            request_id,
            aws_fault=exc.aws_fault_namespace,
        )
    if isinstance(exc, ServiceError):
        info["outcome"] = exc.code
        if exc.code == "AccessDenied":
            explicit = EXPLICIT_DENY in exc.message
            note_decisions(request, "api", ["explicitDeny" if explicit else "implicitDeny"])
        return _error_response(
            service, exc.code, exc.message, exc.http_status, exc.sender_fault, request_id
        )
    if isinstance(exc, ClientDisconnect):  # the client went away mid-body: nothing to answer
        info["outcome"] = "ClientDisconnected"
        return Response(status_code=400)
    info["outcome"] = "InternalFailure"
    log.error("internal error serving request %s", request_id, exc_info=exc)
    return _error_response(
        service,
        "ServiceFailure" if service not in JSON_SERVICES else "InternalFailure",
        "An internal error occurred. Try again later.",
        500,
        False,
        request_id,
    )


class QueryApi:
    """The IAM/STS (query protocol) and CloudTrail (JSON 1.1) endpoint."""

    def __init__(self, services: Services, region: str) -> None:
        self.services = services
        self.region = region

    async def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        service = "iam"
        info: dict[str, str] = {}  # what the request log and metrics say of this call
        request.state.telemetry = info
        try:
            body = await read_body(request)
            now = dt.datetime.now(dt.UTC)
            meta = self._meta(request, request_id, now)
            target = request.headers.get("x-amz-target")
            if target is not None:
                service = json11.target_service(target, JSON_SERVICES) or "cloudtrail"
                call = self._json_call(request, body, service, target, meta, info)
            else:
                query = request.scope.get("query_string", b"")
                pairs = parse_form(query) if request.method == "GET" else parse_form(body)
                service = VERSIONS.get(dict(reversed(pairs)).get("Version", ""), "iam")
                call = self._query_call(request, body, service, pairs, meta, info)
            operation, output = await self._execute(
                call.signed, service, now, call.meta, call.name, call.decode, info
            )
            _note_decisions(request, service, operation, output, call.signed is not None)
            if service in JSON_SERVICES:
                return _json(json11.serialize_output(service, operation, output), 200, request_id)
            return _xml(serialize_response(service, operation, output, request_id), 200, request_id)
        except Exception as exc:  # every failure gets AWS's answer (a 500 only for a bug)
            return _failure(exc, service, request, request_id, info)
        finally:
            info["service"] = service

    def _meta(self, request: Request, request_id: str, now: dt.datetime) -> RequestMeta:
        return RequestMeta(
            request_id=request_id,
            now=now.replace(microsecond=0),  # IAM's dates have whole seconds
            source_ip=request.client.host if request.client else "",
            user_agent=request.headers.get("user-agent", ""),
            secure_transport=request.scope.get("scheme") == "https",  # (request.url: costly)
            region=self.region,
        )

    def _json_call(
        self,
        request: Request,
        body: bytes,
        service: str,
        target: str,
        meta: RequestMeta,
        info: dict[str, str],
    ) -> _Call:
        """A JSON 1.1 call (CloudTrail), named by its X-Amz-Target header; always signed."""
        info["action"] = target.rsplit(".", 1)[-1]
        signed, meta = self.signed(request, body, service, meta)

        def decode() -> tuple[str, dict[str, Any]]:
            _require_served(service, json11.resolve_target(service, target))
            decoded = json11.decode_json_request(service, target, body)
            return decoded.operation, decoded.params

        return _Call(signed, meta, _json_operation(service, target), decode)

    def _query_call(
        self,
        request: Request,
        body: bytes,
        service: str,
        pairs: list[tuple[str, str]],
        meta: RequestMeta,
        info: dict[str, str],
    ) -> _Call:
        """A query-protocol call (IAM, STS): signed unless it is a federation call whose
        token or assertion is its proof."""
        action = dict(reversed(pairs)).get("Action", "")
        info["action"] = action
        signed: SignedRequest | None
        if (service, action) in UNSIGNED and not _is_signed(request):
            signed = None
        else:
            signed, meta = self.signed(request, body, service, meta)

        def decode() -> tuple[str, dict[str, Any]]:
            if find_operation(service, action) is not None:
                _require_served(service, action)
            decoded = decode_query(service, pairs)
            return decoded.operation, decoded.params

        return _Call(signed, meta, action, decode)

    async def authentication_failed(
        self, failed: KeyAuthenticationFailed, meta: RequestMeta, service: str, operation: str
    ) -> ServiceError:
        """Counted per key and source, recorded once per window, throttled past a limit:
        the error to answer."""
        return await run_blocking(
            partial(
                auth_failures.authentication_failed,
                self.services,
                meta,
                failed,
                service=service,
                operation=operation,
            )
        )

    def signed(
        self, request: Request, body: bytes, service: str, meta: RequestMeta
    ) -> tuple[SignedRequest, RequestMeta]:
        """The request's SigV4 fields, and its meta in the region its credential scope
        names (when the service accepts it there): that is the region its event and the
        key's last use record."""
        signed = self._signed_request(request, body)
        region = signing_regions.request_region(
            service, signed.signing_input.scope.region, self.region
        )
        return signed, replace(meta, region=region)

    async def _execute(
        self,
        signed: SignedRequest | None,
        service: str,
        now: dt.datetime,
        meta: RequestMeta,
        name: str,
        decode: Callable[[], tuple[str, dict[str, Any]]],
        info: dict[str, str],
    ) -> tuple[str, Output]:
        """Authenticate, decode and run the call in one unit of work (dispatch's
        execute_request); a failure by a known key is recorded in its account's trail.
        Returns the operation's name and output."""
        services = self.services
        decoded_name = [name]

        def authenticate(uow: UnitOfWork) -> Caller:
            if signed is None:
                caller = ANONYMOUS
            else:
                caller = authenticate_in(
                    uow,
                    services,
                    signed,
                    read_only=uow.read_only,  # a preparer's is, whatever the operation
                    now=now,
                    service=service,
                    region=meta.region,
                    allowed_regions=signing_regions.signing_regions(service),
                )
            info["principal"] = caller.arn
            return caller

        def run() -> Output:
            def params() -> dict[str, Any]:
                decoded_name[0], decoded = decode()
                if decoded_name[0] != name:
                    raise UnknownOperation(f"{service}:{decoded_name[0]}")
                return decoded

            return execute_request(services, meta, service, name, authenticate, params)

        try:
            output = await run_blocking(run)
        except KeyAuthenticationFailed as failed:
            raise await self.authentication_failed(
                failed, meta, service, info.get("action", name)
            ) from None
        return decoded_name[0], output

    def _signed_request(self, request: Request, body: bytes) -> SignedRequest:
        """The request's SigV4 fields and what its client signed."""
        headers = request.headers.raw
        query = request.scope.get("query_string", b"")
        try:
            fields = sigv4_fields.extract(headers, query)
            signing_input = fields.signing_input(
                method=request.method,
                path=request.scope.get("raw_path") or request.url.path.encode(),
                query=query,
                headers=headers,
                payload_hash=sigv4_fields.payload_hash(headers, body),
            )
        except SignatureError as exc:
            raise signature_error(exc) from None
        return SignedRequest(
            access_key_id=fields.access_key_id,
            signature=fields.signature,
            signing_input=signing_input,
            expires=fields.expires,
            security_token=fields.security_token,
        )


def create_app(services: Services, *, region: str = "us-east-1") -> Starlette:
    """The HTTP app: the AWS APIs at `/`, the web console at `/console`, the authorization
    endpoint at `/v1/authorize`, health at `/healthz` and `/readyz`, Prometheus metrics at
    `/metrics`; every request timed, counted and logged in one line."""
    api = QueryApi(services, region)
    authorize = AuthorizeEndpoint(api)
    store = services.store
    if services.audit and services.group_commit is None:
        # Read-only calls' events (and keys' last use) are written in batches; the
        # lifespan's end (graceful shutdown) commits what is still pending.
        services.group_commit = GroupCommit(store)
    writer = services.group_commit
    telemetry = Telemetry(
        store.pool_status if isinstance(store, SqlStore) else None,
        NodeFigures(
            audit_pending=(lambda: writer.lag) if writer is not None else None,
            audit_lost=(lambda: writer.lost) if writer is not None else None,
            cache_lookups=lambda: services.cache_stats,
        ),
    )

    async def metrics(request: Request) -> Response:
        return Response(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if isinstance(store, SqlStore):
            # Requests read the generations from the node's copy (until store.close).
            store.follow_generations()
        sweeper = asyncio.create_task(_sweep_periodically(services))
        syncing = asyncio.create_task(telemetry.keep_synced())
        try:
            yield
        finally:
            for task in (sweeper, syncing):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if services.group_commit is not None:
                await run_in_threadpool(services.group_commit.close)
            if isinstance(store, SqlStore):
                await run_in_threadpool(store.stop_following)

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/", api.handle, methods=["GET", "POST"]),
            Route("/v1/authorize", authorize.handle, methods=list(AuthorizeEndpoint.METHODS)),
            *health.routes(store),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/advisor/findings", _findings_in_console, methods=["GET"]),
            Mount("/console", app=console_app(services, region=region)),
        ],
        middleware=[
            Middleware(RequestTelemetry, telemetry=telemetry),
            Middleware(ApiFastPath, api=api, authorize=authorize),
        ],
    )


class ApiFastPath:
    """ASGI middleware: the AWS APIs (`/`, every SDK call) and `/v1/authorize` go straight
    to their handlers, past the router and the exception middleware (the handlers answer
    every failure themselves); everything else goes on to them. A tenth of a call's CPU
    is saved."""

    def __init__(
        self, app: Callable[..., Any], api: QueryApi, authorize: AuthorizeEndpoint
    ) -> None:
        self.app = app
        self.api = api
        self.authorize = authorize

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            handler = None
            if path == "/" and scope["method"] in _API_METHODS:
                handler = self.api.handle
            elif path == "/v1/authorize":  # every method: it answers the wrong ones itself
                handler = self.authorize.handle
            if handler is not None:
                response = await handler(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


_API_METHODS = ("GET", "POST")


def settle_heap() -> None:
    """Load what every node keeps for good (the botocore models, AWS's managed policies),
    then move the heap to the garbage collector's permanent generation.

    Those are a few million objects, which every full collection would otherwise walk:
    a pause of 30-70 ms, stopping every thread, about once a second under load (p99 of a
    verified call at 16 connections: 48 ms before, 13 ms after). Objects made later are
    collected as usual. For a serving process (serving.py), once, before it serves: not
    for an app made in a test, whose heap holds others' garbage."""
    for service in SERVICES:
        service_model(service)
    len(AWS_MANAGED)
    gc.collect()
    gc.freeze()


async def _sweep_periodically(services: Services) -> None:
    while True:
        await asyncio.sleep(SWEEP_EVERY_S)
        try:
            await run_in_threadpool(auth_failures.sweep, services, dt.datetime.now(dt.UTC))
        except Exception:  # the next round tries again; serving goes on
            log.exception("sweeping the throttle counters failed")


def app_from_data_dir(data_dir: str | Path) -> Starlette:
    from chamberlain import config

    settings = config.load(data_dir)
    return create_app(build_services(settings), region=settings.region)


def _json_operation(service: str, target: str) -> str:
    """The operation an X-Amz-Target names ("" when none: decoding then says so)."""
    try:
        return json11.resolve_target(service, target)
    except ProtocolError:
        return ""


#: The words of an AccessDenied message that an explicit Deny decided (policy/decision.py).
EXPLICIT_DENY = "with an explicit deny"
SIMULATIONS = {("iam", "SimulatePrincipalPolicy"), ("iam", "SimulateCustomPolicy")}


def _note_decisions(
    request: Request, service: str, operation: str, output: Output, signed: bool
) -> None:
    """The authorization decisions a successful call made, for the metrics: its own
    (allowed, when the operation is authorized at all and the caller signed) and, for a
    simulation, each simulated action's."""
    op = lookup(service, operation)
    if signed and op is not None and op.resource is not None:
        note_decisions(request, "api", ["allowed"])
    if (service, operation) in SIMULATIONS and isinstance(output, dict):
        results = output.get("EvaluationResults") or []
        note_decisions(request, "simulator", [str(r.get("EvalDecision")) for r in results])


def _require_served(service: str, operation: str) -> None:
    """Raise UnknownOperation, before the input is decoded, for an operation that the
    installed botocore model has and Chamberlain does not implement."""
    if lookup(service, operation) is None:
        raise UnknownOperation(f"{service}:{operation}")


async def _findings_in_console(request: Request) -> Response:
    """The advisor's findings for the signed-in console principal live under /console,
    where its session cookie is sent."""
    return RedirectResponse("/console/advisor/findings", status_code=307)
