"""Settings: typed and frozen, from command-line flags, the environment and an optional
TOML file in the data directory (`chamberlain.toml`); flags win over the environment,
the environment over the file."""

from __future__ import annotations

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

    @property
    def secrets_file(self) -> Path:
        return self.data_dir / SECRETS_FILE


def load(
    data_dir: str | Path | None = None,
    *,
    database_url: str | None = None,
    host: str | None = None,
    port: int | None = None,
) -> Settings:
    directory = Path(data_dir or os.environ.get("CHAMBERLAIN_DATA_DIR") or DEFAULT_DATA_DIR)
    file_settings: dict[str, Any] = {}
    toml_path = directory / SETTINGS_FILE
    if toml_path.is_file():
        file_settings = tomllib.loads(toml_path.read_text())
    url = (
        database_url
        or os.environ.get("CHAMBERLAIN_DATABASE_URL")
        or file_settings.get("database_url")
        or f"sqlite:///{(directory / DATABASE_FILE).resolve()}"
    )
    return Settings(
        data_dir=directory,
        database_url=url,
        host=host or file_settings.get("host") or DEFAULT_HOST,
        port=int(port or file_settings.get("port") or DEFAULT_PORT),
        region=str(file_settings.get("region") or "us-east-1"),
        database_schema=os.environ.get("CHAMBERLAIN_DATABASE_SCHEMA")
        or file_settings.get("database_schema"),
        audit=os.environ.get("CHAMBERLAIN_AUDIT", str(file_settings.get("audit", "on"))).lower()
        not in ("off", "false", "0"),
        audit_retention_days=_optional_int(
            os.environ.get("CHAMBERLAIN_AUDIT_RETENTION_DAYS")
            or file_settings.get("audit_retention_days")
        ),
    )


def _optional_int(value: object) -> int | None:
    return None if value in (None, "") else int(str(value))
