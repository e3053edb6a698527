"""Who is calling: turn a SigV4-signed request's access key into a Caller.

The wire layer extracts the signature fields and rebuilds what the client signed
(`SigningInput`); this module finds the key, decrypts its secret, verifies the signature
with the injected clock and records when the key was last used. Failures carry AWS's
codes and never the secret or the expected signature.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace

from chamberlain.crypto.sigv4 import (
    CredentialScope,
    Reason,
    SignatureError,
    SigningInput,
    signing_key,
    verify,
)
from chamberlain.domain import ROOT, AccessKey, User
from chamberlain.ops.core.context import Caller, Services, note_cache
from chamberlain.ops.core.errors import (
    IncompleteSignature,
    InvalidClientTokenId,
    MissingAuthenticationToken,
    RequestExpired,
    ServiceError,
    SignatureDoesNotMatch,
)
from chamberlain.ops.sts.sessions import caller_from_token
from chamberlain.policy import PrincipalType
from chamberlain.store.api import UnitOfWork
from chamberlain.store.scopes import principal_scope

INVALID_TOKEN = "The security token included in the request is invalid."
#: Last-used data is written at most this often per key (unless service, region or day
#: change), so authenticating a busy key does not turn every request into a write.
LAST_USED_GRANULARITY = dt.timedelta(seconds=60)
#: What an access key id can be (IAM's accessKeyIdType: [\w]+, 16 to 128 characters). Any
#: other text (a non-UTF-8 byte, a NUL) names no key and never reaches the store.
ACCESS_KEY_ID = re.compile(r"[A-Za-z0-9_]{16,128}")


@dataclass(frozen=True)
class SignedRequest:
    access_key_id: str
    signature: str
    signing_input: SigningInput
    expires: int | None = None  # presigned requests
    security_token: str | None = None


@dataclass(frozen=True)
class KnownKey:
    """The long-term access key a failed request was signed with, and whose it is."""

    account_id: str
    access_key_id: str
    identity: Caller


class KeyAuthenticationFailed(Exception):
    """Authentication by a known access key failed: `error` is what AWS answers, `key` says
    whose trail records the attempt."""

    def __init__(self, error: ServiceError, key: KnownKey) -> None:
        super().__init__(error.message)
        self.error = error
        self.key = key


def _printable(message: str) -> str:
    """A message that quotes the request: a non-UTF-8 byte (decoded with surrogateescape)
    becomes U+FFFD, so the answer and the audit event can be encoded."""
    if message.isascii():
        return message
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in message)


def signature_error(error: SignatureError) -> ServiceError:
    """AWS's error for a SigV4 failure (see crypto/sigv4.py's table)."""
    error = SignatureError(error.reason, _printable(error.message))
    if error.reason is Reason.MISSING_AUTHENTICATION:
        return MissingAuthenticationToken(error.message)
    if error.reason is Reason.INCOMPLETE_SIGNATURE:
        return IncompleteSignature(error.message)
    if error.reason is Reason.PRESIGNED_EXPIRED:
        return RequestExpired(error.message)
    return SignatureDoesNotMatch(error.message)


def decrypt_secret(services: Services, access_key: AccessKey) -> str:
    """The secret access key in clear, for verifying a signature. Never log or return it."""
    aad = access_key.access_key_id.encode()
    return services.secrets.decrypt(access_key.secret_encrypted, aad=aad).decode()


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
    SignatureDoesNotMatch, IncompleteSignature or RequestExpired, wrapped in
    KeyAuthenticationFailed when the access key is one of ours.

    `allowed_regions`: the regions the credential scope may name (None: any); `region`:
    where the request is served, recorded as the key's last-used region."""
    if not ACCESS_KEY_ID.fullmatch(signed.access_key_id):
        raise InvalidClientTokenId(INVALID_TOKEN)
    if signed.access_key_id.startswith("ASIA"):  # temporary: all in the session token
        return _temporary_caller(services, signed, now, service, allowed_regions)
    with services.store.unit_of_work(read_only=True) as uow:
        entry = _long_term_caller(uow, services, signed, now, service, allowed_regions)
    if _use_changes(entry.key, now, service, region):
        key = _used(entry, now, service, region)
        with services.store.unit_of_work() as uow:
            uow.lock_account(key.account_id)
            _note_key_use(uow, key, now, service, region)
    return entry.caller


