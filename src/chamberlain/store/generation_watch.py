"""A node's copy of the generations (store/api.py `UnitOfWork.generation`), so that a
request whose caches are current reads no generation from the database.

The copy learns of changes three ways:

- this process's own commits: the generations a unit of work bumped are recorded as soon
  as it commits, so a change is seen at once by the node that made it;
- the other processes' and nodes' commits, by a follower thread: on SQLite it reads the
  rows changed since its last look every `POLL_S` (each bump numbers its row from one
  sequence, in commit order: SQLite has one writer at a time); on PostgreSQL it listens
  for the notification every bump sends at commit (pg_notify). So another node's change
  is seen within about `POLL_S` (SQLite) or a few milliseconds (PostgreSQL): the bound
  of how long a node may decide on what it cached before a change (the issue asks 1 s);
- reads: a generation read from the database (a scope not seen yet) is kept.

Every generation only grows, so each is merged by taking the larger.

Two rules keep a cache entry from being stamped with a generation newer than the data
read under it (which would keep stale data for good):

- a unit of work takes a *token* (the copy's version) when it begins, and uses an entry
  only if it was last set before that: one set later may be newer than the unit of
  work's snapshot, so the unit of work reads that scope from the database instead;
- the copy is used only while its follower is live, and what units of work read is kept
  only if they began after the follower (re)started (the token's epoch): a change made
  while no follower looked would be missed otherwise. Live means heard from: the
  follower completes a round trip to the database at least every `HEARTBEAT_S`, and the
  copy stops being used `STALE_S` after the last one (a connection that died without a
  word, in a network partition, must not leave the node deciding on an old copy).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

log = logging.getLogger("chamberlain.store")

#: How often the SQLite follower looks for changes (seconds).
POLL_S = 0.05
#: How often the PostgreSQL follower checks its connection (the SQLite one's every look
#: is a round trip), and how long after its last round trip the copy is still used.
HEARTBEAT_S = 0.25
STALE_S = 0.75
#: Scopes kept before the copy starts over (each a few hundred bytes).
MAX_SCOPES = 200_000

Token = tuple[int, int]  # (epoch, version)


class GenerationWatch:
    """The copy: scope -> (generation, version at which it was last set)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, tuple[int, int]] = {}
        self._version = 0
        self._epoch = 0
        self._live = False
        self._heard = 0.0  # time.monotonic() of the follower's last round trip

    def token(self) -> Token | None:
        """What a unit of work takes when it begins; None while no follower is live."""
        if not self._live or time.monotonic() - self._heard > STALE_S:
            return None
        return self._epoch, self._version

    def heard(self) -> None:
        """The follower has just completed a round trip to the database."""
        self._heard = time.monotonic()

    def get(self, scope: str, token: Token) -> int | None:
        """The scope's generation, if known and set before `token` was taken."""
        entry = self._known.get(scope)
        if entry is None or entry[1] > token[1] or token[0] != self._epoch:
            return None
        return entry[0]

    def learned(self, scope: str, generation: int, token: Token) -> None:
        """A generation a unit of work read (that began at `token`)."""
        with self._lock:
            if self._live and token[0] == self._epoch:
                self._merge(((scope, generation),))

    def changed(self, generations: Iterable[tuple[str, int]]) -> None:
        """Generations committed (by this process, or seen by the follower)."""
        with self._lock:
            if self._live:
                self._merge(generations)

    def restart(self, *, live: bool) -> None:
        """Forget everything (the follower (re)started, or stopped: `live` False)."""
        with self._lock:
            self._epoch += 1
            self._known.clear()
            self._live = live
            self._heard = time.monotonic()

    def _merge(self, generations: Iterable[tuple[str, int]]) -> None:
        self._version += 1
        known, version = self._known, self._version
        for scope, generation in generations:
            entry = known.get(scope)
            if entry is None or entry[0] < generation:
                known[scope] = (generation, version)
        if len(known) > MAX_SCOPES:
            self._epoch += 1
            known.clear()


class Follower:
    """A daemon thread that keeps a watch current: `follow(watch, stopped)` runs until
    `stopped` is set, and is started again (after a pause) when it fails."""

    def __init__(
        self, watch: GenerationWatch, follow: Callable[[GenerationWatch, threading.Event], None]
    ) -> None:
        self._watch = watch
        self._follow = follow
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="generation-follower", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._follow(self._watch, self._stopped)
            except Exception:  # the database went away: units of work read it directly
                log.warning("following generation changes failed; retrying", exc_info=True)
            self._watch.restart(live=False)
            self._stopped.wait(1.0)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
