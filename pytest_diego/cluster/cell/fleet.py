"""Many hollow cells joining a Diego: ``python -m pytest_diego cells`` (``cli.py``) runs them here.

The cells are split over ``processes`` worker processes, an event loop each (a process per core:
one loop of Python keeps a core busy well before it runs out of cells). Each worker shares one
BBS client, one Locket client and one certificate key among its cells (``hollow.CellHost``).
Workers are forked before any gRPC channel exists (a channel does not survive a fork). They
report each cell they started to the parent, which prints them; on SIGINT or SIGTERM every cell
leaves cleanly (``HollowCell.leave``: evacuated, started Tasks failed, presence released) and the
process ends. Nothing is kept once it has: no file is written unless ``log_dir`` is given.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_diego.bbs import BBSClient
from pytest_diego.cluster.cell.container_model import ContainerModel
from pytest_diego.cluster.cell.hollow import CellHost, HollowCell, raise_fd_limit
from pytest_diego.cluster.cell.ledger import Capacity
from pytest_diego.cluster.cell.rep import EVACUATION_TIMEOUT, CellConfig
from pytest_diego.cluster.cell.tls import CellCertificates, RepTLS
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger
from pytest_diego.locket import LocketClient

START_BATCH = 50  # cells started at once in a worker: their first Lock and listeners
BBS_WORKERS = 16
"""Threads a worker makes BBS calls on: enough to keep the BBS busy; more only take the GIL from
the presence refresher and the event loop."""
SWITCH_INTERVAL = 0.001
"""Seconds a thread holds the GIL before another may take it (Python's default is 0.005): with a
loop and sixteen BBS threads runnable, the presence refresher must not wait its turn long."""


@dataclass(frozen=True)
class ClientTLS:
    """Client certificate files for the BBS and for Locket (cfdot's CA_CERT_FILE and so on)."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


@dataclass(frozen=True)
class Fleet:
    """Everything the command was told; ``cells()`` names each cell."""

    count: int
    bbs_url: str
    locket_address: str
    bbs_tls: ClientTLS = field(default_factory=ClientTLS)
    locket_tls: ClientTLS = field(default_factory=ClientTLS)
    rep_tls: RepTLS | None = None
    zones: tuple[str, ...] = ("z1",)
    addresses: tuple[str, ...] = ("127.0.0.1",)
    id_prefix: str = "hollow"
    processes: int = 1
    capacity: Capacity = field(default_factory=Capacity)
    container_model: ContainerModel = field(default_factory=lambda: ContainerModel("zero"))
    time_scale: float = 1.0
    evacuation_timeout: float = EVACUATION_TIMEOUT
    placement_tags: tuple[str, ...] = ()
    log_dir: Path | None = None
    first_index: int = 0

    def cells(self) -> list[CellConfig]:
        """Cell ``i`` is ``<prefix>-<i>``, in zone ``i mod zones`` on address ``i mod addresses``."""
        timing = Timing(self.time_scale)
        return [
            CellConfig(
                cell_id=f"{self.id_prefix}-{i}",
                zone=self.zones[i % len(self.zones)],
                address=self.addresses[i % len(self.addresses)],
                capacity=self.capacity,
                timing=timing,
                container_model=self.container_model,
                crash_time_scale=self.time_scale,
                placement_tags=self.placement_tags,
                cell_index=i,
                evacuation_timeout=self.evacuation_timeout,
            )
            for i in range(self.first_index, self.first_index + self.count)
        ]


def run(fleet: Fleet, out: Any = sys.stdout) -> int:
    """Run the fleet until SIGINT/SIGTERM; 0 when every worker ended cleanly."""
    configs = fleet.cells()
    shares = [configs[k :: fleet.processes] for k in range(fleet.processes)]
    context = multiprocessing.get_context("fork")
    reports = context.Queue()
    workers = [
        context.Process(target=_worker, args=(fleet, share, reports), name=f"hollow-cells-{k}")
        for k, share in enumerate(shares)
        if share
    ]
    for worker in workers:
        worker.start()
    previous = {
        sig: signal.signal(sig, lambda signum, frame: _forward(workers, signum))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        started = 0
        while started < len(configs) and any(w.is_alive() for w in workers):
            try:
                report = reports.get(timeout=1.0)
            except Exception:  # queue.Empty: check the workers again
                continue
            if "error" in report:
                print(f"hollow cells: {report['error']}", file=sys.stderr, flush=True)
                continue
            started += 1
            print(
                f"{report['cell_id']} {report['zone']} {report['rep_url']} {report['admin_url']}",
                file=out,
                flush=True,
            )
        if started == len(configs):
            print(
                f"{started} hollow cells joined {fleet.bbs_url} (Locket {fleet.locket_address}); "
                "Ctrl-C makes them leave",
                file=out,
                flush=True,
            )
        for worker in workers:
            worker.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if all(w.exitcode == 0 for w in workers) else 1


def _forward(workers: Sequence[Any], signum: int) -> None:
    """Tell every worker to let its cells leave (a terminal's Ctrl-C reaches them too)."""
    for worker in workers:
        if worker.is_alive() and worker.pid is not None:
            os.kill(worker.pid, signum)


def _worker(fleet: Fleet, configs: list[CellConfig], reports: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # until the loop handles it
    raise_fd_limit()
    sys.setswitchinterval(SWITCH_INTERVAL)
    code = asyncio.run(_run_cells(fleet, configs, reports))
    os._exit(code)


async def _run_cells(fleet: Fleet, configs: list[CellConfig], reports: Any) -> int:
    leave = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, leave.set)
    host = CellHost(
        BBSClient(
            fleet.bbs_url,
            ca_file=fleet.bbs_tls.ca_file,
            cert_file=fleet.bbs_tls.cert_file,
            key_file=fleet.bbs_tls.key_file,
            timeout=10.0,
        ),
        LocketClient(
            fleet.locket_address,
            ca_file=fleet.locket_tls.ca_file,
            cert_file=fleet.locket_tls.cert_file,
            key_file=fleet.locket_tls.key_file,
        ),
        Timing(fleet.time_scale).presence_refresh,
        CellCertificates(fleet.rep_tls) if fleet.rep_tls else None,
        bbs_workers=min(BBS_WORKERS, 4 + len(configs) // 16),
        presence_workers=2,  # first registrations only; refreshes have a thread of their own
    )
    cells = [HollowCell(config, host, _logger(fleet, config.cell_id)) for config in configs]
    running: list[HollowCell] = []
    for batch in range(0, len(cells), START_BATCH):
        if leave.is_set():
            break
        group = cells[batch : batch + START_BATCH]
        outcomes = await asyncio.gather(*(cell.start() for cell in group), return_exceptions=True)
        for cell, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                reports.put({"error": f"{cell.cell_id} did not start: {outcome!r}"})
                continue
            running.append(cell)
            reports.put(
                {
                    "cell_id": cell.cell_id,
                    "zone": cell.config.zone,
                    "rep_url": cell.rep_url,
                    "admin_url": cell.admin_url,
                }
            )
    await leave.wait()
    await asyncio.gather(*(cell.leave() for cell in running), return_exceptions=True)
    host.close()
    return 0


def _logger(fleet: Fleet, cell_id: str) -> Logger:
    """Lager logs per cell in ``log_dir``; none without it (a thousand cells log a lot)."""
    if fleet.log_dir is None:
        return Logger("rep", open(os.devnull, "w"))
    return Logger("rep", fleet.log_dir / f"{cell_id}.log")
