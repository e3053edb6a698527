"""A real server on PostgreSQL (a schema of its own), fed the seeded fuzz generator of
benchmarks/fuzz.py over HTTP for a bounded time: no answer is a 5xx. PostgreSQL's text
holds no NUL, so input with one used to fail in the driver; now it gets AWS's error and
the call is still in the trail. CHAMBERLAIN_FUZZ_SECONDS / CHAMBERLAIN_FUZZ_SEED as in
tests/test_app_fuzz.py."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import sqlalchemy
from benchmarks.fuzz import RequestGenerator, http_sender, run
from botocore.exceptions import ClientError

from .conftest import Server, free_port, run_cli, start_server

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SECONDS = float(os.environ.get("CHAMBERLAIN_FUZZ_SECONDS", "20"))


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    schema = f"chamberlain_e2e_{uuid.uuid4().hex[:10]}"
    env = {"CHAMBERLAIN_DATABASE_SCHEMA": schema}
    base = tmp_path_factory.mktemp("pg-fuzz")
    data_dir, creds = base / "data", base / "credentials"
    done = run_cli(
        "init",
        "--data-dir",
        str(data_dir),
        "--account-id",
        "123456789012",
        "--admin-user",
        "admin",
        "--credentials-file",
        str(creds),
        "--profile",
        "admin",
        "--database-url",
        PG_URL,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    port, log = free_port(), base / "server.log"
    process = start_server(data_dir, port, log, extra=("--database-url", PG_URL), env=env)
    try:
        yield Server(f"http://127.0.0.1:{port}", data_dir, creds, process, log)
    finally:
        process.terminate()
        process.wait(timeout=10)
        engine = sqlalchemy.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


def test_fuzzed_requests_never_get_a_5xx(pg_server: Server) -> None:
    credentials = pg_server.session().get_credentials()
    assert credentials is not None
    seed = int(os.environ.get("CHAMBERLAIN_FUZZ_SEED", "15"))
    address = urlsplit(pg_server.endpoint)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    generator = RequestGenerator(
        seed, credentials.access_key, credentials.secret_key, f"{host}:{port}"
    )
    tally = run(generator, http_sender(host, port), SECONDS)
    assert tally.sent > 100, tally.summary()
    assert tally.server_errors == 0, f"seed {seed}\n{tally.summary()}\n" + "\n".join(tally.failures)
    assert '"level": "error"' not in pg_server.log.read_text()


def test_a_nul_byte_gets_aws_error_and_the_call_stays_in_the_trail(pg_server: Server) -> None:
    """GetPolicy with a PolicyArn ending in NUL: no such policy (a 4xx, as for any ARN
    naming none), the failed call's event is recorded, and no statement's parameters are
    printed (they used to be, with the event lost and a 500)."""
    arn = "arn:aws:iam::123456789012:policy/nul-test\0"
    with pytest.raises(ClientError) as failed:
        pg_server.client("iam").get_policy(PolicyArn=arn)
    status = failed.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert 400 <= status < 500, failed.value.response
    events = pg_server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}]
    )["Events"]
    assert [e["EventName"] for e in events] == ["GetPolicy"]
    assert events[0]["Resources"][0]["ResourceName"] == arn
    log = pg_server.log.read_text()
    assert "[parameters:" not in log and "nul-test" not in log
