"""``python -m pytest_diego cells`` joining a Diego from outside: the embedded cluster's Locket and
BBS stand for a real Diego. Hollow cells in two worker processes show up in the BBS's cells, get
work from the auctioneer, run it, answer on their instance ports at the address in the
ActualLRP's net info, and on SIGINT leave cleanly: presences gone, instances moved to the cell
that stays, nothing lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from pytest_diego.cluster import ClusterConfig, EmbeddedCluster
from pytest_diego.workload.builders import desired_lrp

REPO = Path(__file__).resolve().parents[2]
SCALE = 0.1


def wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def all_running(bbs, process_guid: str, instances: int) -> list | None:
    """The LRP's RUNNING ActualLRPs once all ``instances`` run, else None."""
    running = [a for a in bbs.actual_lrps(process_guid=process_guid) if a.state == "RUNNING"]
    return running if len(running) == instances else None


def tls_options(state_dir: Path) -> list[str]:
    """What an operator passes to join a Diego with TLS: cfdot's client certificate for the BBS
    and Locket, and the CA that signs the reps' certificates with its key."""
    tls = json.loads((state_dir / "cluster.json").read_text())["tls"]
    return ["--ca", tls["ca_file"], "--cert", tls["cert_file"], "--key", tls["key_file"],
            "--rep-ca", tls["ca_file"], "--rep-ca-key", tls["ca_key_file"]]


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "mutual-tls"])
def test_hollow_cells_join_run_work_and_leave_cleanly(tmp_path: Path, tls: bool):
    config = ClusterConfig(cells=1, time_scale=SCALE, state_dir=tmp_path / "diego", cell_memory_mb=2048,
                           tls=tls)
    with EmbeddedCluster.start(config) as diego, diego.client(timeout=10) as bbs:
        command = [
            sys.executable,
            "-m",
            "pytest_diego",
            "cells",
            "--count",
            "3",
            "--processes",
            "2",
            "--bbs-url",
            diego.bbs_url,
            "--locket-address",
            diego.locket_address,
            "--zone",
            "z1",
            "--zone",
            "z2",
            "--address",
            "127.1.98.1",
            "--address",
            "127.1.98.2",
            "--id-prefix",
            "hollow",
            "--time-scale",
            str(SCALE),
            "--evacuation-timeout",
            "20",
            "--memory-mb",
            "2048",
            "--log-dir",
            str(tmp_path / "logs"),
            *(tls_options(tmp_path / "diego") if tls else []),
        ]
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            start_new_session=True,
        )
        try:
            wait(
                lambda: {c.cell_id for c in bbs.cells()} >= {"hollow-0", "hollow-1", "hollow-2"},
                30,
                "the hollow cells in the BBS's cells",
            )
            presences = {c.cell_id: c for c in bbs.cells()}
            scheme = "https" if tls else "http"  # the auctioneer and the BBS call reps with mutual TLS
            assert presences["hollow-1"].zone == "z2" and presences["hollow-1"].rep_url.startswith(
                f"{scheme}://127.1.98.2:"
            )

            bbs.desire_lrp(desired_lrp("joined", domain="hollow", instances=8, memory_mb=64, disk_mb=64))
            running = wait(
                lambda: all_running(bbs, "joined", 8),
                30,
                "8 RUNNING instances",
            )
            on_hollow = [a for a in running if a.actual_lrp_instance_key.cell_id.startswith("hollow-")]
            assert on_hollow, "the auctioneer gave the hollow cells no work"
            for lrp in on_hollow:
                net = lrp.actual_lrp_net_info
                body = requests.get(f"http://{net.address}:{net.ports[0].host_port}/", timeout=5).json()
                assert body["instance_guid"] == lrp.actual_lrp_instance_key.instance_guid

            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C at a terminal reaches the whole group
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            assert "3 hollow cells joined" in out
            assert {c.cell_id for c in bbs.cells()} == {"cell-0"}  # presences released at once
            after = wait(
                lambda: all_running(bbs, "joined", 8),
                30,
                "the 8 instances running again",
            )
            assert {a.actual_lrp_instance_key.cell_id for a in after} == {"cell-0"}
            logs = [
                json.loads(line)["message"]
                for line in (tmp_path / "logs" / "hollow-0.log").read_text().splitlines()
            ]
            assert "rep.evacuating.started" in logs and "rep.locket-lock.released-lock" in logs
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
