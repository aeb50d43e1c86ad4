"""The SSE event hub behind /v1/events/lrp_instances.r1 and /v1/events/tasks.r1.

Events are encoded as Diego encodes them: ``id:`` an integer counting up per stream from 0,
``event:`` Diego's event name, ``data:`` the standard base64 of the protobuf event message. A
subscription for one cell sees only that cell's ActualLRP/Task events (DesiredLRP events go to
every subscriber, as in Diego).
"""

from __future__ import annotations

import base64
import threading
from collections import deque

from pytest_diego.cluster.bbs.state import Event

MAX_BACKLOG = 200_000
"""Events a subscriber may fall behind by before it is dropped, so one stuck reader cannot
exhaust the BBS's memory. Diego's hub drops slow subscribers too."""


class Subscriber:
    """One open event stream: a queue of (name, base64 data) waiting to be written."""

    def __init__(self, stream: str, cell_id: str) -> None:
        self.stream = stream
        self.cell_id = cell_id
        self._cond = threading.Condition()
        self._items: deque[tuple[str, str]] = deque()
        self.closed = False
        self.next_id = 0

    def offer(self, name: str, data: str) -> None:
        with self._cond:
            if self.closed:
                return
            if len(self._items) >= MAX_BACKLOG:
                self.closed = True
            else:
                self._items.append((name, data))
            self._cond.notify()

    def take(self, timeout: float) -> list[tuple[str, str]] | None:
        """Waiting events (possibly none after ``timeout``); None once the stream is closed."""
        with self._cond:
            if not self._items and not self.closed:
                self._cond.wait(timeout)
            if self.closed and not self._items:
                return None
            items = list(self._items)
            self._items.clear()
            return items

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def frame(self, name: str, data: str) -> bytes:
        event_id = self.next_id
        self.next_id += 1
        return f"id: {event_id}\nevent: {name}\ndata: {data}\n\n".encode()


class Hub:
    """Fans committed events out to every matching subscriber, encoding each event once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: list[Subscriber] = []

    def subscribe(self, stream: str, cell_id: str = "") -> Subscriber:
        sub = Subscriber(stream, cell_id)
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        sub.close()
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subs)

    def publish(self, events: list[Event]) -> None:
        with self._lock:
            subs = list(self._subs)
        if not subs:
            return
        for event in events:
            data: str | None = None
            for sub in subs:
                if sub.stream != event.stream:
                    continue
                if sub.cell_id and event.cells is not None and sub.cell_id not in event.cells:
                    continue
                if data is None:
                    data = base64.b64encode(event.message.SerializeToString()).decode("ascii")
                sub.offer(event.name, data)

    def close(self) -> None:
        with self._lock:
            subs, self._subs = self._subs, []
        for sub in subs:
            sub.close()
