"""End to end on a small embedded cluster: a burst's LRP spreads over the cells as Diego spreads it.

4 cells in 2 zones of 2 (zones of equal size: with unequal zones Diego's zone-first rule puts more
on the cells of the smaller zones, see test_auction_scoring.py). One LRP of n instances is desired
while Tasks pour in, as fezzik does; once every instance runs, the busiest cell holds ⌈n/4⌉.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pytest_diego.bbs import BBSClient
from pytest_diego.cluster import ClusterConfig, EmbeddedCluster
from pytest_diego.workload.mix import fezzik_lrp, fezzik_task_definition

CELLS = 4
INSTANCES = 42  # not a multiple of 4: the busiest cell must hold ⌈42/4⌉ = 11, not 10 or 12
TASKS = 40
DOMAIN = "spread"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    config = ClusterConfig(cells=CELLS, zones=2, time_scale=0.1, cell_memory_mb=8192,
                           state_dir=tmp_path_factory.mktemp("spread"))
    with EmbeddedCluster.start(config) as started:
        yield started


def wait_until_running(client: BBSClient, process_guid: str, count: int, timeout: float = 60.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        lrps = [a for a in client.actual_lrps(process_guid=process_guid) if a.state == "RUNNING"]
        if len(lrps) == count:
            return lrps
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(lrps)} of {count} instances RUNNING after {timeout}s")
        time.sleep(0.1)


def test_busiest_cell_holds_its_share_of_a_burst_lrp(cluster: EmbeddedCluster, tmp_path: Path) -> None:
    process_guid = "spread-lrp"
    with cluster.client(timeout=30) as client, ThreadPoolExecutor(8) as pool:
        desires = [pool.submit(client.desire_lrp, fezzik_lrp(process_guid, INSTANCES, DOMAIN))]
        desires += [pool.submit(client.desire_task, f"spread-task-{i}", DOMAIN,
                                fezzik_task_definition(f"spread-task-{i}")) for i in range(TASKS)]
        for f in desires:
            f.result()
        running = wait_until_running(client, process_guid, INSTANCES)
        per_cell = Counter(a.actual_lrp_instance_key.cell_id for a in running)
        zone_of = {c.cell_id: c.zone for c in client.cells()}
        client.remove_desired_lrp(process_guid)
    assert sum(per_cell.values()) == INSTANCES
    assert len(per_cell) == CELLS
    assert max(per_cell.values()) == math.ceil(INSTANCES / CELLS)
    assert min(per_cell.values()) == INSTANCES // CELLS
    per_zone = Counter(zone_of[cell_id] for cell_id in per_cell.elements())
    assert sorted(per_zone.values()) == [INSTANCES // 2, INSTANCES // 2]
