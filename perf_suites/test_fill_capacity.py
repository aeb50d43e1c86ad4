"""Fill capacity, then watch (Diego's stress tests, docs/diego-facts.md §14.3–§14.5): run a lot of stuff
for a long time.

Diego's rule for its stress runs: N "units" of 1.25 cells run 250·N instances, pushed as 10·N
batches of the stress-test app mix (20 apps / 25 instances a batch, 2 of them crashing at a
random time in 30–360 s) — 8 batches, 200 instances, per cell. Push them, wait until every
non-crashing instance runs and answers on its route, then hold the full cluster for the soak
duration (``--soak-duration``; 200 s of Diego's time by default, hours when asked) while probing
every app route through the router, like arborist, and judging every crash restart against
Diego's policy from the event stream.

Metrics recorded besides Diego's (names.py):

- ``FillDuration`` (Gauge, s): first push to every non-crashing instance RUNNING and routable.
- ``InstancesMissing`` (Gauge): desired non-crashing instances of this shard's apps not RUNNING,
  sampled every second of the soak (what Diego's LRPsMissing stands for, from the BBS's own
  records; its maximum must stay 0).
- ``CrashRestartOnPolicy`` (Rate): each crash of this shard's crashing apps, judged when its
  restart shows on the event stream (``pytest_diego.measure.crash_policy``).
- ``RouteAvailability`` / ``RouteProbeLatency``: probes of the non-crashing apps only.
"""

from __future__ import annotations

import time

import pytest

from pytest_diego.bbs import models
from pytest_diego.measure import Periodic, define_metric, names
from pytest_diego.scenario import (
    CrashPolicy,
    Observers,
    app,
    cleanup,
    hostname,
    missing_instances,
    sample,
    wait_routable,
    wait_until,
    within,
)

DOMAIN = "stress"
CELLS_PER_UNIT = 1.25  # Diego's sizing: 1.25·N cells for N units (docs/diego-facts.md §14.7)
BATCHES_PER_UNIT = 10  # 10·N batches of 25 instances: 250·N instances (docs/diego-facts.md §14.5)
MIX_DISK_MB = 100  # "every manifest asks for disk 100M" (docs/diego-facts.md §15.2); with 1 GB, Diego's
#                   64 GiB cells would hold only 64 instances
PUSH_USERS = 8  # cedar's concurrent cf operations per shard
ARBORIST_INTERVAL = 60.0  # arborist probes every app once a minute (Diego's time)

# Thresholds (docs/diego-facts.md: §8 alert levels; §14.3, §14.4 results).
REQUEST_LATENCY = "p(99) < 1s over 1m"  # full-system BBS latency 0.15–0.35 s, peaks 0.63 s: "much
#                                          less than 1 second"; judged per 1 m, Diego's report interval
SUCCESS_RATE = "rate >= 0.999"
FETCH_STATES = "max < 2s"  # AuctioneerFetchStatesDuration warning; cell_state_timeout is not scaled
ROUTES_AVAILABLE = "rate >= 0.999"  # arborist: the non-crashing apps stay routable
FILL_BOUND = 180.0  # seconds to place and route the default fill on 2 cores; cedar's push timeout
#                     is 30 s per app
CRASH_SLACK = 1.0  # seconds on top of one convergence interval for a restart to show

define_metric("FillDuration", "gauge", "s", "first push to every non-crashing instance routable")
define_metric("InstancesMissing", "gauge", "", "desired non-crashing instances not RUNNING")


def loop_bound(warning: float, interval: str):
    """Loops run "much less than the interval at which they are run" (docs/diego-facts.md §14.3):
    Diego's warning alert level (§8), or half the loop's interval when the time scale makes that smaller."""
    return lambda t: within(min(warning, getattr(t, interval) * 0.5))


def batches(cells: int) -> int:
    """Diego's stress-run size for ``cells`` cells: 10 batches per 1.25 cells."""
    return round(BATCHES_PER_UNIT * cells / CELLS_PER_UNIT)


