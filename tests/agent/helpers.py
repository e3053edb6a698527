"""Shared pieces of the agent's unit tests: a clock that moves when told, and a credential
source that hands out numbered credentials (or fails) without a server."""

from __future__ import annotations

import datetime as dt

from chamberlain.agent.credentials import Clock, RoleCredentials

START = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
ACCOUNT = "123456789012"
ROLE = "app"


class ManualClock:
    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class ScriptedSource:
    """Returns credentials valid for `lifetime` from the clock's now, numbered by call;
    raises `failure` instead while it is set."""

    def __init__(self, clock: Clock, lifetime: int = 3600) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.calls = 0
        self.failure: Exception | None = None

    def fetch(self) -> RoleCredentials:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        now = self.clock()
        return RoleCredentials(
            access_key_id=f"ASIA{self.calls:016d}",
            secret_access_key=f"secret-{self.calls}",
            token=f"token-{self.calls}",
            expiration=now + dt.timedelta(seconds=self.lifetime),
            last_updated=now,
            role_name=ROLE,
            role_arn=f"arn:aws:iam::{ACCOUNT}:role/{ROLE}",
            instance_profile_arn=f"arn:aws:iam::{ACCOUNT}:instance-profile/web",
            instance_profile_id="AIPAEXAMPLEPROFILE01",
        )
