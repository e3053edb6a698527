"""STS AssumeRoleWithSAML and its SAML verification (ops.saml, ops.sts_saml): signed
responses of a test identity provider, refused when tampered, mis-signed, expired,
misaddressed, replayed, for a role they do not name, or when the trust policy says no."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree

from chamberlain.domain import Role
from chamberlain.ops.core.context import Caller, Services
from chamberlain.ops.core.errors import ExpiredTokenException, ServiceError
from chamberlain.ops.sts.assume_role_with_saml import (
    NOT_AUTHORIZED,
    PROVIDER_MISSING,
    REPLAYED,
    SESSION_NAME_INVALID,
    SESSION_NAME_REQUIRED,
    SamlAssertionUse,
)
from chamberlain.ops.sts.saml import (
    AUDIENCE_MISSING,
    EXPIRED,
    ISSUER_UNKNOWN,
    SIGNATURE_INVALID,
    TOO_OLD,
)
from chamberlain.policy import PrincipalType
from chamberlain.protocol.wire_errors import error_spec

from ...e2e.saml_idp import ATTRIBUTES, AWS_SIGNIN, DS, SAML, IdP, Response, encode, trust_policy
from ..conftest import ACCOUNT, NOW
from ..sts_helpers import OTHER, World, allow, trust

ANONYMOUS = Caller(account_id="", arn="", principal_id="", type=PrincipalType.ANONYMOUS)
PROVIDER = f"arn:aws:iam::{ACCOUNT}:saml-provider/Okta"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/federated"
LATER = NOW + dt.timedelta(seconds=20)  # when the responses (issued at NOW) are redeemed


@pytest.fixture(scope="module")
def idp() -> IdP:
    return IdP(now=NOW)


@pytest.fixture(scope="module")
def rogue() -> IdP:
    """Another key claiming the same entity id."""
    return IdP(now=NOW)


@pytest.fixture
def w(services: Services, idp: IdP) -> World:
    world = World(services)
    world.root_iam("CreateSAMLProvider", Name="Okta", SAMLMetadataDocument=idp.metadata())
    return world


def make_role(w: World, trust: str | None = None, **kwargs: Any) -> dict[str, Any]:
    policy = allow(["iam:ListRoles", "sts:GetCallerIdentity"])
    return w.role("federated", trust or trust_policy(PROVIDER), policy, **kwargs)


def new(idp: IdP, **changes: Any) -> Response:
    r = idp.new(ROLE, PROVIDER, NOW)
    for name, value in changes.items():
        setattr(r, name, value)
    return r


def assume(w: World, saml: str, *, now: dt.datetime = LATER, **params: Any) -> dict[str, Any]:
    params.setdefault("RoleArn", ROLE)
    params.setdefault("PrincipalArn", PROVIDER)
    return w.sts(ANONYMOUS, "AssumeRoleWithSAML", now=now, SAMLAssertion=saml, **params)


def error_of(call: Callable[..., Any], *args: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ServiceError) as info:
        call(*args, **params)
    return info.value.code, info.value.message


def replay_records(w: World, account: str = ACCOUNT) -> list[SamlAssertionUse]:
    with w.services.store.unit_of_work(read_only=True) as uow:
        return uow.repo(SamlAssertionUse).list(account)


# --------------------------------------------------------------------------- success


@pytest.mark.parametrize("signed", ["assertion", "response", "both"])
def test_a_signed_response_gets_a_role_session(w: World, idp: IdP, signed: str) -> None:
    role = make_role(w)
    out = assume(w, idp.response(new(idp, signed=signed)))
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/federated/alice"
    assert out["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role['RoleId']}:alice",
        "Arn": session_arn,
    }
    assert out["Subject"] == "alice@example.com"
    assert out["SubjectType"] == "persistent"
    assert out["Issuer"] == idp.entity_id
    assert out["Audience"] == AWS_SIGNIN
    digest = hashlib.sha1(f"{idp.entity_id}{ACCOUNT}/Okta".encode()).digest()
    assert out["NameQualifier"] == base64.b64encode(digest).decode()
    assert "PackedPolicySize" not in out and "SourceIdentity" not in out
    credentials = out["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert credentials["Expiration"] == LATER + dt.timedelta(hours=1)

    session = w.session(credentials, now=LATER)
    assert session.arn == session_arn
    assert session.type is PrincipalType.ASSUMED_ROLE
    assert session.session is not None
    assert session.session.federated_provider == PROVIDER
    assert session.session.issuer_arn == role["Arn"]
    assert w.sts(session, "GetCallerIdentity", now=LATER)["Arn"] == session_arn
    assert w.iam(session, "ListRoles", now=LATER)["Roles"][0]["RoleName"] == "federated"
    assert error_of(w.iam, session, "ListUsers", now=LATER)[0] == "AccessDenied"
    with w.services.store.unit_of_work(read_only=True) as uow:
        stored = uow.repo(Role).get(ACCOUNT, "federated")
    assert stored is not None and stored.last_used == LATER


def test_role_attribute_in_either_order_among_several(w: World, idp: IdP) -> None:
    make_role(w)
    other = f"arn:aws:iam::{ACCOUNT}:role/other"
    r = new(idp, roles=[f"{other},{PROVIDER}", f"{PROVIDER},{ROLE}"])
    assert assume(w, idp.response(r))["AssumedRoleUser"]["Arn"].endswith("/federated/alice")


def test_other_audience_regional_recipient_and_name_format(w: World, idp: IdP) -> None:
    make_role(
        w,
        trust_policy(PROVIDER)
        .replace(AWS_SIGNIN, "https://*signin.aws.amazon.com/saml")
        .replace("StringEquals", "StringLike"),
    )
    regional = "https://us-east-2.signin.aws.amazon.com/saml"
    r = new(
        idp,
        audience="urn:amazon:webservices",
        recipient=regional,
        subject_format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    )
    out = assume(w, idp.response(r))
    assert out["Audience"] == regional
    assert out["SubjectType"] == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"


def test_certificate_rollover_any_metadata_certificate_verifies(
    w: World, idp: IdP, rogue: IdP
) -> None:
    w.root_iam(
        "UpdateSAMLProvider",
        SAMLProviderArn=PROVIDER,
        SAMLMetadataDocument=idp.metadata(extra=[rogue]),
    )
    make_role(w)
    assert assume(w, rogue.response(new(rogue)))["Subject"] == "alice@example.com"


def test_metadata_key_without_use_is_a_signing_key(w: World, idp: IdP) -> None:
    w.root_iam(
        "UpdateSAMLProvider", SAMLProviderArn=PROVIDER, SAMLMetadataDocument=idp.metadata(use=None)
    )
    make_role(w)
    assert assume(w, idp.response(new(idp)))["Issuer"] == idp.entity_id
    w.root_iam(
        "UpdateSAMLProvider",
        SAMLProviderArn=PROVIDER,
        SAMLMetadataDocument=idp.metadata(use="encryption"),
    )
    assert error_of(assume, w, idp.response(new(idp))) == (
        "InvalidIdentityToken",
        SIGNATURE_INVALID,
    )


# --------------------------------------------------------------------- signatures


def test_unsigned_response_is_refused(w: World, idp: IdP) -> None:
    make_role(w)
    saml = idp.response(new(idp, signed="none"))
    assert error_of(assume, w, saml) == ("InvalidIdentityToken", SIGNATURE_INVALID)


@pytest.mark.parametrize("signed", ["assertion", "response"])
def test_tampered_response_is_refused(w: World, idp: IdP, signed: str) -> None:
    make_role(w)
    xml = idp.response_xml(new(idp, signed=signed))
    tampered = xml.replace(b">alice<", b">mallory<")
    assert tampered != xml
    assert error_of(assume, w, encode(tampered)) == ("InvalidIdentityToken", SIGNATURE_INVALID)


def test_signature_value_tampered(w: World, idp: IdP) -> None:
    make_role(w)
    root = etree.fromstring(idp.response_xml(new(idp)))
    value = root.find(f".//{{{DS}}}SignatureValue")
    assert value is not None and value.text
    raw = bytearray(base64.b64decode(value.text))
    raw[10] ^= 1
    value.text = base64.b64encode(bytes(raw)).decode()
    saml = encode(etree.tostring(root))
    assert error_of(assume, w, saml) == ("InvalidIdentityToken", SIGNATURE_INVALID)


def test_response_signed_by_another_key_is_refused(w: World, rogue: IdP) -> None:
    make_role(w)  # rogue claims the trusted entity id, but its key is not in the metadata
    saml = rogue.response(new(rogue))
    assert error_of(assume, w, saml) == ("InvalidIdentityToken", SIGNATURE_INVALID)


def test_issuer_not_in_metadata(w: World, idp: IdP) -> None:
    make_role(w)
    saml = idp.response(new(idp, issuer="https://evil.example.com"))
    assert error_of(assume, w, saml) == ("InvalidIdentityToken", ISSUER_UNKNOWN)


def test_wrapped_assertion_is_refused(w: World, idp: IdP) -> None:
    """Signature wrapping: the genuine signed assertion hidden inside a forged one with
    the same ID; the forged content must never be believed."""
    make_role(w)
    genuine = etree.fromstring(idp.response_xml(new(idp)))
    signed = genuine.find(f"{{{SAML}}}Assertion")
    assert signed is not None
    forged = etree.fromstring(etree.tostring(signed).replace(b">alice<", b">mallory<"))
    forged.remove(forged.find(f"{{{DS}}}Signature"))
    forged.insert(1, signed.find(f"{{{DS}}}Signature"))
    advice = etree.SubElement(forged, f"{{{SAML}}}Advice")
    advice.append(etree.fromstring(etree.tostring(signed)))
    genuine.replace(signed, forged)
    saml = encode(etree.tostring(genuine))
    assert error_of(assume, w, saml) == ("InvalidIdentityToken", SIGNATURE_INVALID)


def test_a_second_assertion_is_refused(w: World, idp: IdP) -> None:
    make_role(w)
    root = etree.fromstring(idp.response_xml(new(idp)))
    root.append(etree.fromstring(etree.tostring(root.find(f"{{{SAML}}}Assertion"))))
    assert error_of(assume, w, encode(etree.tostring(root)))[0] == "InvalidIdentityToken"


@pytest.mark.parametrize(
    "xml",
    [
        b'<!DOCTYPE r [<!ENTITY x "alice">]><samlp:Response xmlns:samlp='
        b'"urn:oasis:names:tc:SAML:2.0:protocol">&x;</samlp:Response>',
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://example.com/x.dtd"><r/>',
        b"<not-xml",
        b"<r/>",
    ],
)
def test_malformed_and_dtd_documents_are_refused(w: World, xml: bytes) -> None:
    make_role(w)
    assert error_of(assume, w, encode(xml))[0] == "InvalidIdentityToken"


def test_not_base64(w: World) -> None:
    make_role(w)
    assert error_of(assume, w, "%%%not base64%%%")[0] == "InvalidIdentityToken"


def test_failed_status_is_an_idp_rejected_claim(w: World, idp: IdP) -> None:
    make_role(w)
    r = new(idp, status="urn:oasis:names:tc:SAML:2.0:status:Responder")
    code, _ = error_of(assume, w, idp.response(r))
    assert code == "IDPRejectedClaim"


# -------------------------------------------------------------------- time and place


def test_expired_response(w: World, idp: IdP) -> None:
    make_role(w)
    saml = idp.response(new(idp, lifetime=dt.timedelta(minutes=2)))
    later = NOW + dt.timedelta(minutes=2)
    assert error_of(assume, w, saml, now=later) == ("ExpiredTokenException", EXPIRED)


def test_response_must_be_redeemed_within_five_minutes(w: World, idp: IdP) -> None:
    make_role(w)
    saml = idp.response(new(idp, lifetime=dt.timedelta(hours=1)))
    late = NOW + dt.timedelta(minutes=5)
    assert error_of(assume, w, saml, now=late) == ("ExpiredTokenException", TOO_OLD)
    assume(w, saml, now=late - dt.timedelta(seconds=1))


def test_response_from_a_clock_ahead(w: World, idp: IdP) -> None:
    make_role(w)
    ahead = idp.response(new(idp, now=NOW + dt.timedelta(minutes=4)))
    assume(w, ahead, now=NOW)
    future = idp.response(new(idp, now=NOW + dt.timedelta(minutes=10)))
    assert error_of(assume, w, future, now=NOW)[0] == "InvalidIdentityToken"


def test_wrong_audience(w: World, idp: IdP) -> None:
    make_role(w)
    saml = idp.response(new(idp, audience="https://app.example.com"))
    assert error_of(assume, w, saml) == ("InvalidIdentityToken", AUDIENCE_MISSING)


def test_wrong_recipient(w: World, idp: IdP) -> None:
    make_role(w)
    saml = idp.response(new(idp, recipient="https://app.example.com/acs"))
    assert error_of(assume, w, saml)[0] == "InvalidIdentityToken"


# ------------------------------------------------------------------------- replay


def test_an_assertion_is_accepted_once(w: World, idp: IdP) -> None:
    make_role(w)
    saml = idp.response(new(idp))
    assume(w, saml)
    assert error_of(assume, w, saml) == ("InvalidIdentityToken", REPLAYED)
    # Re-signing the same assertion in another response is the same assertion.
    again = idp.response(new(idp, assertion_id=replay_records(w)[0].assertion_id))
    assert error_of(assume, w, again) == ("InvalidIdentityToken", REPLAYED)


def test_replay_records_expire_and_failures_consume_nothing(w: World, idp: IdP) -> None:
    make_role(w, trust_policy(PROVIDER, {"StringEquals": {"saml:sub": "bob@example.com"}}))
    saml = idp.response(new(idp))
    assert error_of(assume, w, saml) == ("AccessDenied", NOT_AUTHORIZED)
    assert replay_records(w) == []  # refused: nothing recorded, nothing issued
    w.root_iam(
        "UpdateAssumeRolePolicy", RoleName="federated", PolicyDocument=trust_policy(PROVIDER)
    )
    assume(w, saml)
    [record] = replay_records(w)
    assert record.expires == NOW + dt.timedelta(minutes=5)
    later = NOW + dt.timedelta(minutes=30)
    assume(w, idp.response(new(idp, now=later)), now=later + dt.timedelta(seconds=1))
    assert [r.assertion_id for r in replay_records(w)] != [record.assertion_id]
    assert len(replay_records(w)) == 1


# -------------------------------------------------------------------- role and trust


def test_role_not_in_the_assertion(w: World, idp: IdP) -> None:
    make_role(w)
    other = f"arn:aws:iam::{ACCOUNT}:role/other"
    saml = idp.response(new(idp, roles=[f"{other},{PROVIDER}"]))
    assert error_of(assume, w, saml) == ("AccessDenied", NOT_AUTHORIZED)


def test_role_that_does_not_exist(w: World, idp: IdP) -> None:
    assert error_of(assume, w, idp.response(new(idp))) == ("AccessDenied", NOT_AUTHORIZED)


def test_provider_that_does_not_exist(w: World, idp: IdP) -> None:
    make_role(w)
    missing = f"arn:aws:iam::{ACCOUNT}:saml-provider/Nope"
    r = new(idp, roles=[f"{ROLE},{missing}"])
    saml = idp.response(r)
    assert error_of(assume, w, saml, PrincipalArn=missing) == (
        "InvalidIdentityToken",
        PROVIDER_MISSING,
    )
    w.add_account(OTHER)
    elsewhere = f"arn:aws:iam::{OTHER}:saml-provider/Okta"
    w.root_iam("CreateSAMLProvider", OTHER, Name="Okta", SAMLMetadataDocument=idp.metadata())
    assert error_of(assume, w, saml, PrincipalArn=elsewhere) == (
        "InvalidIdentityToken",
        PROVIDER_MISSING,
    )


def test_expired_provider_metadata(w: World, idp: IdP) -> None:
    w.root_iam(
        "UpdateSAMLProvider",
        SAMLProviderArn=PROVIDER,
        SAMLMetadataDocument=idp.metadata(valid_until=NOW - dt.timedelta(days=1)),
    )
    make_role(w)
    assert error_of(assume, w, idp.response(new(idp)))[0] == "InvalidIdentityToken"


def test_malformed_role_arn(w: World, idp: IdP) -> None:
    code, message = error_of(assume, w, idp.response(new(idp)), RoleArn="arn:aws:iam::1:nope/x")
    assert (code, message) == ("ValidationError", "Request ARN is invalid")


@pytest.mark.parametrize(
    "trust",
    [
        # The trust policy names another provider.
        trust_policy(f"arn:aws:iam::{ACCOUNT}:saml-provider/Other"),
        # Conditions on the response's keys that do not hold.
        trust_policy(PROVIDER, {"StringEquals": {"saml:sub": "bob@example.com"}}),
        trust_policy(PROVIDER, {"StringEquals": {"saml:iss": "https://other.example.com"}}),
        trust_policy(PROVIDER, {"StringEquals": {"saml:doc": f"{ACCOUNT}/Other"}}),
        # Another action only.
        trust_policy(PROVIDER, actions=("sts:AssumeRoleWithWebIdentity",)),
        # The account is no SAML user.
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Action": "sts:AssumeRoleWithSAML",
                    }
                ],
            }
        ),
    ],
)
def test_trust_policy_denies(w: World, idp: IdP, trust: str) -> None:
    make_role(w, trust)
    saml = idp.response(new(idp))
    assert error_of(assume, w, saml) == ("AccessDenied", NOT_AUTHORIZED)
    assert replay_records(w) == []


def test_trust_policy_conditions_on_saml_keys(w: World, idp: IdP) -> None:
    qualifier = base64.b64encode(
        hashlib.sha1(f"{idp.entity_id}{ACCOUNT}/Okta".encode()).digest()
    ).decode()
    condition = {
        "StringEquals": {
            "saml:sub": "alice@example.com",
            "saml:sub_type": "persistent",
            "saml:iss": idp.entity_id,
            "saml:doc": f"{ACCOUNT}/Okta",
            "saml:namequalifier": qualifier,
            "saml:mail": "alice@example.com",
        },
        "ForAnyValue:StringEquals": {"saml:edupersonaffiliation": "staff"},
    }
    make_role(w, trust_policy(PROVIDER, condition))
    attributes = {
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.1": ["member", "staff"],
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": ["alice@example.com"],
    }
    assume(w, idp.response(new(idp, attributes=attributes)))
    student = {"urn:oid:1.3.6.1.4.1.5923.1.1.1.1": ["student"]}
    attributes.update(student)
    saml = idp.response(new(idp, attributes=attributes))
    assert error_of(assume, w, saml) == ("AccessDenied", NOT_AUTHORIZED)


def test_explicit_deny_in_trust_policy_wins(w: World, idp: IdP) -> None:
    trust = json.loads(trust_policy(PROVIDER))
    trust["Statement"].append(
        {
            "Effect": "Deny",
            "Principal": {"Federated": PROVIDER},
            "Action": "sts:AssumeRoleWithSAML",
            "Condition": {"StringLike": {"saml:sub": "alice@*"}},
        }
    )
    make_role(w, json.dumps(trust))
    assert error_of(assume, w, idp.response(new(idp))) == ("AccessDenied", NOT_AUTHORIZED)


# ------------------------------------------------------- the session's saml: keys


TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"


def qualifier_of(idp: IdP) -> str:
    digest = hashlib.sha1(f"{idp.entity_id}{ACCOUNT}/Okta".encode()).digest()
    return base64.b64encode(digest).decode()


def test_role_policy_conditions_on_the_sessions_saml_keys(w: World, idp: IdP) -> None:
    """AWS keeps saml:sub, saml:sub_type and saml:namequalifier for the session: the
    role's permission policies can test them on every request it makes."""
    policy = allow(
        "iam:ListRoles",
        condition={
            "StringEquals": {
                "saml:sub": "alice@example.com",
                "saml:sub_type": "persistent",
                "saml:namequalifier": qualifier_of(idp),
            }
        },
    )
    w.role("federated", trust_policy(PROVIDER), policy)
    alice = assume(w, idp.response(new(idp)))
    session = w.session(alice["Credentials"], now=LATER)
    assert session.session is not None
    assert session.session.extra_context == {
        "saml:sub": "alice@example.com",
        "saml:sub_type": "persistent",
        "saml:namequalifier": qualifier_of(idp),
    }
    assert w.iam(session, "ListRoles", now=LATER)["Roles"][0]["RoleName"] == "federated"

    bob = new(idp, subject="bob@example.com", assertion_id="_bob")
    session = w.session(assume(w, idp.response(bob))["Credentials"], now=LATER)
    assert error_of(w.iam, session, "ListRoles", now=LATER)[0] == "AccessDenied"


