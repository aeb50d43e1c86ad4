"""The BBS's SQL connection: SQLite (default, no server) or PostgreSQL, migrations, group commit.

One write connection, guarded by a lock, commits in groups: everything that queued up while a
commit was running goes into the next transaction, so a burst of 4000 DesireTask calls costs a
fraction of 4000 commits. A caller is answered only after its commit, so every acknowledged write
survives a SIGKILL (SQLite runs in WAL mode with synchronous=NORMAL: a committed transaction is in
the WAL file before the commit returns).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pytest_diego.cluster.bbs.schema import MIGRATIONS

Op = tuple[str, "tuple[Any, ...] | list[tuple[Any, ...]]"]
"""A statement and its parameters; a list of parameter tuples means executemany."""

_MAX_BATCH = 2000


class StoreError(RuntimeError):
    """The store could not be opened, migrated or written."""


def redact_dsn(dsn: str) -> str:
    """The DSN with its password hidden, for logs and error messages."""
    parts = urlsplit(dsn)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return dsn


class Database:
    """A connection factory for one DSN: ``sqlite:///path`` or ``postgresql://...``."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        if dsn.startswith("sqlite:///"):
            self.dialect = "sqlite"
            # SQLAlchemy's spelling: sqlite:////abs/path.db is absolute, sqlite:///rel.db relative.
            self.path = Path(dsn[len("sqlite:///") :])
        elif dsn.startswith(("postgresql://", "postgres://")):
            self.dialect = "postgres"
        else:
            raise StoreError(
                f"unsupported --db {redact_dsn(dsn)!r}: use sqlite:///path/to/bbs.sqlite3 or "
                "postgresql://user@host:port/dbname"
            )

    def connect(self) -> Any:
        if self.dialect == "sqlite":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
            return conn
        try:
            import psycopg
        except ImportError as e:  # pragma: no cover - depends on the install
            raise StoreError("PostgreSQL needs psycopg: pip install 'pytest-diego[postgres]'") from e
        try:
            return psycopg.connect(self.dsn, autocommit=True)
        except psycopg.Error as e:
            raise StoreError(f"cannot connect to {redact_dsn(self.dsn)}: {e}") from e

    def sql(self, statement: str) -> str:
        """Our statements use ``?`` placeholders; psycopg wants ``%s``."""
        return statement if self.dialect == "sqlite" else statement.replace("?", "%s")

    def migrate(self, conn: Any) -> list[int]:
        """Apply the migrations this store lacks; returns the versions applied."""
        blob = "BLOB" if self.dialect == "sqlite" else "BYTEA"
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}
        applied = []
        for version, statements in MIGRATIONS:
            if version in done:
                continue
            conn.execute("BEGIN")
            try:
                for statement in statements:
                    conn.execute(statement.format(blob=blob))
                conn.execute(
                    self.sql("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"),
                    (version, datetime.now(timezone.utc).isoformat()),
                )
                conn.execute("COMMIT")
            except Exception:
                conn.execute("ROLLBACK")
                raise
            applied.append(version)
        return applied

    def query(self, conn: Any, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return conn.execute(self.sql(statement), params).fetchall()


class _Pending:
    __slots__ = ("after_commit", "done", "error", "ops", "writer")

    def __init__(self, writer: Writer, ops: Sequence[Op], after_commit: Callable[[], None] | None) -> None:
        self.writer = writer
        self.ops = ops
        self.after_commit = after_commit
        self.done = False
        self.error: BaseException | None = None

    def wait(self) -> None:
        """Return once these statements are committed (committing them, and whatever queued up
        behind them, if no other caller is already doing so)."""
        self.writer.flush(self)
        if self.error is not None:
            raise StoreError(f"the store did not commit: {self.error}") from self.error


class Writer:
    """Group commit without a writer thread: changes queue up in order; whoever waits first
    takes the commit lock and commits everything queued so far in one transaction, then runs the
    batch's callbacks in queue order (events go out in the order the changes were made, after
    they are durable). Callers that queued meanwhile wait on the lock and usually find their
    change already committed. Uncontended, a caller commits its own change with no hand-off."""

    def __init__(self, db: Database, conn: Any, on_error: Callable[[BaseException], None]) -> None:
        self._db = db
        self._conn = conn
        self._on_error = on_error
        self._queue: deque[_Pending] = deque()
        self._commit_lock = threading.Lock()
        self._stopped = False
        self.commits = 0

    def submit(self, ops: Sequence[Op], after_commit: Callable[[], None] | None = None) -> _Pending:
        """Queue statements for the next commit. Call under the state lock so that store order
        is the order of the in-memory changes; wait on the result outside it."""
        pending = _Pending(self, ops, after_commit)
        self._queue.append(pending)
        return pending

    def flush(self, pending: _Pending) -> None:
        with self._commit_lock:
            while not pending.done:
                batch = []
                while self._queue and len(batch) < _MAX_BATCH:
                    batch.append(self._queue.popleft())
                self._commit(batch)

    def stop(self) -> None:
        with self._commit_lock:
            self._stopped = True
            with contextlib.suppress(Exception):
                self._conn.close()

    def _commit(self, batch: list[_Pending]) -> None:
        conn, sql = self._conn, self._db.sql
        error: BaseException | None = StoreError("the BBS is stopping") if self._stopped else None
        if error is None:
            try:
                conn.execute("BEGIN")
                for pending in batch:
                    for statement, params in pending.ops:
                        if isinstance(params, list):
                            if params:
                                conn.cursor().executemany(sql(statement), params)
                        else:
                            conn.execute(sql(statement), params)
                conn.execute("COMMIT")
                self.commits += 1
            except Exception as e:
                error = e
                with contextlib.suppress(Exception):
                    conn.execute("ROLLBACK")
                self._on_error(e)
        for pending in batch:
            pending.error = error
            if error is None and pending.after_commit is not None:
                try:
                    pending.after_commit()
                except Exception as e:  # a broken subscriber must not fail the commit
                    self._on_error(e)
            pending.done = True
