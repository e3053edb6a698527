"""Signed-out sessions, remembered in the database so that every node refuses them.

The session cookie is stateless (`session.py`): deleting it in the browser does not stop
a copy of it. Sign-out therefore records the session's id as revoked, in the store's
table of revoked sessions (`uow.revoked_sessions`: one row per session, kept until the
session would have ended anyway, after which the cookie is refused on its own and the
row may go). Every signed-in request checks its id in the same read-only unit of work
that loads the principal; sign-out writes one row with no account lock and prunes a
bounded batch of expired ones.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from chamberlain.console import session as sessions
from chamberlain.ops.core.context import Services

#: Expired revocations deleted per sign-out, at most.
PRUNE_BATCH = 100


def revoke(services: Services, session: sessions.Session, now: dt.datetime) -> None:
    """Refuse `session` from now on, on every node, until it would have expired."""
    with services.store.unit_of_work() as uow:
        uow.revoked_sessions.revoke(session.sid, sessions.expires(session))
        uow.revoked_sessions.prune(now, limit=PRUNE_BATCH)


class _Revoked(Protocol):
    def is_revoked(self, session_id: str) -> bool: ...


class _Reading(Protocol):
    """What the check needs of a unit of work (the console does not import the store)."""

    @property
    def revoked_sessions(self) -> _Revoked: ...


def is_revoked(uow: _Reading, sid: str) -> bool:
    return uow.revoked_sessions.is_revoked(sid)