def test_saml_keys_as_policy_variables_and_in_denies(w: World, idp: IdP) -> None:
    statements = [
        {
            "Effect": "Allow",
            "Action": "iam:GetRole",
            "Resource": f"arn:aws:iam::{ACCOUNT}:role/${{saml:sub}}",
        },
        {
            "Effect": "Deny",
            "Action": "iam:GetRole",
            "Resource": "*",
            "Condition": {"StringEquals": {"saml:sub_type": "transient"}},
        },
    ]
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    w.role("federated", trust_policy(PROVIDER), policy)
    w.role("alice", trust_policy(PROVIDER))
    w.role("bob", trust_policy(PROVIDER))
    alice = w.session(assume(w, idp.response(new(idp, subject="alice")))["Credentials"], LATER)
    assert w.iam(alice, "GetRole", RoleName="alice", now=LATER)["Role"]["RoleName"] == "alice"
    assert error_of(w.iam, alice, "GetRole", RoleName="bob", now=LATER)[0] == "AccessDenied"
    transient = new(idp, subject="alice", subject_format=TRANSIENT, assertion_id="_t")
    session = w.session(assume(w, idp.response(transient))["Credentials"], LATER)
    assert session.session is not None
    assert session.session.extra_context["saml:sub_type"] == "transient"
    assert error_of(w.iam, session, "GetRole", RoleName="alice", now=LATER)[0] == "AccessDenied"


