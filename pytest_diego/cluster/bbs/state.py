"""The BBS's records in memory, mirrored write-through to the SQL store.

Reads are served from memory; every change is made here under one lock and, in the same critical
section, queued for the store's writer (``Tx``), so the store sees changes in the order memory
did. A request is answered after its commit. On start the whole store is loaded back, which is
how a restarted BBS finds every acknowledged desire; after a failed commit it is loaded back
again (``reload``), so memory drops the changes the store never got. The lock notes, per thread,
which changes it may have seen (``StateLock``), so an answer can wait until they are committed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_diego.bbs import models
from pytest_diego.cluster.bbs import schema
from pytest_diego.cluster.bbs.db import Database, Op, Writer

ORDINARY, EVACUATING, SUSPECT = (models.ActualLRP.ORDINARY, models.ActualLRP.EVACUATING,
                                 models.ActualLRP.SUSPECT)
UNCLAIMED, CLAIMED, RUNNING, CRASHED = "UNCLAIMED", "CLAIMED", "RUNNING", "CRASHED"


@dataclass
class Event:
    """One SSE event: stream (``lrp`` or ``task``), Diego's event name, message, and the cell ids
    it concerns (None: not about a cell, every subscriber sees it, e.g. DesiredLRP events)."""

    stream: str
    name: str
    message: Any
    cells: tuple[str, ...] | None = None


@dataclass
class Tx:
    """The change-set of one operation: store statements, events, and follow-up work."""

    ops: list[Op] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    lrp_auctions: list[tuple[models.DesiredLRP, list[int]]] = field(default_factory=list)
    task_auctions: list[models.Task] = field(default_factory=list)
    after: list[Callable[[], None]] = field(default_factory=list)
    retirements: list[models.ActualLRP] = field(default_factory=list)  # claimed/running: ask their cells

    def event(self, stream: str, name: str, message: Any, *cells: str) -> None:
        """An ActualLRP/Task event, seen by subscribers of the given cells (and unfiltered ones)."""
        self.events.append(Event(stream, name, message, cells))

    def broadcast(self, stream: str, name: str, message: Any) -> None:
        """An event every subscriber sees, whatever cell it filters on (DesiredLRP events)."""
        self.events.append(Event(stream, name, message, None))


class Rec:
    """A record and its serialized bytes (kept so list responses need no re-encoding)."""

    __slots__ = ("blob", "msg")

    def __init__(self, msg: Any, blob: bytes | None = None) -> None:
        self.msg = msg
        self.blob = msg.SerializeToString() if blob is None else blob


def now_ns() -> int:
    return time.time_ns()


ActualKey = tuple[str, int, int]  # process_guid, index, presence


class StateLock:
    """The state's re-entrant lock. On a thread's outermost release it notes how many changes had
    been queued for the store by then (everything that thread may have read), for ``seen``."""

    def __init__(self, queued: Callable[[], int]) -> None:
        self._lock = threading.RLock()
        self._local = threading.local()
        self._queued = queued

    def __enter__(self) -> StateLock:
        self._lock.acquire()
        self._local.depth = getattr(self._local, "depth", 0) + 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._local.depth -= 1
        if self._local.depth == 0:
            self._local.seen = self._queued()
        self._lock.release()

    def seen(self) -> int:
        """The number of the last change this thread may have seen under the lock (0: none noted)."""
        return int(getattr(self._local, "seen", 0))

    def forget(self) -> None:
        """Start a new answer: what this thread saw for an earlier one no longer counts."""
        self._local.seen = 0


class State:
    """Every DesiredLRP, ActualLRP, Task and domain, guarded by ``lock``.

    ActualLRPs and Tasks are also indexed by cell id: every rep's bulk sync asks for its own
    cell's records, and with a hundred cells scanning every record under the lock each time,
    their sync wave held up every other request (the 10k-instance hold's spikes, BENCHMARKS.md).
    """

    def __init__(self) -> None:
        self.lock = StateLock(lambda: self.writer.submitted if self.writer is not None else 0)
        self.desired: dict[str, Rec] = {}
        self.actuals: dict[str, dict[tuple[int, int], Rec]] = {}
        self.tasks: dict[str, Rec] = {}
        self.actuals_by_cell: dict[str, dict[ActualKey, Rec]] = {}
        self.tasks_by_cell: dict[str, dict[str, Rec]] = {}
        self.domains: dict[str, float | None] = {}
        self.writer: Writer | None = None
        self.publish: Callable[[list[Event]], None] = lambda events: None

    # -- loading ---------------------------------------------------------------------------
    def load(self, db: Database, conn: Any) -> None:
        for guid, data in db.query(conn, "SELECT process_guid, data FROM desired_lrps"):
            self.desired[guid] = Rec(models.DesiredLRP.FromString(bytes(data)), bytes(data))
        for guid, index, presence, data in db.query(
            conn, "SELECT process_guid, instance_index, presence, data FROM actual_lrps"
        ):
            blob = bytes(data)
            self._set_actual(guid, index, presence, Rec(models.ActualLRP.FromString(blob), blob))
        for guid, data in db.query(conn, "SELECT task_guid, data FROM tasks"):
            self._set_task(guid, Rec(models.Task.FromString(bytes(data)), bytes(data)))
        for name, expires_at in db.query(conn, "SELECT name, expires_at FROM domains"):
            self.domains[name] = expires_at

    def reload(self, db: Database, conn: Any) -> None:
        """Replace every record with the store's (call with the lock held). Cell presences are not
        the store's: they live in Locket, as in Diego."""
        fresh = State()
        fresh.load(db, conn)
        for name in ("desired", "actuals", "tasks", "actuals_by_cell", "tasks_by_cell", "domains"):
            records = getattr(self, name)
            records.clear()
            records.update(getattr(fresh, name))

    # -- committing ------------------------------------------------------------------------
    def submit(self, tx: Tx) -> Any:
        """Queue ``tx`` for the store (call with ``lock`` held); events go out after commit."""
        events = tx.events
        assert self.writer is not None, "the store writer is not started"
        return self.writer.submit(tx.ops, (lambda: self.publish(events)) if events else None)

    # -- DesiredLRPs -----------------------------------------------------------------------
    def put_desired(self, tx: Tx, lrp: models.DesiredLRP) -> Rec:
        rec = Rec(lrp)
        self.desired[lrp.process_guid] = rec
        tx.ops.append((schema.UPSERT_DESIRED, (lrp.process_guid, lrp.domain, lrp.instances, rec.blob)))
        return rec

    def delete_desired(self, tx: Tx, process_guid: str) -> None:
        del self.desired[process_guid]
        tx.ops.append((schema.DELETE_DESIRED, (process_guid,)))

    # -- ActualLRPs ------------------------------------------------------------------------
    def actual(self, process_guid: str, index: int, presence: int = ORDINARY) -> models.ActualLRP | None:
        rec = self.actuals.get(process_guid, {}).get((index, presence))
        return None if rec is None else rec.msg

    def put_actual(self, tx: Tx, lrp: models.ActualLRP) -> None:
        rec = Rec(lrp)
        key = lrp.actual_lrp_key
        self._set_actual(key.process_guid, key.index, lrp.presence, rec)
        tx.ops.append(_actual_row(lrp, rec.blob))

    def put_actuals(self, tx: Tx, lrps: list[models.ActualLRP]) -> None:
        """Many rows in one executemany (desire, scale-up, convergence)."""
        rows = []
        for lrp in lrps:
            rec = Rec(lrp)
            key = lrp.actual_lrp_key
            self._set_actual(key.process_guid, key.index, lrp.presence, rec)
            rows.append(_actual_params(lrp, rec.blob))
        tx.ops.append((schema.UPSERT_ACTUAL, rows))

    def delete_actual(self, tx: Tx, lrp: models.ActualLRP) -> None:
        key = lrp.actual_lrp_key
        by_index = self.actuals.get(key.process_guid)
        if by_index is not None:
            old = by_index.pop((key.index, lrp.presence), None)
            if old is not None:
                where = (key.process_guid, key.index, lrp.presence)
                _unindex(self.actuals_by_cell, _cell_of_actual(old), where)
            if not by_index:
                del self.actuals[key.process_guid]
        tx.ops.append((schema.DELETE_ACTUAL, (key.process_guid, key.index, lrp.presence)))

    def all_actuals(self) -> list[Rec]:
        return [rec for by_index in self.actuals.values() for rec in by_index.values()]

    def actuals_on(self, cell_id: str) -> list[Rec]:
        return list(self.actuals_by_cell.get(cell_id, {}).values())

    def _set_actual(self, process_guid: str, index: int, presence: int, rec: Rec) -> None:
        by_index = self.actuals.setdefault(process_guid, {})
        old = by_index.get((index, presence))
        by_index[(index, presence)] = rec
        _reindex(self.actuals_by_cell, (process_guid, index, presence),
                 None if old is None else _cell_of_actual(old), _cell_of_actual(rec), rec)

    # -- Tasks -----------------------------------------------------------------------------
    def put_task(self, tx: Tx, task: models.Task) -> None:
        rec = Rec(task)
        self._set_task(task.task_guid, rec)
        row = (task.task_guid, task.domain, task.state, task.cell_id, task.updated_at, rec.blob)
        tx.ops.append((schema.UPSERT_TASK, row))

    def delete_task(self, tx: Tx, task_guid: str) -> None:
        old = self.tasks.pop(task_guid)
        _unindex(self.tasks_by_cell, old.msg.cell_id, task_guid)
        tx.ops.append((schema.DELETE_TASK, (task_guid,)))

    def tasks_on(self, cell_id: str) -> list[Rec]:
        return list(self.tasks_by_cell.get(cell_id, {}).values())

    def _set_task(self, task_guid: str, rec: Rec) -> None:
        old = self.tasks.get(task_guid)
        self.tasks[task_guid] = rec
        old_cell = None if old is None else old.msg.cell_id
        _reindex(self.tasks_by_cell, task_guid, old_cell, rec.msg.cell_id, rec)

    # -- domains ---------------------------------------------------------------------------
    def fresh_domains(self, now: float | None = None) -> set[str]:
        now = time.time() if now is None else now
        return {name for name, exp in self.domains.items() if exp is None or exp > now}


def _cell_of_actual(rec: Rec) -> str:
    return rec.msg.actual_lrp_instance_key.cell_id


def _reindex(index: dict[str, dict[Any, Rec]], key: Any, old_cell: str | None, cell: str, rec: Rec) -> None:
    """Move ``key`` from ``old_cell``'s entries to ``cell``'s (no entry for an empty cell id)."""
    if old_cell and old_cell != cell:
        _unindex(index, old_cell, key)
    if cell:
        index.setdefault(cell, {})[key] = rec


def _unindex(index: dict[str, dict[Any, Rec]], cell: str, key: Any) -> None:
    entries = index.get(cell)
    if entries is not None:
        entries.pop(key, None)
        if not entries:
            del index[cell]


def _actual_row(lrp: models.ActualLRP, blob: bytes) -> Op:
    return schema.UPSERT_ACTUAL, _actual_params(lrp, blob)


def _actual_params(lrp: models.ActualLRP, blob: bytes) -> tuple[Any, ...]:
    key = lrp.actual_lrp_key
    return (key.process_guid, key.index, lrp.presence, key.domain, lrp.state,
            lrp.actual_lrp_instance_key.cell_id, lrp.since, blob)
