"""chamberlain.toml and the environment: typed settings, unknown keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from chamberlain import config


def _load(tmp_path: Path, text: str) -> config.Settings:
    (tmp_path / config.SETTINGS_FILE).write_text(text)
    return config.load(tmp_path)


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHAMBERLAIN_LOG_LEVEL", "CHAMBERLAIN_LOG_FORMAT", "CHAMBERLAIN_TRUSTED_PROXIES"):
        monkeypatch.delenv(name, raising=False)
    settings = config.load(tmp_path)
    assert (settings.log_level, settings.log_format) == ("info", "json")
    assert settings.trusted_proxies == ()  # forwarded headers believed from no one
    assert settings.tls_cert is None and settings.database_kind == "SQLite"
    assert settings.workers == 1


def test_file_settings(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        'log_level = "WARNING"\nlog_format = "text"\ntrusted_proxies = ["10.0.0.0/8", "::1"]\n'
        'tls_cert = "c.pem"\ntls_key = "k.pem"\nport = 9000\n',
    )
    assert (settings.log_level, settings.log_format, settings.port) == ("warning", "text", 9000)
    assert settings.trusted_proxies == ("10.0.0.0/8", "::1")
    assert (settings.tls_cert, settings.tls_key) == (Path("c.pem"), Path("k.pem"))


def test_workers_from_flag_environment_or_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHAMBERLAIN_WORKERS", raising=False)
    assert _load(tmp_path, "workers = 4\n").workers == 4
    monkeypatch.setenv("CHAMBERLAIN_WORKERS", "3")
    assert config.load(tmp_path).workers == 3
    assert config.load(tmp_path, workers=2).workers == 2
    monkeypatch.delenv("CHAMBERLAIN_WORKERS")
    for bad in ("workers = 0\n", "workers = 65\n"):
        with pytest.raises(config.SettingsError, match=r"workers must be 1\.\.64"):
            _load(tmp_path, bad)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('log_levle = "debug"\n', "unknown setting(s) log_levle"),
        ('log_level = "loud"\n', "log_level must be one of"),
        ('log_format = "xml"\n', "log_format must be one of"),
        ('trusted_proxies = ["not-an-ip"]\n', "'not-an-ip' is not an address or network"),
        ('tls_cert = "c.pem"\n', "TLS needs both"),
        ('port = "eighty"\n', "not a whole number"),
        ("port = \n", "chamberlain.toml"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(config.SettingsError, match=None) as caught:
        _load(tmp_path, text)
    assert message in str(caught.value)


def test_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAMBERLAIN_TRUSTED_PROXIES", "127.0.0.1, 192.0.2.0/24")
    settings = _load(tmp_path, 'trusted_proxies = ["10.0.0.1"]\n')
    assert settings.trusted_proxies == ("127.0.0.1", "192.0.2.0/24")
