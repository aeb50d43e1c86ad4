"""Locket's expiration (its "lock pick"): a timer per held resource, restarted by every refresh.

Each successful Lock registers the lock's version (key, modified_id, modified_index); the timer
fires ``ttl`` seconds later (x time-scale) and releases the lock only if that version is still
the stored one, i.e. nobody refreshed it meanwhile. A newer registration replaces an older one, so a
lock expires exactly one TTL after its last refresh. On start every stored lock is registered with
a full TTL, as Locket's burglar does, so a restart never expires a lock its holder still refreshes.
Runs on the server's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from pytest_diego.cluster.locket.store import Lock, LockStore
from pytest_diego.locket import models


@dataclass
class _Registration:
    index: int
    timer: asyncio.TimerHandle


class LockPick:
    """Timers for every held resource; ``on_expired(lock, session)`` hears of each expiry."""

    def __init__(self, loop: asyncio.AbstractEventLoop, store: LockStore, time_scale: float,
                 on_expired: Callable[[Lock, str], None]) -> None:
        self._loop = loop
        self._store = store
        self._scale = time_scale
        self._on_expired = on_expired
        self._registrations: dict[tuple[str, str], _Registration] = {}
        self.locks_expired = 0
        self.presences_expired = 0

    def register(self, lock: Lock, session: str) -> None:
        """Expire ``lock`` one TTL from now unless a newer version is registered first."""
        key = (lock.key, lock.modified_id)
        current = self._registrations.get(key)
        if current is not None:
            if current.index >= lock.modified_index:
                return
            current.timer.cancel()
        timer = self._loop.call_later(lock.ttl * self._scale, self._expire, lock.key, lock.owner,
                                      lock.modified_id, lock.modified_index, session)
        self._registrations[key] = _Registration(lock.modified_index, timer)

    def forget(self, lock: Lock) -> None:
        """A released lock needs no timer."""
        registration = self._registrations.pop((lock.key, lock.modified_id), None)
        if registration is not None:
            registration.timer.cancel()

    def _expire(self, key: str, owner: str, modified_id: str, index: int, session: str) -> None:
        registration = self._registrations.get((key, modified_id))
        if registration is not None and registration.index == index:
            del self._registrations[(key, modified_id)]
        expired = self._store.release_if_unchanged(key, owner, modified_id, index)
        if expired is None:
            return
        if expired.type == models.PRESENCE_TYPE:
            self.presences_expired += 1
        else:
            self.locks_expired += 1
        self._on_expired(expired, session)

    def close(self) -> None:
        for registration in self._registrations.values():
            registration.timer.cancel()
        self._registrations.clear()
