"""OpenID Connect and SAML identity providers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from chamberlain.ops.core.context import Caller, Services
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.iam.providers import DEFAULT_SAML_VALIDITY
from chamberlain.protocol.models import find_operation, validate_input
from chamberlain.protocol.xml_out import serialize_response

from ..conftest import ACCOUNT, NOW, error, root_caller
from ..entity_seed import add_user

Call = Callable[..., Any]
THUMB = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.example.com/realms/main"
SAML_ARN = f"arn:aws:iam::{ACCOUNT}:saml-provider/Corp_IdP"


def metadata(valid_until: str | None = None, *, idp: bool = True, prolog: str = "") -> str:
    """SAML 2.0 IdP metadata, padded past the model's 1000-character minimum."""
    until = f' validUntil="{valid_until}"' if valid_until else ""
    descriptor = (
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        + "MIIC"
        + "A" * 900
        + "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        'Location="https://idp.example.com/sso"/></md:IDPSSODescriptor>'
        if idp
        else '<md:Organization><md:OrganizationName xml:lang="en">'
        + "x" * 1000
        + "</md:OrganizationName></md:Organization>"
    )
    return (
        f'{prolog}<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" '
        f'entityID="https://idp.example.com/metadata"{until}>{descriptor}</md:EntityDescriptor>'
    )


@pytest.fixture
def aws(iam_as: Call) -> Call:
    """Run an operation with model-valid input and check the output serializes."""

    def call(name: str, caller: Caller | None = None, **params: Any) -> Any:
        op = find_operation("iam", name)
        assert op is not None
        assert validate_input(op.input_shape, params) == []
        out = iam_as(caller or root_caller(), name, **params)
        serialize_response("iam", name, out, "req")
        return out

    return call






# ============================================================================= OIDC


