"""``LockRunner``: hold a Locket lock the way Diego's ``lock.NewLockRunner`` does, on a thread.

Lock at once, then again every retry interval (a refresh while held); each attempt waits for
Locket to be reachable for at most one retry interval. A failed attempt after acquiring is a lost
lock; another owner's lock is a collision, retried quietly. ``on_acquired`` and ``on_lost`` run on
the runner's thread, in order. Where Diego's runner makes its process exit on a lost lock (and
monit starts it again, with the same owner, so it takes the lock back at once), this runner calls
``on_lost`` and keeps trying, which is the same to everyone else: the holder stops serving until
it holds the lock again. ``stop`` releases the lock, as Diego's runner does when signalled.
Log messages are Diego's (``locket-lock.acquired-lock``, ``lost-lock``, ``released-lock``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pytest_diego.lager import Logger
from pytest_diego.locket import models
from pytest_diego.locket.client import LocketClient
from pytest_diego.locket.errors import LockCollisionError, LocketClientError


class LockRunner:
    """Acquires and refreshes ``key`` for ``owner`` until stopped."""

    def __init__(self, client: LocketClient, key: str, owner: str, *, ttl_in_seconds: int,
                 retry_interval: float, logger: Logger,
                 on_acquired: Callable[[], None] = lambda: None,
                 on_lost: Callable[[], None] = lambda: None) -> None:
        self.client = client
        self.key = key
        self.owner = owner
        self.ttl_in_seconds = ttl_in_seconds
        self.retry_interval = retry_interval
        self._log = logger.session("locket-lock", lock=key, owner=owner, ttl_in_seconds=ttl_in_seconds)
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self._stop = threading.Event()
        self._held = threading.Event()
        self.acquisitions = 0
        self._thread = threading.Thread(target=self._run, name=f"lock-{key}", daemon=True)

    @property
    def held(self) -> bool:
        return self._held.is_set()

    def wait_held(self, timeout: float | None = None) -> bool:
        return self._held.wait(timeout)

    def start(self) -> LockRunner:
        self._log.info("started")
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._attempt()
            self._stop.wait(self.retry_interval)

    def _attempt(self) -> None:
        try:
            self.client.lock(self.key, self.owner, type_code=models.LOCK, ttl_in_seconds=self.ttl_in_seconds,
                             timeout=self.retry_interval, wait_for_ready=True)
        except LocketClientError as e:
            if self._stop.is_set():
                return
            if self.held:
                self._log.error("lost-lock", e)
                self._held.clear()
                self._on_lost()
            elif not isinstance(e, LockCollisionError):
                self._log.error("failed-to-acquire-lock", e)
            return
        if not self.held and not self._stop.is_set():
            self._log.info("acquired-lock")
            self.acquisitions += 1
            self._held.set()
            try:
                self._on_acquired()
            except Exception as e:  # e.g. its port is taken: try again at the next refresh
                self._log.error("failed-to-use-lock", e)
                self._held.clear()

    def stop(self, release: bool = True) -> None:
        """Stop refreshing; release the lock if held (another holder may take it at once)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.retry_interval + self.client.timeout)
        if release and self.held:
            try:
                self.client.release(self.key, self.owner)
                self._log.info("released-lock")
            except LocketClientError as e:
                self._log.error("failed-to-release-lock", e)
        self._held.clear()
        self._log.info("completed")
