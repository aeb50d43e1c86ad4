"""Start Locket, a BBS, an auctioneer and cells as real processes for a test, and stop every one
of them.

Only the scheduling part of the embedded cluster (no router, no route emitter), so these tests
need nothing else to work. Cells get addresses in ``127.1.<octet>.0/24`` so that tests running
beside a full cluster (which uses ``127.1.0.x``) never share instance ports with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from pytest_diego.bbs import BBSClient, models
from tests.support.components import ComponentProcess, wait_ready
from tests.support.lager_logs import log_records
from tests.support.ports import free_port
from tests.support.waits import wait_until


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
        self.procs: dict[str, ComponentProcess] = {}
        self.client: BBSClient | None = None

    def cell_address(self, i: int) -> str:
        return f"127.1.{self.address_octet}.{i + 1}"

    def _spawn(self, name: str, component: str, *args: str) -> ComponentProcess:
        proc = ComponentProcess(component, self.state_dir, "--time-scale", repr(self.time_scale), *args,
                                name=name)
        self.procs[name] = proc
        return proc

    def _wait_ready(self, names: list[str]) -> None:
        wait_ready([self.procs[name] for name in names], self.start_timeout)

    def start_cell(self, i: int) -> ComponentProcess:
        cell_id = f"cell-{i}"
        proc = self._spawn(cell_id, "cell", "--bbs-url", self.bbs_url,
                           "--locket-address", self.locket_address, "--cell-id", cell_id,
                           "--zone", f"z{i % self.zones}", "--address", self.cell_address(i), *self.cell_args)
        return proc

    def start(self) -> DiegoProcesses:
        auctioneer_port = free_port()
        self._spawn("locket", "locket")
        self._wait_ready(["locket"])
        self.locket_address = self.procs["locket"].info["address"]
        self._spawn("bbs", "bbs", "--auctioneer-url",
                    f"http://127.0.0.1:{auctioneer_port}", "--locket-address", self.locket_address)
        self._wait_ready(["bbs"])
        self.bbs_url = self.procs["bbs"].info["url"]
        self._spawn("auctioneer", "auctioneer", "--bbs-url", self.bbs_url,
                    "--port", str(auctioneer_port))
        for i in range(self.cell_count):
            self.start_cell(i)
        self._wait_ready(["auctioneer", *(f"cell-{i}" for i in range(self.cell_count))])
        self.client = BBSClient(self.bbs_url, timeout=10.0)
        wait_until(lambda: len(self.client.cells()) == self.cell_count, 30, "every cell to be present")
        return self

    def log_messages(self, name: str, message: str) -> list[dict[str, Any]]:
        """The lager records of component ``name`` whose message is ``message``."""
        return log_records(self.state_dir / "logs" / f"{name}.log", message)

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
