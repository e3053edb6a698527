"""Guessing benchmark: how fast can a caller guess, per path?

Run: `python -m benchmarks.guessing [--seconds 10] [--threads 4] [--database-url URL]`.
Starts a server (SQLite unless --database-url); for each path, `--threads` threads send
wrong guesses for `--seconds` with the credentials of a user who owns the secret being
guessed:

- change-password: ChangePassword with wrong old passwords;
- resync: ResyncMFADevice with wrong code pairs;
- enable: EnableMFADevice with wrong code pairs (an unassigned device);
- get-session-token: GetSessionToken with wrong codes;
- assume-role: AssumeRole with SerialNumber and wrong TokenCodes;
- bad-signature: GetUser signed with the user's key id and a wrong secret.

Prints requests per second, the answers by error code, and the guesses that were
actually checked: answers that say "wrong" (InvalidUserType,
InvalidAuthenticationCode), or, for the STS paths whose answer does not tell a checked
guess from a refused one, a right code sent after the run (refused: the device is
locked). Each path also prints the audit events written with the guessing key and the
database's growth.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import ACCOUNT, Server, error_code, running_server
from chamberlain.crypto.totp import code_at, step_at

PASSWORD = "Vq7#Lm2pXz9!"
CHECKED = {"InvalidUserType", "InvalidAuthenticationCode", "SignatureDoesNotMatch"}


def hammer(seconds: float, threads: int, call: Callable[[int, int], str]) -> list[str]:
    answers: list[str] = []
    deadline = time.monotonic() + seconds

    def work(n: int) -> None:
        turn = 0
        while time.monotonic() < deadline:
            answers.append(call(n, turn))
            turn += 1

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return answers


def wrong_code(seed: str) -> str:
    step = step_at(dt.datetime.now(dt.UTC))
    near = {code_at(seed, step + k) for k in range(-3, 40)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444") if c not in near)


def device(server: Server, name: str, user: str | None) -> tuple[str, str]:
    iam = server.client("iam")
    made = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    serial, seed = made["SerialNumber"], made["Base32StringSeed"].decode("ascii")
    if user is not None:
        step = step_at(dt.datetime.now(dt.UTC))
        iam.enable_mfa_device(UserName=user, SerialNumber=serial,
                              AuthenticationCode1=code_at(seed, step - 1),
                              AuthenticationCode2=code_at(seed, step))  # fmt: skip
    return serial, seed


def events(server: Server, key_id: str) -> int:
    """The audit events of one access key."""
    trail = server.client("cloudtrail")
    by_key = [{"AttributeKey": "AccessKeyId", "AttributeValue": key_id}]
    count, token = 0, None
    while True:
        more = {"NextToken": token} if token else {}
        page = trail.lookup_events(LookupAttributes=by_key, MaxResults=50, **more)
        count += len(page["Events"])
        token = page.get("NextToken")
        if not token:
            return count


def db_size(server: Server) -> int:
    """The SQLite file's size once its write-ahead log is checkpointed (what stays on
    disk: the log itself is bounded and reused); 0 on PostgreSQL."""
    path = Path(server.data_dir) / "chamberlain.db"
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def trail_growth(server: Server, key_id: str, before_events: int, before_size: int) -> str:
    """The events of one key written since `before_events`, and the database's growth."""
    time.sleep(0.5)  # the group-commit writer's last batch
    written = events(server, key_id) - before_events
    grown = db_size(server) - before_size
    return f"{written} events written, database +{grown // 1024} KiB"