def test_role_chaining_trust_policies_see_the_sessions_saml_keys(w: World, idp: IdP) -> None:
    """AssumeRole from a SAML session: the next role's trust policy can test saml:sub."""
    federated = w.role("federated", trust_policy(PROVIDER))
    condition = {"StringEquals": {"saml:sub": "alice@example.com"}}
    w.role("next", trust(federated["Arn"], condition=condition))
    next_role = f"arn:aws:iam::{ACCOUNT}:role/next"
    alice = w.session(assume(w, idp.response(new(idp)))["Credentials"], now=LATER)
    out = w.sts(alice, "AssumeRole", now=LATER, RoleArn=next_role, RoleSessionName="chained")
    assert out["AssumedRoleUser"]["Arn"].endswith(":assumed-role/next/chained")
    bob = new(idp, subject="bob@example.com")
    bob_session = w.session(assume(w, idp.response(bob))["Credentials"], now=LATER)
    code, _ = error_of(
        w.sts, bob_session, "AssumeRole", now=LATER, RoleArn=next_role, RoleSessionName="x1"
    )
    assert code == "AccessDenied"


def test_trust_policy_only_saml_keys_are_not_kept(w: World, idp: IdP) -> None:
    """saml:iss, saml:aud, saml:doc and the attribute keys are for the trust policy only."""
    condition = {"StringEquals": {"saml:iss": idp.entity_id}}
    w.role("federated", trust_policy(PROVIDER), allow("iam:ListRoles", condition=condition))
    session = w.session(assume(w, idp.response(new(idp)))["Credentials"], now=LATER)
    assert session.session is not None
    assert set(session.session.extra_context) == {"saml:sub", "saml:sub_type", "saml:namequalifier"}
    assert error_of(w.iam, session, "ListRoles", now=LATER)[0] == "AccessDenied"


