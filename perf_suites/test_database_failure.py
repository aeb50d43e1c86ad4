"""Database failure (docs/diego-facts.md §14.3–§14.4 "Killing all database VMs", §14.6 steps 3–4): keep
running a lot of stuff despite total failure of the database node.

Both scenarios run two-instance apps whose routes are probed throughout, and each shard watches
the router's table for the routes of the apps it owns.

- **Killed**: while a burst of Task desires runs (open model, so the load does not slow down when
  the BBS does), SIGKILL the BBS, keep the load going for several convergence ticks, start it
  again. Desires that fail in the outage are counted, not fatal; every desire the BBS
  acknowledged must still be there afterwards (Jepsen's set checker, judged on every shard's
  desires merged).
- **Wiped**: kill the BBS, wipe its store and start it on an empty one; the leader re-desires
  every app from the workload's own record, the role Cloud Controller's sync played. In 2016 the
  route count fell from about 7.8k to 0.45k here, because the route emitter ignored domain
  freshness.

Metrics recorded besides Diego's (names.py):

- ``DesiredTasks.Lost`` / ``DesiredTasks.Stable`` (set check, merged over the shards):
  acknowledged Task desires absent / present after the outage.
- ``OutageErrors`` (Gauge): desires that failed (an error or no answer) in each shard's load.
- ``BBSRecoveryDuration`` (Gauge, s): restarting the BBS (the restart included) to every Task
  acknowledged so far present and every desired instance RUNNING.
- ``RepopulateDuration`` (Gauge, s): wiped BBS answering to every app desired again and every
  instance RUNNING.
- ``RouteRetention`` (Gauge): per shard, the endpoints of its apps in the router's table over
  their number once every app was routable, sampled through the fault (Diego 2016: 0.45k / 7.8k).
- ``AppRouteOutage`` (Gauge, s) and ``RouteAvailability`` (Rate): as in the cell failure scenario.
"""

from __future__ import annotations

import threading
import time

import pytest

from pytest_diego.bbs.errors import BBSClientError, BBSError
from pytest_diego.measure import define_metric
from pytest_diego.scenario import (
    Observers,
    app,
    cleanup,
    extra,
    hostname,
    missing_instances,
    sample,
    wait_routable,
    wait_until,
    within,
)
from pytest_diego.workload import desired_lrp, task_definition

APPS = 24  # two-instance apps whose routes are probed through the fault
DESIRE_RATE = 20.0  # Task desires per second, all shards together
PROBE_INTERVAL = 1.0
BEFORE = 3.0  # seconds of load before the kill
NO_OUTAGE = f"max == 0 # an outage is two missed probes in a row, {PROBE_INTERVAL:g}s apart"
# "no routes were lost" after the freshness fix (docs/diego-facts.md §14.4); 2016's collapse kept 6%
ROUTE_RETENTION = ("min >= 0.9", "count >= 1")

for _name, _kind, _unit in (("DesiredTasks.Lost", "gauge", ""), ("DesiredTasks.Stable", "gauge", ""),
                            ("OutageErrors", "gauge", ""), ("BBSRecoveryDuration", "gauge", "s"),
                            ("RepopulateDuration", "gauge", "s"), ("RouteRetention", "gauge", ""),
                            ("AppRouteOutage", "gauge", "s")):
    define_metric(_name, _kind, _unit)


def outage(t):
    """How long the BBS stays down: "for several convergence ticks" (docs/diego-facts.md §14.6)."""
    return 2 * t.convergence_interval


def recovery_bound(t):
    """A restarted BBS serves once it holds its Locket lock: the killed one's lock outlives it by
    up to its TTL, then the next try takes it; its process starts; cells re-register within a
    presence TTL; the next convergence tick re-auctions what is missing, which placement starts."""
    return (t.lock_ttl + t.lock_retry_interval + extra(5.0, "BBS start") + t.presence_ttl
            + t.convergence_interval + extra(10.0, "placement and container start"))


def load_duration(t) -> float:
    """Load before the kill, through the outage, and after the restart for longer than the outage,
    so that a BBS that never comes back fails the desire success rate."""
    return BEFORE + outage(t) + outage(t) + 6.0


