"""Provisioning from the command line: what is left behind when a step fails."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import pytest

from chamberlain import cli
from chamberlain.advisor.findings import iso
from chamberlain.cli import ProvisioningError, provision_account
from chamberlain.crypto.passwords import TEST_PARAMS
from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.crypto.tokens import TokenSealer
from chamberlain.domain import Account
from chamberlain.ops.core.accounts import root_caller
from chamberlain.ops.core.context import RequestMeta, Services
from chamberlain.ops.core.dispatch import execute
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


def _init(tmp_path: Path, *extra: str, data: str = "data", account: str = "555555555555") -> int:
    return cli.main(
        [
            "init",
            "--data-dir",
            str(tmp_path / data),
            "--account-id",
            account,
            "--admin-user",
            "admin",
            "--credentials-file",
            str(tmp_path / "credentials"),
            "--root-password-file",
            str(_password_file(tmp_path)),
            *extra,
        ]
    )


def _password_file(tmp_path: Path) -> Path:
    path = tmp_path / "root-password"
    path.write_text("a Long enough passw0rd! for root")
    return path


def test_init_refuses_to_replace_a_profile_of_the_credentials_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    credentials = tmp_path / "credentials"
    credentials.write_text("[chamberlain]\naws_access_key_id = AKIAOLD\naws_secret_access_key = x\n")  # noqa: E501
    assert _init(tmp_path) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "already has profile [chamberlain]" in error and "--force" in error
    assert not (tmp_path / "data").exists()  # refused before anything was created
    assert "AKIAOLD" in credentials.read_text()


def test_init_force_backs_the_credentials_file_up_then_replaces_the_profile(tmp_path: Path):
    credentials = tmp_path / "credentials"
    old = "[chamberlain]\naws_access_key_id = AKIAOLD\naws_secret_access_key = x\n[other]\nx = 1\n"
    credentials.write_text(old)
    assert _init(tmp_path, "--force") == 0
    backups = list(tmp_path.glob("credentials.*.bak"))
    assert [b.read_text() for b in backups] == [old]
    text = credentials.read_text()
    assert "AKIAOLD" not in text and "[other]" in text and "aws_access_key_id = AKIA" in text


@pytest.mark.parametrize(
    ("extra", "account", "message"),
    [
        ((), "12345", "--account-id: '12345' is not 12 digits"),
        (("--profile", "bad]name"), "555555555555", "--profile: 'bad]name' is not a usable"),
        (("--root-email", "not an email"), "555555555555", "InvalidInput"),
    ],
)
def test_init_with_bad_input_leaves_nothing_behind(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: tuple[str, ...],
    account: str,
    message: str,
):
    assert _init(tmp_path, *extra, account=account) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error
    assert not (tmp_path / "data").exists()
    assert not (tmp_path / "credentials").exists()


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["serve", "--port", "99999"])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert error == "chamberlain serve: error: argument --port: port must be 1..65535, not 99999 (see chamberlain serve --help)\n"  # noqa: E501


def test_workers_out_of_range_is_a_usage_error(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["serve", "--workers", "0"])
    assert exit_.value.code == 2
    assert "argument --workers: workers must be 1..64, not 0" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("chamberlain 0.")


def test_every_option_has_help() -> None:
    """`chamberlain X --help` explains every flag (argparse's own -h aside)."""
    parser = cli.build_parser()
    pending = [parser]
    seen = 0
    while pending:
        current = pending.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
            elif action.option_strings and action.dest != "help":
                seen += 1
                assert action.help, f"{current.prog} {action.option_strings[0]} has no help"
    assert seen > 30


def _root_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    """`chamberlain advise --data-dir` (live): its root-used findings."""
    capsys.readouterr()
    cli.main(["advise", "--data-dir", str(tmp_path / "data"), "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    return [f for f in findings if f["check"] == "root-used"]


def test_init_is_no_use_of_the_root_user_a_later_root_call_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """init's set-up calls carry the root user's authority but are Chamberlain's own
    (userIdentity.invokedBy "AWS Internal"): in the trail, yet no use of the root user's,
    as AWS does not count creating an account. A root call afterwards is."""
    assert _init(tmp_path, "--root-access-key") == 0
    assert _root_used(tmp_path, capsys) == []
    services = cli._open(argparse.Namespace(data_dir=str(tmp_path / "data")))
    try:
        with services.store.unit_of_work(read_only=True) as uow:
            setup = [json.loads(e.record) for e in uow.events.iterate("555555555555")]
        assert {e["eventName"] for e in setup} >= {"CreateGroup", "CreateUser", "CreateAccessKey"}
        assert {e["userIdentity"]["type"] for e in setup} == {"Root"}
        assert {e["userIdentity"]["invokedBy"] for e in setup} == {"AWS Internal"}
        assert {e["sourceIPAddress"] for e in setup} == {"AWS Internal"}
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        meta = RequestMeta(request_id="later", now=now, source_ip="10.1.2.3")
        execute(services, root_caller("555555555555"), meta, "iam", "ListUsers", {})
    finally:
        services.store.close()
    [finding] = _root_used(tmp_path, capsys)
    assert finding["evidence"] == {"used": {"audit_trail_last_call": iso(now)}}
