"""Running the HTTP server: one process, or several worker processes on one socket.

`chamberlain serve` (cli.py) prepares the data directory and the store, then calls
`serve`. With one worker the app runs in the command's own process. With N > 1 the
command binds the listening socket, starts N worker processes (spawned: each imports the
app and opens its own database pool, nothing crosses a fork) that accept on it, prints
the ready line once all of them are up, restarts a worker that dies, and on SIGTERM or
SIGINT passes SIGTERM on: each worker lets its in-flight requests finish (30 s at most)
and its audit group-commit writer flush, then exits.

What is per process and why it stays correct: the caches (access keys, signing keys,
compiled policy sets) are checked against the generations, which each worker's follower
keeps current (store/generation_watch.py), so a change made through any worker (or node)
is seen by every other within the follower's bound (50 ms on SQLite); throttle counters
and failed-authentication counts are rows in the database, shared by all; each worker
has its own group-commit writer, flushed at its shutdown. Prometheus metrics are
aggregated over the workers through prometheus_client's multiprocess mode (files in a
temporary directory the supervisor owns), so a scrape reached by any worker reports the
whole server.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from chamberlain.config import Settings
from chamberlain.ops.audit import trail as audit_trail
from chamberlain.ops.core.context import Services
from chamberlain.telemetry import MULTIPROCESS_DIR_ENV, configure_logging

log = logging.getLogger("chamberlain")

HOUSEKEEPING_SECONDS = 3600
#: In-flight requests get this long to finish after SIGTERM.
GRACEFUL_SECONDS = 30
#: A worker that does not report ready within this long is taken as failed.
START_SECONDS = 120.0


def audit_housekeeping(services: Services, retention_days: int | None) -> None:
    """Hourly: seal a digest of each account's trail and, with a retention setting, prune
    events older than it (verification of what remains keeps working)."""
    while True:
        time.sleep(HOUSEKEEPING_SECONDS)
        try:
            if retention_days is not None:
                before = dt.datetime.now(dt.UTC) - dt.timedelta(days=retention_days)
                audit_trail.prune(services.store, services.secrets, before)
            audit_trail.checkpoint(services.store, services.secrets)
        except Exception:  # keep serving; the next round retries
            log.exception("audit housekeeping failed")


def _start_housekeeping(services: Services, settings: Settings) -> None:
    threading.Thread(
        target=audit_housekeeping,
        args=(services, settings.audit_retention_days),
        name="chamberlain-housekeeping",
        daemon=True,
    ).start()


def _uvicorn_config(app: Any, settings: Settings) -> Any:
    import uvicorn

    # uvicorn's access log is off (presigned URLs carry credentials in their query
    # strings): the app logs each request itself, without them. Forwarded headers are
    # believed only from the configured proxies (they decide aws:SourceIp and
    # aws:SecureTransport); on SIGTERM in-flight requests get 30 s to finish.
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_config=None,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or None,
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        http="httptools",  # C parser: about a tenth less CPU per request than h11
    )


def _server(config: Any, on_ready: Callable[[], None]) -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                on_ready()

    return Server(config)


def _serving_app(services: Services, settings: Settings) -> Any:
    """The app of a serving process, its heap settled (app.settle_heap) before it serves."""
    from chamberlain.app import create_app, settle_heap

    app = create_app(services, region=settings.region)
    settle_heap()
    return app


def serve(settings: Settings, services: Services, ready: str) -> bool:
    """Serve until stopped; `ready` is printed once every worker accepts connections.
    `services` (already migrated) serve a single worker; with several, they are closed
    first and each worker opens its own. Returns whether the server started."""
    if settings.workers <= 1:
        _start_housekeeping(services, settings)
        app = _serving_app(services, settings)
        server = _server(_uvicorn_config(app, settings), lambda: print(ready, flush=True))
        server.run()
        return bool(server.started)
    services.store.close()  # no pool is shared with the workers
    return Supervisor(settings).run(ready)


def worker_main(settings: Settings, sock: socket.socket, index: int, ready: Connection) -> None:
    """A worker process (spawned): its own store and app on the supervisor's socket."""
    from chamberlain.app import build_services

    configure_logging(settings.log_level, settings.log_format, worker=index)
    services = build_services(settings, migrate=False)  # the supervisor migrated
    if index == 0:  # one worker is enough for the hourly housekeeping
        _start_housekeeping(services, settings)
    app = _serving_app(services, settings)
    server = _server(_uvicorn_config(app, settings), lambda: ready.send(os.getpid()))
    try:
        server.run(sockets=[sock])
    finally:
        services.store.close()


