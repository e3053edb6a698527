"""A local OpenID Connect issuer for tests: a threaded HTTP server on 127.0.0.1 that
publishes a discovery document and a JSON Web Key Set, and mints ID tokens signed with
keys generated at test time (RSA for RS256, P-256 for ES256).

Its URLs are plain http, so the Chamberlain process verifying its tokens needs
CHAMBERLAIN_OIDC_ALLOW_HTTP=1 (see chamberlain.ops.oidc).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/keys"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: Any

    @classmethod
    def generate(cls, alg: str = "RS256", kid: str | None = None) -> SigningKey:
        if alg.startswith("RS"):
            private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        else:
            raise ValueError(alg)
        return cls(kid or uuid.uuid4().hex[:12], alg, private)

    def jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.alg.startswith("RS") else ECAlgorithm
        public = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", "alg": self.alg}


@dataclass
class Issuer:
    """Start with `start()` (or `with Issuer() as issuer:`); `url` is its `iss`."""

    path: str = ""
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.generate()])
    #: Requests served, by path (to observe caching).
    hits: Counter[str] = field(default_factory=Counter)
    #: Answer every request with this status instead (e.g. 500) when set.
    fail_with: int | None = None
    #: Serve this JWKS document instead of the keys' (e.g. nonsense).
    jwks_override: Any = None
    _server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ serving

    def start(self) -> Issuer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.hits[self.path] += 1
                if issuer.fail_with is not None:
                    self._send(issuer.fail_with, {"error": "unavailable"})
                elif self.path == issuer.path + DISCOVERY_PATH:
                    self._send(200, issuer.discovery())
                elif self.path == issuer.path + JWKS_PATH:
                    body = issuer.jwks_override
                    self._send(200, body if body is not None else issuer.jwks())
                else:
                    self._send(404, {"error": "not found"})

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Issuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "issuer not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The issuer identifier (`iss`), http://127.0.0.1:PORT[/path]."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def provider_url(self) -> str:
        """The same issuer as IAM's CreateOpenIDConnectProvider takes it (https only)."""
        return f"https://127.0.0.1:{self.port}{self.path}"

    @property
    def host_path(self) -> str:
        """The provider's URL without scheme: its ARN suffix and condition-key prefix."""
        return f"127.0.0.1:{self.port}{self.path}"

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": self.url + JWKS_PATH,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": sorted({k.alg for k in self.keys}),
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk() for k in self.keys]}

    # ------------------------------------------------------------------ tokens

    def rotate(self, alg: str = "RS256") -> SigningKey:
        """Publish a new key (alongside the old ones) and return it."""
        key = SigningKey.generate(alg)
        self.keys.append(key)
        return key

    def mint(
        self,
        *,
        sub: str = "user-0001",
        aud: str | list[str] = "client-1",
        now: dt.datetime | None = None,
        lifetime: dt.timedelta = dt.timedelta(hours=1),
        key: SigningKey | None = None,
        kid: str | None = None,
        iss: str | None = None,
        **claims: Any,
    ) -> str:
        """A signed ID token; `claims` add to or (with None) remove standard claims."""
        moment = now or dt.datetime.now(dt.UTC)
        signer = key or self.keys[0]
        payload: dict[str, Any] = {
            "iss": iss or self.url,
            "sub": sub,
            "aud": aud,
            "iat": int(moment.timestamp()),
            "exp": int((moment + lifetime).timestamp()),
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        headers = {"kid": kid or signer.kid}
        return jwt.encode(payload, signer.private, algorithm=signer.alg, headers=headers)