def stress_app(diego, lrp: models.DesiredLRP, crashing: bool) -> models.DesiredLRP:
    """A mix app as cedar pushes it: this scenario's domain, cedar's disk quota, the target's
    rootfs and command, its route."""
    lrp.domain = DOMAIN
    lrp.disk_mb = MIX_DISK_MB
    return app(diego, lrp, crashing=crashing)


@pytest.mark.scenario("fill capacity, then watch")
@pytest.mark.slo("RequestLatency", REQUEST_LATENCY, SUCCESS_RATE)
@pytest.mark.slo("RequestLatency.DesireDesiredLRP", "p(99) < 1s", "rate == 1")
@pytest.mark.slo("ConvergenceLRPDuration", loop_bound(10.0, "convergence_interval"))
@pytest.mark.slo("RepBulkSyncDuration", loop_bound(5.0, "rep_poll_interval"))
@pytest.mark.slo("RouteEmitterSyncDuration", loop_bound(5.0, "route_sync_interval"))
@pytest.mark.slo("AuctioneerFetchStatesDuration", FETCH_STATES)
@pytest.mark.slo("RouteAvailability", ROUTES_AVAILABLE)
@pytest.mark.slo("CrashRestartOnPolicy", "rate == 1", "count >= 1")
@pytest.mark.slo("InstancesMissing", "max == 0", "count >= 1")
@pytest.mark.slo("FillDuration", f"max < {FILL_BOUND:g}s")
def test_fill_capacity_then_watch(diego, bbs, workload, measurements, soak_seconds):
    apps = workload.apps(batches(len(bbs.cells())), prefix="stress")
    crashing = {a.desired_lrp.process_guid for a in apps if a.kind.crashing}
    lrps = [stress_app(diego, a.desired_lrp, a.desired_lrp.process_guid in crashing) for a in apps]
    steady = {lrp.process_guid for lrp in lrps} - crashing
    hosts = [hostname(diego, guid) for guid in sorted(steady)]
    timing = diego.timing
    policy = CrashPolicy(timing, measurements.rate(names.CRASH_RESTART_ON_POLICY), slack=CRASH_SLACK,
                         process_guids=crashing)

    def missing() -> list[str]:
        return [m for m in missing_instances(bbs, DOMAIN, exclude=crashing) if m.split("/")[0] in steady]

    with cleanup(diego, [lrp.process_guid for lrp in lrps]), \
            Observers(diego, workload, measurements, crash_policy=policy):
        started = time.time()
        result = workload.run_closed(lambda i: bbs.desire_lrp(lrps[i // workload.count]),
                                     users=PUSH_USERS, iterations=len(lrps) * workload.count)
        assert result.failed == 0 and result.unfinished == 0, f"pushes failed: {result}"

        def not_running() -> str | None:
            left = missing()
            workload.status(desired=len(lrps), missing=len(left))
            return f"{len(left)} instances not RUNNING: {sample(left)}" if left else None

        deadline = time.monotonic() + FILL_BOUND + 2 * timing.convergence_interval
        wait_until("every non-crashing instance of the fill is RUNNING", not_running,
                   deadline - time.monotonic())
        # cedar counts a push done once the app answers on its route
        wait_routable(diego.router_url, hosts, deadline - time.monotonic())
        measurements.gauge("FillDuration").add(time.time(), time.time() - started)
        workload.barrier("filled")  # every shard's apps run before the watch begins

        # watch the full cluster: Diego's loops and gauges, arborist's probes of every app, and
        # the instances that should run
        def count_missing() -> None:
            measurements.gauge("InstancesMissing").add(time.time(), len(missing()))

        with Observers(diego, workload, measurements, events=False, metrics=True, hostnames=lambda: hosts,
                       probe_interval=timing.scaled(ARBORIST_INTERVAL)), \
                Periodic(count_missing, 1.0, name="instances-missing"):
            hold_until = time.monotonic() + soak_seconds
            while time.monotonic() < hold_until:
                workload.status(desired=len(lrps), soak_left=round(hold_until - time.monotonic()))
                time.sleep(min(1.0, max(0.0, hold_until - time.monotonic())))
        workload.barrier("watched")  # no shard removes its apps while another still watches
