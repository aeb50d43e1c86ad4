"""What a hollow cell costs, and whether N of them pass the auctioneer's state fetches.

    .venv/bin/python -m benchmarks.hollow_cells [--cells 1000] [--processes 2] [--hold 30]

Starts an embedded cluster of one cell at time scale 1 (Diego's intervals: a presence refresh
every 5 s), joins ``--cells`` hollow cells to it with ``python -m pytest_diego cells`` in
``--processes`` workers, and measures: seconds until the BBS lists them all; the workers' memory
(USS, RSS) per cell; their CPU per cell per second over ``--hold`` seconds idle (presence
refreshes, bulk syncs every 30 s); Locket's and the BBS's CPU over the same window; then one
auction (a Task), with the auctioneer's AuctioneerFetchStatesDuration and failed state fetches.
Writes ``results/hollow_cells.json``.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time

import psutil
import requests

from benchmarks._common import join_hollow_cells, loadavg, memory_of, write_result
from pytest_diego.cluster import ClusterConfig, EmbeddedCluster
from pytest_diego.measure.prometheus_text import exposition_values
from pytest_diego.workload.builders import task_definition

MODULE = "benchmarks.hollow_cells"


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", type=int, default=1000)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--hold", type=float, default=30.0)
    args = p.parse_args()
    load_before = loadavg()
    with tempfile.TemporaryDirectory(prefix="pytest-diego-hollow-") as tmp:
        config = ClusterConfig(cells=1, time_scale=1.0, state_dir=tmp)
        with EmbeddedCluster.start(config) as diego, diego.client(timeout=30) as bbs:
            began = time.monotonic()
            proc = join_hollow_cells(diego, args.cells, args.processes, time_scale=1.0, base_cells=1)
            try:
                registered_s = time.monotonic() - began
                workers = [c.pid for c in psutil.Process(proc.pid).children()]
                time.sleep(5.0)
                memory = memory_of(workers)
                servers = {name: diego._process(name).pid for name in ("locket", "bbs", "auctioneer")}
                before = {
                    "workers": cpu_seconds(workers),
                    **{n: cpu_seconds([pid]) for n, pid in servers.items()},
                }
                time.sleep(args.hold)
                after = {
                    "workers": cpu_seconds(workers),
                    **{n: cpu_seconds([pid]) for n, pid in servers.items()},
                }
                cpu = {name: (after[name] - before[name]) / args.hold for name in before}
                bbs.desire_task("hollow-probe", "hollow", task_definition())
                deadline = time.monotonic() + 120
                while (
                    bbs.task_by_guid("hollow-probe").state != 3 and time.monotonic() < deadline
                ):  # Completed
                    time.sleep(0.5)
                auction = exposition_values(
                    requests.get(diego.metrics_urls["auctioneer"], timeout=10).text,
                    ["AuctioneerFetchStatesDuration", "AuctioneerFailedCellStateRequests"],
                )
                task = bbs.task_by_guid("hollow-probe")
                os.killpg(proc.pid, signal.SIGINT)
                proc.wait(120)
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
    payload = {
        "cells": args.cells,
        "processes": args.processes,
        "hold_s": args.hold,
        "registered_s": registered_s,
        "worker_uss_mib": memory["uss"] / 2**20,
        "worker_rss_mib": memory["rss"] / 2**20,
        "uss_kib_per_cell": memory["uss"] / args.cells / 1024,
        "cpu_cores": cpu,
        "worker_cpu_ms_per_cell_per_s": cpu["workers"] / args.cells * 1e3,
        "auctioneer": auction,
        "probe_task": {
            "state": task.state,
            "cell_id": task.cell_id,
            "failed": task.failed,
            "reason": task.failure_reason,
        },
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
    }
    path = write_result("hollow_cells", MODULE, payload)
    print(payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
