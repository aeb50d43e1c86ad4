"""What every BBS operation needs: the state, the timings, the logger, the cells (Locket) and the
outbound clients.

One ``Core`` per BBS process; handlers, convergence and callbacks all go through it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from pytest_diego.cluster.bbs.auction import AuctioneerClient, lrp_start_request, task_start_request
from pytest_diego.cluster.bbs.cells import CellDirectory
from pytest_diego.cluster.bbs.events import Hub
from pytest_diego.cluster.bbs.rep import Outbound
from pytest_diego.cluster.bbs.state import State, Tx
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger


@dataclass
class Counters:
    """Cumulative task outcome counters (Diego's TasksStarted/Succeeded/Failed)."""

    tasks_started: int = 0
    tasks_succeeded: int = 0
    tasks_failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)


class Core:
    """The BBS's shared machinery."""

    def __init__(self, state: State, timing: Timing, logger: Logger, auctioneer: AuctioneerClient,
                 outbound: Outbound, hub: Hub, cells: CellDirectory, max_task_retries: int = 3) -> None:
        self.state = state
        self.cells = cells
        self.timing = timing
        self.logger = logger
        self.auctioneer = auctioneer
        self.outbound = outbound
        self.hub = hub
        self.max_task_retries = max_task_retries
        self.counters = Counters()

    def commit(self, tx: Tx) -> Any:
        """Queue ``tx`` for the store; call with the state lock held, wait outside it."""
        return self.state.submit(tx)

    def follow_up(self, tx: Tx) -> None:
        """After the commit: queue the auctions and run the callbacks the change asked for."""
        if tx.lrp_auctions:
            self.auctioneer.request_lrps([lrp_start_request(d, idx) for d, idx in tx.lrp_auctions])
        if tx.task_auctions:
            self.auctioneer.request_tasks([task_start_request(t) for t in tx.task_auctions])
        for fn in tx.after:
            fn()

    def apply(self, tx: Tx, pending: Any) -> None:
        """Wait for the commit, then do the follow-up work."""
        pending.wait()
        self.follow_up(tx)
