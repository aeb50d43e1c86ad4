"""Timelines and CrashPolicy on the embedded BBS's own event stream (real SSE, real protobuf), with
the test playing the auctioneer and the rep, and with faults planted in the BBS's restart policy."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_diego.bbs import BBSClient, models
from pytest_diego.cluster.bbs import BBSConfig, BBSServer, restart
from pytest_diego.cluster.timing import Timing
from pytest_diego.measure import CrashPolicy, EventFollower, Measurements
from pytest_diego.workload import desired_lrp

SCALE = 0.01  # crash backoff unit 0.3 s, convergence interval 0.3 s (run by hand here)
TIMING = Timing(time_scale=SCALE)
SLACK = 0.5
NO_ROOM = "insufficient resources: memory"


class Rep:
    """Claims, starts and crashes instance 0 of one app the way a cell's rep does."""

    def __init__(self, client: BBSClient, guid: str) -> None:
        self.client, self.guid = client, guid
        self.key = models.ActualLRPKey(process_guid=guid, index=0, domain="cf-apps")
        self._guids = itertools.count()
        self.instance = models.ActualLRPInstanceKey()

    def run(self) -> None:
        self.instance = models.ActualLRPInstanceKey(instance_guid=f"ig-{next(self._guids)}", cell_id="cell-0")
        self.client.claim_actual_lrp(self.guid, 0, self.instance)
        net = models.ActualLRPNetInfo(address="127.0.0.1",
                                      ports=[models.PortMapping(container_port=8080, host_port=61001)])
        self.client.start_actual_lrp(self.key, self.instance, net)

    def crash(self) -> None:
        self.client.crash_actual_lrp(self.key, self.instance, "APP/PROC/WEB: Exited with status 1")

    def state(self) -> models.ActualLRP:
        (lrp,) = self.client.actual_lrps(process_guid=self.guid)
        return lrp


@pytest.fixture
def bbs(tmp_path: Path) -> Iterator[BBSServer]:
    with BBSServer(BBSConfig(state_dir=tmp_path / "bbs", time_scale=SCALE, convergence_interval=3600.0)) as s:
        yield s


@pytest.fixture
def client(bbs: BBSServer) -> Iterator[BBSClient]:
    with BBSClient(bbs.url) as c:
        yield c


def follow(client: BBSClient, *observers) -> EventFollower:
    return EventFollower(client.lrp_instance_events(), *observers).start()


def settle(follower: EventFollower, events: int) -> None:
    deadline = time.monotonic() + 10
    while follower.events < events and time.monotonic() < deadline:
        time.sleep(0.01)
    follower.stop()
    assert follower.error is None


def test_placement_errors_on_the_bbs_stream_do_not_restart_the_clock(client):
    m = Measurements()
    follower = follow(client, m.timelines)
    client.desire_lrp(desired_lrp("full", instances=1))
    key = models.ActualLRPKey(process_guid="full", index=0, domain="cf-apps")
    time.sleep(0.4)
    client.fail_actual_lrp(key, NO_ROOM)  # the auctioneer found no room
    time.sleep(0.8)
    client.fail_actual_lrp(key, NO_ROOM)  # and again after the stale-UNCLAIMED re-auction
    time.sleep(0.1)
    Rep(client, "full").run()
    settle(follower, 6)  # desired, created, 2 x failed, claimed, running
    running = m.timelines.stage_trends()["LRPTimeToRunning"]
    assert running.count == 1 and running.histogram.min >= 1.3


def crash_three_times(client: BBSClient, rep: Rep) -> None:
    client.desire_lrp(desired_lrp(rep.guid, instances=1))
    for _ in range(3):
        rep.run()
        rep.crash()


def judge_three_crashes(client: BBSClient, bbs: BBSServer, *, converge_after: float) -> CrashPolicy:
    m = Measurements()
    policy = CrashPolicy(TIMING, m.rate("CrashRestartOnPolicy"), slack=SLACK)
    follower = follow(client, policy)
    rep = Rep(client, "crashy")
    crash_three_times(client, rep)
    time.sleep(converge_after)
    bbs.converge()
    if rep.state().state == "UNCLAIMED":
        rep.run()
    time.sleep(0.2)
    follower.stop()
    assert follower.error is None
    policy.close(time.time() + TIMING.crash_backoff_unit + TIMING.convergence_interval + SLACK)
    return policy


def outcomes(policy: CrashPolicy) -> list[tuple[int, str]]:
    return sorted((j.crash_count, j.outcome) for j in policy.judgments)


def test_the_embedded_bbs_restarts_crashes_on_policy(client, bbs):
    # crash 3 stays CRASHED for 0.3 s; the next convergence after that restarts it
    policy = judge_three_crashes(client, bbs, converge_after=TIMING.crash_backoff_unit + 0.1)
    assert outcomes(policy) == [(1, "ok"), (2, "ok"), (3, "ok")]


def test_a_bbs_that_restarts_the_third_crash_at_once_is_judged_early(client, bbs, monkeypatch):
    monkeypatch.setattr(restart, "restarts_immediately", lambda count: count < 4)  # the planted fault
    policy = judge_three_crashes(client, bbs, converge_after=0.0)
    assert outcomes(policy) == [(1, "ok"), (2, "ok"), (3, "early")]


def test_a_bbs_whose_convergence_never_restarts_is_judged_late(client, bbs, monkeypatch):
    monkeypatch.setattr(restart, "should_restart", lambda *args: False)  # the planted fault
    policy = judge_three_crashes(client, bbs, converge_after=TIMING.crash_backoff_unit + 0.1)
    assert outcomes(policy) == [(1, "ok"), (2, "ok"), (3, "late")]
