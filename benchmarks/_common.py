"""Shared helpers: machine facts, load average, statistics, memory of process trees, result files,
and the environment that makes child processes run another checkout (before/after comparisons)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psutil

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = RESULTS.parent.parent


def tree_env(tree: str | None, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment whose ``python -m ...`` children import ``pytest_diego`` from ``tree``.

    ``PYTHONPATH`` alone is not enough: ``python -m`` puts the working directory (this checkout)
    first on ``sys.path``, so the children would silently run the current code. ``PYTHONSAFEPATH``
    (Python 3.11+) leaves it out. ``tree=None`` gives the current checkout's environment.
    Raises ``SystemExit`` if a child would not import from ``tree``.
    """
    env = dict(os.environ if base is None else base)
    env.pop("PYTHONSAFEPATH", None)
    env.pop("PYTHONPATH", None)
    if tree is None:
        return env
    tree = str(Path(tree).resolve())
    env["PYTHONPATH"], env["PYTHONSAFEPATH"] = os.pathsep.join([tree, str(ROOT)]), "1"
    found = subprocess.run([sys.executable, "-c", "import pytest_diego; print(pytest_diego.__file__)"],
                           cwd=ROOT, env=env, capture_output=True, text=True, check=False).stdout.strip()
    if not found.startswith(tree + os.sep):
        raise SystemExit(f"children would import pytest_diego from {found or 'nowhere'}, not from {tree}: "
                         "is it a checkout with pytest_diego/ at its top?")
    return env


def use_tree(tree: str | None) -> None:
    """Make every child process started from now on (the cluster's) run ``tree`` (None: current)."""
    env = tree_env(tree)
    for name in ("PYTHONPATH", "PYTHONSAFEPATH"):
        if name in env:
            os.environ[name] = env[name]
        else:
            os.environ.pop(name, None)


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


def cpu_by_component(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds so far per component, every ``cell-*`` summed under ``"cells"``
    (a process that has exited is left out)."""
    out: dict[str, float] = {"cells": 0.0}
    for name, pid in pids.items():
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        key = "cells" if name.startswith("cell-") else name
        out[key] = out.get(key, 0.0) + t.user + t.system
    return out


def write_result(name: str, module: str, payload: dict[str, Any]) -> Path:
    """Write ``results/<name>.json`` with the command line and machine facts, and return its path."""
    RESULTS.mkdir(exist_ok=True)
    doc = {"benchmark": name, "command": command(module),
           "machine": machine(), **payload}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    return path


def join_hollow_cells(cluster: Any, count: int, processes: int, time_scale: float,
                      base_cells: int) -> subprocess.Popen[bytes]:
    """Start ``count`` hollow cells (``python -m pytest_diego cells``) joining ``cluster`` (an
    ``EmbeddedCluster``) from outside, ten to a loopback address in 127.3.0.0/16 (each address
    has 4535 instance ports); wait until the BBS lists them all beside its ``base_cells``."""
    addresses = [f"127.3.{i // 250}.{i % 250 + 1}" for i in range(count // 10 + 1)]
    command = [sys.executable, "-m", "pytest_diego", "cells", "--count", str(count),
               "--processes", str(processes), "--bbs-url", cluster.bbs_url,
               "--locket-address", cluster.locket_address, "--id-prefix", "hollow",
               "--time-scale", str(time_scale), "--evacuation-timeout", "1", "--exit-with-parent"]
    for zone in ("z0", "z1", "z2"):
        command += ["--zone", zone]
    for address in addresses:
        command += ["--address", address]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    with cluster.client(timeout=60) as client:
        deadline = time.monotonic() + 600
        while len(client.cells()) < base_cells + count:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"hollow cells did not all join: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(1.0)
    return proc
