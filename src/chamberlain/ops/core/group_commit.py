"""Group commit: small writes that need not hold up their request, batched into one
transaction a few milliseconds later.

What goes through it: the audit events of read-only calls (GetUser, GetCallerIdentity,
...; their own unit of work is read-only) and an access key's last-used data noted while
authenticating such a call. A request hands its job over and answers at once; the
writer thread commits every job handed over within `max_delay` in one transaction, so
one fsync serves them all instead of one each.

Batched items: `submit_item(accounts, runner, item)` hands over data rather than a
job; each batch calls `runner(uow, items)` once with all of its items, so a runner can
write them with a few statements (the audit trail appends a batch's events with one
read of each chain's head and two multi-row inserts). Items are built by the request
thread (records serialized, index rows computed), so the transaction holds its locks
only for the statements.

Ordering: jobs run in the order they were submitted, then each runner (in the order of
its first item) with its items in submission order, in one transaction that first
takes the locks of every account they name (sorted, as dispatch does), so an account's
audit chain grows in submission order and interleaves correctly with writes from other
requests and nodes (each batch reads the chain's head under the account lock).

Durability: a job is on disk once the batch commits (within `max_delay` plus one
commit); `flush()` waits for that, and `close()` flushes at shutdown. A process that is
killed (SIGKILL, power loss) loses the jobs of at most the last few milliseconds: the
trail then lacks those read-only events, and the chain stays valid (it never had them).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chamberlain.store.api import Store, UnitOfWork

log = logging.getLogger("chamberlain.group_commit")

Job = Callable[[UnitOfWork], object]
#: Writes a batch's items (submit_item): all of them, in order, in the given unit of work.
Runner = Callable[[UnitOfWork, Sequence[Any]], object]


@dataclass(frozen=True)
class _Entry:
    accounts: tuple[str, ...]
    job: Job | None = None
    runner: Runner | None = None
    item: object = None


class GroupCommit:
    """A background writer: `submit` jobs, each run once in a batch transaction."""

    def __init__(self, store: Store, *, max_delay: float = 0.004, max_batch: int = 512) -> None:
        self._store = store
        self._max_delay = max_delay
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._pending: list[_Entry] = []
        self._submitted = 0  # jobs handed over so far
        self._done = 0  # jobs committed (or given up on) so far
        self._closed = False
        self._thread: threading.Thread | None = None
        self._atexit = False
        self.lost = 0  # jobs that failed even on their own (logged)

    def submit(self, accounts: Iterable[str], job: Job) -> None:
        """Run `job(uow)` soon, in a writing unit of work holding `accounts`' locks."""
        self._enqueue(_Entry(tuple(accounts), job=job))

    def submit_item(self, accounts: Iterable[str], runner: Runner, item: object) -> None:
        """Hand `item` to `runner` soon: `runner(uow, items)` runs once per batch with
        every item handed to it, in a writing unit of work holding `accounts`' locks."""
        self._enqueue(_Entry(tuple(accounts), runner=runner, item=item))

    def _enqueue(self, entry: _Entry) -> None:
        with self._cond:
            if self._thread is None:  # the first job, or the first since close()
                self._closed = False
                self._thread = threading.Thread(
                    target=self._run, name="chamberlain-group-commit", daemon=True
                )
                self._thread.start()
                if not self._atexit:
                    atexit.register(self.close)
                    self._atexit = True
            self._pending.append(entry)
            self._submitted += 1
            # The writer waits for a first job (idle), or for a full batch (filling):
            # waking it at every job in between would only send it back to sleep.
            pending = len(self._pending)
            if pending == 1 or pending >= self._max_batch:
                self._cond.notify_all()

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every job submitted before this call is committed; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._submitted
            while self._done < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self) -> None:
        """Commit what is pending and stop the thread (a later `submit` starts another)."""
        with self._cond:
            thread = self._thread
            if thread is None:
                return
            self._closed = True
            self._cond.notify_all()
        thread.join()

    @property
    def lag(self) -> int:
        """Jobs handed over and not yet committed."""
        with self._cond:
            return self._submitted - self._done

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending and self._closed:
                    self._thread = None  # in the same critical section as the check
                    return
            # Let the batch fill for a few milliseconds (unless it is full or we are closing).
            deadline = time.monotonic() + self._max_delay
            with self._cond:
                while (
                    len(self._pending) < self._max_batch
                    and not self._closed
                    and (left := deadline - time.monotonic()) > 0
                ):
                    self._cond.wait(left)
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
            self._commit(batch)
            with self._cond:
                self._done += len(batch)
                self._cond.notify_all()

    def _commit(self, batch: list[_Entry]) -> None:
        try:
            self._transaction(batch)
            return
        except Exception:
            log.warning("group commit of %d jobs failed; retrying one by one", len(batch))
        for entry in batch:  # one bad job must not take the others with it
            for attempt in range(3):
                try:
                    self._transaction([entry])
                    break
                except Exception:
                    if attempt == 2:
                        self.lost += 1
                        log.exception("a deferred write failed and was dropped")
                    else:
                        time.sleep(0.05 * (attempt + 1))

    def _transaction(self, batch: list[_Entry]) -> None:
        with self._store.unit_of_work() as uow:
            for account in sorted({a for entry in batch for a in entry.accounts}):
                uow.lock_account(account)
            runners: dict[Runner, list[object]] = {}
            for entry in batch:
                if entry.job is not None:
                    entry.job(uow)
                elif entry.runner is not None:
                    runners.setdefault(entry.runner, []).append(entry.item)
            for runner, items in runners.items():
                runner(uow, items)
