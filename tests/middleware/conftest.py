"""A real Chamberlain server of its own, on SQLite and on PostgreSQL (started as tests/e2e
starts one), and the example app (examples/protected_app.py) served by uvicorn on a free
port, in a thread."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy
import uvicorn
from starlette.types import ASGIApp
from tests.e2e.conftest import ACCOUNT, Server, free_port, run_cli, start_server

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def chamberlain(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server on SQLite, and one on PostgreSQL (a schema of its own, dropped after)."""
    base = tmp_path_factory.mktemp("chamberlain-authorize")
    data_dir, credentials = base / "data", base / "credentials"
    schema = f"chamberlain_authz_{uuid.uuid4().hex[:10]}"
    env = {"CHAMBERLAIN_DATABASE_SCHEMA": schema} if request.param == "postgresql" else {}
    database = ("--database-url", PG_URL) if request.param == "postgresql" else ()
    done = run_cli(
        "init",
        "--data-dir",
        str(data_dir),
        "--account-id",
        ACCOUNT,
        "--admin-user",
        "admin",
        "--credentials-file",
        str(credentials),
        "--profile",
        "admin",
        *database,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    port = free_port()
    log = base / "server.log"
    process = start_server(data_dir, port, log, extra=database, env=env)
    try:
        yield Server(f"http://127.0.0.1:{port}", data_dir, credentials, process, log)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if database:
            engine = sqlalchemy.create_engine(
                PG_URL.replace("postgresql://", "postgresql+psycopg://")
            )
            with engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            engine.dispose()


class AppServer:
    """An ASGI app on 127.0.0.1 under uvicorn, in a daemon thread."""

    def __init__(self, app: ASGIApp) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> AppServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the app did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