def authenticate_in(
    uow: UnitOfWork,
    services: Services,
    signed: SignedRequest,
    *,
    read_only: bool,
    now: dt.datetime,
    service: str,
    region: str,
    allowed_regions: Collection[str] | None = None,
) -> Caller:
    """`authenticate` inside the request's own unit of work (`read_only`: whether it
    is). A writing one records the key's use itself; for a read-only one the use goes to
    the group-commit writer (or a transaction of its own without one)."""
    if not ACCESS_KEY_ID.fullmatch(signed.access_key_id):
        raise InvalidClientTokenId(INVALID_TOKEN)
    if signed.access_key_id.startswith("ASIA"):
        return _temporary_caller(services, signed, now, service, allowed_regions)
    entry = _long_term_caller(uow, services, signed, now, service, allowed_regions)
    caller = entry.caller
    if not _use_changes(entry.key, now, service, region):
        return caller
    key = _used(entry, now, service, region)
    if not read_only:
        # The account's lock before the key's row: a writer holding the lock (another
        # request, the group-commit writer) may be about to write the same row.
        uow.lock_account(key.account_id)
        _note_key_use(uow, key, now, service, region)
    elif services.group_commit is not None:
        services.group_commit.submit(
            (key.account_id,), lambda w: _note_key_use(w, key, now, service, region)
        )
    else:
        with services.store.unit_of_work() as own:
            own.lock_account(key.account_id)
            _note_key_use(own, key, now, service, region)
    return caller


def _temporary_caller(
    services: Services,
    signed: SignedRequest,
    now: dt.datetime,
    service: str,
    allowed_regions: Collection[str] | None,
) -> Caller:
    caller, secret = caller_from_token(
        services, signed.access_key_id, signed.security_token, now, service=service
    )
    _verify(signed, secret, now, service, allowed_regions)
    return caller


@dataclass
class _CachedKey:
    """An active access key, its caller and its derived signing keys, as read at
    `stamps` (the generations of its account and of its user, store/scopes.py): valid
    while they are unchanged."""

    stamps: tuple[int, int]
    key: AccessKey
    caller: Caller
    signing_keys: dict[tuple[str, str, str], bytes]


#: Cached keys per node (services.cache["access_keys"]), at most this many.
_KEY_CACHE_LIMIT = 10_000


def _stamps(uow: UnitOfWork, key: AccessKey) -> tuple[int, int]:
    """What a cached key depends on: its account's generation and its user's (which its
    status, deletion and the user's identity bump)."""
    user = principal_scope(key.account_id, "user", key.user_name)
    return uow.generation(key.account_id), uow.generation(user)


def _cached_key(uow: UnitOfWork, services: Services, access_key_id: str) -> _CachedKey:
    """The active key and its caller: from the cache when its generations are unchanged
    (the node's copy of them, else two small reads), else read afresh (and cached).
    InvalidClientTokenId for an unknown or inactive key."""
    cache: dict[str, _CachedKey] = services.cache.setdefault("access_keys", {})
    entry = cache.get(access_key_id)
    if entry is not None and _stamps(uow, entry.key) == entry.stamps:
        note_cache(services, "access_keys", True)
        return entry
    note_cache(services, "access_keys", False)
    repo = uow.repo(AccessKey)
    key = repo.find(access_key_id)
    if key is None or key.status != "Active":
        cache.pop(access_key_id, None)
        raise InvalidClientTokenId(INVALID_TOKEN)
    # The generations first, then what is cached under them, read again: a change that
    # commits in between leaves a newer generation behind, never stale data under it.
    stamps = _stamps(uow, key)
    cacheable = min(stamps) >= 0
    if cacheable:
        again = repo.get(key.account_id, access_key_id)
        if again is None or again.status != "Active":
            raise InvalidClientTokenId(INVALID_TOKEN)
        cacheable = again.user_name == key.user_name  # else: stamped with another user's
        key = again
    entry = _CachedKey(stamps, key, _caller_for(uow, key), {})
    if cacheable:
        if len(cache) >= _KEY_CACHE_LIMIT:
            cache.clear()
        cache[access_key_id] = entry
    return entry


