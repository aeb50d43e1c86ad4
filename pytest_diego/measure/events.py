"""Following BBS event streams into timelines on a background thread.

``EventFollower(client.task_events(), measurements.timelines).start()`` records every event's
milestone until ``stop()``, which closes the stream (unblocking the read) and joins the thread.
A stream that ends or fails stops the follower; the error is kept in ``error`` for the report.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol

from pytest_diego.measure.timeline import Timelines


class Stream(Protocol):
    def __iter__(self) -> Iterator[Any]: ...
    def close(self) -> None: ...


class EventFollower:
    """Consumes one event stream (``.type``/``.message`` events) into ``timelines``."""

    def __init__(self, stream: Stream, timelines: Timelines) -> None:
        self.stream, self.timelines = stream, timelines
        self.events = 0
        self.error: Exception | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="diego-events", daemon=True)

    def start(self) -> EventFollower:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self.stream.close()
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            for event in self.stream:
                self.timelines.observe_event(event, time.time())
                self.events += 1
        except Exception as e:  # a stream closed by stop() may raise; anything else is reported
            if not self._stopping.is_set():
                self.error = e