# --------------------------------------------------------------- session attributes


def test_session_tags_need_tag_session(w: World, idp: IdP) -> None:
    make_role(w)
    r = new(idp).tag("Project", "Marketing").tag("CostCenter", "12345")
    r.attributes[ATTRIBUTES + "TransitiveTagKeys"] = ["Project"]
    assert error_of(assume, w, idp.response(r)) == ("AccessDenied", NOT_AUTHORIZED)


def test_session_tags(w: World, idp: IdP) -> None:
    trust = trust_policy(
        PROVIDER,
        {"StringEquals": {"aws:RequestTag/Project": "Marketing"}},
        actions=("sts:AssumeRoleWithSAML", "sts:TagSession"),
    )
    make_role(w, trust)
    w.root_iam(
        "PutRolePolicy",
        RoleName="federated",
        PolicyName="tagged",
        PolicyDocument=allow(
            "iam:ListUsers", condition={"StringEquals": {"aws:PrincipalTag/Project": "Marketing"}}
        ),
    )
    r = new(idp).tag("Project", "Marketing").tag("CostCenter", "12345")
    r.attributes[ATTRIBUTES + "TransitiveTagKeys"] = ["Project"]
    out = assume(w, idp.response(r))
    assert 0 < out["PackedPolicySize"] <= 100
    session = w.session(out["Credentials"], now=LATER)
    assert session.session is not None
    assert session.session.tags == (("Project", "Marketing"), ("CostCenter", "12345"))
    assert session.session.transitive_tag_keys == ("Project",)
    assert "Users" in w.iam(session, "ListUsers", now=LATER)
    wrong = new(idp).tag("Project", "Sales")
    assert error_of(assume, w, idp.response(wrong)) == ("AccessDenied", NOT_AUTHORIZED)


