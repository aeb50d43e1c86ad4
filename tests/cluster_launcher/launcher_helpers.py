"""Helpers for the launcher tests: wait for conditions, list a cluster's processes."""

from __future__ import annotations

import time
from collections.abc import Callable

from pytest_diego.cluster.process import ProcessInfo
from pytest_diego.cluster.state import ClusterState


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def cluster_processes(st: ClusterState) -> dict[str, ProcessInfo]:
    """Every process cluster.json records, launcher excluded."""
    procs = {name: ProcessInfo(c.pid, c.create_time) for name, c in st.components.items()}
    procs.update({c.cell_id: ProcessInfo(c.pid, c.create_time) for c in st.cells})
    return procs
