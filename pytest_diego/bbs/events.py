"""BBS event streams: an incremental SSE parser and a closable iterator of decoded events.

The BBS streams Server-Sent Events whose ``data:`` is the standard base64 of the protobuf event
(``bbs:events/event_source.go``). The parser is incremental because events arrive in arbitrary
chunks: a chunk may end mid-line or mid-field, and the stream may stay quiet for minutes.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import Any

import requests
from google.protobuf.message import DecodeError, Message

from pytest_diego.bbs import models
from pytest_diego.bbs.errors import BBSClientError, BBSConnectionError, BBSProtocolError

# Event type name -> payload message (``bbs:models/events.go``, ``docs/diego-facts.md`` §11.5).
EVENT_TYPES: Mapping[str, type[Message]] = MappingProxyType(
    {
        "desired_lrp_created": models.DesiredLRPCreatedEvent,
        "desired_lrp_changed": models.DesiredLRPChangedEvent,
        "desired_lrp_removed": models.DesiredLRPRemovedEvent,
        "actual_lrp_instance_created": models.ActualLRPInstanceCreatedEvent,
        "actual_lrp_instance_changed": models.ActualLRPInstanceChangedEvent,
        "actual_lrp_instance_removed": models.ActualLRPInstanceRemovedEvent,
        "actual_lrp_crashed": models.ActualLRPCrashedEvent,
        "task_created": models.TaskCreatedEvent,
        "task_changed": models.TaskChangedEvent,
        "task_removed": models.TaskRemovedEvent,
        # deprecated ActualLRPGroup-based events of /v1/events.r1
        "actual_lrp_created": models.ActualLRPCreatedEvent,
        "actual_lrp_changed": models.ActualLRPChangedEvent,
        "actual_lrp_removed": models.ActualLRPRemovedEvent,
    }
)

EVENT_NAMES: Mapping[type[Message], str] = MappingProxyType({cls: name for name, cls in EVENT_TYPES.items()})

RECONNECT_INTERVAL = 1.0  # seconds between re-subscriptions, as Diego's client
_READ_SIZE = 65536


@dataclass(frozen=True)
class Event:
    """One decoded BBS event: its SSE ``event:`` name, ``id:`` and protobuf payload."""

    type: str
    id: int
    message: Any  # the models.*Event for ``type``


class SSEParser:
    """Incremental Server-Sent Events parser yielding ``(id, event, data)`` per complete event.

    Lines end in LF or CRLF; a blank line ends an event; ``:`` lines are comments. As in the SSE
    specification, the last ``id`` carries over to later events and multi-line data joins with LF.
    """

    __slots__ = ("_data", "_event", "_id", "_partial")

    def __init__(self) -> None:
        self._partial = b""
        self._id = b""
        self._event = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[tuple[str, str, bytes]]:
        """Consume ``chunk``; return the events it completed, in order."""
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        complete = []
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data:
                    complete.append((self._id.decode(), self._event.decode(), b"\n".join(self._data)))
                self._event = b""
                self._data = []
                continue
            field, _, value = line.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            if field == b"data":
                self._data.append(value)
            elif field == b"event":
                self._event = value
            elif field == b"id":
                self._id = value
            # comments (empty field name) and "retry" are ignored
        return complete


def decode_event(event_id: str, name: str, data: bytes, *, source: str) -> Event:
    """Decode one raw SSE event into an ``Event``; ``source`` names the stream in errors."""
    cls = EVENT_TYPES.get(name)
    if cls is None:
        raise BBSProtocolError(
            f"unknown event type {name!r} (id {event_id}) on {source}; known: {', '.join(EVENT_TYPES)}",
            url=source,
        )
    try:
        message = cls.FromString(base64.b64decode(data, validate=True))
        number = int(event_id) if event_id else 0
    except (binascii.Error, DecodeError, ValueError) as exc:
        raise BBSProtocolError(
            f"event {name!r} (id {event_id!r}) on {source} is not base64 of a {cls.__name__}: {exc}",
            url=source,
        ) from exc
    return Event(name, number, message)


def encode_event(event_id: int, message: Message) -> bytes:
    """The SSE bytes of one event, as the BBS writes them (for servers and tests)."""
    name = EVENT_NAMES[type(message)]
    data = base64.b64encode(message.SerializeToString())
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event_id, name.encode(), data)


class EventStream(Iterator[Event]):
    """Iterator over one BBS event stream; close it (or use ``with``) to end the subscription.

    ``connect`` opens the streaming response (raising ``BBSClientError`` on failure). When the
    stream drops and ``reconnect`` is set, it re-subscribes every second until it succeeds or the
    stream is closed; without ``reconnect`` iteration stops at the end of the stream. ``close()``
    may be called from another thread to unblock a reader.
    """

    def __init__(
        self,
        connect: Callable[[], requests.Response],
        *,
        source: str,
        reconnect: bool = False,
        reconnect_interval: float = RECONNECT_INTERVAL,
    ) -> None:
        self._connect = connect
        self._source = source
        self._reconnect = reconnect
        self._interval = reconnect_interval
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._pending: deque[Event] = deque()
        self._response: requests.Response | None = None
        self._attach(connect())

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def _attach(self, response: requests.Response) -> None:
        raw = response.raw
        self._read = getattr(raw, "read1", None) or raw._fp.read1
        connection = getattr(raw, "_connection", None)
        self._socket: socket.socket | None = getattr(connection, "sock", None)
        self._parser = SSEParser()
        with self._lock:
            self._response = response
            closed = self._closed.is_set()
        if closed:
            response.close()

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> Event:
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._closed.is_set():
                raise StopIteration
            try:
                chunk = self._read(_READ_SIZE)
            except Exception as exc:  # any read failure is a dropped stream
                if self._closed.is_set():
                    raise StopIteration from None
                if not self._reconnect:
                    self.close()
                    raise BBSConnectionError(
                        f"event stream {self._source} dropped: {exc}", url=self._source
                    ) from exc
                chunk = b""
            if chunk:
                for event_id, name, data in self._parser.feed(chunk):
                    self._pending.append(decode_event(event_id, name, data, source=self._source))
                continue
            if not self._reconnect or self._closed.is_set():
                self.close()
                raise StopIteration
            self._resubscribe()

    def _resubscribe(self) -> None:
        self._release()
        while not self._closed.wait(self._interval):
            try:
                response = self._connect()
            except BBSClientError:
                continue
            self._attach(response)
            return

    def _release(self) -> None:
        with self._lock:
            response, self._response = self._response, None
        if response is None:
            return
        if self._socket is not None:
            # unblocks a reader in another thread; SSLSocket.shutdown would drop its TLS state
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._socket, socket.SHUT_RDWR)
        response.close()

    def close(self) -> None:
        """End the subscription; a blocked ``next()`` in another thread returns ``StopIteration``."""
        self._closed.set()
        self._release()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
