"""AWS's policy language and evaluation logic: parse -> validate -> compile -> evaluate.

Pure: no I/O, no clock (the caller puts aws:CurrentTime in the request context).
See docs/policy-semantics.md for the rules and README.md for a worked example.
"""

from __future__ import annotations

from .compile import CompiledPolicy, compile_policy
from .decision import Decision, MatchedStatement, Outcome, PolicySource
from .errors import MalformedPolicyDocument, PolicyTooLarge
from .evaluate import PolicySet, evaluate
from .inputs import Applicable, NamedDocument, PolicyDocuments
from .model import Policy, PolicyType
from .parse import parse_policy
from .request import Principal, PrincipalType, Request

__all__ = [
    "Applicable",
    "CompiledPolicy",
    "Decision",
    "MalformedPolicyDocument",
    "MatchedStatement",
    "NamedDocument",
    "Outcome",
    "Policy",
    "PolicyDocuments",
    "PolicySet",
    "PolicySource",
    "PolicyTooLarge",
    "PolicyType",
    "Principal",
    "PrincipalType",
    "Request",
    "compile_documents",
    "compile_policy",
    "evaluate",
    "parse_policy",
]


def _compile(doc: NamedDocument, kind: PolicyType) -> CompiledPolicy:
    policy_id, text = doc
    return compile_policy(parse_policy(text, kind), policy_id)


def compile_documents(documents: PolicyDocuments) -> PolicySet:
    """Parse, validate and compile every document of an applicable set.

    The resource document is read as a trust policy when `require_resource_allow` is set,
    as a resource-based policy otherwise. Raises MalformedPolicyDocument.
    """
    resource_kind = PolicyType.TRUST if documents.require_resource_allow else PolicyType.RESOURCE
    return Applicable(
        identity=tuple(_compile(d, PolicyType.IDENTITY) for d in documents.identity),
        resource=_compile(documents.resource, resource_kind) if documents.resource else None,
        resource_account=documents.resource_account,
        boundary=_compile(documents.boundary, PolicyType.BOUNDARY) if documents.boundary else None,
        session=None
        if documents.session is None
        else tuple(_compile(d, PolicyType.SESSION) for d in documents.session),
        require_resource_allow=documents.require_resource_allow,
    )
