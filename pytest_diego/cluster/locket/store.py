"""Locket's ``locks`` table: held resources in memory, kept in a SQLite file like Locket's SQL.

The table has Locket's columns (path, owner, value, type, modified_index, modified_id, ttl). Every
Lock bumps ``modified_index``; ``modified_id`` is a new GUID when a key is (re)created and kept
across refreshes. A row is written before the call that changed it is answered, so a SIGKILL
loses no acknowledged acquisition, value change, release or expiry. A refresh that changes nothing
but the index is not written: the index only guards expiry within one run, and a restarted Locket
gives every stored lock a full TTL anyway (Locket's burglar does the same on start).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pytest_diego.locket import models

SCHEMA = """CREATE TABLE IF NOT EXISTS locks (
    path VARCHAR(255) PRIMARY KEY,
    owner VARCHAR(255),
    value VARCHAR(4096),
    type VARCHAR(255) DEFAULT '',
    modified_index BIGINT DEFAULT 0,
    modified_id VARCHAR(255) DEFAULT '',
    ttl BIGINT DEFAULT 0
)"""
_UPSERT = ("INSERT INTO locks (path, owner, value, type, modified_index, modified_id, ttl) "
           "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET owner = excluded.owner, "
           "value = excluded.value, type = excluded.type, modified_index = excluded.modified_index, "
           "modified_id = excluded.modified_id, ttl = excluded.ttl")


class StoreError(RuntimeError):
    """The lock file could not be opened or written."""


class Refused(Exception):
    """Locket answers this call with one of its statuses (``models.LOCK_COLLISION``, ...)."""

    def __init__(self, status: models.LocketStatus) -> None:
        super().__init__(status.message)
        self.status = status


@dataclass
class Lock:
    """One row of ``locks``."""

    key: str
    owner: str
    value: str
    type: str
    ttl: int
    modified_index: int
    modified_id: str

    def resource(self) -> models.Resource:
        """As Fetch and FetchAll answer: the stored type and the code derived from it."""
        return models.Resource(key=self.key, owner=self.owner, value=self.value, type=self.type,
                               type_code=models.type_code_of(self.type))

    def _row(self) -> tuple[str, str, str, str, int, str, int]:
        return (self.key, self.owner, self.value, self.type, self.modified_index, self.modified_id,
                self.ttl)


class LockStore:
    """Held resources by key. Not thread-safe: the server calls it from its event loop only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(SCHEMA)
            rows = self._db.execute(
                "SELECT path, owner, value, type, ttl, modified_index, modified_id FROM locks "
                "WHERE owner <> '' ORDER BY path").fetchall()
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the Locket store {path}: {e}") from e
        self._locks: dict[str, Lock] = {row[0]: Lock(*row) for row in rows}
        self.active: Counter[str] = Counter(lock.type for lock in self._locks.values())
        """Held resources by type (Locket's Count): ActiveLocks and ActivePresences."""

    def all(self) -> list[Lock]:
        return list(self._locks.values())

    def lock(self, resource: models.Resource, ttl: int) -> tuple[Lock, bool]:
        """Create ``resource`` or refresh it for its owner (Locket's SQLDB.Lock). ``resource`` is
        already normalized. Returns the stored lock and whether it was created."""
        current = self._locks.get(resource.key)
        if current is not None and current.owner not in (resource.owner, ""):
            raise Refused(models.LOCK_COLLISION)
        if current is None:
            lock = Lock(resource.key, resource.owner, resource.value, resource.type, ttl, 1,
                        str(uuid.uuid4()))
            self._write(_UPSERT, lock._row())
            self._locks[lock.key] = lock
            self.active[lock.type] += 1
            return lock, True
        index = current.modified_index + 1
        if (current.owner, current.value, current.type, current.ttl) == (
                resource.owner, resource.value, resource.type, ttl):
            current.modified_index = index
            return current, False
        updated = Lock(current.key, resource.owner, resource.value, resource.type, ttl, index,
                       current.modified_id)
        self._write(_UPSERT, updated._row())
        self._locks[updated.key] = updated
        self.active[current.type] -= 1
        self.active[updated.type] += 1
        return updated, False

    def release(self, key: str, owner: str) -> Lock | None:
        """Delete ``key`` for its owner (Locket's SQLDB.Release); None when nothing held it."""
        current = self._locks.get(key)
        if current is None:
            return None
        if current.owner != owner:
            raise Refused(models.LOCK_COLLISION)
        self._delete(current)
        return current

    def release_if_unchanged(self, key: str, owner: str, modified_id: str,
                             modified_index: int) -> Lock | None:
        """Expire ``key`` if it is still the version registered (Locket's FetchAndRelease): same
        owner, same id, not refreshed since. Returns the expired lock, or None."""
        current = self._locks.get(key)
        if current is None or (current.owner, current.modified_id, current.modified_index) != (
                owner, modified_id, modified_index):
            return None
        self._delete(current)
        return current

    def fetch(self, key: str) -> Lock:
        current = self._locks.get(key)
        if current is None or not current.owner:
            raise Refused(models.RESOURCE_NOT_FOUND)
        return current

    def fetch_all(self, type_name: str) -> list[Lock]:
        return [lock for lock in self._locks.values() if lock.owner and lock.type == type_name]

    def _delete(self, lock: Lock) -> None:
        self._write("DELETE FROM locks WHERE path = ?", (lock.key,))
        del self._locks[lock.key]
        self.active[lock.type] -= 1

    def _write(self, statement: str, params: tuple[object, ...]) -> None:
        try:
            self._db.execute(statement, params)
        except sqlite3.Error as e:
            raise StoreError(f"cannot write the Locket store {self.path}: {e}") from e

    def close(self) -> None:
        self._db.close()
