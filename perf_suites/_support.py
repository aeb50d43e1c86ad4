"""Steps every perf suite shares: Diego's timing on the target, observers, bounded waits, cleanup.

Kept out of the test modules so each module reads as its scenario: what is desired, which fault
is delivered, which SLOs judge it. Nothing here hides a result: waits fail with what was still
missing, observers record into the scenario's ``measurements`` under Diego's metric names.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import requests

from pytest_diego.bbs import models
from pytest_diego.bbs.errors import BBSClientError, BBSError
from pytest_diego.cluster.timing import Timing
from pytest_diego.measure import EventFollower, Measurements, MetricsSampler, Periodic, RouteProber
from pytest_diego.measure.routes import sample_route_table
from pytest_diego.plugin import SESSION

_CONFIG: list[pytest.Config] = []


def configure(config: pytest.Config) -> None:
    """Remember the run's config (called by conftest) so modules can derive bounds at import."""
    _CONFIG[:] = [config]


def timing() -> Timing:
    """Diego's intervals as the target runs them: the embedded cluster's ``--diego-time-scale``;
    Diego's defaults (scale 1) on a real Diego."""
    if not _CONFIG:
        return Timing(1.0)
    target = _CONFIG[0].stash[SESSION].settings.target
    return Timing(float(getattr(target, "time_scale", 1.0)))


def ini(name: str, default: str) -> str:
    """A perf_suites ini value (``perf_rootfs``...), else ``default``."""
    if not _CONFIG:
        return default
    value = _CONFIG[0].getini(name)
    return str(value) if value else default


def seconds(value: float) -> str:
    """A bound as an SLO literal: ``12.5s``."""
    return f"{value:.3g}s"


# -- waiting ---------------------------------------------------------------------------------------

def wait_until(what: str, missing: Callable[[], str | None], timeout: float, interval: float = 0.25,
               on_poll: Callable[[], None] | None = None) -> float:
    """Poll ``missing()`` (None once done, else what is still missing) until done; return the
    seconds it took. Fails the test after ``timeout`` naming what was still missing."""
    start = time.monotonic()
    last = "nothing observed yet"
    while True:
        try:
            left = missing()
        except (BBSError, BBSClientError) as exc:  # an outage is a reason to keep polling
            left = f"the BBS did not answer: {exc}"
        if left is None:
            return time.monotonic() - start
        last = left
        if on_poll is not None:
            on_poll()
        if time.monotonic() - start > timeout:
            pytest.fail(f"{what}: not done after {timeout:.1f}s; still missing: {last}", pytrace=False)
        time.sleep(interval)


