"""The role's credentials: fetched with the host's key, cached, refreshed before they expire.

`StsSource` does the fetching (iam:GetInstanceProfile, then sts:AssumeRole, over the wire
with botocore); `CredentialCache` decides when to refresh and what to serve; `Refresher`
is the background thread that drives the cache. The clock is injected so the refresh
schedule can be tested without waiting.
"""

from __future__ import annotations

import configparser
import datetime as dt
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("chamberlain.agent")

Clock = Callable[[], dt.datetime]

#: AWS's pattern for RoleSessionName: 2 to 64 of these characters.
_SESSION_NAME_CHARS = re.compile(r"[^\w+=,.@-]", re.ASCII)
SESSION_NAME_MAX = 64

#: Refresh at least this long before expiry by default: botocore (and the other SDKs)
#: start refreshing credentials 15 minutes before they expire, so fresh ones must be
#: waiting by then.
SDK_REFRESH_WINDOW = dt.timedelta(minutes=15)
RETRY_FIRST = dt.timedelta(seconds=5)
RETRY_MAX = dt.timedelta(seconds=60)


class AgentError(Exception):
    """A problem with the agent's configuration or the server's answer (no secrets inside)."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def session_name(raw: str) -> str:
    """`raw` (usually the host name) made into a valid RoleSessionName."""
    name = _SESSION_NAME_CHARS.sub("-", raw)[:SESSION_NAME_MAX]
    return name if len(name) >= 2 else (name + "-host")[:SESSION_NAME_MAX]


@dataclass(frozen=True)
class RoleCredentials:
    """One set of the role's temporary credentials and where they came from."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    token: str = field(repr=False)
    expiration: dt.datetime
    last_updated: dt.datetime
    role_name: str
    role_arn: str
    instance_profile_arn: str
    instance_profile_id: str

    @property
    def account_id(self) -> str:
        return self.role_arn.split(":")[4]

    @property
    def lifetime(self) -> dt.timedelta:
        return self.expiration - self.last_updated


class CredentialSource(Protocol):
    def fetch(self) -> RoleCredentials: ...


@dataclass(frozen=True)
class HostKey:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def read_host_key(path: Path, profile: str) -> HostKey:
    """The host's access key from a shared-credentials file. Read on every fetch, so an
    operator rotates the host key by rewriting the file, without restarting the agent."""
    parser = configparser.RawConfigParser()
    try:
        with path.open() as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise AgentError(f"cannot read credentials file {path}: {exc.strerror}") from None
    except configparser.Error:
        raise AgentError(f"credentials file {path} is not an AWS credentials file") from None
    if not parser.has_section(profile):
        raise AgentError(f"profile {profile} not found in {path}")
    section = parser[profile]
    key_id = section.get("aws_access_key_id")
    secret = section.get("aws_secret_access_key")
    if not key_id or not secret:
        raise AgentError(
            f"profile {profile} in {path} needs aws_access_key_id and aws_secret_access_key"
        )
    return HostKey(key_id, secret, section.get("aws_session_token") or None)


@dataclass(frozen=True)
class SourceSettings:
    endpoint_url: str
    region: str
    instance_profile: str
    credentials_file: Path
    profile: str
    session_name: str
    duration_seconds: int


