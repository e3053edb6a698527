"""Crash safety: a real server under write load from several boto3 threads is killed with
SIGKILL at random moments; after each restart every write a client saw acknowledged
(HTTP 200) is there, what exists is whole (memberships, attachments, default versions
point at things that exist) and `chamberlain audit verify` passes.

The shortened version of `make soak` (benchmarks/soak_kill.py, 15 rounds); issue #15."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from benchmarks.soak_kill import Ack, Soak, Target, broken_invariants, drop_schema, lost_writes

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
ROUNDS = 3
BUDGET_S = 30.0  # per backend; further rounds are skipped once it is spent
DOC = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}],
    }
)


def _postgres_up() -> bool:
    engine = sqlalchemy.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect():
            return True
    except sqlalchemy.exc.OperationalError:
        return False
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        found = Target(tmp_path / "data", tmp_path / "credentials")
        found.init()
        yield found
        return
    if not _postgres_up():
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    schema = f"chamberlain_crash_{uuid.uuid4().hex[:10]}"
    env = {"CHAMBERLAIN_DATABASE_SCHEMA": schema}
    found = Target(tmp_path / "data", tmp_path / "credentials", PG_URL, env)
    try:
        found.init()
        yield found
    finally:
        drop_schema(PG_URL, schema)


def test_acknowledged_writes_survive_sigkill(target: Target, tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    started = time.monotonic()
    with Soak(target, tmp_path / "server.log", random.Random(seed)) as soak:
        for n in range(1, ROUNDS + 1):
            if n > 1 and time.monotonic() - started > BUDGET_S:
                break
            result = soak.round(threads=3, max_load_s=1.5)
            context = f"seed {seed}, round {n}"
            assert result.acknowledged > 0, context
            assert result.lost == [], context
            assert result.unaudited == [], context
            assert result.broken == [], context
            assert result.unexpected == [], context
            assert result.verified, f"{context}: {result.verify}"
            assert result.verify.endswith("intact"), result.verify
        # The checks are not vacuous: a write that is not there, a membership and a
        # default version that do not hold are each reported.
        assert soak.server is not None
        iam = soak.server.iam()
        iam.create_user(UserName="present", Tags=[{"Key": "writer", "Value": "present"}])
        arn = iam.create_policy(PolicyName="p", PolicyDocument=DOC)["Policy"]["Arn"]
        acks = [
            Ack("CreateUser", "present"),
            Ack("CreateUser", "never-made"),
            Ack("AddUserToGroup", "present"),
            Ack("CreatePolicyVersion", "p", f"{arn} v2"),
        ]
        assert [line.split(":")[0] for line in lost_writes(iam, acks)] == [
            "CreateUser never-made",
            "AddUserToGroup present",
            "CreatePolicyVersion p",
        ]
        assert broken_invariants(iam, "present") == []
