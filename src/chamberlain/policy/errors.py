"""Errors the policy package raises. Nothing else escapes it."""

from __future__ import annotations


class MalformedPolicyDocument(ValueError):
    """A document that is not a valid policy of the requested type.

    `message` is AWS's text for the error, exactly what IAM returns in
    MalformedPolicyDocument's Message (often just "Syntax errors in policy."); it is also
    `str(error)`. `detail` says what is wrong and where (the statement, the element, the
    offending value, truncated), for a policy editor or the server log; it is the message
    itself when there is nothing to add. Only `message` belongs on the wire.
    """

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = message if detail is None else detail


class PolicyTooLarge(MalformedPolicyDocument):
    """The document exceeds AWS's size quota for its use (IAM returns LimitExceeded)."""
