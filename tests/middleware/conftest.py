"""A real Chamberlain server of its own (tests/e2e's way of starting one) and the example
app (examples/protected_app.py) served by uvicorn on a free port, in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.types import ASGIApp
from tests.e2e.conftest import ACCOUNT, Server, free_port, run_cli, start_server


@pytest.fixture(scope="module")
def chamberlain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("chamberlain-authorize")
    data_dir, credentials = base / "data", base / "credentials"
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
    )
    assert done.returncode == 0, done.stderr
    port = free_port()
    log = base / "server.log"
    process = start_server(data_dir, port, log)
    yield Server(f"http://127.0.0.1:{port}", data_dir, credentials, process, log)
    process.terminate()
    process.wait(timeout=10)


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
