"""Following BBS event streams on a background thread, into timelines and event oracles.

``EventFollower(client.lrp_instance_events(), measurements.timelines, crash_oracle).start()``
hands every event, in stream order, to each observer's ``observe_event(event, received_at)``
until ``stop()``, which closes the stream (unblocking the read) and joins the thread. A stream
that ends or fails stops the follower; the error is kept in ``error`` for the report.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol


class Stream(Protocol):
    def __iter__(self) -> Iterator[Any]: ...
    def close(self) -> None: ...


class EventObserver(Protocol):
    """Anything fed decoded BBS events (``.type``/``.message``): ``Timelines``, ``CrashPolicy``."""

    def observe_event(self, event: Any, received_at: float | None = None) -> None: ...


class EventFollower:
    """Consumes one event stream into every observer, one event at a time."""

    def __init__(self, stream: Stream, *observers: EventObserver) -> None:
        if not observers:
            raise ValueError("EventFollower needs at least one observer (Timelines, CrashPolicy...)")
        self.stream, self.observers = stream, observers
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
                received_at = time.time()
                for observer in self.observers:
                    observer.observe_event(event, received_at)
                self.events += 1
        except Exception as e:  # a stream closed by stop() may raise; anything else is reported
            if not self._stopping.is_set():
                self.error = e
