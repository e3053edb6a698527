"""Stall benchmark: does one caller's slow work stall everyone else?

Run: `python -m benchmarks.stall [--seconds 15] [--attackers 4] [--mode wrong|right]
[--database-url URL]`. Starts a server (SQLite unless --database-url), creates a
second account, then measures that account's admin calling GetUser in a loop for
`--seconds`: first alone, then while `--attackers` threads of users of the first
account call ChangePassword (mode `wrong`: wrong old passwords, as the issue's
attacker; mode `right`: each its own user, flip-flopping between two passwords, so
every call verifies and hashes with argon2 and none is throttled). Prints GetUser's call
count, p50 and max for both, and how the attackers' calls were answered.
"""

from __future__ import annotations

import argparse
import collections
import threading
import time

from benchmarks.harness import Server, error_code, running_server, summary

READER_ACCOUNT = "555555555555"
PASSWORDS = ("Vq7#Lm2pXz9!", "Hs4$Kd8wPn3@")


def reads(server: Server, seconds: float) -> list[float]:
    reader = server.client("iam", profile="reader")
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        reader.get_user()
        latencies.append(time.monotonic() - started)
    return latencies


def attack(server: Server, attackers: int, mode: str, stop: threading.Event) -> list[str]:
    answers: list[str] = []
    keys = [
        server.user(f"hammer{n}", ["iam:ChangePassword"], password=PASSWORDS[0])
        for n in range(attackers if mode == "right" else 1)
    ]

    def hammering(n: int) -> None:
        client = server.keyed("iam", *keys[n % len(keys)])
        turn = 0
        while not stop.is_set():
            if mode == "right":
                old, new = PASSWORDS[turn % 2], PASSWORDS[(turn + 1) % 2]
            else:
                old, new = f"Wrong-{n}-{turn}-guess!", PASSWORDS[1]
            answers.append(error_code(client.change_password, OldPassword=old, NewPassword=new))
            turn += 1

    threads = [threading.Thread(target=hammering, args=(n,)) for n in range(attackers)]
    for thread in threads:
        thread.start()
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument("--mode", choices=("wrong", "right"), default="wrong")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with running_server(args.database_url) as server:
        server.create_account(READER_ACCOUNT, "reader", "reader")
        server.client("iam", profile="reader").get_user()
        alone = reads(server, args.seconds)
        stop = threading.Event()
        answers = attack(server, args.attackers, args.mode, stop)
        time.sleep(0.5)
        try:
            attacked = reads(server, args.seconds)
        finally:
            stop.set()
        time.sleep(1.0)
    kind = "PostgreSQL" if args.database_url else "SQLite"
    print(f"GetUser of another account, {args.seconds:.0f} s each, {kind}:")
    print(f"  alone:                      {summary(alone)}")
    print(f"  beside {args.attackers} ChangePassword ({args.mode}): {summary(attacked)}")
    counts = collections.Counter(answers)
    print("  attackers' answers: " + ", ".join(f"{c} {n}" for c, n in counts.most_common()))


if __name__ == "__main__":
    main()
