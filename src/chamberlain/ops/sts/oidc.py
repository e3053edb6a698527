"""OpenID Connect ID tokens, as STS's AssumeRoleWithWebIdentity checks them.

A token is a JWS (RS256/384/512 or ES256/384/512, AWS's supported algorithms) whose
signature is verified against the issuer's published keys: the discovery document at
`<iss>/.well-known/openid-configuration` names a `jwks_uri`, whose JSON Web Key Set is
fetched and cached per issuer for `JWKS_TTL`. A token whose `kid` the cached set does not
hold makes one refetch (at most once per `REFETCH_AFTER` per issuer, so random key ids
cannot turn the server into a request amplifier against an issuer); an issuer that could
not be reached is not asked again for `RETRY_AFTER_FAILURE`. Times (`exp`, `nbf`,
`iat`) are checked against the operation's clock with `LEEWAY` for clock skew.

Only issuers registered as OIDC providers are ever fetched (the operation looks the
provider up before asking for keys). Fetches go to https URLs only, follow no redirects,
honour the environment's proxies, time out after `FETCH_TIMEOUT` seconds and read at most
`MAX_DOCUMENT` bytes. Certificate thumbprints of the provider are not consulted: like
AWS today, the server trusts the issuer's certificate through the system's CA store.

Testing and local issuers: with the environment variable ``CHAMBERLAIN_OIDC_ALLOW_HTTP=1``
(read at each call), issuers on a loopback address (127.0.0.0/8, ::1, localhost) may use
plain http, and their ``http://`` `iss` matches the provider registered for the same host,
port and path. Never set it in production.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from jwt.exceptions import (
    InvalidAlgorithmError,
    InvalidKeyError,
    InvalidSignatureError,
    PyJWKError,
    PyJWTError,
)

from chamberlain.ops.core.context import Services
from chamberlain.ops.core.errors import (
    ExpiredTokenException,
    IDPCommunicationError,
    InvalidIdentityToken,
)

ALLOW_HTTP_ENV = "CHAMBERLAIN_OIDC_ALLOW_HTTP"
#: The algorithms AWS accepts for web identity tokens (the STS API reference).
ALGORITHMS = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
}
JWKS_TTL = dt.timedelta(hours=1)
REFETCH_AFTER = dt.timedelta(seconds=60)
RETRY_AFTER_FAILURE = dt.timedelta(seconds=10)
LEEWAY = dt.timedelta(seconds=60)
FETCH_TIMEOUT = 5.0
MAX_DOCUMENT = 1024 * 1024
_CACHE_KEY = "oidc_jwks"
_FAILURES_KEY = "oidc_jwks_failures"
_CACHE_LIMIT = 1000
_cache_lock = threading.Lock()

NOT_A_JWT = (
    "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"
)
NO_KEY = (
    "Couldn't retrieve verification key from your identity provider,  please reference "
    "AssumeRoleWithWebIdentity documentation for requirements"
)
BAD_SIGNATURE = "Incorrect token signature"
UNSUPPORTED_ALGORITHM = "Token signing algorithm is not supported"

#: Fetch a URL and return its JSON; raises FetchError. Injectable for callers and tests.
Fetch = Callable[[str], Any]


class FetchError(Exception):
    """The issuer could not be reached, or answered with something other than JSON."""


@dataclass(frozen=True)
class IdToken:
    """A token's parts, decoded but not yet verified."""

    raw: str
    header: Mapping[str, Any]
    claims: Mapping[str, Any]

    @property
    def issuer(self) -> str:
        return str(self.claims["iss"])


# --------------------------------------------------------------------------- parse


def parse(raw: str) -> IdToken:
    """The token's header and claims (unverified); InvalidIdentityToken when it is not a
    signed JWT with a JSON object payload and a string `iss`, or its header is not one
    PyJWT accepts (a `kid` that is not a string, an unknown critical extension, ...)."""
    try:
        parts = jwt.PyJWS().decode_complete(raw, options={"verify_signature": False})
        claims = json.loads(parts["payload"])
    except (PyJWTError, ValueError, TypeError):
        raise InvalidIdentityToken(NOT_A_JWT) from None
    header = parts["header"]
    if not isinstance(claims, dict) or not isinstance(header, dict):
        raise InvalidIdentityToken(NOT_A_JWT)
    if not isinstance(claims.get("iss"), str) or not claims["iss"]:
        raise InvalidIdentityToken(NOT_A_JWT)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise InvalidIdentityToken(UNSUPPORTED_ALGORITHM)
    return IdToken(raw=raw, header=header, claims=claims)