@pytest.mark.parametrize(
    ("tags", "transitive"),
    [
        ({"aws:Project": "x"}, []),
        ({"Project": "x", "project": "y"}, []),
        ({"Project": "x"}, ["Other"]),
    ],
)
def test_invalid_session_tags(
    w: World, idp: IdP, tags: dict[str, str], transitive: list[str]
) -> None:
    make_role(w, trust_policy(PROVIDER, actions=("sts:AssumeRoleWithSAML", "sts:TagSession")))
    r = new(idp)
    for key, value in tags.items():
        r.tag(key, value)
    if transitive:
        r.attributes[ATTRIBUTES + "TransitiveTagKeys"] = transitive
    assert error_of(assume, w, idp.response(r))[0] == "InvalidParameterValue"


def test_source_identity_needs_set_source_identity(w: World, idp: IdP) -> None:
    make_role(w)
    r = new(idp, attributes={ATTRIBUTES + "SourceIdentity": ["DiegoRamirez"]})
    assert error_of(assume, w, idp.response(r)) == ("AccessDenied", NOT_AUTHORIZED)
    w.root_iam(
        "UpdateAssumeRolePolicy",
        RoleName="federated",
        PolicyDocument=trust_policy(
            PROVIDER, actions=("sts:AssumeRoleWithSAML", "sts:SetSourceIdentity")
        ),
    )
    out = assume(w, idp.response(new(idp, attributes=r.attributes)))
    assert out["SourceIdentity"] == "DiegoRamirez"
    session = w.session(out["Credentials"], now=LATER)
    assert session.session is not None and session.session.source_identity == "DiegoRamirez"
    bad = new(idp, attributes={ATTRIBUTES + "SourceIdentity": ["aws:me"]})
    assert error_of(assume, w, idp.response(bad))[0] == "InvalidIdentityToken"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (None, SESSION_NAME_REQUIRED),
        ("a", SESSION_NAME_INVALID),
        ("John Doe", SESSION_NAME_INVALID),
    ],
)
def test_role_session_name(w: World, idp: IdP, name: str | None, message: str) -> None:
    make_role(w)
    saml = idp.response(new(idp, session_name=name))
    assert error_of(assume, w, saml) == ("InvalidIdentityToken", message)


