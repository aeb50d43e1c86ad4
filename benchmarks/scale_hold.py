"""Hold a growing number of RUNNING instances on the embedded cluster (the 10k-instance target).

    .venv/bin/python -m benchmarks.scale_hold [--cells 100] [--levels 1000,5000,10000]
        [--lrp-size 100] [--time-scale 1.0] [--hold 40] [--probes 40] [--tree DIR]
        [--hollow-cells 1000 --hollow-processes 14]

With ``--hollow-cells N`` the instances run on N cells joined from outside
(``python -m pytest_diego cells``, many cells per process) besides ``--cells``: their memory is
their workers', and RepBulkSyncDuration is read from a few of them (their admin listeners).

For each level (instances, cumulative): desire LRPs of ``--lrp-size`` instances until the level is
reached, time until all are RUNNING, then hold for ``--hold`` seconds (at least one convergence
run) while desiring ``--probes`` one-instance LRPs one after another (desire-LRP latency under the
held load). Records ConvergenceLRPDuration after the level is reached, memory (PSS) per cell, of
the BBS and per instance, and CPU seconds per component. Goals at 10,000 instances:
ConvergenceLRPDuration <= 5 s and desire-LRP p99 <= 250 ms. Writes ``results/scale_hold.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import requests

from benchmarks._common import (
    RESULTS,
    cpu_by_component,
    join_hollow_cells,
    loadavg,
    memory_of,
    percentile,
    use_tree,
    write_result,
)
from pytest_diego.cluster import ClusterConfig, EmbeddedCluster
from pytest_diego.measure.prometheus_text import exposition_values
from pytest_diego.workload.builders import desired_lrp

MODULE = "benchmarks.scale_hold"
DOMAIN = "scale"
RUNS = "ConvergenceLRPRuns"


def bbs_metric(metrics_url: str, name: str) -> float | None:
    """One metric of the BBS's /metrics by Diego's name (durations in seconds), or None."""
    return exposition_values(requests.get(metrics_url, timeout=10).text, [name]).get(name)


def running_count(client: Any) -> int:
    """RUNNING ActualLRPs in the benchmark's domain."""
    return sum(1 for a in client.actual_lrps(domain=DOMAIN) if a.state == "RUNNING")


def level(cluster: EmbeddedCluster, client: Any, target: int, have: int, args: argparse.Namespace,
          pids: dict[str, int]) -> dict[str, Any]:
    """Grow from ``have`` to ``target`` RUNNING instances, hold, and measure."""
    metrics_url = cluster.metrics_urls["bbs"]
    cpu0 = cpu_by_component(pids)
    t0 = time.perf_counter()
    sizes = []
    remaining = target - have
    while remaining > 0:
        sizes.append(min(args.lrp_size, remaining))
        remaining -= sizes[-1]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: client.desire_lrp(desired_lrp(f"hold-{uuid.uuid4().hex[:12]}", domain=DOMAIN,
                                                              instances=n, memory_mb=64, disk_mb=128)),
                      sizes))
    desired_s = time.perf_counter() - t0
    deadline = t0 + args.timeout
    running = 0
    while time.perf_counter() < deadline:
        running = running_count(client)
        if running >= target:
            break
        time.sleep(1.0)
    all_running_s = time.perf_counter() - t0 if running >= target else None
    runs_before = bbs_metric(metrics_url, RUNS) or 0.0
    spy = _profile(pids["bbs"], args, target) if args.profile_bbs and target == args.top else None
    hold_start = time.perf_counter()
    hold_end = hold_start + args.hold
    latencies = []
    series = []
    for _ in range(args.probes):
        began = time.perf_counter()
        client.desire_lrp(desired_lrp(f"probe-{uuid.uuid4().hex[:12]}", domain="probe", instances=1))
        latencies.append(time.perf_counter() - began)
        series.append((round(began - hold_start, 3), round(latencies[-1] * 1e3, 2)))
        time.sleep(max(0.0, args.hold / max(args.probes, 1) - latencies[-1]))
    if spy is not None:
        spy.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT; it can lag behind
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
    convergence: list[float] = []
    while time.perf_counter() < hold_end + 4 * 30 * args.time_scale:
        runs = bbs_metric(metrics_url, RUNS) or 0.0
        if runs > runs_before and time.perf_counter() >= hold_end:
            break
        time.sleep(1.0)
    value = bbs_metric(metrics_url, "ConvergenceLRPDuration")
    if value is not None:
        convergence.append(value)
    lat = sorted(latencies)
    cell_pids = [c.pid for c in cluster.cells] + list(args.hollow_pids)
    cells_mem = memory_of(cell_pids)
    bbs_mem = memory_of([pids["bbs"]])
    bulk_sync = _bulk_sync_durations(client, args.cells) if args.hollow_cells else None
    cpu1 = cpu_by_component(pids)
    return {
        "instances": target, "running": running, "desired_s": desired_s, "all_running_s": all_running_s,
        "placed_per_s": (target - have) / all_running_s if all_running_s else None,
        "desire_lrp_ms": {"p50": percentile(lat, 50) * 1e3, "p99": percentile(lat, 99) * 1e3,
                          "max": lat[-1] * 1e3, "n": len(lat)},
        "convergence_lrp_duration_s": convergence[-1] if convergence else None,
        "convergence_runs_seen": (bbs_metric(metrics_url, RUNS) or 0.0) - runs_before,
        "cells_pss_mib": cells_mem["pss"] / 2**20,
        "cells_uss_mib": cells_mem["uss"] / 2**20,
        "per_cell_pss_mib": cells_mem["pss"] / 2**20 / (len(cluster.cells) + args.hollow_cells),
        "rep_bulk_sync_duration_s": bulk_sync,
        "bbs_pss_mib": bbs_mem["pss"] / 2**20,
        "cpu_s": {k: round(cpu1.get(k, 0.0) - cpu0.get(k, 0.0), 2) for k in cpu1},
        "loadavg": loadavg(),
        "probe_series_s_ms": series,
    }