def desire_success(t) -> str:
    """Failed desires may only come from the outage: the killed time plus the restart."""
    share = 1 - (outage(t) + 5.0) / load_duration(t)
    return f"rate >= {share:.3f} # all but the outage ({outage(t).why}) and a 5s restart"


def apps(diego, workload, prefix: str, every_shard: bool = False) -> list:
    """This shard's apps (or, with ``every_shard``, all of them)."""
    total = workload.scaled(APPS)
    return [app(diego, desired_lrp(f"{prefix}-{i}", domain=prefix, instances=2))
            for i in (range(total) if every_shard else workload.indices(total))]


def running(bbs, domain: str, guids: set[str]) -> str | None:
    left = [m for m in missing_instances(bbs, domain) if m.split("/")[0] in guids]
    return f"{len(left)} instances not RUNNING: {sample(left)}" if left else None


def record_outage(measurements, hosts: list[str]) -> None:
    gauge = measurements.gauge("AppRouteOutage")
    for host in hosts:
        gauge.add(time.time(), measurements.app_probe(host).longest_outage)


@pytest.mark.scenario("database node killed during a burst")
@pytest.mark.slo("DesiredTasks.Lost", "max == 0")
@pytest.mark.slo("DesiredTasks.Stable", "min >= 1")
@pytest.mark.slo("OutageErrors", "min >= 1")  # the outage reached every shard's load, which counted it
@pytest.mark.slo("RequestLatency.DesireTask", desire_success)
@pytest.mark.slo("LoadLatency", "p(99) < 1s")  # each desire from its intended start: no omission
@pytest.mark.slo("LoadStarts", "rate >= 0.99")  # late or dropped starts
@pytest.mark.slo("BBSRecoveryDuration", lambda t: within(recovery_bound(t)))
@pytest.mark.slo("AppRouteOutage", NO_OUTAGE, "count >= 1")
@pytest.mark.slo("RouteRetention", *ROUTE_RETENTION)
def test_database_node_killed(diego, bbs, nemesis, workload, measurements):
    domain = "db-killed"
    lrps = apps(diego, workload, domain)
    guids, hosts = {lrp.process_guid for lrp in lrps}, [hostname(diego, lrp.process_guid) for lrp in lrps]
    tasks = measurements.set_check("DesiredTasks")
    attempted: list[str] = []
    timing = diego.timing
    recovery, duration = recovery_bound(timing), load_duration(timing)
    task_seconds = round(duration + 4 * recovery + 30)  # outlives the scenario (see below)

    def desire(i: int) -> None:
        guid = f"db-task-{i}"
        attempted.append(guid)
        tasks.attempt(guid)
        # the Tasks outlive the scenario: one that completed would be deleted by convergence
        # 120 s (time-scaled) later, and the set checker must not take that for a lost desire
        bbs.desire_task(guid, domain, task_definition(command=f"sleep {task_seconds}"))
        tasks.acknowledge(guid)

    with cleanup(diego, guids, attempted), Observers(diego, workload, measurements, metrics=True):
        for lrp in lrps:
            bbs.desire_lrp(lrp)
        wait_until("every app RUNNING before the fault", lambda: running(bbs, domain, guids), recovery)
        wait_routable(diego.router_url, hosts, recovery)
        workload.barrier("routable")  # every shard's routes are in the table before the kill
        load = threading.Thread(target=lambda: count_errors(workload.run_open(
            desire, rate=DESIRE_RATE, duration=duration, late_tolerance=1.0), measurements),
            name="db-load", daemon=True)
        with Observers(diego, workload, measurements, events=False, hostnames=lambda: hosts,
                       probe_interval=PROBE_INTERVAL, route_retention=True):
            load.start()
            time.sleep(BEFORE)
            nemesis.kill_bbs()
            time.sleep(outage(timing))
            restarted = time.monotonic()
            nemesis.restart_bbs()

            def recovered() -> str | None:  # while the load goes on
                present = {t.task_guid for t in bbs.tasks(domain=domain)}
                lost = set(tasks.acknowledged) - present
                if lost:
                    return f"{len(lost)} acknowledged Tasks absent: {sample(lost)}"
                return running(bbs, domain, guids)

            wait_until("the cluster recovered from the outage", recovered, 2 * recovery)
            measurements.gauge("BBSRecoveryDuration").add(time.time(), time.monotonic() - restarted)
            load.join(duration + 70)  # run_open drains for at most 60 s
            assert not load.is_alive(), "the desire load did not finish"
        record_outage(measurements, hosts)
        tasks.read({t.task_guid for t in bbs.tasks(domain=domain)})
        workload.barrier("judged")  # no shard removes its apps while another still watches


