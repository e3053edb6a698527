"""Rules of particular services that the policy simulator applies on top of the engine.

- `sts:GetCallerIdentity` needs no permission and cannot be denied (STS API Reference,
  GetCallerIdentity): the simulator answers "allowed" whatever the policies say, as the
  server answers the call.
- A role's trust policy decides `sts:AssumeRole*` (and the other trust-policy actions)
  on the role, in the role's own account too: given as ResourcePolicy, it must allow
  the caller, as the server requires for real AssumeRole calls.
- A KMS key policy is the primary control of its key: unless it allows the caller, or
  the account (which delegates to the account's IAM policies), no identity policy
  grants access to the key (AWS KMS Developer Guide, "Key policies in AWS KMS").
- AWS-reserved resources cannot be changed by the account's principals, whatever their
  policies: roles under /aws-reserved/ (IAM Identity Center) and service-linked roles
  (/aws-service-role/), which only AWS changes, the AWS managed KMS aliases
  (`alias/aws/...`) and the AWS managed policies (`arn:aws:iam::aws:policy/...`).
"""

from __future__ import annotations

import functools
import re

from chamberlain.ops.core import catalog
from chamberlain.ops.core.registry import REGISTRY
from chamberlain.policy.validate import TRUST_POLICY_ACTIONS

_NO_PERMISSION = frozenset({"sts:getcalleridentity"})
_TRUST_ACTIONS = frozenset(a.lower() for a in TRUST_POLICY_ACTIONS)
_ROLE_ARN = re.compile(r"arn:[a-z-]+:iam::\d{12}:role/.+")
_KMS_KEY_ARN = re.compile(r"arn:[a-z-]+:kms:[^:]*:\d{12}:key/.+")
_RESERVED_ROLE_ARN = re.compile(
    r"arn:[a-z-]+:iam::\d{12}:role/(?:aws-reserved|aws-service-role)/.+"
)
_AWS_KMS_ALIAS_ARN = re.compile(r"arn:[a-z-]+:kms:[^:]*:\d{12}:alias/aws/.+")
_AWS_MANAGED_POLICY_ARN = re.compile(r"arn:[a-z-]+:iam::aws:policy/.+")
#: What may still be done to a service-linked or reserved role (besides reading it).
_RESERVED_ROLE_ALLOWED = frozenset(
    {"iam:deleteservicelinkedrole", "iam:passrole", *(a for a in _TRUST_ACTIONS)}
)


def needs_no_permission(action: str) -> bool:
    return action.lower() in _NO_PERMISSION


def resource_policy_must_allow(action: str, resource: str) -> bool:
    """Does the resource's own policy have to allow the request (no identity policy
    alone being enough, in the same account too)?"""
    low = action.lower()
    if low in _TRUST_ACTIONS:
        return resource == "*" or _ROLE_ARN.fullmatch(resource) is not None
    return low.startswith("kms:") and _KMS_KEY_ARN.fullmatch(resource) is not None


@functools.cache
def _iam_reads() -> frozenset[str]:
    """The IAM actions whose operations only read (registered as read_only)."""
    catalog.load()  # registers every operation first (idempotent)
    return frozenset(
        f"{service}:{name}".lower()
        for (service, name), op in REGISTRY.items()
        if service == "iam" and op.read_only
    )


def changes_reserved_resource(action: str, resource: str) -> bool:
    """Would the request change a resource that only AWS may change?"""
    low = action.lower()
    if _AWS_KMS_ALIAS_ARN.fullmatch(resource):
        return low.startswith("kms:")  # CreateAlias, UpdateAlias, DeleteAlias
    if _AWS_MANAGED_POLICY_ARN.fullmatch(resource):
        # Read with the caller's own policies (authz.decision_account), never changed.
        return low.startswith("iam:") and low not in _iam_reads()
    if _RESERVED_ROLE_ARN.fullmatch(resource):
        return (
            low.startswith("iam:") and low not in _iam_reads() and low not in _RESERVED_ROLE_ALLOWED
        )
    return False