def _bulk_sync_durations(client: Any, skip: int, sample: int = 10) -> dict[str, float]:
    """RepBulkSyncDuration of ``sample`` hollow cells (their admin listener is the presence's
    rep_address): max and median, seconds."""
    hollow = sorted((c for c in client.cells() if c.cell_id.startswith("hollow-")), key=lambda c: c.cell_id)
    values = []
    for cell in hollow[:: max(1, len(hollow) // sample)][:sample]:
        value = exposition_values(requests.get(f"{cell.rep_address}/metrics", timeout=10).text,
                                  ["RepBulkSyncDuration"]).get("RepBulkSyncDuration")
        if value is not None:
            values.append(value)
    values.sort()
    return {"max": values[-1], "median": values[len(values) // 2], "cells": len(values)} if values else {}


def _profile(pid: int, args: argparse.Namespace, target: int) -> subprocess.Popen[bytes]:
    """py-spy the BBS during the hold (raw collapsed stacks at 5 Hz: it lags at higher rates)."""
    out = RESULTS / f"profile_bbs_hold_{target}.txt"
    spy = str(Path(sys.executable).with_name("py-spy"))
    argv = [spy, "record", "-p", str(pid), "-f", "raw", "-o", str(out), "-d", str(int(args.hold)),
            "-r", "5", "--nonblocking"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=100)
    parser.add_argument("--levels", default="1000,5000,10000")
    parser.add_argument("--lrp-size", type=int, default=100)
    parser.add_argument("--containers", type=int, default=None, help="per cell (default 250)")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--hold", type=float, default=40.0)
    parser.add_argument("--probes", type=int, default=40)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--name", default="scale_hold")
    parser.add_argument("--tree", metavar="DIR", default=None,
                        help="run the cluster's processes from this checkout (an earlier commit) instead")
    parser.add_argument("--profile-bbs", action="store_true",
                        help="py-spy the BBS while holding the top level")
    parser.add_argument("--hollow-cells", type=int, default=0,
                        help="cells joining from outside, besides --cells")
    parser.add_argument("--hollow-processes", type=int, default=4,
                        help="worker processes of the hollow cells")
    args = parser.parse_args()
    use_tree(args.tree)
    levels = [int(x) for x in args.levels.split(",")]
    args.top = levels[-1]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pytest-diego-hold-") as state_dir:
        began = time.perf_counter()
        cluster = EmbeddedCluster.start(ClusterConfig(cells=args.cells, time_scale=args.time_scale,
                                                      state_dir=Path(state_dir), start_timeout=300,
                                                      cell_containers=args.containers))
        hollow = (join_hollow_cells(cluster, args.hollow_cells, args.hollow_processes, args.time_scale,
                                    args.cells) if args.hollow_cells else None)
        args.hollow_pids = [c.pid for c in psutil.Process(hollow.pid).children()] if hollow else []
        up = time.perf_counter() - began
        try:
            pids = {name: info.pid for name, info in cluster.processes()}
            all_cells = [c.pid for c in cluster.cells] + args.hollow_pids
            idle = {"cells_pss_mib": memory_of(all_cells)["pss"] / 2**20,
                    "bbs_pss_mib": memory_of([pids["bbs"]])["pss"] / 2**20}
            client = cluster.client(timeout=60)
            have = 0
            for target in levels:
                r = level(cluster, client, target, have, args, pids)
                results.append(r)
                print(json.dumps(r), flush=True)
                have = target
                if r["all_running_s"] is None:
                    break
            client.close()
        finally:
            if hollow is not None:
                os.killpg(hollow.pid, signal.SIGKILL)
                hollow.wait(30)
            cluster.stop()
    for r in results:
        grown = r["cells_pss_mib"] - idle["cells_pss_mib"]
        r["cell_mem_per_instance_kib"] = grown * 1024 / r["instances"]
        r["bbs_mem_per_instance_kib"] = (r["bbs_pss_mib"] - idle["bbs_pss_mib"]) * 1024 / r["instances"]
    top = results[-1] if results else {}
    goals = {"instances": top.get("instances"),
             "convergence_le_5s": (top.get("convergence_lrp_duration_s") or 99) <= 5.0,
             "desire_p99_le_250ms": top.get("desire_lrp_ms", {}).get("p99", 1e9) <= 250.0}
    path = write_result(args.name, MODULE, {"config": vars(args), "cells_up_s": up, "idle": idle,
                                            "levels": results, "goals_met": goals})
    print(json.dumps(goals))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
