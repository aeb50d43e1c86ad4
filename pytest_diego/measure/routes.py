"""Routes: the router's table size over time, and arborist-style probes of every app route.

``RouteProber`` requests every app hostname through the router (``GET {router_url}/`` with the
``Host`` header) each round. Like arborist, any answer but 200 is a failure. Per app it keeps
successes, failures by type and the longest outage (first failure to the next success, or to
the end); overall, ``RouteAvailability`` (a Rate) is the availability ratio and
``RouteProbeLatency`` the probes' latency. ``sample_route_table`` reads the router's admin
``GET /routes`` (gorouter's ``{"host": [endpoints]}``) into ``RouterRoutes`` and
``RouterEndpoints``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from pytest_diego.measure import names
from pytest_diego.measure.http import EndpointError, get

if TYPE_CHECKING:
    from pytest_diego.measure.measurements import Measurements


@dataclass
class AppProbe:
    """One app route's probe record (arborist's TotalRequests/Successful/Failed, plus outages)."""

    ok: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    longest_outage: float = 0.0
    outage_started: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, t: float, outcome: str) -> None:
        with self._lock:
            if outcome == "ok":
                self.ok += 1
                if self.outage_started is not None:
                    self.longest_outage = max(self.longest_outage, t - self.outage_started)
                    self.outage_started = None
            else:
                self.failed += 1
                self.failures[outcome] = self.failures.get(outcome, 0) + 1
                if self.outage_started is None:
                    self.outage_started = t

    def close(self, t: float) -> None:
        """End the run at ``t``: an outage still open counts up to ``t``."""
        with self._lock:
            if self.outage_started is not None:
                self.longest_outage = max(self.longest_outage, t - self.outage_started)
                self.outage_started = None

    @property
    def total(self) -> int:
        return self.ok + self.failed

    def merge(self, other: AppProbe) -> AppProbe:
        self.ok += other.ok
        self.failed += other.failed
        for name, n in other.failures.items():
            self.failures[name] = self.failures.get(name, 0) + n
        self.longest_outage = max(self.longest_outage, other.longest_outage)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "failed": self.failed, "failures": dict(sorted(self.failures.items())),
                "longest_outage": self.longest_outage}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AppProbe:
        return cls(int(data["ok"]), int(data["failed"]), dict(data["failures"]),
                   float(data["longest_outage"]))


class RouteProber:
    """Probes app hostnames through the router and records into ``measurements``."""

    def __init__(self, router_url: str, measurements: Measurements,
                 hostnames: Iterable[str] | Callable[[], Iterable[str]], timeout: float = 5.0,
                 concurrency: int = 8, verify: bool | str = True) -> None:
        self.router_url = router_url.rstrip("/")
        self.measurements = measurements
        self._hostnames = hostnames if callable(hostnames) else list(hostnames)
        self.timeout, self.concurrency, self.verify = timeout, concurrency, verify
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=concurrency)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def hostnames(self) -> list[str]:
        return list(self._hostnames() if callable(self._hostnames) else self._hostnames)

    def probe(self, hostname: str) -> str:
        """Request one app through the router; record and return the outcome."""
        started = time.time()
        t0 = time.perf_counter()
        try:
            response, _ = get(self._session, f"{self.router_url}/", self.timeout,
                              headers={"Host": hostname}, allow_redirects=False, verify=self.verify)
            outcome = "ok" if response.status_code == 200 else f"HTTP {response.status_code}"
        except EndpointError as e:
            outcome = e.kind
        elapsed = time.perf_counter() - t0
        ended = started + elapsed
        self.measurements.trend(names.ROUTE_PROBE_LATENCY).record(ended, elapsed, outcome)
        self.measurements.rate(names.ROUTE_AVAILABILITY).add(ended, outcome)
        self.measurements.app_probe(hostname).record(ended, outcome)
        return outcome

    def probe_all(self) -> None:
        """One round: every app route once, ``concurrency`` at a time."""
        hosts = self.hostnames()
        if self.concurrency <= 1 or len(hosts) <= 1:
            for host in hosts:
                self.probe(host)
            return
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="route-probe") as pool:
            list(pool.map(self.probe, hosts))

    def close(self) -> None:
        """Close open outages at the current time (call when the probing ends)."""
        now = time.time()
        for app in self.measurements.probes.values():
            app.close(now)
        self._session.close()


def sample_route_table(session: requests.Session, router_admin_url: str, measurements: Measurements,
                       timeout: float = 5.0, auth: tuple[str, str] | None = None) -> int:
    """Read the router's table once into ``RouterRoutes``/``RouterEndpoints``; hostnames."""
    url = f"{router_admin_url.rstrip('/')}/routes"
    response, body = get(session, url, timeout, auth=auth)
    if response.status_code != 200:
        raise EndpointError(f"{url} answered HTTP {response.status_code}; is it the router's "
                            "admin listener (and are the credentials right)?")
    try:
        table = json.loads(body)
        endpoints = sum(len(v) for v in table.values())
    except (ValueError, AttributeError, TypeError) as e:
        raise EndpointError(f"{url} did not return gorouter's route table "
                            '{"host": [endpoints...]}: ' + f"{body[:80]!r}") from e
    now = time.time()
    measurements.gauge(names.ROUTER_ROUTES).add(now, len(table))
    measurements.gauge(names.ROUTER_ENDPOINTS).add(now, endpoints)
    return len(table)
