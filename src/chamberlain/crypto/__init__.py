"""Pure cryptographic functions: request signatures, passwords, TOTP, secrets at rest, tokens.

Nothing here imports the rest of the project, reads the clock or does I/O.
"""
