"""`chamberlain agent`: options and start-up.

The first credentials are fetched before the port opens, so a misconfigured agent (wrong
key, a role that does not trust the host user, no such instance profile) fails at once
with the server's error, and an open port means credentials are ready.
"""

from __future__ import annotations

import argparse
import datetime as dt
import grp
import ipaddress
import logging
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chamberlain.agent.credentials import CredentialCache

DEFAULT_PORT = 1338
DEFAULT_DURATION = 3600
MIN_DURATION, MAX_DURATION = 900, 43200  # AssumeRole's DurationSeconds bounds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint-url", required=True, help="the Chamberlain server's URL")
    parser.add_argument("--instance-profile", required=True, help="instance profile to serve")
    parser.add_argument(
        "--credentials-file",
        required=True,
        help="AWS credentials file holding the host user's access key (only the agent reads it)",
    )
    parser.add_argument(
        "--profile", default="default", help="profile in --credentials-file (default: default)"
    )
    parser.add_argument(
        "--region", default="us-east-1", help="region served to the SDKs (default: us-east-1)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on (default: {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--session-name", help="RoleSessionName (default: this host's name, sanitized)"
    )
    parser.add_argument(
        "--duration-seconds",
        type=int,
        default=DEFAULT_DURATION,
        help=f"lifetime of the role's credentials ({MIN_DURATION}..{MAX_DURATION}, "
        f"default: {DEFAULT_DURATION})",
    )
    parser.add_argument(
        "--refresh-before",
        type=int,
        metavar="SECONDS",
        help="refresh this long before expiry (default: max(15 min, 1/3 of the lifetime), "
        "at most half of it)",
    )
    parser.add_argument(
        "--token-file",
        help="enable the container credentials endpoint (/v1/credentials) and write its "
        "authorization token here (mode 0600)",
    )
    parser.add_argument("--token-group", help="make --token-file mode 0640, readable by this group")
    parser.add_argument(
        "--no-imds",
        action="store_true",
        help="serve only the container endpoint, not the instance metadata endpoints",
    )


def _check(args: argparse.Namespace) -> str | None:
    """An error message for inconsistent options, or None."""
    if not MIN_DURATION <= args.duration_seconds <= MAX_DURATION:
        return f"--duration-seconds must be between {MIN_DURATION} and {MAX_DURATION}"
    if args.refresh_before is not None and not 0 < args.refresh_before < args.duration_seconds:
        return "--refresh-before must be more than 0 and less than --duration-seconds"
    if args.token_group and not args.token_file:
        return "--token-group needs --token-file"
    if args.no_imds and not args.token_file:
        return "--no-imds needs --token-file (there would be nothing to serve)"
    if args.token_group:
        try:
            grp.getgrnam(args.token_group)
        except KeyError:
            return f"no such group: {args.token_group}"
    return None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _configure_logging() -> logging.Logger:
    log = logging.getLogger("chamberlain.agent")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s chamberlain-agent: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return log


def run(args: argparse.Namespace) -> int:
    import uvicorn
    from botocore.exceptions import BotoCoreError, ClientError

    from chamberlain.agent.credentials import AgentError, Refresher
    from chamberlain.agent.server import create_app
    from chamberlain.agent.tokens import ImdsTokens, new_container_token, write_token_file

    problem = _check(args)
    if problem:
        print(f"chamberlain agent: {problem}", file=sys.stderr)
        return 2
    log = _configure_logging()
    cache = _credential_cache(args)
    try:
        cache.refresh()
    except (AgentError, BotoCoreError, ClientError) as exc:
        print(f"chamberlain agent: cannot get the role's credentials: {exc}", file=sys.stderr)
        return 1
    container_token = None
    token_file = Path(args.token_file) if args.token_file else None
    if token_file is not None:
        container_token = new_container_token()
        write_token_file(token_file, container_token, args.token_group)
    _log_endpoints(log, args, token_file)
    app = create_app(cache, ImdsTokens(), container_token=container_token, imds=not args.no_imds)
    refresher = Refresher(cache)
    refresher.start()
    try:
        uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning")
    finally:
        refresher.stop()
        if token_file is not None:
            token_file.unlink(missing_ok=True)
    return 0


def _credential_cache(args: argparse.Namespace) -> CredentialCache:
    """The role's credentials, from STS with the source credentials the flags name."""
    from chamberlain.agent.credentials import (
        CredentialCache,
        SourceSettings,
        StsSource,
        session_name,
    )

    settings = SourceSettings(
        endpoint_url=args.endpoint_url,
        region=args.region,
        instance_profile=args.instance_profile,
        credentials_file=Path(args.credentials_file),
        profile=args.profile,
        session_name=session_name(args.session_name or socket.gethostname()),
        duration_seconds=args.duration_seconds,
    )
    refresh_before = (
        dt.timedelta(seconds=args.refresh_before) if args.refresh_before is not None else None
    )
    return CredentialCache(StsSource(settings), refresh_before=refresh_before)


def _log_endpoints(log: logging.Logger, args: argparse.Namespace, token_file: Path | None) -> None:
    """Where SDKs find the agent (and a warning when it listens beyond the host)."""
    from chamberlain.agent.server import CONTAINER_PATH

    if not _is_loopback(args.host):
        log.warning(
            "listening on %s: anyone who can reach it gets the role's credentials", args.host
        )
    base = f"http://{args.host}:{args.port}"
    if not args.no_imds:
        log.info("IMDS: AWS_EC2_METADATA_SERVICE_ENDPOINT=%s", base)
    if token_file is not None:
        log.info(
            "container: AWS_CONTAINER_CREDENTIALS_FULL_URI=%s%s "
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=%s",
            base,
            CONTAINER_PATH,
            token_file,
        )
