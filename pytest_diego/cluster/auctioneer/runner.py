"""One auction after another: fetch cell states, schedule the batch, send work, hand back failures.

The steps of ``auction:auctionrunner/auction_runner.go``: get the cells (the BBS's ``cells()``,
which lists present cells), GET every rep's ``/state`` in parallel (``AuctioneerFetchStatesDuration``),
drain the batch, schedule it (:mod:`.scoring`), POST ``/work`` to the winners, and hand back what
could not be placed or what a cell refused: LRPs with ``FailActualLRP`` (the placement error),
tasks with ``RejectTask``. A ``/work`` POST that fails in transit is not handed back, as in Diego:
the cell may have started part of it, and convergence repairs the rest. The reps are spoken to
in Diego's rep API shapes (``pytest_diego.rep``), over mutual TLS when given the files.

As ``zone_builder.go`` does, a state that fails, comes from an evacuating cell, or names another
cell than the presence it was fetched for is left out of the auction, and when no cell is left the
whole fetch is tried again, up to four times in all, before the batch fails with "unable to
communicate to compatible cells".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from pytest_diego.bbs import models
from pytest_diego.cluster.auctioneer.batch import Batch
from pytest_diego.cluster.auctioneer.scoring import (
    CellState,
    Results,
    Weights,
    insufficient_resources,
    schedule,
)
from pytest_diego.lager import Logger
from pytest_diego.rep import RepClient, Work

FETCH_ATTEMPTS = 4  # zone_builder.go: the first fetch and three retries while no cell is usable


class AuctionBBS(Protocol):
    """The part of ``BBSClient`` the auctioneer uses."""

    def cells(self) -> list[Any]: ...
    def fail_actual_lrp(self, key: Any, error_message: str) -> None: ...
    def reject_task(self, task_guid: str, rejection_reason: str) -> None: ...


@dataclass
class AuctionObserver:
    """Hooks for metrics; every field is optional so tests can watch only what they need."""

    fetch_states: Callable[[float], None] = lambda seconds: None
    failed_cell_state_request: Callable[[], None] = lambda: None
    auction_completed: Callable[[Results], None] = lambda results: None


class AuctionRunner:
    """Runs auctions on a thread for as long as it is started."""

    def __init__(self, bbs: AuctionBBS, logger: Logger, weights: Weights | None = None,
                 cell_state_timeout: float = 10.0, workers: int = 64,
                 observer: AuctionObserver | None = None, reps: RepClient | None = None) -> None:
        self.bbs = bbs
        self.logger = logger
        self.weights = weights or Weights()
        self.cell_state_timeout = cell_state_timeout
        self.observer = observer or AuctionObserver()
        self.batch = Batch()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="auction")
        self.reps = reps or RepClient(timeout=cell_state_timeout)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="auction-runner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.batch.close()
        if self._thread.is_alive():  # a runner driven by run_auction() alone was never started
            self._thread.join(timeout=self.cell_state_timeout + 5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.reps.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self.batch.wait_for_work() or self._stop.is_set():
                continue
            try:
                self.run_auction()
            except Exception as e:  # keep auctioning: one bad auction must not stop placement
                self.logger.error("auction.failed", e)
                self._stop.wait(0.5)

    def run_auction(self) -> Results:
        """One auction over whatever is in the batch now."""
        session = self.logger.session("auction")
        cells = self._fetch_states(session)
        lrps, tasks = self.batch.drain()
        session.info("scheduling", lrp_start_auctions=len(lrps), task_auctions=len(tasks),
                     cells=len(cells))
        results = schedule(lrps, tasks, cells, self.weights)
        self._commit(cells, results, session)
        self._hand_back(results, session)
        self.observer.auction_completed(results)
        session.info("scheduled", successful_lrp_start_auctions=results.placed_lrps,
                     successful_task_auctions=results.placed_tasks,
                     failed_lrp_start_auctions=len(results.failed_lrps),
                     failed_task_auctions=len(results.failed_tasks))
        return results

    def _fetch_states(self, session: Any) -> list[CellState]:
        started = time.monotonic()
        presences = self.bbs.cells()
        for attempt in range(FETCH_ATTEMPTS):
            cells = self._fetch_usable_states(presences, session)
            if cells:
                break
            session.info("failed-to-communicate-to-cells-abort" if attempt == FETCH_ATTEMPTS - 1
                         else "failed-to-communicate-to-cells-retry")
        elapsed = time.monotonic() - started
        self.observer.fetch_states(elapsed)
        session.info("fetched-cell-states", cells=len(cells), failed=len(presences) - len(cells),
                     duration=elapsed)
        return cells

    def _fetch_usable_states(self, presences: list[Any], session: Any) -> list[CellState]:
        """The states of the non-evacuating cells that answered as themselves."""
        futures = [self._pool.submit(self.reps.state, p.rep_url or p.rep_address) for p in presences]
        cells = []
        for presence, future in zip(presences, futures, strict=True):
            try:
                cell = CellState.from_rep(future.result())
            except Exception as e:
                self.observer.failed_cell_state_request()
                session.error("failed-to-get-state", e, cell_id=presence.cell_id)
                continue
            if cell.evacuating:
                session.info("ignored-evacuating-cell", cell_id=presence.cell_id)
            elif cell.cell_id and cell.cell_id != presence.cell_id:
                session.error("cell-id-mismatch", None, cell_id=presence.cell_id, state_cell_id=cell.cell_id)
            else:
                cell.cell_id = presence.cell_id
                cell.rep_url = presence.rep_url or presence.rep_address
                cells.append(cell)
        return cells

    def _commit(self, cells: list[CellState], results: Results, session: Any) -> None:
        """POST each winner its work; whatever a cell refuses joins the failures."""
        by_id = {c.cell_id: c for c in cells}
        work_cells = set(results.lrps_by_cell) | set(results.tasks_by_cell)
        futures = {cell_id: self._pool.submit(self.reps.perform, by_id[cell_id].rep_url,
                                              self._work(cell_id, results)) for cell_id in work_cells}
        for cell_id, future in futures.items():
            try:
                refused = future.result()
            except Exception as e:
                session.error("failed-to-commit", e, cell_id=cell_id)
                continue
            self._take_back_refused(cell_id, refused, results, session)

    @staticmethod
    def _work(cell_id: str, results: Results) -> Work:
        """What Diego's auctioneer POSTs a winner: its LRPs and Tasks, and its cell id."""
        return Work(lrps=tuple(lrp.to_rep() for lrp in results.lrps_by_cell.get(cell_id, [])),
                    tasks=tuple(task.to_rep() for task in results.tasks_by_cell.get(cell_id, [])),
                    cell_id=cell_id)

    @staticmethod
    def _take_back_refused(cell_id: str, refused: Work, results: Results, session: Any) -> None:
        """Diego's rep hands refused work back without a reason: the cell had less room than its
        state said, so the failure reads ``insufficient resources``."""
        refused_lrps = {lrp.identifier for lrp in refused.lrps or ()}
        refused_tasks = {task.task_guid for task in refused.tasks or ()}
        if refused_lrps:
            kept = []
            for lrp in results.lrps_by_cell.get(cell_id, []):
                if lrp.identifier in refused_lrps:
                    results.failed_lrps.append((lrp, insufficient_resources(())))
                    session.info("lrp-failed-to-be-placed", lrp_guid=lrp.identifier, cell_id=cell_id)
                else:
                    kept.append(lrp)
            results.lrps_by_cell[cell_id] = kept
        if refused_tasks:
            kept_tasks = []
            for task in results.tasks_by_cell.get(cell_id, []):
                if task.task_guid in refused_tasks:
                    results.failed_tasks.append((task, insufficient_resources(())))
                    session.info("task-failed-to-be-placed", task_guid=task.task_guid, cell_id=cell_id)
                else:
                    kept_tasks.append(task)
            results.tasks_by_cell[cell_id] = kept_tasks

    def _hand_back(self, results: Results, session: Any) -> None:
        futures = []
        for lrp, error in results.failed_lrps:
            key = models.ActualLRPKey(process_guid=lrp.process_guid, index=lrp.index, domain=lrp.domain)
            futures.append((lrp.identifier, error, self._pool.submit(self.bbs.fail_actual_lrp, key, error)))
        for task, error in results.failed_tasks:
            futures.append((task.task_guid, error, self._pool.submit(self.bbs.reject_task, task.task_guid,
                                                                      error)))
        for guid, error, future in futures:
            try:
                future.result()
            except Exception as e:
                session.error("failed-to-hand-back", e, guid=guid, placement_error=error)
