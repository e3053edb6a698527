"""Signed-out sessions, remembered in the database so that every node refuses them.

The session cookie is stateless (`session.py`): deleting it in the browser does not stop
a copy of it. Sign-out therefore records the session's id as revoked, in the store's
shared table of keyed, expiring rows (`uow.counters`, scope SCOPE: one row per revoked
session, expiring when the session would have ended anyway, after which the cookie is
refused on its own and the row may go). Every signed-in request checks its id in the
same read-only unit of work that loads the principal; sign-out writes one row with no
account lock and prunes a bounded batch of expired ones.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from chamberlain.console import session as sessions
from chamberlain.ops.core.context import Services

SCOPE = "console-signed-out"
#: Expired revocations deleted per sign-out, at most.
PRUNE_BATCH = 100


def revoke(services: Services, session: sessions.Session, now: dt.datetime) -> None:
    """Refuse `session` from now on, on every node, until it would have expired."""
    remaining = max(sessions.expires(session) - now, dt.timedelta(seconds=1))
    with services.store.unit_of_work() as uow:
        uow.counters.hit(SCOPE, session.sid, now, remaining, sliding=False)
        uow.counters.prune(SCOPE, now, limit=PRUNE_BATCH)


class _Rows(Protocol):
    def get(self, scope: str, key: str) -> object | None: ...


class _Reading(Protocol):
    """What the check needs of a unit of work (the console does not import the store)."""

    @property
    def counters(self) -> _Rows: ...


def is_revoked(uow: _Reading, sid: str) -> bool:
    return uow.counters.get(SCOPE, sid) is not None
