"""The BBS's SQL connection: SQLite (default, no server) or PostgreSQL, migrations, group commit.

One write connection, guarded by a lock, commits in groups: everything that queued up while a
commit was running goes into the next transaction, so a burst of 4000 DesireTask calls costs a
fraction of 4000 commits. A caller is answered only after its commit, so every acknowledged write
survives a SIGKILL (SQLite runs in WAL mode with synchronous=NORMAL: a committed transaction is in
the WAL file before the commit returns).

When a commit fails (the database server died, its connection broke) the writer is *broken*:
that batch and every change queued after it fail (they were made on top of it), and nothing
commits until ``recover`` adopts a new connection and the state is reloaded from the store
(``recovery.py``), so memory holds exactly what was committed. Changes are numbered as they are
queued; an answer that may have seen a change waits until it is committed (``settle``) and fails
if it was not, so no caller learns of a change the store refused.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pytest_diego.cluster.bbs.schema import MIGRATIONS

Op = tuple[str, "tuple[Any, ...] | list[tuple[Any, ...]]"]
"""A statement and its parameters; a list of parameter tuples means executemany."""

_MAX_BATCH = 2000
CONNECT_TIMEOUT = 5
"""Seconds to wait for a PostgreSQL connection (a server that drops packets must not hang the BBS)."""


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
            return psycopg.connect(self.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
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
                    (version, datetime.now(UTC).isoformat()),
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
    __slots__ = ("after_commit", "done", "error", "ops", "seq", "writer")

    def __init__(self, writer: Writer, seq: int, ops: Sequence[Op],
                 after_commit: Callable[[], None] | None) -> None:
        self.writer = writer
        self.seq = seq
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
    change already committed. Uncontended, a caller commits its own change with no hand-off.

    ``submitted`` numbers the changes as they are queued, ``settled`` is the last one whose commit
    succeeded or failed; ``generation`` moves on at every failure and every recovery."""

    def __init__(self, db: Database, conn: Any, on_error: Callable[[BaseException], None]) -> None:
        self._db = db
        self._conn = conn
        self._on_error = on_error
        self._queue: deque[_Pending] = deque()
        self._commit_lock = threading.Lock()
        self._stopped = False
        self.commits = 0
        self.submitted = 0
        self.settled = 0
        self.broken: StoreError | None = None
        """Why nothing commits until ``recover``; None while the store works."""
        self.generation = 0
        self._failures: deque[tuple[int, int]] = deque(maxlen=64)  # (generation, first failed seq)

    def submit(self, ops: Sequence[Op], after_commit: Callable[[], None] | None = None) -> _Pending:
        """Queue statements for the next commit. Call under the state lock so that store order
        is the order of the in-memory changes; wait on the result outside it."""
        self.submitted += 1
        pending = _Pending(self, self.submitted, ops, after_commit)
        self._queue.append(pending)
        return pending

    def flush(self, pending: _Pending) -> None:
        with self._commit_lock:
            while not pending.done:
                self._commit_next()

    # -- answers ----------------------------------------------------------------------------
    def available(self) -> int:
        """The generation to ``settle`` against; StoreError while the store is broken."""
        generation = self.generation
        broken = self.broken
        if broken is not None:
            raise StoreError(str(broken))
        return generation

    def settle(self, seen: int, generation: int) -> None:
        """Return once every change up to number ``seen`` is committed or failed; StoreError if
        one of them failed since ``generation`` (the caller's answer may rest on it)."""
        if self.settled < seen:
            with self._commit_lock:
                while self.settled < seen and self._queue:
                    self._commit_next()
        if self.generation != generation:
            for failed_in, first in tuple(self._failures):  # a copy: a failure may be appended meanwhile
                if failed_in > generation and first <= seen:
                    raise StoreError("the store did not commit a change this answer rests on: "
                                     f"{self.broken or 'it failed'}")

    # -- failure and recovery -----------------------------------------------------------------
    def recover(self, conn: Any, reload: Callable[[Any], None]) -> None:
        """Adopt ``conn`` once the store is back: ``reload`` memory from it (the caller holds the
        state lock), fail whatever was queued on the memory of before, commit again."""
        with self._commit_lock:
            reload(conn)
            left = list(self._queue)
            self._queue.clear()
            cause = self.broken or StoreError("the store was reloaded")
            for pending in left:
                pending.error, pending.done = cause, True
            if left:
                self.settled = left[-1].seq
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = conn
            self.broken = None
            self.generation += 1

    def stop(self) -> None:
        with self._commit_lock:
            self._stopped = True
            with contextlib.suppress(Exception):
                self._conn.close()

    def _commit_next(self) -> None:
        batch: list[_Pending] = []
        while self._queue and len(batch) < _MAX_BATCH:
            batch.append(self._queue.popleft())
        if batch:
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        conn, sql = self._conn, self._db.sql
        error: BaseException | None = StoreError("the BBS is stopping") if self._stopped else self.broken
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
                self._break(e, batch[0].seq)
        for pending in batch:
            pending.error = error
            if error is None and pending.after_commit is not None:
                try:
                    pending.after_commit()
                except Exception as e:  # a broken subscriber must not fail the commit
                    self._on_error(e)
            pending.done = True
        self.settled = batch[-1].seq

    def _break(self, error: BaseException, first_seq: int) -> None:
        """Nothing commits from ``first_seq`` on until ``recover``: later changes rest on this batch."""
        self.broken = StoreError(f"the store is unavailable: {error}")
        self.generation += 1
        self._failures.append((self.generation, first_seq))
        with contextlib.suppress(Exception):
            self._conn.close()
        self._on_error(error)