def _iso(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(dt.UTC)


class StsSource:
    """Reads the instance profile's role and assumes it, as the host user."""

    def __init__(self, settings: SourceSettings, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock

    def _client(self, service: str, key: HostKey) -> Any:
        import botocore.session
        from botocore.config import Config

        session = botocore.session.Session()
        config = Config(
            connect_timeout=5, read_timeout=15, retries={"max_attempts": 3, "mode": "standard"}
        )
        return session.create_client(
            service,
            # IAM is global: it answers only requests signed for us-east-1, as in AWS.
            region_name="us-east-1" if service == "iam" else self.settings.region,
            endpoint_url=self.settings.endpoint_url,
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key=key.secret_access_key,
            aws_session_token=key.session_token,
            config=config,
        )

    def fetch(self) -> RoleCredentials:
        s = self.settings
        key = read_host_key(s.credentials_file, s.profile)
        profile = self._client("iam", key).get_instance_profile(
            InstanceProfileName=s.instance_profile
        )["InstanceProfile"]
        if not profile.get("Roles"):
            raise AgentError(f"instance profile {s.instance_profile} has no role")
        role = profile["Roles"][0]
        obtained = self.clock().replace(microsecond=0)
        out = self._client("sts", key).assume_role(
            RoleArn=role["Arn"], RoleSessionName=s.session_name, DurationSeconds=s.duration_seconds
        )
        creds = out["Credentials"]
        return RoleCredentials(
            access_key_id=creds["AccessKeyId"],
            secret_access_key=creds["SecretAccessKey"],
            token=creds["SessionToken"],
            expiration=_iso(creds["Expiration"]),
            last_updated=obtained,
            role_name=role["RoleName"],
            role_arn=role["Arn"],
            instance_profile_arn=profile["Arn"],
            instance_profile_id=profile["InstanceProfileId"],
        )


def default_margin(lifetime: dt.timedelta) -> dt.timedelta:
    """How long before expiry to refresh: 15 minutes or a third of the lifetime, whichever
    is longer, but never more than half the lifetime (so short sessions do not loop)."""
    return min(max(SDK_REFRESH_WINDOW, lifetime / 3), lifetime / 2)


class CredentialCache:
    """The credentials being served, and when to replace them.

    `tick()` refreshes when due; a failed refresh keeps serving the current credentials
    (until they expire) and retries with backoff, 5 s doubling to 60 s.
    """

    def __init__(
        self,
        source: CredentialSource,
        *,
        clock: Clock = utc_now,
        refresh_before: dt.timedelta | None = None,
    ) -> None:
        self.source = source
        self.clock = clock
        self.refresh_before = refresh_before
        self._lock = threading.Lock()
        self._creds: RoleCredentials | None = None
        self._refresh_at: dt.datetime | None = None
        self._failures = 0

    def margin(self, creds: RoleCredentials) -> dt.timedelta:
        if self.refresh_before is not None:
            return self.refresh_before
        return default_margin(creds.lifetime)

    def current(self) -> RoleCredentials | None:
        """The credentials to serve, or None if there are none that are still valid."""
        with self._lock:
            creds = self._creds
        if creds is None or self.clock() >= creds.expiration:
            return None
        return creds

    @property
    def refresh_at(self) -> dt.datetime | None:
        with self._lock:
            return self._refresh_at

    def refresh(self) -> RoleCredentials:
        """Fetch new credentials now; raise if that fails (the cache is left as it was)."""
        creds = self.source.fetch()
        with self._lock:
            self._creds = creds
            self._failures = 0
            self._refresh_at = creds.expiration - self.margin(creds)
        log.info(
            "credentials for role %s: key %s, expires %s",
            creds.role_name,
            creds.access_key_id,
            creds.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        return creds

    def seconds_until_refresh(self) -> float:
        at = self.refresh_at
        return 0.0 if at is None else max(0.0, (at - self.clock()).total_seconds())

    def tick(self) -> bool:
        """Refresh if due. True if new credentials were fetched."""
        at = self.refresh_at
        if at is not None and self.clock() < at:
            return False
        try:
            self.refresh()
            return True
        except Exception as exc:  # network, server or configuration: keep serving, retry
            with self._lock:
                self._failures += 1
                delay = min(RETRY_MAX, RETRY_FIRST * 2 ** (self._failures - 1))
                self._refresh_at = self.clock() + delay
            log.warning("refreshing credentials failed (retry in %ds): %s", delay.seconds, exc)
            return False


class Refresher:
    """A daemon thread that sleeps until the cache's next refresh time and ticks it."""

    def __init__(self, cache: CredentialCache) -> None:
        self.cache = cache
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="credential-refresher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.cache.seconds_until_refresh()):
            self.cache.tick()
