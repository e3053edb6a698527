"""Policy engine benchmark: compiled engine vs the reference evaluator, and scaling.

Run: `make bench-engine` (or `python -m benchmarks.engine [--runs N] [--requests N]`).

Workload (issue 2): one principal with 10 policies x 5 statements (wildcard actions and
resources, StringEquals on aws:PrincipalTag/team, IpAddress on aws:SourceIp, one explicit
Deny); 10,000 random requests, about half of them allowed. Throughput is the median of
several un-instrumented runs; p50/p99 come from a separate pass timing each decision.
The reference evaluator, about 1 ms a decision, runs the first 2,000 of the requests.
The second table adds 1..1,000 unrelated policies (other services) to the principal.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable

from tests.policy.reference import reference_evaluate

from chamberlain.policy import (
    Outcome,
    PolicyDocuments,
    Principal,
    Request,
    compile_documents,
    evaluate,
)

ACCOUNT = "111122223333"
SERVICES = {
    "s3": ["GetObject", "PutObject", "DeleteObject", "ListBucket", "GetObjectAcl"],
    "ec2": ["DescribeInstances", "RunInstances", "TerminateInstances", "StartInstances"],
    "dynamodb": ["GetItem", "PutItem", "Query", "Scan", "DeleteItem"],
    "sqs": ["SendMessage", "ReceiveMessage", "DeleteMessage", "GetQueueUrl"],
    "iam": ["GetUser", "ListUsers", "CreateUser", "DeleteUser", "PassRole"],
    "kms": ["Decrypt", "Encrypt", "GenerateDataKey", "DescribeKey"],
}
TEAMS = ["blue", "green"]


def resource_for(service: str, n: int) -> str:
    if service == "s3":
        return f"arn:aws:s3:::bucket-{n}/data/obj-{n}"
    if service == "iam":  # IAM is global: its ARNs have no region (the validator refuses one)
        return f"arn:aws:iam::{ACCOUNT}:user/iam-{n}"
    return f"arn:aws:{service}:us-east-1:{ACCOUNT}:thing/{service}-{n}"


def build_policies(rng: random.Random) -> list[dict]:
    policies = []
    services = list(SERVICES)
    for p in range(10):
        statements = []
        for s in range(5):
            service = services[(p + s) % len(services)]
            verb = rng.choice(["Get*", "Put*", "Describe*", "List*", "*", "Delete*", "Send*"])
            statement: dict = {
                "Sid": f"P{p}S{s}",
                "Effect": "Allow",
                "Action": [f"{service}:{verb}", f"{service}:{rng.choice(SERVICES[service])}"],
                "Resource": resource_for(service, rng.randrange(4)).rsplit("-", 1)[0] + "-*",
            }
            if s % 2 == 0:
                statement["Condition"] = {
                    "StringEquals": {"aws:PrincipalTag/team": rng.choice(TEAMS)}
                }
            else:
                statement["Condition"] = {"IpAddress": {"aws:SourceIp": ["10.0.0.0/9"]}}
            statements.append(statement)
        if p == 0:
            statements[-1] = {
                "Sid": "DenyIamWrites",
                "Effect": "Deny",
                "Action": ["iam:Create*", "iam:Delete*"],
                "Resource": "*",
            }
        policies.append({"Version": "2012-10-17", "Statement": statements})
    return policies


def unrelated_policies(count: int) -> list[dict]:
    return [
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [f"svc{i}:Get*", f"svc{i}:List*"],
                    "Resource": f"arn:aws:svc{i}:us-east-1:{ACCOUNT}:thing/*",
                    "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
                }
            ],
        }
        for i in range(count)
    ]


def build_requests(rng: random.Random, count: int) -> list[Request]:
    principal = Principal(arn=f"arn:aws:iam::{ACCOUNT}:user/alice", account=ACCOUNT)
    requests = []
    for _ in range(count):
        service = rng.choice(list(SERVICES))
        action = f"{service}:{rng.choice(SERVICES[service])}"
        octet = rng.choice((10, 172))
        ip = f"{octet}.{rng.randrange(0, 256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        context = {
            "aws:PrincipalTag/team": rng.choice((*TEAMS, "red")),
            "aws:SourceIp": ip,
            "aws:CurrentTime": "2026-11-28T12:00:00Z",
            "aws:username": "alice",
        }
        requests.append(
            Request(principal, action, resource_for(service, rng.randrange(4)), context)
        )
    return requests


def documents(policies: list[dict]) -> PolicyDocuments:
    return PolicyDocuments(identity=tuple((f"p{i}", json.dumps(d)) for i, d in enumerate(policies)))


def throughput(decide: Callable[[Request], object], requests: list[Request], runs: int) -> float:
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        for r in requests:
            decide(r)
        rates.append(len(requests) / (time.perf_counter() - start))
    return statistics.median(rates)


def latencies(decide: Callable[[Request], object], requests: list[Request]) -> tuple[float, float]:
    clock = time.perf_counter_ns
    samples = []
    for r in requests:
        t0 = clock()
        decide(r)
        samples.append(clock() - t0)
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    policies = build_policies(rng)
    requests = build_requests(rng, args.requests)
    docs = documents(policies)
    policy_set = compile_documents(docs)

    def engine(r: Request) -> object:
        return evaluate(r, policy_set)

    def reference(r: Request) -> object:
        return reference_evaluate(r, docs)

    outcomes = [evaluate(r, policy_set).outcome for r in requests]
    disagree = sum(
        reference_evaluate(r, docs).outcome is not o
        for r, o in zip(requests[:2000], outcomes[:2000], strict=True)
    )
    allowed = outcomes.count(Outcome.ALLOWED) / len(outcomes)
    denied = outcomes.count(Outcome.EXPLICIT_DENY) / len(outcomes)
    print(
        f"workload: 10 policies x 5 statements, {len(requests)} requests, "
        f"{allowed:.0%} allowed, {denied:.0%} explicit deny; "
        f"reference disagreements on the first 2000: {disagree}"
    )
    print(f"runs: {args.runs} (throughput is the median; p50/p99 from one timed pass)\n")

    rows = []
    # The reference is ~1 ms a decision: it runs the first 2,000 requests, not all.
    for name, decide, sample in (
        ("engine", engine, requests),
        ("reference", reference, requests[:2000]),
    ):
        latencies(decide, sample[:500])  # warm caches
        rate = throughput(decide, sample, args.runs)
        p50, p99 = latencies(decide, sample)
        rows.append((name, rate, p50, p99))
    print(f"{'evaluator':<10} {'decisions/s':>12} {'p50 us':>8} {'p99 us':>8}")
    for name, rate, p50, p99 in rows:
        print(f"{name:<10} {rate:>12,.0f} {p50:>8.2f} {p99:>8.2f}")
    print(f"ratio engine/reference: {rows[0][1] / rows[1][1]:.1f}x\n")

    print("scaling: the same principal with N extra unrelated policies attached")
    print(f"{'N':>6} {'decisions/s':>12} {'p50 us':>8} {'p99 us':>8}")
    for extra in (1, 10, 100, 1000):
        scaled = compile_documents(documents(policies + unrelated_policies(extra)))

        def decide(r: Request, s=scaled) -> object:
            return evaluate(r, s)

        latencies(decide, requests[:500])
        rate = throughput(decide, requests, args.runs)
        p50, p99 = latencies(decide, requests)
        print(f"{extra:>6} {rate:>12,.0f} {p50:>8.2f} {p99:>8.2f}")


if __name__ == "__main__":
    main()
