"""The BBS's SQL connection: SQLite (default, no server) or PostgreSQL, migrations, group commit.

One writer thread owns the only write connection. Request threads hand it their statements and
wait; the writer commits everything that queued up meanwhile in one transaction, so a burst of
4000 DesireTask calls costs a few commits, not 4000. A caller is answered only after its commit,
so every acknowledged write survives a SIGKILL (SQLite runs in WAL mode with synchronous=NORMAL:
a committed transaction is in the WAL file before the writer returns).
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
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
                    (version, "CURRENT_TIMESTAMP"),
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
    __slots__ = ("after_commit", "done", "error", "ops")

    def __init__(self, ops: Sequence[Op], after_commit: Callable[[], None] | None) -> None:
        self.ops = ops
        self.after_commit = after_commit
        self.done = threading.Event()
        self.error: BaseException | None = None

    def wait(self) -> None:
        self.done.wait()
        if self.error is not None:
            raise StoreError(f"the store did not commit: {self.error}") from self.error


class Writer:
    """The single writer thread: group-commits queued statements, then runs their callbacks in
    queue order (so events go out in the order the changes were made, after they are durable)."""

    def __init__(self, db: Database, conn: Any, on_error: Callable[[BaseException], None]) -> None:
        self._db = db
        self._conn = conn
        self._on_error = on_error
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="bbs-store-writer", daemon=True)
        self._stopped = False
        self.commits = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, ops: Sequence[Op], after_commit: Callable[[], None] | None = None) -> _Pending:
        """Queue statements for the next commit. Call under the state lock so that store order
        is the order of the in-memory changes; wait on the result outside it."""
        pending = _Pending(ops, after_commit)
        if self._stopped:
            pending.error = StoreError("the BBS is stopping")
            pending.done.set()
        else:
            self._queue.put(pending)
        return pending

    def stop(self) -> None:
        self._stopped = True
        self._queue.put(None)
        self._thread.join(timeout=10)
        with contextlib.suppress(Exception):
            self._conn.close()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < _MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        conn, sql = self._conn, self._db.sql
        error: BaseException | None = None
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
                except Exception as e:  # a broken subscriber must not stop the writer
                    self._on_error(e)
            pending.done.set()
