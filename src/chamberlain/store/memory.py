"""An in-memory store for fast tests: the same contract as the SQL store.

A writing unit of work sees a private copy-on-write view and publishes it on commit,
under one lock, so writers are serialized like SQLite's. Published tables are never
mutated, so a read-only unit of work reads a snapshot without the lock (like SQLite's
readers under WAL, it neither waits for a writer nor sees its uncommitted changes).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from chamberlain.domain import Account
from chamberlain.store.api import Conflict

T = TypeVar("T")
Table = dict[tuple[str, str], Any]  # (account_id, key) -> entity


class _MemoryRepo:
    def __init__(self, table: Table, cls: type, read_only: bool) -> None:
        self._t = table
        self._cls = cls
        self._read_only = read_only

    def _writable(self, entity: Any = None) -> None:
        if entity is not None and type(entity) is not self._cls:
            raise TypeError(f"a {type(entity).__name__} in the {self._cls.__name__} repository")
        if self._read_only:
            raise RuntimeError("write in a read-only unit of work")

    def get(self, account_id: str, key: str) -> Any:
        return self._t.get((account_id, key))

    def add(self, entity: Any) -> None:
        self._writable(entity)
        k = (entity.account_id, entity.key)
        if k in self._t:
            raise Conflict(f"{type(entity).__name__} {entity.key!r} exists")
        self._t[k] = entity

    def put(self, entity: Any) -> None:
        self._writable(entity)
        self._t[(entity.account_id, entity.key)] = entity

    def delete(self, account_id: str, key: str) -> bool:
        self._writable()
        return self._t.pop((account_id, key), None) is not None

    def list(
        self, account_id: str, *, ref: str | None = None, key_prefix: str | None = None
    ) -> list[Any]:
        rows = [
            (k, e)
            for (a, k), e in self._t.items()
            if a == account_id
            and (ref is None or e.ref == ref)
            and (key_prefix is None or k.startswith(key_prefix))
        ]
        return [e for _, e in sorted(rows, key=lambda r: r[0])]

    def count(self, account_id: str, *, ref: str | None = None) -> int:
        return len(self.list(account_id, ref=ref))

    def find(self, key: str) -> Any:
        """The first by account id, as the SQL store answers."""
        hits = sorted(a for (a, k) in self._t if k == key)
        return self._t[(hits[0], key)] if hits else None

    def find_by_ref(self, ref: str) -> list[Any]:
        """Ordered by account id, then key, as the SQL store answers."""
        return [e for _, e in sorted((k, e) for k, e in self._t.items() if e.ref == ref)]


class _MemoryUnitOfWork:
    def __init__(self, tables: dict[type, Table], read_only: bool) -> None:
        self._base = tables
        self.read_only = read_only
        self.tables: dict[type, Table] = {}

    def repo(self, kind: type[T]) -> Any:
        if kind not in self.tables:
            base = self._base.get(kind, {})
            self.tables[kind] = base if self.read_only else dict(base)
        return _MemoryRepo(self.tables[kind], kind, self.read_only)

    def lock_account(self, account_id: str) -> None:
        """Units of work are already serialized; only a writing one may ask."""
        if self.read_only:
            raise RuntimeError("lock_account in a read-only unit of work")


class MemoryStore:
    def __init__(self) -> None:
        self._tables: dict[type, Table] = {}
        self._lock = threading.RLock()

    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[_MemoryUnitOfWork]:
        if read_only:
            yield _MemoryUnitOfWork(self._tables, read_only=True)
            return
        with self._lock:
            uow = _MemoryUnitOfWork(self._tables, read_only=False)
            yield uow
            self._tables = {**self._tables, **uow.tables}

    def accounts(self) -> Iterator[str]:
        return iter(sorted(a for a, _ in self._tables.get(Account, {})))

    def close(self) -> None:
        self._tables = {}

    def describe(self) -> dict[str, Any]:
        return {"dialect": "memory"}
