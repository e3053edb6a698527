"""Policy documents as IAM takes them: parsed and validated by the policy engine, with
its errors as IAM's (MalformedPolicyDocument, LimitExceeded for size)."""

from __future__ import annotations

from chamberlain.ops.core.errors import LimitExceeded, MalformedPolicyDocument
from chamberlain.policy import MalformedPolicyDocument as PolicyMalformed
from chamberlain.policy import Policy, PolicyTooLarge, PolicyType, parse_policy
from chamberlain.policy.validate import MANAGED_POLICY_MAX, policy_size


def parse_document(text: str, kind: PolicyType, *, current_version: bool = False) -> Policy:
    """Parse and validate a document, with the policy engine's errors as IAM's."""
    try:
        policy = parse_policy(text, kind, current_version=current_version)
    except PolicyTooLarge as exc:
        raise LimitExceeded(exc.message) from exc
    except PolicyMalformed as exc:
        raise MalformedPolicyDocument(exc.message) from exc
    return policy


def check_size(text: str, limit: int, message: str) -> None:
    if policy_size(text) > limit:
        raise LimitExceeded(message)


def managed_document(text: str) -> None:
    """CreatePolicy / CreatePolicyVersion: an identity policy, Version 2012-10-17,
    at most MANAGED_POLICY_MAX characters (whitespace not counted)."""
    parse_document(text, PolicyType.IDENTITY, current_version=True)
    check_size(
        text, MANAGED_POLICY_MAX, f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_MAX}"
    )
