"""The embedded cluster's own PostgreSQL server under the BBS, as a fault of its own.

With ``db="postgresql"`` the cluster runs a PostgreSQL server as one of its components; killing
it (SIGKILL of the postmaster) is the database VM dying, and the BBS must ride it out as Diego's
does: errors while the database is gone, every acknowledged desire still there once it is back,
new desires served without restarting the BBS.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
from launcher_helpers import cluster_processes, still_running

from pytest_diego.bbs.errors import BBSClientError
from pytest_diego.cluster import ClusterConfig, EmbeddedCluster, postgres
from pytest_diego.cluster import state as cluster_state
from pytest_diego.cluster.process import ProcessInfo
from pytest_diego.measure import Measurements, SetCheck
from pytest_diego.workload import OpenModel, task_definition
from tests.support.waits import wait_until

SCALE = 0.1
DOMAIN = "db-kill"
RATE = 30.0  # Task desires per second, open model: the load does not wait for the BBS
BEFORE, OUTAGE, AFTER = 2.0, 3.0, 4.0  # seconds of load before the kill, killed, after the restart
RECOVERY = 2.0
"""Seconds from the database taking connections again to the BBS serving: it retries every 0.5 s,
then reloads its records."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    config = ClusterConfig(cells=2, time_scale=SCALE, db="postgresql",
                           state_dir=tmp_path_factory.mktemp("own-postgres"))
    with EmbeddedCluster.start(config) as started:
        yield started


def postmaster(cluster: EmbeddedCluster) -> ProcessInfo:
    record = cluster_state.read(cluster.state_dir).components["postgres"]
    return ProcessInfo(record.pid, record.create_time)


def test_cluster_json_records_the_database_without_its_password(cluster):
    data = json.loads((cluster.state_dir / "cluster.json").read_text())
    record = data["components"]["postgres"]
    port = record["port"]
    assert record["url"] == f"postgresql://diego@127.0.0.1:{port}/diego"
    assert data["db"] == f"postgresql://diego:***@127.0.0.1:{port}/diego"
    secret = cluster_state.dsn_file(cluster.state_dir)
    assert secret.stat().st_mode & 0o077 == 0 and cluster.db.startswith("postgresql://diego:")
    password = urlsplit(cluster.db).password
    assert password and password not in (cluster.state_dir / "cluster.json").read_text()
    assert postmaster(cluster).is_ours() and cluster.alive("postgres")
    server = psutil.Process(record["pid"])
    assert {c.laddr for c in server.net_connections("tcp") if c.status == psutil.CONN_LISTEN} == {
        ("127.0.0.1", port)}  # TCP on loopback only, no other address
    assert Path(record["data_dir"], "PG_VERSION").exists()
    if record["scratch_dir"]:  # as root: a data dir outside the state dir, kept while it is in use
        assert Path(record["scratch_dir"]) not in postgres.sweep_scratch()


def test_a_postgresql_kill_under_load_loses_no_acknowledged_desire(cluster):
    """The acceptance check: SIGKILL the database mid-load, start it again, then every Task the
    BBS acknowledged is there, and desires succeed again soon after the database is back."""
    tasks = SetCheck()
    failed_at: list[tuple[float, str]] = []  # seconds into the load, error
    acked_at: list[float] = []
    moments: dict[str, float] = {}

    def desire(i: int) -> None:
        guid = f"db-kill-{i}"
        tasks.attempt(guid)
        at = time.monotonic() - started
        try:  # sleeping Tasks: none completes and is cleaned up before the final read
            client.desire_task(guid, DOMAIN, task_definition(command="sleep 600"))
        except BBSClientError as exc:
            failed_at.append((at, str(exc)))
            raise
        tasks.acknowledge(guid)
        acked_at.append(at)

    def nemesis() -> None:
        time.sleep(BEFORE)
        moments["kill"] = time.monotonic() - started
        assert cluster.kill_database()
        time.sleep(max(0.0, BEFORE + OUTAGE - (time.monotonic() - started)))
        cluster.restart_database()
        moments["restarted"] = time.monotonic() - started

    with cluster.client(timeout=10) as client:
        started = time.monotonic()
        faults = threading.Thread(target=nemesis)
        faults.start()
        result = OpenModel(rate=RATE, duration=BEFORE + OUTAGE + AFTER).run(desire, Measurements())
        faults.join()
        client.desire_task("db-kill-after", DOMAIN, task_definition(command="sleep 600"))  # served again
        tasks.read({t.task_guid for t in client.tasks(domain=DOMAIN)})
    outcome = tasks.result()
    assert outcome.lost == set(), f"acknowledged desires lost: {sorted(outcome.lost)[:10]}"
    assert set(moments) == {"kill", "restarted"} and result.dropped == 0, (moments, result)
    assert failed_at, "no desire failed: the database outage never reached the BBS"
    assert all("UnknownError" in error for _, error in failed_at), failed_at[:5]  # Diego's, in band
    first, last = min(at for at, _ in failed_at), max(at for at, _ in failed_at)
    assert first >= moments["kill"], f"desires failed before the kill: {failed_at[:3]}"
    recovered = moments["restarted"] + RECOVERY
    assert last <= recovered, f"desires still failed {last - moments['restarted']:.1f} s after the restart"
    assert min(acked_at) < moments["kill"] and max(acked_at) > recovered, (moments, result)


def test_restart_database_keeps_port_and_data(cluster):
    before = cluster_state.read(cluster.state_dir).components["postgres"]
    with cluster.client(timeout=10) as client:
        client.upsert_domain("kept-across-restarts", 0)
        cluster.restart_database()  # a running server is stopped first
        after = cluster_state.read(cluster.state_dir).components["postgres"]
        assert after.pid != before.pid and after.extra["port"] == before.extra["port"]
        assert not ProcessInfo(before.pid, before.create_time).is_ours()
        wait_until(lambda: _domains(client), 10, "the BBS to serve again")
        assert "kept-across-restarts" in _domains(client)


def _domains(client) -> list[str] | None:
    try:
        return client.domains()
    except BBSClientError:
        return None


def test_stop_leaves_no_database_process(tmp_path: Path):
    c = EmbeddedCluster.start(ClusterConfig(cells=1, time_scale=SCALE, db="postgresql", state_dir=tmp_path))
    record = cluster_state.read(tmp_path).components["postgres"]
    backends = psutil.Process(record.pid).children()
    procs = cluster_processes(cluster_state.read(tmp_path))
    assert "postgres" in procs and backends
    c.kill_database()
    c.restart_database()  # the restarted server is stopped too
    procs["postgres (restarted)"] = postmaster(c)
    backends += psutil.Process(procs["postgres (restarted)"].pid).children()
    c.stop()
    assert [name for name, p in procs.items() if p.is_ours()] == []
    assert still_running(backends) == []
    scratch = record.extra["scratch_dir"]
    assert not scratch or not Path(scratch).exists()  # the root-only data dir outside the state dir
