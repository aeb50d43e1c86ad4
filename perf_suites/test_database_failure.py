"""Database failure (perf-history.md §3.3–§3.4 "Killing all database VMs", §4.3 steps 3–4): keep
running a lot of stuff despite total failure of the database node.

Both scenarios run two-instance apps whose routes are probed throughout.

- **Killed**: while a burst of Task desires runs (open model, so the load does not slow down when
  the BBS does), SIGKILL the BBS, keep the load going for several convergence ticks, start it
  again. Desires that fail in the outage are counted, not fatal; every desire the BBS
  acknowledged must still be there afterwards (Jepsen's set checker).
- **Wiped**: kill the BBS, wipe its store and start it on an empty one; the leader re-desires
  every app from the workload's own record, the role Cloud Controller's sync played. In 2016 the
  route count fell from about 7.8k to 0.45k here, because the route emitter ignored domain
  freshness.

Metrics recorded besides Diego's (names.py):

- ``LostDesires`` (Gauge): acknowledged Task desires absent after the outage (set checker);
  ``StableDesires`` (Gauge): acknowledged and present.
- ``OutageErrors`` (Gauge): desires that failed (an error or no answer) in this shard's load.
- ``BBSRecoveryDuration`` (Gauge, s): restarting the BBS (the restart included) to every Task
  acknowledged so far present and every desired instance RUNNING.
- ``RepopulateDuration`` (Gauge, s): wiped BBS answering to every app desired again and every
  instance RUNNING.
- ``RouteRetention`` (Gauge): the route emitter's RoutesTotal during the fault over its value
  before (Diego 2016: 0.45k / 7.8k ≈ 0.06).
- ``AppRouteOutage`` (Gauge, s) and ``RouteAvailability`` (Rate): as in the cell failure scenario.
"""

from __future__ import annotations

import threading
import time

import pytest
from _observers import Observers, wait_routable
from _support import (
    cleanup,
    hostname,
    missing_instances,
    routed_at,
    sample,
    seconds,
    timing,
    wait_until,
    with_target_action,
)

from pytest_diego.bbs.errors import BBSClientError, BBSError
from pytest_diego.workload import desired_lrp, task_definition

APPS = 24  # two-instance apps whose routes are probed through the fault
DESIRE_RATE = 20.0  # Task desires per second, all shards together
T = timing()
OUTAGE = 2 * T.convergence_interval  # "for several convergence ticks" (§4.3)
PROBE_INTERVAL = 1.0
# A restarted BBS must serve within STARTUP, cells re-register within a presence TTL, and the
# next convergence tick re-auctions what is missing; PLACEMENT starts it (0 s containers).
STARTUP, PLACEMENT = 5.0, 5.0
RECOVERY_BOUND = STARTUP + T.presence_ttl + T.convergence_interval + PLACEMENT
# load before the kill, and after the restart longer than the outage, so that a BBS that never
# comes back fails DESIRE_SUCCESS below
BEFORE, AFTER = 3.0, OUTAGE + STARTUP + 1.0
# Re-desiring is Cloud Controller's sync (every 30 s in Diego); the shards re-desire at once.
REPOPULATE_BOUND = RECOVERY_BOUND
WIPE_WINDOW = STARTUP + 2 * REPOPULATE_BOUND + 5.0  # every shard probes this long; the fault fits
# Failed desires may only come from the outage: the killed time plus the restart allowance.
LOAD_DURATION = BEFORE + OUTAGE + AFTER
# The Tasks outlive the scenario: a Task that completed would be deleted by convergence 120 s
# (time-scaled) later, and the set checker must not take that for a lost desire.
TASK_SECONDS = round(LOAD_DURATION + 4 * RECOVERY_BOUND + 30)
DESIRE_SUCCESS = f"rate >= {1 - (OUTAGE + STARTUP) / LOAD_DURATION:.3f}"
ROUTES = (f"max < {seconds(3 * PROBE_INTERVAL)}",)  # never two failed probes in a row
# "no routes were lost" after the freshness fix (§3.4); 2016's collapse kept 6%
ROUTE_RETENTION = "min >= 0.9"


