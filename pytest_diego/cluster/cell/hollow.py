"""Hollow cells: everything a rep does except run containers, many to one event loop.

``CellHost`` holds what the cells of one process share: one BBS client (its pool of keep-alive
connections), one Locket client (one HTTP/2 connection), a thread pool for their blocking BBS
calls, the thread that refreshes every cell's presence (``PresenceRefresher``: a refresh must
not queue behind a burst of BBS calls or a busy event loop), and the certificates.
``HollowCell`` is one cell on it: its ``Rep``, its securable listener (the rep API, HTTPS with
mutual TLS when the host has certificates), its admin listener (ping, evacuate, metrics) and its
presence in Locket.

A cell stops in one of two ways: ``stop()`` releases its presence and closes everything (Diego's
rep when signalled: the BBS finds its instances lost at the next convergence), ``leave()``
evacuates first (LRP instances handed over to other cells, started Tasks completed as failed), so
a cell that leaves on purpose loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pytest_diego.bbs import BBSClient
from pytest_diego.cluster.cell.api import admin_handler, rep_handler
from pytest_diego.cluster.cell.http import Listener, serve
from pytest_diego.cluster.cell.presence import PresenceKeeper, PresenceRefresher
from pytest_diego.cluster.cell.rep import CellConfig, Rep
from pytest_diego.cluster.cell.tls import CellCertificates
from pytest_diego.lager import Logger
from pytest_diego.locket import LocketClient

PRESENCE_RELEASE_TIMEOUT = 2.0


def raise_fd_limit() -> None:
    """Up to 250 instance listeners a cell, and their connections, need more than the usual 1024 fds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


@dataclass
class CellHost:
    """What the cells of one process share."""

    bbs: BBSClient
    locket: LocketClient
    presence_refresh: float
    certificates: CellCertificates | None = None
    bbs_workers: int = 4
    presence_workers: int = 1

    def __post_init__(self) -> None:
        self.bbs_pool = ThreadPoolExecutor(max_workers=self.bbs_workers, thread_name_prefix="bbs")
        self.presence_pool = ThreadPoolExecutor(max_workers=self.presence_workers,
                                                thread_name_prefix="presence")
        self.presences = PresenceRefresher(self.presence_refresh)

    def close(self) -> None:
        self.presences.stop()
        self.bbs_pool.shutdown(wait=False, cancel_futures=True)
        self.presence_pool.shutdown(wait=False, cancel_futures=True)
        self.bbs.close()
        self.locket.close()


class HollowCell:
    """One hollow rep on a host's event loop."""

    def __init__(self, config: CellConfig, host: CellHost, logger: Logger, *, rep_port: int = 0,
                 admin_port: int = 0, on_evacuated: Callable[[HollowCell], Any] = lambda cell: None) -> None:
        self.config = config
        self.host = host
        self.logger = logger
        self.keeper = PresenceKeeper(host.locket, logger, retry_interval=config.timing.presence_refresh)
        self.rep = Rep(config, host.bbs, logger, self.keeper, bbs_pool=host.bbs_pool,
                       presence_pool=host.presence_pool)
        self._ports = (rep_port, admin_port)
        self._on_evacuated = on_evacuated
        self._listeners: list[Listener] = []
        self._evacuation: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def cell_id(self) -> str:
        return self.config.cell_id

    @property
    def rep_url(self) -> str:
        return self.rep.rep_url

    @property
    def admin_url(self) -> str:
        return self.rep.admin_url

    async def start(self) -> None:
        """Listen, register the presence (a collision with an old presence of this cell is
        retried at every refresh), start the presence and bulk sync loops."""
        address = self.config.address
        tls = self.host.certificates.server_context(self.cell_id, address) if self.host.certificates else None
        secure = await serve(rep_handler(self.rep), address, self._ports[0], tls=tls)
        self._listeners.append(secure)
        admin = await serve(admin_handler(self.rep, self.evacuate), address, self._ports[1])
        self._listeners.append(admin)
        self.rep.rep_url = f"{'https' if tls else 'http'}://{address}:{secure.port}"
        self.rep.admin_url = f"http://{address}:{admin.port}"
        await self.rep.heartbeat()
        self.host.presences.add(self.keeper, self.rep.presence)
        self.rep.start_loops()
        self.logger.info("started", cell_id=self.cell_id, zone=self.config.zone, rep_url=self.rep_url,
                         capacity=self.config.capacity.to_json(), time_scale=self.config.timing.time_scale)

    def evacuate(self) -> None:
        """Start evacuating (``POST /evacuate``); the cell stops itself once done."""
        if self._evacuation is None:
            self._evacuation = asyncio.get_running_loop().create_task(self._evacuate_then_stop())

    async def _evacuate_then_stop(self) -> None:
        await self.rep.evacuate()
        await self.stop()
        self._on_evacuated(self)

    async def leave(self) -> None:
        """Evacuate, complete started Tasks as failed, then stop: a clean goodbye."""
        await self.rep.evacuate()
        await self.rep.fail_tasks()
        await self.stop()

    async def stop(self) -> None:
        """Release the presence, close the listeners and every instance; tell the BBS nothing else."""
        if self._stopped:
            return
        self._stopped = True
        self.host.presences.remove(self.keeper)
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.rep.release_presence(), PRESENCE_RELEASE_TIMEOUT)
        await self.rep.close()
        self.logger.info("exited")

    def run_info(self) -> dict[str, Any]:
        return {"url": self.rep_url, "admin_url": self.admin_url, "metrics_url": f"{self.admin_url}/metrics",
                "address": self.config.address}
