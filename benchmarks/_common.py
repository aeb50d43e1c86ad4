"""Shared helpers: machine facts, load average, statistics, memory of process trees, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psutil

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """What the figures depend on: CPUs, memory, Python, load average at the time of the call."""
    return {"cpus": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
            "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def loadavg() -> list[float]:
    """1, 5 and 15-minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median and spread (min, max) of repeated measurements."""
    vals = sorted(values)
    return {"median": statistics.median(vals), "min": vals[0], "max": vals[-1], "n": len(vals)}


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, int(-(-q * len(sorted_values) // 100)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def memory_of(pids: Iterable[int]) -> dict[str, int]:
    """Summed RSS, PSS and USS in bytes (PSS splits the pages forked cells share; USS is private)."""
    total = {"rss": 0, "pss": 0, "uss": 0}
    for pid in pids:
        try:
            info = psutil.Process(pid).memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total["rss"] += info.rss
        total["pss"] += getattr(info, "pss", 0)
        total["uss"] += info.uss
    return total


def command(module: str) -> str:
    """The command line that reproduces this run, as typed in the repository root."""
    return " ".join([".venv/bin/python", "-m", module, *sys.argv[1:]])


def write_result(name: str, module: str, payload: dict[str, Any]) -> Path:
    """Write ``results/<name>.json`` with the command line and machine facts, and return its path."""
    RESULTS.mkdir(exist_ok=True)
    doc = {"benchmark": name, "command": command(module),
           "machine": machine(), **payload}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    return path