def apps(diego, workload, prefix: str, every_shard: bool = False) -> list:
    """This shard's apps (or, with ``every_shard``, all of them)."""
    total = workload.scaled(APPS)
    return [with_target_action(routed_at(desired_lrp(f"{prefix}-{i}", domain=prefix, instances=2),
                                         hostname(diego, f"{prefix}-{i}")))
            for i in (range(total) if every_shard else workload.indices(total))]


def running(bbs, domain: str, guids: set[str]) -> str | None:
    left = [m for m in missing_instances(bbs, domain) if m.split("/")[0] in guids]
    return f"{len(left)} instances not RUNNING: {sample(left)}" if left else None


def record_outage(measurements, hosts: list[str]) -> None:
    outage = measurements.gauge("AppRouteOutage", unit="s")
    for host in hosts:
        outage.add(time.time(), measurements.app_probe(host).longest_outage)


def record_retention(measurements, before: float, since: float) -> None:
    """The lowest RoutesTotal the leader sampled after ``since``, over ``before``."""
    samples = [v for t, v in measurements.gauge("RoutesTotal").samples if t >= since]
    if before > 0 and samples:
        measurements.gauge("RouteRetention").add(time.time(), min(samples) / before)


def routes_before(measurements, workload, since: float) -> float:
    """The route emitter's RoutesTotal in the leader's first sample taken after ``since`` (every
    app routable). An earlier sample may predate the routes: on a warm cluster the apps can run
    and be routable within one sampling interval, and a 0 there would leave nothing to compare."""
    if not workload.leader:
        return 0.0
    gauge = measurements.gauge("RoutesTotal")

    def fresh() -> list[float]:
        return [v for t, v in list(gauge.samples) if t >= since]

    wait_until("a RoutesTotal sample above 0 with every app routable",
               lambda: None if any(fresh()) else f"samples since: {fresh()}", 5.0)
    return next(v for v in fresh() if v > 0)


@pytest.mark.scenario("database node killed during a burst")
@pytest.mark.slo("LostDesires", "value == 0")
@pytest.mark.slo("StableDesires", "min >= 1")
@pytest.mark.slo("OutageErrors", "max >= 1")  # the outage reached the load, which counted it
@pytest.mark.slo("RequestLatency.DesireTask", DESIRE_SUCCESS)
@pytest.mark.slo("BBSRecoveryDuration", f"max < {seconds(RECOVERY_BOUND)}")
@pytest.mark.slo("AppRouteOutage", *ROUTES)
@pytest.mark.slo("RouteRetention", ROUTE_RETENTION)
def test_database_node_killed(diego, bbs, nemesis, workload, measurements):
    domain = "db-killed"
    lrps = apps(diego, workload, domain)
    guids, hosts = {lrp.process_guid for lrp in lrps}, [hostname(diego, lrp.process_guid) for lrp in lrps]
    tasks = measurements.set_check("DesiredTasks")
    attempted: list[str] = []

    def desire(i: int) -> None:
        guid = f"db-task-{i}"
        attempted.append(guid)
        tasks.attempt(guid)
        bbs.desire_task(guid, domain, task_definition(command=f"sleep {TASK_SECONDS}"))
        tasks.acknowledge(guid)

    with cleanup(diego, guids, attempted), Observers(diego, workload, measurements, metrics=True):
        for lrp in lrps:
            bbs.desire_lrp(lrp)
        wait_until("every app RUNNING before the fault", lambda: running(bbs, domain, guids), RECOVERY_BOUND)
        wait_routable(diego.router_url, hosts, RECOVERY_BOUND)
        before = routes_before(measurements, workload, time.time())
        load = threading.Thread(target=lambda: measurements_of(workload.run_open(
            desire, rate=DESIRE_RATE, duration=LOAD_DURATION, late_tolerance=1.0), measurements),
            name="db-load", daemon=True)
        with Observers(diego, workload, measurements, events=False, hostnames=lambda: hosts,
                       probe_interval=PROBE_INTERVAL):
            load.start()
            time.sleep(BEFORE)
            killed_at = time.time()
            nemesis.kill_bbs()
            time.sleep(OUTAGE)
            restarted = time.monotonic()
            nemesis.restart_bbs()

            def recovered() -> str | None:  # while the load goes on
                present = {t.task_guid for t in bbs.tasks(domain=domain)}
                lost = set(tasks.acknowledged) - present
                if lost:
                    return f"{len(lost)} acknowledged Tasks absent: {sample(lost)}"
                return running(bbs, domain, guids)

            wait_until("the cluster recovered from the outage", recovered, 2 * RECOVERY_BOUND)
            measurements.gauge("BBSRecoveryDuration", unit="s").add(time.time(), time.monotonic() - restarted)
            load.join(LOAD_DURATION + 70)  # run_open drains for at most 60 s
            assert not load.is_alive(), "the desire load did not finish"
        record_outage(measurements, hosts)
        if workload.leader:
            record_retention(measurements, before, killed_at)
        tasks.read({t.task_guid for t in bbs.tasks(domain=domain)})
        result = tasks.result()
        measurements.gauge("LostDesires").add(time.time(), len(result.lost))
        measurements.gauge("StableDesires").add(time.time(), len(result.stable))


