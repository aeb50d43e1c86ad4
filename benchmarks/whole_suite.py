"""Wall time and peak memory of ``pytest perf_suites`` (pytest-diego's own speed), without and with ``-n 2``.

    .venv/bin/python -m benchmarks.whole_suite [--variants "" "-n 2"] [--timeout 1200]

Runs each variant as a subprocess from the repository root and samples the memory of its whole
process tree (pytest, xdist workers, the embedded cluster) every second: peak summed PSS (shared
pages split between processes, so forked cells are not counted 100 times) and peak summed RSS.
Records the exit code and pytest's last summary line. Writes ``results/whole_suite.json``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks._common import loadavg, write_result

MODULE = "benchmarks.whole_suite"
ROOT = Path(__file__).resolve().parent.parent


def tree_memory(root: psutil.Process) -> tuple[int, int, int]:
    """(summed PSS, summed RSS, process count) of ``root`` and its descendants."""
    pss = rss = n = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0, 0
    for p in procs:
        try:
            info = p.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        pss += getattr(info, "pss", 0)
        rss += info.rss
        n += 1
    return pss, rss, n


def run(extra: str, timeout: float) -> dict[str, Any]:
    """One ``pytest perf_suites`` run with ``extra`` arguments, its wall time and peak memory."""
    argv = [sys.executable, "-m", "pytest", "perf_suites", "-q", *shlex.split(extra)]
    load = loadavg()
    began = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    root = psutil.Process(proc.pid)
    peak_pss = peak_rss = peak_procs = 0
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    while proc.poll() is None:
        if time.perf_counter() - began > timeout:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            break
        pss, rss, n = tree_memory(root)
        peak_pss, peak_rss, peak_procs = max(peak_pss, pss), max(peak_rss, rss), max(peak_procs, n)
        time.sleep(1.0)
    proc.wait()
    reader.join(timeout=10)
    wall = time.perf_counter() - began
    summary = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
    failed = [ln.strip() for ln in lines if ln.startswith(("FAILED", "ERROR"))]
    return {"args": " ".join(["pytest", "perf_suites", "-q", extra]).strip(),
            "exit_code": proc.returncode,
            "wall_s": wall, "peak_pss_mib": peak_pss / 2**20, "peak_rss_mib": peak_rss / 2**20,
            "peak_processes": peak_procs, "summary": summary, "failed": failed, "loadavg_before": load,
            "loadavg_after": loadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=["", "-n 2"])
    parser.add_argument("--timeout", type=float, default=1200.0)
    args = parser.parse_args()
    rows = []
    for extra in args.variants:
        row = run(extra, args.timeout)
        rows.append(row)
        print(json.dumps(row), flush=True)
    path = write_result("whole_suite", MODULE, {"config": vars(args), "runs": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
