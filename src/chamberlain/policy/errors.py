"""Errors the policy package raises. Nothing else escapes it."""

from __future__ import annotations


class MalformedPolicyDocument(ValueError):
    """A document that is not a valid policy of the requested type.

    `message` is AWS's text for the error (what IAM returns in
    MalformedPolicyDocument's Message).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PolicyTooLarge(MalformedPolicyDocument):
    """The document exceeds AWS's size quota for its use (IAM returns LimitExceeded)."""
