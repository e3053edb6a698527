"""AWS's default IAM quotas the operations share, and the LimitExceeded naming one."""

from __future__ import annotations

from chamberlain.ops.core.errors import LimitExceeded

# Managed policies attached to one user, group or role.
MAX_ATTACHED_POLICIES = 10
PRINCIPAL_QUOTA_NAMES = {
    "user": "PoliciesPerUser",
    "group": "PoliciesPerGroup",
    "role": "PoliciesPerRole",
}


def quota_exceeded(name: str, limit: int) -> LimitExceeded:
    return LimitExceeded(f"Cannot exceed quota for {name}: {limit}")
