"""How long the embedded cluster takes to start: spawn to "the BBS lists every cell as present".

    .venv/bin/python -m benchmarks.cluster_startup [--cells 10 50 100] [--time-scale 1.0] [--repeat 3]

Starts and stops ``EmbeddedCluster`` per cell count and repetition, times ``EmbeddedCluster.start``
and ``stop``, and writes ``benchmarks/results/cluster_startup.json`` with the machine's CPU count
and load average, which the figures depend on. Goal (embedded cluster scale targets): 100 cells up in <= 30 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from benchmarks._common import loadavg, summary, write_result
from pytest_diego.cluster import ClusterConfig, EmbeddedCluster

MODULE = "benchmarks.cluster_startup"


def measure(cells: int, time_scale: float) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="pytest-diego-bench-") as state_dir:
        started = time.perf_counter()
        config = ClusterConfig(cells=cells, time_scale=time_scale, state_dir=state_dir)
        cluster = EmbeddedCluster.start(config)
        up = time.perf_counter() - started
        started = time.perf_counter()
        cluster.stop()
        return up, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", nargs="+", type=int, default=[10, 50, 100])
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    print(f"{'cells':>6} {'start s: median (min-max)':>27} {'stop s: median':>15}  load(1m) before")
    for cells in args.cells:
        load = loadavg()
        runs = [measure(cells, args.time_scale) for _ in range(args.repeat)]
        up, down = summary([r[0] for r in runs]), summary([r[1] for r in runs])
        rows.append({"cells": cells, "start_s": up, "stop_s": down, "loadavg_before": load})
        print(f"{cells:>6} {up['median']:>12.2f} ({up['min']:.2f}-{up['max']:.2f}){'':>6} "
              f"{down['median']:>15.2f}  {load[0]}")
    path = write_result("cluster_startup", MODULE, {"time_scale": args.time_scale, "runs": rows})
    print(f"written to {path}")


if __name__ == "__main__":
    main()