def http_allowed() -> bool:
    return os.environ.get(ALLOW_HTTP_ENV, "") == "1"


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def issuer_key(iss: str) -> str | None:
    """The provider URL (as IAM stores it: no scheme) that `iss` names, or None when no
    provider could match it. An `iss` without a scheme is read as https (as AWS does);
    http counts only for loopback issuers with CHAMBERLAIN_OIDC_ALLOW_HTTP=1."""
    if "://" not in iss:
        iss = "https://" + iss
    try:
        parts = urlsplit(iss)
        hostname = parts.hostname
    except ValueError:  # e.g. an unbalanced "[" (an IPv6 literal): names no provider
        return None
    scheme = parts.scheme.lower()
    if scheme == "http" and not (http_allowed() and _loopback(hostname)):
        return None
    if scheme not in ("https", "http") or not hostname or parts.query or parts.fragment:
        return None
    return parts.netloc + parts.path


def issuer_url(iss: str) -> str:
    """The issuer as a URL, for messages and for fetching (https unless it says http)."""
    return iss if "://" in iss else "https://" + iss


# ---------------------------------------------------------------------------- fetch


def fetchable(url: str) -> bool:
    """May the server fetch this URL? https anywhere; http only on loopback, and only
    with CHAMBERLAIN_OIDC_ALLOW_HTTP=1."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if not host or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and http_allowed() and _loopback(host)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx answer then surfaces as an HTTPError


def fetch_json(url: str) -> Any:
    """GET `url` and parse its JSON body (see the module docstring for the limits)."""
    if not fetchable(url):
        raise FetchError(f"refusing to fetch {url}")
    handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
    if _loopback(urlsplit(url).hostname):
        handlers.append(urllib.request.ProxyHandler({}))  # never proxy loopback
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": "chamberlain-sts"}
    )
    try:
        with opener.open(request, timeout=FETCH_TIMEOUT) as response:
            if response.status != 200:
                raise FetchError(f"{url} answered {response.status}")
            body = response.read(MAX_DOCUMENT + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FetchError(f"{url}: {exc}") from None
    if len(body) > MAX_DOCUMENT:
        raise FetchError(f"{url}: document too large")
    try:
        return json.loads(body)
    except ValueError:
        raise FetchError(f"{url}: not JSON") from None


@dataclass(frozen=True)
class _KeySet:
    fetched: dt.datetime
    keys: tuple[Mapping[str, Any], ...]


def _download_keys(iss: str, fetch: Fetch) -> tuple[Mapping[str, Any], ...]:
    """The issuer's JWKS via its discovery document. IDPCommunicationError when the
    issuer cannot be reached; InvalidIdentityToken when it answers nonsense."""
    base = issuer_url(iss).rstrip("/")
    try:
        discovery = fetch(base + "/.well-known/openid-configuration")
        jwks_uri = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
        if not isinstance(jwks_uri, str) or not fetchable(jwks_uri):
            raise InvalidIdentityToken(NO_KEY)
        document = fetch(jwks_uri)
    except FetchError:
        raise IDPCommunicationError(NO_KEY) from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise InvalidIdentityToken(NO_KEY)
    return tuple(k for k in keys if isinstance(k, dict))


def _key_cache(services: Services) -> dict[str, _KeySet]:
    cache: dict[str, _KeySet] = services.cache.setdefault(_CACHE_KEY, {})
    return cache


def _refresh(services: Services, iss: str, now: dt.datetime, fetch: Fetch) -> _KeySet:
    """Fetch the issuer's keys now, unless it could not be reached moments ago: then
    fail at once, so unreachable issuers do not hold requests (and their unit of work)
    for the fetch timeout again and again."""
    failures: dict[str, dt.datetime] = services.cache.setdefault(_FAILURES_KEY, {})
    failed = failures.get(iss)
    if failed is not None and dt.timedelta(0) <= now - failed < RETRY_AFTER_FAILURE:
        raise IDPCommunicationError(NO_KEY)
    try:
        keys = _KeySet(now, _download_keys(iss, fetch))
    except IDPCommunicationError:
        with _cache_lock:
            if len(failures) >= _CACHE_LIMIT:
                failures.clear()
            failures[iss] = now
        raise
    cache = _key_cache(services)
    with _cache_lock:
        failures.pop(iss, None)
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[iss] = keys
    return keys


def _candidates(
    keys: Sequence[Mapping[str, Any]], header: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The keys that may have signed a token with this header: same `kid` (any key
    when the token names none), a key type and curve fit for its algorithm, meant for
    signatures, and no other algorithm declared."""
    alg = str(header["alg"])
    kty, crv = ALGORITHMS[alg]
    kid = header.get("kid")
    found: list[dict[str, Any]] = []
    for key in keys:
        if kid is not None and key.get("kid") != kid:
            continue
        if key.get("kty") != kty or (crv is not None and key.get("crv") != crv):
            continue
        if key.get("use", "sig") != "sig" or key.get("alg", alg) != alg:
            continue
        found.append(dict(key))
    return found


