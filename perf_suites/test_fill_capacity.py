"""Fill capacity, then watch (Diego's stress tests, perf-history.md §3, §4.2): run a lot of stuff
for a long time.

Push batches of the stress-test app mix (20 apps / 25 instances a batch, 2 of them crashing at a
random time in 30–360 s) until BATCHES_PER_CELL batches per cell are desired, wait until every
non-crashing instance runs, then hold the full cluster for the soak duration (``--soak-duration``;
short by default, hours when asked) while probing every app route through the router, like
arborist, and watching the crashing apps against Diego's restart policy.

Metrics recorded besides Diego's (names.py):

- ``FillDuration`` (Gauge, s): first push to every non-crashing instance RUNNING.
- ``CrashRestartOnPolicy`` (Rate): each crash restart observed (see ``_crash_policy``).
- ``RouteAvailability`` / ``RouteProbeLatency``: probes of the non-crashing apps only.
"""

from __future__ import annotations

import time

import pytest
from _crash_policy import CrashPolicyWatch
from _observers import Observers, wait_routable
from _support import (
    cleanup,
    hostname,
    missing_instances,
    routed_at,
    sample,
    seconds,
    soak_duration,
    timing,
    wait_until,
    with_target_action,
)

from pytest_diego.bbs import models
from pytest_diego.measure import Periodic
from pytest_diego.pytest_support.values import duration

DOMAIN = "stress"
BATCHES_PER_CELL = 4  # 100 instances per cell: Diego's 100-cell target of 10k instances (§3.4)
MIX_DISK_MB = 100  # "every manifest uses disk 100M" (perf-history.md §5.3); with 1 GB, Diego's
#                   64 GiB cells would hold only 64 instances
PUSH_USERS = 8  # cedar's concurrent cf operations per shard
T = timing()
SOAK = soak_duration(f"{T.scaled(200):g}s")  # default: 200 s of Diego's time

# Thresholds (diego-behaviour.md §8 alert levels; perf-history.md §3.3, §3.4 results).
REQUEST_LATENCY = "p(99) < 1s over 1m"  # full-system BBS latency 0.15–0.35 s, peaks 0.63 s: "much
#                                          less than 1 second"; judged per 1 m, Diego's report interval
SUCCESS_RATE = "rate >= 0.999"
# Loops "much less than the interval at which they are run" (§3.3): Diego's warning alert level
# (§8), or half the loop's interval when the time scale makes that smaller.
CONVERGENCE = f"max < {seconds(min(10.0, T.convergence_interval / 2))}"
REP_BULK_SYNC = f"max < {seconds(min(5.0, T.rep_poll_interval / 2))}"
ROUTE_EMITTER_SYNC = f"max < {seconds(min(5.0, T.route_sync_interval / 2))}"
FETCH_STATES = "max < 2s"  # AuctioneerFetchStatesDuration warning; cell_state_timeout is not scaled
ROUTES_AVAILABLE = "rate >= 0.999"  # arborist: the non-crashing apps stay routable
CRASH_POLICY = ("rate == 1", "count >= 1")
LRPS_MISSING = "value == 0"  # back to 0 once filled (alert: avg >= 5 over 5 m)
FILL_BOUND = 120.0  # seconds to place the default fill on 2 cores; cedar's push timeout is 30 s per app
CRASH_SLACK = 1.0  # seconds on top of one convergence interval for a restart to show


def stress_app(lrp: models.DesiredLRP, host: str) -> models.DesiredLRP:
    """A mix app as cedar pushes it: this scenario's domain, its route, cedar's disk quota."""
    lrp.domain = DOMAIN
    lrp.disk_mb = MIX_DISK_MB
    return with_target_action(routed_at(lrp, host))


@pytest.mark.scenario("fill capacity, then watch")
@pytest.mark.soak(SOAK)
@pytest.mark.slo("RequestLatency", REQUEST_LATENCY, SUCCESS_RATE)
@pytest.mark.slo("RequestLatency.DesireDesiredLRP", "p(99) < 1s", "rate == 1")
@pytest.mark.slo("ConvergenceLRPDuration", CONVERGENCE)
@pytest.mark.slo("RepBulkSyncDuration", REP_BULK_SYNC)
@pytest.mark.slo("RouteEmitterSyncDuration", ROUTE_EMITTER_SYNC)
@pytest.mark.slo("AuctioneerFetchStatesDuration", FETCH_STATES)
@pytest.mark.slo("RouteAvailability", ROUTES_AVAILABLE)
@pytest.mark.slo("CrashRestartOnPolicy", *CRASH_POLICY)
@pytest.mark.slo("LRPsMissing", LRPS_MISSING)
@pytest.mark.slo("FillDuration", f"max < {seconds(FILL_BOUND)}")
def test_fill_capacity_then_watch(diego, bbs, workload, measurements):
    apps = workload.apps(BATCHES_PER_CELL * len(diego.cells), prefix="stress")
    lrps = [stress_app(app.desired_lrp, hostname(diego, app.desired_lrp.process_guid)) for app in apps]
    crashing = {app.desired_lrp.process_guid for app in apps if app.kind.crashing}
    steady = [lrp.process_guid for lrp in lrps if lrp.process_guid not in crashing]
    hosts = [hostname(diego, guid) for guid in steady]
    watch = CrashPolicyWatch(T, measurements.rate("CrashRestartOnPolicy"), CRASH_SLACK)
    soak = float(workload.duration or duration(SOAK, "--soak-duration", 20.0))

    def watch_crashes() -> None:
        watch.poll(lrp for lrp in bbs.actual_lrps(domain=DOMAIN)
                   if lrp.actual_lrp_key.process_guid in crashing)

    with cleanup(diego, [lrp.process_guid for lrp in lrps]), \
            Observers(diego, workload, measurements), \
            Periodic(watch_crashes, min(0.5, T.crash_backoff_unit / 4), name="crash-watch"):
        started = time.time()
        result = workload.run_closed(lambda i: bbs.desire_lrp(lrps[i // workload.count]),
                                     users=PUSH_USERS, iterations=len(lrps) * workload.count)
        assert result.failed == 0 and result.unfinished == 0, f"pushes failed: {result}"

        mine = set(steady)

        def missing() -> str | None:
            left = [m for m in missing_instances(bbs, DOMAIN, exclude=crashing) if m.split("/")[0] in mine]
            workload.status(desired=len(lrps), missing=len(left))
            return f"{len(left)} instances not RUNNING: {sample(left)}" if left else None

        deadline = time.monotonic() + FILL_BOUND + 2 * T.convergence_interval
        wait_until("every non-crashing instance of the fill is RUNNING", missing,
                   deadline - time.monotonic())
        # cedar counts a push done once the app answers on its route
        wait_routable(diego.router_url, hosts, deadline - time.monotonic())
        measurements.gauge("FillDuration", unit="s").add(time.time(), time.time() - started)

        # watch the full cluster: Diego's loops and gauges, and arborist's probes of every app
        with Observers(diego, workload, measurements, events=False, metrics=True, hostnames=lambda: hosts,
                       probe_interval=T.scaled(60)):  # arborist: every app once a minute
            hold_until = time.monotonic() + soak
            while time.monotonic() < hold_until:
                workload.status(desired=len(lrps), soak_left=round(hold_until - time.monotonic()))
                time.sleep(min(1.0, max(0.0, hold_until - time.monotonic())))

