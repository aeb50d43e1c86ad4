"""The rep API of one in-process cell over real HTTP, against the fake BBS."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cell_harness import (
    CellSideBBS,
    RunningCell,
    available,
    lrp_work,
    post_work,
    running,
    start_cell,
    state,
    task_work,
)

from pytest_diego import rep
from pytest_diego.bbs import models
from pytest_diego.cluster.cell.rep import CRASH_REASON, MISSING_TASK_CONTAINER, SHUTDOWN_REASON
from pytest_diego.measure.metric_samples import MetricNames
from pytest_diego.measure.prometheus_text import exposition_values, parse_exposition
from tests.support.waits import wait_until


def port_closed(address: str, port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((address, port)) != 0


def test_state_of_an_empty_cell(cell):
    s = state(cell)
    assert (s.cell_id, s.zone, s.rep_url, s.cell_index) == ("cell-0", "z0", cell.url, 0)
    assert s.total == s.available == rep.Resources(1024, 2048, 4)
    assert (s.lrps, s.tasks, s.starting_container_count) == ((), (), 0)
    assert s.rootfs_providers.match("preloaded:cflinuxfs4") and s.rootfs_providers.match("docker:///busybox")
    assert not s.rootfs_providers.match("preloaded:windows2016") and s.evacuating is False


def test_lrps_are_claimed_started_and_answer_on_their_ports(cell):
    cell.bbs.desire("web", instances=2, ports=[9000])
    assert post_work(cell, lrps=[lrp_work("web", 0), lrp_work("web", 1)]) == rep.Work()
    lrps = wait_until(lambda: [running(cell.bbs, "web", i) for i in (0, 1)]
                      if all(running(cell.bbs, "web", i) for i in (0, 1)) else None,
                      10, "web/0 and web/1 RUNNING")
    ports = sorted(lrp.actual_lrp_net_info.ports[0].host_port for lrp in lrps)
    assert ports == [61001, 61002]
    for lrp in lrps:
        net = lrp.actual_lrp_net_info
        assert (net.address, net.instance_address) == (cell.address, cell.address)
        assert net.preferred_address == models.ActualLRPNetInfo.HOST
        assert net.ports[0].container_port == 9000
        body = requests.get(f"http://{net.address}:{net.ports[0].host_port}/", timeout=5).json()
        assert body == {"process_guid": "web", "index": lrp.actual_lrp_key.index,
                        "instance_guid": lrp.actual_lrp_instance_key.instance_guid, "cell_id": "cell-0"}
    # claimed before started, the desired LRP fetched once for both instances
    assert [c[0] for c in cell.bbs.calls].index("claim_actual_lrp") == 0
    assert len(cell.bbs.called("desired_lrp_by_process_guid")) == 1
    s = state(cell)
    assert available(cell) == (1024 - 256, 2048 - 512, 2)
    assert sorted((x.process_guid, x.index, x.state) for x in s.lrps) == [
        ("web", 0, "RUNNING"), ("web", 1, "RUNNING")]
    assert s.starting_container_count == 0


def test_work_that_does_not_fit_is_handed_back_as_the_rep_does(cell):
    cell.bbs.desire("big")
    failed = post_work(cell, lrps=[lrp_work("big", 0, memory_mb=4096)],
                       tasks=[task_work(f"t{i}") for i in range(5)])
    assert failed.lrps == (lrp_work("big", 0, memory_mb=4096),)
    assert failed.tasks == (task_work("t4"),)  # 4 containers: the fifth task does not fit


def test_work_for_another_cell_is_refused(cell):
    work = rep.Work(lrps=(lrp_work("x", 0),), cell_id="cell-9")
    r = requests.post(f"{cell.url}/work", data=rep.encode(work.to_json()), timeout=5)
    assert r.status_code == 500 and state(cell).lrps == ()


def test_tasks_run_for_their_duration_then_complete_with_their_guid(cell):
    definition = models.TaskDefinition(environment_variables=[
        models.EnvironmentVariable(name="TASK_DURATION_SECONDS", value="0.3")])
    cell.bbs.desire_task("t-1", definition)
    started = time.monotonic()
    post_work(cell, tasks=[task_work("t-1")])
    wait_until(lambda: cell.bbs.called("start_task"), 10, "StartTask")
    assert [(t.task_guid, t.state) for t in state(cell).tasks] == [("t-1", "Running")]
    (args,) = wait_until(lambda: cell.bbs.called("complete_task"), 10, "CompleteTask")
    assert time.monotonic() - started >= 0.3
    assert args == ("t-1", "cell-0", False, "", "t-1")
    wait_until(lambda: available(cell)[2] == 4, 10, "all 4 containers free")


def test_a_cell_leaving_for_good_completes_its_running_tasks_as_failed(cell):
    """What a hollow cell does with its Tasks on Ctrl-C, once its LRPs are evacuated: a started
    Task is completed failed, so its consumer hears of it now rather than at the next
    convergence; the containers are released."""
    cell.bbs.desire_task("long", models.TaskDefinition(environment_variables=[
        models.EnvironmentVariable(name="TASK_DURATION_SECONDS", value="60")]))
    post_work(cell, tasks=[task_work("long")])
    wait_until(lambda: [t.state for t in state(cell).tasks] == ["Running"], 10, "the Task running")
    cell.call(cell.rep.fail_tasks())
    assert cell.bbs.called("complete_task") == [("long", "cell-0", True, SHUTDOWN_REASON, "")]
    assert state(cell).tasks == () and available(cell)[2] == 4


def test_a_task_the_bbs_says_not_to_start_releases_its_reservation(cell):
    cell.bbs.desire_task("t-2")
    cell.bbs.task_rows["t-2"].state = models.Task.Completed  # e.g. cancelled while in the auction
    post_work(cell, tasks=[task_work("t-2")])
    wait_until(lambda: cell.bbs.called("start_task"), 10, "StartTask")
    wait_until(lambda: state(cell).tasks == (), 10, "no Task on the cell")
    assert available(cell)[2] == 4
    assert cell.bbs.called("complete_task") == []


def test_a_failed_claim_releases_the_reservation(cell):
    cell.bbs.desire("web")
    cell.bbs.refuse_claims = True
    post_work(cell, lrps=[lrp_work("web", 0)])
    wait_until(lambda: cell.bbs.called("claim_actual_lrp"), 10, "ClaimActualLRP")
    wait_until(lambda: state(cell).lrps == (), 10, "no LRP on the cell")
    assert available(cell)[0] == 1024
    assert cell.bbs.called("start_actual_lrp") == []


@pytest.fixture
def crashing_cell(tmp_path: Path) -> Iterator[RunningCell]:
    yield from start_cell(tmp_path, CellSideBBS(), crash_time_scale=0.5)


def test_a_crashing_app_closes_its_port_and_reports_the_crash(crashing_cell):
    cell, bbs = crashing_cell, crashing_cell.bbs
    bbs.desire("crashy", environment_variables=[
        models.EnvironmentVariable(name="MIN_SECONDS_TIL_CRASH", value="0.4"),
        models.EnvironmentVariable(name="MAX_SECONDS_TIL_CRASH", value="0.6")])
    post_work(cell, lrps=[lrp_work("crashy", 0)])
    started = time.monotonic()
    lrp = wait_until(lambda: running(bbs, "crashy", 0), 10, "crashy/0 RUNNING")
    port = lrp.actual_lrp_net_info.ports[0].host_port
    (args,) = wait_until(lambda: bbs.called("crash_actual_lrp"), 10, "CrashActualLRP")
    assert time.monotonic() - started >= 0.2  # 0.4-0.6 s of app time at crash time scale 0.5
    assert args[2] == CRASH_REASON and args[1].cell_id == "cell-0"
    assert port_closed(cell.address, port)
    wait_until(lambda: available(cell)[2] == 4, 10, "all 4 containers free")


def test_stop_removes_the_instance_and_cancel_stops_the_task(cell):
    cell.bbs.desire("web")
    cell.bbs.desire_task("long", models.TaskDefinition(environment_variables=[
        models.EnvironmentVariable(name="TASK_DURATION_SECONDS", value="60")]))
    post_work(cell, lrps=[lrp_work("web", 0)], tasks=[task_work("long")])
    lrp = wait_until(lambda: running(cell.bbs, "web", 0), 10, "web/0 RUNNING")
    wait_until(lambda: cell.bbs.called("task_by_guid"), 10, "TaskByGuid")
    guid, port = lrp.actual_lrp_instance_key.instance_guid, lrp.actual_lrp_net_info.ports[0].host_port
    assert requests.post(f"{cell.url}/v1/lrps/web/instances/nope/stop", timeout=5).status_code == 500
    assert requests.post(f"{cell.url}/v1/lrps/web/instances/{guid}/stop", timeout=5).status_code == 202
    (args,) = wait_until(lambda: cell.bbs.called("remove_actual_lrp"), 10, "RemoveActualLRP")
    assert args[:2] == ("web", 0) and args[2].instance_guid == guid
    assert port_closed(cell.address, port)
    assert requests.post(f"{cell.url}/v1/tasks/long/cancel", timeout=5).status_code == 202
    assert state(cell).tasks == ()
    assert state(cell).available == state(cell).total
    # the rep answers before it deletes the container: a Task it does not run is accepted too
    assert requests.post(f"{cell.url}/v1/tasks/long/cancel", timeout=5).status_code == 202


def test_instance_keeps_connections_alive_and_cuts_them_when_stopped(cell):
    cell.bbs.desire("web")
    post_work(cell, lrps=[lrp_work("web", 0)])
    lrp = wait_until(lambda: running(cell.bbs, "web", 0), 10, "web/0 RUNNING")
    conn = http.client.HTTPConnection(cell.address, lrp.actual_lrp_net_info.ports[0].host_port, timeout=5)
    for _ in range(2):  # one connection, two requests
        conn.request("GET", "/")
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Connection") == "keep-alive"
        response.read()
    guid = lrp.actual_lrp_instance_key.instance_guid
    assert requests.post(f"{cell.url}/v1/lrps/web/instances/{guid}/stop", timeout=5).status_code == 202
    wait_until(lambda: cell.bbs.called("remove_actual_lrp"), 10, "RemoveActualLRP")
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        conn.request("GET", "/")
        conn.getresponse()
    conn.close()


def test_bulk_sync_reconciles_with_the_bbs(cell):
    bbs = cell.bbs
    bbs.desire("kept")
    bbs.desire("moved")
    bbs.desire("forgotten")
    bbs.desire_task("cancelled", models.TaskDefinition(environment_variables=[
        models.EnvironmentVariable(name="TASK_DURATION_SECONDS", value="60")]))
    post_work(cell, lrps=[lrp_work("kept", 0), lrp_work("moved", 0)], tasks=[task_work("cancelled")])
    wait_until(lambda: running(bbs, "kept", 0) and running(bbs, "moved", 0) and bbs.called("task_by_guid"),
               10, "kept/0 and moved/0 RUNNING and the Task looked up")
    moved_port = bbs.actual[("moved", 0)].actual_lrp_net_info.ports[0].host_port
    # the BBS moved "moved" to another cell, lost "kept"'s start (back to CLAIMED), cancelled the task,
    # and believes this cell runs "forgotten", which it never heard of; a running task here is unknown too
    bbs.actual[("moved", 0)].actual_lrp_instance_key.cell_id = "cell-9"
    bbs.actual[("kept", 0)].state = "CLAIMED"
    bbs.task_rows["cancelled"].state = models.Task.Completed
    forgotten = bbs.actual[("forgotten", 0)]
    forgotten.state = "RUNNING"
    forgotten.actual_lrp_instance_key.CopyFrom(models.ActualLRPInstanceKey(instance_guid="ghost",
                                                                           cell_id="cell-0"))
    bbs.desire_task("orphan")
    bbs.task_rows["orphan"].state, bbs.task_rows["orphan"].cell_id = models.Task.Running, "cell-0"
    starts_before = len(bbs.called("start_actual_lrp"))

    cell.call(cell.rep.bulk_sync())

    assert port_closed(cell.address, moved_port)
    assert [x.process_guid for x in state(cell).lrps] == ["kept"]
    assert state(cell).tasks == ()
    assert len(bbs.called("start_actual_lrp")) == starts_before + 2  # kept, and moved (refused)
    assert bbs.actual[("kept", 0)].state == "RUNNING"
    assert [(a[0], a[2].instance_guid) for a in bbs.called("remove_actual_lrp")] == [("forgotten", "ghost")]
    assert [(a[0], a[2], a[3]) for a in bbs.called("complete_task")] == [
        ("orphan", True, MISSING_TASK_CONTAINER)]
    metrics = requests.get(f"{cell.admin_url}/metrics", timeout=5).text
    values = exposition_values(metrics, ["RepBulkSyncDuration", "ContainerCount"])
    assert values["ContainerCount"] == 1 and values["RepBulkSyncDuration"] > 0


def test_presence_names_the_cell_and_its_capacity(cell):
    cell.call(cell.rep.heartbeat())
    (presence,) = cell.presence.presences
    assert (presence.cell_id, presence.zone, presence.rep_url) == ("cell-0", "z0", cell.url)
    capacity = presence.capacity
    assert (capacity.memory_mb, capacity.disk_mb, capacity.containers) == (1024, 2048, 4)
    assert {p.name: list(p.properties) for p in presence.rootfs_providers} == {  # the rep's NewCellPresence
        "preloaded": ["cflinuxfs3", "cflinuxfs4"], "preloaded+layer": ["cflinuxfs3", "cflinuxfs4"],
        "extra": [], "docker": []}


def test_metrics_are_the_metrics_agents_format_with_the_cell_as_instance(cell):
    text = requests.get(f"{cell.admin_url}/metrics", timeout=5).text
    wanted = MetricNames(["ContainerCount", "CapacityRemainingMemory", "RepBulkSyncDuration"])
    samples = {s.name: s for s in parse_exposition(text, wanted)}
    assert {s.origin for s in samples.values()} == {"rep"}
    assert {s.instance for s in samples.values()} == {"cell-0"}
    memory = samples["CapacityRemainingMemory"]
    assert (memory.value, memory.unit, memory.labels["zone"]) == (1024, "MiB", "z0")
    assert samples["RepBulkSyncDuration"].unit == "s" and "zone" not in samples["ContainerCount"].labels


@pytest.mark.parametrize(("body", "named"), [(b"[]", "Work"), (b"{", "Expecting"),
                                             (b'{"LRPs": [{"index": "0"}]}', "LRPs[0].index"),
                                             (b'{"Tasks": [{"state": "Lost"}]}', "Tasks[0].state")])
def test_malformed_work_is_refused_naming_what_is_wrong(cell, body, named):
    r = requests.post(f"{cell.url}/work", data=body, timeout=5)
    assert r.status_code == 400 and named in r.json()["error"]
    assert state(cell).lrps == () and state(cell).tasks == ()


def test_bulk_sync_restarts_actual_lrps_a_purged_bbs_lost(cell):
    """Diego's rep rule: a running container whose ActualLRP is gone (the database node was
    wiped) is started again, not shut down, so running apps survive a purged BBS."""
    bbs = cell.bbs
    bbs.desire("survivor")
    post_work(cell, lrps=[lrp_work("survivor", 0)])
    lrp = wait_until(lambda: running(bbs, "survivor", 0), 10, "survivor/0 RUNNING")
    port = lrp.actual_lrp_net_info.ports[0].host_port
    guid = lrp.actual_lrp_instance_key.instance_guid
    bbs.actual.clear()  # the store was wiped

    cell.call(cell.rep.bulk_sync())

    assert [x.process_guid for x in state(cell).lrps] == ["survivor"]
    restored = bbs.actual[("survivor", 0)]
    assert restored.state == "RUNNING" and restored.actual_lrp_instance_key.instance_guid == guid
    assert restored.actual_lrp_net_info.ports[0].host_port == port
    assert not port_closed(cell.address, port)
