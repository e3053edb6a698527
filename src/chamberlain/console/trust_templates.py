"""Trust policies from the create-role form's templates, as AWS's console writes them:
another AWS account (optionally requiring MFA or an external id), an AWS service, a web
identity provider, or a document pasted as JSON (checked as a trust policy first, so the
form can say where the problem is).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from chamberlain.console.policy_check import check_document
from chamberlain.crypto.ids import is_account_id

KINDS = ("account", "service", "web", "custom")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?")
_OIDC_ARN = re.compile(r"arn:aws:iam::\d{12}:oidc-provider/(?P<host>[^\s]+)")
#: AWS's well-known web identity providers and the condition key of their audience.
WELL_KNOWN = {
    "accounts.google.com": "accounts.google.com:aud",
    "cognito-identity.amazonaws.com": "cognito-identity.amazonaws.com:aud",
    "graph.facebook.com": "graph.facebook.com:app_id",
    "www.amazon.com": "www.amazon.com:app_id",
}


class TemplateError(ValueError):
    """What is wrong with the form's fields, in words for the page."""


def _document(statement: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=2)


def _account(field: Callable[[str], str], own_account: str) -> str:
    account = field("trust_account").strip() or own_account
    if not is_account_id(account):
        raise TemplateError("The account ID must be 12 digits.")
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "sts:AssumeRole",
    }
    condition: dict[str, Any] = {}
    external_id = field("external_id").strip()
    if external_id:
        if not re.fullmatch(r"[\w+=,.@:/-]{2,1224}", external_id):
            raise TemplateError(
                "The external ID must be 2 to 1224 letters, digits or characters of +=,.@:/-"
            )
        condition["StringEquals"] = {"sts:ExternalId": external_id}
    if field("require_mfa") == "yes":
        condition["Bool"] = {"aws:MultiFactorAuthPresent": "true"}
    if condition:
        statement["Condition"] = condition
    return _document(statement)


def _service(field: Callable[[str], str]) -> str:
    service = field("trust_service").strip().lower()
    if not _SERVICE.fullmatch(service):
        raise TemplateError(
            "Name the service by its principal, e.g. ec2.amazonaws.com or lambda.amazonaws.com."
        )
    return _document(
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    )


def _web(field: Callable[[str], str]) -> str:
    provider = field("trust_provider").strip()
    audience = field("trust_audience").strip()
    oidc = _OIDC_ARN.fullmatch(provider)
    if oidc:
        key = f"{oidc.group('host')}:aud"
    elif provider in WELL_KNOWN:
        key = WELL_KNOWN[provider]
    else:
        raise TemplateError(
            "The identity provider must be an OpenID Connect provider's ARN or one of "
            + ", ".join(WELL_KNOWN)
            + "."
        )
    if not audience:
        raise TemplateError("Give the audience (the client or application id) to trust.")
    return _document(
        {
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {key: audience}},
        }
    )


def _custom(field: Callable[[str], str]) -> str:
    text = field("document")
    found = check_document(text, "trust")
    if not found["ok"]:
        where = f"Line {found['line']}, column {found['column']}: " if "line" in found else ""
        raise TemplateError(where + str(found["message"]))
    return text


def trust_policy(kind: str, field: Callable[[str], str], own_account: str) -> str:
    """The trust policy the form describes; TemplateError names what is wrong."""
    if kind == "account":
        return _account(field, own_account)
    if kind == "service":
        return _service(field)
    if kind == "web":
        return _web(field)
    if kind == "custom":
        return _custom(field)
    raise TemplateError("Choose who may assume the role.")
