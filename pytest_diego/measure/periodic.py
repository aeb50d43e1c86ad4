"""Run a sampling function every ``interval`` seconds on a thread, bounded in time."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class Periodic:
    """Calls ``fn()`` at ``interval`` until ``stop()`` or ``duration`` seconds have passed.

    Errors from ``fn`` are counted in ``error_count`` and the latest 100 kept in ``errors`` (the
    sampler keeps going: a component down during a fault is something to record, not a reason
    to stop measuring).
    """

    def __init__(self, fn: Callable[[], object], interval: float, duration: float | None = None,
                 name: str = "pytest-diego-sampler") -> None:
        if interval <= 0:
            raise ValueError(f"sampling interval must be positive, got {interval!r}")
        self.fn, self.interval, self.duration = fn, interval, duration
        self.errors: deque[Exception] = deque(maxlen=100)
        self.error_count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Periodic:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def __enter__(self) -> Periodic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        end = None if self.duration is None else time.monotonic() + self.duration
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.fn()
            except Exception as e:  # recorded, reported by the owner
                self.errors.append(e)
                self.error_count += 1
            next_at += self.interval
            now = time.monotonic()
            if end is not None and next_at >= end:
                return
            if next_at < now:  # fell behind: skip missed ticks rather than bursting
                next_at = now
            self._stop.wait(next_at - now)
