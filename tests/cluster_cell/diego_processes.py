"""Start a BBS, an auctioneer and cells as real processes for a test, and stop every one of them.

Only the scheduling part of the embedded cluster (no router, no route emitter), so these tests
need nothing else to work. Cells get addresses in ``127.1.<octet>.0/24`` so that tests running
beside a full cluster (which uses ``127.1.0.x``) never share instance ports with it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_diego.bbs import BBSClient, models


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    info: dict[str, Any] = field(default_factory=dict)


class DiegoProcesses:
    """``with DiegoProcesses(tmp_path, cells=3, time_scale=0.05) as d: d.client.desire_lrp(...)``."""

    def __init__(self, state_dir: Path, cells: int = 3, zones: int = 3, time_scale: float = 0.05,
                 address_octet: int = 77, cell_args: tuple[str, ...] = (),
                 start_timeout: float = 60.0) -> None:
        self.state_dir = state_dir
        self.time_scale = time_scale
        self.cell_count, self.zones = cells, zones
        self.address_octet = address_octet
        self.cell_args = cell_args
        self.start_timeout = start_timeout
        self.procs: dict[str, Proc] = {}
        self.client: BBSClient | None = None

    def cell_address(self, i: int) -> str:
        return f"127.1.{self.address_octet}.{i + 1}"

    def _spawn(self, name: str, module: str, *args: str) -> Proc:
        (self.state_dir / "run" / f"{name}.json").unlink(missing_ok=True)
        (self.state_dir / "logs").mkdir(parents=True, exist_ok=True)
        out = open(self.state_dir / "logs" / f"{name}.out", "wb")  # noqa: SIM115 - child owns it
        popen = subprocess.Popen([sys.executable, "-m", module, "--state-dir", str(self.state_dir),
                                  "--time-scale", repr(self.time_scale), *args],
                                 stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        proc = Proc(name, popen)
        self.procs[name] = proc
        return proc

    def _wait_ready(self, names: list[str]) -> None:
        deadline = time.monotonic() + self.start_timeout
        for name in names:
            path = self.state_dir / "run" / f"{name}.json"
            proc = self.procs[name]
            while not path.exists():
                if proc.popen.poll() is not None:
                    out = (self.state_dir / "logs" / f"{name}.out").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{name} exited with {proc.popen.returncode}:\n{out}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} wrote no run file within {self.start_timeout}s")
                time.sleep(0.02)
            proc.info = json.loads(path.read_text())

    def start_cell(self, i: int) -> Proc:
        cell_id = f"cell-{i}"
        proc = self._spawn(cell_id, "pytest_diego.cluster.cell", "--bbs-url", self.bbs_url,
                           "--cell-id", cell_id, "--zone", f"z{i % self.zones}",
                           "--address", self.cell_address(i), *self.cell_args)
        return proc

    def start(self) -> DiegoProcesses:
        auctioneer_port = free_port()
        self._spawn("bbs", "pytest_diego.cluster.bbs", "--auctioneer-url",
                    f"http://127.0.0.1:{auctioneer_port}")
        self._wait_ready(["bbs"])
        self.bbs_url = self.procs["bbs"].info["url"]
        self._spawn("auctioneer", "pytest_diego.cluster.auctioneer", "--bbs-url", self.bbs_url,
                    "--port", str(auctioneer_port))
        for i in range(self.cell_count):
            self.start_cell(i)
        self._wait_ready(["auctioneer", *(f"cell-{i}" for i in range(self.cell_count))])
        self.client = BBSClient(self.bbs_url, timeout=10.0)
        self.wait_for(lambda: len(self.client.cells()) == self.cell_count, "cells to be present")
        return self

    def wait_for(self, check: Any, what: str, timeout: float = 30.0, interval: float = 0.05) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(interval)

    def log_messages(self, name: str, message: str) -> list[dict[str, Any]]:
        """The lager records of component ``name`` whose message is ``message``."""
        path = self.state_dir / "logs" / f"{name}.log"
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [r for r in records if r["message"] == message]

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        os.kill(proc.popen.pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            proc.popen.wait(10)

    def stop(self) -> None:
        """SIGTERM everything still running, SIGKILL what does not exit in 5 s."""
        if self.client is not None:
            self.client.close()
        running = [p for p in self.procs.values() if p.popen.poll() is None]
        for p in running:
            p.popen.send_signal(signal.SIGTERM)
        for p in running:
            try:
                p.popen.wait(5)
            except subprocess.TimeoutExpired:
                p.popen.kill()
                p.popen.wait(5)

    def __enter__(self) -> DiegoProcesses:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def desired_lrp(guid: str, instances: int, memory_mb: int = 128, env: dict[str, str] | None = None
                ) -> models.DesiredLRP:
    lrp = models.DesiredLRP(process_guid=guid, domain="cf-apps", root_fs="preloaded:cflinuxfs4",
                            instances=instances, memory_mb=memory_mb, disk_mb=128, ports=[8080])
    lrp.action.run_action.path = "/home/vcap/app/start"
    for name, value in (env or {}).items():
        lrp.action.run_action.env.add(name=name, value=value)
    lrp.metric_tags["source_id"].static = guid
    return lrp


def running(d: DiegoProcesses, guid: str, count: int) -> list[models.ActualLRP] | None:
    lrps = [a for a in d.client.actual_lrps(process_guid=guid) if a.state == "RUNNING"]
    return lrps if len(lrps) == count else None
