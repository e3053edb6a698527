"""The STS operations and what they stand on: temporary sessions, OIDC and SAML verification."""