def test_oidc_lifecycle(aws: Call):
    created = aws(
        "CreateOpenIDConnectProvider",
        Url="https://token.example.com/realms/main",
        ClientIDList=["app", "app", "cli"],
        ThumbprintList=[THUMB],
    )
    assert created == {"OpenIDConnectProviderArn": OIDC_ARN}
    assert aws("GetOpenIDConnectProvider", OpenIDConnectProviderArn=OIDC_ARN) == {
        "Url": "token.example.com/realms/main",
        "ClientIDList": ["app", "cli"],
        "ThumbprintList": [THUMB],
        "CreateDate": NOW,
    }
    assert aws("ListOpenIDConnectProviders") == {"OpenIDConnectProviderList": [{"Arn": OIDC_ARN}]}
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateOpenIDConnectProvider", Url="https://token.example.com/realms/main")
    assert error(excinfo) == (
        "EntityAlreadyExists",
        "Provider with url https://token.example.com/realms/main already exists.",
    )
    aws("DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=OIDC_ARN)
    with pytest.raises(ServiceError) as excinfo:
        aws("GetOpenIDConnectProvider", OpenIDConnectProviderArn=OIDC_ARN)
    assert error(excinfo) == (
        "NoSuchEntity",
        f"OpenIDConnect Provider not found for arn {OIDC_ARN}",
    )
    # IAM API Reference, DeleteOpenIDConnectProvider: "This operation is idempotent; it
    # does not fail or return an error if you call the operation for a provider that
    # does not exist." (https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteOpenIDConnectProvider.html)
    assert aws("DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=OIDC_ARN) is None
    assert aws("ListOpenIDConnectProviders") == {"OpenIDConnectProviderList": []}


def test_oidc_thumbprints_are_optional(aws: Call):
    arn = aws("CreateOpenIDConnectProvider", Url="https://idp.example.org")[
        "OpenIDConnectProviderArn"
    ]
    assert arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/idp.example.org"
    got = aws("GetOpenIDConnectProvider", OpenIDConnectProviderArn=arn)
    assert got["ThumbprintList"] == [] and got["ClientIDList"] == []


@pytest.mark.parametrize(
    "url",
    ["http://idp.example.org", "idp.example.org", "https://idp.example.org/?a=b", "https://"],
)
def test_oidc_url_must_be_https(aws: Call, url: str):
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateOpenIDConnectProvider", Url=url)
    assert error(excinfo) == ("ValidationError", "Invalid Open ID Connect Provider URL")


def test_oidc_thumbprint_rules(aws: Call):
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateOpenIDConnectProvider", Url="https://a.example", ThumbprintList=[THUMB] * 6)
    assert error(excinfo) == ("InvalidInput", "Thumbprint list must contain fewer than 5 entries.")
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateOpenIDConnectProvider", Url="https://a.example", ThumbprintList=["z" * 40])
    assert excinfo.value.code == "InvalidInput"
    arn = aws("CreateOpenIDConnectProvider", Url="https://a.example")["OpenIDConnectProviderArn"]
    other = "a" * 40
    aws(
        "UpdateOpenIDConnectProviderThumbprint",
        OpenIDConnectProviderArn=arn,
        ThumbprintList=[other],
    )
    got = aws("GetOpenIDConnectProvider", OpenIDConnectProviderArn=arn)
    assert got["ThumbprintList"] == [other]


def test_oidc_client_ids(aws: Call):
    arn = aws("CreateOpenIDConnectProvider", Url="https://a.example", ClientIDList=["one"])[
        "OpenIDConnectProviderArn"
    ]
    aws("AddClientIDToOpenIDConnectProvider", OpenIDConnectProviderArn=arn, ClientID="two")
    aws("AddClientIDToOpenIDConnectProvider", OpenIDConnectProviderArn=arn, ClientID="two")
    aws("RemoveClientIDFromOpenIDConnectProvider", OpenIDConnectProviderArn=arn, ClientID="one")
    aws("RemoveClientIDFromOpenIDConnectProvider", OpenIDConnectProviderArn=arn, ClientID="gone")
    got = aws("GetOpenIDConnectProvider", OpenIDConnectProviderArn=arn)
    assert got["ClientIDList"] == ["two"]
    for i in range(99):
        aws("AddClientIDToOpenIDConnectProvider", OpenIDConnectProviderArn=arn, ClientID=f"c{i}")
    with pytest.raises(ServiceError) as excinfo:
        aws("AddClientIDToOpenIDConnectProvider", OpenIDConnectProviderArn=arn, ClientID="last")
    assert error(excinfo) == (
        "LimitExceeded",
        "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100",
    )


def test_oidc_bad_arn(aws: Call):
    with pytest.raises(ServiceError) as excinfo:
        aws("GetOpenIDConnectProvider", OpenIDConnectProviderArn="not-an-arn-at-all-really")
    assert error(excinfo) == ("InvalidInput", "ARN not-an-arn-at-all-really is not valid.")


def test_oidc_tags(aws: Call):
    tags = [{"Key": "team", "Value": "id"}]
    created = aws("CreateOpenIDConnectProvider", Url="https://a.example", Tags=tags)
    arn = created["OpenIDConnectProviderArn"]
    assert created["Tags"] == tags
    aws("TagOpenIDConnectProvider", OpenIDConnectProviderArn=arn, Tags=[{"Key": "x", "Value": "y"}])
    listed = aws("ListOpenIDConnectProviderTags", OpenIDConnectProviderArn=arn)
    assert listed == {"Tags": [*tags, {"Key": "x", "Value": "y"}], "IsTruncated": False}
    aws("UntagOpenIDConnectProvider", OpenIDConnectProviderArn=arn, TagKeys=["team"])
    assert aws("GetOpenIDConnectProvider", OpenIDConnectProviderArn=arn)["Tags"] == [
        {"Key": "x", "Value": "y"}
    ]


def test_oidc_authorization(aws: Call, services: Services):
    alice = add_user(services, "alice", [])
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateOpenIDConnectProvider", caller=alice, Url="https://a.example")
    assert excinfo.value.code == "AccessDenied"
    assert "oidc-provider/a.example" in excinfo.value.message
    bob = add_user(
        services,
        "bob",
        [
            {
                "Effect": "Allow",
                "Action": ["iam:*OpenIDConnectProvider*"],
                "Resource": f"arn:aws:iam::{ACCOUNT}:oidc-provider/a.example",
            }
        ],
    )
    aws("CreateOpenIDConnectProvider", caller=bob, Url="https://a.example")
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateOpenIDConnectProvider", caller=bob, Url="https://b.example")
    assert excinfo.value.code == "AccessDenied"
    with pytest.raises(ServiceError) as excinfo:  # List needs Resource "*"
        aws("ListOpenIDConnectProviders", caller=bob)
    assert excinfo.value.code == "AccessDenied"


# ============================================================================= SAML


def test_saml_lifecycle(aws: Call):
    document = metadata()
    created = aws("CreateSAMLProvider", Name="Corp_IdP", SAMLMetadataDocument=document)
    assert created == {"SAMLProviderArn": SAML_ARN}
    assert aws("GetSAMLProvider", SAMLProviderArn=SAML_ARN) == {
        "SAMLMetadataDocument": document,
        "CreateDate": NOW,
        "ValidUntil": NOW + DEFAULT_SAML_VALIDITY,
    }
    assert aws("ListSAMLProviders") == {
        "SAMLProviderList": [
            {"Arn": SAML_ARN, "ValidUntil": NOW + DEFAULT_SAML_VALIDITY, "CreateDate": NOW}
        ]
    }
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateSAMLProvider", Name="Corp_IdP", SAMLMetadataDocument=document)
    assert error(excinfo) == ("EntityAlreadyExists", "SAMLProvider Corp_IdP already exists")

    renewed = metadata("2030-01-01T00:00:00Z")
    updated = aws("UpdateSAMLProvider", SAMLProviderArn=SAML_ARN, SAMLMetadataDocument=renewed)
    assert updated == {"SAMLProviderArn": SAML_ARN}
    got = aws("GetSAMLProvider", SAMLProviderArn=SAML_ARN)
    assert got["SAMLMetadataDocument"] == renewed
    assert got["ValidUntil"] == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)

    aws("DeleteSAMLProvider", SAMLProviderArn=SAML_ARN)
    with pytest.raises(ServiceError) as excinfo:
        aws("GetSAMLProvider", SAMLProviderArn=SAML_ARN)
    assert error(excinfo) == ("NoSuchEntity", f"Manifest not found for arn {SAML_ARN}")
    assert aws("ListSAMLProviders") == {"SAMLProviderList": []}


@pytest.mark.parametrize(
    "document",
    [
        metadata(idp=False),  # no identity provider in it
        metadata()[:-5],  # not well-formed
        metadata(prolog='<!DOCTYPE x [<!ENTITY e "boom">]>'),  # entity declarations
        "<root>" + "x" * 1000 + "</root>",  # not SAML metadata
        metadata("not-a-date"),
    ],
)
def test_saml_metadata_is_checked(aws: Call, document: str):
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateSAMLProvider", Name="Bad", SAMLMetadataDocument=document)
    assert error(excinfo) == ("InvalidInput", "Could not parse metadata")
    assert aws("ListSAMLProviders") == {"SAMLProviderList": []}


def test_saml_tags_and_unsupported_options(aws: Call):
    tags = [{"Key": "env", "Value": "prod"}]
    created = aws("CreateSAMLProvider", Name="Corp_IdP", SAMLMetadataDocument=metadata(), Tags=tags)
    assert created["Tags"] == tags
    aws("TagSAMLProvider", SAMLProviderArn=SAML_ARN, Tags=[{"Key": "env", "Value": "dev"}])
    assert aws("ListSAMLProviderTags", SAMLProviderArn=SAML_ARN)["Tags"] == [
        {"Key": "env", "Value": "dev"}
    ]
    aws("UntagSAMLProvider", SAMLProviderArn=SAML_ARN, TagKeys=["env"])
    assert "Tags" not in aws("GetSAMLProvider", SAMLProviderArn=SAML_ARN)
    with pytest.raises(ServiceError) as excinfo:
        aws(
            "CreateSAMLProvider",
            Name="Other",
            SAMLMetadataDocument=metadata(),
            AssertionEncryptionMode="Required",
        )
    assert excinfo.value.code == "InvalidInput"


def test_saml_authorization(aws: Call, services: Services):
    alice = add_user(services, "alice", [])
    with pytest.raises(ServiceError) as excinfo:
        aws("CreateSAMLProvider", caller=alice, Name="Corp_IdP", SAMLMetadataDocument=metadata())
    assert excinfo.value.code == "AccessDenied"
    assert f"on resource: {SAML_ARN}" in excinfo.value.message
    bob = add_user(
        services, "bob", [{"Effect": "Allow", "Action": "iam:*SAMLProvider*", "Resource": SAML_ARN}]
    )
    aws("CreateSAMLProvider", caller=bob, Name="Corp_IdP", SAMLMetadataDocument=metadata())
    assert aws("GetSAMLProvider", caller=bob, SAMLProviderArn=SAML_ARN)["CreateDate"] == NOW