def test_response_without_name_id_is_not_authorized(w: World, idp: IdP) -> None:
    make_role(w)
    saml = idp.response(new(idp, subject=None))
    assert error_of(assume, w, saml) == ("AccessDenied", NOT_AUTHORIZED)


# ------------------------------------------------------------------------ durations


def expiration(out: dict[str, Any]) -> dt.timedelta:
    return out["Credentials"]["Expiration"] - LATER


def test_durations(w: World, idp: IdP) -> None:
    make_role(w, max_session=7200)
    assert expiration(assume(w, idp.response(new(idp)), DurationSeconds=7200)) == dt.timedelta(
        hours=2
    )
    code, message = error_of(assume, w, idp.response(new(idp)), DurationSeconds=7201)
    assert (code, message) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    short = new(idp, attributes={ATTRIBUTES + "SessionDuration": ["1800"]})
    assert expiration(assume(w, idp.response(short), DurationSeconds=7200)) == dt.timedelta(
        minutes=30
    )
    ending = new(idp, session_not_on_or_after=LATER + dt.timedelta(minutes=20))
    assert expiration(assume(w, idp.response(ending))) == dt.timedelta(minutes=20)
    for value in (
        "forever",
        "899",
        "43201",
        "\u00b2",
        "\u0661\u0662\u0660\u0660",
        "9" * 5000,
    ):
        bad = new(idp, attributes={ATTRIBUTES + "SessionDuration": [value]})
        assert error_of(assume, w, idp.response(bad)) == (
            "InvalidIdentityToken",
            "SessionDuration in AuthnResponse must be an integer from 900 to 43200",
        ), value


