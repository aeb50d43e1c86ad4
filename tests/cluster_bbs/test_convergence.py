"""Convergence with shrunk intervals: missing and extra instances, Diego's crash restart policy,
stale UNCLAIMED re-auctions, SUSPECT instances on lost cells, and task convergence. Each test
drives the run itself (``bbs.converge()``); waits only ever exceed a deadline, never race one."""

from __future__ import annotations

import time

import pytest
import requests
from bbs_harness import by_index, desired_lrp, instance_key, lrp_key, net_info, presence, task_definition

from pytest_diego.bbs import models
from pytest_diego.bbs.client import BBSClient
from pytest_diego.cluster.bbs import restart
from pytest_diego.cluster.bbs.state import Tx
from pytest_diego.measure.prometheus_text import exposition_values

ORDINARY, SUSPECT = models.ActualLRP.ORDINARY, models.ActualLRP.SUSPECT


def _metric(bbs, name: str) -> float:
    """One metric of the BBS's /metrics (the metrics agent's format), by Diego's name."""
    values = exposition_values(requests.get(bbs.metrics_url, timeout=5).text, [name])
    if name not in values:
        raise AssertionError(f"no metric {name}")
    return values[name]


def test_restart_policy_matches_diego():
    assert [restart.backoff(n, 30) for n in (1, 2)] == [0, 0]
    assert [restart.backoff(n, 30) for n in range(3, 10)] == [30, 60, 120, 240, 480, 960, 960]
    assert restart.backoff(199, 30) == 960
    assert restart.backoff(200, 30) is None
    assert not restart.should_restart(200, 0, 1e12, 30)


# The BBS's own lock lasts 1.5 s and is refreshed every 0.5 s, each refresh given as long to
# answer (Diego's rule): a thread stalled on a busy machine must not cost the BBS its lock, which
# closes its API.
LOCKET_SCALE = 0.1
LOCK_RETRY = {"lock_retry_interval": 0.5}
LOST_CELL_TTL = 1  # seconds of presence TTL: a cell registered so is gone 0.1 s later


@pytest.fixture
def scaled(make_bbs, make_locket, auctioneer):
    """A BBS whose Diego intervals are 1/100 (30 s -> 0.3 s), with a recording auctioneer; with
    ``cells``, a Locket holding the cells' presences (presences and the BBS's lock last 15 s x
    LOCKET_SCALE, or what the test registers)."""

    def make(time_scale: float = 0.01, cells: bool = False):
        locket = make_locket(LOCKET_SCALE) if cells else None
        bbs = make_bbs(time_scale=time_scale, auctioneer_url=auctioneer.url,
                       locket_address=locket.address if locket else None,
                       intervals=LOCK_RETRY if cells else {})
        return bbs, BBSClient(bbs.url), locket

    return make


def test_missing_instances_are_created_and_auctioned(scaled, auctioneer):
    bbs, client, _ = scaled()
    client.desire_lrp(desired_lrp("web", instances=2))
    auctioneer.drain()
    client.remove_actual_lrp("web", 1, models.ActualLRPInstanceKey())
    bbs.converge()
    assert by_index(client, "web")[(1, ORDINARY)].state == "UNCLAIMED"
    assert auctioneer.lrp_indices() == [("web", 1)]
    assert _metric(bbs, "LRPsMissing") == 1
    assert _metric(bbs, "LRPsDesired") == 2


def test_extra_instances_are_retired_only_in_fresh_domains(scaled):
    bbs, client, _ = scaled()
    client.upsert_domain("fresh", 0)
    for domain in ("fresh", "stale"):
        client.desire_lrp(desired_lrp(f"web-{domain}", instances=1, domain=domain))
        # an instance the BBS does not want: index 3 of a 1-instance LRP
        client.start_actual_lrp(lrp_key(f"web-{domain}", 3, domain), instance_key(), net_info())
    bbs.converge()
    assert sorted(by_index(client, "web-fresh")) == [(0, ORDINARY)]
    assert sorted(by_index(client, "web-stale")) == [(0, ORDINARY), (3, ORDINARY)]
    assert _metric(bbs, "LRPsExtra") == 2
    assert _metric(bbs, "Domain.fresh") == 1


