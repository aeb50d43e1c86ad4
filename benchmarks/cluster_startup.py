"""How long the embedded cluster takes to start: spawn to "the BBS lists every cell as present".

    .venv/bin/python benchmarks/cluster_startup.py [CELLS ...] [--time-scale F] [--repeat R]

Starts and stops ``EmbeddedCluster`` once per cell count and repetition, and prints the wall time
of ``EmbeddedCluster.start`` with the machine's CPU count and load, which the figure depends on.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from pytest_diego.cluster import ClusterConfig, EmbeddedCluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cells", nargs="*", type=int, default=[10, 50, 100])
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"cpus={os.cpu_count()} load(1m)={os.getloadavg()[0]:.2f} time_scale={args.time_scale}")
    print(f"{'cells':>6} {'start s (each run)':<30} {'median s':>9}")
    for cells in args.cells:
        times = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="pytest-diego-bench-") as state_dir:
                started = time.perf_counter()
                cluster = EmbeddedCluster.start(ClusterConfig(cells=cells, time_scale=args.time_scale,
                                                              state_dir=state_dir))
                times.append(time.perf_counter() - started)
                cluster.stop()
        each = " ".join(f"{t:.2f}" for t in times)
        print(f"{cells:>6} {each:<30} {statistics.median(times):>9.2f}")


if __name__ == "__main__":
    main()
