"""The create-role form's trust policy templates."""

from __future__ import annotations

import json

import pytest

from chamberlain.console.trust_templates import TemplateError, trust_policy
from chamberlain.policy import PolicyType, parse_policy

OWN = "123456789012"


def _make(kind: str, **fields: str) -> dict[str, object]:
    text = trust_policy(kind, lambda name: fields.get(name, ""), OWN)
    parse_policy(text, PolicyType.TRUST)  # every template is a valid trust policy
    statement: dict[str, object] = json.loads(text)["Statement"][0]
    return statement


def test_account_template_with_mfa_and_external_id() -> None:
    assert _make("account")["Principal"] == {"AWS": f"arn:aws:iam::{OWN}:root"}
    made = _make("account", trust_account="210987654321", external_id="x-1", require_mfa="yes")
    assert made["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    assert made["Condition"] == {
        "StringEquals": {"sts:ExternalId": "x-1"},
        "Bool": {"aws:MultiFactorAuthPresent": "true"},
    }
    with pytest.raises(TemplateError, match="12 digits"):
        _make("account", trust_account="12345")


def test_service_template() -> None:
    made = _make("service", trust_service="EC2.amazonaws.com")
    assert made == {
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    with pytest.raises(TemplateError, match=r"ec2\.amazonaws\.com"):
        _make("service", trust_service="ec2")


def test_web_identity_template() -> None:
    oidc = f"arn:aws:iam::{OWN}:oidc-provider/token.example.com/realm"
    made = _make("web", trust_provider=oidc, trust_audience="my-app")
    assert made["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert made["Condition"] == {"StringEquals": {"token.example.com/realm:aud": "my-app"}}
    google = _make("web", trust_provider="accounts.google.com", trust_audience="1234")
    assert google["Condition"] == {"StringEquals": {"accounts.google.com:aud": "1234"}}
    with pytest.raises(TemplateError, match="audience"):
        _make("web", trust_provider="accounts.google.com")
    with pytest.raises(TemplateError, match="identity provider"):
        _make("web", trust_provider="evil.example", trust_audience="x")


def test_custom_document_is_checked_as_a_trust_policy() -> None:
    good = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    )
    assert trust_policy("custom", lambda _: good, OWN) == good
    with pytest.raises(TemplateError, match="Line 1, column"):
        trust_policy("custom", lambda _: good.replace("sts:AssumeRole", "s3:GetObject"), OWN)
    with pytest.raises(TemplateError, match="Line 1, column 2"):
        trust_policy("custom", lambda _: "{,", OWN)
    with pytest.raises(TemplateError, match="Choose"):
        trust_policy("nobody", lambda _: "", OWN)
