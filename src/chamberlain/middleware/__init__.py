"""Protect your own services with Chamberlain: a client for `POST /v1/authorize`
(`client`) and an ASGI middleware for Starlette or FastAPI apps (`asgi`).

This package talks to Chamberlain over HTTP only (like `chamberlain.agent`): it never
imports the server's layers, so an app can use it against any Chamberlain node.
It needs httpx (`pip install httpx`).
"""

from chamberlain.middleware.asgi import ChamberlainMiddleware, Rule
from chamberlain.middleware.client import (
    Answer,
    AsyncAuthorizeClient,
    AuthorizeClient,
    ChamberlainError,
    forwarded_request,
)

__all__ = [
    "Answer",
    "AsyncAuthorizeClient",
    "AuthorizeClient",
    "ChamberlainError",
    "ChamberlainMiddleware",
    "Rule",
    "forwarded_request",
]
