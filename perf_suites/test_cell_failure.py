"""Cell failure (docs/diego-facts.md §14.4 "Killing 10 cells", §14.6 steps 1–2): keep running a lot of
stuff despite partial failure.

Fill the cells with two-instance apps of 1 GB each (the mix's heavy size) until the workload still
fits once 10% of the cells are gone but not once another 10% are: W instances between the
slots of n−2k and n−k cells (k = 10% of n, at least one). Under API load and route probes, SIGKILL
k cells; every missing instance must be RUNNING again within the bound below, and no app may
lose all its routes meanwhile. Then kill k more cells, which leaves less capacity than the
workload needs: the instances that no longer fit must surface placement errors ("insufficient
resources: ...") and nothing worse. The killed cells are started again at the end.

Metrics recorded besides Diego's (names.py):

- ``RecoveryDuration`` (Gauge, s): first kill to every desired instance RUNNING again.
- ``RouteAvailability`` (Rate): probe slots (one per app every PROBE_INTERVAL) of the apps, which
  all have two instances, through the first kill and its recovery.
- ``AppRouteOutage`` (Gauge, s): per app, its longest outage: two or more missed probe slots in a
  row, from the first missed slot to the next answered one. A probe in flight at the kill may
  miss alone; an app that lost all its routes shows an outage.
- ``OverCapacityOutcome`` (Rate): after the second kill, each desired instance: ok when RUNNING
  or UNCLAIMED with an "insufficient resources" placement error, else its state.
- ``PlacementErrors`` (Gauge): instances holding an "insufficient resources" placement error.
- ``OverCapacityRunning`` (Gauge): RUNNING instances over the slots left after the second kill
  (1 = every slot that fits an instance runs one).
"""

from __future__ import annotations

import threading
import time

import pytest

from pytest_diego.bbs import models
from pytest_diego.measure import define_metric
from pytest_diego.scenario import (
    Observers,
    app,
    cleanup,
    desired_instances,
    extra,
    hostname,
    instance_key,
    missing_instances,
    sample,
    wait_routable,
    wait_until,
    within,
)
from pytest_diego.workload import desired_lrp

DOMAIN = "cell-failure"
APP_MEMORY_MB = 1024  # the stress mix's heavy app
KILL_FRACTION = 0.1  # "kill N/10 cells, then another N/10" (docs/diego-facts.md §14.6)
LOAD_RATE = 20.0  # ActualLRPs reads per second, all shards together (Cloud Controller polling)
PROBE_INTERVAL = 1.0
# "Bulk loop durations and BBS latency did not change" (docs/diego-facts.md §14.4): the fill
# scenario's bounds.
REQUEST_LATENCY = "p(99) < 1s"
NO_OUTAGE = f"max == 0 # an outage is two missed probes in a row, {PROBE_INTERVAL:g}s apart"

for _name, _kind, _unit in (("RecoveryDuration", "gauge", "s"), ("AppRouteOutage", "gauge", "s"),
                            ("OverCapacityOutcome", "rate", ""), ("PlacementErrors", "gauge", ""),
                            ("OverCapacityRunning", "gauge", "")):
    define_metric(_name, _kind, _unit)


def recovery_bound(t):
    """A lost cell is noticed once its presence expired (15 s TTL) on the next convergence tick
    (30 s), then its instances are auctioned and started (docs/diego-facts.md §3.4); placement is
    the time to place and start them (Diego's 2016 run with real containers recovered in about 2
    minutes, §14.4)."""
    return t.presence_ttl + t.convergence_interval + extra(10.0, "placement and container start")


def loop_bound(warning: float, interval: str):
    return lambda t: within(min(warning, getattr(t, interval) * 0.5))


