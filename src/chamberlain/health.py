"""`/healthz` and `/readyz`: answered without SigV4, for load balancers and orchestrators.

`/healthz` says the process serves HTTP; `/readyz` says it can serve API calls: the
database answers and its schema is at the revision this code's migrations end at (a node
of an older release, or one whose database was restored from an old backup, is not ready).
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chamberlain.store.sql import SqlStore

log = logging.getLogger("chamberlain.health")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def _readiness(store: Any) -> tuple[bool, dict[str, Any]]:
    if not isinstance(store, SqlStore):  # the in-memory store of tests is always ready
        return True, {"database": "memory"}
    try:
        current, head = store.revision(), store.head_revision()
    except Exception as exc:  # unreachable database, bad credentials, ...
        log.warning("readiness check: database unreachable: %s", type(exc).__name__)
        return False, {"database": "unreachable"}
    details = {"database": store.dialect, "schema_revision": current, "code_revision": head}
    return current == head, details


def routes(store: Any) -> list[Route]:
    async def readyz(request: Request) -> JSONResponse:
        ready, details = await run_in_threadpool(_readiness, store)
        body = {"status": "ready" if ready else "not ready", **details}
        return JSONResponse(body, status_code=200 if ready else 503)

    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
    ]
