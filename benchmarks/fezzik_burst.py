"""Diego's fezzik burst on the embedded cluster: N cells, T Tasks plus one LRP of I instances.

    .venv/bin/python -m benchmarks.fezzik_burst [--cells 100] [--tasks 4000] [--instances 4000]
        [--time-scale 1.0] [--rounds 1] [--profile bbs,cell-0] [--baseline-pythonpath DIR]
        [--hollow-cells 1000 --hollow-processes 4]

With ``--hollow-cells N`` the cluster keeps ``--cells`` of its own and N more cells join it from
outside (``python -m pytest_diego cells`` in ``--hollow-processes`` workers, many cells each),
as they would join a real Diego; the burst then spreads over all of them.

Per round: start the cluster (timed: "cells up"), then at t=0 desire the LRP and the Tasks at once
(zero simulated container time), and time until every Task is COMPLETED, every ActualLRP is
RUNNING, the router lists every instance, and every instance has answered through the router
(distinct ``index`` values seen in proxied responses). Also: desire latency percentiles, CPU
seconds spent by each component during the burst, memory (PSS) of the whole cluster and per cell.
Goals (embedded cluster scale targets): cells up <= 30 s; burst complete and routable <= 40 s. Writes
``benchmarks/results/fezzik_burst.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
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
    summary,
    use_tree,
    write_result,
)
from pytest_diego.bbs import BBSClient, models
from pytest_diego.cluster import ClusterConfig, EmbeddedCluster
from pytest_diego.measure import RouteTable
from pytest_diego.workload.builders import app_hostname
from pytest_diego.workload.mix import fezzik_lrp, fezzik_task_definition

MODULE = "benchmarks.fezzik_burst"
DOMAIN = "fezzik"
POLL = 0.5


def _profile(name: str, pid: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    """py-spy ``pid`` for the burst (raw collapsed stacks; 10 Hz: the BBS runs a thread per connection)."""
    out = RESULTS / f"profile_fezzik_{name}.txt"
    spy = str(Path(sys.executable).with_name("py-spy"))
    argv = [spy, "record", "-p", str(pid), "-f", "raw", "-o", str(out), "-d", str(int(args.timeout)),
            "-r", "10", "--nonblocking"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _component_pids(cluster: EmbeddedCluster) -> dict[str, int]:
    """Component or cell name -> pid."""
    return {name: info.pid for name, info in cluster.processes()}


def _desire_all(client: BBSClient, lrp_guid: str, instances: int, task_guids: list[str],
                workers: int) -> tuple[list[float], float]:
    """Desire the LRP and every Task through ``workers`` threads; desire latencies and last-ack time."""
    latencies: list[float] = []
    lock = threading.Lock()
    start = time.perf_counter()

    def timed(fn: Any, *args: Any) -> None:
        began = time.perf_counter()
        fn(*args)
        with lock:
            latencies.append(time.perf_counter() - began)

    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(timed, client.desire_lrp, fezzik_lrp(lrp_guid, instances, DOMAIN))]
        futures += [pool.submit(timed, client.desire_task, g, DOMAIN, fezzik_task_definition(g))
                    for g in task_guids]
        for f in futures:
            f.result()
    return latencies, time.perf_counter() - start


def _probe_through_router(router_url: str, hostname: str, instances: int, deadline: float,
                          threads: int = 8) -> tuple[int, int]:
    """GET the app through the router until every index answered; (distinct indices, requests)."""
    seen: set[int] = set()
    sent = [0]
    lock = threading.Lock()
    budget = instances * 4

    def worker() -> None:
        session = requests.Session()
        session.trust_env = False
        while time.perf_counter() < deadline:
            with lock:
                if len(seen) >= instances or sent[0] >= budget:
                    return
                sent[0] += 1
            try:
                r = session.get(router_url, headers={"Host": hostname}, timeout=5)
            except requests.RequestException:
                continue
            if r.status_code == 200:
                with lock:
                    seen.add(int(r.json()["index"]))

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return len(seen), sent[0]


def _route_count(routes: RouteTable, hostname: str) -> int:
    """Endpoints the router lists for ``hostname``."""
    return routes.read().app_routes([hostname])[hostname].endpoints


def one_round(args: argparse.Namespace, state_dir: Path) -> dict[str, Any]:
    """Start a cluster, run one burst, measure it, stop the cluster."""
    load_before = loadavg()
    began = time.perf_counter()
    cluster = EmbeddedCluster.start(ClusterConfig(cells=args.cells, time_scale=args.time_scale,
                                                  state_dir=state_dir, container_model="0",
                                                  start_timeout=300))
    hollow = (join_hollow_cells(cluster, args.hollow_cells, args.hollow_processes, args.time_scale,
                                args.cells) if args.hollow_cells else None)
    cells_up = time.perf_counter() - began
    result: dict[str, Any] = {"cells_up_s": cells_up, "loadavg_before": load_before,
                              "hollow_cells": args.hollow_cells}
    profilers: list[subprocess.Popen[bytes]] = []
    try:
        pids = _component_pids(cluster)
        result["memory_idle"] = _memory_split(cluster, pids)
        client = cluster.client(timeout=60)
        routes = RouteTable(cluster.router_status_url, timeout=10)
        lrp_guid = f"fezzik-lrp-{uuid.uuid4().hex[:8]}"
        hostname = app_hostname(lrp_guid)
        task_guids = [f"fezzik-task-{uuid.uuid4().hex}" for _ in range(args.tasks)]
        profilers = [_profile(name, pids[name], args) for name in args.profile if name in pids]
        result["profiles"] = [str(p.args[7]) for p in profilers]  # type: ignore[index]
        cpu_before = cpu_by_component(pids)
        hollow_cpu_before = _cpu_of_children(hollow.pid) if hollow is not None else 0.0
        t0 = time.perf_counter()
        deadline = t0 + args.timeout
        latencies, accepted = _desire_all(client, lrp_guid, args.instances, task_guids, args.workers)
        lat = sorted(latencies)
        result["desires"] = {"count": len(lat), "all_accepted_s": accepted,
                             "p50_ms": percentile(lat, 50) * 1e3, "p99_ms": percentile(lat, 99) * 1e3,
                             "max_ms": lat[-1] * 1e3}
        marks: dict[str, float] = {}
        while time.perf_counter() < deadline and len(marks) < 3:
            now = time.perf_counter() - t0
            # every Task was acknowledged before this loop: none left unfinished means all
            # completed (a long burst outlives the 120 s after which completed Tasks are deleted)
            if "tasks_completed_s" not in marks and not any(
                    t.state != models.Task.Completed for t in client.tasks(domain=DOMAIN)):
                marks["tasks_completed_s"] = now
            if "lrps_running_s" not in marks:
                running = sum(1 for a in client.actual_lrps(domain=DOMAIN) if a.state == "RUNNING")
                if running >= args.instances:
                    marks["lrps_running_s"] = now
            if "routes_listed_s" not in marks and _route_count(routes, hostname) >= args.instances:
                marks["routes_listed_s"] = now
            time.sleep(POLL)
        answered, sent = _probe_through_router(cluster.router_url, hostname, args.instances, deadline)
        marks["all_answered_via_router_s"] = time.perf_counter() - t0
        result.update(marks)
        result["instances_answered"] = answered
        result["probe_requests"] = sent
        result["burst_done_s"] = marks["all_answered_via_router_s"] if answered >= args.instances and \
            "tasks_completed_s" in marks else None
        cpu_after = cpu_by_component(pids)
        cpu = {k: cpu_after[k] - cpu_before.get(k, 0.0) for k in cpu_after}
        result["cpu_s_during_burst"] = {
            **{k: v for k, v in cpu.items() if k != "cells"}, "cells_total": cpu["cells"]}
        result["memory_loaded"] = _memory_split(cluster, pids)
        result["loadavg_after"] = loadavg()
        client.close()
        routes.close()
        if hollow is not None:
            result["hollow_cells_cpu_s_during_burst"] = _cpu_of_children(hollow.pid) - hollow_cpu_before
    finally:
        for profiler in profilers:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            profiler.wait(timeout=60)
        if hollow is not None:
            os.killpg(hollow.pid, signal.SIGKILL)  # the cluster goes too: no need to leave cleanly
            hollow.wait(30)
        cluster.stop()
    return result


def _cpu_of_children(pid: int) -> float:
    """CPU seconds of a process's children (the hollow cells' workers)."""
    return sum(sum(c.cpu_times()[:2]) for c in psutil.Process(pid).children())




def _memory_split(cluster: EmbeddedCluster, pids: dict[str, int]) -> dict[str, Any]:
    """PSS of the cells (total, per cell) and of each component, in MiB."""
    cells = [c.pid for c in cluster.cells]
    others = {k: v for k, v in pids.items() if not k.startswith("cell-")}
    cell_mem = memory_of(cells)
    return {"cells_pss_mib": cell_mem["pss"] / 2**20,
            "per_cell_pss_mib": cell_mem["pss"] / 2**20 / len(cells),
            "per_cell_uss_mib": cell_mem["uss"] / 2**20 / len(cells),
            "components_pss_mib": {k: memory_of([v])["pss"] / 2**20 for k, v in others.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=4000)
    parser.add_argument("--instances", type=int, default=4000)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=32, help="threads desiring in parallel")
    parser.add_argument("--timeout", type=float, default=180.0, help="give up a round after this")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--profile", default="", type=lambda v: [x for x in v.split(",") if x],
                        help="components to py-spy during the burst, e.g. bbs,auctioneer,cell-0")
    parser.add_argument("--name", default="fezzik_burst")
    parser.add_argument("--hollow-cells", type=int, default=0,
                        help="cells joining from outside, besides --cells")
    parser.add_argument("--hollow-processes", type=int, default=4,
                        help="worker processes of the hollow cells")
    parser.add_argument("--baseline-pythonpath", default=None,
                        help="also run every round with the cluster's processes importing pytest_diego "
                             "from this directory (a copy of the code before a change), alternating order")
    args = parser.parse_args()
    variants = ["current"] + (["baseline"] if args.baseline_pythonpath else [])
    rounds: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for i in range(args.rounds):
        for variant in variants if i % 2 == 0 else variants[::-1]:
            use_tree(args.baseline_pythonpath if variant == "baseline" else None)
            with tempfile.TemporaryDirectory(prefix="pytest-diego-fezzik-") as state_dir:
                r = one_round(args, Path(state_dir))
            r["variant"] = variant
            rounds[variant].append(r)
            print(f"round {i + 1} {variant}: {json.dumps(r, default=float)}", flush=True)
    use_tree(None)
    keys = ("cells_up_s", "tasks_completed_s", "lrps_running_s", "routes_listed_s",
            "all_answered_via_router_s")
    agg = {v: {key: summary([r[key] for r in rs if r.get(key) is not None])
               for key in keys if any(r.get(key) is not None for r in rs)} for v, rs in rounds.items()}
    goals = {"cells_up_le_30s": all(r["cells_up_s"] <= 30 for r in rounds["current"]),  # 100 cells
             "burst_le_40s": all(r.get("burst_done_s") is not None and r["burst_done_s"] <= 40
                                 for r in rounds["current"])}
    path = write_result(args.name, MODULE, {"config": vars(args), "rounds": rounds, "summary": agg,
                                            "goals_met": goals})
    print(json.dumps({"summary": agg, "goals_met": goals}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