def _crash(client, guid="web"):
    client.claim_actual_lrp(guid, 0, instance_key())
    client.start_actual_lrp(lrp_key(guid), instance_key(), net_info())
    client.crash_actual_lrp(lrp_key(guid), instance_key(), "exit 1")
    # (crashes come within the crash-reset timeout of the start, so the count keeps growing)
    return by_index(client, guid)[(0, ORDINARY)]


def _converge_until(bbs, client, predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        bbs.converge()
        lrp = by_index(client, "web")[(0, ORDINARY)]
        if predicate(lrp) or time.monotonic() > deadline:
            return lrp
        time.sleep(0.02)


def test_crashed_instances_wait_their_backoff(scaled, auctioneer):
    bbs, client, _ = scaled(time_scale=0.01)  # backoff unit 0.3 s
    client.desire_lrp(desired_lrp("web"))
    _crash(client)
    _crash(client)
    crashed = _crash(client)
    assert (crashed.state, crashed.crash_count) == ("CRASHED", 3)
    crashed_at = time.monotonic()
    bbs.converge()
    if time.monotonic() - crashed_at < 0.25:  # still inside the 0.3 s backoff
        assert by_index(client, "web")[(0, ORDINARY)].state == "CRASHED"
        assert _metric(bbs, "CrashedActualLRPs") == 1
        assert _metric(bbs, "CrashingDesiredLRPs") == 1
    auctioneer.drain()
    restarted = _converge_until(bbs, client, lambda lrp: lrp.state == "UNCLAIMED")
    assert (restarted.state, restarted.crash_count) == ("UNCLAIMED", 3)
    assert time.monotonic() - crashed_at >= 0.3
    assert ("web", 0) in auctioneer.lrp_indices()


def test_crash_count_resets_after_running_long_enough(scaled):
    bbs, client, _ = scaled(time_scale=0.002)  # backoff unit 0.06 s, reset after 0.6 s running
    client.desire_lrp(desired_lrp("web"))
    for _ in range(3):
        _crash(client)
    _converge_until(bbs, client, lambda lrp: lrp.state == "UNCLAIMED")
    client.claim_actual_lrp("web", 0, instance_key())
    client.start_actual_lrp(lrp_key("web"), instance_key(), net_info())
    time.sleep(0.7)
    client.crash_actual_lrp(lrp_key("web"), instance_key(), "exit 1")
    lrp = by_index(client, "web")[(0, ORDINARY)]
    assert (lrp.crash_count, lrp.state) == (1, "UNCLAIMED")


def test_no_restart_after_200_crashes(scaled):
    bbs, client, _ = scaled(time_scale=0.01)  # a 3rd crash waits 0.3 s
    client.desire_lrp(desired_lrp("web"))
    client.desire_lrp(desired_lrp("ctl"))
    for _ in range(3):
        _crash(client, "ctl")
    # "web" is RUNNING after 199 crashes: set the record directly instead of crashing 199 times
    web = by_index(client, "web")[(0, ORDINARY)]
    web.state, web.crash_count = "RUNNING", 199
    web.actual_lrp_instance_key.CopyFrom(instance_key())
    state = bbs.core.state
    with state.lock:
        tx = Tx()
        state.put_actual(tx, web)
        pending = state.submit(tx)
    pending.wait()
    client.crash_actual_lrp(lrp_key("web"), instance_key(), "exit 1")
    assert by_index(client, "web")[(0, ORDINARY)].crash_count == 200
    assert by_index(client, "ctl")[(0, ORDINARY)].crash_count == 3
    time.sleep(0.4)
    bbs.converge()
    assert by_index(client, "ctl")[(0, ORDINARY)].state == "UNCLAIMED"  # its backoff is over
    assert by_index(client, "web")[(0, ORDINARY)].state == "CRASHED"  # never again


def test_stale_unclaimed_is_auctioned_again(scaled, auctioneer):
    bbs, client, _ = scaled(time_scale=0.01)  # stale after 0.3 s
    client.desire_lrp(desired_lrp("web"))
    desired_at = time.monotonic()
    auctioneer.drain()
    bbs.converge()
    if time.monotonic() - desired_at < 0.25:
        assert auctioneer.lrps.empty()
    time.sleep(0.35)
    bbs.converge()
    assert auctioneer.lrp_indices() == [("web", 0)]


def _run_on(client, cell, guid="ig-0", index=0):
    client.claim_actual_lrp("web", index, instance_key(cell, guid))
    client.start_actual_lrp(lrp_key("web", index), instance_key(cell, guid), net_info())


def _lose_cell(bbs, client, locket):
    """Register cell-0, run web/0 there, let the presence lapse, converge."""
    locket.register(presence("cell-0"), ttl_in_seconds=LOST_CELL_TTL)
    client.desire_lrp(desired_lrp("web"))
    _run_on(client, "cell-0")
    time.sleep(LOST_CELL_TTL * LOCKET_SCALE + 0.1)
    bbs.converge()


def test_instances_on_a_lost_cell_become_suspect_and_the_replacement_wins(scaled, auctioneer):
    bbs, client, locket = scaled(time_scale=0.01, cells=True)
    _lose_cell(bbs, client, locket)
    lrps = by_index(client, "web")
    assert lrps[(0, SUSPECT)].state == "RUNNING"
    assert lrps[(0, SUSPECT)].actual_lrp_instance_key.cell_id == "cell-0"
    assert lrps[(0, ORDINARY)].state == "UNCLAIMED"
    assert ("web", 0) in auctioneer.lrp_indices()
    assert _metric(bbs, "SuspectRunningActualLRPs") == 1
    assert _metric(bbs, "SuspectCells") == 1

    locket.register(presence("cell-1"))
    _run_on(client, "cell-1", "ig-1")
    lrps = by_index(client, "web")
    assert list(lrps) == [(0, ORDINARY)]
    assert lrps[(0, ORDINARY)].actual_lrp_instance_key.cell_id == "cell-1"


def test_a_returning_cell_keeps_its_instance_and_the_replacement_goes(scaled):
    bbs, client, locket = scaled(time_scale=0.01, cells=True)
    _lose_cell(bbs, client, locket)
    assert (0, SUSPECT) in by_index(client, "web")
    locket.register(presence("cell-0"))
    bbs.converge()
    lrps = by_index(client, "web")
    assert list(lrps) == [(0, ORDINARY)]
    assert (lrps[(0, ORDINARY)].state, lrps[(0, ORDINARY)].actual_lrp_instance_key.instance_guid) == \
        ("RUNNING", "ig-0")


def test_task_convergence(scaled, auctioneer):
    bbs, client, locket = scaled(time_scale=0.001, cells=True)  # kick 0.03 s, completed expire after 0.12 s
    locket.register(presence("cell-0"))
    client.desire_task("pending", "d", task_definition())
    client.desire_task("on-lost-cell", "d", task_definition())
    client.start_task("on-lost-cell", "cell-gone")
    client.desire_task("done", "d", task_definition())
    client.start_task("done", "cell-0")
    client.complete_task("done", "cell-0", failed=False)
    time.sleep(0.05)
    auctioneer.drain()
    bbs.converge()
    assert [t["task_guid"] for t in auctioneer.tasks.get(timeout=5)] == ["pending"]  # kicked
    lost = client.task_by_guid("on-lost-cell")
    assert (lost.state, lost.failed, lost.failure_reason) == \
        (models.Task.Completed, True, "cell disappeared before completion")
    time.sleep(0.15)
    bbs.converge()
    remaining = {t.task_guid for t in client.tasks()}
    assert "done" not in remaining and "pending" in remaining


def test_expired_pending_tasks_fail(scaled):
    bbs, client, _ = scaled(time_scale=0.0002)  # pending tasks expire after 0.36 s
    client.desire_task("slow", "d", task_definition())
    time.sleep(0.4)
    bbs.converge()
    task = client.task_by_guid("slow")
    assert (task.state, task.failed, task.failure_reason) == \
        (models.Task.Completed, True, "not started within time limit")


def test_convergence_loop_runs_on_its_interval_and_reports_durations(make_bbs):
    bbs = make_bbs(convergence_interval=0.1)
    deadline = time.monotonic() + 10
    while _metric(bbs, "ConvergenceLRPRuns") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _metric(bbs, "ConvergenceLRPRuns") >= 2
    assert _metric(bbs, "ConvergenceLRPDuration") > 0
    assert _metric(bbs, "ConvergenceTaskDuration") > 0
