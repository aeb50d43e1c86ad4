"""What a perf scenario watches while it runs: event timelines, Diego's metrics, route probes.

Everything recorded goes into the scenario's ``measurements`` under Diego's metric names; the
route checks here are cedar's (an app counts as pushed once it answers on its route).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from typing import Any

import requests
from _support import sample, wait_until

from pytest_diego.measure import EventFollower, Measurements, MetricsSampler, Periodic, RouteProber
from pytest_diego.measure.routes import sample_route_table


class Observers:
    """What a scenario shard watches while it runs, stopped on exit:

    - Task and LRP event streams into ``measurements.timelines`` (every shard follows them: the
      milestones carry the BBS's own timestamps, so merged shards count each one once);
    - the leader samples Diego's loop durations and gauges from every ``/metrics`` endpoint, and
      on the embedded cluster the router's table (``RouterEndpoints``);
    - route probes of this shard's app hostnames through the router, every ``probe_interval``.
    """

    def __init__(self, diego: Any, workload: Any, measurements: Measurements, *, events: bool = True,
                 metrics: bool = False, hostnames: Callable[[], Iterable[str]] | None = None,
                 probe_interval: float = 1.0, sample_interval: float = 0.5) -> None:
        self.diego, self.workload, self.measurements = diego, workload, measurements
        self.events, self.metrics, self.hostnames = events, metrics, hostnames
        self.probe_interval, self.sample_interval = probe_interval, sample_interval
        self._stack = contextlib.ExitStack()
        self.sampler: MetricsSampler | None = None
        self.prober: RouteProber | None = None

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
            for stream in (self.diego.client().task_events(reconnect=True),
                           self.diego.client().lrp_instance_events(reconnect=True)):
                follower = EventFollower(stream, self.measurements.timelines).start()
                stack.callback(follower.stop)
        if self.metrics and self.workload.leader:
            urls = list(self.diego.metrics_urls.values())
            self.sampler = MetricsSampler(urls, self.measurements, timeout=2.0)
            stack.callback(self.sampler.close)
            jobs = [self.sampler.sample]
            if self.diego.embedded:
                session = requests.Session()
                stack.callback(session.close)
                admin = self.diego.cluster.router_admin_url
                jobs.append(lambda: sample_route_table(session, admin, self.measurements, timeout=2.0))
            periodic = Periodic(lambda: [job() for job in jobs], self.sample_interval,
                                name="perf-sampler").start()
            stack.callback(periodic.stop)
        if self.hostnames is not None:
            self.prober = RouteProber(self.diego.router_url, self.measurements, self.hostnames,
                                      timeout=2.0, concurrency=8)
            stack.callback(self.prober.close)
            periodic = Periodic(self.prober.probe_all, self.probe_interval, name="perf-prober").start()
            stack.callback(periodic.stop)

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


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