def sample(items: Iterable[str], limit: int = 5) -> str:
    items = sorted(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def instance_key(lrp: models.ActualLRP) -> str:
    return f"{lrp.actual_lrp_key.process_guid}/{lrp.actual_lrp_key.index}"


def describe(lrp: models.ActualLRP) -> str:
    error = f", placement_error={lrp.placement_error!r}" if lrp.placement_error else ""
    cell = lrp.actual_lrp_instance_key.cell_id or "no cell"
    return f"{instance_key(lrp)} ({lrp.state} on {cell}{error})"


def desired_instances(bbs: Any, domain: str) -> dict[str, int]:
    """process_guid -> desired instance count, for every DesiredLRP of ``domain``."""
    infos = bbs.desired_lrp_scheduling_infos(domain=domain)
    return {d.desired_lrp_key.process_guid: d.instances for d in infos}


def missing_instances(bbs: Any, domain: str, exclude: Iterable[str] = (),
                      dead_cells: Iterable[str] = ()) -> list[str]:
    """Every desired instance of ``domain`` (apps in ``exclude`` left out) not RUNNING right now;
    an instance RUNNING on one of ``dead_cells`` is missing too (the BBS may not know yet)."""
    exclude, dead = set(exclude), set(dead_cells)
    wanted = {p: n for p, n in desired_instances(bbs, domain).items() if p not in exclude}
    running: dict[str, set[int]] = {}
    others: dict[str, models.ActualLRP] = {}
    for lrp in bbs.actual_lrps(domain=domain):
        key = lrp.actual_lrp_key
        if (lrp.state == "RUNNING" and lrp.presence == models.ActualLRP.ORDINARY
                and lrp.actual_lrp_instance_key.cell_id not in dead):
            running.setdefault(key.process_guid, set()).add(key.index)
        elif instance_key(lrp) not in others or lrp.presence == models.ActualLRP.ORDINARY:
            others[instance_key(lrp)] = lrp
    missing = []
    for guid, count in wanted.items():
        for index in range(count):
            if index not in running.get(guid, set()):
                lrp = others.get(f"{guid}/{index}")
                missing.append(describe(lrp) if lrp is not None else f"{guid}/{index} (no ActualLRP)")
    return missing


# -- observers -------------------------------------------------------------------------------------

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


# -- cleanup ---------------------------------------------------------------------------------------

def remove_lrps(bbs: Any, process_guids: Iterable[str]) -> None:
    """RemoveDesiredLRP for each; already gone is fine."""
    for guid in process_guids:
        with contextlib.suppress(BBSError):
            bbs.remove_desired_lrp(guid)


def resolve_tasks(bbs: Any, task_guids: Iterable[str], cancel: bool = False) -> None:
    """What a Task's consumer does once it read the result: ResolvingTask then DeleteTask
    (``cancel``: CancelTask first, so a Task still pending or running is completed and removed)."""
    for guid in task_guids:
        if cancel:
            with contextlib.suppress(BBSError):
                bbs.cancel_task(guid)
        with contextlib.suppress(BBSError):
            bbs.resolving_task(guid)
        with contextlib.suppress(BBSError):
            bbs.delete_task(guid)


def actual_count(bbs: Any, domain: str, process_guids: set[str] | None = None) -> int:
    lrps = bbs.actual_lrps(domain=domain)
    return sum(1 for lrp in lrps if process_guids is None or lrp.actual_lrp_key.process_guid in process_guids)


def states(lrps: Iterable[models.ActualLRP]) -> Counter[str]:
    return Counter(lrp.state for lrp in lrps)


@contextlib.contextmanager
def cleanup(diego: Any, process_guids: Iterable[str] = (), task_guids: Iterable[str] = ()) -> Iterator[None]:
    """Whatever happens in the scenario, this shard removes what it desired, so the next scenario
    starts on an empty cluster (the run shares one cluster) and no shard removes another's work."""
    try:
        yield
    finally:
        with contextlib.suppress(BBSError, BBSClientError), diego.client(timeout=10.0) as client:
            remove_lrps(client, process_guids)
            resolve_tasks(client, task_guids, cancel=True)


def soak_duration(default: str) -> str:
    """The fill-capacity hold time: ``--soak-duration``, else ``default``."""
    if not _CONFIG:
        return default
    return str(_CONFIG[0].getoption("soak_duration", None) or default)


# -- the work, with a real Diego's rootfs and commands when configured ----------------------------

def with_target_action(lrp: models.DesiredLRP) -> models.DesiredLRP:
    """A DesiredLRP from the builders, with ``perf_rootfs``/``perf_lrp_command`` applied."""
    rootfs, command = ini("perf_rootfs", ""), ini("perf_lrp_command", "")
    if rootfs:
        lrp.root_fs = rootfs
    if command:
        del lrp.action.run_action.args[:]
        lrp.action.run_action.args.extend(["-c", command])
    return lrp


def burst_task(task_guid: str) -> models.TaskDefinition:
    """fezzik's Task (64 MB / 64 MB, its guid as the result), with the configured rootfs/command."""
    from pytest_diego.workload import fezzik_task_definition

    definition = fezzik_task_definition(task_guid)
    rootfs, command = ini("perf_rootfs", ""), ini("perf_task_command", "")
    if rootfs:
        definition.root_fs = rootfs
    if command:
        del definition.action.run_action.args[:]
        definition.action.run_action.args.extend(["-c", command.replace("{task_guid}", task_guid)])
    return definition


def hostname(diego: Any, process_guid: str) -> str:
    """The app route of ``process_guid`` under the target's apps domain."""
    return f"{process_guid}.{diego.apps_domain}"


def routed_at(lrp: models.DesiredLRP, host: str) -> models.DesiredLRP:
    """``lrp`` with its cf-router route set to ``host`` (the target's apps domain)."""
    from pytest_diego.workload import cf_routes

    port = lrp.ports[0] if lrp.ports else 8080
    lrp.routes.CopyFrom(cf_routes([host], port))
    return lrp


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
