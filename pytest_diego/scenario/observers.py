"""What a scenario watches while it runs: event timelines, crash restarts, Diego's metrics, the
router's table, and route probes of the apps.

Everything goes into the scenario's ``measurements`` under Diego's metric names. What the target
has no source for is declared *not measured* with the option that would measure it, so its SLOs
say so instead of failing on "no data". The route checks are cedar's: an app counts as pushed
once it answers on its route.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable

import requests

from pytest_diego.measure import EventFollower, Measurements, MetricsSampler, Periodic, RouteProber, names
from pytest_diego.measure.crash_policy import CrashPolicy
from pytest_diego.pytest_support.diego import Diego
from pytest_diego.pytest_support.workload_api import Workload
from pytest_diego.scenario.waits import sample, wait_until

CLUSTER_METRICS = (*names.LOOP_DURATIONS, *names.CLUSTER_GAUGES)
ROUTE_TABLE_METRICS = (names.ROUTER_ROUTES, names.ROUTER_ENDPOINTS)
NO_METRICS = "no source of Diego's metrics: set --diego-metrics-url"
NO_ROUTE_TABLE = "no router status listener: set --diego-router-status-url"
RETENTION = "RouteRetention"


class Observers:
    """What a scenario shard watches while it runs, stopped on exit:

    - Task and LRP event streams into ``measurements.timelines`` (every shard follows them: the
      milestones carry the BBS's own timestamps, so merged shards count each one once), and into
      ``crash_policy`` when given;
    - with ``metrics``, the leader samples Diego's loop durations and gauges and the router's
      table every ``sample_interval``;
    - with ``hostnames``, route probes of this shard's apps through the router, on a fixed
      timetable of one slot per app every ``probe_interval``; with ``route_retention`` too, the
      share of their endpoints still in the router's table (``RouteRetention``).
    """

    def __init__(self, diego: Diego, workload: Workload, measurements: Measurements, *, events: bool = True,
                 metrics: bool = False, hostnames: Callable[[], Iterable[str]] | None = None,
                 probe_interval: float = 1.0, sample_interval: float = 0.5,
                 crash_policy: CrashPolicy | None = None, route_retention: bool = False) -> None:
        if route_retention and hostnames is None:
            raise ValueError("route_retention watches the routes of hostnames=: give them")
        self.diego, self.workload, self.measurements = diego, workload, measurements
        self.events, self.metrics, self.hostnames = events, metrics, hostnames
        self.probe_interval, self.sample_interval = probe_interval, sample_interval
        self.crash_policy, self.route_retention = crash_policy, route_retention
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Observers:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _start(self) -> None:
        stack = self._stack
        if self.events:
            timelines = self.measurements.timelines
            tasks = EventFollower(self.diego.client().task_events(reconnect=True), timelines)
            lrps = EventFollower(self.diego.client().lrp_instance_events(reconnect=True), timelines,
                                 *([self.crash_policy] if self.crash_policy is not None else []))
            if self.crash_policy is not None:
                stack.callback(self._close_crash_policy, self.crash_policy)
            for follower in (tasks, lrps):
                stack.callback(follower.stop)
                follower.start()
        if self.metrics and self.workload.leader:
            self._start_sampling()
        if self.route_retention and self.hostnames is not None:
            self._start_retention(self.hostnames)
        if self.hostnames is not None:
            prober = RouteProber(self.diego.router_url, self.measurements, self.hostnames,
                                 interval=self.probe_interval, timeout=min(2.0, self.probe_interval))
            stack.callback(prober.stop)
            prober.start()

    def _start_sampling(self) -> None:
        jobs: list[Callable[[], object]] = []
        sources = self.diego.metrics_sources(timeout=2.0)
        if sources:
            sampler = MetricsSampler(sources, self.measurements, timeout=2.0)
            self._stack.callback(sampler.close)
            jobs.append(sampler.sample)
        else:
            self.measurements.not_measured(CLUSTER_METRICS, NO_METRICS)
        table = self.diego.route_table(timeout=2.0)
        if table is not None:
            self._stack.callback(table.close)
            jobs.append(lambda: table.sample(self.measurements))
        else:
            self.measurements.not_measured(ROUTE_TABLE_METRICS, NO_ROUTE_TABLE)
        self._every(self.sample_interval, jobs, "diego-sampler")

    def _start_retention(self, hostnames: Callable[[], Iterable[str]]) -> None:
        """``RouteRetention``: the endpoints of these apps in the router's table over their
        number in the first read, every ``sample_interval`` (each shard watches its own apps,
        so another shard's apps coming or going cannot move it)."""
        table = self.diego.route_table(timeout=2.0)
        if table is None:
            self.measurements.not_measured([RETENTION], NO_ROUTE_TABLE)
            return
        self._stack.callback(table.close)
        before: list[int] = []

        def sample() -> None:
            snapshot = table.read()
            endpoints = sum(app.endpoints for app in snapshot.app_routes(hostnames()).values())
            if not before:
                if endpoints == 0:
                    raise RuntimeError("none of the watched apps is in the router's table yet")
                before.append(endpoints)
            self.measurements.gauge(RETENTION).add(snapshot.taken_at, endpoints / before[0])

        sample()
        self._every(self.sample_interval, [sample], "route-retention")

    def _every(self, interval: float, jobs: list[Callable[[], object]], name: str) -> None:
        if jobs:
            periodic = Periodic(lambda: [job() for job in jobs], interval, name=name)
            self._stack.callback(periodic.stop)
            periodic.start()

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @staticmethod
    def _close_crash_policy(policy: CrashPolicy) -> None:
        """Once the stream stopped (callbacks run last-in first-out): judge what is overdue at
        the moment it stopped, less the time events may take to arrive, never later — a restart
        after the stream stopped cannot be seen, and is not late for it."""
        policy.close(now=time.time() - policy.reorder_allowance)


def routed_instance_guids(router_url: str, hostname: str, requests_count: int,
                          session: requests.Session) -> set[str]:
    """instance_guids that answered ``requests_count`` requests to ``hostname`` through the router
    (each running instance answers with its own; the router round-robins over endpoints)."""
    seen: set[str] = set()
    for _ in range(requests_count):
        try:
            response = session.get(f"{router_url}/", headers={"Host": hostname}, timeout=2.0)
        except requests.RequestException:
            continue
        if response.status_code != 200:
            continue
        try:
            seen.add(str(json.loads(response.content)["instance_guid"]))
        except (ValueError, KeyError, TypeError):
            continue
    return seen


def answers(session: requests.Session, router_url: str, host: str) -> bool:
    """Whether ``host`` answers 200 through the router now."""
    try:
        return session.get(f"{router_url}/", headers={"Host": host}, timeout=2.0).status_code == 200
    except requests.RequestException:
        return False


def wait_routable(router_url: str, hosts: Iterable[str], timeout: float) -> float:
    """Until every host answers 200 through the router (cedar's check after a push)."""
    unrouted = set(hosts)
    with requests.Session() as session:
        def missing() -> str | None:
            unrouted.difference_update({h for h in list(unrouted) if answers(session, router_url, h)})
            if unrouted:
                return f"{len(unrouted)} apps not answering on their route: {sample(unrouted)}"
            return None

        return wait_until("every app answers on its route", missing, timeout)