def run(server: Server, seconds: float, threads: int) -> list[tuple[str, float, Any, str]]:
    results: list[tuple[str, float, Any, str]] = []
    trusted = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": trusted}
    role_trust = {"Version": "2012-10-17", "Statement": [statement]}
    server.client("iam").create_role(RoleName="target",
                                     AssumeRolePolicyDocument=json.dumps(role_trust))  # fmt: skip
    actions = ["iam:ChangePassword", "iam:ResyncMFADevice", "iam:EnableMFADevice",
               "sts:AssumeRole"]  # fmt: skip

    def record(path: str, answers: list[str], checked: str) -> None:
        counts = collections.Counter(answers)
        results.append((path, len(answers) / seconds, counts, checked))

    def checked_count(answers: list[str]) -> str:
        n = sum(1 for a in answers if a in CHECKED)
        return f"{n} checked ({n / seconds:.1f}/s)"

    # ChangePassword
    key = server.user("pw", actions, password=PASSWORD)
    iam = server.keyed("iam", *key)
    new = "Hs4$Kd8wPn3@"
    before_events, before_size = events(server, key[0]), db_size(server)
    answers = hammer(seconds, threads, lambda n, t: error_code(
        iam.change_password, OldPassword=f"Wrong-{n}-{t}!", NewPassword=new))  # fmt: skip
    record("change-password", answers, checked_count(answers) + "; " + trail_growth(
        server, key[0], before_events, before_size))  # fmt: skip

    # ResyncMFADevice
    key = server.user("resync", actions)
    serial, seed = device(server, "resync", "resync")
    iam = server.keyed("iam", *key)
    bad = wrong_code(seed)
    before_events, before_size = events(server, key[0]), db_size(server)
    answers = hammer(seconds, threads, lambda n, t: error_code(
        iam.resync_mfa_device, UserName="resync", SerialNumber=serial,
        AuthenticationCode1=bad, AuthenticationCode2=bad))  # fmt: skip
    record("resync", answers, checked_count(answers) + "; " + trail_growth(
        server, key[0], before_events, before_size))  # fmt: skip

    # EnableMFADevice (an unassigned device)
    key = server.user("enable", actions)
    serial, seed = device(server, "enable", None)
    iam = server.keyed("iam", *key)
    bad = wrong_code(seed)
    before_events, before_size = events(server, key[0]), db_size(server)
    answers = hammer(seconds, threads, lambda n, t: error_code(
        iam.enable_mfa_device, UserName="enable", SerialNumber=serial,
        AuthenticationCode1=bad, AuthenticationCode2=bad))  # fmt: skip
    record("enable", answers, checked_count(answers) + "; " + trail_growth(
        server, key[0], before_events, before_size))  # fmt: skip

    # GetSessionToken and AssumeRole with wrong codes
    for path in ("get-session-token", "assume-role"):
        name = path.replace("-", "")
        key = server.user(name, actions)
        serial, seed = device(server, name, name)
        sts = server.keyed("sts", *key)
        bad = wrong_code(seed)

        def guess(n: int, t: int, sts: Any = sts, serial: str = serial, bad: str = bad,
                  path: str = path) -> str:  # fmt: skip
            if path == "get-session-token":
                return error_code(sts.get_session_token, SerialNumber=serial, TokenCode=bad)
            role = f"arn:aws:iam::{ACCOUNT}:role/target"
            return error_code(sts.assume_role, RoleArn=role, RoleSessionName="guess",
                              SerialNumber=serial, TokenCode=bad)  # fmt: skip

        before_events, before_size = events(server, key[0]), db_size(server)
        answers = hammer(seconds, threads, guess)
        growth = trail_growth(server, key[0], before_events, before_size)
        right = code_at(seed, step_at(dt.datetime.now(dt.UTC)) + 1)
        after = error_code(sts.get_session_token, SerialNumber=serial, TokenCode=right)
        verdict = "right code after: " + ("accepted (not locked)" if after == "OK" else after)
        record(path, answers, f"{verdict}; {growth}")

    # Wrong signatures with a known key id
    key_id, _ = server.user("signer", ["iam:GetUser"])
    forged = server.keyed("iam", key_id, "x" * 40)
    before_events, before_size = events(server, key_id), db_size(server)
    answers = hammer(seconds, threads, lambda n, t: error_code(forged.get_user))
    record("bad-signature", answers, trail_growth(server, key_id, before_events, before_size))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with running_server(args.database_url) as server:
        results = run(server, args.seconds, args.threads)
    kind = "PostgreSQL" if args.database_url else "SQLite"
    print(f"Guessing for {args.seconds:.0f} s with {args.threads} threads per path, {kind}:")
    for path, rate, counts, checked in results:
        answers = ", ".join(f"{n} {c}" for c, n in counts.most_common())
        print(f"  {path:18s} {rate:7.1f} req/s  {checked}  [{answers}]")


if __name__ == "__main__":
    main()