def count_errors(result, measurements) -> None:
    """Count the load's failed desires: the outage as the load saw it."""
    measurements.gauge("OutageErrors").add(time.time(), result.failed + result.unfinished)


@pytest.mark.scenario("database node wiped")
@pytest.mark.slo("RepopulateDuration", lambda t: within(recovery_bound(t)))
@pytest.mark.slo("AppRouteOutage", NO_OUTAGE, "count >= 1")  # "running apps stay up" through data loss
@pytest.mark.slo("RouteAvailability", "rate >= 0.99")
@pytest.mark.slo("RouteRetention", *ROUTE_RETENTION)
def test_database_node_wiped(diego, bbs, nemesis, workload, measurements):
    """The leader plays Cloud Controller (desires, wipes, re-desires every app, marks the domain
    fresh once every app runs again); every shard probes and watches its share of the apps'
    routes until the leader is done, so no shard removes apps another is still probing."""
    domain = "db-wiped"
    everything = apps(diego, workload, domain, every_shard=True)
    mine = [hostname(diego, lrp.process_guid) for lrp in workload.shard(everything)]
    guids = {lrp.process_guid for lrp in everything}
    recovery = recovery_bound(diego.timing)
    ttl = int(max(60.0, 10 * recovery))  # seconds; outlives the scenario

    with cleanup(diego, guids if workload.leader else ()), \
            Observers(diego, workload, measurements, metrics=True):
        if workload.leader:
            bbs.upsert_domain(domain, ttl)  # Cloud Controller keeps its domain fresh
            for lrp in everything:
                bbs.desire_lrp(lrp)
        wait_until("every app RUNNING before the fault", lambda: running(bbs, domain, guids), recovery)
        wait_routable(diego.router_url, mine, recovery)
        workload.barrier("routable")
        with Observers(diego, workload, measurements, events=False, hostnames=lambda: mine,
                       probe_interval=PROBE_INTERVAL, route_retention=True):
            if workload.leader:
                nemesis.kill_bbs()
                nemesis.wipe_store()
                nemesis.restart_bbs()
                started = time.monotonic()
                for lrp in everything:  # re-desire from the workload's own record: Cloud Controller's sync
                    redesire(bbs, lrp, recovery)
                wait_until("every app desired and RUNNING again", lambda: running(bbs, domain, guids),
                           2 * recovery)
                took = time.monotonic() - started
                measurements.gauge("RepopulateDuration").add(time.time(), took)
                # The domain turns fresh once the store is whole again. Until then the route emitter
                # must keep every route of the non-fresh domain (the 2016 fix): a route emitter that
                # dropped them on its first sync against the empty store fails RouteRetention. Marking
                # it fresh any earlier would instead race the route emitter's sync against the cells
                # re-creating their ActualLRPs, which measures the timing of this harness, not Diego.
                bbs.upsert_domain(domain, ttl)
                # one more route emitter sync against the whole store, still watched
                time.sleep(diego.timing.route_sync_interval)
            workload.barrier("repopulated")  # every shard watches until the leader is done
        record_outage(measurements, mine)


def redesire(bbs, lrp, bound: float) -> None:
    """DesireLRP, retrying while the restarted BBS is not yet serving (bounded)."""
    deadline = time.monotonic() + bound
    while True:
        try:
            bbs.desire_lrp(lrp)
            return
        except BBSError as exc:
            if exc.type == "ResourceExists":
                return
            raise
        except BBSClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
