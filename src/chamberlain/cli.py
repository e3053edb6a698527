"""The `chamberlain` command: init, account create, serve. Thin: it calls ops."""

from __future__ import annotations

import argparse
import configparser
import datetime as dt
import os
import shutil
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from chamberlain import __version__, config, serving
from chamberlain.advisor import cli as advisor_cli
from chamberlain.agent.main import add_arguments as add_agent_arguments
from chamberlain.crypto.ids import is_account_id, new_account_id
from chamberlain.crypto.secrets import encode_keyfile, generate_key
from chamberlain.ops.audit import trail as audit_trail
from chamberlain.ops.core.accounts import create_account, generate_root_password, root_caller
from chamberlain.ops.core.context import RequestMeta, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import ServiceError
from chamberlain.protocol.models import find_operation, validate_input, validation_message
from chamberlain.telemetry import configure_logging

ADMIN_GROUP = "Administrators"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"


def _secure_write(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


class ProvisioningError(Exception):
    """Provisioning cannot start (nothing was created) or stopped part-way."""


def check_credentials_file(path: Path) -> None:
    """Fail before anything is created if the credentials file could not be written
    (unwritable directory, unreadable or malformed existing file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
        if path.exists():
            configparser.RawConfigParser().read_string(path.read_text())
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ProvisioningError(f"cannot write credentials file {path}: {exc}") from exc


def check_profiles_free(path: Path, profiles: list[str], *, force: bool) -> list[str]:
    """The profiles the credentials file already has; refused unless `force`."""
    if not path.exists():
        return []
    parser = configparser.RawConfigParser()
    parser.read_string(path.read_text())
    taken = [p for p in profiles if parser.has_section(p)]
    if taken and not force:
        names = ", ".join(f"[{p}]" for p in taken)
        raise ProvisioningError(
            f"{path} already has profile {names}: choose another --profile, "
            "or pass --force to replace it (the file is backed up first)"
        )
    return taken


def _back_up(path: Path) -> None:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    backup = path.with_name(f"{path.name}.{stamp}.bak")
    _secure_write(backup, path.read_text())
    print(f"backed up {path} to {backup}", file=sys.stderr)


def check_inputs(
    *,
    account_id: str,
    admin_user: str,
    credentials_file: Path,
    profile: str,
    root_access_key: bool,
    force: bool,
) -> list[str]:
    """Everything provisioning can check before it creates anything; returns the profiles
    of the credentials file that `force` will replace."""
    if not is_account_id(account_id):
        raise ProvisioningError(f"--account-id: {account_id!r} is not 12 digits")
    create_user = find_operation("iam", "CreateUser")
    assert create_user is not None
    errors = validate_input(create_user.input_shape, {"UserName": admin_user})
    if errors:
        raise ProvisioningError(f"--admin-user: {validation_message(errors)}")
    if not profile or any(c in profile for c in "[]\n\r") or profile != profile.strip():
        raise ProvisioningError(f"--profile: {profile!r} is not a usable profile name")
    check_credentials_file(credentials_file)
    profiles = [profile, f"{profile}-root"] if root_access_key else [profile]
    return check_profiles_free(credentials_file, profiles, force=force)


def write_credentials(path: Path, profile: str, key_id: str, secret: str) -> None:
    """Add or replace one profile of an AWS shared-credentials file, keeping the others."""
    parser = configparser.RawConfigParser()
    if path.exists():
        parser.read(path)
    if not parser.has_section(profile):
        parser.add_section(profile)
    parser.set(profile, "aws_access_key_id", key_id)
    parser.set(profile, "aws_secret_access_key", secret)
    lines: list[str] = []
    for section in parser.sections():
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {v}" for k, v in parser.items(section))
        lines.append("")
    _secure_write(path, "\n".join(lines))


def ensure_data_dir(settings: config.Settings) -> None:
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not settings.secrets_file.exists():
        _secure_write(settings.secrets_file, encode_keyfile([generate_key()]))


def _services(settings: config.Settings) -> Services:
    from chamberlain.app import build_services

    return build_services(settings)


def _root_password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, generated?) from --root-password-file, CHAMBERLAIN_ROOT_PASSWORD, or new."""
    if getattr(args, "root_password_file", None):
        return Path(args.root_password_file).read_text().strip(), False
    from_env = os.environ.get("CHAMBERLAIN_ROOT_PASSWORD")
    if from_env:
        return from_env, False
    return generate_root_password(), True


#: Who made an account's set-up calls (with the root user's authority): recorded as AWS
#: records its own calls (userIdentity.invokedBy, sourceIPAddress and userAgent "AWS
#: Internal"), and so no use of the root user's, as AWS does not count creating an account.
SET_UP_BY = "AWS Internal"


def provision_account(
    services: Services,
    *,
    account_id: str,
    admin_user: str,
    credentials_file: Path,
    profile: str,
    root_access_key: bool,
    email: str | None,
    root_password: str,
    on_created: Callable[[], None] | None = None,
    force: bool = False,
) -> None:
    """An account with its root user, group Administrators (AdministratorAccess), the
    admin user in it, and the admin's access key written to the credentials file.

    The credentials file is checked first, so the usual failures leave nothing behind;
    `on_created` runs once the account exists (to show a generated root password even if
    a later step fails: the root user can then finish the set-up by hand).
    """
    replaced = check_inputs(
        account_id=account_id,
        admin_user=admin_user,
        credentials_file=credentials_file,
        profile=profile,
        root_access_key=root_access_key,
        force=force,
    )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    create_account(
        services, account_id, email or f"root@{account_id}.chamberlain.local", root_password, now
    )
    if on_created is not None:
        on_created()
    root = root_caller(account_id)

    def call(name: str, **params: Any) -> Any:
        meta = RequestMeta(
            request_id=str(uuid.uuid4()),
            now=now,
            source_ip=SET_UP_BY,
            user_agent=SET_UP_BY,
            invoked_by=SET_UP_BY,
        )
        return execute(services, root, meta, "iam", name, params)

    try:
        call("CreateGroup", GroupName=ADMIN_GROUP)
        call("AttachGroupPolicy", GroupName=ADMIN_GROUP, PolicyArn=ADMIN_POLICY)
        call("CreateUser", UserName=admin_user)
        call("AddUserToGroup", GroupName=ADMIN_GROUP, UserName=admin_user)
        keys = {profile: call("CreateAccessKey", UserName=admin_user)["AccessKey"]}
        if root_access_key:
            keys[f"{profile}-root"] = call("CreateAccessKey")["AccessKey"]
        if replaced:
            _back_up(credentials_file)
        for name, key in keys.items():
            write_credentials(credentials_file, name, key["AccessKeyId"], key["SecretAccessKey"])
    except Exception as exc:  # any failure: the account exists, say so
        detail = f"{exc.code}: {exc.message}" if isinstance(exc, ServiceError) else repr(exc)
        raise ProvisioningError(
            f"account {account_id} was created but its set-up stopped: {detail}; "
            "sign in as its root user to finish it"
        ) from exc


def _shown_once(password: str, generated: bool) -> Callable[[], None]:
    """Prints a generated root password once the account exists (a given one: nothing)."""

    def show() -> None:
        if generated:
            print(f"root user password (shown once, store it safely): {password}", flush=True)

    return show


def _provision_from_args(args: argparse.Namespace, services: Services) -> None:
    password, generated = _root_password(args)

    provision_account(
        services,
        account_id=args.account_id,
        admin_user=args.admin_user,
        credentials_file=Path(args.credentials_file),
        profile=args.profile,
        root_access_key=args.root_access_key,
        email=args.root_email,
        root_password=password,
        on_created=_shown_once(password, generated),
        force=args.force,
    )
    print(
        f"account {args.account_id}: user {args.admin_user} in group {ADMIN_GROUP}; "
        f"access key in {args.credentials_file} [profile {args.profile}]"
    )


def _check_args(args: argparse.Namespace) -> None:
    check_inputs(
        account_id=args.account_id,
        admin_user=args.admin_user,
        credentials_file=Path(args.credentials_file),
        profile=args.profile,
        root_access_key=args.root_access_key,
        force=args.force,
    )


def cmd_init(args: argparse.Namespace) -> int:
    settings = config.load(args.data_dir, database_url=args.database_url)
    _check_args(args)  # bad input: nothing is created
    fresh = not settings.data_dir.exists()
    ensure_data_dir(settings)
    services = _services(settings)
    try:
        _provision_from_args(args, services)
    except Exception:
        made_nothing = not any(True for _ in services.store.accounts())
        services.store.close()
        if fresh and made_nothing:  # e.g. a refused root email: leave no directory behind
            shutil.rmtree(settings.data_dir, ignore_errors=True)
        raise
    services.store.close()
    return 0


def cmd_account_create(args: argparse.Namespace) -> int:
    settings = config.load(args.data_dir, database_url=args.database_url)
    if not settings.secrets_file.exists():
        print(
            f"{settings.data_dir} is not initialized: run `chamberlain init` first", file=sys.stderr
        )
        return 2
    services = _services(settings)
    try:
        _provision_from_args(args, services)
    finally:
        services.store.close()
    return 0


def _provision_first_account(
    args: argparse.Namespace, settings: config.Settings, services: Services
) -> None:
    """A first-time user's `chamberlain serve`: an account and credentials to start with."""
    credentials = settings.data_dir / "credentials"
    password, generated = _root_password(args)
    account_id = new_account_id()

    provision_account(
        services,
        account_id=account_id,
        admin_user="admin",
        credentials_file=credentials,
        profile="chamberlain",
        root_access_key=False,
        email=None,
        root_password=password,
        on_created=_shown_once(password, generated),
    )
    print(
        f"new account {account_id}; user admin's access key is in {credentials} "
        "[profile chamberlain]",
        flush=True,
    )
    print(
        f"try: AWS_SHARED_CREDENTIALS_FILE={credentials} aws --profile chamberlain "
        f"--region us-east-1 --endpoint-url http://{settings.host}:{settings.port} "
        "iam get-user",
        flush=True,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    settings = config.load(
        args.data_dir,
        database_url=args.database_url,
        host=args.host,
        port=args.port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        workers=args.workers,
    )
    configure_logging(settings.log_level, settings.log_format)
    # Only a true first run (no key file yet, no accounts in the store), and only when
    # asked, gets an account made for it: a mistyped --data-dir, a node added to an
    # existing deployment, or a store whose key file was misplaced must not quietly grow
    # a new account with administrator keys.
    first_run = not settings.secrets_file.exists()
    if first_run and not args.init_if_missing:
        raise SystemExit(
            f"chamberlain: {settings.data_dir} is not an initialized data directory (no "
            f"{settings.secrets_file.name}): run `chamberlain init`, or pass --init-if-missing"
        )
    ensure_data_dir(settings)
    services = _services(settings)
    if first_run and not any(True for _ in services.store.accounts()):
        _provision_first_account(args, settings, services)
    scheme = "https" if settings.tls_cert else "http"
    ready = (
        f"chamberlain {__version__} ready on {scheme}://{settings.host}:{settings.port} "
        f"(data directory {settings.data_dir.resolve()}, {settings.database_kind})"
    )
    return 0 if serving.serve(settings, services, ready) else 1


def cmd_agent(args: argparse.Namespace) -> int:
    from chamberlain.agent.main import run

    return run(args)


def _open(args: argparse.Namespace) -> Services:
    settings = config.load(args.data_dir, database_url=getattr(args, "database_url", None))
    if not settings.secrets_file.exists():
        raise SystemExit(f"{settings.data_dir} is not initialized: run `chamberlain init` first")
    return _services(settings)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    digests = []
    if args.digests is not None:
        try:
            digests = audit_trail.read_digest_file(args.digests)
        except audit_trail.AuditTrailError as exc:
            raise SystemExit(str(exc)) from None
    services = _open(args)
    try:
        result = audit_trail.verify(services.store, services.secrets, args.account, digests=digests)
    finally:
        services.store.close()
    for problem in result.problems:
        print(problem)
    print(
        f"{result.events} events in {len(result.accounts)} account(s): "
        f"{'intact' if result.ok else 'NOT intact'}"
    )
    return 0 if result.ok else 1


def cmd_audit_export(args: argparse.Namespace) -> int:
    services = _open(args)
    try:
        result = audit_trail.export(
            services.store, services.secrets, args.account, args.out, args.format
        )
    except audit_trail.AuditTrailError as exc:
        print(f"not exported: {exc}", file=sys.stderr)
        return 1
    finally:
        services.store.close()
    print(
        f"{result.events} events of {result.account_id} -> {len(result.files)} file(s) "
        f"in {args.out}"
    )
    return 0


def cmd_audit_prune(args: argparse.Namespace) -> int:
    if args.before is not None and args.retention_days is not None:
        raise SystemExit("give at most one of --before and --retention-days")
    retention = args.retention_days
    if args.before is None and retention is None:  # the data directory's setting
        settings = config.load(args.data_dir, database_url=getattr(args, "database_url", None))
        retention = settings.audit_retention_days
        if retention is None:
            raise SystemExit(
                "give --before or --retention-days (or set audit_retention_days in "
                "chamberlain.toml)"
            )
    try:
        before = (
            dt.datetime.fromisoformat(args.before).astimezone(dt.UTC)
            if args.before
            else dt.datetime.now(dt.UTC) - dt.timedelta(days=retention)
        )
    except (ValueError, OverflowError) as exc:
        raise SystemExit(f"not a usable time: {exc}") from None
    services = _open(args)
    try:
        result = audit_trail.prune(services.store, services.secrets, before)
    except audit_trail.AuditTrailError as exc:
        print(f"not pruned: {exc}", file=sys.stderr)
        return 1
    finally:
        services.store.close()
    for account, count in sorted(result.deleted.items()):
        print(f"account {account}: {count} events before {before.isoformat()} deleted")
    return 0


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    services = _open(args)
    try:
        digests = audit_trail.checkpoint(services.store, services.secrets, args.account)
        stored = audit_trail.stored_digests(services.store, args.account) if args.out else []
    finally:
        services.store.close()
    print(f"{len(digests)} digest(s) sealed")
    if args.out:
        try:
            held = audit_trail.write_digest_file(args.out, stored)
        except (OSError, audit_trail.AuditTrailError) as exc:
            raise SystemExit(f"digests not exported: {exc}") from None
        print(f"{held} digest(s) in {args.out}")
    return 0


def _audit_parser(sub: Any) -> None:
    audit = sub.add_parser(
        "audit",
        help="the audit trail: verify, export, prune, checkpoint",
        description="Check, export and prune the CloudTrail-format audit trail.",
    )
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    verify = audit_sub.add_parser(
        "verify", help="exit 0 if the trail is intact, else name the first bad event"
    )
    verify.add_argument("--account", help="one account's trail (default: every account)")
    verify.add_argument(
        "--digests",
        metavar="FILE",
        help="also check against the digests exported to FILE by `audit checkpoint --out` "
        "(finds events deleted together with their stored digests)",
    )
    verify.set_defaults(func=cmd_audit_verify)
    export = audit_sub.add_parser("export", help="write an account's trail to files")
    export.add_argument("--account", required=True, help="the account whose trail to export")
    export.add_argument("--out", required=True, help="directory to write the files into")
    export.add_argument(
        "--format",
        choices=("cloudtrail", "jsonl"),
        default="cloudtrail",
        help="CloudTrail log files with a signed digest, or JSON Lines",
    )
    export.set_defaults(func=cmd_audit_export)
    prune = audit_sub.add_parser("prune", help="delete old events, keeping verification")
    prune.add_argument("--before", help="delete events before this ISO 8601 time")
    prune.add_argument(
        "--retention-days",
        type=int,
        help="delete events older than this many days "
        "(default: audit_retention_days in chamberlain.toml)",
    )
    prune.set_defaults(func=cmd_audit_prune)
    checkpoint = audit_sub.add_parser("checkpoint", help="seal a digest of each trail's head")
    checkpoint.add_argument("--account", help="one account (default: every account)")
    checkpoint.add_argument(
        "--out",
        metavar="FILE",
        help="also export the digests to FILE, kept outside the database (digests already "
        "in FILE are kept); check with `audit verify --digests FILE`",
    )
    checkpoint.set_defaults(func=cmd_audit_checkpoint)
    for command in (verify, export, prune, checkpoint):
        command.add_argument("--data-dir", required=True, help=_DATA_DIR_HELP)
        command.add_argument("--database-url", help=_DATABASE_HELP)


_DATA_DIR_HELP = "data directory: secrets.key, chamberlain.toml, the SQLite database"
_DATABASE_HELP = (
    "postgresql://user@host:5432/db to use PostgreSQL "
    "(default: $CHAMBERLAIN_DATABASE_URL, database_url in chamberlain.toml, else SQLite)"
)
_DESCRIPTION = """\
Chamberlain: AWS IAM, STS and CloudTrail LookupEvents as a service you run yourself.
boto3, the aws CLI and the AWS SDKs work against it with --endpoint-url.

Start with `chamberlain serve --init-if-missing` (a new data directory with an account and
an admin access key), or `chamberlain init` to choose the account id and where the key goes.
"""


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port must be 1..65535, not {port}")
    return port


def _workers(text: str) -> int:
    try:
        workers = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= workers <= config.MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"workers must be 1..{config.MAX_WORKERS}, not {workers}")
    return workers


def _account_args(parser: argparse.ArgumentParser, *, profile_required: bool) -> None:
    parser.add_argument("--data-dir", required=True, help=_DATA_DIR_HELP)
    parser.add_argument("--account-id", required=True, help="the new account's 12-digit id")
    parser.add_argument(
        "--admin-user", required=True, help="name of the IAM user made administrator"
    )
    parser.add_argument(
        "--credentials-file",
        required=True,
        help="AWS shared-credentials file that receives the admin user's access key",
    )
    parser.add_argument(
        "--profile",
        required=profile_required,
        default="chamberlain",
        help="profile name in --credentials-file (default: chamberlain)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace the profile if the credentials file has it (after a backup)",
    )
    parser.add_argument(
        "--root-access-key",
        action="store_true",
        help="also write a root access key as profile PROFILE-root (for test harnesses; "
        "AWS's best practice is to have none)",
    )
    parser.add_argument(
        "--root-email", help="root user's email (default: root@ACCOUNT.chamberlain.local)"
    )
    parser.add_argument(
        "--root-password-file",
        help="file holding the root password (default: $CHAMBERLAIN_ROOT_PASSWORD, "
        "else one is generated and printed once)",
    )
    parser.add_argument("--database-url", help=_DATABASE_HELP)


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (the full usage is one --help away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="chamberlain",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"chamberlain {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    init = sub.add_parser(
        "init",
        help="create a data directory and a first account",
        description="Create a data directory (its encryption key and database) and an "
        "account with an admin user in the Administrators group.",
    )
    _account_args(init, profile_required=False)
    init.set_defaults(func=cmd_init)
    account = sub.add_parser("account", help="manage accounts")
    account_sub = account.add_subparsers(dest="account_command", required=True, metavar="COMMAND")
    create = account_sub.add_parser("create", help="create another account (works while serving)")
    _account_args(create, profile_required=True)
    create.set_defaults(func=cmd_account_create)
    serve = sub.add_parser(
        "serve",
        help="serve IAM, STS and CloudTrail LookupEvents over HTTP",
        description="Serve IAM, STS and CloudTrail LookupEvents on HOST:PORT.",
    )
    serve.add_argument(
        "--data-dir",
        help=f"{_DATA_DIR_HELP} (default: $CHAMBERLAIN_DATA_DIR, else ./{config.DEFAULT_DATA_DIR})",
    )
    serve.add_argument(
        "--host", help=f"address to listen on (default: {config.DEFAULT_HOST}, or chamberlain.toml)"
    )
    serve.add_argument(
        "--port",
        type=_port,
        help=f"port to listen on (default: {config.DEFAULT_PORT}, or chamberlain.toml)",
    )
    serve.add_argument("--database-url", help=_DATABASE_HELP)
    serve.add_argument(
        "--tls-cert", help="PEM certificate (chain) to serve HTTPS with (needs --tls-key)"
    )
    serve.add_argument("--tls-key", help="PEM private key of --tls-cert")
    serve.add_argument(
        "--workers",
        type=_workers,
        help="worker processes accepting on the port (default: 1, or chamberlain.toml); "
        "each has its own database pool and caches",
    )
    serve.add_argument(
        "--init-if-missing",
        action="store_true",
        help="if the data directory is not initialized, create it with a new account, an "
        "admin user and its access key (DIR/credentials, profile chamberlain)",
    )
    serve.set_defaults(func=cmd_serve)
    _audit_parser(sub)
    advisor_cli.add_parser(sub)
    agent = sub.add_parser(
        "agent", help="serve an instance profile's role credentials to local AWS SDKs"
    )
    add_agent_arguments(agent)
    agent.set_defaults(func=cmd_agent)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.umask(0o077)  # the database and key files are the operator's alone
    try:
        return int(args.func(args))
    except ServiceError as exc:
        print(f"chamberlain: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except ProvisioningError as exc:
        print(f"chamberlain: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        # A corrupt database, an unreadable key or settings file, a database that cannot
        # be reached, an unwritable output path: one line, not a traceback
        # (CHAMBERLAIN_DEBUG=1 shows the traceback).
        if os.environ.get("CHAMBERLAIN_DEBUG"):
            raise
        first_line = (str(exc).splitlines() or [""])[0]  # SQLAlchemy adds SQL and a link
        print(f"chamberlain: {type(exc).__name__}: {first_line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
