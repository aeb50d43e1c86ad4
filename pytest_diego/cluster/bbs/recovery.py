"""Reconnecting the BBS to its store after a failed commit, without a restart.

Diego's BBS reaches its SQL server through Go's ``database/sql`` pool: while the server is down
every request fails (``UnknownError`` in band, the driver's message), and once it is back the
pool opens new connections and the BBS carries on. Here a failed commit leaves the writer broken
(``db.Writer``); this thread tries a new connection every ``RETRY_INTERVAL`` and, once one
opens, reloads the state from the store under the state lock and hands the writer the connection.
"""

from __future__ import annotations

import threading
from contextlib import suppress

from pytest_diego.cluster.bbs.db import Database, StoreError, Writer
from pytest_diego.cluster.bbs.state import State
from pytest_diego.lager import Logger

RETRY_INTERVAL = 0.5
"""Seconds between reconnection attempts (Diego's BBS retries a transaction on a broken
connection after 500 ms: ``db/sqldb/helpers/transact.go``)."""


class StoreRecovery:
    """Watches the writer; when it is broken, reconnects and reloads."""

    def __init__(self, db: Database, state: State, writer: Writer, logger: Logger,
                 interval: float = RETRY_INTERVAL) -> None:
        self._db = db
        self._state = state
        self._writer = writer
        self._logger = logger
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bbs-store-recovery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            if self._writer.broken is not None:
                self.recover_once()

    def recover_once(self) -> bool:
        """One attempt: True once the store is back and memory holds exactly what it committed."""
        try:
            conn = self._db.connect()
        except StoreError:
            return False
        try:
            with self._state.lock:
                self._writer.recover(conn, lambda c: self._state.reload(self._db, c))
        except Exception as e:  # the server went away again while reloading: try again later
            with suppress(Exception):
                conn.close()
            self._logger.error("store.reload-failed", e)
            return False
        state = self._state
        self._logger.info("store.reconnected", desired_lrps=len(state.desired), tasks=len(state.tasks),
                          actual_lrps=sum(len(v) for v in state.actuals.values()))
        return True
