"""A cell's presence in Locket, kept as Diego's rep keeps it (``lock.NewPresenceRunner``).

The rep locks a PRESENCE resource keyed by its cell id, its value the ``CellPresence`` as the rep
marshals it, with a TTL of 15 s, and locks it again every 5 s. Its owner is a new GUID per process
start, so a cell restarted after a SIGKILL meets its old presence as another owner's
(``lock-collision``) until that one expires, and keeps trying quietly meanwhile, as Diego's rep
does. A refresh that fails after the presence was held is a lost presence, logged, and the next
attempt takes it again; unlike a lock, a lost presence never stops the rep. ``release`` gives it
up (the rep does when signalled), so the cell is gone from the BBS's cells at once.

Calls block (gRPC), so the cell runs them on a thread of their own: queued behind a burst of BBS
calls a refresh could miss its TTL, and the cell would look lost while it is only busy.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from pytest_diego.bbs import models as bbs_models
from pytest_diego.lager import Logger
from pytest_diego.locket import LocketClient, marshal_cell_presence, models
from pytest_diego.locket.errors import LockCollisionError, LocketClientError


class PresenceKeeper:
    """Registers and refreshes one cell's presence; every method blocks (run it off the loop)."""

    def __init__(self, locket: LocketClient, logger: Logger, *, retry_interval: float,
                 owner: str | None = None) -> None:
        self.locket = locket
        self.owner = owner or str(uuid.uuid4())
        self.retry_interval = retry_interval
        self._logger = logger
        self._value = ""
        self._key = ""
        self.held = False

    def keep(self, presence: bbs_models.CellPresence) -> bool:
        """Lock (or refresh) the presence; True when this cell holds it now."""
        self._key, self._value = presence.cell_id, marshal_cell_presence(presence)
        try:
            self.locket.lock(self._key, self.owner, value=self._value, type_code=models.PRESENCE,
                             ttl_in_seconds=models.DEFAULT_SESSION_TTL, timeout=self.retry_interval,
                             wait_for_ready=True)
        except LocketClientError as e:
            if self.held:
                self._logger.error("locket-lock.lost-lock", e, owner=self.owner)
                self.held = False
            elif not isinstance(e, LockCollisionError):
                self._logger.error("locket-lock.failed-to-acquire-lock", e, owner=self.owner)
            return False
        if not self.held:
            self._logger.info("locket-lock.acquired-lock", owner=self.owner)
            self.held = True
        return True

    def release(self) -> None:
        """Give the presence up, if this cell holds it."""
        if not self._key:
            return
        try:
            self.locket.release(self._key, self.owner)
            self._logger.info("locket-lock.released-lock", owner=self.owner)
        except LocketClientError as e:
            self._logger.error("locket-lock.failed-to-release-lock", e, owner=self.owner)
        self.held = False


class PresenceRefresher:
    """Refreshes every presence of a process's cells, one after another, on a thread of its own
    every ``retry_interval``: never queued behind the cells' BBS calls, nor behind their event
    loop (a cell busy starting hundreds of instances must not look lost because of it)."""

    def __init__(self, retry_interval: float) -> None:
        self.retry_interval = retry_interval
        self._cells: dict[int, tuple[PresenceKeeper, Callable[[], bbs_models.CellPresence]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="presence-refresher", daemon=True)
        self.last_round_seconds = 0.0

    def add(self, keeper: PresenceKeeper, presence: Callable[[], bbs_models.CellPresence]) -> None:
        with self._lock:
            self._cells[id(keeper)] = (keeper, presence)
        if not self._thread.is_alive():
            self._thread.start()

    def remove(self, keeper: PresenceKeeper) -> None:
        with self._lock:
            self._cells.pop(id(keeper), None)

    def _run(self) -> None:
        while not self._stop.wait(max(0.0, self.retry_interval - self.last_round_seconds)):
            began = time.monotonic()
            with self._lock:
                cells = list(self._cells.values())
            for keeper, presence in cells:
                if self._stop.is_set():
                    return
                keeper.keep(presence())
            self.last_round_seconds = time.monotonic() - began

    def stop(self) -> None:
        self._stop.set()
