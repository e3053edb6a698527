"""Settings: typed and frozen, from command-line flags, the environment and an optional
TOML file in the data directory (`chamberlain.toml`); flags win over the environment,
the environment over the file. An unknown key in the file is an error, so a misspelt
setting never silently does nothing."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path("chamberlain-data")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8480
SECRETS_FILE = "secrets.key"
DATABASE_FILE = "chamberlain.db"
SETTINGS_FILE = "chamberlain.toml"
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("json", "text")
#: More worker processes than this is a mistake (each holds a database pool).
MAX_WORKERS = 64

#: Keys chamberlain.toml may hold.
FILE_KEYS = frozenset(
    {
        "database_url",
        "database_schema",
        "host",
        "port",
        "region",
        "audit",
        "audit_retention_days",
        "log_level",
        "log_format",
        "trusted_proxies",
        "tls_cert",
        "tls_key",
        "workers",
    }
)


class SettingsError(ValueError):
    """chamberlain.toml or an environment variable holds something unusable."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    region: str = "us-east-1"
    database_schema: str | None = None  # PostgreSQL: the schema holding Chamberlain's tables
    audit_retention_days: int | None = None  # None: keep every audit event
    audit: bool = True  # False only to measure what auditing costs (benchmarks/api)
    log_level: str = "info"  # the per-request log lines are at info
    log_format: str = "json"  # one JSON object per line, or "text" for people
    #: Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or CIDRs);
    #: they decide aws:SourceIp and aws:SecureTransport, so the default trusts none.
    trusted_proxies: tuple[str, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Worker processes accepting on the one port (serving.py); 1: the command's own.
    workers: int = 1

    @property
    def secrets_file(self) -> Path:
        return self.data_dir / SECRETS_FILE

    @property
    def database_kind(self) -> str:
        return "SQLite" if self.database_url.startswith("sqlite") else "PostgreSQL"


def load(
    data_dir: str | Path | None = None,
    *,
    database_url: str | None = None,
    host: str | None = None,
    port: int | None = None,
    tls_cert: str | Path | None = None,
    tls_key: str | Path | None = None,
    workers: int | None = None,
) -> Settings:
    directory = Path(data_dir or os.environ.get("CHAMBERLAIN_DATA_DIR") or DEFAULT_DATA_DIR)
    file_settings = _read_file(directory / SETTINGS_FILE)
    url = (
        database_url
        or os.environ.get("CHAMBERLAIN_DATABASE_URL")
        or _optional_str(file_settings, "database_url")
        or f"sqlite:///{(directory / DATABASE_FILE).resolve()}"
    )
    cert = tls_cert or os.environ.get("CHAMBERLAIN_TLS_CERT") or file_settings.get("tls_cert")
    key = tls_key or os.environ.get("CHAMBERLAIN_TLS_KEY") or file_settings.get("tls_key")
    if bool(cert) != bool(key):
        raise SettingsError("TLS needs both a certificate (tls_cert) and its key (tls_key)")
    return Settings(
        data_dir=directory,
        database_url=url,
        host=host or _optional_str(file_settings, "host") or DEFAULT_HOST,
        port=int(port or _optional_int(file_settings.get("port")) or DEFAULT_PORT),
        region=_optional_str(file_settings, "region") or "us-east-1",
        database_schema=os.environ.get("CHAMBERLAIN_DATABASE_SCHEMA")
        or _optional_str(file_settings, "database_schema"),
        audit=os.environ.get("CHAMBERLAIN_AUDIT", str(file_settings.get("audit", "on"))).lower()
        not in ("off", "false", "0"),
        audit_retention_days=_optional_int(
            os.environ.get("CHAMBERLAIN_AUDIT_RETENTION_DAYS")
            or file_settings.get("audit_retention_days")
        ),
        log_level=_choice(
            os.environ.get("CHAMBERLAIN_LOG_LEVEL") or file_settings.get("log_level") or "info",
            LOG_LEVELS,
            "log_level",
        ),
        log_format=_choice(
            os.environ.get("CHAMBERLAIN_LOG_FORMAT") or file_settings.get("log_format") or "json",
            LOG_FORMATS,
            "log_format",
        ),
        trusted_proxies=_proxies(
            os.environ.get("CHAMBERLAIN_TRUSTED_PROXIES") or file_settings.get("trusted_proxies")
        ),
        tls_cert=Path(str(cert)) if cert else None,
        tls_key=Path(str(key)) if key else None,
        workers=_workers(
            workers, os.environ.get("CHAMBERLAIN_WORKERS"), file_settings.get("workers")
        ),
    )


def _workers(*sources: object) -> int:
    """The first given of flag, environment, file; 1 by default."""
    value = next((v for v in map(_optional_int, sources) if v is not None), 1)
    if not 1 <= value <= MAX_WORKERS:
        raise SettingsError(f"workers must be 1..{MAX_WORKERS}, not {value}")
    return value


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: {exc}") from None
    unknown = sorted(set(data) - FILE_KEYS)
    if unknown:
        raise SettingsError(
            f"{path}: unknown setting(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(FILE_KEYS))})"
        )
    return data


def _optional_str(settings: dict[str, Any], key: str) -> str | None:
    value = settings.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SettingsError(f"{SETTINGS_FILE}: {key} must be a string")
    return value


def _choice(value: object, allowed: tuple[str, ...], name: str) -> str:
    text = str(value).lower()
    if text not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return text


def _proxies(value: object) -> tuple[str, ...]:
    """Addresses or networks, as a TOML list or a comma-separated string."""
    if value in (None, ""):
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise SettingsError("trusted_proxies must be a list of addresses or networks")
    proxies = []
    for item in items:
        text = str(item).strip()
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise SettingsError(f"trusted_proxies: {text!r} is not an address or network") from None
        proxies.append(text)
    return tuple(proxies)


def _optional_int(value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise SettingsError(f"not a whole number: {value!r}") from None
