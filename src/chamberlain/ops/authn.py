"""Who is calling: turn a SigV4-signed request's access key into a Caller.

The wire layer extracts the signature fields and rebuilds what the client signed
(`SigningInput`); this module finds the key, decrypts its secret, verifies the signature
with the injected clock and records when the key was last used. Failures carry AWS's
codes and never the secret or the expected signature.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, replace

from chamberlain.crypto.sigv4 import Reason, SignatureError, SigningInput, verify
from chamberlain.domain import ROOT, AccessKey, User
from chamberlain.ops.context import Caller, Services
from chamberlain.ops.errors import (
    IncompleteSignature,
    InvalidClientTokenId,
    MissingAuthenticationToken,
    RequestExpired,
    ServiceError,
    SignatureDoesNotMatch,
)
from chamberlain.ops.sessions import caller_from_token
from chamberlain.policy import PrincipalType

INVALID_TOKEN = "The security token included in the request is invalid."
#: Last-used is written at most this often per key (AWS reports it at a coarse grain too).
LAST_USED_GRAIN = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class SignedRequest:
    access_key_id: str
    signature: str
    signing_input: SigningInput
    expires: int | None = None  # presigned requests
    security_token: str | None = None


def signature_error(error: SignatureError) -> ServiceError:
    """AWS's error for a SigV4 failure (see crypto/sigv4.py's table)."""
    if error.reason is Reason.MISSING_AUTHENTICATION:
        return MissingAuthenticationToken(error.message)
    if error.reason is Reason.INCOMPLETE_SIGNATURE:
        return IncompleteSignature(error.message)
    if error.reason is Reason.PRESIGNED_EXPIRED:
        return RequestExpired(error.message)
    return SignatureDoesNotMatch(error.message)


def _secret(services: Services, key: AccessKey) -> str:
    return services.secrets.decrypt(key.secret_encrypted, key.access_key_id.encode()).decode()


def authenticate(
    services: Services,
    signed: SignedRequest,
    *,
    now: dt.datetime,
    service: str,
    region: str,
    allowed_regions: Collection[str] | None = None,
) -> Caller:
    """Verify the signature and return the caller; raise InvalidClientTokenId,
    SignatureDoesNotMatch, IncompleteSignature or RequestExpired.

    `allowed_regions`: the regions the credential scope may name (None: any); `region`:
    where the request is served, recorded as the key's last-used region."""
    if signed.access_key_id.startswith("ASIA"):  # temporary: all in the session token
        caller, secret = caller_from_token(
            services, signed.access_key_id, signed.security_token, now, service=service
        )
        _verify(signed, secret, now, service, allowed_regions)
        return caller
    with services.store.unit_of_work(read_only=True) as uow:
        key = uow.repo(AccessKey).find(signed.access_key_id)
        if key is None or key.status != "Active":
            raise InvalidClientTokenId(INVALID_TOKEN)
        caller = _caller_for(uow, key)
        try:
            _verify(signed, _secret(services, key), now, service, allowed_regions)
            if signed.security_token:
                # AWS refuses a session token beside a long-term key (a stale
                # AWS_SESSION_TOKEN left set) rather than ignoring it.
                raise InvalidClientTokenId(INVALID_TOKEN)
        except ServiceError as exc:
            # The key is known: the audit trail records who failed to authenticate.
            exc.known_key = (key.account_id, key.access_key_id, caller)  # type: ignore[attr-defined]
            raise
    _record_use(services, key, now, service, region)
    return caller


def _verify(
    signed: SignedRequest,
    secret: str,
    now: dt.datetime,
    service: str,
    allowed_regions: Collection[str] | None = None,
) -> None:
    try:
        verify(
            signed.signing_input,
            signed.signature,
            secret,
            now=now,
            expires=signed.expires,
            expected_service=service,
            allowed_regions=allowed_regions,
        )
    except SignatureError as exc:
        raise signature_error(exc) from None


def _caller_for(uow: object, key: AccessKey) -> Caller:
    account = key.account_id
    if key.user_name == ROOT:
        return Caller(
            account_id=account,
            arn=f"arn:aws:iam::{account}:root",
            principal_id=account,
            type=PrincipalType.ROOT,
            access_key_id=key.access_key_id,
        )
    user = uow.repo(User).get(account, key.user_name.lower())  # type: ignore[attr-defined]
    if user is None:  # a key outliving its user cannot happen (DeleteUser refuses), but:
        raise InvalidClientTokenId(INVALID_TOKEN)
    return Caller(
        account_id=account,
        arn=user.arn,
        principal_id=user.user_id,
        type=PrincipalType.USER,
        user_name=user.name,
        access_key_id=key.access_key_id,
    )


def _record_use(
    services: Services, key: AccessKey, now: dt.datetime, service: str, region: str
) -> None:
    """Access-key last used (date, service, region), written when it changes."""
    fresh = (
        key.last_used is not None
        and now - key.last_used < LAST_USED_GRAIN
        and key.last_used_service == service
        and key.last_used_region == region
    )
    if fresh:
        return
    with services.store.unit_of_work() as uow:
        repo = uow.repo(AccessKey)
        current = repo.get(key.account_id, key.access_key_id)
        if current is not None:
            repo.put(
                replace(current, last_used=now, last_used_service=service, last_used_region=region)
            )
