"""Faults: SIGKILL and SIGSTOP of every component type in turn (cell, auctioneer, route emitter,
router, BBS) while Tasks are being desired and LRPs run. After each, the cluster converges back
(``cluster_checks.divergence``) and nothing the BBS acknowledged is lost.

Recovery is measured from the end of the fault (restart done, or SIGCONT sent) to convergence,
and from the fault landing; a killed cell is not restarted before convergence: its instances
move to the other cells. Convergence is polled every 0.1 s after 0.5 s more of load.
``DIEGO_HARDENING_FAULT_HOLD`` (default 1 s) is how long each fault lasts."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest
from cluster_checks import Callbacks, TaskLoad, converge
from hardening_support import FIGURES, knob

from pytest_diego.cluster import ClusterConfig, EmbeddedCluster
from pytest_diego.measure.setcheck import SetCheck
from pytest_diego.workload.builders import desired_lrp

pytestmark = pytest.mark.shared_cluster
SCALE = 0.05
HOLD = knob("DIEGO_HARDENING_FAULT_HOLD", 1.0)
CONVERGE_TIMEOUT = 90.0
LRPS = {f"hardening-app-{i}": 2 for i in range(3)}
COMPONENTS = ("cell", "auctioneer", "route_emitter", "router", "bbs")
RECOVERY: dict[str, float] = {}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    config = ClusterConfig(cells=3, time_scale=SCALE, state_dir=tmp_path_factory.mktemp("faults"),
                           cell_memory_mb=4096, container_model="fixed:0.05")
    with EmbeddedCluster.start(config) as started:
        with started.client(timeout=10) as client:
            for guid, instances in LRPS.items():
                client.desire_lrp(desired_lrp(guid, domain="hardening", instances=instances, memory_mb=32,
                                              disk_mb=32))
        converge(started, LRPS, SetCheck(), CONVERGE_TIMEOUT)
        yield started
    FIGURES["recovery_seconds"] = dict(RECOVERY)


def busiest_cell(cluster: EmbeddedCluster) -> str:
    with cluster.client(timeout=5) as client:
        cells = [a.actual_lrp_instance_key.cell_id for a in client.actual_lrps() if a.state == "RUNNING"]
    return max(set(cells), key=cells.count)


@pytest.fixture
def callbacks() -> Iterator[Callbacks]:
    receiver = Callbacks()
    yield receiver
    receiver.close()


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGSTOP"])
@pytest.mark.parametrize("component", COMPONENTS)
def test_cluster_converges_after_fault(cluster, callbacks, component, sig):
    name = busiest_cell(cluster) if component == "cell" else component
    with TaskLoad(cluster, f"{component}-{sig}", callbacks) as load:
        time.sleep(0.5)  # work is running when the fault lands
        landed = time.monotonic()
        assert cluster.kill(name, getattr(signal, sig)), f"{name} was not running"
        time.sleep(HOLD)
        if sig == "SIGSTOP":
            cluster.resume(name)
        elif component != "cell":
            cluster.restart(name)
        cleared = time.monotonic()
        time.sleep(0.5)  # and keeps running after it
        load.stop()
        assert load.outcomes["ok"] > 0, f"no Task was acknowledged around the fault: {load.outcomes}"
        converge(cluster, LRPS, load.check, CONVERGE_TIMEOUT, callbacks.completed)
        converged = time.monotonic()
        with cluster.client(timeout=10) as client:
            present = {t.task_guid for t in client.tasks(domain="hardening")}
        load.check.read({g for g in present | callbacks.completed if g.startswith(f"{component}-{sig}-")})
    result = load.check.result()
    assert result.valid, f"acknowledged Tasks lost: {sorted(result.lost)[:10]} ({result.summary()})"
    if component == "cell" and sig == "SIGKILL":
        cluster.restart_cell(name)  # capacity back for the next fault
        converge(cluster, LRPS, load.check, CONVERGE_TIMEOUT, callbacks.completed)
    RECOVERY[f"{component} {sig}"] = {"after_clear": round(converged - cleared, 2),
                                      "from_fault": round(converged - landed, 2),
                                      "tasks_acknowledged": len(load.check.acknowledged)}
