"""BBS + auctioneer + cells as real processes (time scale 0.05): work placed, run, crashed, recovered."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from diego_processes import DiegoProcesses, desired_lrp, running

from pytest_diego.bbs import models
from pytest_diego.measure.prometheus_text import exposition_values
from tests.support.waits import wait_until

TIME_SCALE = 0.05


def answers(lrp: models.ActualLRP) -> dict:
    net = lrp.actual_lrp_net_info
    return requests.get(f"http://{net.address}:{net.ports[0].host_port}/", timeout=5).json()


@pytest.fixture(scope="module")
def diego(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DiegoProcesses]:
    with DiegoProcesses(tmp_path_factory.mktemp("diego"), cells=3, time_scale=TIME_SCALE) as d:
        yield d


def test_desired_tasks_complete_on_the_cells(diego):
    guids = [f"task-{i}" for i in range(9)]
    for guid in guids:
        definition = models.TaskDefinition(root_fs="preloaded:cflinuxfs4", memory_mb=64, disk_mb=64)
        definition.action.run_action.path = "sh"
        definition.action.run_action.args.extend(["-c", "sleep 0.2"])
        diego.client.desire_task(guid, "fezzik", definition)

    def completed() -> list[models.Task] | None:
        tasks = [t for t in diego.client.tasks(domain="fezzik") if t.state == models.Task.Completed]
        return tasks if len(tasks) == len(guids) else None

    tasks = wait_until(completed, 30, "9 tasks to complete")
    assert all(not t.failed and t.result == t.task_guid for t in tasks)
    # the BBS clears cell_id on completion (as Diego does); the cells' lager logs say who ran what
    ran = {f"cell-{i}": diego.log_messages(f"cell-{i}", "rep.task.completed") for i in range(3)}
    assert sorted(r["data"]["task_guid"] for records in ran.values() for r in records) == sorted(guids)
    assert all(len(records) == 3 for records in ran.values())


def test_lrp_instances_run_spread_over_cells_and_answer_http(diego):
    diego.client.desire_lrp(desired_lrp("spread", 6))
    lrps = wait_until(lambda: running(diego, "spread", 6), 30, "6 RUNNING instances")
    assert Counter(a.actual_lrp_instance_key.cell_id for a in lrps) == {"cell-0": 2, "cell-1": 2, "cell-2": 2}
    for lrp in lrps:
        cell_index = int(lrp.actual_lrp_instance_key.cell_id.removeprefix("cell-"))
        assert lrp.actual_lrp_net_info.address == diego.cell_address(cell_index)
        assert answers(lrp) == {"process_guid": "spread", "index": lrp.actual_lrp_key.index,
                                "instance_guid": lrp.actual_lrp_instance_key.instance_guid,
                                "cell_id": lrp.actual_lrp_instance_key.cell_id}


def test_an_oversized_lrp_gets_a_placement_error(diego):
    diego.client.desire_lrp(desired_lrp("too-big", 1, memory_mb=40_000))
    lrp = wait_until(lambda: next((a for a in diego.client.actual_lrps(process_guid="too-big")
                                   if a.placement_error), None), 30, "a placement error")
    assert (lrp.state, lrp.placement_error) == ("UNCLAIMED", "insufficient resources: memory")


def test_a_crashing_app_is_restarted_by_the_crash_policy(diego):
    # 20 s of app time at the crash time scale (= time scale) is 1 s: crashes 1 and 2 restart at
    # once, crash 3 waits out the 30 s x 0.05 backoff, so crash 4 proves a delayed restart too
    diego.client.desire_lrp(desired_lrp("crashy", 1, env={"MIN_SECONDS_TIL_CRASH": "20",
                                                          "MAX_SECONDS_TIL_CRASH": "20"}))
    seen_running_after_crash = []

    def crash_count() -> int:
        (lrp,) = diego.client.actual_lrps(process_guid="crashy")
        if lrp.state == "RUNNING" and lrp.crash_count > 0:
            seen_running_after_crash.append(lrp.crash_count)
        return lrp.crash_count

    wait_until(lambda: crash_count() >= 4, 40, "crash_count 4")
    assert seen_running_after_crash  # restarted, not just crashed
    (lrp,) = diego.client.actual_lrps(process_guid="crashy")
    assert lrp.crash_reason == "APP/PROC/WEB: Exited with status 1"


def test_a_killed_cells_instances_run_elsewhere(tmp_path: Path):
    with DiegoProcesses(tmp_path, cells=3, time_scale=TIME_SCALE, address_octet=78) as d:
        d.client.desire_lrp(desired_lrp("survivor", 6))
        lrps = wait_until(lambda: running(d, "survivor", 6), 30, "6 RUNNING instances")
        victims = [a for a in lrps if a.actual_lrp_instance_key.cell_id == "cell-1"]
        assert victims
        d.kill("cell-1", signal.SIGKILL)
        # presence TTL (0.75 s) + one convergence interval (1.5 s) + generous margin for 2 busy cores
        limit = (15 + 30) * TIME_SCALE + 8.0

        def recovered() -> list[models.ActualLRP] | None:
            now = running(d, "survivor", 6)
            return now if now and all(a.actual_lrp_instance_key.cell_id != "cell-1" for a in now) else None

        lrps = wait_until(recovered, limit, "instances to run on the surviving cells")
        assert {a.actual_lrp_instance_key.cell_id for a in lrps} == {"cell-0", "cell-2"}
        assert all(answers(a)["cell_id"] in ("cell-0", "cell-2") for a in lrps)


def test_components_expose_diego_metrics_and_auction_logs(diego):
    auctioneer = requests.get(diego.procs["auctioneer"].info["metrics_url"], timeout=5).text
    values = exposition_values(auctioneer, ["AuctioneerLRPAuctionsStarted", "AuctioneerLRPAuctionsFailed",
                                            "AuctioneerTaskAuctionsStarted", "AuctioneerFetchStatesDuration"])
    assert values["AuctioneerLRPAuctionsStarted"] >= 6  # "spread", and crash restarts
    assert values["AuctioneerLRPAuctionsFailed"] >= 1  # "too-big"
    assert values["AuctioneerTaskAuctionsStarted"] >= 9
    assert values["AuctioneerFetchStatesDuration"] > 0
    assert len(diego.log_messages("auctioneer", "auctioneer.auction.scheduling")) == \
        len(diego.log_messages("auctioneer", "auctioneer.auction.scheduled")) >= 1
    cell = requests.get(diego.procs["cell-0"].info["metrics_url"], timeout=5).text
    names = ("RepBulkSyncDuration", "ContainerCount", "StartingContainerCount", "CapacityRemainingMemory",
             "CapacityRemainingDisk", "CapacityRemainingContainers",
             "GardenContainerCreationSucceededDuration")
    assert set(exposition_values(cell, names)) == set(names)
    assert 'instance_id="cell-0"' in cell and 'source_id="rep"' in cell
    assert diego.log_messages("cell-0", "rep.bulk-sync.finished")  # the 1.5 s loop has run
