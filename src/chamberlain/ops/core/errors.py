"""One class per AWS error code the operations raise: code, HTTP status, sender fault.

Statuses are AWS's (IAM's and STS's service models carry them; tests/ops check that
every class here agrees with the model where the model knows the code). Messages
never contain secrets: callers pass names and ids, not credentials.
"""

from __future__ import annotations


class ServiceError(Exception):
    """An error AWS would send: each subclass names its code and HTTP status in its header,
    `class NoSuchEntity(ServiceError, status=404)` (the code is the class name unless given)."""

    code: str = "ServiceFailure"
    http_status: int = 500
    sender_fault: bool = False

    def __init_subclass__(
        cls, *, code: str | None = None, status: int | None = None, sender_fault: bool = True
    ) -> None:
        super().__init_subclass__()
        cls.code = code or cls.__name__
        if status is not None:
            cls.http_status = status
        cls.sender_fault = sender_fault

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoSuchEntity(ServiceError, status=404): ...


class EntityAlreadyExists(ServiceError, status=409): ...


class LimitExceeded(ServiceError, status=409): ...


class DeleteConflict(ServiceError, status=409): ...


class MalformedPolicyDocument(ServiceError, status=400): ...


class InvalidInput(ServiceError, status=400): ...


class ValidationError(ServiceError, status=400): ...


class PasswordPolicyViolation(ServiceError, status=400): ...


class EntityTemporarilyUnmodifiable(ServiceError, status=409): ...


class PolicyNotAttachable(ServiceError, status=400): ...


class PolicyEvaluation(ServiceError, status=500, sender_fault=False): ...


class UnmodifiableEntity(ServiceError, status=400): ...


class ConcurrentModification(ServiceError, status=409): ...


class InvalidAuthenticationCode(ServiceError, status=403): ...


class KeyPairMismatch(ServiceError, status=400): ...


class MalformedCertificate(ServiceError, status=400): ...


class InvalidCertificate(ServiceError, status=400): ...


class DuplicateCertificate(ServiceError, status=409): ...


class InvalidPublicKey(ServiceError, status=400): ...


class DuplicateSSHPublicKey(ServiceError, status=400): ...


class UnrecognizedPublicKeyEncoding(ServiceError, status=400): ...


class ReportNotPresent(ServiceError, status=410): ...


class ReportInProgress(ServiceError, status=404): ...


class ReportExpired(ServiceError, status=410): ...


class CredentialReportNotReady(ServiceError, code="ReportInProgress", status=404): ...


class InvalidUserType(ServiceError, status=400): ...


class OpenIdIdpCommunicationError(ServiceError, status=400): ...


class ServiceFailure(ServiceError, status=500, sender_fault=False): ...


class ServiceNotSupported(ServiceError, code="NotSupportedService", status=404): ...


class FeatureEnabled(ServiceError, status=409): ...


class FeatureDisabled(ServiceError, status=404): ...


# The model gives this shape no wire code, so its name is the code (as awsQuery sends it).
class OrganizationNotFoundException(ServiceError, status=400): ...


# Authentication and authorization (AWS's common errors).
class AccessDenied(ServiceError, status=403): ...


class InvalidClientTokenId(ServiceError, status=403): ...


class SignatureDoesNotMatch(ServiceError, status=403): ...


class IncompleteSignature(ServiceError, status=400): ...


class MissingAuthenticationToken(ServiceError, status=403): ...


class ExpiredToken(ServiceError, status=403): ...


class RequestExpired(ServiceError, status=400): ...


class OptInRequired(ServiceError, status=403): ...


class Throttling(ServiceError, status=400): ...


# STS.
MalformedPolicyDocumentSts = MalformedPolicyDocument


class PackedPolicyTooLarge(ServiceError, status=400): ...


class RegionDisabled(ServiceError, code="RegionDisabledException", status=403): ...


class IDPRejectedClaim(ServiceError, status=403): ...


class InvalidIdentityToken(ServiceError, status=400): ...


class IDPCommunicationError(ServiceError, status=400): ...


class InvalidAuthorizationMessage(
    ServiceError, code="InvalidAuthorizationMessageException", status=400
): ...


#: An expired web identity token or SAML response (ExpiredToken is for request credentials).
class ExpiredTokenException(ServiceError, status=400): ...


class InvalidParameterValue(ServiceError, status=400): ...
