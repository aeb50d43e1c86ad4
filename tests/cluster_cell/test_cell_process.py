"""A cell and the auctioneer as processes: a stopped cell tells no one; both die with their parent."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from diego_processes import DiegoProcesses, desired_lrp, free_port, running


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_sigtermed_cell_closes_its_ports_and_tells_the_bbs_nothing(tmp_path: Path):
    # time scale 1: presence TTL 15 s and convergence 30 s, so nothing moves while we look
    with DiegoProcesses(tmp_path, cells=2, time_scale=1.0, address_octet=79) as d:
        d.client.desire_lrp(desired_lrp("quiet", 4))
        lrps = d.wait_for(lambda: running(d, "quiet", 4), "4 RUNNING instances")
        on_cell_1 = [a for a in lrps if a.actual_lrp_instance_key.cell_id == "cell-1"]
        assert on_cell_1
        cell = d.procs["cell-1"].popen
        cell.send_signal(signal.SIGTERM)
        assert cell.wait(10) == 0
        for lrp in on_cell_1:
            with socket.socket() as s:
                net = lrp.actual_lrp_net_info
                assert s.connect_ex((net.address, net.ports[0].host_port)) != 0
        after = {a.actual_lrp_instance_key.instance_guid: a
                 for a in d.client.actual_lrps(process_guid="quiet")}
        for lrp in on_cell_1:  # still RUNNING there: the BBS has to find out by itself
            assert after[lrp.actual_lrp_instance_key.instance_guid].state == "RUNNING"
        assert d.log_messages("cell-1", "rep.exited")


@pytest.mark.parametrize("component", ["cell", "auctioneer"])
def test_component_exits_when_its_parent_dies(tmp_path: Path, component: str):
    dead_bbs = f"http://127.0.0.1:{free_port()}"
    args = ["--state-dir", str(tmp_path), "--bbs-url", dead_bbs]
    run_file = tmp_path / "run" / ("cell-0.json" if component == "cell" else "auctioneer.json")
    if component == "cell":
        args += ["--cell-id", "cell-0", "--address", "127.1.80.1"]
    parent = textwrap.dedent(f"""
        import subprocess, sys, time, os
        child = subprocess.Popen([sys.executable, "-m", "pytest_diego.cluster.{component}", *{args!r}])
        print(child.pid, flush=True)
        while not os.path.exists({str(run_file)!r}):
            time.sleep(0.02)
        os._exit(0)
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE)
    child = int(proc.stdout.readline())
    try:
        assert proc.wait(30) == 0
        deadline = time.monotonic() + 10
        while not gone(child):
            assert time.monotonic() < deadline, f"{component} outlived its parent"
            time.sleep(0.05)
    finally:
        if not gone(child):
            psutil.Process(child).kill()
