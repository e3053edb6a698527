"""`chamberlain advise`: check a live account or an AWS export against IAM's best practices.

Exit codes: 0 no finding at or above --fail-on (default high), 1 some, 2 bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from chamberlain.advisor import export, output
from chamberlain.advisor.findings import SEVERITIES, Report, run_checks
from chamberlain.advisor.model import Account


class BadInput(Exception):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    live = parser.add_argument_group("live account (read-only; works while the server runs)")
    live.add_argument("--data-dir")
    live.add_argument("--database-url")
    live.add_argument("--account", help="one account id (default: every account)")
    offline = parser.add_argument_group("AWS export")
    offline.add_argument(
        "--authorization-details",
        metavar="FILE",
        help="output of aws iam get-account-authorization-details",
    )
    offline.add_argument(
        "--credential-report",
        metavar="FILE",
        help="the credential report CSV (aws iam get-credential-report, decoded)",
    )
    offline.add_argument(
        "--password-policy", metavar="FILE", help="output of aws iam get-account-password-policy"
    )
    offline.add_argument(
        "--account-summary", metavar="FILE", help="output of aws iam get-account-summary"
    )
    parser.add_argument("--format", choices=("table", "json", "sarif", "csv"), default="table")
    parser.add_argument("--fail-on", choices=SEVERITIES, default="high")
    parser.add_argument("--now", metavar="ISO8601", help="check as of this time (default: now)")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "advise", help="check an account (live, or an AWS export) against IAM best practices"
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def _now(args: argparse.Namespace) -> dt.datetime:
    if not args.now:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        return export.when(args.now) or dt.datetime.now(dt.UTC)
    except ValueError:
        raise BadInput(f"--now: not an ISO 8601 time: {args.now!r}") from None


def _progress(total_entities: int) -> Any:
    """A one-line progress display on a terminal, for exports big enough to wait for."""
    if total_entities < 1000 or not sys.stderr.isatty():
        return None
    from chamberlain.advisor.checks import ORDER

    names = list(ORDER)

    def show(check_id: str) -> None:
        done = names.index(check_id) if check_id in names else 0
        bar = "#" * (20 * done // len(names))
        sys.stderr.write(f"\r[{bar:<20}] {done}/{len(names)} {check_id:<30}")
        sys.stderr.flush()
        if done == len(names) - 1:
            sys.stderr.write("\n")

    return show


def _check(account: Account) -> Report:
    return run_checks(account, _progress(len(account.users) + len(account.roles)))


def _export_reports(args: argparse.Namespace, now: dt.datetime) -> list[Report]:
    account = export.load(
        args.authorization_details,
        credential_report=args.credential_report,
        password_policy=args.password_policy,
        account_summary=args.account_summary,
        now=now,
    )
    return [_check(account)]


def _live_reports(args: argparse.Namespace, now: dt.datetime) -> list[Report]:
    from chamberlain import config
    from chamberlain.advisor import live
    from chamberlain.ops.read_model import open_services

    settings = config.load(args.data_dir, database_url=args.database_url)
    if not settings.secrets_file.exists():
        raise BadInput(
            f"{settings.data_dir}: not initialized (no key file): run `chamberlain init`"
        )
    services = open_services(
        settings.database_url,
        settings.database_schema,
        settings.secrets_file.read_text(),
        audit=settings.audit,
    )
    try:
        ids = [args.account] if args.account else live.accounts(services)
        reports = []
        for account_id in ids:
            try:
                account = live.load(services, account_id, now)
            except LookupError:
                raise BadInput(
                    f"--account: no account {account_id} in {settings.data_dir}"
                ) from None
            reports.append(_check(account))
        return reports
    finally:
        services.store.close()


def run(args: argparse.Namespace) -> int:
    try:
        now = _now(args)
        if bool(args.authorization_details) == bool(args.data_dir):
            raise BadInput("give either --data-dir (live) or --authorization-details (export)")
        if args.authorization_details:
            reports = _export_reports(args, now)
            artifact = args.authorization_details
        else:
            extra = [
                f
                for f in ("credential_report", "password_policy", "account_summary")
                if getattr(args, f)
            ]
            if extra:
                raise BadInput(f"--{extra[0].replace('_', '-')} is for an export, not --data-dir")
            reports = _live_reports(args, now)
            artifact = "chamberlain-store"
    except (BadInput, export.InputError) as exc:
        print(f"chamberlain advise: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        text = output.render_json(reports)
    elif args.format == "sarif":
        text = output.render_sarif(reports, artifact=artifact)
    elif args.format == "csv":
        text = output.render_csv(reports)
    else:
        text = output.render_table(reports, colour=sys.stdout.isatty())
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 1 if any(r.at_or_above(args.fail_on) for r in reports) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chamberlain advise", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