# ------------------------------------------------------------------ session policies


def test_session_policy(w: World, idp: IdP) -> None:
    make_role(w)
    policy = allow("iam:ListRoles")
    out = assume(w, idp.response(new(idp)), Policy=policy)
    assert out["PackedPolicySize"] > 0
    session = w.session(out["Credentials"], now=LATER)
    assert w.iam(session, "ListRoles", now=LATER)["Roles"]
    code, _ = error_of(assume, w, idp.response(new(idp)), Policy='{"Version":"2012-10-17"}')
    assert code == "MalformedPolicyDocument"


# ---------------------------------------------------------------------- the errors


def test_error_codes_and_statuses_are_sts_models() -> None:
    spec = error_spec("sts", "ExpiredTokenException")
    assert spec is not None
    assert (spec.http_status, spec.sender_fault) == (
        ExpiredTokenException.http_status,
        ExpiredTokenException.sender_fault,
    )


@pytest.mark.parametrize(("tagged", "allowed"), [(True, True), (False, False)])
def test_a_trust_policy_conditions_on_the_roles_tags(
    w: World, idp: IdP, tagged: bool, allowed: bool
) -> None:
    """AssumeRoleWithSAML evaluates the trust policy with the role's tags
    (aws:ResourceTag/KEY), as AssumeRole does (tests/ops/sts/test_assume_role_abac.py)."""
    condition = {"StringEquals": {"aws:ResourceTag/federation": "okta"}}
    tags = [{"Key": "federation", "Value": "okta"}] if tagged else None
    make_role(w, trust_policy(PROVIDER, condition), tags=tags)
    saml = encode(idp.response_xml(new(idp)))
    if allowed:
        assert assume(w, saml)["Credentials"]
    else:
        assert error_of(assume, w, saml)[0] == "AccessDenied"
