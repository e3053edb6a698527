"""What a node tells its operator: one log line per request and Prometheus metrics.

The request log holds no secret by construction: it is built from a fixed list of fields
(time, request id, source IP, service, action, principal ARN, outcome, status, latency),
never from headers, query strings or bodies, which carry signatures, session tokens and
passwords.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess

REQUEST_LOG = logging.getLogger("chamberlain.requests")
log = logging.getLogger("chamberlain")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]

#: Set (by serving.Supervisor) in the environment of worker processes: their metrics are
#: files in this directory, and a scrape reports the sum over every worker.
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: Latency buckets (seconds): a signed call is ~5-20 ms, argon2id ~0.1-0.2 s.
BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


#: Decision outcomes (the engine's, and /v1/authorize's for a principal it could not
#: authenticate) and where they were made.
DECISION_OUTCOMES = ("allowed", "explicitDeny", "implicitDeny", "unauthenticated")
DECISION_SOURCES = ("api", "authorize", "simulator")
#: How often (at most) request ends copy the node's own figures (audit writer, caches,
#: database pool) into the metrics; a scrape always does, and with several workers each
#: also does every SYNC_EVERY_S while idle (`keep_synced`), so that a scrape answered by
#: another worker reads figures at most this old.
SYNC_EVERY_S = 1.0


class NodeFigures:
    """What the app's own objects know and a scrape should say: audit writer backlog and
    losses, per-node cache lookups (the database pool is Telemetry's `pool_status`). Each
    a callable, read when synced."""

    def __init__(
        self,
        audit_pending: Callable[[], int] | None = None,
        audit_lost: Callable[[], int] | None = None,
        cache_lookups: Callable[[], Mapping[tuple[str, bool], int]] | None = None,
    ) -> None:
        self.audit_pending = audit_pending
        self.audit_lost = audit_lost
        self.cache_lookups = cache_lookups


class Telemetry:
    """One registry per app (tests build many apps in one process)."""

    def __init__(
        self,
        pool_status: Callable[[], dict[str, int]] | None = None,
        figures: NodeFigures | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "chamberlain_requests",
            "Requests answered, by service, action and outcome (Success or AWS error code)",
            ["service", "action", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "chamberlain_request_duration_seconds",
            "Time from the first byte read to the response, by service",
            ["service"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "chamberlain_requests_in_flight",
            "Requests being served",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.denied = Counter(
            "chamberlain_access_denied",
            "Calls refused by authorization (AccessDenied), by service",
            ["service"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "chamberlain_authorization_decisions",
            "Authorization decisions by outcome (allowed, explicitDeny, implicitDeny; "
            "unauthenticated: /v1/authorize could not authenticate the principal) and source "
            "(api: the API's own authorized calls; authorize: POST /v1/authorize; simulator: "
            "each action a Simulate*Policy call evaluated)",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.audit_pending = Gauge(
            "chamberlain_audit_writer_pending",
            "Audit events (and key last-use notes) handed to the group-commit writer and not "
            "yet committed: the writer's lag",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.audit_lost = Counter(
            "chamberlain_audit_writer_lost",
            "Deferred writes the group-commit writer gave up on (each logged)",
            registry=self.registry,
        )
        self.cache_lookups = Counter(
            "chamberlain_cache_lookups",
            "Lookups in the per-node caches (access_keys, principal_policies, "
            "compiled_policies) by result (hit, miss): the hit rate is hit / all",
            ["cache", "result"],
            registry=self.registry,
        )
        self._pool_status = pool_status
        # With several workers, one series per worker (a `pid` label); dead workers' are
        # dropped (serving.Supervisor marks them).
        self.pool = (
            Gauge(
                "chamberlain_db_pool_connections",
                "Database pool connections by state (in_use, idle); with several worker "
                "processes one series per worker (pid label), each synced at most "
                f"{SYNC_EVERY_S:g} s before the scrape (the answering worker's at the scrape)",
                ["state"],
                registry=self.registry,
                multiprocess_mode="liveall",
            )
            if pool_status is not None
            else None
        )
        self._figures = figures or NodeFigures()
        self._synced: dict[object, int] = {}
        self._next_sync = 0.0
        self._sync_lock = threading.Lock()
        self._multiprocess_dir = os.environ.get(MULTIPROCESS_DIR_ENV)

    def sync(self, *, force: bool = False) -> None:
        """Copy the node's figures into the metrics (at most every SYNC_EVERY_S unless
        forced): counters by their increase since the last sync, so that with several
        worker processes the sums over workers stay right."""
        now = time.monotonic()
        if not force and now < self._next_sync:
            return
        if not self._sync_lock.acquire(blocking=force):
            return
        try:
            self._next_sync = now + SYNC_EVERY_S
            if self.pool is not None and self._pool_status is not None:
                for state, count in self._pool_status().items():
                    self.pool.labels(state).set(count)
            figures = self._figures
            if figures.audit_pending is not None:
                self.audit_pending.set(figures.audit_pending())
            if figures.audit_lost is not None:
                self._advance(self.audit_lost, "lost", figures.audit_lost())
            if figures.cache_lookups is not None:
                for (cache, hit), count in list(figures.cache_lookups().items()):
                    counter = self.cache_lookups.labels(cache, "hit" if hit else "miss")
                    self._advance(counter, (cache, hit), count)
        finally:
            self._sync_lock.release()

    async def keep_synced(self) -> None:
        """With several workers, sync every SYNC_EVERY_S until cancelled (a worker's
        figures reach the shared files even when it serves no request: an idle worker's
        pool and audit backlog are then read as they are, not as they were at its last
        request). One process answers every scrape itself: nothing to do."""
        if self._multiprocess_dir is None:
            return
        while True:  # a sync is due SYNC_EVERY_S after the last (a request's or ours)
            await asyncio.sleep(max(self._next_sync - time.monotonic(), 0.01))
            try:
                self.sync()
            except Exception:  # a figure that failed to read; the next round tries again
                log.exception("metrics sync failed")

    def _advance(self, counter: Any, key: object, total: int) -> None:
        increase = total - self._synced.get(key, 0)
        if increase > 0:
            counter.inc(increase)
            self._synced[key] = total

    def exposition(self) -> bytes:
        self.sync(force=True)
        if self._multiprocess_dir is None:
            return generate_latest(self.registry)
        # Several workers: every worker's files (this one's just synced), summed or by pid
        # as each metric's multiprocess mode says.
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
            registry, path=self._multiprocess_dir
        )
        return generate_latest(registry)

    def observe(
        self, fields: dict[str, Any], seconds: float, decisions: Iterable[tuple[str, str]] = ()
    ) -> None:
        service = str(fields.get("service") or "-")
        outcome = str(fields.get("outcome") or "-")
        self.requests.labels(service, str(fields.get("action") or "-"), outcome).inc()
        self.latency.labels(service).observe(seconds)
        if outcome in ("AccessDenied", "AccessDeniedException"):
            self.denied.labels(service).inc()
        for source, decided in decisions:
            self.decisions.labels(source, decided).inc()
        self.sync()


def note_decisions(request: Any, source: str, outcomes: Iterable[str]) -> None:
    """Record authorization decisions made while serving `request` (a Starlette request):
    counted by RequestTelemetry when the request ends."""
    state = request.scope.setdefault("state", {})
    state.setdefault("decisions", []).extend((source, o) for o in outcomes)


class RequestTelemetry:
    """ASGI middleware: times each HTTP request, then logs one line and counts it.

    The endpoint fills `request.state.telemetry` (a dict: service, action, principal,
    outcome); anything it leaves out is logged as unknown.
    """

    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        request_id = ""

        async def sending(message: Message) -> None:
            nonlocal status, request_id
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", ()):
                    if name.lower() == b"x-amzn-requestid":
                        request_id = value.decode("latin-1")
            await send(message)

        self.telemetry.in_flight.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            self.telemetry.in_flight.dec()
            seconds = time.perf_counter() - started
            state = scope.get("state", {}).get("telemetry") or {}
            client = scope.get("client")
            fields: dict[str, Any] = {
                "request_id": request_id or None,
                "source_ip": client[0] if client else None,
                "method": scope.get("method"),
                "path": scope.get("path"),
                "service": state.get("service"),
                "action": state.get("action"),
                "principal": state.get("principal"),
                "outcome": state.get("outcome") or ("Success" if status < 400 else None),
                "status": status,
                "latency_ms": round(seconds * 1000, 2),
            }
            if state:  # an API call (health checks and metrics scrapes are not counted)
                decisions = scope.get("state", {}).get("decisions") or ()
                self.telemetry.observe(fields, seconds, decisions)
            REQUEST_LOG.info("request", extra={"fields": fields})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the record's fields
    (and, from a worker process of several, the worker's number and pid)."""

    def __init__(self, worker: int | None = None) -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.worker is not None:
            entry["worker"] = self.worker
            entry["pid"] = record.process
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """For people: `time level logger[worker] message key=value ...`."""

    def __init__(self, worker: int | None = None) -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        extra = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        when = dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="seconds")
        name = record.name if self.worker is None else f"{record.name}[{self.worker}]"
        line = f"{when} {record.levelname.lower()} {name} {record.getMessage()}"
        line = f"{line} {extra}" if extra else line
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def configure_logging(level: str, log_format: str, *, worker: int | None = None) -> None:
    """The process's logging: one handler on stderr in the chosen format; `worker`: the
    number of this worker process, when there are several (each line says which)."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter(worker) if log_format == "json" else TextFormatter(worker)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own start-up chatter stays out; its warnings and errors come through.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
