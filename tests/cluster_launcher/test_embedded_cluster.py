"""EmbeddedCluster: start, cluster.json, attach, faults by pid, TLS, and stopping everything."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from launcher_helpers import cluster_processes

from pytest_diego.bbs import models
from pytest_diego.bbs.errors import BBSClientError
from pytest_diego.cluster import ClusterConfig, ClusterConfigError, ClusterError, EmbeddedCluster
from pytest_diego.cluster import state as cluster_state
from pytest_diego.cluster.postgres import PostgresServer
from pytest_diego.cluster.process import ProcessInfo
from pytest_diego.cluster.state import redact_dsn
from pytest_diego.measure.prometheus_text import exposition_values
from pytest_diego.measure.route_table import RouteTable
from pytest_diego.rep import RepClient, RepError
from pytest_diego.workload.builders import desired_lrp, task_definition
from tests.support.postgres import fresh_database
from tests.support.waits import wait_until

SCALE = 0.1


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    config = ClusterConfig(cells=4, zones=2, time_scale=SCALE, state_dir=tmp_path_factory.mktemp("launcher"),
                           cell_memory_mb=4096)
    with EmbeddedCluster.start(config) as started:
        yield started


def present_cells(cluster: EmbeddedCluster) -> set[str]:
    with cluster.client(timeout=5) as client:
        return {c.cell_id for c in client.cells()}


def test_cluster_json_describes_every_process(cluster):
    data = json.loads((cluster.state_dir / "cluster.json").read_text())
    assert data["schema"] == 1
    assert data["bbs_url"].startswith("http://127.0.0.1:")
    assert data["router_url"] == cluster.router_url and data["router_admin_url"] == cluster.router_admin_url
    assert data["time_scale"] == SCALE
    assert data["db"] == f"sqlite:///{cluster.state_dir / 'bbs.sqlite3'}"
    assert data["tls"] is None
    assert set(data["components"]) >= {"bbs", "auctioneer", "router", "route_emitter"}
    for name, component in data["components"].items():
        assert psutil.pid_exists(component["pid"]), name
        run_file = cluster.state_dir / "run" / f"{name}.json"
        if run_file.exists():
            assert json.loads(run_file.read_text())["pid"] == component["pid"], name
    assert [(c["cell_id"], c["zone"], c["address"]) for c in data["cells"]] == [
        ("cell-0", "z0", "127.1.0.1"), ("cell-1", "z1", "127.1.0.2"),
        ("cell-2", "z0", "127.1.0.3"), ("cell-3", "z1", "127.1.0.4")]
    assert len({c["pid"] for c in data["cells"]}) == 4  # each cell its own process
    assert all(c["rep_url"].startswith(f"http://{c['address']}:") for c in data["cells"])
    assert present_cells(cluster) == {"cell-0", "cell-1", "cell-2", "cell-3"}


def test_every_metrics_url_serves_the_metrics_agents_format(cluster):
    assert set(cluster.metrics_urls) >= {"bbs", "auctioneer", "router", "route_emitter", "cell-0", "cell-3"}
    for name, url in cluster.metrics_urls.items():
        response = requests.get(url, timeout=5)
        assert response.status_code == 200, name
        assert "# HELP" in response.text and "Metrics Agent collected metric" in response.text, name
    emitter = requests.get(cluster.metrics_urls["route_emitter"], timeout=5).text
    assert "RoutesTotal" in exposition_values(emitter, ["RoutesTotal"])


def test_cells_get_the_configured_capacity(cluster):
    state = requests.get(f"{cluster.cells[0].rep_url}/state", timeout=5).json()  # Diego's rep.CellState
    assert state["TotalResources"]["MemoryMB"] == 4096
    assert (state["Zone"], state["cell_index"]) == ("z0", 0)


def test_log_paths_exist(cluster):
    for name in ("bbs", "router", "route_emitter", "cell-0"):
        assert cluster.log_paths[name].exists(), name


def test_attach_reads_the_same_cluster(cluster):
    attached = EmbeddedCluster.attach(cluster.state_dir)
    assert attached.to_json() == cluster.to_json()
    assert [c.pid for c in attached.cells] == [c.pid for c in cluster.cells]
    assert all(c.alive for c in attached.cells)


def test_attach_to_a_dir_without_a_cluster_says_how_to_start_one(tmp_path):
    with pytest.raises(cluster_state.ClusterStateError, match="cluster up --state-dir"):
        EmbeddedCluster.attach(tmp_path)


def test_kill_and_restart_a_cell(cluster):
    cell = cluster.cells[1]
    old_pid = cell.pid
    assert cluster.kill_cell("cell-1")
    wait_until(lambda: not cluster.cells[1].alive, 5, "cell-1 to die")
    assert not ProcessInfo(old_pid, cell.create_time).is_ours()  # gone, even if its pid was reused
    assert all(c.alive for c in cluster.cells if c.cell_id != "cell-1")
    wait_until(lambda: "cell-1" not in present_cells(cluster), 15, "cell-1's presence to expire")

    restarted = cluster.restart_cell("cell-1")
    assert restarted.pid != old_pid and restarted.alive
    assert restarted.address == "127.1.0.2" and restarted.zone == "z1"
    wait_until(lambda: "cell-1" in present_cells(cluster), 15, "cell-1 to be present again")
    on_disk = cluster_state.read(cluster.state_dir)
    assert next(c.pid for c in on_disk.cells if c.cell_id == "cell-1") == restarted.pid
    assert EmbeddedCluster.attach(cluster.state_dir).cells[1].pid == restarted.pid


def test_pause_and_resume(cluster):
    router = psutil.Process(cluster_state.read(cluster.state_dir).components["router"].pid)
    assert cluster.pause("router")
    wait_until(lambda: router.status() == psutil.STATUS_STOPPED, 5, "router to stop")
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(f"{cluster.router_status_url}/routes", timeout=0.5)
    assert cluster.resume("router")
    assert requests.get(f"{cluster.router_status_url}/routes", timeout=5).status_code == 200


def test_freeze_and_thaw_a_cell(cluster):
    cell = psutil.Process(cluster.cells[2].pid)
    assert cluster.freeze_cell("cell-2")
    wait_until(lambda: cell.status() == psutil.STATUS_STOPPED, 5, "cell-2 to stop")
    with pytest.raises(requests.exceptions.Timeout):  # it takes the connection, answers nothing
        requests.get(f"{cluster.cells[2].rep_url}/ping", timeout=0.5)
    wait_until(lambda: "cell-2" not in present_cells(cluster), 15, "cell-2's presence to lapse")
    assert cluster.thaw_cell("cell-2")
    assert cell.status() != psutil.STATUS_STOPPED
    wait_until(lambda: "cell-2" in present_cells(cluster), 15, "cell-2 to be present again")
    with pytest.raises(ClusterError, match="no cell 'cell-9'"):
        cluster.freeze_cell("cell-9")


def test_database_faults_need_the_clusters_own_postgres(cluster):
    for fault in (cluster.kill_database, cluster.restart_database):
        with pytest.raises(ClusterError, match=r"its BBS store is sqlite:///.*db='postgresql'"):
            fault()


@pytest.mark.parametrize("name", ["router", "auctioneer", "route_emitter"])
def test_a_restarted_component_keeps_its_addresses(cluster, name):
    before = cluster_state.read(cluster.state_dir)
    old_pid = before.components[name].pid
    cluster.restart(name)
    after = cluster_state.read(cluster.state_dir)
    assert after.components[name].pid != old_pid
    assert (after.router_url, after.router_admin_url, after.auctioneer_url) == (
        before.router_url, before.router_admin_url, before.auctioneer_url)
    if name != "route_emitter":  # the route emitter listens for its metrics only, found in cluster.json
        assert after.components[name].url == before.components[name].url
    assert RouteTable(cluster.router_status_url, timeout=5).read().routes is not None  # still serving
    wait_until(lambda: present_cells(cluster) == {"cell-0", "cell-1", "cell-2", "cell-3"}, 15,
               "every cell present after the restart")


def test_locket_holds_the_bbs_lock_and_every_cells_presence(cluster):
    data = json.loads((cluster.state_dir / "cluster.json").read_text())
    assert data["locket_address"] == cluster.locket_address == data["components"]["locket"]["url"]
    assert data["locket_address"].startswith("127.0.0.1:")
    assert "locket" in cluster.metrics_urls and cluster.log_paths["locket"].name == "locket.log"
    with cluster.locket_client(timeout=5) as locket:
        locks = [(r.key, r.owner) for r in locket.fetch_all("lock")]
    assert locks == [("bbs", data["config"]["bbs_lock_owner"])]
    with cluster.locket_client(timeout=5) as locket:
        presences = {r.key: json.loads(r.value) for r in locket.fetch_all("presence")}
    assert set(presences) == {"cell-0", "cell-1", "cell-2", "cell-3"}
    assert presences["cell-2"]["zone"] == "z0" and presences["cell-2"]["capacity"]["memory_mb"] == 4096
    bbs_metrics = exposition_values(requests.get(cluster.metrics_urls["bbs"], timeout=5).text, ["LockHeld"])
    assert bbs_metrics == {"LockHeld": 1}


def test_a_restarted_locket_keeps_its_address_and_the_bbs_and_cells_come_back(cluster):
    before = cluster_state.read(cluster.state_dir)
    cluster.kill("locket")
    cluster.restart("locket")
    after = cluster_state.read(cluster.state_dir)
    assert after.components["locket"].pid != before.components["locket"].pid
    assert after.locket_address == before.locket_address
    assert after.components["locket"].extra["health_url"] == before.components["locket"].extra["health_url"]

    def every_cell_present() -> bool:  # the BBS's channel may still be backing off: an error in band
        try:
            return present_cells(cluster) == {"cell-0", "cell-1", "cell-2", "cell-3"}
        except BBSClientError:
            return False

    wait_until(every_cell_present, 15, "every cell present after Locket's restart")
    with cluster.locket_client(timeout=5) as locket:
        assert locket.fetch("bbs").owner == after.config["bbs_lock_owner"]


def test_a_restarted_bbs_holds_its_lock_under_the_same_owner(cluster):
    cluster.kill_bbs()
    cluster.restart_bbs()  # waits for the BBS's run file: written once it holds the lock
    with cluster.client(timeout=5) as client:
        assert client.ping() is True
    with cluster.locket_client(timeout=5) as locket:
        assert locket.fetch("bbs").owner == cluster_state.read(cluster.state_dir).config["bbs_lock_owner"]


def test_unknown_names_are_clear_errors(cluster):
    with pytest.raises(ClusterError, match="no component or cell named 'nope'"):
        cluster.kill("nope")
    with pytest.raises(ClusterError, match="no cell 'cell-99'"):
        cluster.restart_cell("cell-99")


def test_wipe_store_needs_the_bbs_stopped(cluster):
    with pytest.raises(ClusterError, match="stop it first"):
        cluster.wipe_store()


def test_second_cluster_in_a_running_state_dir_is_refused(cluster):
    with pytest.raises(ClusterConfigError, match=r"already running.*cluster down"):
        EmbeddedCluster.start(ClusterConfig(cells=1, state_dir=cluster.state_dir))


def test_restart_bbs_keeps_address_and_store(tmp_path: Path):
    with EmbeddedCluster.start(ClusterConfig(cells=1, time_scale=SCALE, state_dir=tmp_path)) as c:
        with c.client() as client:
            client.upsert_domain("kept", 0)
        url, health = c.bbs_url, c.bbs_health_url
        assert c.kill_bbs(signal.SIGKILL)
        with pytest.raises(BBSClientError), c.client(timeout=2) as client:
            client.domains()
        c.restart_bbs()
        assert (c.bbs_url, c.bbs_health_url) == (url, health)
        with c.client() as client:
            assert client.domains() == ["kept"]
        c.kill_bbs()
        c.wipe_store()
        c.restart_bbs()
        with c.client() as client:
            assert client.domains() == []


def test_tls_cluster_serves_clients_with_the_cluster_certificates(tmp_path: Path):
    with EmbeddedCluster.start(ClusterConfig(cells=1, tls=True, time_scale=SCALE, state_dir=tmp_path)) as c:
        assert c.bbs_url.startswith("https://127.0.0.1:")
        data = json.loads((tmp_path / "cluster.json").read_text())
        for key in ("ca_file", "cert_file", "key_file"):
            assert Path(data["tls"][key]).is_file() and data["tls"][key].startswith(str(tmp_path / "tls"))
        with c.client() as client:
            assert [cell.cell_id for cell in client.cells()] == ["cell-0"]
        from pytest_diego.bbs import BBSClient

        with pytest.raises(BBSClientError), BBSClient(c.bbs_url, ca_file=c.ca_file, timeout=5) as anonymous:
            anonymous.cells()  # no client certificate: the BBS refuses
        # the cell's rep API is mutual TLS too, and the auctioneer and the BBS speak it: a Task
        # is placed, run and completed, an LRP instance placed and then stopped through the rep
        assert c.cells[0].rep_url.startswith("https://127.1.0.1:")
        with pytest.raises(RepError):
            RepClient().state(c.cells[0].rep_url)
        with c.client() as client:
            client.desire_task("tls-task", "tls", task_definition())
            wait_until(lambda: client.task_by_guid("tls-task").state == models.Task.Completed, 20,
                       "the Task to complete on the TLS cell")
            assert not client.task_by_guid("tls-task").failed
            client.desire_lrp(desired_lrp("tls-app", domain="tls", instances=1, memory_mb=64, disk_mb=64))
            wait_until(lambda: [a.state for a in client.actual_lrps(process_guid="tls-app")] == ["RUNNING"],
                       20, "the instance to run on the TLS cell")
            client.remove_desired_lrp("tls-app")
            wait_until(lambda: client.actual_lrps(process_guid="tls-app") == [], 20,
                       "the instance stopped through the rep's stop route")


def test_stop_leaves_no_process(tmp_path: Path):
    c = EmbeddedCluster.start(ClusterConfig(cells=3, time_scale=SCALE, state_dir=tmp_path))
    procs = cluster_processes(cluster_state.read(tmp_path))
    assert len(procs) >= 3 + 4 and all(p.is_ours() for p in procs.values())
    c.pause("cell-2")  # a paused process must still be stopped
    c.stop()
    assert [name for name, p in procs.items() if p.is_ours()] == []
    assert (tmp_path / "logs" / "bbs.log").exists()  # logs stay


def test_cell_restarted_by_an_attached_process_outlives_it_and_is_stopped_by_the_owner(tmp_path: Path):
    owner = EmbeddedCluster.start(ClusterConfig(cells=2, time_scale=SCALE, state_dir=tmp_path))
    try:
        worker = subprocess.run(
            [sys.executable, "-c", "import sys; from pytest_diego.cluster import EmbeddedCluster; "
             "print(EmbeddedCluster.attach(sys.argv[1]).restart_cell('cell-0').pid)", str(tmp_path)],
            capture_output=True, text=True, timeout=60)
        assert worker.returncode == 0, worker.stderr
        new_pid = int(worker.stdout)
        owner.restart_bbs()  # the owner writes cluster.json after the worker did
        on_disk = cluster_state.read(tmp_path)
        cell = next(c for c in on_disk.cells if c.cell_id == "cell-0")
        assert cell.pid == new_pid
        new_cell = ProcessInfo(cell.pid, cell.create_time)
        assert new_cell.is_ours()  # the worker has exited; the cell lives on
        wait_until(lambda: "cell-0" in present_cells(owner), 15, "the restarted cell to be present")
    finally:
        owner.stop()
    assert not new_cell.is_ours()


def test_postgres_store_survives_restart_and_is_wiped(tmp_path: Path, postgres_server: PostgresServer):
    dsn = fresh_database(postgres_server, "launcher_wipe")
    with EmbeddedCluster.start(
            ClusterConfig(cells=1, time_scale=SCALE, db=dsn, state_dir=tmp_path / "cluster")) as c:
        assert json.loads((tmp_path / "cluster" / "cluster.json").read_text())["db"] == redact_dsn(dsn)
        with c.client() as client:
            client.upsert_domain("kept", 0)
        c.kill_bbs()
        c.restart_bbs()
        with c.client() as client:
            assert client.domains() == ["kept"]
        c.kill_bbs()
        c.wipe_store()
        c.restart_bbs()
        with c.client() as client:
            assert client.domains() == []