def verify_signature(
    services: Services, token: IdToken, now: dt.datetime, fetch: Fetch = fetch_json
) -> None:
    """Raise unless one of the issuer's keys verifies the token's signature."""
    iss = token.issuer
    cached = _key_cache(services).get(iss)
    if cached is None or now - cached.fetched >= JWKS_TTL or now < cached.fetched:
        cached = _refresh(services, iss, now, fetch)
    candidates = _candidates(cached.keys, token.header)
    if not candidates and now - cached.fetched >= REFETCH_AFTER:
        cached = _refresh(services, iss, now, fetch)  # the issuer may have rotated its keys
        candidates = _candidates(cached.keys, token.header)
    if not candidates:
        raise InvalidIdentityToken(NO_KEY)
    alg = str(token.header["alg"])
    for jwk_data in candidates:
        try:
            key = jwt.PyJWK(jwk_data, algorithm=alg)
        except (PyJWKError, InvalidKeyError, ValueError, TypeError):
            continue
        try:
            jwt.PyJWS().decode_complete(token.raw, key=key, algorithms=[alg])
        except (InvalidSignatureError, InvalidAlgorithmError, InvalidKeyError):
            continue
        except PyJWTError:  # DecodeError and any other defect of the token itself
            raise InvalidIdentityToken(NOT_A_JWT) from None
        return
    raise InvalidIdentityToken(BAD_SIGNATURE)


# ---------------------------------------------------------------------------- times


def _seconds(claims: Mapping[str, Any], name: str) -> int | None:
    """A NumericDate claim; AWS wants integers ("formatted as either an integer or a long
    integer"). InvalidIdentityToken for anything else."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidIdentityToken(f"The {name} claim of the token must be an integer.")
    return value


def check_times(token: IdToken, now: dt.datetime) -> None:
    """exp (required), nbf and iat against `now`, with LEEWAY either way."""
    claims = token.claims
    current = int(now.timestamp())
    leeway = int(LEEWAY.total_seconds())
    expires = _seconds(claims, "exp")
    if expires is None:
        raise InvalidIdentityToken("The token has no expiration time (exp).")
    if current - leeway >= expires:
        raise ExpiredTokenException(
            f"Token expired: current date/time {current} must be before the expiration "
            f"date/time {expires}"
        )
    not_before = _seconds(claims, "nbf")
    if not_before is not None and current + leeway < not_before:
        raise InvalidIdentityToken(
            f"Token is not yet valid: current date/time {current} must be after the "
            f"not-before date/time {not_before}"
        )
    issued = _seconds(claims, "iat")
    if issued is not None and current + leeway < issued:
        raise InvalidIdentityToken(
            f"Token used before issued: current date/time {current} must be after the "
            f"issued-at date/time {issued}"
        )