@pytest.mark.scenario("cell failure")
@pytest.mark.slo("RecoveryDuration", lambda t: within(recovery_bound(t)))
@pytest.mark.slo("AppRouteOutage", NO_OUTAGE, "count >= 1")
@pytest.mark.slo("RouteAvailability", "rate >= 0.99")  # only probes in flight at the kill may fail
@pytest.mark.slo("OverCapacityOutcome", "rate == 1", "count >= 1")
@pytest.mark.slo("OverCapacityRunning", "min >= 1")
@pytest.mark.slo("PlacementErrors", "min >= 1")
@pytest.mark.slo("RequestLatency", REQUEST_LATENCY, "rate >= 0.999")
@pytest.mark.slo("LoadLatency", "p(99) < 1s")  # the API load from its intended start: no omission
@pytest.mark.slo("LoadStarts", "rate >= 0.99")  # late or dropped starts
@pytest.mark.slo("ConvergenceLRPDuration", loop_bound(10.0, "convergence_interval"))
@pytest.mark.slo("RepBulkSyncDuration", loop_bound(5.0, "rep_poll_interval"))
@pytest.mark.slo("RouteEmitterSyncDuration", loop_bound(5.0, "route_sync_interval"))
@pytest.mark.slo("AuctioneerFetchStatesDuration", "max < 2s")
def test_cell_failure(diego, bbs, nemesis, workload, measurements):
    cells = sorted(bbs.cells(), key=lambda c: c.cell_id)
    k = max(1, round(len(cells) * KILL_FRACTION))
    if len(cells) < 2 * k + 1:
        pytest.skip(f"needs at least {2 * k + 1} cells to kill {k} twice; run with --diego-cells 6")
    per_cell = min(c.capacity.memory_mb for c in cells) // APP_MEMORY_MB
    instances = (per_cell * (len(cells) - k) + per_cell * (len(cells) - 2 * k)) // 2
    guids = [f"cell-failure-{i}" for i in workload.indices(instances // 2)]
    hosts = [hostname(diego, guid) for guid in guids]
    recovery = recovery_bound(diego.timing)
    phase = 2 * recovery  # the first kill's phase: recovery must be over by its end

    with cleanup(diego, guids), Observers(diego, workload, measurements, metrics=True):
        workload.run_closed(lambda i: bbs.desire_lrp(app(diego, heavy_app(f"cell-failure-{i}"))), users=8,
                            iterations=instances // 2)
        wait_until("every instance RUNNING before the fault", lambda: missing(bbs), 2 * recovery + 60)
        wait_routable(diego.router_url, hosts, 2 * recovery + 60)
        workload.barrier("routable")  # every shard's apps answer before the first kill
        with APILoad(bbs, workload, guids, duration=phase + 2 * recovery + 10.0):
            phase_end = time.monotonic() + phase
            # every shard probes its apps' routes through the first kill and its recovery
            with Observers(diego, workload, measurements, events=False, hostnames=lambda: hosts,
                           probe_interval=PROBE_INTERVAL):
                if workload.leader:
                    first = kill_and_recover(bbs, nemesis, workload, measurements, k, phase)
                time.sleep(max(0.0, phase_end - time.monotonic()))
            outage = measurements.gauge("AppRouteOutage")
            for host in hosts:
                outage.add(time.time(), measurements.app_probe(host).longest_outage)
            if workload.leader:
                second = over_capacity(bbs, nemesis, measurements, cells, first, k, per_cell, recovery)
                for cell_id in first + second:
                    nemesis.restart_cell(cell_id)
        if workload.leader:
            wait_until("the restarted cells are present again", lambda: absent(bbs, cells), recovery)
        workload.barrier("judged")  # no shard removes its apps while the capacity is being judged


def heavy_app(guid: str) -> models.DesiredLRP:
    return desired_lrp(guid, domain=DOMAIN, instances=2, memory_mb=APP_MEMORY_MB)


def missing(bbs, dead: list[str] = ()) -> str | None:
    left = missing_instances(bbs, DOMAIN, dead_cells=dead)
    return f"{len(left)} instances not RUNNING: {sample(left)}" if left else None


def absent(bbs, cells: list[models.CellPresence]) -> str | None:
    present = {c.cell_id for c in bbs.cells()}
    gone = [c.cell_id for c in cells if c.cell_id not in present]
    return f"cells not present: {sample(gone)}" if gone else None


class APILoad:
    """ActualLRPs reads of this shard's apps at its share of LOAD_RATE (open model, from each
    read's intended start), on a thread, bounded by ``duration``."""

    def __init__(self, bbs, workload, guids: list[str], duration: float) -> None:
        self.duration = duration
        self.thread = threading.Thread(target=lambda: workload.run_open(
            lambda i: bbs.actual_lrps(domain=DOMAIN, process_guid=guids[i % len(guids)]),
            rate=LOAD_RATE, duration=duration), daemon=True, name="cell-failure-load")

    def __enter__(self) -> APILoad:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(self.duration + 70)  # run_open's own drain bound is 60 s


def kill_and_recover(bbs, nemesis, workload, measurements, k: int, phase: float) -> list[str]:
    """SIGKILL 10% of the cells; time until every desired instance is RUNNING again."""
    killed = nemesis.kill_cells(fraction=KILL_FRACTION)
    assert len(killed) == k
    elapsed = wait_until(f"every instance RUNNING again after killing {', '.join(killed)}",
                         lambda: missing(bbs, killed), phase,
                         on_poll=lambda: workload.status(killed=len(killed)))
    measurements.gauge("RecoveryDuration").add(time.time(), elapsed)
    return killed


def over_capacity(bbs, nemesis, measurements, cells, first: list[str], k: int, per_cell: int,
                  recovery: float) -> list[str]:
    """Kill k more cells; the instances that no longer fit surface placement errors."""
    alive = [c.cell_id for c in cells if c.cell_id not in first]
    second = alive[:k]
    for cell_id in second:
        nemesis.kill_cell(cell_id)
    slots = per_cell * (len(cells) - len(first) - len(second))

    dead = set(first + second)

    def settled() -> str | None:
        ordinary = ordinary_instances(bbs)
        running = sum(1 for lrp in ordinary.values() if lrp is not None and lrp.state == "RUNNING")
        unsettled = [f"{key}: {result}" for key, result in judge(ordinary, dead).items() if result != "ok"]
        if running >= slots and not unsettled:
            return None
        return f"{running} of {slots} slots running; unsettled: {sample(unsettled)}"

    # give the cluster the time a recovery takes, then the instances must have settled
    time.sleep(recovery)
    try:
        wait_until("over capacity: every instance RUNNING or holding a placement error", settled, recovery)
    finally:
        ordinary = ordinary_instances(bbs)
        outcome = measurements.rate("OverCapacityOutcome")
        for result in judge(ordinary, dead).values():
            outcome.add(time.time(), result)
        running = sum(1 for lrp in ordinary.values() if lrp is not None and lrp.state == "RUNNING")
        measurements.gauge("OverCapacityRunning").add(time.time(), running / slots)
        errors = sum(1 for lrp in ordinary.values() if lrp is not None and lrp.state == "UNCLAIMED"
                     and lrp.placement_error.startswith("insufficient resources"))
        measurements.gauge("PlacementErrors").add(time.time(), errors)
    return second


def ordinary_instances(bbs) -> dict[str, models.ActualLRP | None]:
    """Each desired instance's ORDINARY ActualLRP (None when it has none)."""
    found = {instance_key(lrp): lrp for lrp in bbs.actual_lrps(domain=DOMAIN)
             if lrp.presence == models.ActualLRP.ORDINARY}
    return {f"{guid}/{i}": found.get(f"{guid}/{i}")
            for guid, count in desired_instances(bbs, DOMAIN).items() for i in range(count)}


def judge(ordinary: dict[str, models.ActualLRP | None], dead: set[str]) -> dict[str, str]:
    """ok for RUNNING on a live cell or a surfaced placement error; else what the instance shows."""
    results = {}
    for key, lrp in ordinary.items():
        if lrp is None:
            results[key] = "no ActualLRP"
        elif lrp.state == "RUNNING" and lrp.actual_lrp_instance_key.cell_id in dead:
            results[key] = "RUNNING on a dead cell"
        elif lrp.state == "RUNNING" or (lrp.state == "UNCLAIMED"
                                        and lrp.placement_error.startswith("insufficient resources")):
            results[key] = "ok"
        else:
            error = f" ({lrp.placement_error})" if lrp.placement_error else ""
            results[key] = f"{lrp.state}{error}"
    return results
