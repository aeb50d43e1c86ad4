"""What an idle embedded cluster costs at N cells (the embedded cluster's cost table).

    .venv/bin/python -m benchmarks.cluster_cost [--cells 10 100 300] [--idle 35] [--time-scale 1.0]

Per cell count: start the cluster (timed), let it idle for ``--idle`` seconds (at time-scale 1 that
covers presence refreshes every 5 s and one 30 s rep bulk sync and convergence), then record memory
(PSS: pages the forked cells share are split between them; USS: private) per cell and per
component, CPU seconds per idle second (cells summed, BBS, others), threads and file descriptors.
Writes ``results/cluster_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks._common import cpu_by_component, loadavg, memory_of, write_result
from pytest_diego.cluster import ClusterConfig, EmbeddedCluster

MODULE = "benchmarks.cluster_cost"


def _counts(pids: list[int]) -> dict[str, int]:
    """Threads and open file descriptors summed over ``pids``."""
    threads = fds = 0
    for pid in pids:
        try:
            p = psutil.Process(pid)
            threads += p.num_threads()
            fds += p.num_fds()
        except psutil.NoSuchProcess:
            continue
    return {"threads": threads, "fds": fds}


def measure(cells: int, args: argparse.Namespace) -> dict[str, Any]:
    """Start ``cells`` cells, idle, record the cost, stop."""
    with tempfile.TemporaryDirectory(prefix="pytest-diego-cost-") as state_dir:
        load = loadavg()
        began = time.perf_counter()
        cluster = EmbeddedCluster.start(ClusterConfig(cells=cells, time_scale=args.time_scale,
                                                      state_dir=Path(state_dir), start_timeout=600))
        up = time.perf_counter() - began
        try:
            pids = {name: info.pid for name, info in cluster.processes()}
            cpu0, t0 = cpu_by_component(pids), time.perf_counter()
            time.sleep(args.idle)
            cpu1, idle = cpu_by_component(pids), time.perf_counter() - t0
            cell_pids = [c.pid for c in cluster.cells]
            cell_mem = memory_of(cell_pids)
            comps = {k: memory_of([v])["pss"] / 2**20 for k, v in pids.items() if not k.startswith("cell-")}
            return {
                "cells": cells, "start_s": up, "cells_per_s": cells / up, "loadavg_before": load,
                "cells_pss_mib": cell_mem["pss"] / 2**20,
                "per_cell_pss_mib": cell_mem["pss"] / 2**20 / cells,
                "per_cell_uss_mib": cell_mem["uss"] / 2**20 / cells,
                "per_cell_rss_mib": cell_mem["rss"] / 2**20 / cells,
                "components_pss_mib": comps,
                "total_pss_mib": cell_mem["pss"] / 2**20 + sum(comps.values()),
                "idle_cpu_cores": {k: (cpu1.get(k, 0.0) - cpu0.get(k, 0.0)) / idle for k in cpu1},
                "cells_threads_fds": _counts(cell_pids),
                "loadavg_after": loadavg(),
            }
        finally:
            cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", nargs="+", type=int, default=[10, 100, 300])
    parser.add_argument("--idle", type=float, default=35.0)
    parser.add_argument("--time-scale", type=float, default=1.0)
    args = parser.parse_args()
    rows = []
    for n in args.cells:
        row = measure(n, args)
        rows.append(row)
        print(json.dumps(row), flush=True)
    path = write_result("cluster_cost", MODULE, {"config": vars(args), "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
