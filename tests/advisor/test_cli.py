"""`chamberlain advise` end to end: a real server, the real aws CLI making the export,
and the advisor reading the export files and the running server's store.

Exit codes: 0 when no finding is at or above --fail-on (default high), 1 when some are,
2 for bad input (one line naming the file and the problem).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.e2e.conftest import ACCOUNT, Server, init_and_serve, run_cli, stop

NOW = "2030-01-01T00:00:00Z"


def advise(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chamberlain.advisor", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@dataclass
class Exported:
    server: Server
    details: Path
    report: Path
    password_policy: Path
    summary: Path

    def export_args(self) -> list[str]:
        return [
            "--authorization-details",
            str(self.details),
            "--credential-report",
            str(self.report),
            "--password-policy",
            str(self.password_policy),
            "--account-summary",
            str(self.summary),
        ]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    base = tmp_path_factory.mktemp("advise")
    server = init_and_serve(base)
    try:
        server.aws("iam", "create-user", "--user-name", "dev")
        server.aws(
            "iam", "create-login-profile", "--user-name", "dev", "--password", "Very-long-passw0rd!"
        )
        server.aws(
            "iam",
            "put-user-policy",
            "--user-name",
            "dev",
            "--policy-name",
            "keys",
            "--policy-document",
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "iam:CreateAccessKey",
                            "Resource": f"arn:aws:iam::{ACCOUNT}:user/admin",
                        }
                    ],
                }
            ),
        )
        details = base / "details.json"
        details.write_text(json.dumps(server.aws("iam", "get-account-authorization-details")))
        server.aws("iam", "generate-credential-report")
        content = server.aws("iam", "get-credential-report")["Content"]
        report = base / "report.csv"
        report.write_bytes(base64.b64decode(content))
        policy = server.aws("iam", "get-account-password-policy", check=False)
        assert policy.returncode != 0 and "NoSuchEntity" in policy.stderr
        password_policy = base / "password-policy.json"
        password_policy.write_text(policy.stdout)  # empty: the account has none
        summary = base / "summary.json"
        summary.write_text(json.dumps(server.aws("iam", "get-account-summary")))
        yield Exported(server, details, report, password_policy, summary)
    finally:
        stop(server)


def _checked(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _keys(report: dict[str, object]) -> set[tuple[str, str]]:
    return {(f["check"], f["resource"]) for f in report["findings"]}  # type: ignore[attr-defined,index]


def test_export_made_by_the_aws_cli(exported: Exported) -> None:
    result = advise(*exported.export_args(), "--format", "json", "--now", NOW)
    assert result.returncode == 1  # the root user has an access key: critical
    report = _checked(result)
    assert report["account"] == ACCOUNT and report["source"] == "export"
    assert report["generated_at"] == "2030-01-01T00:00:00Z"
    keys = _keys(report)
    dev, admin = f"arn:aws:iam::{ACCOUNT}:user/dev", f"arn:aws:iam::{ACCOUNT}:user/admin"
    assert ("root-access-key", f"arn:aws:iam::{ACCOUNT}:root") in keys
    assert ("user-console-no-mfa", dev) in keys
    assert ("privilege-escalation", dev) in keys
    assert ("password-policy", f"arn:aws:iam::{ACCOUNT}:root") in keys
    [escalation] = [f for f in report["findings"] if f["check"] == "privilege-escalation"]  # type: ignore[attr-defined]
    assert escalation["evidence"]["administrator"] == admin
    assert [s["call"] for s in escalation["evidence"]["path"]] == ["iam:CreateAccessKey"]
    assert {c["check"] for c in report["checks_not_run"]} == {  # type: ignore[attr-defined]
        "unused-permissions",
        "expired-server-certificate",
        "audit-off",
    }
    finding = report["findings"][0]  # type: ignore[index]
    assert set(finding) == {
        "check",
        "severity",
        "practice",
        "resource",
        "message",
        "remediation",
        "controls",
        "evidence",
    }


def test_live_store_while_the_server_runs(exported: Exported) -> None:
    result = advise("--data-dir", str(exported.server.data_dir), "--format", "json", "--now", NOW)
    report = _checked(result)
    assert report["source"] == "live" and report["account"] == ACCOUNT
    assert report["checks_not_run"] == []
    exported_report = _checked(advise(*exported.export_args(), "--format", "json", "--now", NOW))
    # Every finding of the export is found live too (live adds what an export lacks).
    assert _keys(exported_report) <= _keys(report)
    again = advise(
        "--data-dir",
        str(exported.server.data_dir),
        "--account",
        ACCOUNT,
        "--format",
        "json",
        "--now",
        NOW,
    )
    assert _keys(_checked(again)) == _keys(report)  # reading wrote nothing that changes it


def test_fail_on_threshold(exported: Exported) -> None:
    # Findings exist at every level up to critical: only a threshold above them all passes.
    assert (
        advise(*exported.export_args(), "--fail-on", "critical", "--format", "json").returncode == 1
    )
    only_low = advise(
        "--authorization-details",
        str(exported.details),
        "--format",
        "json",
        "--fail-on",
        "critical",
        "--now",
        NOW,
    )
    report = _checked(only_low)
    levels = {f["severity"] for f in report["findings"]}  # type: ignore[attr-defined]
    assert only_low.returncode == (1 if "critical" in levels else 0)


def test_exit_zero_when_nothing_reaches_the_threshold(tmp_path: Path) -> None:
    details = tmp_path / "details.json"
    details.write_text(
        json.dumps(
            {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
        )
    )
    result = advise("--authorization-details", str(details), "--format", "json")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--authorization-details", "/nonexistent.json"], "/nonexistent.json: cannot read"),
        ([], "give either --data-dir (live) or --authorization-details (export)"),
        (
            ["--authorization-details", "x.json", "--now", "yesterday"],
            "--now: not an ISO 8601 time",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], message: str) -> None:
    result = advise(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_bad_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "details.json"
    bad.write_text('{"UserDetailList": [{"UserName": "x"}]}')
    result = advise("--authorization-details", str(bad))
    assert result.returncode == 2
    assert result.stderr == f"chamberlain advise: {bad}: UserDetailList[0]: missing 'Arn'\n"


def test_unknown_live_account_and_uninitialized_dir(exported: Exported, tmp_path: Path) -> None:
    result = advise("--data-dir", str(exported.server.data_dir), "--account", "999999999999")
    assert result.returncode == 2 and "no account 999999999999" in result.stderr
    result = advise("--data-dir", str(tmp_path / "empty"))
    assert result.returncode == 2 and "not initialized" in result.stderr


def test_sarif(exported: Exported) -> None:
    result = advise(*exported.export_args(), "--format", "sarif", "--now", NOW)
    sarif = json.loads(result.stdout)
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    [run] = sarif["runs"]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert "privilege-escalation" in rules and len(rules) == 18
    for r in run["results"]:
        assert run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["level"] in ("error", "warning", "note")
        location = r["locations"][0]
        assert location["physicalLocation"]["artifactLocation"]["uri"] == str(exported.details)
        assert location["logicalLocations"][0]["fullyQualifiedName"].startswith("arn:aws:iam::")
    root_key = next(r for r in run["results"] if r["ruleId"] == "root-access-key")
    assert root_key["level"] == "error"
    assert rules["root-access-key"]["properties"]["security-severity"] == "9.5"


def test_csv_and_table(exported: Exported) -> None:
    rows = list(
        csv.DictReader(
            io.StringIO(advise(*exported.export_args(), "--format", "csv", "--now", NOW).stdout)
        )
    )
    json_report = _checked(advise(*exported.export_args(), "--format", "json", "--now", NOW))
    assert len(rows) == len(json_report["findings"])  # type: ignore[arg-type]
    by_check = {row["check"]: row for row in rows}
    assert by_check["root-access-key"]["controls"] == "CIS AWS Foundations v3.0.0 1.4"
    assert rows[0]["severity"] == "critical"  # most severe first
    table = advise(*exported.export_args(), "--now", NOW).stdout
    assert table.startswith(f"account {ACCOUNT} (export)")
    assert "\033[" not in table  # no colour when not on a terminal
    assert "root-access-key" in table and "not run: audit-off" in table


def test_colour_on_a_terminal() -> None:
    import datetime as dt

    from chamberlain.advisor.findings import Finding, Report
    from chamberlain.advisor.output import render_table

    finding = Finding(
        "root-mfa",
        "critical",
        "root",
        f"arn:aws:iam::{ACCOUNT}:root",
        "The root user has no MFA device.",
        None,
        (),
    )
    report = Report(
        ACCOUNT, "export", dt.datetime(2030, 1, 1, tzinfo=dt.UTC), ("root-mfa",), (), (finding,)
    )
    assert "\033[1;31mcritical" in render_table([report], colour=True)


PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def test_live_account_in_postgresql(tmp_path: Path) -> None:
    import sqlalchemy

    schema = f"chamberlain_advise_{uuid.uuid4().hex[:10]}"
    env = {"CHAMBERLAIN_DATABASE_SCHEMA": schema}
    data_dir = tmp_path / "data"
    try:
        done = run_cli(
            "init",
            "--data-dir",
            str(data_dir),
            "--account-id",
            "444444444444",
            "--admin-user",
            "admin",
            "--credentials-file",
            str(tmp_path / "creds"),
            "--database-url",
            PG_URL,
            "--root-access-key",
            env=env,
        )
        assert done.returncode == 0, done.stderr
        result = advise(
            "--data-dir", str(data_dir), "--database-url", PG_URL, "--format", "json", env=env
        )
        report = _checked(result)
        assert result.returncode == 1
        assert report["account"] == "444444444444" and report["source"] == "live"
        assert ("root-access-key", "arn:aws:iam::444444444444:root") in _keys(report)
    finally:
        engine = sqlalchemy.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


def test_wired_as_a_subcommand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What `chamberlain advise` does once cli.py registers it with add_parser."""
    import argparse

    from chamberlain.advisor import cli

    parser = argparse.ArgumentParser(prog="chamberlain")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    details = tmp_path / "details.json"
    details.write_text('{"UserDetailList": [], "Policies": []}')
    args = parser.parse_args(
        ["advise", "--authorization-details", str(details), "--format", "csv", "--fail-on", "low"]
    )
    assert args.func(args) == 0
    assert capsys.readouterr().out.startswith("account,check,severity,practice,resource,message")
    with pytest.raises(SystemExit) as exc:  # argparse's own usage errors exit 2 too
        parser.parse_args(["advise", "--format", "xml"])
    assert exc.value.code == 2


def test_progress_bar_on_a_terminal_for_big_exports(monkeypatch: pytest.MonkeyPatch) -> None:
    from chamberlain.advisor import cli
    from chamberlain.advisor.checks import ORDER

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli._progress(999) is None  # small: no bar
    show = cli._progress(12_000)
    assert show is not None
    for check_id in ORDER:
        show(check_id)
    assert terminal.getvalue().endswith("\n")
    assert f"[{'#' * 20}] {len(ORDER)}/{len(ORDER)} audit-off" in terminal.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: no bar
    assert cli._progress(12_000) is None
