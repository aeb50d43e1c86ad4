"""Routes: the router's table size over time, and arborist-style probes of every app on a timetable.

``RouteProber`` requests every app hostname through the router (``GET {router_url}/`` with the
``Host`` header) on a fixed timetable: slot k of app h is due at ``start + phase(h) + k·interval``
(the phase, from the hostname, spreads the apps over the interval). A slot is judged exactly once:

- by its answer, if one arrives by the slot's deadline (due time + ``timeout``, ``timeout`` ≤
  ``interval``): like arborist, 200 is ``ok`` and any other answer fails (``HTTP 502``...), as do
  ``ConnectionError`` and ``BadResponse``;
- ``no answer by deadline``, if the probe was sent but nothing came back by then;
- ``not started on time``, if no probe thread was free to send it before its deadline.

So the number of slots judged is fixed by the timetable and the run's length, never by how fast
the router answers: an outage that makes probes hang cannot send fewer probes and read as
higher availability. Threads are bounded: one scheduler and ``concurrency`` probe threads.

Recorded: ``RouteAvailability`` (Rate, one attempt per slot), ``RouteProbeLatency`` (Trend, from
the slot's due time to its answer, so a probe that starts late counts its wait, as in load tests
without coordinated omission; a slot without an answer is recorded at ``timeout``, a lower bound,
with its failure), both at the slot's due time; and per app an ``AppProbe``.

**Outage.** Two missed slots in a row are an outage (one missed slot alone is a failed probe, not
an outage). An outage lasts from the first missed slot's due time to the due time of the next
answered slot (or, at the end of the run, of the slot that would have followed the last one), so
n missed slots in a row are an outage of n·interval. ``AppProbe.longest_outage`` is the longest.

The router's table itself is read by ``RouteTable`` (``route_table.py``).
"""

from __future__ import annotations

import heapq
import itertools
import math
import queue
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from pytest_diego.measure import names
from pytest_diego.measure.http import EndpointError, get

if TYPE_CHECKING:
    from pytest_diego.measure.measurements import Measurements

OK = "ok"
NO_ANSWER = "no answer by deadline"
NOT_STARTED = "not started on time"
OUTAGE_SLOTS = 2  # missed slots in a row that make an outage


@dataclass
class AppProbe:
    """One app route's judged slots, fed in slot order: arborist's counts, plus outages."""

    ok: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    longest_outage: float = 0.0
    outages: int = 0
    _missed: int = field(default=0, repr=False, compare=False)  # missed slots in a row so far
    _missed_since: float = field(default=0.0, repr=False, compare=False)  # the first one's due time
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, due: float, outcome: str) -> None:
        """The next slot (due at ``due``) and its outcome; slots must come in timetable order."""
        with self._lock:
            if outcome == OK:
                self.ok += 1
                self._end_run(due)
            else:
                self.failed += 1
                self.failures[outcome] = self.failures.get(outcome, 0) + 1
                if self._missed == 0:
                    self._missed_since = due
                self._missed += 1

    def close(self, end: float) -> None:
        """End the run at ``end`` (the due time of the slot after the last one): an outage still
        open lasts until then."""
        with self._lock:
            self._end_run(end)

    def _end_run(self, until: float) -> None:
        if self._missed >= OUTAGE_SLOTS:
            self.outages += 1
            self.longest_outage = max(self.longest_outage, until - self._missed_since)
        self._missed = 0

    @property
    def total(self) -> int:
        return self.ok + self.failed

    def merge(self, other: AppProbe) -> AppProbe:
        self.ok += other.ok
        self.failed += other.failed
        for name, n in other.failures.items():
            self.failures[name] = self.failures.get(name, 0) + n
        self.longest_outage = max(self.longest_outage, other.longest_outage)
        self.outages += other.outages
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "failed": self.failed, "failures": dict(sorted(self.failures.items())),
                "longest_outage": self.longest_outage, "outages": self.outages}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AppProbe:
        return cls(int(data["ok"]), int(data["failed"]), dict(data["failures"]),
                   float(data["longest_outage"]), int(data["outages"]))


@dataclass
class _Slot:
    host: str
    k: int
    due: float  # monotonic
    deadline: float
    started: bool = False
    judged: bool = False


@dataclass
class _Timetable:
    """One app's place in the timetable and its judged slots waiting to be folded in order."""

    phase: float
    first_k: int  # its first slot (apps that join later start where the timetable is)
    next_k: int  # the first slot not yet folded into the AppProbe
    last_k: int = -1  # the last slot scheduled
    wanted: bool = True
    chained: bool = True  # whether its next slot is scheduled
    # k -> (due wall time, outcome), or None for a slot while the app was gone (not probed)
    judged: dict[int, tuple[float, str | None]] = field(default_factory=dict)


