"""Helpers for the launcher tests: a cluster's processes, and which of them still run."""

from __future__ import annotations

import psutil

from pytest_diego.cluster.process import ProcessInfo
from pytest_diego.cluster.state import ClusterState


def cluster_processes(st: ClusterState) -> dict[str, ProcessInfo]:
    """Every process cluster.json records, launcher excluded."""
    procs = {name: ProcessInfo(c.pid, c.create_time) for name, c in st.components.items()}
    procs.update({c.cell_id: ProcessInfo(c.pid, c.create_time) for c in st.cells})
    return procs


def still_running(procs: list[psutil.Process]) -> list[int]:
    """The pids of ``procs`` still running (not gone, not zombies)."""
    alive = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc.pid)
        except psutil.Error:
            pass
    return alive
