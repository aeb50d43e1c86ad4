"""The route emitter's loops: BBS event stream, periodic full sync, periodic re-registration, and
an ordered sender to the router's admin API.

One lock guards the routing table. Events arriving while a sync fetches its snapshot are queued
and applied after the swap (Diego caches them the same way). When the BBS is unreachable the
table is kept and still re-registered, so the router keeps serving; the event stream is
re-subscribed every second, and every (re)subscription triggers a sync to catch up on what
was missed.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from pytest_diego.bbs import BBSClient
from pytest_diego.bbs.errors import BBSClientError
from pytest_diego.cluster.route_emitter.metrics import RouteEmitterMetrics
from pytest_diego.cluster.route_emitter.table import (
    Diff,
    Message,
    RoutingTable,
    desired_from_model,
    instance_from_actual,
)
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger

RESUBSCRIBE_INTERVAL = 1.0  # Diego's event-stream retry
BATCH_SIZE = 1000


class RouterSender:
    """Sends register/unregister batches to the router in the order they were produced.

    A failed send is logged and dropped: the periodic re-registration restores registrations,
    and the router's pruning removes endpoints whose unregistration was lost.
    """

    def __init__(self, admin_url: str, logger: Logger, on_sent: Callable[[int], None]) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.logger = logger
        self._on_sent = on_sent
        self._queue: queue.Queue[tuple[str, list[Message]] | threading.Event | None] = queue.Queue()
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="router-sender", daemon=True)
        self._thread.start()

    def send(self, action: str, messages: list[Message]) -> None:
        for start in range(0, len(messages), BATCH_SIZE):
            self._queue.put((action, messages[start:start + BATCH_SIZE]))

    def send_diff(self, diff: Diff) -> None:
        # Unregister first: a changed endpoint (same key, new message) is only in ``register``.
        self.send("unregister", diff.unregister)
        self.send("register", diff.register)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far was sent (or failed); for tests and shutdown."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _run(self) -> None:
        held: list[tuple[str, list[Message]] | threading.Event | None] = []  # taken, not yet handled
        while True:
            item = held.pop() if held else self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            action, messages = item
            # Coalesce what queued up meanwhile (a burst of events) into one request per action,
            # stopping at the first item of another kind so that the order is kept.
            messages = list(messages)
            while len(messages) < BATCH_SIZE:
                try:
                    following = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(following, tuple) and following[0] == action:
                    messages.extend(following[1])
                else:
                    held.append(following)
                    break
            self._post(action, messages)

    def _post(self, action: str, messages: list[Message]) -> None:
        try:
            response = self._session.post(f"{self.admin_url}/{action}", json=messages, timeout=10)
            response.raise_for_status()
            self._on_sent(len(messages))
        except requests.RequestException as exc:
            self.logger.error(f"emit.{action}-failed", exc, count=len(messages), router=self.admin_url)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        self._session.close()


class RouteEmitter:
    """The routing table kept current from the BBS and registered with the router (module doc)."""

    def __init__(self, client: BBSClient, router_admin_url: str, timing: Timing, logger: Logger,
                 metrics: RouteEmitterMetrics | None = None) -> None:
        self.client = client
        self.timing = timing
        self.logger = logger
        self.metrics = metrics or RouteEmitterMetrics()
        self.table = RoutingTable()
        self.sender = RouterSender(router_admin_url, logger, self.metrics.messages_emitted.inc)
        self._lock = threading.Lock()
        self._syncing = False
        self._pending: list[Any] = []
        self._stop = threading.Event()
        self._sync_requested = threading.Event()
        self._stream: Any = None
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ table changes

    def _emit(self, diff: Diff) -> None:
        """Called with the lock held: update RoutesTotal and queue the messages in order."""
        self.metrics.routes_total.set(self.table.route_count())
        if diff:
            self.metrics.routes_registered.inc(len(diff.register))
            self.metrics.routes_unregistered.inc(len(diff.unregister))
            self.sender.send_diff(diff)

    def handle_event(self, event: Any) -> None:
        with self._lock:
            if self._syncing:
                self._pending.append(event)
                return
            self._emit(self._apply(event))

    def _apply(self, event: Any) -> Diff:
        try:
            return self.table.apply_event(event.type, event.message)
        except ValueError as exc:  # malformed cf-router JSON: skip that DesiredLRP, as Diego does
            self.logger.error("events.invalid-routes", exc, event_type=event.type)
            return Diff()

    def sync(self) -> bool:
        """One full sync (ActualLRPs, then DesiredLRPs, then domains); False if the BBS failed us."""
        started = time.perf_counter()
        session = self.logger.session("sync")
        session.info("starting")
        with self._lock:
            self._syncing = True
        new: RoutingTable | None = None
        try:
            actuals = self.client.actual_lrps()
            desireds = self.client.desired_lrp_routing_infos()
            fresh_domains = self.client.domains()
            new = RoutingTable.from_snapshot(
                _parsed_desired(desireds, session),
                [i for i in map(instance_from_actual, actuals) if i is not None],
            )
        except BBSClientError as exc:
            session.error("failed-fetching-snapshot", exc)
        with self._lock:
            diff = self.table.swap(new, fresh_domains) if new is not None else Diff()
            self._emit(diff)
            for event in self._pending:  # in arrival order, each after the one before
                self._emit(self._apply(event))
            replayed = len(self._pending)
            self._pending.clear()
            self._syncing = False
        duration = time.perf_counter() - started
        if new is None:
            return False
        self.metrics.sync_duration.set(duration)
        session.info("complete", duration=duration, registered=len(diff.register),
                     unregistered=len(diff.unregister), replayed_events=replayed,
                     routes=self.table.route_count())
        return True

    def emit_all(self) -> int:
        """Re-register the whole table (what keeps the router from pruning live endpoints)."""
        with self._lock:
            messages = list(self.table.registrations().values())
            self.sender.send("register", messages)
        self.metrics.routes_synced.inc(len(messages))
        return len(messages)

    # ------------------------------------------------------------------ loops

    def start(self) -> None:
        for target, name in ((self._event_loop, "events"), (self._sync_loop, "sync"),
                             (self._register_loop, "register")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _event_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._stream = self.client.lrp_instance_events()
            except BBSClientError as exc:
                self.logger.error("events.failed-subscribing", exc)
                self._stop.wait(RESUBSCRIBE_INTERVAL)
                continue
            self.logger.info("events.subscribed")
            self._sync_requested.set()
            try:
                for event in self._stream:
                    self.handle_event(event)
            except BBSClientError as exc:
                self.logger.error("events.stream-failed", exc)
            finally:
                self._stream.close()
            if not self._stop.is_set():
                self.logger.info("events.stream-ended")
                self._stop.wait(RESUBSCRIBE_INTERVAL)

    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            self._sync_requested.wait(self.timing.route_sync_interval)
            if self._stop.is_set():
                return
            self._sync_requested.clear()
            self.sync()

    def _register_loop(self) -> None:
        while not self._stop.wait(self.timing.route_register_interval):
            count = self.emit_all()
            self.logger.debug("emit.re-registered", count=count)

    def close(self) -> None:
        self._stop.set()
        self._sync_requested.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        for thread in self._threads:
            thread.join(timeout=5)
        self.sender.close()


def _parsed_desired(desireds: list[Any], session: Any) -> list[Any]:
    """DesiredLRPs as table entries; one with malformed cf-router JSON is logged and skipped."""
    parsed = []
    for desired in desireds:
        try:
            parsed.append(desired_from_model(desired))
        except ValueError as exc:
            session.error("invalid-routes", exc, process_guid=desired.process_guid)
    return parsed
