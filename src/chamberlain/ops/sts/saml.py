"""SAML 2.0 responses for AssumeRoleWithSAML: parse them safely, verify their XML
signature with the certificates of the provider's metadata, and read the one assertion
they carry as AWS reads it.

Parsing never resolves entities or touches the network, and any document type
declaration is refused (no entity expansion, no external entities). Signatures are
verified by signxml, and everything the caller learns comes from the XML signxml
returns as signed (the canonical bytes the digest covered), never from the document as
received, so wrapped or injected elements cannot speak for the identity provider. The
response, its assertion or both may be signed; a signature present must verify.

The metadata's certificates are key containers (SAML V2.0 Metadata Interoperability
Profile): their validity dates are not checked; the provider's ValidUntil bounds trust.

Times: the response may come from a clock up to `CLOCK_SKEW` ahead of ours; it must be
redeemed within five minutes of its IssueInstant, before its NotOnOrAfter moments.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from cryptography import x509
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.verifier import SignatureConfiguration, XMLVerifier

from chamberlain.ops.core.errors import (
    ExpiredTokenException,
    IDPRejectedClaim,
    InvalidIdentityToken,
)

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
UNSPECIFIED_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
_FORMAT_PREFIX = "urn:oasis:names:tc:SAML:2.0:nameid-format:"

#: AWS's sign-in endpoint: the Recipient (and an accepted Audience) of every response.
AWS_SIGNIN = "https://signin.aws.amazon.com/saml"
AUDIENCES = frozenset({AWS_SIGNIN, "urn:amazon:webservices"})
# The global endpoint or a regional one (https://us-east-2.signin.aws.amazon.com/saml).
_RECIPIENT = re.compile(r"https://(?:[a-z0-9-]+\.)?signin\.aws\.amazon\.com/saml")
CLOCK_SKEW = dt.timedelta(minutes=5)
REDEEM_WINDOW = dt.timedelta(minutes=5)

# AWS's messages (IAM User Guide, "Troubleshoot SAML federation") where it has one.
SIGNATURE_INVALID = "Response signature invalid"
ISSUER_UNKNOWN = "Issuer not present in specified provider"
AUDIENCE_MISSING = "Response does not contain the required audience."
EXPIRED = "Response has expired"
TOO_OLD = "Token must be redeemed within 5 minutes of issuance"
MALFORMED = "Invalid SAML response"

_DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")
# Every signature and digest method signxml knows but HMAC (shared secrets have no place
# in SAML metadata). SHA-1 stays accepted, as identity providers still sign with it.
_METHODS = frozenset(m for m in SignatureMethod if not m.name.startswith("HMAC"))
_DIGESTS = frozenset(DigestAlgorithm)
_CONFIG = SignatureConfiguration(
    require_x509=True,
    location="./",  # enveloped in the element verified, as SAML places it
    expect_references=1,
    signature_methods=_METHODS,
    digest_algorithms=_DIGESTS,
)


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


# -------------------------------------------------------------------------- parsing


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse_xml(data: bytes | str) -> etree._Element:
    """The root element of `data`; ValueError for malformed XML or any DTD."""
    if isinstance(data, str):
        # lxml parses text only without an encoding declaration; the text is decoded.
        data = _XML_DECLARATION.sub("", data, count=1)
        raw = data.encode("utf-8", "surrogatepass")
    else:
        raw = data
    if _DTD.search(raw):
        raise ValueError("document type declarations are not accepted")
    try:
        root = etree.fromstring(data, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ValueError("malformed XML") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        raise ValueError("document type declarations are not accepted")
    return root


def decode_assertion(text: str) -> bytes:
    """The SAML response an AssumeRoleWithSAML request carries (base64, whitespace allowed)."""
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidIdentityToken(MALFORMED) from None


def _datetime(text: str | None) -> dt.datetime | None:
    """An xs:dateTime (UTC when it has no offset); None when absent; ValueError if bad."""
    if text is None:
        return None
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


# ------------------------------------------------------------------------- metadata


def signing_certificates(document: str) -> dict[str, tuple[x509.Certificate, ...]]:
    """entityID -> the signing certificates (KeyDescriptor use="signing" or no use) of each
    identity provider the metadata describes. Unreadable certificates are skipped."""
    try:
        root = parse_xml(document)
    except ValueError:
        return {}
    if root.tag == _q(MD, "EntityDescriptor"):
        entities = [root]
    else:
        entities = root.findall(_q(MD, "EntityDescriptor"))
    out: dict[str, tuple[x509.Certificate, ...]] = {}
    for entity in entities:
        entity_id = entity.get("entityID")
        if not entity_id:
            continue
        certificates: list[x509.Certificate] = []
        for idp in entity.findall(_q(MD, "IDPSSODescriptor")):
            for descriptor in idp.findall(_q(MD, "KeyDescriptor")):
                if descriptor.get("use", "signing") != "signing":
                    continue
                for node in descriptor.iterfind(f"{_q(DS, 'KeyInfo')}/{_q(DS, 'X509Data')}"):
                    for cert in node.findall(_q(DS, "X509Certificate")):
                        try:
                            der = base64.b64decode("".join((cert.text or "").split()))
                            certificates.append(x509.load_der_x509_certificate(der))
                        except ValueError:
                            continue
        out.setdefault(entity_id, ())
        out[entity_id] += tuple(certificates)
    return out


# -------------------------------------------------------------------- the assertion


@dataclass(frozen=True)
class SamlAssertion:
    """What a verified response says, read only from its signed XML."""

    assertion_id: str
    issuer: str
    issue_instant: dt.datetime
    not_before: dt.datetime | None
    not_on_or_after: dt.datetime | None  # Conditions
    audiences: tuple[tuple[str, ...], ...]  # one tuple per AudienceRestriction
    name_id: str | None
    name_id_format: str
    recipient: str | None
    confirmation_not_on_or_after: dt.datetime | None
    session_not_on_or_after: dt.datetime | None  # AuthnStatement
    attributes: tuple[tuple[str, tuple[str, ...]], ...]  # Name -> values, document order

    def values(self, name: str) -> tuple[str, ...]:
        """Every value of the attributes named `name` (names are case-sensitive)."""
        return tuple(v for n, vs in self.attributes for v in vs if n == name)

    @property
    def subject_type(self) -> str:
        """The NameID format as STS reports it: without the SAML 2.0 prefix."""
        return self.name_id_format.removeprefix(_FORMAT_PREFIX)

    @property
    def expires(self) -> dt.datetime:
        """When `check_times` refuses the assertion from at the latest (replay records
        need not be kept longer)."""
        moments = [self.issue_instant + REDEEM_WINDOW]
        moments += [m for m in (self.not_on_or_after, self.confirmation_not_on_or_after) if m]
        return min(moments)


def _text(element: etree._Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip()


def _read_assertion(assertion: etree._Element) -> SamlAssertion:
    try:
        issue_instant = _datetime(assertion.get("IssueInstant"))
        assertion_id = assertion.get("ID")
        issuer = _text(assertion.find(_q(SAML, "Issuer")))
        if issue_instant is None or not assertion_id or not issuer:
            raise ValueError("assertion without ID, IssueInstant or Issuer")
        conditions = assertion.find(_q(SAML, "Conditions"))
        not_before = not_on_or_after = None
        audiences: list[tuple[str, ...]] = []
        if conditions is not None:
            not_before = _datetime(conditions.get("NotBefore"))
            not_on_or_after = _datetime(conditions.get("NotOnOrAfter"))
            for restriction in conditions.findall(_q(SAML, "AudienceRestriction")):
                found = (_text(a) for a in restriction.findall(_q(SAML, "Audience")))
                audiences.append(tuple(a for a in found if a))
        subject = assertion.find(_q(SAML, "Subject"))
        name_id = subject.find(_q(SAML, "NameID")) if subject is not None else None
        # AWS: exactly one SubjectConfirmation, whose data has NotOnOrAfter and Recipient.
        confirmations = (
            subject.findall(_q(SAML, "SubjectConfirmation")) if subject is not None else []
        )
        data = confirmations[0].find(_q(SAML, "SubjectConfirmationData")) if confirmations else None
        if len(confirmations) != 1 or data is None:
            raise ValueError("not exactly one SubjectConfirmation with its data")
        authn = assertion.find(_q(SAML, "AuthnStatement"))
        session_end = _datetime(authn.get("SessionNotOnOrAfter")) if authn is not None else None
        attributes: list[tuple[str, tuple[str, ...]]] = []
        for statement in assertion.findall(_q(SAML, "AttributeStatement")):
            for attribute in statement.findall(_q(SAML, "Attribute")):
                name = attribute.get("Name")
                if name:
                    values = (v.text or "" for v in attribute.findall(_q(SAML, "AttributeValue")))
                    attributes.append((name, tuple(v.strip() for v in values)))
        return SamlAssertion(
            assertion_id=assertion_id,
            issuer=issuer,
            issue_instant=issue_instant,
            not_before=not_before,
            not_on_or_after=not_on_or_after,
            audiences=tuple(audiences),
            name_id=_text(name_id) or None,
            name_id_format=(name_id.get("Format") if name_id is not None else None)
            or UNSPECIFIED_FORMAT,
            recipient=data.get("Recipient"),
            confirmation_not_on_or_after=_datetime(data.get("NotOnOrAfter")),
            session_not_on_or_after=session_end,
            attributes=tuple(attributes),
        )
    except (ValueError, TypeError, IndexError):
        raise InvalidIdentityToken(MALFORMED) from None


# --------------------------------------------------------------------- signatures


def _verified(element: etree._Element, certificates: Sequence[x509.Certificate]) -> etree._Element:
    """The element as its enveloped signature signed it, verified with one of the
    certificates; InvalidIdentityToken when none verifies it."""
    for certificate in certificates:
        # Key containers: verify as of a moment the certificate is valid at.
        config = replace(_CONFIG, verification_time=certificate.not_valid_before_utc)
        try:
            result = XMLVerifier().verify(
                element,
                x509_cert=certificate,
                parser=_parser(),
                id_attribute="ID",
                expect_config=config,
            )
        except Exception:
            continue
        if isinstance(result, list):  # one reference is expected: never a list
            continue
        signed = result.signed_xml
        # The signature must cover the element it is enveloped in, nothing else.
        if (
            signed is not None
            and signed.tag == element.tag
            and signed.get("ID") == element.get("ID")
        ):
            return signed
    raise InvalidIdentityToken(SIGNATURE_INVALID)


def _signature(element: etree._Element) -> etree._Element | None:
    return element.find(_q(DS, "Signature"))


def _only_assertion(response: etree._Element) -> etree._Element:
    if response.find(_q(SAML, "EncryptedAssertion")) is not None:
        raise InvalidIdentityToken("Encrypted SAML assertions are not supported")
    assertions = response.findall(_q(SAML, "Assertion"))
    if len(assertions) != 1:
        raise InvalidIdentityToken(MALFORMED)
    return assertions[0]


def verify_response(
    data: bytes, trusted: Mapping[str, Sequence[x509.Certificate]]
) -> SamlAssertion:
    """The assertion of a SAML response whose issuer is one of `trusted`'s entity ids and
    whose signature (the response's, the assertion's or both) verifies with that entity's
    certificates. Raises InvalidIdentityToken, or IDPRejectedClaim when the identity
    provider reports that authentication failed. Times and audience: `check_validity`."""
    try:
        root = parse_xml(data)
    except ValueError:
        raise InvalidIdentityToken(MALFORMED) from None
    if root.tag != _q(SAMLP, "Response"):
        raise InvalidIdentityToken(MALFORMED)
    status = root.find(f"{_q(SAMLP, 'Status')}/{_q(SAMLP, 'StatusCode')}")
    if status is None or status.get("Value") != SUCCESS:
        raise IDPRejectedClaim("The identity provider reported that authentication failed.")
    # The issuer, unverified, only chooses which certificates may verify the signature.
    claimed = _text(_only_assertion(root).find(_q(SAML, "Issuer")))
    certificates = trusted.get(claimed or "")
    if certificates is None:
        raise InvalidIdentityToken(ISSUER_UNKNOWN)
    response_issuer = _text(root.find(_q(SAML, "Issuer")))
    if response_issuer is not None and response_issuer != claimed:
        raise InvalidIdentityToken(ISSUER_UNKNOWN)
    if _signature(root) is not None:
        root = _verified(root, certificates)
        assertion = _only_assertion(root)
        if _signature(assertion) is not None:
            assertion = _verified(assertion, certificates)
    else:
        assertion = _only_assertion(root)
        if _signature(assertion) is None:
            raise InvalidIdentityToken(SIGNATURE_INVALID)
        assertion = _verified(assertion, certificates)
    read = _read_assertion(assertion)
    if read.issuer != claimed:
        raise InvalidIdentityToken(ISSUER_UNKNOWN)
    return read


def check_validity(assertion: SamlAssertion, now: dt.datetime) -> None:
    """AWS's checks of a verified assertion: for AWS's audience and sign-in endpoint,
    and not expired. ExpiredTokenException or InvalidIdentityToken."""
    earliest = now + CLOCK_SKEW  # the identity provider's clock may run ahead of ours
    if assertion.issue_instant > earliest or (
        assertion.not_before is not None and assertion.not_before > earliest
    ):
        raise InvalidIdentityToken("Response is not yet valid")
    if now >= assertion.issue_instant + REDEEM_WINDOW:
        raise ExpiredTokenException(TOO_OLD)
    for moment in (assertion.not_on_or_after, assertion.confirmation_not_on_or_after):
        if moment is not None and now >= moment:
            raise ExpiredTokenException(EXPIRED)
    if assertion.confirmation_not_on_or_after is None or assertion.recipient is None:
        raise InvalidIdentityToken(MALFORMED)
    if _RECIPIENT.fullmatch(assertion.recipient) is None:
        raise InvalidIdentityToken(f"Recipient in AuthnResponse must be {AWS_SIGNIN}")
    restrictions = assertion.audiences
    if not restrictions or any(not AUDIENCES & set(group) for group in restrictions):
        raise InvalidIdentityToken(AUDIENCE_MISSING)
