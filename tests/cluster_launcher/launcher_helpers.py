"""Helpers for the launcher tests: wait for conditions, list a cluster's processes, run PostgreSQL."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

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


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1; yields a DSN, or skips if the PostgreSQL 15
    binaries are not installed. As root, it runs as the ``postgres`` user (initdb refuses root),
    so its directory is a fresh one that user owns, not pytest's private tmp_path."""
    bin_dir = Path("/usr/lib/postgresql/15/bin")
    initdb, pg_ctl = bin_dir / "initdb", bin_dir / "pg_ctl"
    if not (initdb.exists() and pg_ctl.exists()):
        pytest.skip(f"PostgreSQL binaries not found in {bin_dir}")
    root = Path(tempfile.mkdtemp(prefix="pytest-diego-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        as_postgres = ["runuser", "-u", "postgres", "--"]
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    data, log = root / "data", root / "postgres.log"
    subprocess.run([*as_postgres, str(initdb), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    subprocess.run([*as_postgres, str(pg_ctl), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, str(pg_ctl), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