def measurements_of(result, measurements) -> None:
    """Count the load's failed desires: the outage as the load saw it."""
    measurements.gauge("OutageErrors").add(time.time(), result.failed + result.unfinished)


@pytest.mark.scenario("database node wiped")
@pytest.mark.slo("RepopulateDuration", f"max < {seconds(REPOPULATE_BOUND)}")
@pytest.mark.slo("AppRouteOutage", *ROUTES)  # "running apps stay up" through data loss (§4.1)
@pytest.mark.slo("RouteAvailability", "rate >= 0.99")
@pytest.mark.slo("RouteRetention", ROUTE_RETENTION)
def test_database_node_wiped(diego, bbs, nemesis, workload, measurements):
    """The leader plays Cloud Controller (desires, wipes, re-desires every app, marks the domain
    fresh once every app runs again); every shard probes its share of the apps' routes for the
    same WINDOW, so no shard removes apps another is still probing."""
    domain = "db-wiped"
    everything = apps(diego, workload, domain, every_shard=True)
    mine = [hostname(diego, lrp.process_guid) for lrp in workload.shard(everything)]
    guids = {lrp.process_guid for lrp in everything}
    ttl = int(max(60.0, 10 * REPOPULATE_BOUND))  # seconds; outlives the scenario

    with cleanup(diego, guids if workload.leader else ()), \
            Observers(diego, workload, measurements, metrics=True):
        if workload.leader:
            bbs.upsert_domain(domain, ttl)  # Cloud Controller keeps its domain fresh
            for lrp in everything:
                bbs.desire_lrp(lrp)
        wait_until("every app RUNNING before the fault", lambda: running(bbs, domain, guids), RECOVERY_BOUND)
        wait_routable(diego.router_url, mine, RECOVERY_BOUND)
        before = routes_before(measurements, workload, time.time())
        window_end = time.monotonic() + WIPE_WINDOW
        with Observers(diego, workload, measurements, events=False, hostnames=lambda: mine,
                       probe_interval=PROBE_INTERVAL):
            if workload.leader:
                wiped_at = time.time()
                nemesis.kill_bbs()
                nemesis.wipe_store()
                nemesis.restart_bbs()
                started = time.monotonic()
                for lrp in everything:  # re-desire from the workload's own record: Cloud Controller's sync
                    redesire(bbs, lrp)
                wait_until("every app desired and RUNNING again", lambda: running(bbs, domain, guids),
                           2 * REPOPULATE_BOUND)
                took = time.monotonic() - started
                measurements.gauge("RepopulateDuration", unit="s").add(time.time(), took)
                # The domain turns fresh once the store is whole again. Until then the route emitter
                # must keep every route of the non-fresh domain (the 2016 fix): a route emitter that
                # dropped them on its first sync against the empty store fails RouteRetention. Marking
                # it fresh any earlier would instead race the route emitter's sync against the cells
                # re-creating their ActualLRPs, which measures the timing of this harness, not Diego.
                bbs.upsert_domain(domain, ttl)
            time.sleep(max(0.0, window_end - time.monotonic()))
        record_outage(measurements, mine)
        if workload.leader:
            record_retention(measurements, before, wiped_at)


def redesire(bbs, lrp) -> None:
    """DesireLRP, retrying while the restarted BBS is not yet serving (bounded)."""
    deadline = time.monotonic() + RECOVERY_BOUND
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