def _used(entry: _CachedKey, now: dt.datetime, service: str, region: str) -> AccessKey:
    """The cached key as this use leaves it: its last use is written apart (and bumps no
    generation), so the cache keeps it current itself and the next request does not
    write it again within LAST_USED_GRANULARITY."""
    key = entry.key
    entry.key = replace(key, last_used=now, last_used_service=service, last_used_region=region)
    return key


def _long_term_caller(
    uow: UnitOfWork,
    services: Services,
    signed: SignedRequest,
    now: dt.datetime,
    service: str,
    allowed_regions: Collection[str] | None,
) -> _CachedKey:
    entry = _cached_key(uow, services, signed.access_key_id)
    key, caller = entry.key, entry.caller

    def signing_key_for(scope: CredentialScope) -> bytes:
        index = (scope.date, scope.region, scope.service)
        derived = entry.signing_keys.get(index)
        if derived is None:
            if len(entry.signing_keys) >= 16:
                entry.signing_keys.clear()
            derived = signing_key(decrypt_secret(services, key), scope)
            entry.signing_keys[index] = derived
        return derived

    try:
        _verify(signed, signing_key_for, now, service, allowed_regions)
        if signed.security_token:
            # AWS refuses a session token beside a long-term key (a stale
            # AWS_SESSION_TOKEN left set) rather than ignoring it.
            raise InvalidClientTokenId(INVALID_TOKEN)
    except ServiceError as exc:
        # The key is known: the audit trail records who failed to authenticate.
        raise KeyAuthenticationFailed(
            exc, KnownKey(key.account_id, key.access_key_id, caller)
        ) from None
    return entry


def _note_key_use(
    uow: UnitOfWork, key: AccessKey, now: dt.datetime, service: str, region: str
) -> None:
    current = uow.repo(AccessKey).get(key.account_id, key.access_key_id)
    if current is not None:
        record_key_use(uow, current, now, service, region)


def _verify(
    signed: SignedRequest,
    secret: str | Callable[[CredentialScope], bytes],
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


def _caller_for(uow: UnitOfWork, key: AccessKey) -> Caller:
    account = key.account_id
    if key.user_name == ROOT:
        return Caller(
            account_id=account,
            arn=f"arn:aws:iam::{account}:root",
            principal_id=account,
            type=PrincipalType.ROOT,
            access_key_id=key.access_key_id,
        )
    user = uow.repo(User).get(account, key.user_name.lower())
    if user is None:  # a key outliving its user cannot happen (DeleteUser refuses), but:
        raise InvalidClientTokenId(INVALID_TOKEN)
    return user_caller(user, key.access_key_id)


def user_caller(user: User, access_key_id: str | None = None) -> Caller:
    """The IAM user as a caller (with the access key it signed with, if any)."""
    return Caller(
        account_id=user.account_id,
        arn=user.arn,
        principal_id=user.user_id,
        type=PrincipalType.USER,
        user_name=user.name,
        access_key_id=access_key_id,
    )


def caller_for_key(uow: UnitOfWork, key: AccessKey) -> Caller | None:
    """Whose long-term key this is, as a Caller; None when its user is gone."""
    try:
        return _caller_for(uow, key)
    except InvalidClientTokenId:
        return None


def _use_changes(access_key: AccessKey, now: dt.datetime, service: str, region: str) -> bool:
    """Whether a use now changes the stored last-used data enough to be written: another
    service or region, another day, or LAST_USED_GRANULARITY later. Never backwards (a
    node with a slow clock does not move it back)."""
    last = access_key.last_used
    same_place = access_key.last_used_service == service and access_key.last_used_region == region
    if not same_place or last is None:
        return True
    recent = now - last < LAST_USED_GRANULARITY and now.date() == last.date()
    return not (recent or now <= last)


def record_key_use(
    uow: UnitOfWork, access_key: AccessKey, now: dt.datetime, service: str, region: str
) -> AccessKey:
    """Note that `access_key` signed a request for `service` in `region` (in a writable
    unit of work holding the account's lock), writing only when `_use_changes`. Returns
    the key as stored afterwards. The last use is no authorization input: it is written
    with `touch`, which bumps no generation (and leaves every node's caches of keys and
    policies alone)."""
    if not _use_changes(access_key, now, service, region):
        return access_key
    updated = replace(access_key, last_used=now, last_used_service=service, last_used_region=region)
    if not uow.repo(AccessKey).touch(updated):
        return access_key  # deleted meanwhile
    return updated
