"""One class per AWS error code the operations raise: code, HTTP status, sender fault.

Statuses are AWS's (IAM's and STS's service models carry them; tests/ops check that
every class here agrees with the model where the model knows the code). Messages
never contain secrets: callers pass names and ids, not credentials.
"""

from __future__ import annotations


class ServiceError(Exception):
    code: str = "ServiceFailure"
    http_status: int = 500
    sender_fault: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _error(code: str, status: int, sender: bool = True) -> type[ServiceError]:
    attrs = {"code": code, "http_status": status, "sender_fault": sender}
    return type(code, (ServiceError,), attrs)


NoSuchEntity = _error("NoSuchEntity", 404)
EntityAlreadyExists = _error("EntityAlreadyExists", 409)
LimitExceeded = _error("LimitExceeded", 409)
DeleteConflict = _error("DeleteConflict", 409)
MalformedPolicyDocument = _error("MalformedPolicyDocument", 400)
InvalidInput = _error("InvalidInput", 400)
ValidationError = _error("ValidationError", 400)
PasswordPolicyViolation = _error("PasswordPolicyViolation", 400)
EntityTemporarilyUnmodifiable = _error("EntityTemporarilyUnmodifiable", 409)
PolicyNotAttachable = _error("PolicyNotAttachable", 400)
PolicyEvaluation = _error("PolicyEvaluation", 500, sender=False)
UnmodifiableEntity = _error("UnmodifiableEntity", 400)
ConcurrentModification = _error("ConcurrentModification", 409)
InvalidAuthenticationCode = _error("InvalidAuthenticationCode", 403)
KeyPairMismatch = _error("KeyPairMismatch", 400)
MalformedCertificate = _error("MalformedCertificate", 400)
InvalidCertificate = _error("InvalidCertificate", 400)
DuplicateCertificate = _error("DuplicateCertificate", 409)
InvalidPublicKey = _error("InvalidPublicKey", 400)
DuplicateSSHPublicKey = _error("DuplicateSSHPublicKey", 400)
UnrecognizedPublicKeyEncoding = _error("UnrecognizedPublicKeyEncoding", 400)
ReportNotPresent = _error("ReportNotPresent", 410)
ReportInProgress = _error("ReportInProgress", 404)
ReportExpired = _error("ReportExpired", 410)
CredentialReportNotReady = _error("ReportInProgress", 404)
InvalidUserType = _error("InvalidUserType", 400)
OpenIdIdpCommunicationError = _error("OpenIdIdpCommunicationError", 400)
ServiceFailure = _error("ServiceFailure", 500, sender=False)
ServiceNotSupported = _error("NotSupportedService", 404)
FeatureEnabled = _error("FeatureEnabled", 409)
FeatureDisabled = _error("FeatureDisabled", 404)
# The model gives this shape no wire code, so its name is the code (as awsQuery sends it).
OrganizationNotFoundException = _error("OrganizationNotFoundException", 400)

# Authentication and authorization (AWS's common errors).
AccessDenied = _error("AccessDenied", 403)
InvalidClientTokenId = _error("InvalidClientTokenId", 403)
SignatureDoesNotMatch = _error("SignatureDoesNotMatch", 403)
IncompleteSignature = _error("IncompleteSignature", 400)
MissingAuthenticationToken = _error("MissingAuthenticationToken", 403)
ExpiredToken = _error("ExpiredToken", 403)
RequestExpired = _error("RequestExpired", 400)
OptInRequired = _error("OptInRequired", 403)
Throttling = _error("Throttling", 400)

# STS.
MalformedPolicyDocumentSts = MalformedPolicyDocument
PackedPolicyTooLarge = _error("PackedPolicyTooLarge", 400)
RegionDisabled = _error("RegionDisabledException", 403)
IDPRejectedClaim = _error("IDPRejectedClaim", 403)
InvalidIdentityToken = _error("InvalidIdentityToken", 400)
IDPCommunicationError = _error("IDPCommunicationError", 400)
InvalidAuthorizationMessage = _error("InvalidAuthorizationMessageException", 400)
#: An expired web identity token or SAML response (ExpiredToken is for request credentials).
ExpiredTokenException = _error("ExpiredTokenException", 400)
InvalidParameterValue = _error("InvalidParameterValue", 400)