class RouteProber:
    """Probes app hostnames through the router on a fixed timetable (see the module docstring).

    ``hostnames`` is a list or a callable read again every interval (apps may come and go).
    ``start()`` then ``stop()``, or ``run(duration)``, or ``with RouteProber(...) as prober:``.
    """

    def __init__(self, router_url: str, measurements: Measurements,
                 hostnames: Iterable[str] | Callable[[], Iterable[str]], *, interval: float = 1.0,
                 timeout: float | None = None, concurrency: int = 8, verify: bool | str = True) -> None:
        timeout = interval if timeout is None else timeout
        if not interval > 0:
            raise ValueError(f"probe interval must be > 0 s, got {interval!r}")
        if not 0 < timeout <= interval:
            raise ValueError(f"probe timeout must be > 0 s and at most the interval ({interval:g} s), "
                             f"got {timeout!r}: a slot is judged by its due time + timeout, before "
                             "the next slot of the same app is due")
        if concurrency < 1:
            raise ValueError(f"probe concurrency must be at least 1 thread, got {concurrency!r}")
        self.router_url = router_url.rstrip("/")
        self.measurements = measurements
        self._hostnames = hostnames if callable(hostnames) else list(hostnames)
        self.interval, self.timeout, self.concurrency, self.verify = interval, timeout, concurrency, verify
        self.errors: deque[str] = deque(maxlen=100)  # hostname callable failures
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=concurrency)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, str, Any]] = []
        self._seq = itertools.count()
        self._apps: dict[str, _Timetable] = {}
        self._work: queue.SimpleQueue[_Slot | None] = queue.SimpleQueue()
        self._end: float | None = None  # seconds after the start; slots from there are not run
        self._t0 = self._wall0 = 0.0
        self._started = self._finished = False
        self._scheduler = threading.Thread(target=self._schedule, name="route-probe-timetable",
                                           daemon=True)
        self._workers = [threading.Thread(target=self._probe_slots, name=f"route-probe-{i}", daemon=True)
                         for i in range(concurrency)]

    # -- the run --------------------------------------------------------------------------------
    def phase(self, hostname: str) -> float:
        """The app's offset in the interval (stable per hostname, so shards agree)."""
        return (zlib.crc32(hostname.encode()) % 1000) / 1000 * self.interval

    def start(self) -> RouteProber:
        if self._started:
            raise RuntimeError("a RouteProber runs once: make a new one for another run")
        self._started = True
        self._t0, self._wall0 = time.monotonic(), time.time()
        with self._lock:
            self._refresh(self._t0)
        for worker in self._workers:
            worker.start()
        self._scheduler.start()
        return self

    def stop(self) -> None:
        """Stop probing now: every slot already due is judged, waiting out its deadline (at most
        ``timeout``); slots not yet due are not run, however long the interval; then the open
        outages are closed and the threads joined."""
        with self._lock:
            if self._end is None:
                self._end = time.monotonic() - self._t0
                self._heap = [entry for entry in self._heap if entry[2] == "deadline"]
                heapq.heapify(self._heap)
                for app in self._apps.values():
                    app.chained = False
            self._lock.notify_all()
        self._finish()

    def run(self, duration: float) -> None:
        """Probe for ``duration`` seconds: ``ceil(duration / interval)`` slots per app there from
        the start; returns once each is judged."""
        if not duration > 0:
            raise ValueError(f"probe run duration must be > 0 s, got {duration!r}")
        self.start()
        with self._lock:
            self._end = duration
            self._lock.notify_all()
        self._finish()

    def __enter__(self) -> RouteProber:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        if not self._started:
            self._session.close()
            return
        self._scheduler.join()
        for _ in self._workers:
            self._work.put(None)
        for worker in self._workers:
            worker.join()
        with self._lock:
            for host, app in self._apps.items():
                self._fold(host, app)
                if app.last_k < app.first_k:
                    continue  # joined after the last slot: never probed
                end = self._wall(self._t0 + app.phase + (app.last_k + 1) * self.interval)
                self.measurements.app_probe(host).close(end)
        self._session.close()

    # -- the timetable (scheduler thread) -------------------------------------------------------
    def _in_run(self, k: int) -> bool:
        """Whether slot k's nominal time (start + k·interval) is before the end of the run."""
        return self._end is None or k * self.interval < self._end - 1e-9

    def _wall(self, mono: float) -> float:
        return self._wall0 + (mono - self._t0)

    def _push(self, at: float, kind: str, payload: Any) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), kind, payload))

    def _refresh(self, now: float) -> None:
        """Read the hostnames; new apps join at their next slot, gone apps stop after this one."""
        try:
            hosts = set(self._hostnames() if callable(self._hostnames) else self._hostnames)
        except Exception as e:  # keep probing the apps we have
            self.errors.append(f"reading the hostnames failed: {type(e).__name__}: {e}")
            hosts = {h for h, app in self._apps.items() if app.wanted}
        for host, known in self._apps.items():
            known.wanted = host in hosts
        for host in sorted(hosts):
            app = self._apps.get(host)
            if app is not None and app.chained:
                continue
            phase = self.phase(host)
            k = max(0, math.ceil((now - self._t0 - phase) / self.interval),
                    -1 if app is None else app.last_k + 1)
            if app is None:
                app = self._apps[host] = _Timetable(phase, k, k)
            else:  # back after a while gone: the slots in between are no slots of it
                for gone in range(app.last_k + 1, k):
                    app.judged[gone] = (self._wall(self._t0 + phase + gone * self.interval), None)
                app.chained = True
            self._push(self._t0 + phase + k * self.interval, "due", (host, k))
        self._push(now + self.interval, "refresh", None)

    def _schedule(self) -> None:
        with self._lock:
            while True:
                if not self._heap:
                    return
                at, _, kind, payload = self._heap[0]
                now = time.monotonic()
                if at > now:
                    self._lock.wait(at - now)
                    continue
                heapq.heappop(self._heap)
                if kind == "due":
                    self._due(*payload)
                elif kind == "deadline":
                    slot = payload
                    if not slot.judged:
                        self._judge(slot, NO_ANSWER if slot.started else NOT_STARTED, None)
                elif self._end is None or now - self._t0 < self._end:  # refresh
                    self._refresh(now)

    def _due(self, host: str, k: int) -> None:
        app = self._apps[host]
        if not self._in_run(k) or not app.wanted:
            app.chained = False  # the end of the run, or the app is gone: its chain ends here
            return
        due = self._t0 + app.phase + k * self.interval
        slot = _Slot(host, k, due, due + self.timeout)
        app.last_k = k
        self._work.put(slot)
        self._push(slot.deadline, "deadline", slot)
        self._push(due + self.interval, "due", (host, k + 1))

    # -- probing (probe threads) ----------------------------------------------------------------
    def _probe_slots(self) -> None:
        while (slot := self._work.get()) is not None:
            with self._lock:
                remaining = slot.deadline - time.monotonic()
                if slot.judged:
                    continue
                if remaining <= 0:
                    self._judge(slot, NOT_STARTED, None)
                    continue
                slot.started = True
            outcome = self._probe(slot.host, remaining)
            answered = time.monotonic()
            with self._lock:
                if not slot.judged:
                    late = answered > slot.deadline
                    self._judge(slot, NO_ANSWER if late else outcome, None if late else answered)

    def _probe(self, hostname: str, timeout: float) -> str:
        try:
            response, _ = get(self._session, f"{self.router_url}/", timeout,
                              headers={"Host": hostname}, allow_redirects=False, verify=self.verify)
        except EndpointError as e:
            return NO_ANSWER if e.kind == "Timeout" else e.kind
        return OK if response.status_code == 200 else f"HTTP {response.status_code}"

    # -- judging (with the lock held) -----------------------------------------------------------
    def _judge(self, slot: _Slot, outcome: str, answered: float | None) -> None:
        slot.judged = True
        due = self._wall(slot.due)
        latency = self.timeout if answered is None else answered - slot.due
        self.measurements.trend(names.ROUTE_PROBE_LATENCY).record(due, latency, outcome)
        self.measurements.rate(names.ROUTE_AVAILABILITY).add(due, outcome)
        app = self._apps[slot.host]
        app.judged[slot.k] = (due, outcome)
        self._fold(slot.host, app)

    def _fold(self, host: str, app: _Timetable) -> None:
        """Hand judged slots to the app's AppProbe in slot order (answers arrive out of order)."""
        while app.next_k in app.judged:
            due, outcome = app.judged.pop(app.next_k)
            if outcome is None:
                self.measurements.app_probe(host).close(due)  # an outage cannot span its absence
            else:
                self.measurements.app_probe(host).record(due, outcome)
            app.next_k += 1
