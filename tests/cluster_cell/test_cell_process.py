"""A cell and the auctioneer as processes: a stopped cell tells no one; both die with their parent."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest
from diego_processes import DiegoProcesses, desired_lrp, running

from tests.support.components import assert_dies_with_its_parent
from tests.support.ports import free_port, free_url
from tests.support.waits import wait_until


def test_a_sigtermed_cell_closes_its_ports_and_tells_the_bbs_nothing(tmp_path: Path):
    # time scale 1: presence TTL 15 s and convergence 30 s, so nothing moves while we look
    with DiegoProcesses(tmp_path, cells=2, time_scale=1.0, address_octet=79) as d:
        d.client.desire_lrp(desired_lrp("quiet", 4))
        lrps = wait_until(lambda: running(d, "quiet", 4), 30, "4 RUNNING instances")
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
        # its presence is released, as Diego's rep's presence runner does when signalled
        assert [c.cell_id for c in d.client.cells()] == ["cell-0"]
        assert d.log_messages("cell-1", "rep.locket-lock.released-lock")
        assert d.log_messages("cell-1", "rep.exited")


@pytest.mark.parametrize("component", ["cell", "auctioneer"])
def test_component_exits_when_its_parent_dies(tmp_path: Path, component: str):
    args = ["--bbs-url", free_url()]  # a BBS that is not there: the component starts all the same
    if component == "cell":
        dead_locket = f"127.0.0.1:{free_port()}"  # its first presence attempt waits for it 0.5 s
        args += ["--cell-id", "cell-0", "--address", "127.1.80.1", "--locket-address", dead_locket,
                 "--time-scale", "0.1"]
    assert_dies_with_its_parent(component, tmp_path, *args, name="cell-0" if component == "cell" else None)