class Supervisor:
    """Starts the workers, restarts one that dies, stops them all on SIGTERM/SIGINT."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._stopping = threading.Event()
        self._workers: dict[int, tuple[BaseProcess, Connection]] = {}

    def run(self, ready: str) -> bool:
        with self._metrics_dir(), self._bound() as sock:
            previous = {
                signum: signal.signal(signum, self._stop)
                for signum in (signal.SIGTERM, signal.SIGINT)
            }
            try:
                for index in range(self.settings.workers):
                    self._start(index, sock)
                if not self._await_ready():
                    return False
                print(f"{ready}, {self.settings.workers} workers", flush=True)
                self._watch(sock)
                return True
            finally:
                self._stop_all()
                for signum, handler in previous.items():
                    signal.signal(signum, handler)

    def _stop(self, signum: int, frame: Any) -> None:
        self._stopping.set()

    @contextlib.contextmanager
    def _bound(self) -> Iterator[socket.socket]:
        config = _uvicorn_config(None, self.settings)
        sock: socket.socket = config.bind_socket()
        try:
            yield sock
        finally:
            sock.close()

    @contextlib.contextmanager
    def _metrics_dir(self) -> Iterator[None]:
        """prometheus_client's multiprocess mode for the workers (they inherit the
        environment when spawned; the supervisor itself exports nothing)."""
        directory = tempfile.mkdtemp(prefix="chamberlain-metrics-")
        before = os.environ.get(MULTIPROCESS_DIR_ENV)
        os.environ[MULTIPROCESS_DIR_ENV] = directory
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(MULTIPROCESS_DIR_ENV, None)
            else:
                os.environ[MULTIPROCESS_DIR_ENV] = before
            shutil.rmtree(directory, ignore_errors=True)

    def _start(self, index: int, sock: socket.socket) -> None:
        receive, send = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=worker_main,
            args=(self.settings, sock, index, send),
            name=f"chamberlain-worker-{index}",
        )
        process.start()
        send.close()
        self._workers[index] = (process, receive)

    def _await_ready(self) -> bool:
        """Every worker's ready message; False when one exits first or we are stopped."""
        waiting = {receive: index for index, (_, receive) in self._workers.items()}
        deadline = time.monotonic() + START_SECONDS
        while waiting and not self._stopping.is_set():
            sentinels = {p.sentinel: i for i, (p, _) in self._workers.items()}
            left = deadline - time.monotonic()
            if left <= 0:
                log.error("workers did not start within %.0f s", START_SECONDS)
                return False
            for item in wait([*waiting, *sentinels], timeout=min(left, 0.5)):
                if item in sentinels:
                    index = sentinels[item]
                    log.error("worker %d exited while starting", index)
                    return False
                assert isinstance(item, Connection)
                with contextlib.suppress(EOFError):
                    item.recv()
                waiting.pop(item, None)
        return not waiting

    def _watch(self, sock: socket.socket) -> None:
        """Until stopped: a worker that exits is started again."""
        while not self._stopping.is_set():
            sentinels = {p.sentinel: i for i, (p, _) in self._workers.items()}
            for item in wait(list(sentinels), timeout=0.5):
                if self._stopping.is_set():
                    return
                assert isinstance(item, int)
                index = sentinels[item]
                process, receive = self._workers[index]
                log.error("worker %d (pid %s) exited with %s; starting it again",
                          index, process.pid, process.exitcode)  # fmt: skip
                receive.close()
                _mark_dead(process.pid)
                self._start(index, sock)

    def _stop_all(self) -> None:
        processes = [process for process, _ in self._workers.values()]
        for process in processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACEFUL_SECONDS + 10
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker pid %s did not stop; killing it", process.pid)
                process.kill()
                process.join()
        for _, receive in self._workers.values():
            receive.close()
        self._workers.clear()


def _mark_dead(pid: int | None) -> None:
    directory = os.environ.get(MULTIPROCESS_DIR_ENV)
    if pid is not None and directory:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
