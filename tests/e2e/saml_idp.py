"""A SAML 2.0 identity provider for tests: a key and certificate made at test time, its
metadata, and signed responses for AWS's sign-in endpoint (as Okta, ADFS or Keycloak
send them), with knobs to make them wrong in every way STS must notice."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner
from signxml.algorithms import SignatureConstructionMethod

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
AWS_SIGNIN = "https://signin.aws.amazon.com/saml"
ATTRIBUTES = "https://aws.amazon.com/SAML/Attributes/"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"

Signed = Literal["assertion", "response", "both", "none"]


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _key_and_certificate(name: str, now: dt.datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, certificate


@dataclass
class Response:
    """One SAML response, before it is signed and encoded; change it freely."""

    role_arn: str
    provider_arn: str
    now: dt.datetime
    session_name: str | None = "alice"
    subject: str | None = "alice@example.com"
    subject_format: str | None = PERSISTENT
    audience: str = AWS_SIGNIN
    recipient: str = AWS_SIGNIN
    lifetime: dt.timedelta = dt.timedelta(minutes=5)
    issuer: str | None = None  # the identity provider's entity id by default
    assertion_id: str = field(default_factory=lambda: "_" + uuid.uuid4().hex)
    attributes: dict[str, list[str]] = field(default_factory=dict)
    roles: list[str] | None = None  # Role attribute values; default: "role,provider"
    session_not_on_or_after: dt.datetime | None = None
    status: str = SUCCESS
    signed: Signed = "assertion"

    def tag(self, key: str, value: str) -> Response:
        self.attributes[ATTRIBUTES + "PrincipalTag:" + key] = [value]
        return self


class IdP:
    """A test identity provider: entity id, RSA key, self-signed certificate."""

    def __init__(
        self, entity_id: str = "https://idp.example.com/saml", now: dt.datetime | None = None
    ):
        self.entity_id = entity_id
        self.key, self.certificate = _key_and_certificate(
            "Test IdP", now or dt.datetime.now(dt.UTC)
        )

    # ----------------------------------------------------------------- metadata

    def metadata(
        self,
        *,
        valid_until: dt.datetime | None = None,
        extra: Sequence[IdP] = (),
        use: str | None = "signing",
    ) -> str:
        """The IdP's metadata: its certificate (and `extra` IdPs' ones) as signing keys."""
        md = etree.Element(etree.QName(MD, "EntityDescriptor"), nsmap={"md": MD, "ds": DS})
        md.set("entityID", self.entity_id)
        if valid_until is not None:
            md.set("validUntil", _iso(valid_until))
        idp = etree.SubElement(md, etree.QName(MD, "IDPSSODescriptor"))
        idp.set("protocolSupportEnumeration", SAMLP)
        for certificate in (self.certificate, *(i.certificate for i in extra)):
            descriptor = etree.SubElement(idp, etree.QName(MD, "KeyDescriptor"))
            if use is not None:
                descriptor.set("use", use)
            info = etree.SubElement(descriptor, etree.QName(DS, "KeyInfo"))
            data = etree.SubElement(info, etree.QName(DS, "X509Data"))
            der = certificate.public_bytes(serialization.Encoding.DER)
            etree.SubElement(data, etree.QName(DS, "X509Certificate")).text = base64.b64encode(
                der
            ).decode()
        sso = etree.SubElement(idp, etree.QName(MD, "SingleSignOnService"))
        sso.set("Binding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect")
        sso.set("Location", self.entity_id + "/sso")
        return etree.tostring(md, encoding="unicode")

    # ---------------------------------------------------------------- responses

    def new(self, role_arn: str, provider_arn: str, now: dt.datetime | None = None) -> Response:
        return Response(role_arn, provider_arn, now or dt.datetime.now(dt.UTC))

    def _sign(self, element: etree._Element) -> etree._Element:
        signer = XMLSigner(
            method=SignatureConstructionMethod.enveloped,
            signature_algorithm="rsa-sha256",
            digest_algorithm="sha256",
            c14n_algorithm=EXC_C14N,
        )
        pem = self.certificate.public_bytes(serialization.Encoding.PEM)
        return signer.sign(
            element, key=self.key, cert=[pem.decode()], reference_uri=element.get("ID")
        )

    def _assertion(self, r: Response) -> etree._Element:
        a = etree.Element(etree.QName(SAML, "Assertion"), nsmap={"saml": SAML})
        a.set("ID", r.assertion_id)
        a.set("Version", "2.0")
        a.set("IssueInstant", _iso(r.now))
        etree.SubElement(a, etree.QName(SAML, "Issuer")).text = r.issuer or self.entity_id
        # Where the signature goes (after Issuer, as the schema wants): signxml fills it.
        etree.SubElement(a, etree.QName(DS, "Signature"), nsmap={"ds": DS}).set("Id", "placeholder")
        subject = etree.SubElement(a, etree.QName(SAML, "Subject"))
        if r.subject is not None:
            name_id = etree.SubElement(subject, etree.QName(SAML, "NameID"))
            name_id.text = r.subject
            if r.subject_format is not None:
                name_id.set("Format", r.subject_format)
        confirmation = etree.SubElement(subject, etree.QName(SAML, "SubjectConfirmation"))
        confirmation.set("Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer")
        data = etree.SubElement(confirmation, etree.QName(SAML, "SubjectConfirmationData"))
        data.set("NotOnOrAfter", _iso(r.now + r.lifetime))
        data.set("Recipient", r.recipient)
        conditions = etree.SubElement(a, etree.QName(SAML, "Conditions"))
        conditions.set("NotBefore", _iso(r.now - dt.timedelta(seconds=30)))
        conditions.set("NotOnOrAfter", _iso(r.now + r.lifetime))
        restriction = etree.SubElement(conditions, etree.QName(SAML, "AudienceRestriction"))
        etree.SubElement(restriction, etree.QName(SAML, "Audience")).text = r.audience
        authn = etree.SubElement(a, etree.QName(SAML, "AuthnStatement"))
        authn.set("AuthnInstant", _iso(r.now))
        if r.session_not_on_or_after is not None:
            authn.set("SessionNotOnOrAfter", _iso(r.session_not_on_or_after))
        context = etree.SubElement(authn, etree.QName(SAML, "AuthnContext"))
        etree.SubElement(
            context, etree.QName(SAML, "AuthnContextClassRef")
        ).text = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        attributes: dict[str, list[str]] = {
            ATTRIBUTES + "Role": r.roles
            if r.roles is not None
            else [f"{r.role_arn},{r.provider_arn}"],
        }
        if r.session_name is not None:
            attributes[ATTRIBUTES + "RoleSessionName"] = [r.session_name]
        attributes.update(r.attributes)
        statement = etree.SubElement(a, etree.QName(SAML, "AttributeStatement"))
        for name, values in attributes.items():
            attribute = etree.SubElement(statement, etree.QName(SAML, "Attribute"))
            attribute.set("Name", name)
            for value in values:
                etree.SubElement(attribute, etree.QName(SAML, "AttributeValue")).text = value
        return a

    def response_xml(self, r: Response) -> bytes:
        """The response as XML bytes, signed as `r.signed` says."""
        assertion = self._assertion(r)
        if r.signed in ("assertion", "both"):
            assertion = self._sign(assertion)
        else:
            assertion.remove(assertion.find(etree.QName(DS, "Signature")))
        response = etree.Element(etree.QName(SAMLP, "Response"), nsmap={"samlp": SAMLP})
        response.set("ID", "_" + uuid.uuid4().hex)
        response.set("Version", "2.0")
        response.set("IssueInstant", _iso(r.now))
        response.set("Destination", r.recipient)
        etree.SubElement(response, etree.QName(SAML, "Issuer"), nsmap={"saml": SAML}).text = (
            r.issuer or self.entity_id
        )
        if r.signed in ("response", "both"):
            etree.SubElement(response, etree.QName(DS, "Signature"), nsmap={"ds": DS}).set(
                "Id", "placeholder"
            )
        status = etree.SubElement(response, etree.QName(SAMLP, "Status"))
        etree.SubElement(status, etree.QName(SAMLP, "StatusCode")).set("Value", r.status)
        response.append(assertion)
        if r.signed in ("response", "both"):
            response = self._sign(response)
        return etree.tostring(response)

    def response(self, r: Response) -> str:
        """The response as an AssumeRoleWithSAML request carries it: base64 text."""
        return encode(self.response_xml(r))


def encode(xml: bytes) -> str:
    return base64.b64encode(xml).decode("ascii")


def trust_policy(
    provider_arn: str,
    condition: Mapping[str, object] | None = None,
    actions: Sequence[str] = ("sts:AssumeRoleWithSAML",),
) -> str:
    """AWS's default trust policy for a SAML 2.0 federation role (plus `condition`)."""
    import json

    conditions: dict[str, object] = {
        "StringEquals": {"SAML:aud": AWS_SIGNIN},
    }
    for operator, keys in (condition or {}).items():
        merged = dict(conditions.get(operator, {}))  # type: ignore[arg-type]
        merged.update(keys)  # type: ignore[arg-type]
        conditions[operator] = merged
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": list(actions),
                    "Condition": conditions,
                }
            ],
        }
    )
