"""Helpers for the embedded BBS tests: record builders, a fake auctioneer that records what the
BBS hands it, the BBS run as its own process, an event collector, and the PostgreSQL tools."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pytest_diego.bbs import models
from pytest_diego.bbs.client import BBSClient

REPO = Path(__file__).resolve().parents[2]
NEVER = 3600.0  # a convergence interval tests never reach: they call server.converge() themselves


def desired_lrp(guid: str, instances: int = 1, domain: str = "cf-apps", **fields) -> models.DesiredLRP:
    lrp = models.DesiredLRP(**{"process_guid": guid, "domain": domain, "root_fs": "preloaded:cflinuxfs4",
                               "instances": instances, "memory_mb": 64, "disk_mb": 64, **fields})
    lrp.action.run_action.path = "/bin/sleep"
    lrp.metric_tags["source_id"].static = guid
    return lrp


def task_definition(**fields) -> models.TaskDefinition:
    definition = models.TaskDefinition(**{"root_fs": "preloaded:cflinuxfs4", "memory_mb": 32, "disk_mb": 32,
                                          **fields})
    definition.action.run_action.path = "/bin/true"
    return definition


def instance_key(cell: str = "cell-0", guid: str = "ig-0") -> models.ActualLRPInstanceKey:
    return models.ActualLRPInstanceKey(instance_guid=guid, cell_id=cell)


def lrp_key(guid: str, index: int = 0, domain: str = "cf-apps") -> models.ActualLRPKey:
    return models.ActualLRPKey(process_guid=guid, index=index, domain=domain)


def net_info(address: str = "127.1.0.1") -> models.ActualLRPNetInfo:
    info = models.ActualLRPNetInfo(address=address)
    info.ports.add(container_port=8080, host_port=61001)
    return info


def presence(cell: str = "cell-0") -> models.CellPresence:
    return models.CellPresence(cell_id=cell, rep_address="http://127.1.0.1:1801", zone="z0",
                               rep_url=f"http://127.0.0.1:9/{cell}")


def by_index(client: BBSClient, guid: str) -> dict[tuple[int, int], models.ActualLRP]:
    return {(a.actual_lrp_key.index, a.presence): a for a in client.actual_lrps(process_guid=guid)}


@dataclass
class FakeAuctioneer:
    """Records the LRP and Task start batches the BBS POSTs, answering 202 like Diego's."""

    url: str = ""
    lrps: queue.Queue = field(default_factory=queue.Queue)
    tasks: queue.Queue = field(default_factory=queue.Queue)

    def lrp_indices(self, timeout: float = 5.0) -> list[tuple[str, int]]:
        """The (process_guid, index) pairs of the next LRP batch."""
        batch = self.lrps.get(timeout=timeout)
        return [(start["process_guid"], i) for start in batch for i in start["indices"]]

    def drain(self) -> None:
        for q in (self.lrps, self.tasks):
            while not q.empty():
                q.get_nowait()


class BBSProcess:
    """``python -m pytest_diego.cluster.bbs`` as a child process, waited for through its run file."""

    def __init__(self, state_dir: Path, *args: str) -> None:
        self.state_dir = state_dir
        self.run_file = state_dir / "run" / "bbs.json"
        self.run_file.unlink(missing_ok=True)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pytest_diego.cluster.bbs", "--state-dir", str(state_dir), *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.info = self._wait()

    def _wait(self, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run_file.exists():
                return json.loads(self.run_file.read_text())
            if self.proc.poll() is not None:
                _, err = self.proc.communicate()
                raise AssertionError(f"the BBS exited with {self.proc.returncode}: {err.decode()}")
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"the BBS wrote no {self.run_file} within {timeout}s")

    @property
    def url(self) -> str:
        return self.info["url"]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=10)

    def terminate(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.communicate(timeout=20)
        return self.proc.returncode


class EventCollector:
    """Reads an event stream on a thread so tests can wait for events with a timeout."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.events: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self.stream:
                self.events.put(event)
        except Exception as e:  # surfaced to the test through next_events
            self.events.put(e)

    def take(self, n: int, timeout: float = 5.0) -> list:
        out = []
        for _ in range(n):
            item = self.events.get(timeout=timeout)
            if isinstance(item, Exception):
                raise item
            out.append(item)
        return out

    def close(self) -> None:
        self.stream.close()
        self._thread.join(timeout=5)


PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin",)


def pg_binary(name: str) -> str | None:
    for directory in PG_BIN_DIRS:
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    return shutil.which(name)


def as_postgres(*cmd: str) -> list[str]:
    """Run PostgreSQL's tools as the ``postgres`` OS user when we are root (initdb refuses root)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)
