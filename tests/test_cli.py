"""Provisioning from the command line: what is left behind when a step fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from chamberlain import cli
from chamberlain.cli import ProvisioningError, provision_account
from chamberlain.crypto.passwords import TEST_PARAMS
from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.crypto.tokens import TokenSealer
from chamberlain.domain import Account
from chamberlain.ops.core.context import Services
from chamberlain.store.memory import MemoryStore


def _services() -> Services:
    key = generate_key()
    return Services(
        store=MemoryStore(),
        secrets=SecretBox(key),
        tokens=TokenSealer(key),
        password_params=TEST_PARAMS,
    )


def _provision(services: Services, credentials: Path, admin: str, shown: list[str]) -> None:
    provision_account(
        services,
        account_id="555555555555",
        admin_user=admin,
        credentials_file=credentials,
        profile="p",
        root_access_key=False,
        email=None,
        root_password="a Long enough passw0rd!",
        on_created=lambda: shown.append("password"),
    )


def test_a_failed_step_after_the_account_exists_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The root password has been shown by then, and the error names the account."""

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "write_credentials", disk_full)
    services, shown = _services(), []
    with pytest.raises(ProvisioningError, match="account 555555555555 was created but") as exc:
        _provision(services, tmp_path / "credentials", "admin", shown)
    assert "No space left on device" in str(exc.value)
    assert shown == ["password"]


def test_an_invalid_admin_name_creates_nothing(tmp_path: Path):
    services, shown = _services(), []
    with pytest.raises(ProvisioningError, match="--admin-user: 1 validation error"):
        _provision(services, tmp_path / "credentials", "not a valid name!", shown)
    assert shown == []
    with services.store.unit_of_work() as uow:
        assert uow.repo(Account).get("555555555555", "account") is None


def test_an_unwritable_credentials_file_creates_nothing(tmp_path: Path):
    services, shown = _services(), []
    (tmp_path / "file").write_text("")
    with pytest.raises(ProvisioningError, match="cannot write credentials file"):
        _provision(services, tmp_path / "file" / "credentials", "admin", shown)
    assert shown == []
    with services.store.unit_of_work() as uow:
        assert uow.repo(Account).get("555555555555", "account") is None
